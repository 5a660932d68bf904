//! Release assets through `GitHubTarget` against the GitHub emulator: releases found or created
//! (also when another run creates it meanwhile), uploads listed across pages, idempotent
//! re-uploads, conflicts, lost answers and server errors settled by listing, renamed assets
//! deleted again, deletes, a 60 MB file arriving intact, and the token kept from foreign hosts.
//!
//! Plain `#[test]`s: the blocking client must not run inside a tokio runtime.

use std::time::Duration;

use github_emulator::{Emulator, Fault, FaultPlan};
use gt4py_publish::github::releases::Release;
use gt4py_publish::github::{GitHubConfig, GitHubError, GitHubTarget, RetryPolicy, Secret};
use gt4py_publish::hashing::sha256_hex;
use gt4py_publish::report::RecordingReporter;
use gt4py_publish::target::{AssetBytes, AssetStore, AssetUpload};

const TAG: &str = "large-files";
const WHEEL: &str = "big-1.0-py3-none-any.whl";
const ZIP: &str = "application/zip";

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

fn connect_with<'r>(
    emu: &Emulator,
    token: Option<String>,
    reporter: &'r RecordingReporter,
) -> GitHubTarget<'r> {
    let config = GitHubConfig {
        api_url: emu.api_url(),
        repo: format!("{}/{}", emu.owner(), emu.repo()),
        branch: emu.branch().to_string(),
        token: token.as_deref().map(Secret::new),
        atomic: false,
        max_blob_size: gt4py_publish::github::contents::DEFAULT_MAX_BLOB_SIZE,
    };
    GitHubTarget::new(config, reporter)
        .unwrap()
        .with_retry_policy(fast_policy())
}

fn connect<'r>(emu: &Emulator, reporter: &'r RecordingReporter) -> GitHubTarget<'r> {
    connect_with(emu, Some(emu.token()), reporter)
}

/// The path prefix of upload requests, for fault rules and request counts.
fn uploads_path(emu: &Emulator) -> String {
    let url = format!("{}/repos/GridTools/pypi/releases/", emu.uploads_url());
    url.trim_start_matches(&emu.api_url()).to_string()
}

fn upload_posts(emu: &Emulator) -> usize {
    let prefix = uploads_path(emu);
    emu.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with(&prefix))
        .count()
}

/// Listings of a release's assets (each page one request).
fn listings(emu: &Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/assets"))
        .count()
}

fn release(target: &GitHubTarget<'_>) -> Release {
    target.asset_release(TAG, true).unwrap().unwrap()
}

fn data(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            // xorshift: incompressible enough that nothing in the path could shortcut it.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn the_release_is_created_only_when_asked() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);

    assert_eq!(target.asset_release(TAG, false).unwrap(), None);
    assert!(emu.releases().is_empty());

    let made = release(&target);
    assert_eq!(made.tag, TAG);
    assert_eq!(
        made.upload_url,
        format!(
            "{}/repos/GridTools/pypi/releases/{}/assets",
            emu.uploads_url(),
            made.id
        )
    );
    let stored = emu.release(TAG).unwrap();
    assert_eq!(stored.id, made.id);
    assert_eq!(stored.name.as_deref(), Some(TAG));
    assert!(stored.body.unwrap_or_default().contains("gt4py-publish"));

    // Found again, not created twice.
    assert_eq!(target.asset_release(TAG, true).unwrap(), Some(made.clone()));
    assert_eq!(target.asset_release(TAG, false).unwrap(), Some(made));
    let posts = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == emu.api_path("releases"))
        .count();
    assert_eq!(posts, 1);
    assert_eq!(emu.releases().len(), 1);
}

#[test]
fn a_missing_repository_is_not_a_missing_release() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let config = GitHubConfig {
        api_url: emu.api_url(),
        repo: "GridTools/nope".into(),
        branch: emu.branch().to_string(),
        token: Some(Secret::new(emu.token())),
        atomic: false,
        max_blob_size: gt4py_publish::github::contents::DEFAULT_MAX_BLOB_SIZE,
    };
    let target = GitHubTarget::new(config, &reporter)
        .unwrap()
        .with_retry_policy(fast_policy());
    let err = target.asset_release(TAG, false).unwrap_err();
    assert!(matches!(err, GitHubError::RepoNotFound { .. }), "{err}");
}

#[test]
fn a_release_created_meanwhile_by_another_run_is_read_again() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    // Our POST waits; meanwhile "another run" creates the release: our POST gets 422
    // already_exists.
    emu.set_faults(FaultPlan::next(
        "POST",
        &emu.api_path("releases"),
        1,
        Fault::Latency(Duration::from_millis(600)),
    ));
    let other = std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(150));
            emu.seed_release(TAG)
        });
        let ours = release(&target);
        let other = other.join().unwrap();
        assert_eq!(ours.id, other);
        other
    });
    let statuses: Vec<Option<u16>> = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(422)], "the race was not exercised");
    assert_eq!(emu.releases().len(), 1);
    assert_eq!(emu.releases()[0].id, other);
}

#[test]
fn uploads_are_listed_across_pages() {
    let emu = Emulator::new();
    for i in 0..150 {
        emu.seed_asset(TAG, &format!("seeded-{i:03}.whl"), ZIP, &[i as u8]);
    }
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    let bytes = data(5000, 1);
    let asset = target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::Bytes(bytes.clone()),
            &sha256_hex(&bytes),
            ZIP,
        )
        .unwrap();
    assert_eq!(asset.name, WHEEL);
    assert_eq!(asset.size, 5000);
    assert_eq!(asset.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert!(
        asset
            .url
            .ends_with(&format!("/releases/download/{TAG}/{WHEEL}"))
    );

    // Raw bytes with the given content type, not base64.
    let stored = emu.assets(TAG);
    let ours = stored.iter().find(|a| a.name == WHEEL).unwrap();
    assert_eq!(ours.bytes, bytes);
    assert_eq!(ours.content_type, ZIP);
    let post = emu
        .requests()
        .into_iter()
        .rfind(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.request_bytes, 5000);
    assert!(post.has_auth);

    emu.reset_requests();
    let listed = target.list_assets(&rel).unwrap();
    assert_eq!(listed.len(), 151);
    let mut names: Vec<&str> = listed.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 151);
    assert_eq!(listed.iter().find(|a| a.name == WHEEL), Some(&asset));
    let digest = |i: u8| sha256_hex(&[i]);
    let seeded = listed.iter().find(|a| a.name == "seeded-007.whl").unwrap();
    assert_eq!(seeded.sha256.as_deref(), Some(digest(7).as_str()));
    // Two pages of 100: the second through the `Link` header's id-based URL.
    let pages: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages[0].query.as_deref().unwrap().contains("per_page=100"));
    assert!(pages[1].path.starts_with("/repositories/1/"));
    assert!(pages[1].query.as_deref().unwrap().contains("page=2"));
}

/// Through the asset store a run lists the release once: uploads check that listing (kept
/// current with the run's own uploads) instead of listing again per file, and deletes go by the
/// listed id.
#[test]
fn a_run_lists_the_release_once() {
    let emu = Emulator::new();
    emu.seed_asset(TAG, "seeded-1.0-py3-none-any.whl", ZIP, b"seeded");
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter).with_asset_release(TAG);
    let store: &dyn AssetStore = &target;
    let listed = store.list_assets().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, Some(emu.assets(TAG)[0].id));
    let uploads: Vec<AssetUpload> = (0..4)
        .map(|i| {
            let bytes = data(3000, 10 + i);
            AssetUpload {
                name: format!("big-1.{i}-py3-none-any.whl"),
                sha256: sha256_hex(&bytes),
                source: AssetBytes::Bytes(bytes),
                content_type: ZIP,
            }
        })
        .collect();
    let stored: Vec<_> = uploads
        .iter()
        .map(|upload| store.put_asset(upload, &reporter).unwrap())
        .collect();
    // Again: the run's listing holds them now, so nothing is sent.
    for upload in &uploads {
        store.put_asset(upload, &reporter).unwrap();
    }
    assert_eq!(upload_posts(&emu), uploads.len());
    for asset in stored.iter().chain(&listed) {
        assert!(asset.id.is_some(), "{asset:?}");
        store.delete_asset(asset).unwrap();
    }
    assert!(emu.assets(TAG).is_empty());
    assert_eq!(listings(&emu), 1, "{:#?}", emu.requests());
}

#[test]
fn a_re_upload_of_the_same_file_sends_nothing() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    let bytes = data(1000, 2);
    let sha = sha256_hex(&bytes);
    let first = target
        .upload_asset(&rel, WHEEL, &AssetBytes::Bytes(bytes.clone()), &sha, ZIP)
        .unwrap();
    // Upper-case hex from the caller is the same digest.
    let again = target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::Bytes(bytes.clone()),
            &sha.to_ascii_uppercase(),
            ZIP,
        )
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(upload_posts(&emu), 1);
    assert_eq!(emu.assets(TAG).len(), 1);
}

#[test]
fn other_content_under_the_name_is_a_conflict() {
    let emu = Emulator::new();
    emu.seed_asset(TAG, WHEEL, ZIP, b"the published bytes");
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    let bytes = data(1000, 3);
    let err = target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::Bytes(bytes.clone()),
            &sha256_hex(&bytes),
            ZIP,
        )
        .unwrap_err();
    let GitHubError::AssetConflict { name, tag, found } = &err else {
        panic!("{err}");
    };
    assert_eq!((name.as_str(), tag.as_str()), (WHEEL, TAG));
    assert_eq!(found, &sha256_hex(b"the published bytes"));
    let message = err.to_string();
    assert!(message.contains("bump the version"), "{message}");
    assert!(message.contains(&format!("release {TAG}")), "{message}");
    assert_eq!(upload_posts(&emu), 0);
    assert_eq!(emu.assets(TAG)[0].bytes, &b"the published bytes"[..]);
}

/// Our upload waits; meanwhile another run uploads `theirs` under the same name, so ours gets
/// 422 already_exists and is settled by listing.
fn race_an_upload(theirs: &'static [u8], ours: &[u8]) -> (Emulator, Result<u64, Box<GitHubError>>) {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    emu.set_faults(FaultPlan::next(
        "POST",
        &uploads_path(&emu),
        1,
        Fault::Latency(Duration::from_millis(600)),
    ));
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(150));
            emu.seed_asset(TAG, WHEEL, ZIP, theirs);
        });
        target
            .upload_asset(
                &rel,
                WHEEL,
                &AssetBytes::Bytes(ours.to_vec()),
                &sha256_hex(ours),
                ZIP,
            )
            .map(|asset| asset.id)
            .map_err(Box::new)
    });
    let statuses: Vec<Option<u16>> = emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with(&uploads_path(&emu)))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(422)], "the race was not exercised");
    (emu, result)
}

#[test]
fn a_name_taken_during_the_upload_is_settled_by_the_listing() {
    let (emu, result) = race_an_upload(b"same bytes", b"same bytes");
    assert_eq!(result.unwrap(), emu.assets(TAG)[0].id);
    assert_eq!(emu.assets(TAG).len(), 1);

    let (emu, result) = race_an_upload(b"their bytes", b"our bytes");
    let err = result.unwrap_err();
    assert!(matches!(*err, GitHubError::AssetConflict { .. }), "{err}");
    assert_eq!(emu.assets(TAG)[0].bytes, &b"their bytes"[..]);
}

#[test]
fn a_lost_answer_after_the_upload_is_a_success() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    emu.set_faults(FaultPlan::next(
        "POST",
        &uploads_path(&emu),
        1,
        Fault::DropAfterApply,
    ));
    let bytes = data(20_000, 4);
    let asset = target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::Bytes(bytes.clone()),
            &sha256_hex(&bytes),
            ZIP,
        )
        .unwrap();
    let stored = emu.assets(TAG);
    assert_eq!(stored.len(), 1);
    assert_eq!(asset.id, stored[0].id);
    assert_eq!(stored[0].bytes, bytes);
    assert_eq!(upload_posts(&emu), 1, "not sent again");
}

#[test]
fn a_server_error_before_the_upload_is_retried() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    emu.set_faults(FaultPlan::next(
        "POST",
        &uploads_path(&emu),
        1,
        Fault::status(502),
    ));
    let bytes = data(20_000, 5);
    let asset = target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::Bytes(bytes.clone()),
            &sha256_hex(&bytes),
            ZIP,
        )
        .unwrap();
    assert_eq!(upload_posts(&emu), 2);
    assert_eq!(emu.assets(TAG).len(), 1);
    assert_eq!(emu.assets(TAG)[0].id, asset.id);
}

#[test]
fn a_large_body_is_sent_at_most_twice() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter).with_retry_policy(RetryPolicy {
        large_body: 1024,
        ..fast_policy()
    });
    let rel = release(&target);
    emu.set_faults(FaultPlan::next(
        "POST",
        &uploads_path(&emu),
        5,
        Fault::status(502),
    ));
    let bytes = data(10_000, 6);
    let err = target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::Bytes(bytes.clone()),
            &sha256_hex(&bytes),
            ZIP,
        )
        .unwrap_err();
    assert_eq!(err.status(), Some(502), "{err}");
    assert_eq!(upload_posts(&emu), 2);
    assert!(emu.assets(TAG).is_empty());
}

#[test]
fn a_renamed_asset_is_deleted_and_refused() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    let name = "dace-43!2026.2.3-py3-none-any.whl";
    let err = target
        .upload_asset(
            &rel,
            name,
            &AssetBytes::Bytes(b"wheel".to_vec()),
            &sha256_hex(b"wheel"),
            ZIP,
        )
        .unwrap_err();
    let GitHubError::AssetRenamed { stored, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(stored, "dace-43.2026.2.3-py3-none-any.whl");
    let message = err.to_string();
    assert!(message.contains("pip"), "{message}");
    assert!(message.contains("keep it in the repository"), "{message}");
    assert!(emu.assets(TAG).is_empty());
    // The name was sent as itself (`!` encoded in the query, not rewritten by us).
    let post = emu
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.starts_with(&uploads_path(&emu)))
        .unwrap();
    assert!(post.query.unwrap().contains("dace-43"));
}

#[test]
fn a_renamed_upload_whose_answer_was_lost_is_deleted_too() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    emu.set_faults(FaultPlan::next(
        "POST",
        &uploads_path(&emu),
        1,
        Fault::DropAfterApply,
    ));
    let err = target
        .upload_asset(
            &rel,
            "x-1!0-py3-none-any.whl",
            &AssetBytes::Bytes(b"wheel".to_vec()),
            &sha256_hex(b"wheel"),
            ZIP,
        )
        .unwrap_err();
    assert!(matches!(err, GitHubError::AssetRenamed { .. }), "{err}");
    assert!(emu.assets(TAG).is_empty());
    assert_eq!(upload_posts(&emu), 1);
}

#[test]
fn deletes_are_idempotent() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    let asset = target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::Bytes(b"x".to_vec()),
            &sha256_hex(b"x"),
            ZIP,
        )
        .unwrap();
    target.delete_asset(&asset).unwrap();
    assert!(emu.assets(TAG).is_empty());
    target.delete_asset(&asset).unwrap();
    assert!(target.list_assets(&rel).unwrap().is_empty());
    // The name is free for the same file again.
    target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::Bytes(b"x".to_vec()),
            &sha256_hex(b"x"),
            ZIP,
        )
        .unwrap();
    assert_eq!(emu.assets(TAG).len(), 1);
}

#[test]
fn a_60_mb_file_arrives_intact() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(WHEEL);
    let bytes = data(60 * 1024 * 1024, 7);
    let sha = sha256_hex(&bytes);
    std::fs::write(&path, &bytes).unwrap();
    let len = bytes.len() as u64;
    drop(bytes);
    let asset = target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::File {
                path: path.clone(),
                len,
            },
            &sha,
            ZIP,
        )
        .unwrap();
    assert_eq!(asset.size, len);
    assert_eq!(asset.sha256.as_deref(), Some(sha.as_str()));
    let stored = emu.assets(TAG);
    assert_eq!(sha256_hex(&stored[0].bytes), sha);
    assert_eq!(upload_posts(&emu), 1);

    // A file that changed size since it was validated is refused before anything is sent.
    let err = target
        .upload_asset(
            &rel,
            "other-1.0-py3-none-any.whl",
            &AssetBytes::File {
                path: path.clone(),
                len: len + 1,
            },
            &sha,
            ZIP,
        )
        .unwrap_err();
    assert!(matches!(err, GitHubError::Source { .. }), "{err}");
    assert_eq!(upload_posts(&emu), 1);
}

#[test]
fn the_token_is_not_sent_to_a_foreign_upload_host() {
    let emu = Emulator::new();
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let real = release(&target);
    // An upload URL on another port over plain http: not the API's host.
    let foreign = Release {
        upload_url: "http://127.0.0.1:9/uploads/repos/GridTools/pypi/releases/1/assets".into(),
        ..real
    };
    let err = target
        .upload_asset(
            &foreign,
            WHEEL,
            &AssetBytes::Bytes(b"x".to_vec()),
            &sha256_hex(b"x"),
            ZIP,
        )
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, GitHubError::InvalidResponse { .. }), "{err}");
    assert!(message.contains("not sent there"), "{message}");
    assert!(!message.contains(&emu.token()));
    assert_eq!(upload_posts(&emu), 0);
}

#[test]
fn writes_need_a_token() {
    let emu = Emulator::new();
    emu.seed_release(TAG);
    let reporter = RecordingReporter::default();
    let target = connect_with(&emu, None, &reporter);
    let rel = target.asset_release(TAG, false).unwrap().unwrap();
    assert!(target.list_assets(&rel).unwrap().is_empty());
    let err = target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::Bytes(b"x".to_vec()),
            &sha256_hex(b"x"),
            ZIP,
        )
        .unwrap_err();
    assert!(matches!(err, GitHubError::NoToken { .. }), "{err}");
    let err = target.asset_release("other", true).unwrap_err();
    assert!(matches!(err, GitHubError::NoToken { .. }), "{err}");
}

#[test]
fn enterprise_server_uploads_go_below_api_uploads() {
    let emu = Emulator::start(github_emulator::Config {
        api_prefix: "/api/v3".into(),
        ..github_emulator::Config::default()
    });
    let reporter = RecordingReporter::default();
    let target = connect(&emu, &reporter);
    let rel = release(&target);
    assert!(rel.upload_url.contains("/api/uploads/repos/"), "{rel:?}");
    let asset = target
        .upload_asset(
            &rel,
            WHEEL,
            &AssetBytes::Bytes(b"x".to_vec()),
            &sha256_hex(b"x"),
            ZIP,
        )
        .unwrap();
    assert_eq!(target.list_assets(&rel).unwrap(), vec![asset]);
}
