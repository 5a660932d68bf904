//! The root page, ours or any HTML: any bytes give a page (with warnings) or an error, and a
//! page that was read renders to bytes that read back as the same page.
#![no_main]

use gt4py_publish::index::RootPage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = RootPage::parse(data) else {
        return;
    };
    let rendered = parsed.page.render();
    let again = RootPage::parse(rendered.as_bytes()).expect("our own page reads");
    assert_eq!(
        again.page, parsed.page,
        "render/parse changed the page:\n{rendered}"
    );
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
});
