//! `--atomic` against the GitHub emulator, through the real binary: a run is one Git Data API
//! commit (blobs, one tree, one commit, a fast-forward-only ref update), whatever it changes;
//! racing runs, injected faults (a lost answer to the ref update included) and stale reads
//! converge to a complete index with one commit per run; every writing command works so.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::github::*;
use common::*;
use github_emulator::{CommitKind, Config, Emulator, Fault, FaultPlan, FaultRule, RandomFaults};
use gt4py_testkit::dist_builder::import_name;
use gt4py_testkit::http_server::StaticServer;
use gt4py_testkit::pip::{Client, Venv};
use tempfile::TempDir;

fn atomic(emu: &Emulator, subcommand: &str, args: &[&str]) -> Run {
    exec(gh(emu, Some(TOKEN), subcommand).arg("--atomic").args(args))
}

fn publish_atomic(emu: &Emulator, files: &[&Path]) -> Run {
    exec(gh(emu, Some(TOKEN), "publish").arg("--atomic").args(files))
}

fn git_data_commits(emu: &Emulator) -> usize {
    emu.commits()
        .iter()
        .filter(|c| c.kind == CommitKind::GitData)
        .count()
}

fn contents_writes(emu: &Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.is_write() && r.path.contains("/contents/"))
        .count()
}

#[test]
fn a_run_of_four_files_is_one_commit_and_installs() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let dists = [
        wheel(&dir, "atomic-proj", "1.0"),
        sdist(&dir, "atomic-proj", "1.0"),
        wheel(&dir, "atomic-proj", "1.1"),
        wheel(&dir, "other-atomic", "0.1"),
    ];
    let all: Vec<&Dist> = dists.iter().collect();
    let before = emu.commits().len();
    let run = publish_atomic(&emu, &refs(&paths(&all))).ok();
    for dist in &dists {
        assert!(run.says("published", &dist.filename), "{run}");
    }
    let commits = emu.commits();
    assert_eq!(commits.len(), before + 1, "{commits:#?}");
    let commit = commits.last().unwrap();
    assert_eq!(commit.kind, CommitKind::GitData);
    // Every file of the run is named in the one commit message.
    for dist in &dists {
        assert!(
            commit.message.contains(&dist.filename),
            "{}",
            commit.message
        );
    }
    assert_eq!(
        contents_writes(&emu),
        0,
        "no Contents API writes in atomic mode"
    );
    assert_eq!(git_data_commits(&emu), 1);
    // Only the distributions are blobs of their own; pages and `.metadata` files ride in the
    // one tree request (each write costs a second on GitHub).
    let blobs = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/git/blobs"))
        .count();
    assert_eq!(blobs, dists.len());
    let files = emu.files();
    assert_valid(&files);
    assert_holds(&files, &all);

    // A re-run writes nothing.
    let run = publish_atomic(&emu, &refs(&paths(&all))).ok();
    assert!(run.says("already present", &dists[0].filename), "{run}");
    assert_eq!(emu.commits().len(), before + 1);

    // The exported branch, served over HTTP, installs with pip.
    let site = work.path().join("site");
    emu.export_to(&site).unwrap();
    let server = StaticServer::serve(&site).unwrap();
    let venv = Venv::shared();
    let reqs = [dists[2].requirement(), dists[3].requirement()];
    let reqs: Vec<&str> = reqs.iter().map(String::as_str).collect();
    for client in [Client::Pip, Client::Uv] {
        let target = work.path().join(format!("site-packages-{client:?}"));
        venv.install(client, &server.url(), &reqs, &target, &[])
            .unwrap_or_else(|e| panic!("installing {reqs:?} with {client:?} failed:\n{e}"));
        for dist in [&dists[2], &dists[3]] {
            let module = import_name(&dist.project);
            assert_eq!(venv.import_version(&module, &target).unwrap(), dist.version);
        }
    }
}

#[test]
fn dry_run_shows_the_one_commit_it_would_make() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let dists = [
        wheel(&dir, "dry-atomic", "1.0"),
        wheel(&dir, "dry-atomic", "2.0"),
    ];
    let all: Vec<&Dist> = dists.iter().collect();
    let before = emu.commits().len();
    let run = exec(
        gh(&emu, Some(TOKEN), "publish")
            .args(["--atomic", "--dry-run"])
            .args(refs(&paths(&all))),
    )
    .ok();
    assert!(run.stdout.contains("one commit"), "{run}");
    for dist in &dists {
        assert!(run.stdout.contains(&dist.filename), "{run}");
    }
    assert_eq!(emu.commits().len(), before);
}

/// An atomic dry run lists the release asset uploads it would make (name and size) apart from
/// the one commit, whose count is of the commit's changes alone.
#[test]
fn dry_run_lists_the_asset_uploads_before_the_commit() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let dists = [
        wheel(&dir, "dry-assets", "1.0"),
        wheel(&dir, "dry-assets", "2.0"),
    ];
    let all: Vec<&Dist> = dists.iter().collect();
    let before = emu.commits().len();
    let run = exec(
        gh(&emu, Some(TOKEN), "publish")
            .args(["--atomic", "--dry-run", "--store", "release"])
            .args(refs(&paths(&all))),
    )
    .ok();
    assert!(
        run.stdout.contains("Planned: 4 release asset upload(s)"),
        "{run}"
    );
    for dist in &dists {
        let size = std::fs::metadata(dist.path()).unwrap().len();
        let file = format!("  upload {}  ({size} bytes)", dist.filename);
        assert!(run.stdout.contains(&file), "{run}");
        let metadata = dist.metadata.as_ref().unwrap().len();
        let metadata = format!("  upload {}.metadata  ({metadata} bytes)", dist.filename);
        assert!(run.stdout.contains(&metadata), "{run}");
    }
    let in_commit = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  write ") || l.starts_with("  delete "))
        .count();
    assert!(in_commit > 0, "{run}");
    assert!(
        run.stdout
            .contains(&format!("one commit of {in_commit} change(s)")),
        "{run}"
    );
    assert_eq!(emu.commits().len(), before);
    assert!(emu.assets("gt4py-publish-files").is_empty());
}

/// A ref update refused as not a fast forward is settled by reading the branch; when that read
/// fails, the run fails with the refusal and the failed read, rather than taking the failure
/// for a race with another run and planning again.
#[test]
fn a_failed_read_after_a_refused_ref_update_is_reported() {
    let work = TempDir::new().unwrap();
    let dist = wheel(&work.path().join("dist"), "refused-ref", "1.0");
    let emu = Emulator::start(config());
    // Our ref update waits; meanwhile another commit moves the branch (so the update is not a
    // fast forward), and the read of the branch that follows is refused.
    emu.add_fault(FaultRule::new(
        "PATCH",
        &format!("/repos/{REPO}/git/refs/"),
        1,
        Fault::Latency(Duration::from_millis(800)),
    ));
    let run = std::thread::scope(|scope| {
        scope.spawn(|| {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while emu.faults().rules.iter().any(|r| r.times > 0) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the ref update never came"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            emu.add_fault(FaultRule::new(
                "GET",
                &format!("/repos/{REPO}/git/ref/"),
                1,
                Fault::status(401),
            ));
            emu.seed("elsewhere.txt", b"another run's commit");
        });
        publish_atomic(&emu, &[dist.path()]).failed()
    });
    assert!(run.stderr.contains("not a fast forward"), "{run}");
    assert!(run.stderr.contains("could not be read"), "{run}");
    assert!(run.stderr.contains("401"), "{run}");
    assert_eq!(git_data_commits(&emu), 0, "{run}");
}

#[test]
fn racing_atomic_publishers_make_one_commit_each_and_lose_nothing() {
    const RUNS: usize = 12;
    let work = TempDir::new().unwrap();
    let dists: Vec<Dist> = (0..RUNS)
        .map(|i| {
            wheel(
                &work.path().join(format!("d{i}")),
                "race-atomic",
                &format!("1.{i}"),
            )
        })
        .collect();
    let emu = Emulator::start(Config {
        latency: Duration::from_millis(5),
        ..config()
    });
    let before = emu.commits().len();
    let children: Vec<_> = dists
        .iter()
        .map(|d| {
            tool_std()
                .arg("publish")
                .args(target_args(&emu))
                .args(["-q", "--atomic"])
                .arg(d.path())
                .env("GT4PY_PUBLISH_TOKEN", TOKEN)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the tool starts")
        })
        .collect();
    for (child, dist) in children.into_iter().zip(&dists) {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "publishing {} failed\n{}",
            dist.filename,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let refused = emu
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.status == Some(422))
        .count();
    println!("{RUNS} racing atomic publishers: {refused} ref updates refused (not a fast forward)");
    assert_eq!(emu.commits().len(), before + RUNS, "one commit per run");
    let files = emu.files();
    assert_valid(&files);
    let all: Vec<&Dist> = dists.iter().collect();
    assert_holds(&files, &all);
    assert_eq!(page(&files, "race-atomic").len(), RUNS);
}

#[test]
fn atomic_runs_survive_random_faults_with_one_commit_each() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let runs: Vec<Vec<Dist>> = vec![
        vec![
            wheel(&dir, "faulty-atomic", "1.0"),
            sdist(&dir, "faulty-atomic", "1.0"),
        ],
        vec![wheel(&dir, "faulty-atomic", "1.1")],
        vec![
            wheel(&dir, "faulty-atomic", "2.0"),
            wheel(&dir, "second-atomic", "0.1"),
        ],
        vec![wheel(&dir, "second-atomic", "0.2")],
    ];
    let emu = Emulator::start(config());
    // A lost answer to the ref update itself, before the random faults start.
    emu.add_fault(FaultRule::new(
        "PATCH",
        &format!("/repos/{REPO}/git/refs/"),
        1,
        Fault::DropAfterApply,
    ));
    let kinds = random_fault_kinds();
    let plan = emu.faults().with_random(RandomFaults {
        probability: 0.2,
        faults: kinds.clone(),
        seed: 77,
        methods: Vec::new(),
    });
    emu.set_faults(plan);
    for run in &runs {
        let before = emu.commits().len();
        let files = paths(&run.iter().collect::<Vec<_>>());
        let result = publish_atomic(&emu, &refs(&files)).ok();
        for dist in run {
            assert!(result.says("published", &dist.filename), "{result}");
        }
        assert_eq!(
            emu.commits().len(),
            before + 1,
            "one commit per run:\n{result}"
        );
    }
    let faulted = emu.requests().iter().filter(|r| r.fault.is_some()).count();
    assert!(faulted >= 4, "only {faulted} faults were injected");
    assert!(
        emu.requests()
            .iter()
            .any(|r| r.method == "PATCH" && r.fault == Some(Fault::DropAfterApply)),
        "the lost ref update was never injected"
    );
    emu.set_faults(FaultPlan::none());
    let files = emu.files();
    assert_valid(&files);
    let all: Vec<&Dist> = runs.iter().flatten().collect();
    assert_holds(&files, &all);
    let commits = emu.commits().len();
    for run in &runs {
        let files = paths(&run.iter().collect::<Vec<_>>());
        publish_atomic(&emu, &refs(&files)).ok();
    }
    assert_eq!(emu.commits().len(), commits, "re-runs add no commit");
}

#[test]
fn yank_remove_and_regenerate_are_one_commit_each() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let dists = [
        wheel(&dir, "maint-atomic", "1.0"),
        wheel(&dir, "maint-atomic", "2.0"),
    ];
    let all: Vec<&Dist> = dists.iter().collect();
    publish_atomic(&emu, &refs(&paths(&all))).ok();

    let before = emu.commits().len();
    atomic(&emu, "yank", &[&dists[0].filename, "--reason", "broken"]).ok();
    assert_eq!(emu.commits().len(), before + 1);
    assert!(text(&emu.files(), "maint-atomic/index.html").contains("data-yanked=\"broken\""));

    let before = emu.commits().len();
    atomic(&emu, "remove", &[&dists[1].filename]).ok();
    let commits = emu.commits();
    assert_eq!(commits.len(), before + 1);
    let removal = commits.last().unwrap();
    // Page, the wheel and its .metadata: one commit.
    assert!(
        removal.paths.iter().any(|p| p == &dists[1].repo_path()),
        "{removal:#?}"
    );
    assert!(
        removal.paths.iter().any(|p| p.ends_with(".metadata")),
        "{removal:#?}"
    );
    let files = emu.files();
    assert!(!files.contains_key(&dists[1].repo_path()));
    assert_valid(&files);

    // A wheel dropped in without pages: regenerate adopts it in one commit.
    let extra = wheel(&dir, "maint-atomic", "3.0");
    emu.seed(&extra.repo_path(), &std::fs::read(extra.path()).unwrap());
    let before = emu.commits().len();
    let run = atomic(&emu, "regenerate", &[]).ok();
    assert_eq!(emu.commits().len(), before + 1, "{run}");
    let files = emu.files();
    assert_valid(&files);
    assert!(files.contains_key(&format!("{}.metadata", extra.repo_path())));
    assert!(text(&files, "maint-atomic/index.html").contains(&extra.filename));
    assert_eq!(contents_writes(&emu), 0);
}

/// Reads by branch name lag behind writes by up to half a second; reads by sha are exact.
/// Runs one after the other in both modes must still see each other's work and lose nothing.
#[test]
fn stale_reads_lose_nothing_in_either_mode() {
    for mode in [&[][..], &["--atomic"][..]] {
        let work = TempDir::new().unwrap();
        let dir = work.path().join("dist");
        let emu = Emulator::start(Config {
            stale_reads: Duration::from_millis(500),
            ..config()
        });
        let dists: Vec<Dist> = (0..4)
            .map(|i| wheel(&dir, "stale-proj", &format!("1.{i}")))
            .collect();
        for dist in &dists {
            let run = exec(gh(&emu, Some(TOKEN), "publish").args(mode).arg(dist.path())).ok();
            assert!(run.says("published", &dist.filename), "{mode:?}: {run}");
        }
        let files = emu.files();
        assert_valid(&files);
        let all: Vec<&Dist> = dists.iter().collect();
        assert_holds(&files, &all);
        assert_eq!(page(&files, "stale-proj").len(), dists.len(), "{mode:?}");
    }
}

/// Branch protection answers 409 (Contents API) or 422 (ref update), like a lost race: the tool
/// must tell them apart by message, fail at once without re-planning, and say what to change.
#[test]
fn a_protected_branch_fails_at_once_in_both_modes() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let dist = wheel(&dir, "guarded", "1.0");
    for protection in [
        github_emulator::Protection::pull_request(),
        github_emulator::Protection::status_checks(&["ci"]),
    ] {
        for mode in [&[][..], &["--atomic"][..]] {
            let emu = Emulator::start(config());
            emu.set_protection(Some(protection.clone()));
            let started = std::time::Instant::now();
            let run = exec(gh(&emu, Some(TOKEN), "publish").args(mode).arg(dist.path())).failed();
            assert!(run.stderr.contains("branch main"), "{mode:?}: {run}");
            assert!(run.stderr.contains("protected"), "{mode:?}: {run}");
            assert!(run.stderr.contains("bypass"), "{mode:?}: {run}");
            assert!(!run.stderr.contains("other runs"), "{mode:?}: {run}");
            // One refused write (the first file, or the one ref update), not a retry storm.
            let refused = emu
                .requests()
                .iter()
                .filter(|r| r.is_write() && matches!(r.status, Some(409 | 422)))
                .count();
            assert_eq!(
                refused, 1,
                "{mode:?}: {refused} refused writes: a retry storm"
            );
            assert!(started.elapsed() < Duration::from_secs(10), "{mode:?}");
            assert_eq!(emu.api_commits().len(), 0);
        }
    }
}
