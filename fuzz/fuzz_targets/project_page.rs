//! A project page, ours or any HTML: any bytes give a page (with warnings) or an error, and a
//! page that was read renders to bytes that read back as the same page.
#![no_main]

use gt4py_publish::index::{ProjectPage, is_plain_filename};
use gt4py_publish::name::ProjectName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let project = ProjectName::new("dace").expect("valid name");
    let Ok(parsed) = ProjectPage::parse(project.clone(), data) else {
        return;
    };
    for entry in parsed.page.entries() {
        assert!(is_plain_filename(&entry.filename), "{:?}", entry.filename);
    }
    let rendered = parsed.page.render();
    let again = ProjectPage::parse(project, rendered.as_bytes()).expect("our own page reads");
    assert_eq!(
        again.page, parsed.page,
        "render/parse changed the page:\n{rendered}"
    );
    assert!(
        again.warnings.is_empty(),
        "{:?}\n{rendered}",
        again.warnings
    );
    assert_eq!(again.page.render(), rendered);
});
