//! Property tests: the parsers against generated inputs, with a small deterministic generator
//! (`fastrand` with fixed seeds, so a failure is reproduced by running the test again; the
//! message names the seed and the case).
//!
//! - `ProjectPage::parse(render(page)) == page` for generated pages (names, versions with epochs
//!   and local versions, hashes, yank reasons and Requires-Python with markup, quotes and white
//!   space), and the same for the root page;
//! - PEP 503 normalization is idempotent and ignores case and separator runs;
//! - a generated valid filename parses to its parts and shows as given;
//! - any bytes (random, or a valid input with a few bytes changed) give `Ok` or `Err`, never a
//!   panic, for the filename, metadata and page parsers and for wheel and sdist validation.

use std::str::FromStr;

use gt4py_publish::dist::validate_bytes;
use gt4py_publish::filename::{DistFilename, DistKind};
use gt4py_publish::index::{FileEntry, ProjectPage, RootPage, is_plain_filename};
use gt4py_publish::metadata::{CoreMetadata, parse_headers};
use gt4py_publish::name::ProjectName;
use pep440_rs::Version;

const SEED: u64 = 0x6774_3470_7072_6f70;

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

/// A valid project name as a build tool may write it: mixed case, `.`/`_`/`-` runs inside.
fn project_name(rng: &mut fastrand::Rng) -> String {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut name = String::new();
    for part in 0..rng.usize(1..4) {
        if part > 0 {
            for _ in 0..rng.usize(1..3) {
                name.push(*pick(rng, &['.', '_', '-']));
            }
        }
        for _ in 0..rng.usize(1..8) {
            name.push(*pick(rng, ALNUM) as char);
        }
    }
    name
}

/// A PEP 440 version in normalized form: epochs, pre/post/dev releases, local versions.
fn version(rng: &mut fastrand::Rng) -> String {
    let mut v = String::new();
    if rng.u8(..4) == 0 {
        v.push_str(&format!("{}!", rng.u32(1..100)));
    }
    let release: Vec<String> = (0..rng.usize(1..5))
        .map(|_| rng.u32(..3000).to_string())
        .collect();
    v.push_str(&release.join("."));
    if rng.u8(..3) == 0 {
        v.push_str(&format!(
            "{}{}",
            pick(rng, &["a", "b", "rc"]),
            rng.u32(..20)
        ));
    }
    if rng.u8(..4) == 0 {
        v.push_str(&format!(".post{}", rng.u32(..20)));
    }
    if rng.u8(..4) == 0 {
        v.push_str(&format!(".dev{}", rng.u32(..20)));
    }
    if rng.u8(..3) == 0 {
        let local: Vec<String> = (0..rng.usize(1..3))
            .map(|_| (*pick(rng, &["cu118", "ubuntu", "1", "g1234abc", "cpu"])).to_string())
            .collect();
        v.push('+');
        v.push_str(&local.join("."));
    }
    v
}

fn tag_set(rng: &mut fastrand::Rng, choices: &[&str]) -> String {
    let n = rng.usize(1..3);
    let mut tags: Vec<&str> = (0..n).map(|_| *pick(rng, choices)).collect();
    tags.dedup();
    tags.join(".")
}

/// A valid distribution filename and its parts: (filename, name, version, kind, build, tags).
struct Generated {
    filename: String,
    name: String,
    version: String,
    kind: DistKind,
    build: Option<String>,
    python: String,
    abi: String,
    platform: String,
}

fn dist_filename(rng: &mut fastrand::Rng) -> Generated {
    let name = project_name(rng);
    let version = version(rng);
    let kind = *pick(
        rng,
        &[
            DistKind::Wheel,
            DistKind::Wheel,
            DistKind::SdistTarGz,
            DistKind::SdistZip,
        ],
    );
    if kind != DistKind::Wheel {
        // A valid project name, but `..` is refused in any filename.
        let mut name = name;
        while name.contains("..") {
            name = name.replace("..", "._");
        }
        return Generated {
            filename: format!("{name}-{version}{}", kind.extension()),
            name,
            version,
            kind,
            build: None,
            python: String::new(),
            abi: String::new(),
            platform: String::new(),
        };
    }
    // Wheel names use `_` for every separator run (no `-` inside a part).
    let name = name.replace(['.', '-'], "_");
    let build = (rng.u8(..3) == 0)
        .then(|| format!("{}{}", rng.u32(..100), pick(rng, &["", "_nightly", "b"])));
    let python = tag_set(rng, &["py3", "py2", "cp311", "cp310", "pp39"]);
    let abi = tag_set(rng, &["none", "abi3", "cp311"]);
    let platform = tag_set(
        rng,
        &[
            "any",
            "linux_x86_64",
            "manylinux_2_17_x86_64",
            "manylinux2014_x86_64",
            "win_amd64",
        ],
    );
    let build_part = build.as_ref().map(|b| format!("-{b}")).unwrap_or_default();
    Generated {
        filename: format!("{name}-{version}{build_part}-{python}-{abi}-{platform}.whl"),
        name,
        version,
        kind,
        build,
        python,
        abi,
        platform,
    }
}

/// Text with everything a page must escape or keep: markup, quotes, entities, white space,
/// non-ASCII. Never NUL: HTML has no way to carry it (a browser reads U+FFFD).
fn text(rng: &mut fastrand::Rng) -> String {
    const PIECES: &[&str] = &[
        "a",
        "Z",
        "9",
        " ",
        "  ",
        "<",
        ">",
        "&",
        "&amp;",
        "&lt;",
        "\"",
        "'",
        "=",
        "#",
        "?",
        "%",
        "%20",
        "/",
        "\\",
        "\n",
        "\r",
        "\r\n",
        "\t",
        "é",
        "€",
        "😀",
        "\u{a0}",
        "\u{1}",
        "<br>",
        "</a>",
        "<a href=\"x\">",
        "-->",
        "<!--",
        "yanked",
        ">=3.9",
        "!=3.10.*",
        ",",
    ];
    (0..rng.usize(..12)).map(|_| *pick(rng, PIECES)).collect()
}

/// A name a page can list: a real distribution name most of the time, anything plain else.
fn page_filename(rng: &mut fastrand::Rng) -> String {
    if rng.u8(..4) != 0 {
        return dist_filename(rng).filename;
    }
    loop {
        let name: String = text(rng)
            .chars()
            .filter(|c| !c.is_control() && *c != '/' && *c != '\\')
            .collect();
        let name = format!("{name}{}", pick(rng, &["", ".whl", "x", " "]));
        if is_plain_filename(&name) {
            return name;
        }
    }
}

fn hex(rng: &mut fastrand::Rng) -> String {
    (0..64)
        .map(|_| *pick(rng, b"0123456789abcdefABCDEF") as char)
        .collect()
}

fn project_page(rng: &mut fastrand::Rng) -> ProjectPage {
    let project = ProjectName::new(&project_name(rng)).unwrap();
    page_of(rng, project)
}

fn page_of(rng: &mut fastrand::Rng, project: ProjectName) -> ProjectPage {
    let mut page = ProjectPage::new(project);
    for _ in 0..rng.usize(..12) {
        page.upsert(FileEntry {
            filename: page_filename(rng),
            sha256: rng.bool().then(|| hex(rng)),
            requires_python: (rng.u8(..3) == 0).then(|| text(rng)),
            metadata_sha256: rng.bool().then(|| hex(rng)),
            yanked: (rng.u8(..3) == 0).then(|| text(rng)),
            url: None,
        });
    }
    page
}

#[test]
fn project_pages_read_back_as_rendered() {
    let mut rng = fastrand::Rng::with_seed(SEED);
    for case in 0..1500 {
        let page = project_page(&mut rng);
        let html = page.render();
        let parsed = ProjectPage::parse(page.project().clone(), html.as_bytes())
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{html}"));
        assert_eq!(parsed.page, page, "case {case}:\n{html}");
        assert_eq!(
            parsed.warnings,
            Vec::<String>::new(),
            "case {case}:\n{html}"
        );
        assert_eq!(parsed.page.render(), html, "case {case}");
    }
}

fn entry(rng: &mut fastrand::Rng, filename: String) -> FileEntry {
    FileEntry {
        filename,
        sha256: rng.bool().then(|| hex(rng)),
        requires_python: (rng.u8(..3) == 0).then(|| text(rng)),
        metadata_sha256: rng.bool().then(|| hex(rng)),
        yanked: (rng.u8(..3) == 0).then(|| text(rng)),
        url: None,
    }
}

/// A page read for an update keeps our pages as lines and splices changes in; whatever the
/// changes, it must answer and render exactly as the fully parsed page does.
#[test]
fn updates_of_a_page_kept_as_lines_match_a_full_rewrite() {
    let mut rng = fastrand::Rng::with_seed(SEED ^ 7);
    for case in 0..1500 {
        let page = project_page(&mut rng);
        let html = page.render();
        let project = page.project().clone();
        let mut full = ProjectPage::parse(project.clone(), html.as_bytes())
            .unwrap()
            .page;
        let lines = ProjectPage::parse_for_update(project, html.as_bytes())
            .unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert_eq!(lines.warnings, Vec::<String>::new(), "case {case}");
        let mut lines = lines.page;
        assert_eq!(lines.render(), html, "case {case}: unchanged");
        let mut names: Vec<String> = page.entries().map(|e| e.filename.clone()).collect();
        let mut log = Vec::new();
        for _ in 0..rng.usize(..6) {
            let existing = (!names.is_empty()).then(|| names[rng.usize(..names.len())].clone());
            match (rng.u8(..4), existing) {
                (0, Some(name)) => {
                    log.push(format!("remove {name}"));
                    assert_eq!(
                        lines.remove(&name),
                        full.remove(&name),
                        "case {case}: {log:?}"
                    );
                }
                (1, Some(name)) => {
                    let changed = entry(&mut rng, name.clone());
                    log.push(format!("change {name}"));
                    assert_eq!(
                        lines.upsert(changed.clone()),
                        full.upsert(changed),
                        "case {case}: {log:?}"
                    );
                }
                _ => {
                    let name = page_filename(&mut rng);
                    log.push(format!("add {name}"));
                    names.push(name.clone());
                    let added = entry(&mut rng, name);
                    assert_eq!(
                        lines.upsert(added.clone()),
                        full.upsert(added),
                        "case {case}: {log:?}"
                    );
                }
            }
            for name in &names {
                assert_eq!(
                    lines.get(name),
                    full.get(name),
                    "case {case}: {log:?} {name}"
                );
            }
            assert_eq!(lines.len(), full.len(), "case {case}: {log:?}");
            assert_eq!(lines.is_empty(), full.is_empty(), "case {case}: {log:?}");
        }
        assert_eq!(lines, full, "case {case}: {log:?}");
        assert_eq!(
            lines.render(),
            full.render(),
            "case {case}: {log:?}\n{html}"
        );
    }
}

#[test]
fn root_pages_read_back_as_rendered() {
    let mut rng = fastrand::Rng::with_seed(SEED ^ 1);
    for case in 0..1000 {
        let mut page = RootPage::new();
        for _ in 0..rng.usize(..20) {
            page.insert(ProjectName::new(&project_name(&mut rng)).unwrap());
        }
        let html = page.render();
        let parsed = RootPage::parse(html.as_bytes()).unwrap();
        assert_eq!(parsed.page, page, "case {case}:\n{html}");
        assert_eq!(parsed.warnings, Vec::<String>::new(), "case {case}");
    }
}

#[test]
fn name_normalization_is_idempotent_and_ignores_case_and_separators() {
    let mut rng = fastrand::Rng::with_seed(SEED ^ 2);
    for _ in 0..20_000 {
        let raw = project_name(&mut rng);
        let name = ProjectName::new(&raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(ProjectName::new(name.as_str()).as_ref(), Ok(&name), "{raw}");
        let shouted = raw.to_ascii_uppercase().replace(['.', '_'], "-.-");
        assert_eq!(
            ProjectName::new(&shouted).as_ref(),
            Ok(&name),
            "{raw} / {shouted}"
        );
        assert!(!name.as_str().contains("--"), "{raw} -> {name}");
    }
    // Arbitrary strings: valid or not, never a panic, and a valid one is a fixed point.
    for _ in 0..20_000 {
        let raw = text(&mut rng);
        if let Ok(name) = ProjectName::new(&raw) {
            assert_eq!(
                ProjectName::new(name.as_str()).as_ref(),
                Ok(&name),
                "{raw:?}"
            );
        }
    }
}

#[test]
fn filenames_parse_into_their_parts_and_show_as_given() {
    let mut rng = fastrand::Rng::with_seed(SEED ^ 3);
    for _ in 0..5000 {
        let g = dist_filename(&mut rng);
        let parsed =
            DistFilename::parse(&g.filename).unwrap_or_else(|e| panic!("{}: {e}", g.filename));
        assert_eq!(parsed.to_string(), g.filename);
        assert_eq!(parsed.kind(), g.kind);
        assert_eq!(parsed.project(), &ProjectName::new(&g.name).unwrap());
        assert_eq!(parsed.version(), &Version::from_str(&g.version).unwrap());
        assert_eq!(DistFilename::parse(parsed.as_str()).as_ref(), Ok(&parsed));
        match parsed.wheel_tags() {
            None => {
                assert!(g.kind.is_sdist());
                assert_eq!(
                    parsed.stem(),
                    g.filename.strip_suffix(g.kind.extension()).unwrap()
                );
            }
            Some(tags) => {
                assert_eq!(tags.build, g.build);
                assert_eq!(tags.python.join("."), g.python);
                assert_eq!(tags.abi.join("."), g.abi);
                assert_eq!(tags.platform.join("."), g.platform);
            }
        }
    }
}

/// `bytes` with a few bytes changed, cut short, or a piece doubled.
fn mangle(rng: &mut fastrand::Rng, bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match rng.u8(..4) {
        0 if !out.is_empty() => out.truncate(rng.usize(..out.len())),
        1 if !out.is_empty() => {
            let at = rng.usize(..out.len());
            let end = (at + rng.usize(1..64)).min(out.len());
            let piece = out[at..end].to_vec();
            out.splice(at..at, piece);
        }
        _ => {
            for _ in 0..rng.usize(1..6) {
                if out.is_empty() {
                    break;
                }
                let at = rng.usize(..out.len());
                let any = rng.u8(..);
                out[at] = *pick(rng, &[0u8, 0xff, b'\n', b'\r', b'"', b'<', b'&', b':', any]);
            }
        }
    }
    out
}

fn random_bytes(rng: &mut fastrand::Rng) -> Vec<u8> {
    (0..rng.usize(..256)).map(|_| rng.u8(..)).collect()
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn text_parsers_never_panic() {
    let mut rng = fastrand::Rng::with_seed(SEED ^ 4);
    let metadata = b"Metadata-Version: 2.1\r\nName: DaCe\nVersion: 43!2026.2.3+cu1\nSummary: a\n  b\nRequires-Python: >=3.9, !=3.10.*\n\nbody";
    let pages = [
        fixture("tests/fixtures/legacy-index/gt4py-index/dace/index.html"),
        fixture("tests/fixtures/legacy-index/test-index/dace/index.html"),
        fixture("tests/fixtures/legacy-index/test-index/index.html"),
        project_page(&mut rng).render().into_bytes(),
        // Ours, so that mangled copies are read as lines too.
        page_of(&mut rng, ProjectName::new("dace").unwrap())
            .render()
            .into_bytes(),
    ];
    let dace = ProjectName::new("dace").unwrap();
    for _ in 0..3000 {
        let valid = dist_filename(&mut rng).filename;
        let name = mangle(&mut rng, valid.as_bytes());
        if let Ok(name) = std::str::from_utf8(&name)
            && let Ok(parsed) = DistFilename::parse(name)
        {
            assert_eq!(parsed.as_str(), name);
        }
        let _ = DistFilename::parse(&text(&mut rng));

        for bytes in [mangle(&mut rng, metadata), random_bytes(&mut rng)] {
            let _ = parse_headers(&bytes);
            let _ = CoreMetadata::parse(&bytes);
        }

        let page = pages[rng.usize(..pages.len())].clone();
        let page = mangle(&mut rng, &page);
        for bytes in [page, random_bytes(&mut rng)] {
            if let Ok(lines) = ProjectPage::parse_for_update(dace.clone(), &bytes) {
                // Kept as lines or not, a page means what a full parse reads from it.
                let full = ProjectPage::parse(dace.clone(), &bytes).map(|p| p.page);
                assert_eq!(full.as_ref(), Ok(&lines.page));
                let again = ProjectPage::parse(dace.clone(), lines.page.render().as_bytes());
                assert_eq!(again.map(|p| p.page), full.clone());
                // An edit spliced into it reads back as the same edit on the full parse.
                if let Ok(mut full) = full {
                    let mut lines = lines.page;
                    let first = full.entries().next().cloned();
                    if let Some(first) = first {
                        let mut yanked = first;
                        yanked.yanked = Some("x".to_string());
                        assert_eq!(lines.upsert(yanked.clone()), full.upsert(yanked));
                    }
                    let added = FileEntry::new("dace-0.0.1-py3-none-any.whl", None);
                    assert_eq!(lines.upsert(added.clone()), full.upsert(added));
                    let spliced = lines.render();
                    let back = ProjectPage::parse(dace.clone(), spliced.as_bytes()).unwrap();
                    assert_eq!(back.page, full, "{spliced}");
                }
            }
            if let Ok(parsed) = ProjectPage::parse(dace.clone(), &bytes) {
                // Whatever was read renders and reads back the same.
                let again = ProjectPage::parse(dace.clone(), parsed.page.render().as_bytes());
                assert_eq!(again.map(|p| p.page), Ok(parsed.page));
            }
            if let Ok(parsed) = RootPage::parse(&bytes) {
                let again = RootPage::parse(parsed.page.render().as_bytes());
                assert_eq!(again.map(|p| p.page), Ok(parsed.page));
            }
        }
    }
}

#[test]
fn validation_never_panics_on_mangled_distributions() {
    let mut rng = fastrand::Rng::with_seed(SEED ^ 5);
    let wheel_name = "gt4py_demo-0.1.0-py3-none-any.whl";
    let sdist_name = "gt4py_demo-0.1.0.tar.gz";
    let wheel = fixture(&format!("examples/dist/{wheel_name}"));
    let sdist = fixture(&format!("examples/dist/{sdist_name}"));
    assert!(validate_bytes(wheel_name, &wheel).is_ok());
    assert!(validate_bytes(sdist_name, &sdist).is_ok());
    for _ in 0..1500 {
        let _ = validate_bytes(wheel_name, &mangle(&mut rng, &wheel));
        let _ = validate_bytes(sdist_name, &mangle(&mut rng, &sdist));
        let bytes = random_bytes(&mut rng);
        for name in [wheel_name, sdist_name, "gt4py_demo-0.1.0.zip"] {
            let _ = validate_bytes(name, &bytes);
        }
    }
}
