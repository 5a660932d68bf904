//! `GitHubTarget` against the GitHub emulator: every `Target` method, compare-and-swap
//! conflicts, retries on injected faults, lost write answers, the specific errors for bad
//! tokens and missing repositories, the headers GitHub requires, and that the token never shows.
//!
//! Plain `#[test]`s: the blocking client must not run inside a tokio runtime, and the emulator
//! runs its own on another thread.

use std::io::Read;
use std::time::Duration;

use github_emulator::{Config, Emulator, Fault, FaultPlan, FaultRule, RateLimitConfig};
use gt4py_publish::github::client::{API_VERSION, USER_AGENT};
use gt4py_publish::github::{GitHubConfig, GitHubError, GitHubTarget, RetryPolicy, Secret};
use gt4py_publish::hashing::git_blob_sha;
use gt4py_publish::report::RecordingReporter;
use gt4py_publish::target::{Expected, ReadId, Target, TargetError, Upload, Version};

/// Waits short enough that the suite stays fast, long enough to be real waits.
fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_total_wait: Duration::from_secs(10),
        secondary_min_wait: Duration::from_millis(10),
        min_write_interval: Duration::ZERO,
        ..RetryPolicy::default()
    }
}

fn config_for(emu: &Emulator, token: Option<&str>) -> GitHubConfig {
    GitHubConfig {
        api_url: emu.api_url(),
        repo: format!("{}/{}", emu.owner(), emu.repo()),
        branch: emu.branch().to_string(),
        token: token.map(Secret::new),
        atomic: false,
        max_blob_size: gt4py_publish::github::contents::DEFAULT_MAX_BLOB_SIZE,
    }
}

fn connect<'r>(emu: &Emulator, reporter: &'r RecordingReporter) -> GitHubTarget<'r> {
    GitHubTarget::new(config_for(emu, Some(&emu.token())), reporter)
        .unwrap()
        .with_retry_policy(fast_policy())
}

/// The GitHub error inside a target error.
fn github_error(error: &TargetError) -> &GitHubError {
    match error {
        TargetError::Remote(inner) => inner
            .downcast_ref::<GitHubError>()
            .unwrap_or_else(|| panic!("not a GitHubError: {error}")),
        other => panic!("not a remote error: {other}"),
    }
}

fn requests_to(emu: &Emulator, method: &str, path: &str) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

#[test]
fn every_method_round_trips() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    // The emulator is not api.github.com, so its host is named too.
    assert!(target.location().ends_with("/GridTools/pypi@main"));
    assert!(target.lock().is_ok());
    let limits = target.size_limits().unwrap();
    // The largest file whose base64 body fits GitHub's ~40 MB ceiling.
    assert_eq!(
        limits.max,
        gt4py_publish::github::contents::largest_file_for_body(
            gt4py_publish::github::contents::DEFAULT_MAX_BLOB_SIZE
        )
    );
    assert!(limits.warn < limits.max);

    assert_eq!(target.list_dir("").unwrap(), Some(vec![]));
    assert_eq!(target.list_dir("dace").unwrap(), None);
    assert_eq!(target.read_file("dace/index.html").unwrap(), None);
    assert_eq!(target.file_sha("dace/index.html").unwrap(), None);
    assert!(target.open_file("dace/index.html").unwrap().is_none());

    // `!` (epochs) and `+` (local versions) must reach GitHub as themselves.
    let wheel = "dace/dace-1!2.0+local-py3-none-any.whl";
    let page = b"<html>dace</html>\n";
    let sha = target
        .put_file(
            "dace/index.html",
            Upload::Bytes(page),
            &Expected::Absent,
            "add dace",
        )
        .unwrap();
    assert_eq!(sha, git_blob_sha(page));
    assert_eq!(emu.file("dace/index.html").unwrap(), page);

    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("w.whl");
    let data: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&source, &data).unwrap();
    let data_sha = git_blob_sha(&data);
    let stored = target
        .put_file(
            wheel,
            Upload::File {
                path: &source,
                len: data.len() as u64,
                sha: &data_sha,
            },
            &Expected::Absent,
            "add wheel",
        )
        .unwrap();
    assert_eq!(stored, data_sha);
    assert_eq!(emu.file(wheel).unwrap(), data);

    let read = target.read_file("dace/index.html").unwrap().unwrap();
    assert_eq!(read.bytes, page);
    assert_eq!(read.version, Version::Sha(sha.clone()));
    // A local directory's read is no state of a branch: refused as a bug, not re-planned.
    let err = target
        .put_file(
            "dace/index.html",
            Upload::Bytes(b"other"),
            &Expected::Read(ReadId(0)),
            "m",
        )
        .unwrap_err();
    assert!(!matches!(err, TargetError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("report this bug"), "{err}");
    assert_eq!(emu.file("dace/index.html").unwrap(), page);
    assert_eq!(target.file_sha(wheel).unwrap(), Some(data_sha.clone()));
    let mut streamed = Vec::new();
    target
        .open_file(wheel)
        .unwrap()
        .unwrap()
        .read_to_end(&mut streamed)
        .unwrap();
    assert_eq!(streamed, data);

    let root = target.list_dir("").unwrap().unwrap();
    assert_eq!(root.len(), 1);
    assert_eq!(root[0].name, "dace");
    assert!(root[0].is_dir);
    let listing = target.list_dir("dace").unwrap().unwrap();
    let names: Vec<_> = listing.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["dace-1!2.0+local-py3-none-any.whl", "index.html"]);
    assert_eq!(listing[0].sha.as_deref(), Some(data_sha.as_str()));
    assert_eq!(listing[0].size, data.len() as u64);
    assert!(!listing[0].is_dir);

    let new_page = b"<html>dace 2</html>\n";
    let new_sha = target
        .put_file(
            "dace/index.html",
            Upload::Bytes(new_page),
            &Expected::Sha(sha.clone()),
            "update dace",
        )
        .unwrap();
    assert_eq!(new_sha, git_blob_sha(new_page));
    assert_eq!(emu.file("dace/index.html").unwrap(), new_page);

    target
        .delete_file(wheel, &data_sha, "remove wheel")
        .unwrap();
    assert_eq!(target.file_sha(wheel).unwrap(), None);
    assert_eq!(emu.api_commits().len(), 4);
    let messages: Vec<_> = emu.api_commits().into_iter().map(|c| c.message).collect();
    assert_eq!(
        messages,
        ["add dace", "add wheel", "update dace", "remove wheel"]
    );
}

#[test]
fn a_page_over_one_megabyte_is_read_in_one_raw_request() {
    let emu = Emulator::new();
    let big: Vec<u8> = (0..1_500_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    emu.seed("dace/index.html", &big);
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    emu.reset_requests();
    let read = target.read_file("dace/index.html").unwrap().unwrap();
    assert_eq!(read.bytes, big);
    assert_eq!(read.version, Version::Sha(git_blob_sha(&big)));
    let requests = emu.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].accept.as_deref(),
        Some("application/vnd.github.raw+json")
    );
    // The object media type gives the sha of a large file without its content.
    assert_eq!(
        target.file_sha("dace/index.html").unwrap(),
        Some(git_blob_sha(&big))
    );
}

#[test]
fn a_folder_of_1500_files_lists_completely() {
    let emu = Emulator::new();
    let files: Vec<(String, Vec<u8>)> = (0..1500)
        .map(|i| (format!("big/f{i:04}.whl"), format!("file {i}").into_bytes()))
        .collect();
    emu.seed_many(files.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let listing = target.list_dir("big").unwrap().unwrap();
    assert_eq!(listing.len(), 1500);
    for (entry, (path, bytes)) in listing.iter().zip(&files) {
        assert_eq!(format!("big/{}", entry.name), *path);
        assert_eq!(entry.sha.as_deref(), Some(git_blob_sha(bytes).as_str()));
        assert_eq!(entry.size, bytes.len() as u64);
    }
}

#[test]
fn stale_writes_are_conflicts() {
    let emu = Emulator::new();
    emu.seed("dace/index.html", b"v1");
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);

    // Create when it exists: 422 "sha" wasn't supplied.
    let err = target
        .put_file(
            "dace/index.html",
            Upload::Bytes(b"v2"),
            &Expected::Absent,
            "m",
        )
        .unwrap_err();
    assert!(
        matches!(&err, TargetError::Conflict { path, detail } if path == "dace/index.html" && detail.contains("sha")),
        "{err}"
    );

    // Stale sha: 409.
    let err = target
        .put_file(
            "dace/index.html",
            Upload::Bytes(b"v2"),
            &Expected::Sha(git_blob_sha(b"v0")),
            "m",
        )
        .unwrap_err();
    assert!(
        matches!(&err, TargetError::Conflict { detail, .. } if detail.contains("does not match")),
        "{err}"
    );

    // Delete with a stale sha, and of a file that is gone.
    assert!(matches!(
        target.delete_file("dace/index.html", &git_blob_sha(b"v0"), "m"),
        Err(TargetError::Conflict { .. })
    ));
    assert!(matches!(
        target.delete_file("dace/gone.whl", &git_blob_sha(b"v0"), "m"),
        Err(TargetError::Conflict { .. })
    ));
    assert_eq!(emu.file("dace/index.html").unwrap(), b"v1");
    assert!(emu.api_commits().is_empty());
    // No retries on conflicts.
    assert_eq!(
        requests_to(
            &emu,
            "PUT",
            "/repos/GridTools/pypi/contents/dace/index.html"
        ),
        2
    );
}

#[test]
fn server_errors_and_secondary_limits_are_retried() {
    let faults = [
        Fault::status(500),
        Fault::ServerError {
            status: 502,
            html: true,
        },
        Fault::status(503),
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
        Fault::SecondaryRateLimit {
            retry_after_secs: Some(0),
        },
        Fault::SecondaryRateLimit {
            retry_after_secs: None,
        },
    ];
    for fault in faults {
        let emu = Emulator::new();
        let reporter = RecordingReporter::default();
        let target = connect(&emu, &reporter);
        let path = emu.contents_path("a/index.html");
        // Two failures each for the write and for a read.
        emu.set_faults(
            FaultPlan::next("PUT", &path, 2, fault.clone()).with_rule(FaultRule::new(
                "GET",
                &path,
                2,
                fault.clone(),
            )),
        );
        let sha = target
            .put_file("a/index.html", Upload::Bytes(b"x"), &Expected::Absent, "m")
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(sha, git_blob_sha(b"x"));
        assert_eq!(emu.api_commits().len(), 1, "{fault:?}");
        let read = target.read_file("a/index.html").unwrap().unwrap();
        assert_eq!(read.bytes, b"x");
        let waits = reporter
            .events()
            .iter()
            .filter(|e| e.starts_with("waiting: "))
            .count();
        assert_eq!(waits, 4, "{fault:?}: {:?}", reporter.events());
    }
}

#[test]
fn a_write_whose_answer_was_lost_is_not_repeated() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let path = emu.contents_path("a/index.html");
    emu.set_faults(FaultPlan::next("PUT", &path, 1, Fault::DropAfterApply));
    let sha = target
        .put_file("a/index.html", Upload::Bytes(b"x"), &Expected::Absent, "m")
        .unwrap();
    assert_eq!(sha, git_blob_sha(b"x"));
    assert_eq!(emu.api_commits().len(), 1);
    assert_eq!(requests_to(&emu, "PUT", &path), 1);

    // Same for an update, and for a delete.
    emu.set_faults(FaultPlan::next("PUT", &path, 1, Fault::DropAfterApply));
    target
        .put_file(
            "a/index.html",
            Upload::Bytes(b"y"),
            &Expected::Sha(sha),
            "m",
        )
        .unwrap();
    emu.set_faults(FaultPlan::next("DELETE", &path, 1, Fault::DropAfterApply));
    target
        .delete_file("a/index.html", &git_blob_sha(b"y"), "m")
        .unwrap();
    assert_eq!(emu.api_commits().len(), 3);
    assert_eq!(emu.file("a/index.html"), None);
}

#[test]
fn a_write_dropped_before_it_was_applied_is_sent_again() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let path = emu.contents_path("a/x.whl");
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("x.whl");
    let data = vec![7u8; 100_000];
    std::fs::write(&source, &data).unwrap();
    let sha = git_blob_sha(&data);
    emu.set_faults(FaultPlan::next("PUT", &path, 2, Fault::DropBeforeApply));
    let stored = target
        .put_file(
            "a/x.whl",
            Upload::File {
                path: &source,
                len: data.len() as u64,
                sha: &sha,
            },
            &Expected::Absent,
            "m",
        )
        .unwrap();
    assert_eq!(stored, sha);
    assert_eq!(requests_to(&emu, "PUT", &path), 3);
    assert_eq!(emu.api_commits().len(), 1);
    assert_eq!(emu.file("a/x.whl").unwrap(), data);
}

#[test]
fn a_lost_write_overtaken_by_another_writer_is_a_conflict() {
    let emu = Emulator::new();
    emu.seed("a/index.html", b"v1");
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let path = emu.contents_path("a/index.html");
    // The answer is lost and nothing was applied; meanwhile someone else writes. The check
    // before the retry must see the foreign content and give up, not overwrite it.
    emu.set_faults(FaultPlan::next("PUT", &path, 1, Fault::DropBeforeApply));
    let emu_ref = &emu;
    let err = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            target.put_file(
                "a/index.html",
                Upload::Bytes(b"ours"),
                &Expected::Sha(git_blob_sha(b"v1")),
                "m",
            )
        });
        // Wait for the dropped PUT, then write as "another run".
        while requests_to(emu_ref, "PUT", &path) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        emu_ref.seed("a/index.html", b"theirs");
        writer.join().unwrap()
    });
    // Whether the check or GitHub's 409 catches it depends on timing; either is a conflict.
    assert!(matches!(err, Err(TargetError::Conflict { .. })), "{err:?}");
    assert_eq!(emu.file("a/index.html").unwrap(), b"theirs");
}

#[test]
fn bad_credentials_fail_at_once_with_a_specific_message() {
    let emu = Emulator::new();
    let secret = "ghp_wrongtoken_ABCDEFGHIJ";
    let reporter = RecordingReporter::default();
    let target = GitHubTarget::new(config_for(&emu, Some(secret)), &reporter)
        .unwrap()
        .with_retry_policy(fast_policy());
    let err = target.read_file("a/index.html").unwrap_err();
    assert!(matches!(
        github_error(&err),
        GitHubError::BadCredentials { .. }
    ));
    let text = err.to_string();
    assert!(text.contains("401 Bad credentials"), "{text}");
    assert!(text.contains("GH_TOKEN"), "{text}");
    assert!(text.contains("request id"), "{text}");
    assert_eq!(emu.requests().len(), 1);
    assert!(!text.contains(secret) && !format!("{err:?}").contains(secret));
}

#[test]
fn a_read_only_token_gets_a_permission_message_without_retries() {
    let emu = Emulator::new();
    emu.set_read_only_token(Some("ghp_readonly_0123456789"));
    let reporter = RecordingReporter::default();
    let target = GitHubTarget::new(config_for(&emu, Some("ghp_readonly_0123456789")), &reporter)
        .unwrap()
        .with_retry_policy(fast_policy());
    // Reads work.
    assert_eq!(target.read_file("a/index.html").unwrap(), None);
    let err = target
        .put_file("a/index.html", Upload::Bytes(b"x"), &Expected::Absent, "m")
        .unwrap_err();
    assert!(matches!(
        github_error(&err),
        GitHubError::NoWritePermission { .. }
    ));
    assert!(
        err.to_string()
            .contains("the token lacks Contents: write permission on GridTools/pypi"),
        "{err}"
    );
    assert_eq!(
        requests_to(&emu, "PUT", &emu.contents_path("a/index.html")),
        1
    );
}

#[test]
fn an_unknown_repository_or_branch_is_named() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    for (repo, branch) in [("GridTools/nope", "main"), ("GridTools/pypi", "nope")] {
        let mut config = config_for(&emu, Some(&emu.token()));
        config.repo = repo.into();
        config.branch = branch.into();
        let target = GitHubTarget::new(config, &reporter)
            .unwrap()
            .with_retry_policy(fast_policy());
        emu.reset_requests();
        for err in [
            target.list_dir("").unwrap_err(),
            target.list_dir("dace").unwrap_err(),
            target.read_file("dace/index.html").unwrap_err(),
            target.file_sha("dace/index.html").unwrap_err(),
        ] {
            assert!(
                matches!(github_error(&err), GitHubError::RepoNotFound { .. }),
                "{err}"
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "repository {repo} or branch {branch} not found, or not visible to the token"
                )
            );
        }
        // One request per call, plus one branch check per 404 on a path: no retries.
        assert_eq!(emu.requests().len(), 7, "{:?}", emu.requests());
        let err = target
            .put_file(
                "dace/index.html",
                Upload::Bytes(b"x"),
                &Expected::Absent,
                "m",
            )
            .unwrap_err();
        assert!(
            matches!(github_error(&err), GitHubError::RepoNotFound { .. }),
            "{err}"
        );
    }
}

#[test]
fn writes_without_a_token_fail_before_any_request() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = GitHubTarget::new(config_for(&emu, None), &reporter).unwrap();
    let err = target
        .put_file("a/index.html", Upload::Bytes(b"x"), &Expected::Absent, "m")
        .unwrap_err();
    assert!(matches!(github_error(&err), GitHubError::NoToken { .. }));
    assert!(err.to_string().contains("GT4PY_PUBLISH_TOKEN"), "{err}");
    let err = target
        .delete_file("a/index.html", &git_blob_sha(b"x"), "m")
        .unwrap_err();
    assert!(matches!(github_error(&err), GitHubError::NoToken { .. }));
    assert!(emu.requests().is_empty());
    // Reads of a public repository work without one.
    assert_eq!(target.read_file("a/index.html").unwrap(), None);
}

#[test]
fn required_headers_are_sent() {
    let emu = Emulator::new();
    emu.seed("a/index.html", b"x");
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    target.list_dir("a").unwrap();
    target.read_file("a/index.html").unwrap();
    target.file_sha("a/index.html").unwrap();
    target
        .put_file(
            "a/index.html",
            Upload::Bytes(b"y"),
            &Expected::Sha(git_blob_sha(b"x")),
            "m",
        )
        .unwrap();
    let requests = emu.requests();
    assert_eq!(requests.len(), 4);
    for r in &requests {
        assert_eq!(r.user_agent.as_deref(), Some(USER_AGENT));
        assert!(
            r.user_agent
                .as_deref()
                .unwrap()
                .starts_with("gt4py-publish/")
        );
        assert_eq!(r.api_version.as_deref(), Some(API_VERSION));
        assert!(r.has_auth);
    }
    let accepts: Vec<_> = requests.iter().map(|r| r.accept.clone().unwrap()).collect();
    assert_eq!(
        accepts,
        [
            "application/vnd.github+json",
            "application/vnd.github.raw+json",
            "application/vnd.github.object+json",
            "application/vnd.github+json",
        ]
    );
    // --verbose request lines.
    let events = reporter.events();
    assert!(
        events
            .iter()
            .any(|e| e
                .starts_with("detail: PUT /repos/GridTools/pypi/contents/a/index.html -> 200 (")),
        "{events:?}"
    );
}

#[test]
fn the_token_never_shows_in_errors_or_events() {
    let secret = "ghp_topsecret_never_print_me";
    let emu = Emulator::start(Config {
        token: secret.into(),
        ..Config::default()
    });
    let reporter = RecordingReporter::default();
    let target = GitHubTarget::new(config_for(&emu, Some(secret)), &reporter)
        .unwrap()
        .with_retry_policy(fast_policy());
    let mut errors: Vec<TargetError> = Vec::new();

    // Retries, a lost answer, conflicts.
    let path = emu.contents_path("a/index.html");
    emu.set_faults(
        FaultPlan::next("PUT", &path, 1, Fault::status(502)).with_rule(FaultRule::new(
            "PUT",
            &path,
            1,
            Fault::DropAfterApply,
        )),
    );
    target
        .put_file("a/index.html", Upload::Bytes(b"x"), &Expected::Absent, "m")
        .unwrap();
    errors.push(
        target
            .put_file("a/index.html", Upload::Bytes(b"y"), &Expected::Absent, "m")
            .unwrap_err(),
    );
    // A 422 that is not a conflict (a path below a file).
    errors.push(
        target
            .put_file(
                "a/index.html/x",
                Upload::Bytes(b"y"),
                &Expected::Absent,
                "m",
            )
            .unwrap_err(),
    );
    // Retries that run out.
    emu.set_faults(FaultPlan::next("GET", &path, 10, Fault::status(500)));
    errors.push(target.read_file("a/index.html").unwrap_err());
    // A bad token.
    emu.set_token("ghp_rotated");
    errors.push(target.read_file("a/index.html").unwrap_err());
    // Nobody listening.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let gone = GitHubTarget::new(
        GitHubConfig {
            api_url: format!("http://127.0.0.1:{port}"),
            ..config_for(&emu, Some(secret))
        },
        &reporter,
    )
    .unwrap()
    .with_retry_policy(fast_policy());
    errors.push(gone.read_file("a/index.html").unwrap_err());

    assert_eq!(errors.len(), 5);
    for err in &errors {
        let mut text = format!("{err}\n{err:?}");
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            text.push_str(&format!("\n{cause}\n{cause:?}"));
            source = cause.source();
        }
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains("topsecret"), "{text}");
    }
    let events = reporter.events();
    assert!(events.iter().any(|e| e.starts_with("waiting: ")));
    assert!(events.iter().any(|e| e.starts_with("detail: GET ")));
    assert!(
        events.iter().all(|e| !e.contains("topsecret")),
        "{events:?}"
    );
    // The messages name the request and GitHub's own message.
    assert!(
        errors[2]
            .to_string()
            .contains("GET /repos/GridTools/pypi/contents/a/index.html")
    );
    assert!(errors[2].to_string().contains("500"));
    assert!(matches!(errors[0], TargetError::Conflict { .. }));
    assert!(matches!(
        github_error(&errors[1]),
        GitHubError::Api { status, .. } if status.as_u16() == 422
    ));
    assert!(matches!(
        github_error(&errors[4]),
        GitHubError::Transport { .. }
    ));
}

#[test]
fn the_primary_rate_limit_is_waited_out_when_it_resets_soon() {
    let emu = Emulator::new();
    emu.set_rate_limit(RateLimitConfig {
        limit: 2,
        window: Duration::from_millis(1500),
    });
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    for _ in 0..3 {
        assert_eq!(target.read_file("a/index.html").unwrap(), None);
    }
    assert!(
        reporter
            .events()
            .iter()
            .any(|e| e.starts_with("waiting: GitHub's API rate limit")),
        "{:?}",
        reporter.events()
    );

    // A reset further away than the run waits is an error that says so, at once.
    let emu = Emulator::new();
    // Two: a 404 on a path costs one more request, the check that the branch exists.
    emu.set_rate_limit(RateLimitConfig {
        limit: 2,
        window: Duration::from_secs(3600),
    });
    let target = connect(&emu, &reporter);
    target.read_file("a/index.html").unwrap();
    let err = target.read_file("b/index.html").unwrap_err();
    assert!(
        matches!(github_error(&err), GitHubError::RateLimited { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("rate limit"), "{err}");
}

#[test]
fn enterprise_api_prefixes_work() {
    let emu = Emulator::start(Config {
        api_prefix: "/api/v3".into(),
        ..Config::default()
    });
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    assert!(target.location().starts_with("127.0.0.1:"));
    assert!(target.location().ends_with("/GridTools/pypi@main"));
    target
        .put_file("a/index.html", Upload::Bytes(b"x"), &Expected::Absent, "m")
        .unwrap();
    assert_eq!(target.list_dir("a").unwrap().unwrap().len(), 1);
}

#[test]
fn a_source_that_changed_since_validation_is_refused() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("x.whl");
    std::fs::write(&source, b"0123456789").unwrap();
    // Length differs: refused before any request.
    let err = target
        .put_file(
            "a/x.whl",
            Upload::File {
                path: &source,
                len: 11,
                sha: &git_blob_sha(b"0123456789"),
            },
            &Expected::Absent,
            "m",
        )
        .unwrap_err();
    assert!(
        matches!(github_error(&err), GitHubError::Source { .. }),
        "{err}"
    );
    assert!(emu.requests().is_empty());
    // Same length, other bytes: GitHub's blob sha gives it away.
    let err = target
        .put_file(
            "a/x.whl",
            Upload::File {
                path: &source,
                len: 10,
                sha: &git_blob_sha(b"9876543210"),
            },
            &Expected::Absent,
            "m",
        )
        .unwrap_err();
    assert!(
        matches!(github_error(&err), GitHubError::ShaMismatch { .. }),
        "{err}"
    );
}

#[test]
fn unsafe_paths_are_refused_before_any_request() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    for bad in ["../x", "/etc/passwd", "a//b", "a/./b"] {
        assert!(matches!(
            target.read_file(bad),
            Err(TargetError::UnsafePath { .. })
        ));
        assert!(matches!(
            target.put_file(bad, Upload::Bytes(b"x"), &Expected::Absent, "m"),
            Err(TargetError::UnsafePath { .. })
        ));
    }
    assert!(emu.requests().is_empty());
}

/// Counts the bytes reported through `transfer`.
#[derive(Default)]
struct CountingReporter {
    transfers: std::sync::Mutex<Vec<(String, u64)>>,
    advanced: std::sync::atomic::AtomicU64,
}

struct Counting<'a>(&'a std::sync::atomic::AtomicU64);

impl gt4py_publish::report::Transfer for Counting<'_> {
    fn advance(&self, bytes: u64) {
        self.0
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }
}

impl gt4py_publish::report::Reporter for CountingReporter {
    fn event(&self, _: gt4py_publish::report::Event<'_>) {}

    fn transfer(&self, label: &str, total: u64) -> Box<dyn gt4py_publish::report::Transfer + '_> {
        self.transfers
            .lock()
            .unwrap()
            .push((label.to_string(), total));
        Box::new(Counting(&self.advanced))
    }
}

#[test]
fn uploads_report_their_progress() {
    let emu = Emulator::new();
    let reporter = CountingReporter::default();
    let target = GitHubTarget::new(config_for(&emu, Some(&emu.token())), &reporter)
        .unwrap()
        .with_retry_policy(fast_policy());
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("x.whl");
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&source, &data).unwrap();
    let sha = git_blob_sha(&data);
    target
        .put_file(
            "a/x.whl",
            Upload::File {
                path: &source,
                len: data.len() as u64,
                sha: &sha,
            },
            &Expected::Absent,
            "m",
        )
        .unwrap();
    let transfers = reporter.transfers.lock().unwrap().clone();
    assert_eq!(transfers.len(), 1);
    let (label, total) = &transfers[0];
    assert!(label.contains("a/x.whl"), "{label}");
    // The whole JSON body, base64 and all, was counted.
    assert!(*total > data.len() as u64 * 4 / 3);
    assert_eq!(
        reporter.advanced.load(std::sync::atomic::Ordering::Relaxed),
        *total
    );
    assert_eq!(emu.requests().last().unwrap().request_bytes, *total);
}

#[test]
fn a_lost_answer_on_the_last_attempt_still_finds_the_write() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = GitHubTarget::new(config_for(&emu, Some(&emu.token())), &reporter)
        .unwrap()
        .with_retry_policy(RetryPolicy {
            max_attempts: 1,
            ..fast_policy()
        });
    let path = emu.contents_path("a/index.html");
    emu.set_faults(FaultPlan::next("PUT", &path, 1, Fault::DropAfterApply));
    target
        .put_file("a/index.html", Upload::Bytes(b"x"), &Expected::Absent, "m")
        .unwrap();
    // Not applied and no attempts left: the error is the lost connection.
    emu.set_faults(FaultPlan::next("PUT", &path, 1, Fault::DropBeforeApply));
    let err = target
        .put_file(
            "a/index.html",
            Upload::Bytes(b"y"),
            &Expected::Sha(git_blob_sha(b"x")),
            "m",
        )
        .unwrap_err();
    assert!(
        matches!(github_error(&err), GitHubError::Transport { .. }),
        "{err}"
    );
    assert_eq!(emu.api_commits().len(), 1);
}

/// The site's size comes from the snapshot's one recursive listing, which folder listings share;
/// a truncated listing is refused at once, not asked for again.
#[test]
fn the_site_size_reads_the_tree_once() {
    let emu = Emulator::new();
    emu.seed_many([("a/one", &b"x"[..]), ("a/two", &b"yy"[..])]);
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    target.snapshot().unwrap();
    emu.reset_requests();
    let files = emu.files();
    let expected: u64 = files.values().map(|bytes| bytes.len() as u64).sum();
    assert_eq!(target.site_size().unwrap(), Some(expected));
    assert!(target.list_dir("a").unwrap().is_some());
    let recursive = |emu: &Emulator| {
        emu.requests()
            .iter()
            .filter(|r| r.query.as_deref().is_some_and(|q| q.contains("recursive")))
            .count()
    };
    assert_eq!(recursive(&emu), 1, "{:#?}", emu.requests());
    assert_eq!(emu.requests().len(), 1, "{:#?}", emu.requests());

    let emu = Emulator::start(Config {
        max_tree_entries: 2,
        ..Config::default()
    });
    emu.seed_many([("a/one", &b"x"[..]), ("b/two", &b"yy"[..])]);
    let target = connect(&emu, &reporter);
    target.snapshot().unwrap();
    emu.reset_requests();
    let err = target.site_size().unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    assert_eq!(recursive(&emu), 1, "{:#?}", emu.requests());
}
