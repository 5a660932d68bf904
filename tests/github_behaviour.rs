//! How the tool meets the real GitHub's behaviour (DESIGN.md §3), through the binary against an
//! emulator that follows it: the ~40 MB body ceiling, a read-only token answered 404, SAML SSO,
//! a moved repository, a workflow's GITHUB_TOKEN, the pause between writes, lost answers seen
//! through lagging replicas, and a remove racing a publish when a stale `sha` re-creates a
//! deleted path.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::github::*;
use common::*;
use github_emulator::{Config, Emulator, Fault, FaultPlan, ReadOnlyWriteAnswer, StalePick};
use tempfile::TempDir;

const READ_ONLY: &str = "ghp_ReadOnlyT0kenNeverPrinted00000000000";

fn publish(emu: &Emulator, extra: &[&str], files: &[&std::path::Path]) -> Run {
    exec(gh(emu, Some(TOKEN), "publish").args(extra).args(files))
}

#[test]
fn a_file_over_the_body_ceiling_is_refused_before_any_write() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let small = wheel(&dir, "ceiling-proj", "1.0");
    let before = emu.commits().len();
    // A ceiling below this wheel's base64 body, kept in the repository: refused, named,
    // nothing written (without --store repo it would become a release asset).
    let run = publish(
        &emu,
        &["--store", "repo", "--max-blob-size", "2048"],
        &[small.path()],
    )
    .failed();
    assert!(run.stderr.contains(&small.filename), "{run}");
    assert!(run.stderr.contains("--max-blob-size"), "{run}");
    assert_eq!(emu.commits().len(), before);
    assert!(
        emu.requests().iter().all(|r| !r.is_write()),
        "a write was sent"
    );
    // Out-of-range values are refused when the command line is read.
    let run = publish(&emu, &["--max-blob-size", "nan"], &[small.path()]);
    assert_eq!(run.code, Some(2), "{run}");
    // The default ceiling takes it.
    publish(&emu, &[], &[small.path()]).ok();
    assert_valid(&emu.files());
}

#[test]
fn the_default_ceiling_refuses_a_31_mib_wheel_that_github_would_time_out() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let big = build_wheel(
        &dir,
        gt4py_testkit::dist_builder::WheelBuilder::new("big-proj", "1.0")
            .payload_size(31 * 1024 * 1024),
        "big-proj",
        "1.0",
    );
    let run = publish(&emu, &["--store", "repo"], &[big.path()]).failed();
    assert!(run.stderr.contains(&big.filename), "{run}");
    assert!(run.stderr.contains("accepts"), "{run}");
    assert!(
        emu.requests().iter().all(|r| !r.is_write()),
        "a write was sent"
    );
}

#[test]
fn a_token_that_can_read_but_not_write_is_told_what_it_lacks() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(Config {
        read_only_token: Some(READ_ONLY.into()),
        read_only_write_answer: ReadOnlyWriteAnswer::NotFound,
        ..config()
    });
    let dist = wheel(&dir, "ro-proj", "1.0");
    let run = exec(gh(&emu, Some(READ_ONLY), "publish").arg(dist.path())).failed();
    assert!(run.stderr.contains("can read"), "{run}");
    assert!(run.stderr.contains("Contents: read and write"), "{run}");
    assert!(run.stderr.contains("GITHUB_TOKEN cannot write"), "{run}");
    assert!(!run.output().contains(READ_ONLY), "the token was printed");
    assert!(emu.api_commits().is_empty());
}

#[test]
fn saml_sso_names_the_url_to_open() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(config());
    let url = "https://github.com/orgs/GridTools/sso?authorization_request=abc123";
    emu.set_sso_required(Some(url));
    let dist = wheel(&work.path().join("dist"), "sso-proj", "1.0");
    let run = publish(&emu, &[], &[dist.path()]).failed();
    assert!(run.stderr.contains(url), "{run}");
    assert!(run.stderr.contains("single sign-on"), "{run}");
    assert!(!run.output().contains(TOKEN), "the token was printed");
}

#[test]
fn a_moved_repository_says_so_instead_of_following() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(Config {
        moved_to: Some(("GridTools".into(), "pypi-new".into())),
        ..config()
    });
    let dist = wheel(&work.path().join("dist"), "moved-proj", "1.0");
    let run = publish(&emu, &[], &[dist.path()]).failed();
    assert!(run.stderr.contains("moved"), "{run}");
    assert!(run.stderr.contains("--repo"), "{run}");
    assert!(emu.api_commits().is_empty());
}

#[test]
fn the_workflow_token_gets_a_warning_about_pages_builds() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(config());
    let dist = wheel(&work.path().join("dist"), "actions-proj", "1.0");
    let run = exec(
        tool()
            .arg("publish")
            .args(target_args(&emu))
            .arg(dist.path())
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_TOKEN", TOKEN),
    )
    .ok();
    assert!(run.stderr.contains("GITHUB_TOKEN"), "{run}");
    assert!(run.stderr.contains("Pages build"), "{run}");
    assert!(!run.output().contains(TOKEN), "the token was printed");
}

/// GitHub asks for a second between mutating requests: the default keeps that pace.
#[test]
fn writes_are_a_second_apart_by_default() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(config());
    let dist = wheel(&work.path().join("dist"), "paced-proj", "1.0");
    exec(
        gh(&emu, Some(TOKEN), "publish")
            .env_remove("GT4PY_PUBLISH_MIN_WRITE_INTERVAL")
            .arg(dist.path()),
    )
    .ok();
    let writes: Vec<Instant> = emu
        .requests()
        .iter()
        .filter(|r| r.is_write())
        .map(|r| r.started)
        .collect();
    assert!(writes.len() >= 3, "{} writes", writes.len());
    for pair in writes.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(990), "writes {gap:?} apart");
    }
}

/// Reads by branch name lag up to 1.5 s behind; the answer of a write is lost after it was
/// applied. The check after the loss may see the old state and send the write again, which
/// GitHub refuses because the first copy is there: that is a success, not a failure or a
/// second commit.
#[test]
fn a_lost_answer_checked_through_a_stale_replica_is_a_success() {
    for mode in [&[][..], &["--atomic"][..]] {
        let work = TempDir::new().unwrap();
        let emu = Emulator::start(Config {
            stale_reads: Duration::from_millis(1500),
            stale_pick: StalePick::Oldest,
            ..config()
        });
        let dist = wheel(&work.path().join("dist"), "lag-proj", "1.0");
        let method = if mode.is_empty() { "PUT" } else { "PATCH" };
        let prefix = if mode.is_empty() {
            emu.contents_path("lag-proj/")
        } else {
            format!("/repos/{REPO}/git/refs/")
        };
        emu.set_faults(FaultPlan::next(method, &prefix, 1, Fault::DropAfterApply));
        let started = Instant::now();
        let run = publish(&emu, mode, &[dist.path()]).ok();
        assert!(run.says("published", &dist.filename), "{mode:?}: {run}");
        assert!(started.elapsed() < Duration::from_secs(60), "{mode:?}");
        let files = emu.files();
        assert_valid(&files);
        assert_holds(&files, &[&dist]);
        let uploads = emu
            .api_commits()
            .iter()
            .filter(|c| c.paths.iter().any(|p| p == &dist.repo_path()))
            .count();
        assert_eq!(
            uploads, 1,
            "{mode:?}: the wheel was committed {uploads} times"
        );
    }
}

/// GitHub ignores a stale `sha` on a path that no longer exists and creates the file (the
/// emulator's default). A remove of a project's last file racing a publish into the same
/// project must never leave a page that lists a deleted file.
#[test]
fn a_remove_racing_a_publish_never_leaves_a_page_listing_a_deleted_file() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    for round in 0..8 {
        let emu = Emulator::start(Config {
            write_latency: Duration::from_millis(20 + 10 * round),
            ..config()
        });
        let first = wheel(&dir.join(format!("r{round}")), "racy-proj", "1.0");
        let second = wheel(&dir.join(format!("r{round}")), "racy-proj", "2.0");
        publish(&emu, &["-q"], &[first.path()]).ok();
        let spawn = |args: &[&str]| {
            tool_std()
                .args(args)
                .args(target_args(&emu))
                .env("GT4PY_PUBLISH_TOKEN", TOKEN)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the tool starts")
        };
        let remover = spawn(&["remove", &first.filename]);
        let publisher = spawn(&["publish", second.path().to_str().unwrap()]);
        for child in [remover, publisher] {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let files = emu.files();
        assert!(
            link_problems(&files).is_empty(),
            "round {round}: {:#?}",
            link_problems(&files)
        );
        assert_valid(&files);
        assert!(!files.contains_key(&first.repo_path()), "round {round}");
        assert_holds(&files, &[&second]);
    }
}
