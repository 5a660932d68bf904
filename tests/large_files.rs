//! Large distributions as release assets, through the binary against the GitHub emulator: a
//! 60 MB wheel (above the body ceiling) becomes an asset with its `.metadata` beside it, the
//! page links the asset's download URL (a 302 to a CDN, as on GitHub), and pip and uv install
//! it from the exported branch served over HTTP; pip's dry run reads the `.metadata` asset and
//! downloads no wheel; re-runs upload nothing; verify compares digests; remove deletes both
//! assets; racing publishers and random faults lose nothing; and the Pages site budget warns and
//! refuses.

mod common;

use std::process::Stdio;

use common::github::*;
use common::*;
use github_emulator::{Config, Emulator, FaultPlan, RandomFaults};
use gt4py_testkit::dist_builder::{WheelBuilder, import_name};
use gt4py_testkit::http_server::StaticServer;
use gt4py_testkit::pip::{Client, Venv};
use tempfile::TempDir;

const TAG: &str = "gt4py-publish-files";

fn run(emu: &Emulator, subcommand: &str, args: &[&str]) -> Run {
    exec(gh(emu, Some(TOKEN), subcommand).args(args))
}

fn uploads(emu: &Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/assets"))
        .count()
}

fn asset_files(emu: &Emulator) -> Files {
    emu.assets(TAG)
        .into_iter()
        .map(|a| (a.name, a.bytes.to_vec()))
        .collect()
}

fn asset_names(emu: &Emulator) -> Vec<String> {
    let mut names: Vec<String> = emu.assets(TAG).into_iter().map(|a| a.name).collect();
    names.sort();
    names
}

#[test]
fn a_60_mb_wheel_becomes_an_asset_that_pip_and_uv_install() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let big = build_wheel(
        &dir,
        WheelBuilder::new("big-gpu", "1.0").payload_size(60 * 1024 * 1024),
        "big-gpu",
        "1.0",
    );
    let small = wheel(&dir, "big-gpu", "0.9");
    let out = run(
        &emu,
        "publish",
        &[big.path().to_str().unwrap(), small.path().to_str().unwrap()],
    )
    .ok();
    assert!(out.says("published", &big.filename), "{out}");
    assert_eq!(
        asset_names(&emu),
        [big.filename.clone(), format!("{}.metadata", big.filename)],
        "{out}"
    );
    let files = emu.files();
    // The big wheel is not in the repository; the small one is.
    assert!(!files.contains_key(&big.repo_path()));
    assert!(files.contains_key(&small.repo_path()));
    let page = page(&files, "big-gpu");
    let entry = page
        .iter()
        .find(|a| a.text == big.filename)
        .expect("listed");
    let target = entry.target();
    assert!(
        target.contains("/releases/download/") && target.ends_with(&big.filename),
        "{target}"
    );
    assert_valid_with_assets(&files, &asset_files(&emu));
    assert!(entry.attr("data-core-metadata").is_some());
    let asset = emu
        .assets(TAG)
        .into_iter()
        .find(|a| a.name == big.filename)
        .unwrap();
    assert_eq!(asset.digest, format!("sha256:{}", entry.sha256().unwrap()));

    // Re-run: nothing uploaded, nothing committed.
    let commits = emu.commits().len();
    let sent = uploads(&emu);
    let again = run(&emu, "publish", &[big.path().to_str().unwrap()]).ok();
    assert!(again.says("already present", &big.filename), "{again}");
    assert_eq!(emu.commits().len(), commits);
    assert_eq!(uploads(&emu), sent);

    // verify compares digests without downloading.
    emu.reset_requests();
    run(&emu, "verify", &[]).ok();
    assert!(
        !emu.requests().iter().any(|r| r.path.contains("/download/")),
        "verify downloaded an asset"
    );

    // The branch, exported and served: pip's dry run reads the .metadata asset only, then pip
    // and uv install through GitHub's redirect.
    let site = work.path().join("site");
    emu.export_to(&site).unwrap();
    let server = StaticServer::serve(&site).unwrap();
    let venv = Venv::shared();
    emu.reset_requests();
    venv.dry_run(Client::Pip, &server.url(), &[&big.requirement()])
        .unwrap_or_else(|e| panic!("pip --dry-run: {e}"));
    let downloads: Vec<String> = emu
        .requests()
        .iter()
        .filter(|r| r.path.contains("/download/") || r.path.contains("/cdn/"))
        .map(|r| r.path.clone())
        .collect();
    assert!(
        downloads.iter().all(|p| p.ends_with(".metadata")),
        "the dry run downloaded the wheel: {downloads:#?}"
    );
    for client in [Client::Pip, Client::Uv] {
        let target = work.path().join(format!("site-packages-{client:?}"));
        venv.install(client, &server.url(), &[&big.requirement()], &target, &[])
            .unwrap_or_else(|e| panic!("{client:?}: {e}"));
        assert_eq!(
            venv.import_version(&import_name("big-gpu"), &target)
                .unwrap(),
            "1.0"
        );
    }

    // yank keeps the asset link; regenerate keeps the asset-backed entry (it is not in the
    // folder) and writes nothing more.
    run(&emu, "yank", &[&big.filename, "--reason", "broken build"]).ok();
    let page_text = text(&emu.files(), "big-gpu/index.html");
    assert!(
        page_text.contains("data-yanked=\"broken build\""),
        "{page_text}"
    );
    assert!(page_text.contains("/releases/download/"), "{page_text}");
    let out = run(&emu, "regenerate", &[]).ok();
    let after = text(&emu.files(), "big-gpu/index.html");
    assert_eq!(after, page_text, "{out}");
    let list = run(&emu, "list", &["big-gpu"]).ok();
    assert!(list.stdout.contains(&big.filename), "{list}");

    // remove: the page first, then both assets.
    run(&emu, "remove", &[&big.filename]).ok();
    assert!(asset_names(&emu).is_empty(), "{:?}", asset_names(&emu));
    let files = emu.files();
    assert!(!text(&files, "big-gpu/index.html").contains(&big.filename));
    assert_valid_with_assets(&files, &asset_files(&emu));
}

#[test]
fn store_release_races_and_faults_lose_nothing() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(config());
    let dists: Vec<Dist> = (0..4)
        .map(|i| {
            wheel(
                &work.path().join(format!("d{i}")),
                "asset-race",
                &format!("1.{i}"),
            )
        })
        .collect();
    let children: Vec<_> = dists
        .iter()
        .map(|d| {
            tool_std()
                .arg("publish")
                .args(target_args(&emu))
                .args(["-q", "--store", "release"])
                .arg(d.path())
                .env("GT4PY_PUBLISH_TOKEN", TOKEN)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the tool starts")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(emu.releases().len(), 1, "one release for all");
    assert_eq!(asset_names(&emu).len(), 2 * dists.len());
    let files = emu.files();
    assert_valid_with_assets(&files, &asset_files(&emu));
    assert_eq!(page(&files, "asset-race").len(), dists.len());

    // Under 20 % random faults, more files go the same way.
    let more: Vec<Dist> = (0..3)
        .map(|i| {
            wheel(
                &work.path().join(format!("f{i}")),
                "asset-race",
                &format!("2.{i}"),
            )
        })
        .collect();
    emu.set_faults(FaultPlan::none().with_random(RandomFaults {
        probability: 0.2,
        faults: random_fault_kinds(),
        seed: 99,
        methods: Vec::new(),
    }));
    for dist in &more {
        let out = run(
            &emu,
            "publish",
            &["--store", "release", dist.path().to_str().unwrap()],
        )
        .ok();
        assert!(out.says("published", &dist.filename), "{out}");
    }
    emu.set_faults(FaultPlan::none());
    assert_eq!(asset_names(&emu).len(), 2 * (dists.len() + more.len()));
    let files = emu.files();
    assert_valid_with_assets(&files, &asset_files(&emu));
    assert_eq!(page(&files, "asset-race").len(), dists.len() + more.len());
    run(&emu, "verify", &[]).ok();
}

#[test]
fn an_asset_name_with_other_content_is_refused_or_skipped() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(config());
    let dist = wheel(&work.path().join("a"), "taken-asset", "1.0");
    emu.seed_asset(
        TAG,
        &dist.filename,
        "application/octet-stream",
        b"other bytes",
    );
    let out = run(
        &emu,
        "publish",
        &["--store", "release", dist.path().to_str().unwrap()],
    )
    .failed();
    assert!(out.stderr.contains(&dist.filename), "{out}");
    assert!(out.stderr.contains("different content"), "{out}");
    assert!(emu.api_commits().is_empty(), "nothing may be written");
    let out = run(
        &emu,
        "publish",
        &[
            "--store",
            "release",
            "--skip-existing",
            dist.path().to_str().unwrap(),
        ],
    )
    .ok();
    assert!(out.says("skipped", &dist.filename), "{out}");
}

/// Publishing several files as release assets lists the release once, not once per file.
#[test]
fn several_assets_cost_one_listing() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(config());
    emu.seed_release(TAG);
    let dists: Vec<Dist> = (0..4)
        .map(|i| wheel(&work.path().join("d"), "many-assets", &format!("1.{i}")))
        .collect();
    let mut args = vec!["--store", "release"];
    args.extend(dists.iter().map(|d| d.path().to_str().unwrap()));
    let out = run(&emu, "publish", &args).ok();
    for dist in &dists {
        assert!(out.says("published", &dist.filename), "{out}");
    }
    // A wheel and its `.metadata` each.
    assert_eq!(uploads(&emu), 2 * dists.len(), "{out}");
    let listings = emu
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/assets"))
        .count();
    assert_eq!(listings, 1, "{out}");
}

/// GitHub Pages publishes at most 1 GB: a warning from 75 %, a refusal above (unless
/// --allow-over-budget), and release assets do not count.
#[test]
fn the_pages_site_budget_warns_and_refuses() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(Config {
        max_file_size: u64::MAX,
        ..config()
    });
    emu.seed("old/huge.bin", &vec![0u8; 760_000_000]);
    let first = wheel(&work.path().join("a"), "budget-proj", "1.0");
    let out = run(&emu, "publish", &[first.path().to_str().unwrap()]).ok();
    assert!(out.stderr.contains("of Pages' 1 GB limit"), "{out}");
    emu.seed("old/more.bin", &vec![0u8; 240_000_000]);
    let second = wheel(&work.path().join("b"), "budget-proj", "2.0");
    let commits = emu.commits().len();
    let out = run(&emu, "publish", &[second.path().to_str().unwrap()]).failed();
    assert!(out.stderr.contains("--store release"), "{out}");
    assert_eq!(emu.commits().len(), commits, "nothing may be written");
    // As a release asset it does not grow the site.
    run(
        &emu,
        "publish",
        &["--store", "release", second.path().to_str().unwrap()],
    )
    .ok();
    let third = wheel(&work.path().join("c"), "budget-proj", "3.0");
    let out = run(
        &emu,
        "publish",
        &["--allow-over-budget", third.path().to_str().unwrap()],
    )
    .ok();
    assert!(out.stderr.contains("--allow-over-budget"), "{out}");
}

/// A remove interrupted after its page write leaves assets no page links: running it again
/// deletes them instead of saying the file is not there; once gone, it is not there.
#[test]
fn a_rerun_remove_deletes_orphan_assets() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(config());
    let dist = wheel(&work.path().join("a"), "orphan-proj", "1.0");
    run(&emu, "publish", &[dist.path().to_str().unwrap()]).ok();
    let name = "orphan_proj-2.0-py3-none-any.whl";
    emu.seed_asset(TAG, name, "application/octet-stream", b"left behind");
    emu.seed_asset(
        TAG,
        &format!("{name}.metadata"),
        "text/plain",
        b"Name: orphan-proj\n",
    );
    let out = run(&emu, "remove", &[name]).ok();
    assert!(out.stdout.contains(name), "{out}");
    assert!(asset_names(&emu).is_empty(), "{:?}", asset_names(&emu));
    let out = run(&emu, "remove", &[name]).failed();
    assert!(out.stderr.contains("is not on the index"), "{out}");
    assert_valid(&emu.files());
}
