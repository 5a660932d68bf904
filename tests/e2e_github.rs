//! End to end against the GitHub emulator, through the real binary: publish wheels and sdists
//! into an emulated `GridTools/pypi@main` over the Contents API, then check the branch the way a
//! client would see it (exported, served on 127.0.0.1, installed with pip), under concurrent
//! publishers, injected faults, a run killed half-way, bad or missing tokens, a legacy index,
//! and folders and pages larger than the API's simple limits.
//!
//! Each test starts its own emulator (on its own thread: no tokio runtime here) and builds its
//! own distributions in its own temporary folder. The tool runs with a clean environment: the
//! token only ever comes from `GT4PY_PUBLISH_TOKEN` set by the test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::github::*;
use common::*;
use github_emulator::{Config, Emulator, Fault, FaultPlan, RandomFaults};
use gt4py_testkit::dist_builder::{WheelBuilder, import_name};
use gt4py_testkit::http_server::StaticServer;
use gt4py_testkit::pip::{Client, Venv};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Running the tool
// ---------------------------------------------------------------------------------------------

/// `gt4py-publish publish` to the emulator with the read-write token.
fn publish(emu: &Emulator, extra: &[&str], files: &[&Path]) -> Run {
    exec(gh(emu, Some(TOKEN), "publish").args(extra).args(files))
}

/// The same as a child process, output piped.
fn spawn_publish(emu: &Emulator, files: &[&Path]) -> std::process::Child {
    tool_std()
        .arg("publish")
        .args(target_args(emu))
        .arg("-q")
        .args(files)
        .env("GT4PY_PUBLISH_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool starts")
}

/// API commits that wrote `path`.
fn writes_of(emu: &Emulator, path: &str) -> usize {
    emu.api_commits()
        .iter()
        .filter(|c| c.paths.iter().any(|p| p == path))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// Wheels (an epoch version, a local version, a `py2.py3` tag, `Requires-Python`, a
/// non-normalized project name) and an sdist, published in one run; the branch, exported and
/// served on 127.0.0.1, installs every one with pip, and each imports with its version.
#[test]
fn published_distributions_install_with_pip() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let dists = [
        wheel(&dir, "alpha-proj", "43!2026.2.3"),
        wheel(&dir, "alpha-proj", "1.0+cu118"),
        build_wheel(
            &dir,
            WheelBuilder::new("Beta.Proj", "2.0")
                .tag("py2.py3-none-any")
                .requires_python(">=3.8"),
            "Beta.Proj",
            "2.0",
        ),
        sdist(&dir, "Beta.Proj", "0.5"),
    ];
    let all: Vec<&Dist> = dists.iter().collect();
    let emu = Emulator::start(config());
    let run = publish(&emu, &[], &refs(&paths(&all))).ok();
    for dist in &dists {
        assert!(run.says("published", &dist.filename), "{run}");
    }
    let files = emu.files();
    assert_valid(&files);
    assert_holds(&files, &all);
    assert_eq!(root_projects(&files), ["alpha-proj", "beta-proj"]);
    let beta = page(&files, "beta-proj");
    let requires = beta
        .iter()
        .find(|a| a.text == dists[2].filename)
        .and_then(|a| a.attr("data-requires-python"));
    assert_eq!(requires, Some("&gt;=3.8"));

    let site = work.path().join("site");
    emu.export_to(&site).unwrap();
    let server = StaticServer::serve(&site).unwrap();
    let url = server.url();
    let venv = Venv::shared();
    // One pip run per group of requirements that can be installed together (one version of a
    // project each), all at once; the sdist-only version is built offline from its sdist.
    let groups: Vec<Vec<&Dist>> = vec![vec![&dists[0], &dists[2]], vec![&dists[1]]];
    std::thread::scope(|scope| {
        for (i, group) in groups.iter().enumerate() {
            let target = work.path().join(format!("site-packages-{i}"));
            let url = &url;
            scope.spawn(move || {
                let reqs: Vec<String> = group.iter().map(|d| d.requirement()).collect();
                let reqs: Vec<&str> = reqs.iter().map(String::as_str).collect();
                venv.install(Client::Pip, url, &reqs, &target, &[])
                    .unwrap_or_else(|e| panic!("installing {reqs:?} failed:\n{e}"));
                for dist in group {
                    let module = import_name(&dist.project);
                    assert_eq!(
                        venv.import_version(&module, &target).unwrap(),
                        dist.version,
                        "{}",
                        dist.requirement()
                    );
                }
            });
        }
        let sdist = &dists[3];
        let target = work.path().join("site-packages-sdist");
        let url = &url;
        scope.spawn(move || {
            venv.install_sdist_offline(url, &sdist.requirement(), &target)
                .unwrap_or_else(|e| panic!("installing the sdist failed:\n{e}"));
            assert_eq!(
                venv.import_version(&import_name(&sdist.project), &target)
                    .unwrap(),
                sdist.version
            );
        });
    });
    let requested = server.requested_paths();
    for dist in &dists {
        let path = format!("/{}", dist.repo_path());
        assert!(
            requested.contains(&path),
            "pip never fetched {path}: {requested:#?}"
        );
    }
}

/// The old generator.py's index, seeded on the branch (its wheels are gone), next to a legacy
/// page written here in the same style for wheels that do exist: one more publish into each
/// project keeps every legacy entry with its hash, adds the new wheel, rewrites the pages in
/// the new format and warns about the missing files. The adopted legacy wheels still install.
#[test]
fn legacy_index_is_adopted_without_losing_entries() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let legacy_root = std::fs::read_to_string(format!("{LEGACY_INDEX}/index.html")).unwrap();
    let legacy_dace = std::fs::read_to_string(format!("{LEGACY_INDEX}/dace/index.html")).unwrap();
    let dace_entries = anchors(&legacy_dace);
    assert_eq!(dace_entries.len(), 6, "fixture changed?\n{legacy_dace}");

    // A legacy page of real wheels, in generator.py's style: `</br>`, any order.
    let ghex = [
        wheel(&dir, "ghex", "0.3.0"),
        wheel(&dir, "ghex", "0.4.1"),
        wheel(&dir, "ghex", "0.4.0"),
    ];
    let mut ghex_page = String::from(
        "<!DOCTYPE HTML>\n<html>\n    <head>\n        <title>Custom Package for 'ghex'</title>\n\
         \x20       <meta charset=\"UTF-8\" />\n    </head>\n\n    <body>\n    \
         <h1>Custom Package for 'ghex'</h1>\n",
    );
    for dist in &ghex {
        let sha = sha256_hex(&std::fs::read(&dist.path).unwrap());
        ghex_page.push_str(&format!(
            "        <a href=\"{0}#sha256={sha}\">{0}</a> </br>\n",
            dist.filename
        ));
    }
    ghex_page.push_str("    </body>\n</html>\n");
    // The root as generator.py writes it, with the second project: no trailing slashes.
    let root = legacy_root.replace(
        "<a href=\"dace\">dace</a>",
        "<a href=\"ghex\">ghex</a> </br>\n        <a href=\"dace\">dace</a> </br>",
    );
    assert_ne!(root, legacy_root, "fixture changed?");
    let mut seed: Vec<(String, Vec<u8>)> = vec![
        ("index.html".into(), root.into_bytes()),
        ("dace/index.html".into(), legacy_dace.clone().into_bytes()),
        ("ghex/index.html".into(), ghex_page.clone().into_bytes()),
    ];
    for dist in &ghex {
        seed.push((dist.repo_path(), std::fs::read(&dist.path).unwrap()));
    }
    let emu = Emulator::start(config());
    emu.seed_many(seed.iter().map(|(p, b)| (p.as_str(), b.as_slice())));

    let new_dace = wheel(&dir, "dace", "43!2026.3.1");
    let run = publish(&emu, &[], &[new_dace.path()]).ok();
    assert!(run.says("published", &new_dace.filename), "{run}");
    for entry in &dace_entries {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains(&entry.text) && l.contains("missing")),
            "no warning that {} is missing:\n{run}",
            entry.text
        );
    }
    let files = emu.files();
    let page_text = text(&files, "dace/index.html");
    let entries = page(&files, "dace");
    assert_eq!(entries.len(), 7, "{page_text}");
    for old in &dace_entries {
        let kept = entries
            .iter()
            .find(|a| a.text == old.text)
            .unwrap_or_else(|| panic!("legacy entry {} was lost:\n{page_text}", old.text));
        assert_eq!(kept.sha256(), old.sha256(), "{} lost its hash", old.text);
    }
    assert!(
        page_text.contains("pypi:repository-version") && !page_text.contains("</br>"),
        "dace/index.html is not in the new format:\n{page_text}"
    );
    assert_holds(&files, &[&new_dace]);
    // The root is rewritten too: both projects, with trailing slashes.
    let root_text = text(&files, "index.html");
    let mut links: Vec<String> = anchors(&root_text)
        .iter()
        .map(|a| a.href().to_string())
        .collect();
    links.sort();
    assert_eq!(links, ["dace/", "ghex/"], "{root_text}");
    // The ghex page was not touched by a dace publish.
    assert_eq!(text(&files, "ghex/index.html"), ghex_page);

    let new_ghex = wheel(&dir, "ghex", "0.5.0");
    let run = publish(&emu, &[], &[new_ghex.path()]).ok();
    assert!(run.says("published", &new_ghex.filename), "{run}");
    let files = emu.files();
    let ghex_text = text(&files, "ghex/index.html");
    assert!(
        ghex_text.contains("pypi:repository-version") && !ghex_text.contains("</br>"),
        "ghex/index.html is not in the new format:\n{ghex_text}"
    );
    assert_eq!(page(&files, "ghex").len(), 4, "{ghex_text}");
    // Every legacy wheel that exists keeps its hash; the whole page checks out.
    let all_ghex: Vec<&Dist> = ghex.iter().chain([&new_ghex]).collect();
    for dist in &all_ghex {
        let sha = sha256_hex(&std::fs::read(&dist.path).unwrap());
        let entry = page(&files, "ghex")
            .into_iter()
            .find(|a| a.text == dist.filename)
            .unwrap_or_else(|| panic!("{} was lost:\n{ghex_text}", dist.filename));
        assert_eq!(entry.sha256(), Some(sha.as_str()));
    }
    // Only the dace files that were never there are dangling.
    let problems = link_problems(&files);
    assert_eq!(problems.len(), 6, "{problems:#?}");
    for old in &dace_entries {
        assert!(
            problems.iter().any(|p| p.contains(&old.text)),
            "{problems:#?}"
        );
    }

    // pip installs a legacy wheel (hash checked) and the new ones from the adopted index.
    let site = work.path().join("site");
    emu.export_to(&site).unwrap();
    let server = StaticServer::serve(&site).unwrap();
    let venv = Venv::shared();
    for (i, dist) in [&ghex[1], &new_ghex, &new_dace].into_iter().enumerate() {
        let target = work.path().join(format!("site-packages-{i}"));
        venv.install(
            Client::Pip,
            &server.url(),
            &[&dist.requirement()],
            &target,
            &[],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            venv.import_version(&import_name(&dist.project), &target)
                .unwrap(),
            dist.version
        );
    }
}

/// Twelve publishers started at once, each with another wheel of one project, against a branch
/// whose writes take a moment (so they overlap and GitHub's compare-and-swap refuses most of
/// them): every run succeeds, every wheel is on the page with its hash, the root lists the
/// project once.
#[test]
fn concurrent_publishers_all_land() {
    const RUNS: usize = 12;
    let work = TempDir::new().unwrap();
    let dists: Vec<Dist> = (0..RUNS)
        .map(|i| {
            wheel(
                &work.path().join(format!("d{i}")),
                "race-proj",
                &format!("1.{i}"),
            )
        })
        .collect();
    let emu = Emulator::start(Config {
        write_latency: Duration::from_millis(30),
        ..config()
    });
    let started = Instant::now();
    let children: Vec<_> = dists
        .iter()
        .map(|d| spawn_publish(&emu, &[d.path()]))
        .collect();
    for (child, dist) in children.into_iter().zip(&dists) {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "publishing {} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            dist.filename,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let elapsed = started.elapsed();
    let requests = emu.requests();
    let conflicts = requests.iter().filter(|r| r.status == Some(409)).count();
    let refusals = requests.iter().filter(|r| r.status == Some(422)).count();
    println!(
        "{RUNS} concurrent publishers: {elapsed:?}, {} requests, {} writes, {conflicts} answered \
         409, {refusals} answered 422, {} commits",
        requests.len(),
        requests.iter().filter(|r| r.is_write()).count(),
        emu.api_commits().len()
    );
    assert!(
        conflicts > 0,
        "no write was refused with 409: the publishers did not race"
    );
    let files = emu.files();
    assert_valid(&files);
    let all: Vec<&Dist> = dists.iter().collect();
    assert_holds(&files, &all);
    assert_eq!(page(&files, "race-proj").len(), RUNS);
    assert_eq!(root_projects(&files), ["race-proj"]);
    // No file was uploaded twice (a lost race re-plans; it does not re-send what landed).
    for dist in &dists {
        assert_eq!(writes_of(&emu, &dist.repo_path()), 1, "{}", dist.filename);
    }
}

/// Every kind of fault, injected at random into 20 % of the requests (fixed seed): several
/// publishes, one or several files each, all succeed; the index is complete and valid; the same
/// publishes again without faults write nothing and say "already present".
#[test]
fn publishes_survive_random_faults_and_converge() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let runs: Vec<Vec<Dist>> = vec![
        vec![
            wheel(&dir, "faulty", "1.0"),
            wheel(&dir, "faulty", "1.1"),
            sdist(&dir, "faulty", "1.1"),
        ],
        vec![wheel(&dir, "other-proj", "0.1")],
        vec![
            wheel(&dir, "faulty", "2.0"),
            wheel(&dir, "other-proj", "0.2"),
        ],
        vec![wheel(&dir, "faulty", "2.1")],
    ];
    let emu = Emulator::start(config());
    let kinds = random_fault_kinds();
    emu.set_faults(FaultPlan::none().with_random(RandomFaults {
        probability: 0.2,
        faults: kinds.clone(),
        // Chosen so that every kind fires within the first 40 requests (these runs make ~50).
        seed: 2034,
        methods: Vec::new(),
    }));
    let started = Instant::now();
    for run in &runs {
        let files = paths(&run.iter().collect::<Vec<_>>());
        let result = publish(&emu, &[], &refs(&files)).ok();
        for dist in run {
            assert!(result.says("published", &dist.filename), "{result}");
        }
    }
    let requests = emu.requests();
    let faulted: Vec<&Fault> = requests.iter().filter_map(|r| r.fault.as_ref()).collect();
    println!(
        "faults: {} of {} requests in {:?}: {faulted:?}",
        faulted.len(),
        requests.len(),
        started.elapsed()
    );
    for kind in &kinds {
        assert!(
            faulted.contains(&kind),
            "{kind:?} was never injected; pick another seed"
        );
    }
    emu.set_faults(FaultPlan::none());
    let files = emu.files();
    assert_valid(&files);
    let all: Vec<&Dist> = runs.iter().flatten().collect();
    assert_holds(&files, &all);
    assert_eq!(page(&files, "faulty").len(), 5);
    assert_eq!(page(&files, "other-proj").len(), 2);
    for dist in &all {
        assert_eq!(writes_of(&emu, &dist.repo_path()), 1, "{}", dist.filename);
    }

    let commits = emu.api_commits().len();
    for run in &runs {
        let files = paths(&run.iter().collect::<Vec<_>>());
        let result = publish(&emu, &[], &refs(&files)).ok();
        for dist in run {
            assert!(result.says("already present", &dist.filename), "{result}");
        }
    }
    assert_eq!(
        emu.api_commits().len(),
        commits,
        "re-publishing wrote: {:#?}",
        &emu.api_commits()[commits..]
    );
}

/// A run killed between two of its writes leaves a valid index (nothing lists what is not
/// there yet); running it again completes it without sending any file twice and without
/// duplicate entries. Killed once right after its first distribution file landed, and once
/// between a new project's page and the root page.
#[test]
fn a_killed_run_is_completed_by_running_it_again() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let first = wheel(&dir, "kill-proj", "0.1");
    publish(&emu, &["-q"], &[first.path()]).ok();

    // 1. Two wheels; killed once the first one's file is in.
    let a = wheel(&dir, "kill-proj", "1.0");
    let b = wheel(&dir, "kill-proj", "2.0");
    emu.set_latency(Duration::ZERO, Duration::from_millis(400));
    let since = emu.commits().len();
    let mut child = spawn_publish(&emu, &[a.path(), b.path()]);
    wait_for_commit(&emu, since, "the first wheel", |c| {
        c.paths.iter().any(|p| p.ends_with(".whl"))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // A write already inside the emulator may still land: let it.
    std::thread::sleep(Duration::from_millis(600));
    let files = emu.files();
    let problems = link_problems(&files);
    assert!(problems.is_empty(), "after the kill: {problems:#?}");
    let listed: Vec<String> = page(&files, "kill-proj")
        .into_iter()
        .map(|a| a.text)
        .collect();
    assert_eq!(
        listed,
        std::slice::from_ref(&first.filename),
        "killed too late"
    );
    let landed: Vec<&str> = [&a, &b]
        .into_iter()
        .filter(|d| files.contains_key(&d.repo_path()))
        .map(|d| d.filename.as_str())
        .collect();
    assert!(!landed.is_empty());

    emu.set_latency(Duration::ZERO, Duration::ZERO);
    let run = publish(&emu, &[], &[a.path(), b.path()]).ok();
    for dist in [&a, &b] {
        assert!(run.says("published", &dist.filename), "{run}");
    }
    let files = emu.files();
    assert_valid(&files);
    assert_holds(&files, &[&first, &a, &b]);
    assert_eq!(page(&files, "kill-proj").len(), 3);
    for dist in [&first, &a, &b] {
        assert_eq!(writes_of(&emu, &dist.repo_path()), 1, "{}", dist.filename);
    }

    // 2. A new project, killed after its page and before the root page.
    let c = wheel(&dir, "late-proj", "1.0");
    emu.set_latency(Duration::ZERO, Duration::from_millis(400));
    let since = emu.commits().len();
    let mut child = spawn_publish(&emu, &[c.path()]);
    wait_for_commit(&emu, since, "the late-proj page", |commit| {
        commit.paths.iter().any(|p| p == "late-proj/index.html")
    });
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let files = emu.files();
    assert!(
        link_problems(&files).is_empty(),
        "{:#?}",
        link_problems(&files)
    );
    assert_eq!(
        root_projects(&files),
        ["kill-proj"],
        "killed too late: the root already lists late-proj"
    );
    emu.set_latency(Duration::ZERO, Duration::ZERO);
    publish(&emu, &[], &[c.path()]).ok();
    let files = emu.files();
    assert_valid(&files);
    assert_holds(&files, &[&first, &a, &b, &c]);
    assert_eq!(root_projects(&files), ["kill-proj", "late-proj"]);
    assert_eq!(writes_of(&emu, &c.repo_path()), 1);
    assert_eq!(writes_of(&emu, "late-proj/index.html"), 1);
}

/// The token never shows in stdout or stderr: not on success, not on a refused file, not with a
/// wrong token (401: one request, a "bad credentials" message), a read-only one (403: one
/// write, a "Contents: write" message), an unknown repository (404), nor with `--verbose`. With
/// no token, a publish fails before any request, and `--dry-run` reads and writes nothing.
#[test]
fn the_token_never_shows_and_auth_failures_say_what_to_fix() {
    const WRONG: &str = "ghp_Wr0ngT0kenAlsoNeverPrintedABCDEF01234";
    const READ_ONLY: &str = "github_pat_R3adOnlyT0kenNeverPrinted_5678";
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(Config {
        read_only_token: Some(READ_ONLY.into()),
        ..config()
    });
    let mut runs: Vec<(&str, Run)> = Vec::new();
    let one = wheel(&dir, "secret-proj", "1.0");
    let two = wheel(&dir, "secret-proj", "2.0");
    let three = wheel(&dir, "secret-proj", "3.0");

    // No token: a clear error before any request.
    let run = exec(gh(&emu, None, "publish").arg(one.path())).failed();
    assert!(
        run.stderr.contains("token") && run.stderr.contains("GT4PY_PUBLISH_TOKEN"),
        "{run}"
    );
    assert!(
        emu.requests().is_empty(),
        "requests without a token: {:#?}",
        emu.requests()
    );
    // --dry-run needs no token on a public repository, and writes nothing.
    let commits = emu.commits().len();
    let run = exec(gh(&emu, None, "publish").arg("--dry-run").arg(one.path())).ok();
    assert!(run.says("would publish", &one.filename), "{run}");
    assert_eq!(emu.commits().len(), commits, "a dry run wrote");
    assert!(emu.requests().iter().all(|r| !r.is_write() && !r.has_auth));

    // Success, verbose and not.
    let run = exec(gh(&emu, Some(TOKEN), "publish").arg("-v").arg(one.path())).ok();
    assert!(run.says("published", &one.filename), "{run}");
    runs.push(("verbose publish", run));
    let run = exec(gh(&emu, Some(TOKEN), "publish").arg(two.path())).ok();
    runs.push(("publish", run));
    // The token from a file, verbose.
    let token_file = work.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let run = exec(
        gh(&emu, None, "list")
            .arg("-v")
            .arg("--token-file")
            .arg(&token_file)
            .arg("secret-proj"),
    )
    .ok();
    assert!(run.stdout.contains(&one.filename), "{run}");
    runs.push(("verbose list with --token-file", run));

    // A refused file: nothing is sent.
    let bad = dir.join("secret_proj-9.0-py3-none-any.whl");
    std::fs::write(&bad, b"not a zip file").unwrap();
    emu.reset_requests();
    let run = exec(gh(&emu, Some(TOKEN), "publish").arg("-v").arg(&bad)).failed();
    assert!(
        run.stderr.contains("secret_proj-9.0-py3-none-any.whl"),
        "{run}"
    );
    assert!(emu.requests().is_empty(), "{:#?}", emu.requests());
    runs.push(("refused file", run));

    // A wrong token: 401, said plainly, not retried.
    for verbose in [false, true] {
        emu.reset_requests();
        let mut command = gh(&emu, Some(WRONG), "publish");
        if verbose {
            command.arg("--verbose");
        }
        let run = exec(command.arg(three.path())).failed();
        assert!(
            run.stderr.to_lowercase().contains("bad credentials"),
            "{run}"
        );
        let requests = emu.requests();
        assert_eq!(
            requests.len(),
            1,
            "a 401 must not be retried: {requests:#?}"
        );
        assert_eq!(requests[0].status, Some(401));
        runs.push(("wrong token", run));
    }

    // A read-only token: reads work, the first write gets 403, said plainly, not retried.
    emu.reset_requests();
    let commits = emu.commits().len();
    let run = exec(
        gh(&emu, Some(READ_ONLY), "publish")
            .arg("-v")
            .arg(three.path()),
    )
    .failed();
    assert!(run.stderr.contains("Contents: write"), "{run}");
    let writes: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .collect();
    assert_eq!(writes.len(), 1, "a 403 must not be retried: {writes:#?}");
    assert_eq!(writes[0].status, Some(403));
    assert_eq!(emu.commits().len(), commits);
    runs.push(("read-only token", run));

    // An unknown repository: 404, named.
    for verbose in [false, true] {
        emu.reset_requests();
        let mut command = tool();
        command
            .arg("publish")
            .args(["--api-url", &emu.api_url(), "--repo", "GridTools/nope"])
            .env("GT4PY_PUBLISH_TOKEN", TOKEN);
        if verbose {
            command.arg("-v");
        }
        let run = exec(command.arg(three.path())).failed();
        assert!(
            run.stderr.contains("GridTools/nope") && run.stderr.contains("not found"),
            "{run}"
        );
        let requests = emu.requests();
        let paths: BTreeSet<(&str, &str)> = requests
            .iter()
            .map(|r| (r.method.as_str(), r.path.as_str()))
            .collect();
        assert_eq!(
            paths.len(),
            requests.len(),
            "a 404 must not be retried: {requests:#?}"
        );
        assert!(requests.iter().all(|r| r.status == Some(404)));
        runs.push(("unknown repository", run));
    }

    // A verbose maintenance command that writes.
    let run = exec(
        gh(&emu, Some(TOKEN), "yank")
            .arg("-v")
            .arg(&one.filename)
            .args(["--reason", "test"]),
    )
    .ok();
    runs.push(("verbose yank", run));

    for (what, run) in &runs {
        for secret in [TOKEN, WRONG, READ_ONLY] {
            // The whole token, and any long enough piece of it.
            let pieces: Vec<&str> = (0..=secret.len() - 16)
                .map(|i| &secret[i..i + 16])
                .collect();
            let output = run.output();
            assert!(
                !pieces.iter().any(|p| output.contains(p)),
                "{what}: the token shows in the output:\n{run}"
            );
        }
    }
    // The verbose runs did show requests (otherwise the check above proves little).
    assert!(
        runs[0].1.stderr.contains("index.html"),
        "verbose output shows no detail:\n{}",
        runs[0].1
    );
}

/// Publishing an identical file again writes nothing and says "already present".
#[test]
fn an_identical_republish_writes_nothing() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let dists = [
        wheel(&dir, "same-proj", "1.0"),
        sdist(&dir, "same-proj", "1.0"),
    ];
    let all: Vec<&Dist> = dists.iter().collect();
    publish(&emu, &[], &refs(&paths(&all))).ok();
    let commits = emu.api_commits().len();
    emu.reset_requests();
    let run = publish(&emu, &[], &refs(&paths(&all))).ok();
    for dist in &dists {
        assert!(run.says("already present", &dist.filename), "{run}");
    }
    assert_eq!(emu.api_commits().len(), commits);
    let requests = emu.requests();
    println!("identical republish: {} requests", requests.len());
    assert!(requests.iter().all(|r| !r.is_write()), "{requests:#?}");
    // The branch resolved to one commit, its tree, the root page and the project page.
    assert!(requests.len() <= 4, "{requests:#?}");
    assert_valid(&emu.files());
}

/// A small legacy-style anchor line.
fn legacy_line(filename: &str, bytes: &[u8]) -> String {
    format!(
        "        <a href=\"{filename}#sha256={}\">{filename}</a> </br>\n",
        sha256_hex(bytes)
    )
}

/// Seeds a project folder with `count` small stand-in distributions named by `filename` and a legacy page listing
/// them all (in a shuffled order), plus a root page and `.nojekyll` made by a real publish of
/// `first`. Returns the stand-ins as (filename, bytes).
fn seed_big_project(
    emu: &Emulator,
    first: &Dist,
    count: usize,
    filename: impl Fn(usize) -> String,
) -> Vec<(String, Vec<u8>)> {
    publish(emu, &["-q"], &[first.path()]).ok();
    let folder = &first.folder;
    let fakes: Vec<(String, Vec<u8>)> = (0..count)
        .map(|i| (filename(i), format!("stand-in wheel {i}\n").into_bytes()))
        .collect();
    let mut page = format!(
        "<!DOCTYPE HTML>\n<html>\n    <head>\n        <title>Custom Package for '{folder}'</title>\n\
         \x20   </head>\n    <body>\n"
    );
    // The real wheel's entry as the tool wrote it (with its metadata hash).
    let first_line = String::from_utf8(emu.file(&format!("{folder}/index.html")).unwrap())
        .unwrap()
        .lines()
        .find(|l| l.contains(&first.filename))
        .expect("the first publish listed its wheel")
        .to_string();
    // Shuffled: every 7th, then the rest, the real wheel in the middle.
    let mut order: Vec<usize> = (0..count).step_by(7).collect();
    order.extend((0..count).filter(|i| i % 7 != 0));
    for (n, i) in order.into_iter().enumerate() {
        if n == count / 2 {
            page.push_str(&first_line);
            page.push('\n');
        }
        page.push_str(&legacy_line(&fakes[i].0, &fakes[i].1));
    }
    page.push_str("    </body>\n</html>\n");
    let page_path = format!("{folder}/index.html");
    let mut seed: Vec<(String, &[u8])> = fakes
        .iter()
        .map(|(name, bytes)| (format!("{folder}/{name}"), bytes.as_slice()))
        .collect();
    seed.push((page_path, page.as_bytes()));
    emu.seed_many(seed.iter().map(|(p, b)| (p.as_str(), *b)));
    fakes
}

/// One wheel into a project of 1,500 files (beyond the Contents API's 1,000-entry folder
/// listings): all 1,501 end up listed with their hashes, in at most 8 requests, and no
/// distribution is downloaded.
#[test]
fn a_publish_into_a_large_project_is_cheap_and_complete() {
    const COUNT: usize = 1500;
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let first = wheel(&dir, "big-proj", "5.0");
    let fakes = seed_big_project(&emu, &first, COUNT, |i| {
        format!("big_proj-0.{i}-py3-none-any.whl")
    });
    let new = wheel(&dir, "big-proj", "6.0");
    emu.reset_requests();
    let run = publish(&emu, &[], &[new.path()]).ok();
    assert!(run.says("published", &new.filename), "{run}");
    // Every listed file was seen in the folder listing (a listing cut at 1,000 entries would
    // report the rest missing).
    assert!(!run.stderr.contains("warning"), "{run}");
    let requests = emu.requests();
    let listing: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {} -> {:?}", r.method, r.path, r.status))
        .collect();
    println!(
        "publish into {COUNT} files: {} requests:\n  {}",
        requests.len(),
        listing.join("\n  ")
    );
    // The snapshot's ref, its whole tree (one recursive listing: every folder and the Pages
    // site budget), the root page, the project page, and the three writes: independent of the
    // project's size.
    assert!(requests.len() <= 7, "{listing:#?}");
    for r in &requests {
        let served = r.content_served.as_deref().unwrap_or_default();
        assert!(
            !(served.ends_with(".whl") || (r.method == "GET" && r.path.ends_with(".whl"))),
            "a wheel was downloaded: {listing:#?}"
        );
    }
    let files = emu.files();
    assert_valid(&files);
    assert_holds(&files, &[&first, &new]);
    let entries = page(&files, "big-proj");
    assert_eq!(entries.len(), COUNT + 2);
    let hashes: BTreeMap<&str, &str> = entries
        .iter()
        .map(|a| (a.text.as_str(), a.sha256().unwrap_or_default()))
        .collect();
    for (name, bytes) in &fakes {
        assert_eq!(
            hashes.get(name.as_str()).copied(),
            Some(sha256_hex(bytes).as_str()),
            "{name}"
        );
    }
}

/// A project page over 1 MB (the Contents API's limit for inline content) is read whole: a
/// publish keeps every one of its entries and hashes.
#[test]
fn a_page_over_one_megabyte_is_read_completely() {
    // Long names (local versions, long platform tags) make a big page out of few files (the
    // emulator's seeding slows down with the square of the files seeded at once).
    const COUNT: usize = 3300;
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let first = wheel(&dir, "huge-proj", "5.0");
    let fakes = seed_big_project(&emu, &first, COUNT, |i| {
        format!(
            "huge_proj-0.{i}+cu118.ubuntu2204.gcc13.openmpi4.build{i:06}-cp311-cp311-\
             manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        )
    });
    let page_size = emu.file("huge-proj/index.html").unwrap().len();
    assert!(
        page_size > 1024 * 1024,
        "the page is only {page_size} bytes"
    );
    let new = wheel(&dir, "huge-proj", "6.0");
    emu.reset_requests();
    let run = publish(&emu, &[], &[new.path()]).ok();
    assert!(run.says("published", &new.filename), "{run}");
    assert!(!run.stderr.contains("warning"), "{run}");
    println!(
        "publish next to a {page_size}-byte page: {} requests",
        emu.requests().len()
    );
    let files = emu.files();
    assert_valid(&files);
    assert_holds(&files, &[&first, &new]);
    let entries = page(&files, "huge-proj");
    assert_eq!(entries.len(), COUNT + 2);
    let hashes: BTreeMap<&str, &str> = entries
        .iter()
        .map(|a| (a.text.as_str(), a.sha256().unwrap_or_default()))
        .collect();
    for (name, bytes) in &fakes {
        assert_eq!(
            hashes.get(name.as_str()).copied(),
            Some(sha256_hex(bytes).as_str()),
            "{name}"
        );
    }
}

/// A filename already on the index with other content is refused, naming the file, and
/// nothing of the run is written; with `--skip-existing` it is skipped with a warning while the
/// rest of the run is published.
#[test]
fn same_filename_with_different_content_is_refused_or_skipped() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(config());
    let original = wheel(&work.path().join("a"), "clash-proj", "1.0");
    publish(&emu, &["-q"], &[original.path()]).ok();
    let rebuilt = build_wheel(
        &work.path().join("b"),
        WheelBuilder::new("clash-proj", "1.0").file("clash_proj/extra.py", b"x = 1\n"),
        "clash-proj",
        "1.0",
    );
    assert_eq!(rebuilt.filename, original.filename);
    let other = wheel(&work.path().join("b"), "clash-proj", "1.1");
    let commits = emu.api_commits().len();

    let run = publish(&emu, &[], &[rebuilt.path(), other.path()]).failed();
    assert!(
        run.stderr.contains(&original.filename) && run.stderr.contains("different content"),
        "{run}"
    );
    assert_eq!(emu.api_commits().len(), commits, "a refused run wrote");

    let run = publish(&emu, &["--skip-existing"], &[rebuilt.path(), other.path()]).ok();
    assert!(run.says("skipped", &original.filename), "{run}");
    assert!(run.says("published", &other.filename), "{run}");
    let files = emu.files();
    assert_valid(&files);
    assert_holds(&files, &[&original, &other]);
    assert_eq!(writes_of(&emu, &original.repo_path()), 1);
    // README: "--skip-existing: skip with a warning instead of failing".
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("warning") && l.contains(&original.filename)),
        "no warning on stderr about the skipped file:\n{run}"
    );
}

/// Commits say what happened, one per file: `Publish dace 43!2026.2.3
/// (dace-43!2026.2.3-py3-none-any.whl)`; several files of one project in one run share one
/// page write, and the root is written once.
#[test]
fn commits_name_what_they_publish_and_pages_are_written_once() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let dists = [
        wheel(&dir, "dace", "43!2026.2.3"),
        wheel(&dir, "dace", "43!2026.2.4"),
        sdist(&dir, "dace", "43!2026.2.4"),
        wheel(&dir, "ghex", "0.4.1"),
    ];
    let all: Vec<&Dist> = dists.iter().collect();
    publish(&emu, &[], &refs(&paths(&all))).ok();
    let commits = emu.api_commits();
    let messages: Vec<String> = commits
        .iter()
        .map(|c| format!("{} <- {}", c.paths.join(","), c.message))
        .collect();
    println!("commits:\n  {}", messages.join("\n  "));
    let message_of = |path: &str| -> Vec<String> {
        commits
            .iter()
            .filter(|c| c.paths.iter().any(|p| p == path))
            .map(|c| c.message.clone())
            .collect()
    };
    assert_eq!(
        message_of("dace/dace-43!2026.2.3-py3-none-any.whl"),
        ["Publish dace 43!2026.2.3 (dace-43!2026.2.3-py3-none-any.whl)"]
    );
    assert_eq!(
        message_of("dace/dace-43!2026.2.4.tar.gz"),
        ["Publish dace 43!2026.2.4 (dace-43!2026.2.4.tar.gz)"]
    );
    for commit in &commits {
        assert_eq!(commit.paths.len(), 1, "{messages:#?}");
        assert!(!commit.message.trim().is_empty(), "{messages:#?}");
    }
    assert_eq!(writes_of(&emu, "dace/index.html"), 1, "{messages:#?}");
    assert_eq!(writes_of(&emu, "ghex/index.html"), 1, "{messages:#?}");
    assert_eq!(writes_of(&emu, "index.html"), 1, "{messages:#?}");
    // Files, then metadata, then pages, then the root: the root comes last.
    assert_eq!(
        commits.last().and_then(|c| c.changed_path()),
        Some("index.html")
    );
    // 4 files + 3 metadata + 2 pages + root + .nojekyll.
    assert_eq!(commits.len(), 11, "{messages:#?}");
    let files = emu.files();
    assert_valid(&files);
    assert_holds(&files, &all);
    assert_eq!(page(&files, "dace").len(), 3);
}
