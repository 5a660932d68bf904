//! End to end through the real binary and real clients: publish into a local index folder, serve
//! it on 127.0.0.1 the way GitHub Pages would, and install from it with pip (and uv when it is
//! on PATH). Only loopback networking is used.
//!
//! Every test builds its own distributions and index in its own temporary folder and serves it
//! with its own server (so request logs never mix); the Python venv is shared by the process
//! and never installed into (installs go to per-test `--target` folders).

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{
    LEGACY_INDEX, Run, copy_dir, exec, normalize, snapshot_tree, tool, tool_std, tree_diff,
};
use gt4py_testkit::dist_builder::{SdistBuilder, WheelBuilder};
use gt4py_testkit::http_server::StaticServer;
use gt4py_testkit::pip::{self, Client, Venv};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `gt4py-publish ARGS... --index-dir INDEX FILES...`
fn publish(index: &Path, args: &[&str], files: &[PathBuf]) -> Run {
    exec(tool().args(args).arg("--index-dir").arg(index).args(files))
}

/// Like [`publish`], and the run must succeed.
fn publish_ok(index: &Path, args: &[&str], files: &[PathBuf]) -> Run {
    let run = publish(index, args, files);
    assert_eq!(run.code, Some(0), "publish failed:\n{run}");
    run
}

/// A distribution the tests publish, and how to check it once installed.
struct Dist {
    project: &'static str,
    module: String,
    version: &'static str,
    path: PathBuf,
    is_wheel: bool,
}

impl Dist {
    fn wheel(
        dir: &Path,
        builder: WheelBuilder,
        project: &'static str,
        version: &'static str,
    ) -> Dist {
        Dist {
            project,
            module: gt4py_testkit::dist_builder::import_name(project),
            version,
            path: builder.build(dir).expect("wheel builds"),
            is_wheel: true,
        }
    }

    fn sdist(dir: &Path, project: &'static str, version: &'static str) -> Dist {
        Dist {
            project,
            module: gt4py_testkit::dist_builder::import_name(project),
            version,
            path: SdistBuilder::new(project, version)
                .build(dir)
                .expect("sdist builds"),
            is_wheel: false,
        }
    }

    fn filename(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// PEP 503 normalized project name: the folder on the index.
    fn folder(&self) -> String {
        normalize(self.project)
    }

    fn requirement(&self) -> String {
        format!("{}=={}", self.project, self.version)
    }

    /// The decoded URL path of the file on the index.
    fn url_path(&self) -> String {
        format!("/{}/{}", self.folder(), self.filename())
    }
}

/// The standard set: two projects (one with a non-normalized name), an epoch version, a local
/// version, a `py2.py3-none-any` wheel, and sdists (one alone, one next to a wheel of the same
/// version).
fn standard_dists(dir: &Path) -> Vec<Dist> {
    vec![
        Dist::wheel(
            dir,
            WheelBuilder::new("alpha-proj", "43!2026.2.3"),
            "alpha-proj",
            "43!2026.2.3",
        ),
        Dist::wheel(
            dir,
            WheelBuilder::new("alpha-proj", "1.0+cu118"),
            "alpha-proj",
            "1.0+cu118",
        ),
        Dist::wheel(
            dir,
            WheelBuilder::new("alpha-proj", "0.9").tag("py2.py3-none-any"),
            "alpha-proj",
            "0.9",
        ),
        Dist::sdist(dir, "alpha-proj", "0.8"),
        Dist::wheel(
            dir,
            WheelBuilder::new("Beta.Proj", "2.0").requires_python(">=3.8"),
            "Beta.Proj",
            "2.0",
        ),
        Dist::wheel(
            dir,
            WheelBuilder::new("Beta.Proj", "2.1"),
            "Beta.Proj",
            "2.1",
        ),
        Dist::sdist(dir, "Beta.Proj", "2.1"),
    ]
}

/// One anchor of a page: (href, text).
fn anchors(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in html.split("<a ").skip(1) {
        let Some(href_start) = chunk.find("href=\"") else {
            continue;
        };
        let rest = &chunk[href_start + 6..];
        let href = rest[..rest.find('"').unwrap()].to_string();
        let text_start = chunk.find('>').unwrap() + 1;
        let text = chunk[text_start..chunk.find("</a>").unwrap()].to_string();
        out.push((href, text));
    }
    out
}

/// sha256 of a file as lowercase hex, computed by Python (an independent implementation).
fn sha256_hex(path: &Path) -> String {
    let mut command = Venv::shared().python_command();
    command
        .args([
            "-c",
            "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
        ])
        .arg(path);
    pip::run(&mut command).unwrap().stdout.trim().to_owned()
}

/// Checks the files and pages the index must hold for `dists`.
fn assert_index_holds(index: &Path, dists: &[Dist]) {
    assert!(
        index.join(".nojekyll").is_file(),
        "no .nojekyll in the index"
    );
    let root = std::fs::read_to_string(index.join("index.html")).unwrap();
    let root_links: Vec<String> = anchors(&root).into_iter().map(|(href, _)| href).collect();
    for dist in dists {
        let folder = dist.folder();
        assert!(
            root_links.contains(&format!("{folder}/")),
            "root page does not link {folder}/:\n{root}"
        );
        let stored = index.join(&folder).join(dist.filename());
        assert_eq!(
            std::fs::read(&stored).unwrap(),
            std::fs::read(&dist.path).unwrap(),
            "{} is not stored byte for byte",
            dist.filename()
        );
        assert_eq!(
            index
                .join(&folder)
                .join(format!("{}.metadata", dist.filename()))
                .is_file(),
            dist.is_wheel,
            "{}.metadata should exist exactly for wheels",
            dist.filename()
        );
        let page = std::fs::read_to_string(index.join(&folder).join("index.html")).unwrap();
        let sha = sha256_hex(&dist.path);
        let entry = anchors(&page)
            .into_iter()
            .find(|(_, text)| *text == dist.filename())
            .unwrap_or_else(|| panic!("{} is not on its page:\n{page}", dist.filename()));
        assert!(
            entry.0.ends_with(&format!("#sha256={sha}")),
            "{} has the wrong hash on its page: {}",
            dist.filename(),
            entry.0
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// Splits wheels into groups holding at most one version of each project, so one client run can
/// take a whole group (a pip start-up costs about a second).
fn wheel_groups(dists: &[Dist]) -> Vec<Vec<&Dist>> {
    let mut groups: Vec<Vec<&Dist>> = Vec::new();
    for dist in dists.iter().filter(|d| d.is_wheel) {
        match groups
            .iter_mut()
            .find(|g| g.iter().all(|d| d.folder() != dist.folder()))
        {
            Some(group) => group.push(dist),
            None => groups.push(vec![dist]),
        }
    }
    groups
}

fn requirements<'a>(group: &[&Dist], storage: &'a mut Vec<String>) -> Vec<&'a str> {
    *storage = group.iter().map(|d| d.requirement()).collect();
    storage.iter().map(String::as_str).collect()
}

/// Publish wheels (epoch, local version, py2.py3 tag, two projects) and sdists, then install
/// every wheel with pip from the served index and import it. The sdist-only version is
/// installed from its sdist (downloaded through its link, hash-checked, built offline); for
/// the version that has both, pip must take the wheel.
#[test]
fn published_distributions_install_with_pip() {
    let work = TempDir::new().unwrap();
    let dists = standard_dists(work.path());
    let index = work.path().join("index");
    let files: Vec<PathBuf> = dists.iter().map(|d| d.path.clone()).collect();
    let run = publish_ok(&index, &[], &files);
    for dist in &dists {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.contains("published") && l.ends_with(&dist.filename())),
            "no `published` line for {}:\n{run}",
            dist.filename()
        );
    }
    assert_index_holds(&index, &dists);

    let server = StaticServer::serve(&index).unwrap();
    let venv = Venv::shared();
    let url = server.url();
    let sdist_only = dists
        .iter()
        .find(|d| !d.is_wheel && d.version == "0.8")
        .unwrap();
    std::thread::scope(|scope| {
        for (i, group) in wheel_groups(&dists).into_iter().enumerate() {
            let target = work.path().join(format!("site-{i}"));
            let url = &url;
            scope.spawn(move || {
                let mut storage = Vec::new();
                let reqs = requirements(&group, &mut storage);
                venv.install(Client::Pip, url, &reqs, &target, &[])
                    .unwrap_or_else(|e| panic!("installing {reqs:?} failed:\n{e}"));
                for dist in group {
                    let version = venv.import_version(&dist.module, &target).unwrap();
                    assert_eq!(version, dist.version, "{}", dist.requirement());
                }
            });
        }
        let target = work.path().join("site-sdist");
        let url = &url;
        scope.spawn(move || {
            venv.install_sdist_offline(url, &sdist_only.requirement(), &target)
                .unwrap_or_else(|e| panic!("installing the sdist failed:\n{e}"));
            let version = venv.import_version(&sdist_only.module, &target).unwrap();
            assert_eq!(version, sdist_only.version);
        });
    });
    let requested = server.requested_paths();
    for dist in &dists {
        let fetched = requested.contains(&dist.url_path());
        let expected = dist.is_wheel || dist.version == "0.8";
        assert_eq!(
            fetched,
            expected,
            "{}: fetched {fetched}, expected {expected}; requests:\n{requested:#?}",
            dist.url_path()
        );
    }
    // The pages were reached by their PEP 503 normalized names.
    assert!(
        requested.iter().any(|p| p == "/beta-proj/"),
        "{requested:#?}"
    );
}

/// pip resolves from the PEP 658 `.metadata` file: it fetches `FILENAME.metadata`, and the
/// report carries that metadata. pip 25.3 and later then never download the wheel on a dry run
/// (checked strictly); older pips (the venv's bundled one may be 23.x) still fetch it after
/// resolving, so for them the check is that the metadata came first.
#[test]
fn pip_dry_run_reads_pep658_metadata() {
    let work = TempDir::new().unwrap();
    let dists = standard_dists(work.path());
    let index = work.path().join("index");
    let files: Vec<PathBuf> = dists.iter().map(|d| d.path.clone()).collect();
    publish_ok(&index, &["-q"], &files);
    let server = StaticServer::serve(&index).unwrap();
    let venv = Venv::shared();
    let pip_version = venv.pip_version().unwrap();
    let skips_download = pip_version.as_slice() >= [25, 3].as_slice();
    if !skips_download {
        println!(
            "note: pip {pip_version:?} downloads wheels on --dry-run even with PEP 658 metadata \
             (fixed in pip 25.3); checking that the metadata is fetched first"
        );
    }
    for group in wheel_groups(&dists) {
        server.clear_requests();
        let mut storage = Vec::new();
        let reqs = requirements(&group, &mut storage);
        let report = venv
            .dry_run(Client::Pip, &server.url(), &reqs)
            .unwrap_or_else(|e| panic!("{e}"));
        let report: serde_json::Value = serde_json::from_str(&report.stdout)
            .unwrap_or_else(|e| panic!("pip's report is not JSON ({e}):\n{}", report.stdout));
        let requested = server.requested_paths();
        for dist in group {
            let install = report["install"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["metadata"]["name"] == dist.project)
                .unwrap_or_else(|| panic!("{} is not in the report: {report:#}", dist.project));
            assert_eq!(install["metadata"]["version"], dist.version, "{report:#}");
            let url = install["download_info"]["url"].as_str().unwrap();
            assert!(
                url.starts_with(&server.url()),
                "pip would download {url}, not from the test index"
            );
            let metadata = format!("{}.metadata", dist.url_path());
            let metadata_at = requested.iter().position(|p| *p == metadata);
            let wheel_at = requested.iter().position(|p| *p == dist.url_path());
            assert!(
                metadata_at.is_some(),
                "pip did not fetch {metadata}; requests: {requested:#?}"
            );
            if skips_download {
                assert!(
                    wheel_at.is_none(),
                    "pip downloaded the wheel {} on a dry run; requests: {requested:#?}",
                    dist.url_path()
                );
            } else if let Some(wheel_at) = wheel_at {
                assert!(
                    metadata_at < Some(wheel_at),
                    "pip fetched the wheel before its metadata; requests: {requested:#?}"
                );
            }
        }
    }
}

/// uv resolves through the PEP 658 metadata (fetching `FILENAME.metadata`, never the wheel, on a
/// dry run) and installs from the index.
#[test]
fn uv_installs_and_reads_pep658_metadata() {
    if pip::uv_path().is_none() {
        println!("note: `uv` is not on PATH; skipping the uv checks (CI installs it)");
        return;
    }
    let work = TempDir::new().unwrap();
    let dists = standard_dists(work.path());
    let index = work.path().join("index");
    let files: Vec<PathBuf> = dists.iter().map(|d| d.path.clone()).collect();
    publish_ok(&index, &["-q"], &files);
    let server = StaticServer::serve(&index).unwrap();
    let venv = Venv::shared();
    for (i, group) in wheel_groups(&dists).into_iter().enumerate() {
        let mut storage = Vec::new();
        let reqs = requirements(&group, &mut storage);
        server.clear_requests();
        venv.dry_run(Client::Uv, &server.url(), &reqs)
            .unwrap_or_else(|e| panic!("{e}"));
        let requested = server.requested_paths();
        for dist in &group {
            let metadata = format!("{}.metadata", dist.url_path());
            assert!(
                requested.contains(&metadata),
                "uv did not fetch {metadata}; requests: {requested:#?}"
            );
            assert!(
                !requested.contains(&dist.url_path()),
                "uv downloaded the wheel {} on a dry run; requests: {requested:#?}",
                dist.url_path()
            );
        }

        let target = work.path().join(format!("site-{i}"));
        venv.install(Client::Uv, &server.url(), &reqs, &target, &[])
            .unwrap_or_else(|e| panic!("{e}"));
        for dist in &group {
            assert_eq!(
                venv.import_version(&dist.module, &target).unwrap(),
                dist.version
            );
        }
    }
}

/// Publishing the same files again succeeds, says so, and touches nothing.
#[test]
fn republishing_identical_files_changes_nothing() {
    let work = TempDir::new().unwrap();
    let dists = standard_dists(work.path());
    let index = work.path().join("index");
    let files: Vec<PathBuf> = dists.iter().map(|d| d.path.clone()).collect();
    publish_ok(&index, &[], &files);
    let before = snapshot_tree(&index, None);
    // A rewrite within the same clock tick would keep the mtime: make sure one would show.
    std::thread::sleep(Duration::from_millis(50));

    let run = publish_ok(&index, &[], &files);
    for dist in &dists {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.contains("already present") && l.contains(&dist.filename())),
            "no `already present` line for {}:\n{run}",
            dist.filename()
        );
    }
    assert!(!run.stdout.contains("  published"), "{run}");
    let after = snapshot_tree(&index, None);
    assert!(
        before == after,
        "the index changed: {:?}",
        tree_diff(&before, &after)
    );

    // Once more, with --skip-existing and one file given twice: still nothing to do.
    let mut twice = files.clone();
    twice.push(files[0].clone());
    publish_ok(&index, &["--skip-existing"], &twice);
    let again = snapshot_tree(&index, None);
    assert!(
        before == again,
        "the index changed: {:?}",
        tree_diff(&before, &again)
    );
}

/// Two publishers started together, each with another wheel of the same project, into the same
/// index folder: both wheels end up on the page and both install.
#[test]
fn overlapping_publishers_both_land() {
    let work = TempDir::new().unwrap();
    let venv = Venv::shared();
    const ROUNDS: usize = 4;
    for round in 0..ROUNDS {
        let dir = work.path().join(format!("round-{round}"));
        std::fs::create_dir_all(&dir).unwrap();
        let a = Dist::wheel(
            &dir,
            WheelBuilder::new("gamma-proj", "1.0"),
            "gamma-proj",
            "1.0",
        );
        let b = Dist::wheel(
            &dir,
            WheelBuilder::new("gamma-proj", "2.0"),
            "gamma-proj",
            "2.0",
        );
        // Even rounds start from nothing (both create the root page); odd rounds from an index
        // that already holds the project.
        let index = dir.join("index");
        if round % 2 == 1 {
            let seed = Dist::wheel(
                &dir,
                WheelBuilder::new("gamma-proj", "0.1"),
                "gamma-proj",
                "0.1",
            );
            publish_ok(&index, &["-q"], &[seed.path]);
        }
        let children: Vec<_> = [&a, &b]
            .iter()
            .map(|dist| {
                tool_std()
                    .arg("--index-dir")
                    .arg(&index)
                    .arg(&dist.path)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("the tool starts")
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "round {round}: a publisher failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert_index_holds(&index, &[a, b]);
        let page = std::fs::read_to_string(index.join("gamma-proj/index.html")).unwrap();
        let expected = if round % 2 == 1 { 3 } else { 2 };
        assert_eq!(anchors(&page).len(), expected, "round {round}:\n{page}");

        if round == ROUNDS - 1 {
            let server = StaticServer::serve(&index).unwrap();
            for version in ["1.0", "2.0"] {
                let target = dir.join(format!("site-{version}"));
                venv.install(
                    Client::Pip,
                    &server.url(),
                    &[&format!("gamma-proj=={version}")],
                    &target,
                    &[],
                )
                .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(venv.import_version("gamma_proj", &target).unwrap(), version);
            }
        }
    }
}

/// An index written by the old generator.py is adopted: every legacy entry survives with its
/// exact hash, the new wheel is added, and the tool warns that the legacy files are missing.
#[test]
fn legacy_index_is_adopted_without_losing_entries() {
    let work = TempDir::new().unwrap();
    let index = work.path().join("gt4py-index");
    copy_dir(Path::new(LEGACY_INDEX), &index);
    let legacy_page = std::fs::read_to_string(index.join("dace/index.html")).unwrap();
    let legacy = anchors(&legacy_page);
    assert_eq!(legacy.len(), 6, "fixture changed?\n{legacy_page}");

    let new = Dist::wheel(
        work.path(),
        WheelBuilder::new("dace", "43!2026.3.1"),
        "dace",
        "43!2026.3.1",
    );
    let run = publish_ok(&index, &[], std::slice::from_ref(&new.path));
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("published") && l.ends_with(&new.filename())),
        "{run}"
    );

    let page = std::fs::read_to_string(index.join("dace/index.html")).unwrap();
    let entries = anchors(&page);
    for (href, text) in &legacy {
        let (_, sha) = href.split_once("#sha256=").unwrap();
        let kept = entries.iter().find(|(_, t)| t == text).unwrap_or_else(|| {
            panic!("legacy entry {text} was lost:\n{page}");
        });
        assert!(
            kept.0.ends_with(&format!("#sha256={sha}")),
            "legacy entry {text} lost its hash {sha}: {}",
            kept.0
        );
        assert!(
            run.stderr.contains(text.as_str()) && run.stderr.contains("missing"),
            "no warning that {text} is missing:\n{run}"
        );
    }
    assert_index_holds(&index, std::slice::from_ref(&new));
    assert_eq!(entries.len(), 7, "{page}");
    assert!(
        page.contains("pypi:repository-version"),
        "not rewritten in our format:\n{page}"
    );

    // The adopted index serves the new wheel to pip, legacy entries notwithstanding.
    let server = StaticServer::serve(&index).unwrap();
    let target = work.path().join("site");
    let venv = Venv::shared();
    venv.install(
        Client::Pip,
        &server.url(),
        &[&new.requirement()],
        &target,
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(venv.import_version("dace", &target).unwrap(), new.version);
}

/// `--dry-run` prints the planned writes and writes nothing, on an empty and on a populated
/// index.
#[test]
fn dry_run_writes_nothing() {
    let work = TempDir::new().unwrap();
    let dists = standard_dists(work.path());
    let index = work.path().join("index");
    std::fs::create_dir_all(&index).unwrap();
    let files: Vec<PathBuf> = dists.iter().map(|d| d.path.clone()).collect();

    // Empty index.
    let before = snapshot_tree(&index, None);
    let run = publish_ok(&index, &["--dry-run"], &files);
    let after = snapshot_tree(&index, None);
    assert!(
        before == after,
        "dry run wrote: {:?}",
        tree_diff(&before, &after)
    );
    for dist in &dists {
        let file = format!("{}/{}", dist.folder(), dist.filename());
        assert!(
            run.stdout
                .lines()
                .any(|l| l.contains("would publish") && l.contains(&dist.filename())),
            "no `would publish` for {file}:\n{run}"
        );
        assert!(
            run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&file)),
            "planned writes do not list {file}:\n{run}"
        );
        if dist.is_wheel {
            let metadata = format!("{file}.metadata");
            assert!(
                run.stdout
                    .lines()
                    .any(|l| l.trim_start().starts_with(&metadata)),
                "planned writes do not list {metadata}:\n{run}"
            );
        }
    }
    for page in [
        "alpha-proj/index.html",
        "beta-proj/index.html",
        "index.html",
    ] {
        assert!(
            run.stdout.lines().any(|l| l.trim_start().starts_with(page)),
            "planned writes do not list {page}:\n{run}"
        );
    }

    // An index folder that does not exist stays absent.
    let absent = work.path().join("absent");
    publish_ok(&absent, &["--dry-run"], &files);
    assert!(!absent.exists(), "dry run created {}", absent.display());

    // Populated index, one new file.
    publish_ok(&index, &["-q"], &files[1..]);
    let before = snapshot_tree(&index, None);
    let run = publish_ok(&index, &["--dry-run"], &files);
    let after = snapshot_tree(&index, None);
    assert!(
        before == after,
        "dry run wrote: {:?}",
        tree_diff(&before, &after)
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("would publish") && l.contains(&dists[0].filename())),
        "{run}"
    );
    for dist in &dists[1..] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.contains("already present") && l.contains(&dist.filename())),
            "{run}"
        );
    }
}
