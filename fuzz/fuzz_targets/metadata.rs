//! METADATA / PKG-INFO (and the `WHEEL` file's header block): any bytes give metadata or an
//! error.
#![no_main]

use gt4py_publish::metadata::{self, CoreMetadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(headers) = metadata::parse_headers(data) {
        // Like Python's `email`, a header name may be empty (`: value`), never hold a colon.
        for header in &headers {
            assert!(!header.name.contains(':'), "{:?}", header.name);
        }
        let _ = metadata::single(&headers, "Name");
        let _ = metadata::all(&headers, "Tag").count();
    }
    if let Ok(parsed) = CoreMetadata::parse(data) {
        // What a page will show must not carry markup-breaking bytes unescaped; the value was
        // checked as a PEP 440 specifier set.
        if let Some(requires_python) = &parsed.requires_python {
            assert!(!requires_python.is_empty());
        }
        assert_eq!(
            gt4py_publish::name::ProjectName::new(&parsed.name).as_ref(),
            Ok(&parsed.project)
        );
    }
});
