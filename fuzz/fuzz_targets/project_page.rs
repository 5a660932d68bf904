//! A project page, ours or any HTML: any bytes give a page (with warnings) or an error, and a
//! page that was read renders to bytes that read back as the same page. Read for an update
//! (kept as lines when it looks like ours), it means what the full parse reads, and an edit
//! spliced into it reads back as the same edit made on the full parse.
#![no_main]

use gt4py_publish::index::{FileEntry, ProjectPage, is_plain_filename};
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
    let lines = ProjectPage::parse_for_update(project.clone(), data)
        .expect("a page the full parse reads");
    assert_eq!(lines.page, parsed.page);
    let (mut lines, mut full) = (lines.page, parsed.page.clone());
    let first = full.entries().next().cloned();
    if let Some(first) = first {
        let mut yanked = first.clone();
        yanked.yanked = Some("fuzz".to_string());
        assert_eq!(lines.upsert(yanked.clone()), full.upsert(yanked));
    }
    let added = FileEntry::new("dace-0.0.1-py3-none-any.whl", None);
    assert_eq!(lines.upsert(added.clone()), full.upsert(added));
    let spliced = lines.render();
    let read_back = ProjectPage::parse(project.clone(), spliced.as_bytes())
        .expect("a spliced page reads");
    assert_eq!(read_back.page, full, "splice changed the page:\n{spliced}");

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
