//! The maintenance commands end to end, through the real binary on a local index folder:
//! `yank`/`unyank`, `remove`, `list`, `regenerate`, `verify`, `publish --wait-live`, and the
//! GitHub Actions reporting (`GITHUB_ACTIONS=true`). Where a client's view matters (yanks, an
//! adopted index), the index is served on 127.0.0.1 and pip (and uv when on PATH) resolve from it.
//!
//! Every test works in its own temporary folder with its own server; the Python venv is shared
//! by the process and never installed into.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::github::{Anchor, anchors_with};
use common::{Run, Tree, copy_dir, exec, snapshot_tree, tool, tree_diff};
use gt4py_testkit::dist_builder::{SdistBuilder, WheelBuilder};
use gt4py_testkit::http_server::StaticServer;
use gt4py_testkit::pip::{self, Client, Venv};
use tempfile::TempDir;

const LEGACY_TEST_INDEX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/legacy-index/test-index"
);

/// The local target's lock file: created by the first writing run, never part of the index.
const LOCK_FILE: &str = ".gt4py-publish.lock";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `gt4py-publish ARGS... --index-dir INDEX`.
fn cmd(index: &Path, args: &[&str]) -> Run {
    exec(tool().args(args).arg("--index-dir").arg(index))
}

/// `gt4py-publish publish --index-dir INDEX EXTRA... FILES...`.
fn publish(index: &Path, extra: &[&str], files: &[&Path]) -> Run {
    exec(
        tool()
            .arg("publish")
            .arg("--index-dir")
            .arg(index)
            .args(extra)
            .args(files),
    )
}

fn wheel(dir: &Path, name: &str, version: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    WheelBuilder::new(name, version).build(dir).unwrap()
}

fn sdist(dir: &Path, name: &str, version: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    SdistBuilder::new(name, version).build(dir).unwrap()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// sha256 of files as lowercase hex, computed by Python's hashlib (an independent
/// implementation), in one interpreter run.
fn sha256_hex(paths: &[&Path]) -> Vec<String> {
    let mut command = std::process::Command::new(pip::base_python());
    command.args([
        "-c",
        "import hashlib, sys\n\
         for p in sys.argv[1:]: print(hashlib.sha256(open(p, 'rb').read()).hexdigest())",
    ]);
    command.args(paths);
    let out = pip::run(&mut command).unwrap_or_else(|e| panic!("{e}"));
    let hashes: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
    assert_eq!(hashes.len(), paths.len());
    hashes
}

fn sha_of(path: &Path) -> String {
    sha256_hex(&[path]).remove(0)
}

/// The anchors of a page. Small on purpose: it reads the pages this tool writes (double-quoted
/// attributes) and the legacy ones; a `"` or `>` left unescaped inside a value shows up as a
/// truncated value or a stray attribute.
fn anchors(html: &str) -> Vec<Anchor> {
    // The text as written, still HTML-escaped.
    anchors_with(html, str::to_owned)
}

/// The anchor whose text is `filename`.
fn anchor<'a>(anchors: &'a [Anchor], filename: &str, page: &str) -> &'a Anchor {
    anchors
        .iter()
        .find(|a| a.text == filename)
        .unwrap_or_else(|| panic!("{filename} is not on the page:\n{page}"))
}

fn texts(anchors: &[Anchor]) -> Vec<&str> {
    anchors.iter().map(|a| a.text.as_str()).collect()
}

/// Decodes the entities an attribute value may carry.
fn html_unescape(value: &str) -> String {
    value
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Every file and folder below `root`, the lock file excepted (see [`snapshot_tree`]).
fn snapshot(root: &Path) -> Tree {
    let tree = snapshot_tree(root, Some(LOCK_FILE));
    // A rewrite within the same clock tick would keep the mtime: make sure one would show.
    std::thread::sleep(Duration::from_millis(20));
    tree
}

#[track_caller]
fn assert_unchanged(before: &Tree, root: &Path, what: &str) {
    let diff = tree_diff(before, &snapshot(root));
    assert!(diff.is_empty(), "{what} changed the index: {diff:?}");
}

/// `pip install --dry-run --report -` (or `uv pip install --dry-run`) of `requirement` from
/// `url`, into an empty `--target` so the venv's own packages never satisfy it.
fn dry_run(client: Client, url: &str, requirement: &str) -> pip::CommandOutput {
    let scratch = TempDir::new().unwrap();
    let mut args: Vec<std::ffi::OsString> = vec![
        "--dry-run".into(),
        "--index-url".into(),
        url.into(),
        "--target".into(),
        scratch.path().into(),
    ];
    let result = match client {
        Client::Pip => {
            args.splice(0..0, ["install".into()]);
            args.extend(["--quiet".into(), "--report".into(), "-".into()]);
            args.push(requirement.into());
            Venv::shared().pip(args)
        }
        Client::Uv => {
            args.push(requirement.into());
            Venv::shared().uv_pip("install", args)
        }
    };
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// The version pip would install for `requirement` from `url`, and pip's stderr.
fn pip_resolves(url: &str, requirement: &str) -> (String, String) {
    let out = dry_run(Client::Pip, url, requirement);
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("pip's report is not JSON ({e}):\n{}", out.stdout));
    let install = &report["install"][0];
    let version = install["metadata"]["version"]
        .as_str()
        .unwrap_or_else(|| panic!("no version in pip's report:\n{report:#}"))
        .to_owned();
    (version, out.stderr)
}

// ---------------------------------------------------------------------------------------------
// yank / unyank
// ---------------------------------------------------------------------------------------------

/// `yank` adds `data-yanked="reason"` (HTML-escaped) to exactly one anchor, a second identical
/// yank writes nothing, a new reason replaces the old one, `unyank` restores the page byte for
/// byte, and a file that is not on the index is an error that names it and changes nothing.
#[test]
fn yank_and_unyank_edit_only_the_yank_attribute() {
    let work = TempDir::new().unwrap();
    let dist = work.path().join("dist");
    let w10 = wheel(&dist, "demo", "1.0");
    let w11 = wheel(&dist, "demo", "1.1");
    let (n10, n11) = (file_name(&w10), file_name(&w11));
    let index = work.path().join("index");
    publish(&index, &["-q"], &[&w10, &w11]).ok();
    let page_path = index.join("demo/index.html");
    let original = read(&page_path);
    let root_before = read(index.join("index.html"));

    let reason = r#"broken <build> & "bad" 'wheel'"#;
    let run = cmd(&index, &["yank", &n11, "--reason", reason]).ok();
    assert!(run.stdout.contains(&format!("Yanked {n11}")), "{run}");
    let page = read(&page_path);
    let entries = anchors(&page);
    assert_eq!(texts(&entries), [n11.as_str(), n10.as_str()], "{page}");
    let raw = anchor(&entries, &n11, &page)
        .attr("data-yanked")
        .unwrap_or_else(|| panic!("no data-yanked on {n11}:\n{page}"));
    assert!(
        !raw.contains(['<', '>', '"']) && !raw.contains("& "),
        "data-yanked is not HTML-escaped: {raw}"
    );
    assert_eq!(html_unescape(raw), reason, "{page}");
    assert_eq!(
        anchor(&entries, &n10, &page).attr("data-yanked"),
        None,
        "{page}"
    );
    // Nothing else on the page moved: dropping the attribute gives the original back.
    assert_eq!(
        page.replace(&format!(" data-yanked=\"{raw}\""), ""),
        original
    );
    assert_eq!(read(index.join("index.html")), root_before);

    // The same yank again writes nothing.
    let before = snapshot(&index);
    let run = cmd(&index, &["yank", &n11, "--reason", reason]).ok();
    assert!(run.stdout.contains("already yanked"), "{run}");
    assert_unchanged(&before, &index, "a repeated yank");

    // A new reason (here none) replaces the old one.
    let run = cmd(&index, &["yank", &n11]).ok();
    assert!(run.stdout.contains(&format!("Yanked {n11}")), "{run}");
    let page = read(&page_path);
    assert_eq!(
        anchor(&anchors(&page), &n11, &page).attr("data-yanked"),
        Some(""),
        "{page}"
    );

    // unyank restores the page byte for byte; a second unyank writes nothing.
    let run = cmd(&index, &["unyank", &n11]).ok();
    assert!(run.stdout.contains(&format!("Unyanked {n11}")), "{run}");
    assert_eq!(read(&page_path), original);
    let before = snapshot(&index);
    let run = cmd(&index, &["unyank", &n11]).ok();
    assert!(run.stdout.contains("was not yanked"), "{run}");
    assert_unchanged(&before, &index, "unyank of a file that is not yanked");

    // Files that are not on the index: an error naming the file, nothing written.
    for missing in [
        "demo-9.9-py3-none-any.whl",
        "demo-1.0.tar.gz",
        "nope-1.0-py3-none-any.whl",
    ] {
        for args in [
            vec!["yank", missing, "--reason", "x"],
            vec!["unyank", missing],
        ] {
            let run = cmd(&index, &args).failed();
            assert!(
                run.stderr
                    .contains(&format!("`{missing}` is not on the index")),
                "{args:?}:\n{run}"
            );
            assert_unchanged(&before, &index, &format!("{args:?}"));
        }
    }
    let run = cmd(&index, &["yank", "README.md"]).failed();
    assert!(
        run.stderr.contains("README.md") && run.stderr.contains("not a distribution filename"),
        "{run}"
    );
    assert_unchanged(&before, &index, "yank README.md");
}

/// A yanked release is invisible to an unpinned install (pip and uv pick the older version),
/// still installable when pinned (pip warns, showing the reason, decoded from the page), and
/// back after `unyank`.
#[test]
fn yanked_release_is_skipped_by_installers_unless_pinned() {
    let work = TempDir::new().unwrap();
    let dist = work.path().join("dist");
    let w10 = wheel(&dist, "demo", "1.0");
    let w11 = wheel(&dist, "demo", "1.1");
    let index = work.path().join("index");
    publish(&index, &["-q"], &[&w10, &w11]).ok();
    let reason = r#"miscompiled <avx> & "gcc""#;
    cmd(&index, &["yank", &file_name(&w11), "--reason", reason]).ok();

    let server = StaticServer::serve(&index).unwrap();
    let url = server.url();
    let (unpinned, pinned) = std::thread::scope(|scope| {
        let unpinned = scope.spawn(|| pip_resolves(&url, "demo"));
        let pinned = scope.spawn(|| pip_resolves(&url, "demo==1.1"));
        (unpinned.join().unwrap(), pinned.join().unwrap())
    });
    assert_eq!(unpinned.0, "1.0", "pip picked a yanked release");
    assert_eq!(pinned.0, "1.1", "pip refused a pinned yanked release");
    assert!(
        pinned.1.contains("yanked") && pinned.1.contains(reason),
        "pip did not warn with the yank reason:\n{}",
        pinned.1
    );

    if pip::uv_path().is_some() {
        let out = dry_run(Client::Uv, &url, "demo");
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(
            text.contains("demo==1.0"),
            "uv picked a yanked release:\n{text}"
        );
    } else {
        println!("note: `uv` is not on PATH; checked pip only");
    }

    cmd(&index, &["unyank", &file_name(&w11)]).ok();
    assert_eq!(pip_resolves(&url, "demo").0, "1.1");
}

// ---------------------------------------------------------------------------------------------
// remove
// ---------------------------------------------------------------------------------------------

/// `remove` deletes the file and its `.metadata` and drops its anchor (other entries keep their
/// hashes); removing the last file removes the project page and its root entry; a file that is
/// not there is an error naming it; a removed file can be published again.
#[test]
fn remove_deletes_files_and_empty_projects() {
    let work = TempDir::new().unwrap();
    let dist = work.path().join("dist");
    let w10 = wheel(&dist, "demo", "1.0");
    let s10 = sdist(&dist, "demo", "1.0");
    let w11 = wheel(&dist, "demo", "1.1");
    let other = wheel(&dist, "other", "1.0");
    let index = work.path().join("index");
    publish(&index, &["-q"], &[&w10, &s10, &w11, &other]).ok();
    let demo = index.join("demo");
    let page_before = read(demo.join("index.html"));
    let hrefs_before: BTreeMap<String, String> = anchors(&page_before)
        .into_iter()
        .map(|a| (a.text.clone(), a.href().to_owned()))
        .collect();

    let n11 = file_name(&w11);
    let run = cmd(&index, &["remove", &n11]).ok();
    assert!(run.stdout.contains(&format!("Removed {n11}")), "{run}");
    for path in [
        "demo/index.html".to_owned(),
        format!("demo/{n11}"),
        format!("demo/{n11}.metadata"),
    ] {
        assert!(
            run.stdout.lines().any(|l| l.trim() == path),
            "{path} not reported:\n{run}"
        );
    }
    assert!(!demo.join(&n11).exists());
    assert!(!demo.join(format!("{n11}.metadata")).exists());
    assert!(demo.join(format!("{}.metadata", file_name(&w10))).exists());
    let page = read(demo.join("index.html"));
    let entries = anchors(&page);
    assert_eq!(
        texts(&entries),
        [file_name(&w10).as_str(), file_name(&s10).as_str()],
        "{page}"
    );
    for entry in &entries {
        assert_eq!(entry.href(), hrefs_before[&entry.text], "{page}");
    }
    let root = read(index.join("index.html"));
    let root_links: Vec<String> = anchors(&root).iter().map(|a| a.href().to_owned()).collect();
    assert_eq!(root_links, ["demo/", "other/"], "{root}");

    // Not there (any more): an error naming the file; nothing changes.
    let before = snapshot(&index);
    for missing in [
        n11.as_str(),
        "demo-7.0.tar.gz",
        "ghost-1.0-py3-none-any.whl",
    ] {
        let run = cmd(&index, &["remove", missing]).failed();
        assert!(
            run.stderr
                .contains(&format!("`{missing}` is not on the index")),
            "{run}"
        );
        assert_unchanged(&before, &index, &format!("remove {missing}"));
    }

    // An sdist (no .metadata), then the last file: the root entry goes, the page stays empty
    // (a deleted page could be re-created by a concurrent writer holding its old sha).
    cmd(&index, &["remove", &file_name(&s10)]).ok();
    assert!(!demo.join(file_name(&s10)).exists());
    let run = cmd(&index, &["remove", &file_name(&w10)]).ok();
    assert!(
        run.stdout.lines().any(|l| l.trim() == "index.html"),
        "the root page write is not reported:\n{run}"
    );
    let page = read(demo.join("index.html"));
    assert!(
        anchors(&page).is_empty(),
        "the emptied page still lists files:\n{page}"
    );
    let left: Vec<_> = std::fs::read_dir(&demo)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert_eq!(left, ["index.html"], "files left in demo/: {left:?}");
    let root = read(index.join("index.html"));
    let root_links: Vec<String> = anchors(&root).iter().map(|a| a.href().to_owned()).collect();
    assert_eq!(root_links, ["other/"], "{root}");
    assert_eq!(cmd(&index, &["list"]).ok().stdout, "other\n");
    cmd(&index, &["verify"]).ok();

    // The project can come back.
    publish(&index, &["-q"], &[&w11]).ok();
    let root = read(index.join("index.html"));
    assert_eq!(anchors(&root).len(), 2, "{root}");
    cmd(&index, &["verify"]).ok();
}

/// A legacy page entry whose file was never in the folder can be removed: the page is
/// rewritten without it and every other legacy entry keeps its hash.
#[test]
fn remove_drops_a_listed_entry_whose_file_is_missing() {
    let work = TempDir::new().unwrap();
    let index = work.path().join("index");
    copy_dir(Path::new(LEGACY_TEST_INDEX), &index);
    let legacy = read(index.join("dace/index.html"));
    let legacy_entries = anchors(&legacy);
    assert_eq!(legacy_entries.len(), 6, "fixture changed?\n{legacy}");

    let gone = "dace-2025.11.4.tar.gz";
    cmd(&index, &["remove", gone]).ok();
    let page = read(index.join("dace/index.html"));
    let entries = anchors(&page);
    assert_eq!(entries.len(), 5, "{page}");
    assert!(entries.iter().all(|a| a.text != gone), "{page}");
    for old in legacy_entries.iter().filter(|a| a.text != gone) {
        assert_eq!(anchor(&entries, &old.text, &page).href(), old.href());
    }
    assert!(page.contains("pypi:repository-version"), "{page}");
}

// ---------------------------------------------------------------------------------------------
// list
// ---------------------------------------------------------------------------------------------

/// `list` prints the normalized project names, one per line; `list PROJECT` prints
/// `VERSION  FILENAME` newest first by PEP 440 (10.0 before 9.0), yanked files marked; the
/// project name may be given unnormalized; an unknown or invalid project is an error.
#[test]
fn list_prints_projects_and_versions() {
    let work = TempDir::new().unwrap();
    let dist = work.path().join("dist");
    let files = [
        wheel(&dist, "alpha", "9.0"),
        wheel(&dist, "alpha", "10.0"),
        sdist(&dist, "alpha", "10.0"),
        wheel(&dist, "alpha", "1!0.1"),
        wheel(&dist, "alpha", "10.0rc1"),
        wheel(&dist, "Beta.Proj", "2.0"),
    ];
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let index = work.path().join("index");
    publish(&index, &["-q"], &refs).ok();
    cmd(
        &index,
        &[
            "yank",
            "alpha-9.0-py3-none-any.whl",
            "--reason",
            "bad & old",
        ],
    )
    .ok();
    cmd(&index, &["yank", "alpha-10.0rc1-py3-none-any.whl"]).ok();
    cmd(
        &index,
        &["yank", "alpha-1!0.1-py3-none-any.whl", "--reason", "epoch"],
    )
    .ok();

    assert_eq!(cmd(&index, &["list"]).ok().stdout, "alpha\nbeta-proj\n");
    let expected = "1!0.1  alpha-1!0.1-py3-none-any.whl  (yanked: epoch)\n\
                    10.0  alpha-10.0-py3-none-any.whl\n\
                    10.0  alpha-10.0.tar.gz\n\
                    10.0rc1  alpha-10.0rc1-py3-none-any.whl  (yanked)\n\
                    9.0  alpha-9.0-py3-none-any.whl  (yanked: bad & old)\n";
    assert_eq!(cmd(&index, &["list", "alpha"]).ok().stdout, expected);
    assert_eq!(
        cmd(&index, &["list", "BETA_proj"]).ok().stdout,
        "2.0  beta_proj-2.0-py3-none-any.whl\n"
    );

    let run = cmd(&index, &["list", "gamma"]).failed();
    assert!(
        run.stderr.contains("project `gamma` is not on the index"),
        "{run}"
    );
    assert!(run.stdout.is_empty(), "{run}");
    let run = cmd(&index, &["list", "not a name!"]).failed();
    assert!(
        run.stderr.contains("`not a name!` is not a project name"),
        "{run}"
    );
}

// ---------------------------------------------------------------------------------------------
// regenerate
// ---------------------------------------------------------------------------------------------

/// A page in the old `generator.py` format (`</br>`, a root link without trailing slash, files
/// in any order, no `.metadata` files), a wheel in the folder the page does not list, and a
/// project folder no page mentions: `regenerate --dry-run` writes nothing; `regenerate` keeps
/// every listed hash (hashing only the unlisted wheel), creates the missing `.metadata` files,
/// takes Requires-Python from them, rewrites the pages in the new format and adopts the extra
/// project; a second run writes nothing, `verify` passes and pip installs the adopted wheel.
#[test]
fn regenerate_adopts_a_legacy_page_and_unlisted_files() {
    let work = TempDir::new().unwrap();
    let dist = work.path().join("dist");
    let w10 = WheelBuilder::new("demo", "1.0");
    let w11 = WheelBuilder::new("demo", "1.1");
    let w20 = WheelBuilder::new("demo", "2.0").requires_python(">=3.8");
    let extra = WheelBuilder::new("extra", "0.1");
    std::fs::create_dir_all(&dist).unwrap();
    let built: Vec<(PathBuf, Vec<u8>)> = [&w10, &w11, &w20, &extra]
        .iter()
        .map(|b| (b.build(&dist).unwrap(), b.metadata_bytes()))
        .collect();
    let s10 = sdist(&dist, "demo", "1.0");
    let [p10, p11, p20, pextra] = [0, 1, 2, 3].map(|i| built[i].0.clone());
    let (n10, n11, n20, ns10) = (
        file_name(&p10),
        file_name(&p11),
        file_name(&p20),
        file_name(&s10),
    );

    let index = work.path().join("index");
    let demo = index.join("demo");
    std::fs::create_dir_all(&demo).unwrap();
    std::fs::create_dir_all(index.join("extra")).unwrap();
    for file in [&p10, &p11, &p20, &s10] {
        std::fs::copy(file, demo.join(file_name(file))).unwrap();
    }
    std::fs::copy(&pextra, index.join("extra").join(file_name(&pextra))).unwrap();
    let hashes = sha256_hex(&[&p10, &p11, &p20, &s10]);
    let [h10, h11, h20, hs10] = [0, 1, 2, 3].map(|i| hashes[i].clone());
    // The old generator's format, files in no particular order; 1.1 is not listed.
    let legacy_page = format!(
        "<!DOCTYPE HTML>\n<html>\n    <head>\n        <title>Custom Package for 'demo'</title>\n        \
         <meta charset=\"UTF-8\" />\n    </head>\n\n    <body>\n    <h1>Custom Package for 'demo'</h1>\n        \
         <a href=\"{ns10}#sha256={hs10}\">{ns10}</a> </br>\n        \
         <a href=\"{n20}#sha256={h20}\">{n20}</a> </br>\n        \
         <a href=\"{n10}#sha256={h10}\">{n10}</a> </br>\n    </body>\n</html>\n"
    );
    std::fs::write(demo.join("index.html"), &legacy_page).unwrap();
    std::fs::write(
        index.join("index.html"),
        "<!DOCTYPE HTML>\n<html>\n    <head>\n        <title>Custom Package Index for GT4Py</title>\n        \
         <meta charset=\"UTF-8\" />\n    </head>\n\n    <body>\n    <h1>Custom Package Index for GT4Py</h1>\n        \
         <a href=\"demo\">demo</a>\n    </body>\n</html>\n",
    )
    .unwrap();

    // --dry-run: the plan, no writes.
    let before = snapshot(&index);
    // The summary counts per kind; --verbose lists every path.
    let run = cmd(&index, &["regenerate", "--dry-run"]).ok();
    assert_unchanged(&before, &index, "regenerate --dry-run");
    assert!(run.stdout.contains("would write 8 file(s)"), "{run}");
    assert!(run.stdout.contains("4  .metadata file(s)"), "{run}");
    assert!(run.stdout.contains("2  project page(s)"), "{run}");
    assert!(!run.stdout.contains("demo/index.html"), "{run}");
    let run = cmd(&index, &["-v", "regenerate", "--dry-run"]).ok();
    assert_unchanged(&before, &index, "regenerate -v --dry-run");
    let planned = [
        ".nojekyll".to_owned(),
        "index.html".to_owned(),
        "demo/index.html".to_owned(),
        "extra/index.html".to_owned(),
        format!("demo/{n10}.metadata"),
        format!("demo/{n11}.metadata"),
        format!("demo/{n20}.metadata"),
        format!("extra/{}.metadata", file_name(&pextra)),
    ];
    for path in &planned {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{path}  "))),
            "the dry run does not plan {path}:\n{run}"
        );
    }

    let run = cmd(&index, &["-v", "regenerate"]).ok();
    assert!(
        run.stdout
            .contains(&format!("wrote {} file(s)", planned.len())),
        "{run}"
    );
    // Only the unlisted wheels were hashed: the page is the state.
    assert!(run.stderr.contains(&format!("hashing demo/{n11}")), "{run}");
    for listed in [&n10, &n20, &ns10] {
        assert!(
            !run.stderr.contains(&format!("hashing demo/{listed}")),
            "{listed} was hashed although the page lists its hash:\n{run}"
        );
    }

    let page = read(demo.join("index.html"));
    assert!(
        page.contains("<meta name=\"pypi:repository-version\" content=\"1.1\">"),
        "{page}"
    );
    assert!(!page.contains("</br>"), "{page}");
    let entries = anchors(&page);
    assert_eq!(
        texts(&entries),
        [n20.as_str(), n11.as_str(), n10.as_str(), ns10.as_str()],
        "{page}"
    );
    for (name, hash) in [(&n10, &h10), (&n11, &h11), (&n20, &h20), (&ns10, &hs10)] {
        let fragment = format!("{name}#sha256={hash}");
        assert_eq!(anchor(&entries, name, &page).href(), fragment, "{page}");
        if name != &n11 {
            assert!(legacy_page.contains(&fragment));
        }
    }
    for (i, name) in [&n10, &n11, &n20].into_iter().enumerate() {
        let metadata_path = demo.join(format!("{name}.metadata"));
        let metadata = std::fs::read(&metadata_path)
            .unwrap_or_else(|e| panic!("no {}: {e}", metadata_path.display()));
        assert_eq!(
            metadata, built[i].1,
            "{name}.metadata is not the wheel's METADATA"
        );
        let value = format!("sha256={}", sha_of(&metadata_path));
        let entry = anchor(&entries, name, &page);
        assert_eq!(entry.attr("data-core-metadata"), Some(value.as_str()));
        assert_eq!(entry.attr("data-dist-info-metadata"), Some(value.as_str()));
    }
    assert_eq!(
        anchor(&entries, &n20, &page).attr("data-requires-python"),
        Some("&gt;=3.8")
    );
    assert_eq!(
        anchor(&entries, &n10, &page).attr("data-requires-python"),
        None
    );
    let sdist_entry = anchor(&entries, &ns10, &page);
    assert_eq!(sdist_entry.attr("data-core-metadata"), None);
    assert!(!demo.join(format!("{ns10}.metadata")).exists());

    let extra_page = read(index.join("extra/index.html"));
    assert_eq!(texts(&anchors(&extra_page)), [file_name(&pextra).as_str()]);
    let root = read(index.join("index.html"));
    let root_links: Vec<String> = anchors(&root).iter().map(|a| a.href().to_owned()).collect();
    assert_eq!(root_links, ["demo/", "extra/"], "{root}");
    assert!(index.join(".nojekyll").is_file());

    // Idempotent: a second run writes nothing (not even the same bytes).
    let before = snapshot(&index);
    let run = cmd(&index, &["regenerate"]).ok();
    assert!(run.stdout.contains("nothing written"), "{run}");
    assert_unchanged(&before, &index, "a second regenerate");
    cmd(&index, &["verify"]).ok();

    // Yanks survive a regenerate (the page is the state), which still writes nothing.
    cmd(&index, &["yank", &n10, "--reason", "use 1.1"]).ok();
    let before = snapshot(&index);
    let run = cmd(&index, &["regenerate"]).ok();
    assert!(run.stdout.contains("nothing written"), "{run}");
    assert_unchanged(&before, &index, "regenerate after a yank");
    let page = read(demo.join("index.html"));
    assert_eq!(
        anchor(&anchors(&page), &n10, &page).attr("data-yanked"),
        Some("use 1.1")
    );

    // pip resolves the once-unlisted wheel through the new .metadata file.
    let server = StaticServer::serve(&index).unwrap();
    assert_eq!(pip_resolves(&server.url(), "demo==1.1").0, "1.1");
    assert!(
        server.was_requested(&format!("/demo/{n11}.metadata")),
        "{:#?}",
        server.requested_paths()
    );
}

/// The legacy fixture with the file of one entry present: regenerate keeps that entry with the
/// hash the page lists — which is not this file's hash, proving it did not re-hash a listed
/// file — adds its `.metadata`, and drops the other five entries with a warning each; `verify`
/// then finds the hash mismatch and names the file.
#[test]
fn regenerate_trusts_listed_hashes_and_verify_catches_a_wrong_one() {
    let work = TempDir::new().unwrap();
    let index = work.path().join("index");
    copy_dir(Path::new(LEGACY_TEST_INDEX), &index);
    let legacy = read(index.join("dace/index.html"));
    let legacy_entries = anchors(&legacy);
    let kept_name = "dace-1.0.0-py3-none-any.whl";
    let legacy_href = anchor(&legacy_entries, kept_name, &legacy)
        .href()
        .to_owned();
    let builder = WheelBuilder::new("dace", "1.0.0");
    let path = builder.build(&index.join("dace")).unwrap();
    assert_eq!(file_name(&path), kept_name);
    let real = sha_of(&path);
    assert!(
        !legacy_href.ends_with(&real),
        "the fixture's hash is this wheel's?"
    );

    let run = cmd(&index, &["regenerate"]).ok();
    assert!(
        !run.stderr.contains(&format!("hashing dace/{kept_name}")),
        "{run}"
    );
    let page = read(index.join("dace/index.html"));
    let entries = anchors(&page);
    assert_eq!(texts(&entries), [kept_name], "{page}");
    assert_eq!(entries[0].href(), legacy_href, "{page}");
    assert_eq!(
        std::fs::read(index.join(format!("dace/{kept_name}.metadata"))).unwrap(),
        builder.metadata_bytes()
    );
    for dropped in legacy_entries.iter().filter(|a| a.text != kept_name) {
        assert!(
            run.stderr.lines().any(|l| l.starts_with("warning:")
                && l.contains(&format!("dace/{}", dropped.text))
                && l.contains("dropped")),
            "no warning that {} was dropped:\n{run}",
            dropped.text
        );
    }
    let root = read(index.join("index.html"));
    assert_eq!(
        anchors(&root).iter().map(Anchor::href).collect::<Vec<_>>(),
        ["dace/"]
    );

    let run = cmd(&index, &["verify"]).failed();
    let listed = legacy_href.split_once("#sha256=").unwrap().1;
    let problem = format!("problem: dace/{kept_name}: sha256 is {real}, the page lists {listed}");
    assert!(run.stdout.contains(&problem), "{run}");
    assert!(run.stderr.contains("1 problem(s)"), "{run}");
}

/// The legacy fixture without any of its files: `--dry-run` writes nothing; `regenerate` drops
/// every entry with a warning naming it and unlinks the project from the root; the index it
/// leaves must pass `verify` (no page may still list the dropped files).
#[test]
fn regenerate_drops_legacy_entries_whose_files_are_missing() {
    let work = TempDir::new().unwrap();
    let index = work.path().join("index");
    copy_dir(Path::new(LEGACY_TEST_INDEX), &index);
    let legacy = read(index.join("dace/index.html"));
    let legacy_entries = anchors(&legacy);
    assert_eq!(legacy_entries.len(), 6, "fixture changed?\n{legacy}");

    let before = snapshot(&index);
    let run = cmd(&index, &["regenerate", "--dry-run"]).ok();
    assert_unchanged(&before, &index, "regenerate --dry-run");
    assert!(run.stdout.contains("would write"), "{run}");

    let run = cmd(&index, &["regenerate"]).ok();
    for dropped in &legacy_entries {
        assert!(
            run.stderr.lines().any(|l| l.starts_with("warning:")
                && l.contains(&format!("dace/{}", dropped.text))
                && l.contains("dropped")),
            "no warning that {} was dropped:\n{run}",
            dropped.text
        );
    }
    let root = read(index.join("index.html"));
    assert!(anchors(&root).is_empty(), "{root}");
    assert!(index.join(".nojekyll").is_file());

    // No page may still offer the dropped files to pip (GitHub Pages serves dace/index.html
    // whether or not the root links it).
    let page_path = index.join("dace/index.html");
    if page_path.exists() {
        let page = read(&page_path);
        assert!(
            anchors(&page).is_empty(),
            "regenerate dropped the entries but left a page listing them:\n{page}"
        );
    }
    let run = cmd(&index, &["verify"]);
    assert_eq!(
        run.code,
        Some(0),
        "the regenerated index does not verify:\n{run}"
    );
}

// ---------------------------------------------------------------------------------------------
// verify
// ---------------------------------------------------------------------------------------------

/// `verify` passes on a fresh index and finds, each on its own and then all together: a
/// corrupted file, a corrupted `.metadata`, a missing `.metadata`, a listed file that is gone,
/// a file the page does not list, a project page the root does not link, and a root link to a
/// project without a page.
#[test]
fn verify_finds_each_kind_of_damage() {
    let work = TempDir::new().unwrap();
    let dist = work.path().join("dist");
    let w10 = wheel(&dist, "demo", "1.0");
    let w11 = wheel(&dist, "demo", "1.1");
    let s10 = sdist(&dist, "demo", "1.0");
    let other = wheel(&dist, "other", "1.0");
    let third = wheel(&dist, "third", "1.0");
    let stray = wheel(&dist, "demo", "3.0");
    let index = work.path().join("index");
    publish(&index, &["-q"], &[&w10, &w11, &s10, &other, &third]).ok();
    let demo = index.join("demo");

    let run = cmd(&index, &["verify"]).ok();
    assert!(
        run.stdout.contains("Checked 5 file(s) in 3 project(s)")
            && run.stdout.contains("0 problem(s)"),
        "{run}"
    );

    let n10 = file_name(&w10);
    let n11 = file_name(&w11);
    let root_path = index.join("index.html");
    let root = read(&root_path);
    let root_without_other = root.replace("    <a href=\"other/\">other</a><br>\n", "");
    assert_ne!(root, root_without_other, "unexpected root page:\n{root}");
    // The wheel that gets corrupted, so that all damages at once still give one problem each
    // (a missing wheel's .metadata is not checked).
    let metadata_path = demo.join(format!("{n10}.metadata"));
    let other_metadata = index
        .join("other")
        .join(format!("{}.metadata", file_name(&other)));

    // Each damage: (what, break it, the problem line it must give, repair it).
    type Step = Box<dyn Fn()>;
    let damages: Vec<(&str, Step, String, Step)> = vec![
        (
            "a corrupted wheel",
            Box::new({
                let p = demo.join(&n10);
                move || {
                    let mut bytes = std::fs::read(&p).unwrap();
                    let mid = bytes.len() / 2;
                    bytes[mid] ^= 0xff;
                    std::fs::write(&p, bytes).unwrap();
                }
            }),
            format!("problem: demo/{n10}: sha256 is "),
            Box::new({
                let (from, to) = (w10.clone(), demo.join(&n10));
                move || {
                    std::fs::copy(&from, &to).unwrap();
                }
            }),
        ),
        (
            "a corrupted .metadata",
            Box::new({
                let p = metadata_path.clone();
                move || std::fs::write(&p, b"Metadata-Version: 2.1\nName: demo\n").unwrap()
            }),
            format!("problem: demo/{n10}.metadata: sha256 is "),
            Box::new({
                let (p, bytes) = (
                    metadata_path.clone(),
                    std::fs::read(&metadata_path).unwrap(),
                );
                move || std::fs::write(&p, &bytes).unwrap()
            }),
        ),
        (
            "a deleted .metadata",
            Box::new({
                let p = other_metadata.clone();
                move || std::fs::remove_file(&p).unwrap()
            }),
            format!(
                "problem: other/{}.metadata: the page announces this .metadata file but it is \
                 missing",
                file_name(&other)
            ),
            Box::new({
                let (p, bytes) = (
                    other_metadata.clone(),
                    std::fs::read(&other_metadata).unwrap(),
                );
                move || std::fs::write(&p, &bytes).unwrap()
            }),
        ),
        (
            "a deleted wheel",
            Box::new({
                let p = demo.join(&n11);
                move || std::fs::remove_file(&p).unwrap()
            }),
            format!("problem: demo/{n11}: listed on the page but missing"),
            Box::new({
                let (from, to) = (w11.clone(), demo.join(&n11));
                move || {
                    std::fs::copy(&from, &to).unwrap();
                }
            }),
        ),
        (
            "an unlisted wheel",
            Box::new({
                let (from, to) = (stray.clone(), demo.join(file_name(&stray)));
                move || {
                    std::fs::copy(&from, &to).unwrap();
                }
            }),
            format!(
                "problem: demo/{}: in the project folder but not on its page",
                file_name(&stray)
            ),
            Box::new({
                let p = demo.join(file_name(&stray));
                move || std::fs::remove_file(&p).unwrap()
            }),
        ),
        (
            "a project missing from the root page",
            Box::new({
                let (p, text) = (root_path.clone(), root_without_other.clone());
                move || std::fs::write(&p, &text).unwrap()
            }),
            "problem: other/index.html: the root page does not link this project".to_owned(),
            Box::new({
                let (p, text) = (root_path.clone(), root.clone());
                move || std::fs::write(&p, &text).unwrap()
            }),
        ),
        (
            "a root link to a project without a page",
            Box::new({
                let p = index.join("third/index.html");
                move || std::fs::remove_file(&p).unwrap()
            }),
            "problem: third/index.html: the root page links this project but it has no page"
                .to_owned(),
            Box::new({
                let (p, text) = (
                    index.join("third/index.html"),
                    read(index.join("third/index.html")),
                );
                move || std::fs::write(&p, &text).unwrap()
            }),
        ),
    ];

    for (what, damage, problem, repair) in &damages {
        damage();
        let run = cmd(&index, &["verify"]).failed();
        let problems: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("problem:"))
            .collect();
        assert!(
            problems.len() == 1 && problems[0].starts_with(problem.as_str()),
            "{what}: expected one problem `{problem}…`:\n{run}"
        );
        assert!(
            run.stderr.contains("has 1 problem(s)"),
            "{what}: the error does not count the problem:\n{run}"
        );
        repair();
        cmd(&index, &["verify"]).ok();
    }

    // All at once: every problem is reported in one run.
    for (_, damage, _, _) in &damages {
        damage();
    }
    let run = cmd(&index, &["verify"]).failed();
    for (what, _, problem, _) in &damages {
        assert!(
            run.stdout.lines().any(|l| l.starts_with(problem.as_str())),
            "{what} not reported with the others:\n{run}"
        );
    }
    assert!(
        run.stderr
            .contains(&format!("has {} problem(s)", damages.len())),
        "{run}"
    );
}

// ---------------------------------------------------------------------------------------------
// --wait-live
// ---------------------------------------------------------------------------------------------

/// The served index shows the new project page only ~1.5 s after the publish (like a Pages
/// deployment): `--wait-live` polls until the page lists the file with its hash, then says it
/// is live; the install line points at the served URL.
#[test]
fn wait_live_waits_for_the_page_to_be_served() {
    let work = TempDir::new().unwrap();
    let w10 = wheel(&work.path().join("dist"), "demo", "1.0");
    let index = work.path().join("index");
    std::fs::create_dir_all(&index).unwrap();
    let server = StaticServer::serve(&index).unwrap();
    let delay = Duration::from_millis(1500);
    let started = Instant::now();
    server.serve_after("/demo/", delay);
    let url = server.url();

    let run = publish(
        &index,
        &[
            "--wait-live",
            &url,
            "--wait-interval",
            "0.1",
            "--wait-timeout",
            "20",
        ],
        &[&w10],
    )
    .ok();
    let elapsed = started.elapsed();
    assert!(
        run.stdout.contains(&format!("Live: {url}")),
        "stdout does not say the files are live:\n{run}"
    );
    assert!(
        run.stdout
            .contains(&format!("--extra-index-url {url} demo==1.0")),
        "{run}"
    );
    assert!(
        elapsed >= delay,
        "finished after {elapsed:?}, before the page was served"
    );
    let page_requests: Vec<u16> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/demo/")
        .map(|r| r.status)
        .collect();
    assert!(
        page_requests.len() >= 2
            && page_requests[..page_requests.len() - 1]
                .iter()
                .all(|&s| s == 404)
            && page_requests.last() == Some(&200),
        "expected polls that 404 and then a 200: {page_requests:?}"
    );
    assert!(
        page_requests.len() < 60,
        "{} polls in {elapsed:?} at a 0.1 s interval",
        page_requests.len()
    );
}

/// When the served index never shows the new file — the page is not there, or a stale
/// deployment serves the old page — `--wait-live` gives up after `--wait-timeout` with a
/// message that names the file and says the publish itself succeeded (it did). A re-run once
/// the right index is served succeeds (files already present count). A non-http URL is refused.
#[test]
fn wait_live_times_out_with_a_clear_message() {
    let work = TempDir::new().unwrap();
    let dist = work.path().join("dist");
    let w10 = wheel(&dist, "demo", "1.0");
    let w11 = wheel(&dist, "demo", "1.1");
    let index = work.path().join("index");
    let empty = work.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let server = StaticServer::serve(&empty).unwrap();
    let url = server.url();
    let wait = [
        "--wait-live",
        url.as_str(),
        "--wait-interval",
        "0.2",
        "--wait-timeout",
        "2",
    ];

    // Nothing served at all.
    let started = Instant::now();
    let run = publish(&index, &wait, &[&w10]).failed();
    let elapsed = started.elapsed();
    let n10 = file_name(&w10);
    for needle in [
        format!("{url} did not show {n10} within 2 s"),
        "the publish itself succeeded".to_owned(),
        "HTTP 404".to_owned(),
    ] {
        assert!(run.stderr.contains(&needle), "no `{needle}`:\n{run}");
    }
    assert!(
        run.stdout.contains("published") && run.stdout.contains(&n10),
        "{run}"
    );
    assert!(index.join("demo").join(&n10).is_file());
    assert!(
        (Duration::from_secs(2)..Duration::from_secs(15)).contains(&elapsed),
        "gave up after {elapsed:?}"
    );

    // A stale deployment: the old page is served, without the new file.
    let stale = work.path().join("stale");
    copy_dir(&index, &stale);
    server.set_root(&stale);
    let run = publish(&index, &wait, &[&w11]).failed();
    let n11 = file_name(&w11);
    assert!(
        run.stderr
            .contains(&format!("did not show {n11} within 2 s"))
            && run.stderr.contains(&format!("does not list {n11} yet")),
        "{run}"
    );
    let page = read(index.join("demo/index.html"));
    assert_eq!(texts(&anchors(&page)), [n11.as_str(), n10.as_str()]);

    // The right index served: the same run succeeds and writes nothing.
    server.set_root(&index);
    let run = publish(&index, &wait, &[&w10, &w11]).ok();
    assert!(run.stdout.contains("already present"), "{run}");
    assert!(run.stdout.contains(&format!("Live: {url}")), "{run}");

    let run = publish(&index, &["--wait-live", "ftp://127.0.0.1/"], &[&w10]).failed();
    assert!(
        run.stderr
            .contains("--wait-live needs an http(s) URL, got `ftp://127.0.0.1/`"),
        "{run}"
    );
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions
// ---------------------------------------------------------------------------------------------

/// With `GITHUB_ACTIONS=true`: stderr has one `::group::FILE` … `::endgroup::` per distribution
/// and no terminal control characters; `$GITHUB_STEP_SUMMARY` gets a Markdown table row per file
/// and the pip command; `$GITHUB_OUTPUT` gets `published-urls` (multi-line, percent-encoded file
/// URLs), `published=N` and `index-url`, appended run after run. A refused file gives an
/// `::error file=PATH::` annotation (path escaped), and nothing is written.
#[test]
fn github_actions_mode_reports_groups_summary_and_outputs() {
    let work = TempDir::new().unwrap();
    let dist = work.path().join("dist");
    let files = [
        wheel(&dist, "demo", "1.0"),
        sdist(&dist, "demo", "1.0"),
        wheel(&dist, "demo", "2.0+cu118"),
    ];
    let names: Vec<String> = files.iter().map(|f| file_name(f)).collect();
    let index = work.path().join("index");
    let summary = work.path().join("summary.md");
    let output = work.path().join("output.txt");
    let in_actions = |command: &mut Command| -> Run {
        exec(
            command
                .env("GITHUB_ACTIONS", "true")
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("GITHUB_OUTPUT", &output),
        )
    };

    let run = in_actions(
        tool()
            .arg("publish")
            .arg("--index-dir")
            .arg(&index)
            .args(&files),
    )
    .ok();
    assert!(
        !run.stderr.contains(['\x1b', '\r']) && !run.stdout.contains(['\x1b', '\r']),
        "terminal control characters in a CI log:\n{run}"
    );
    let mut open: Option<&str> = None;
    let mut groups = Vec::new();
    for line in run.stderr.lines() {
        if let Some(name) = line.strip_prefix("::group::") {
            assert!(open.is_none(), "nested ::group:: at `{line}`:\n{run}");
            open = Some(name);
            groups.push(name.to_owned());
        } else if line == "::endgroup::" {
            assert!(
                open.take().is_some(),
                "::endgroup:: without a group:\n{run}"
            );
        }
    }
    assert!(open.is_none(), "a group is never closed:\n{run}");
    let mut sorted_groups = groups.clone();
    sorted_groups.sort();
    let mut sorted_names = names.clone();
    sorted_names.sort();
    assert_eq!(sorted_groups, sorted_names, "one group per file:\n{run}");

    let index_url = format!("file://{}/", index.display());
    let md = read(&summary);
    assert!(md.contains("| File | Version | Result |"), "{md}");
    for (name, version) in names.iter().zip(["1.0", "1.0", "2.0+cu118"]) {
        let row = format!("| `{name}` | {version} | published |");
        assert!(md.lines().any(|l| l == row), "no row `{row}`:\n{md}");
    }
    for version in ["1.0", "2.0+cu118"] {
        let pip = format!("python3 -m pip install --extra-index-url {index_url} demo=={version}");
        assert!(md.contains(&pip), "no `{pip}`:\n{md}");
    }

    let outputs = read(&output);
    let (urls, rest) = parse_multiline_output(&outputs, "published-urls");
    assert_eq!(
        urls,
        [
            format!("{index_url}demo/demo-1.0-py3-none-any.whl"),
            format!("{index_url}demo/demo-1.0.tar.gz"),
            format!("{index_url}demo/demo-2.0%2Bcu118-py3-none-any.whl"),
        ],
        "{outputs}"
    );
    assert!(rest.lines().any(|l| l == "published=3"), "{outputs}");
    assert!(
        rest.lines().any(|l| l == format!("index-url={index_url}")),
        "{outputs}"
    );

    // A second run appends: nothing published, the same URLs.
    in_actions(
        tool()
            .arg("publish")
            .arg("--index-dir")
            .arg(&index)
            .args(&files),
    )
    .ok();
    let outputs = read(&output);
    assert_eq!(outputs.matches("published-urls<<").count(), 2, "{outputs}");
    assert!(outputs.lines().any(|l| l == "published=0"), "{outputs}");
    let md = read(&summary);
    assert!(
        md.contains(&format!(
            "| `{}` | 1.0 | already present (nothing written) |",
            names[0]
        )),
        "{md}"
    );

    // A refused file: an ::error annotation with the escaped path; nothing written anywhere.
    let bad_dir = work.path().join("bad, dir:1");
    std::fs::create_dir_all(&bad_dir).unwrap();
    let bad = WheelBuilder::new("demo", "3.0")
        .metadata_override(b"Metadata-Version: 2.1\nName: demo\nVersion: 3.1\n")
        .build(&bad_dir)
        .unwrap();
    let good = wheel(&dist, "demo", "4.0");
    let before = snapshot(&index);
    let (summary_before, output_before) = (read(&summary), read(&output));
    let run = in_actions(
        tool()
            .arg("publish")
            .arg("--index-dir")
            .arg(&index)
            .arg(&good)
            .arg(&bad),
    )
    .failed();
    let escaped = bad
        .display()
        .to_string()
        .replace('%', "%25")
        .replace(':', "%3A")
        .replace(',', "%2C");
    let annotation = format!("::error file={escaped}::");
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with(&annotation))
        .unwrap_or_else(|| panic!("no `{annotation}` line:\n{run}"));
    assert!(line.len() > annotation.len(), "an empty annotation: {line}");
    assert!(
        !run.stderr
            .contains(&format!("::error file={}", good.display())),
        "the valid file is annotated:\n{run}"
    );
    assert_unchanged(&before, &index, "a refused run");
    assert_eq!(read(&summary), summary_before);
    assert_eq!(read(&output), output_before);

    // Maintenance errors are annotated too.
    let run = in_actions(
        tool()
            .args(["yank", "demo-9.9-py3-none-any.whl", "--index-dir"])
            .arg(&index),
    )
    .failed();
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("::error::") && l.contains("demo-9.9-py3-none-any.whl")),
        "{run}"
    );

    // Warnings become ::warning:: annotations (here: legacy entries without files).
    let legacy = work.path().join("legacy");
    copy_dir(Path::new(LEGACY_TEST_INDEX), &legacy);
    let run = in_actions(tool().args(["regenerate", "--index-dir"]).arg(&legacy)).ok();
    assert!(
        run.stderr.lines().any(|l| l.starts_with("::warning::")
            && l.contains("dace/dace-1.0.0-py3-none-any.whl")
            && l.contains("dropped")),
        "{run}"
    );
    assert!(!run.stderr.contains("\nwarning:"), "{run}");
}

/// The value of `NAME<<DELIMITER … DELIMITER` in a `$GITHUB_OUTPUT` file (the first one), and
/// the text after it.
fn parse_multiline_output<'a>(text: &'a str, name: &str) -> (Vec<String>, &'a str) {
    let prefix = format!("{name}<<");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no `{prefix}` in:\n{text}"));
    let after = &text[start + prefix.len()..];
    let (delimiter, body) = after.split_once('\n').unwrap();
    assert!(!delimiter.is_empty(), "an empty delimiter:\n{text}");
    let end = body
        .find(&format!("\n{delimiter}\n"))
        .unwrap_or_else(|| panic!("the delimiter `{delimiter}` never closes:\n{text}"));
    let values = body[..end].lines().map(str::to_owned).collect();
    (values, &body[end + delimiter.len() + 2..])
}
