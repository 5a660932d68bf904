//! The maintenance commands end to end against the GitHub emulator, through the real binary:
//! `yank`/`unyank`, `remove`, `list`, `regenerate` and `verify` on an emulated
//! `GridTools/pypi@main`. Where a client's view matters (yanks, a regenerated legacy index), the
//! branch is exported, served on 127.0.0.1 and resolved with pip. Each test starts its own
//! emulator and works in its own temporary folder.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::github::*;
use common::*;
use github_emulator::{Emulator, FaultPlan, RandomFaults};
use gt4py_testkit::dist_builder::core_metadata;
use gt4py_testkit::http_server::StaticServer;
use gt4py_testkit::pip::{Client, Venv};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// `gt4py-publish SUBCOMMAND ARGS...` against the emulator with the read-write token.
fn cmd(emu: &Emulator, subcommand: &str, args: &[&str]) -> Run {
    exec(gh(emu, Some(TOKEN), subcommand).args(args))
}

/// The names a page lists, in order.
fn listed(files: &Files, folder: &str) -> Vec<String> {
    page(files, folder).into_iter().map(|a| a.text).collect()
}

/// One entry of a page.
fn entry(files: &Files, folder: &str, filename: &str) -> Anchor {
    page(files, folder)
        .into_iter()
        .find(|a| a.text == filename)
        .unwrap_or_else(|| {
            panic!(
                "{filename} is not on its page:\n{}",
                text(files, &format!("{folder}/index.html"))
            )
        })
}

/// Requests whose answer carried the bytes of a distribution (a download).
fn downloads(emu: &Emulator) -> Vec<String> {
    emu.requests()
        .into_iter()
        .filter_map(|r| r.content_served)
        .filter(|p| p.ends_with(".whl") || p.ends_with(".tar.gz") || p.ends_with(".zip"))
        .collect()
}

/// Commit messages of the API commits after the first `since`.
fn messages_since(emu: &Emulator, since: usize) -> Vec<String> {
    emu.api_commits()[since..]
        .iter()
        .map(|c| format!("{}: {}", c.paths.join(","), c.message))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// `yank --reason` sets `data-yanked` on that one entry (one page commit, nothing else
/// changes), `list` shows it, pip skips the yanked version unless it is pinned, a re-publish
/// does not undo it, a second yank writes nothing, and `unyank` restores the page byte for byte.
#[test]
fn yank_and_unyank_round_trip() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let old = wheel(&dir, "yank-proj", "1.0");
    let new = wheel(&dir, "yank-proj", "2.0");
    cmd(
        &emu,
        "publish",
        &["-q", old.path.to_str().unwrap(), new.path.to_str().unwrap()],
    )
    .ok();
    let before = emu.files();
    let page_before = text(&before, "yank-proj/index.html");
    let since = emu.api_commits().len();

    let run = cmd(
        &emu,
        "yank",
        &[&new.filename, "--reason", "broken <build> & \"co\""],
    )
    .ok();
    assert!(run.stdout.contains("Yanked"), "{run}");
    let files = emu.files();
    assert_eq!(
        messages_since(&emu, since),
        [format!(
            "yank-proj/index.html: Yank {}: broken <build> & \"co\"",
            new.filename
        )]
    );
    let yanked = entry(&files, "yank-proj", &new.filename);
    assert_eq!(
        yanked.attr("data-yanked").map(html_unescape).as_deref(),
        Some("broken <build> & \"co\"")
    );
    // Everything else of the entry, and the other entry, is as it was.
    let was = entry(&before, "yank-proj", &new.filename);
    for (name, value) in &was.attrs {
        assert_eq!(yanked.attr(name), Some(value.as_str()), "{name}");
    }
    assert_eq!(
        entry(&files, "yank-proj", &old.filename).attr("data-yanked"),
        None
    );
    assert_valid(&files);
    let list = cmd(&emu, "list", &["yank-proj"]).ok();
    assert!(
        list.stdout
            .lines()
            .any(|l| l.contains(&new.filename) && l.contains("yanked")),
        "{list}"
    );

    // Yanking again, and publishing the yanked file again, write nothing and keep the yank.
    let since = emu.api_commits().len();
    let run = cmd(
        &emu,
        "yank",
        &[&new.filename, "--reason", "broken <build> & \"co\""],
    )
    .ok();
    assert!(run.stdout.contains("already yanked"), "{run}");
    let run = cmd(&emu, "publish", &[new.path.to_str().unwrap()]).ok();
    assert!(run.says("already present", &new.filename), "{run}");
    assert_eq!(messages_since(&emu, since), Vec::<String>::new());
    assert!(
        entry(&emu.files(), "yank-proj", &new.filename)
            .attr("data-yanked")
            .is_some()
    );

    // pip: `yank-proj` resolves to the old version, `yank-proj==2.0` to the yanked one.
    let site = work.path().join("site");
    emu.export_to(&site).unwrap();
    let server = StaticServer::serve(&site).unwrap();
    let venv = Venv::shared();
    std::thread::scope(|scope| {
        for (requirement, version) in [("yank-proj", "1.0"), ("yank-proj==2.0", "2.0")] {
            let target = work.path().join(format!("site-packages-{version}"));
            let url = server.url();
            scope.spawn(move || {
                venv.install(Client::Pip, &url, &[requirement], &target, &[])
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    venv.import_version("yank_proj", &target).unwrap(),
                    version,
                    "{requirement}"
                );
            });
        }
    });

    let since = emu.api_commits().len();
    let run = cmd(&emu, "unyank", &[&new.filename]).ok();
    assert!(run.stdout.contains("Unyanked"), "{run}");
    assert_eq!(
        messages_since(&emu, since),
        [format!("yank-proj/index.html: Unyank {}", new.filename)]
    );
    assert_eq!(text(&emu.files(), "yank-proj/index.html"), page_before);
    let run = cmd(&emu, "unyank", &[&new.filename]).ok();
    assert!(run.stdout.contains("was not yanked"), "{run}");
    assert_eq!(emu.api_commits().len(), since + 1);

    // A file that is not on the index is named; nothing is written.
    let run = cmd(&emu, "yank", &["yank_proj-9.0-py3-none-any.whl"]).failed();
    assert!(
        run.stderr.contains("yank_proj-9.0-py3-none-any.whl"),
        "{run}"
    );
    assert_eq!(emu.api_commits().len(), since + 1);
}

/// `remove` drops the entry from the page first, then deletes the file and its `.metadata`;
/// removing the last file of a project deletes its page and takes it off the root page; a file
/// that is not there is an error naming it. Without a token nothing is sent.
#[test]
fn remove_deletes_files_and_empty_projects() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let keep = wheel(&dir, "rm-proj", "1.0");
    let gone = wheel(&dir, "rm-proj", "2.0");
    let gone_sdist = sdist(&dir, "rm-proj", "2.0");
    let lone = wheel(&dir, "lone-proj", "1.0");
    let all = [&keep, &gone, &gone_sdist, &lone];
    let paths: Vec<&str> = all.iter().map(|d| d.path.to_str().unwrap()).collect();
    let mut args = vec!["-q"];
    args.extend(&paths);
    cmd(&emu, "publish", &args).ok();

    // No token: refused before any request.
    emu.reset_requests();
    let run = exec(gh(&emu, None, "remove").arg(&gone.filename)).failed();
    assert!(run.stderr.contains("token"), "{run}");
    assert!(emu.requests().is_empty(), "{:#?}", emu.requests());

    let since = emu.api_commits().len();
    let run = cmd(&emu, "remove", &[&gone.filename]).ok();
    assert!(run.stdout.contains(&gone.filename), "{run}");
    let messages = messages_since(&emu, since);
    let changed: Vec<String> = emu.api_commits()[since..]
        .iter()
        .map(|c| c.paths.join(","))
        .collect();
    assert_eq!(
        changed,
        [
            "rm-proj/index.html".to_string(),
            gone.repo_path(),
            format!("{}.metadata", gone.repo_path()),
        ],
        "{messages:#?}"
    );
    let files = emu.files();
    assert!(!files.contains_key(&gone.repo_path()));
    assert!(!files.contains_key(&format!("{}.metadata", gone.repo_path())));
    assert_eq!(
        listed(&files, "rm-proj"),
        [gone_sdist.filename.clone(), keep.filename.clone()]
    );
    assert_valid(&files);
    assert_holds(&files, &[&keep, &gone_sdist, &lone]);

    // The sdist: no .metadata to delete.
    let since = emu.api_commits().len();
    cmd(&emu, "remove", &[&gone_sdist.filename]).ok();
    assert_eq!(
        emu.api_commits().len(),
        since + 2,
        "{:#?}",
        messages_since(&emu, since)
    );

    // The last file of a project: the project leaves the root page; its page stays, empty
    // (GitHub would let a writer holding the old page sha create a deleted page again).
    let since = emu.api_commits().len();
    cmd(&emu, "remove", &[&lone.filename]).ok();
    let files = emu.files();
    assert_emptied(&files, "lone-proj");
    assert_eq!(root_projects(&files), ["rm-proj"]);
    assert_valid(&files);
    println!("removing the last file: {:#?}", messages_since(&emu, since));

    // Not there: an error naming it, nothing written.
    let since = emu.api_commits().len();
    let run = cmd(&emu, "remove", &[&gone.filename]).failed();
    assert!(run.stderr.contains(&gone.filename), "{run}");
    assert_eq!(emu.api_commits().len(), since);
    assert_holds(&emu.files(), &[&keep]);
}

/// wheel with slow writes and kills it once a commit matching `kill_after` landed. Returns the
/// commits the killed run made, the problems of the index it left, and the wheel's filename.
fn killed_remove(
    work: &Path,
    emu: &Emulator,
    kill_after: impl Fn(&github_emulator::Commit) -> bool,
) -> (Vec<String>, Vec<String>, String) {
    let dir = work.join("dist");
    let stay = wheel(&dir, "stay-proj", "1.0");
    let lone = wheel(&dir, "lone-proj", "1.0");
    cmd(
        emu,
        "publish",
        &[
            "-q",
            stay.path.to_str().unwrap(),
            lone.path.to_str().unwrap(),
        ],
    )
    .ok();
    emu.set_latency(Duration::ZERO, Duration::from_millis(400));
    let since = emu.commits().len();
    let mut child = tool_std()
        .arg("remove")
        .args(target_args(emu))
        .arg(&lone.filename)
        .env("GT4PY_PUBLISH_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_commit(emu, since, "the awaited write of remove", kill_after);
    child.kill().unwrap();
    child.wait().unwrap();
    // A write already inside the emulator may still land: let it.
    std::thread::sleep(Duration::from_millis(600));
    emu.set_latency(Duration::ZERO, Duration::ZERO);
    let made = emu.commits()[since..]
        .iter()
        .map(|c| format!("{}: {}", c.paths.join(","), c.message))
        .collect();
    (made, link_problems(&emu.files()), lone.filename)
}

/// Only an empty page is left of `project`.
fn assert_emptied(files: &Files, project: &str) {
    let left: Vec<_> = files
        .keys()
        .filter(|p| p.starts_with(&format!("{project}/")))
        .collect();
    assert_eq!(left, [&format!("{project}/index.html")], "{left:#?}");
    assert!(
        page(files, project).is_empty(),
        "{}",
        text(files, &format!("{project}/index.html"))
    );
    assert!(!root_projects(files).iter().any(|p| p == project));
}

/// After a killed `remove`, running it again leaves only stay-proj, valid.
fn assert_rerun_finishes(emu: &Emulator, filename: &str) {
    let run = cmd(emu, "remove", &[filename]);
    let files = emu.files();
    assert_emptied(&files, "lone-proj");
    assert_eq!(root_projects(&files), ["stay-proj"], "{run}");
    assert_valid(&files);
    run.ok();
}

/// `remove` of a project's last file, killed after its first write: the index it leaves is
/// valid (the root never links a project without a page), and running it again finishes.
#[test]
fn a_remove_killed_after_its_first_write_leaves_a_valid_index() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(config());
    let (made, problems, filename) = killed_remove(work.path(), &emu, |_| true);
    assert!(
        problems.is_empty(),
        "killed after {made:#?}:\n{problems:#?}"
    );
    assert_rerun_finishes(&emu, &filename);
}

/// `remove` of a project's last file, killed after the project page was emptied and the root
/// page stopped linking it, but before the files are deleted: the index is valid (nothing links
/// the leftover files), and running it again finishes the job.
#[test]
fn a_remove_killed_before_its_file_deletes_is_finished_by_a_rerun() {
    let work = TempDir::new().unwrap();
    let emu = Emulator::start(config());
    let (made, problems, filename) = killed_remove(work.path(), &emu, |c| {
        c.paths.iter().any(|p| p == "index.html")
    });
    assert!(
        made.iter().any(|m| m.starts_with("lone-proj/index.html")),
        "the page must stop listing the file first: {made:#?}"
    );
    // The file delete may already be in flight when the kill lands; either way the re-run
    // must finish what is left.
    assert_rerun_finishes(&emu, &filename);
    assert!(
        problems.is_empty(),
        "killed after {made:#?}:\n{problems:#?}"
    );
}

/// `list` needs no token on a public repository: the projects, then `VERSION  FILENAME` lines
/// of one project, newest first (epochs count); an unknown project is an error.
#[test]
fn list_prints_projects_and_versions() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let dists = [
        wheel(&dir, "dace", "2025.11.5"),
        wheel(&dir, "dace", "43!2026.2.3"),
        sdist(&dir, "dace", "43!2026.2.3"),
        wheel(&dir, "Ghex.Py", "0.4"),
    ];
    let mut args = vec!["-q"];
    args.extend(dists.iter().map(|d| d.path.to_str().unwrap()));
    cmd(&emu, "publish", &args).ok();
    let commits = emu.commits().len();

    let run = exec(&mut gh(&emu, None, "list")).ok();
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        ["dace", "ghex-py"],
        "{run}"
    );
    let run = exec(gh(&emu, None, "list").arg("dace")).ok();
    let lines: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 3, "{run}");
    assert_eq!(lines[0][0], "43!2026.2.3", "{run}");
    assert_eq!(lines[1][0], "43!2026.2.3", "{run}");
    assert_eq!(lines[2], ["2025.11.5", dists[0].filename.as_str()], "{run}");
    let mut newest: Vec<&str> = lines[..2].iter().map(|l| l[1]).collect();
    newest.sort();
    let mut expected = [dists[1].filename.as_str(), dists[2].filename.as_str()];
    expected.sort();
    assert_eq!(newest, expected);
    // Any spelling of the name.
    let run = exec(gh(&emu, None, "list").arg("Ghex_Py")).ok();
    assert!(run.stdout.contains(&dists[3].filename), "{run}");

    let run = exec(gh(&emu, None, "list").arg("nope")).failed();
    assert!(run.stderr.contains("nope"), "{run}");
    assert_eq!(emu.commits().len(), commits);
}

/// The old generator.py's index seeded on the branch (the gt4py-index fixture, its wheels
/// replaced by stand-ins with their `.metadata` files; a legacy page of real wheels; an
/// unlisted wheel; a folder no page knows; an entry whose file is gone) is rebuilt into the new
/// format: every listed hash kept as it was, only the unknown files downloaded and hashed,
/// missing `.metadata` made, the dead entry dropped with a warning. A second run writes
/// nothing; `--dry-run` writes nothing either.
#[test]
fn regenerate_rebuilds_a_legacy_index() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let legacy_root = std::fs::read_to_string(format!("{LEGACY_INDEX}/index.html")).unwrap();
    let legacy_dace = std::fs::read_to_string(format!("{LEGACY_INDEX}/dace/index.html")).unwrap();
    let dace = anchors(&legacy_dace);
    assert_eq!(dace.len(), 6, "fixture changed?");

    let mut seed: Vec<(String, Vec<u8>)> = Vec::new();
    // The fixture's wheels are not available: stand-in bytes, and their METADATA next to them.
    for entry in &dace {
        let version = entry.text.split('-').nth(1).unwrap();
        seed.push((
            format!("dace/{}", entry.text),
            format!("stand-in for {}", entry.text).into_bytes(),
        ));
        seed.push((
            format!("dace/{}.metadata", entry.text),
            core_metadata("dace", version, Some(">=3.10")),
        ));
    }
    // Real ghex wheels on a legacy page (one listed file is gone), plus one unlisted wheel.
    let ghex_listed = [wheel(&dir, "ghex", "0.3.0"), wheel(&dir, "ghex", "0.4.0")];
    let ghex_unlisted = wheel(&dir, "ghex", "0.5.0");
    let mut ghex_page = String::from(
        "<!DOCTYPE HTML>\n<html>\n    <head>\n        <title>Custom Package for 'ghex'</title>\n\
         \x20   </head>\n    <body>\n    <h1>Custom Package for 'ghex'</h1>\n",
    );
    for dist in ghex_listed.iter().rev() {
        let bytes = std::fs::read(&dist.path).unwrap();
        ghex_page.push_str(&format!(
            "        <a href=\"{0}#sha256={1}\">{0}</a> </br>\n",
            dist.filename,
            sha256_hex(&bytes)
        ));
        seed.push((dist.repo_path(), bytes));
        seed.push((
            format!("{}.metadata", dist.repo_path()),
            dist.metadata.clone().unwrap(),
        ));
    }
    let dead = "ghex-0.1.0-py3-none-any.whl";
    ghex_page.push_str(&format!(
        "        <a href=\"{dead}#sha256={}\">{dead}</a> </br>\n    </body>\n</html>\n",
        "ab".repeat(32)
    ));
    seed.push((
        ghex_unlisted.repo_path(),
        std::fs::read(&ghex_unlisted.path).unwrap(),
    ));
    // A folder of distributions no page knows.
    let orphan = wheel(&dir, "orphan-proj", "1.0");
    let orphan_sdist = sdist(&dir, "orphan-proj", "1.0");
    for dist in [&orphan, &orphan_sdist] {
        seed.push((dist.repo_path(), std::fs::read(&dist.path).unwrap()));
    }
    let root = legacy_root.replace(
        "<a href=\"dace\">dace</a>",
        "<a href=\"dace\">dace</a> </br>\n        <a href=\"ghex\">ghex</a> </br>",
    );
    seed.push(("index.html".into(), root.into_bytes()));
    seed.push(("dace/index.html".into(), legacy_dace.into_bytes()));
    seed.push(("ghex/index.html".into(), ghex_page.into_bytes()));
    let emu = Emulator::start(config());
    emu.seed_many(seed.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    let seeded = emu.files();

    // --dry-run: the plan, no writes, no token needed.
    let run = exec(gh(&emu, None, "regenerate").args(["--dry-run", "--verbose"])).ok();
    for page in [
        "dace/index.html",
        "ghex/index.html",
        "orphan-proj/index.html",
        "index.html",
    ] {
        assert!(
            run.stdout.lines().any(|l| l.trim_start().starts_with(page)),
            "the plan does not list {page}:\n{run}"
        );
    }
    assert!(emu.api_commits().is_empty(), "a dry run wrote");

    emu.reset_requests();
    let run = cmd(&emu, "regenerate", &[]).ok();
    let files = emu.files();
    println!(
        "regenerate: {} requests, {} commits:\n  {}",
        emu.requests().len(),
        emu.api_commits().len(),
        messages_since(&emu, 0).join("\n  ")
    );
    // Only the files without a known hash were downloaded.
    let mut fetched = downloads(&emu);
    fetched.sort();
    fetched.dedup();
    let mut unknown = vec![
        ghex_unlisted.repo_path(),
        orphan.repo_path(),
        orphan_sdist.repo_path(),
    ];
    unknown.sort();
    assert_eq!(fetched, unknown, "{run}");

    // dace: every legacy entry with its exact hash, metadata from the .metadata files.
    let dace_text = text(&files, "dace/index.html");
    assert!(
        dace_text.contains("pypi:repository-version") && !dace_text.contains("</br>"),
        "{dace_text}"
    );
    assert_eq!(listed(&files, "dace").len(), 6, "{dace_text}");
    for old in &dace {
        let new = entry(&files, "dace", &old.text);
        assert_eq!(new.sha256(), old.sha256(), "{} lost its hash", old.text);
        let metadata = &seeded[&format!("dace/{}.metadata", old.text)];
        assert_eq!(
            new.attr("data-core-metadata"),
            Some(format!("sha256={}", sha256_hex(metadata)).as_str())
        );
        assert_eq!(new.attr("data-requires-python"), Some("&gt;=3.10"));
    }
    // ghex: the listed and the unlisted wheel, the dead entry dropped with a warning.
    let ghex_all: Vec<&Dist> = ghex_listed.iter().chain([&ghex_unlisted]).collect();
    assert_holds(&files, &ghex_all);
    assert_eq!(listed(&files, "ghex").len(), 3);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("warning") && l.contains(dead)),
        "no warning about {dead}:\n{run}"
    );
    assert_holds(&files, &[&orphan, &orphan_sdist]);
    let mut links: Vec<String> = anchors(&text(&files, "index.html"))
        .iter()
        .map(|a| a.href().to_string())
        .collect();
    links.sort();
    assert_eq!(links, ["dace/", "ghex/", "orphan-proj/"]);
    assert!(files.contains_key(".nojekyll"));
    // Only the stand-ins' hashes (kept from the page, never checked) do not match the bytes.
    let problems = link_problems(&files);
    assert_eq!(problems.len(), 6, "{problems:#?}");
    assert!(
        problems.iter().all(|p| p.starts_with("dace/index.html")),
        "{problems:#?}"
    );

    // Nothing left to do.
    let commits = emu.api_commits().len();
    emu.reset_requests();
    let run = cmd(&emu, "regenerate", &[]).ok();
    assert!(run.stdout.contains("up to date"), "{run}");
    assert_eq!(emu.api_commits().len(), commits);
    assert_eq!(downloads(&emu), Vec::<String>::new());

    // The adopted ghex wheels install.
    let site = work.path().join("site");
    emu.export_to(&site).unwrap();
    let server = StaticServer::serve(&site).unwrap();
    let target = work.path().join("site-packages");
    let venv = Venv::shared();
    venv.install(
        Client::Pip,
        &server.url(),
        &["ghex==0.5.0", "orphan-proj==1.0"],
        &target,
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(venv.import_version("ghex", &target).unwrap(), "0.5.0");
}

/// `verify` passes on a healthy index (no token needed), and names each kind of damage: a
/// wheel whose bytes changed, a listed file that is gone, a `.metadata` file that changed, a
/// distribution no page lists; it exits 1 and writes nothing.
#[test]
fn verify_finds_corrupted_and_missing_files() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let dists = [
        wheel(&dir, "check-proj", "1.0"),
        wheel(&dir, "check-proj", "2.0"),
        sdist(&dir, "check-proj", "2.0"),
        wheel(&dir, "check-proj", "3.0"),
        wheel(&dir, "other-proj", "1.0"),
    ];
    let mut args = vec!["-q"];
    args.extend(dists.iter().map(|d| d.path.to_str().unwrap()));
    cmd(&emu, "publish", &args).ok();

    let run = exec(&mut gh(&emu, None, "verify")).ok();
    assert!(run.stdout.contains("0 problem(s)"), "{run}");
    assert!(!run.stdout.contains("problem:"), "{run}");

    let [corrupt, _, missing, bad_metadata, _] = &dists;
    emu.seed(&corrupt.repo_path(), b"not the published bytes");
    assert!(emu.remove(&missing.repo_path()));
    emu.seed(
        &format!("{}.metadata", bad_metadata.repo_path()),
        b"Metadata-Version: 2.1\nName: check-proj\nVersion: 3.0\n",
    );
    let unlisted = wheel(&dir, "check-proj", "4.0");
    emu.seed(
        &unlisted.repo_path(),
        &std::fs::read(&unlisted.path).unwrap(),
    );
    let commits = emu.commits().len();

    let run = exec(&mut gh(&emu, Some(TOKEN), "verify")).failed();
    let problems: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("problem:"))
        .collect();
    assert_eq!(problems.len(), 4, "{run}");
    let corrupt_sha = sha256_hex(&std::fs::read(&corrupt.path).unwrap());
    let has = |path: &str, words: &[&str]| {
        problems
            .iter()
            .any(|l| l.contains(path) && words.iter().all(|w| l.contains(w)))
    };
    assert!(
        has(
            &corrupt.repo_path(),
            &[&sha256_hex(b"not the published bytes"), &corrupt_sha]
        ),
        "{run}"
    );
    assert!(has(&missing.repo_path(), &["missing"]), "{run}");
    assert!(
        has(
            &format!("{}.metadata", bad_metadata.repo_path()),
            &["sha256"]
        ),
        "{run}"
    );
    assert!(has(&unlisted.repo_path(), &["not on its page"]), "{run}");
    assert!(run.stderr.contains("4 problem(s)"), "{run}");
    assert_eq!(emu.commits().len(), commits, "verify wrote");
}

/// Every maintenance command follows the same retry rules as publish: with 20 % random faults
/// of every kind (fixed seed), yank, unyank, remove, regenerate, list and verify all succeed
/// and leave a valid index.
#[test]
fn maintenance_commands_survive_random_faults() {
    let work = TempDir::new().unwrap();
    let dir = work.path().join("dist");
    let emu = Emulator::start(config());
    let dists = [
        wheel(&dir, "fault-proj", "1.0"),
        wheel(&dir, "fault-proj", "2.0"),
        wheel(&dir, "fault-proj", "3.0"),
    ];
    let mut args = vec!["-q"];
    args.extend(dists.iter().map(|d| d.path.to_str().unwrap()));
    cmd(&emu, "publish", &args).ok();
    // A wheel without page entry or .metadata, for regenerate to adopt.
    let stray = wheel(&dir, "fault-proj", "4.0");
    emu.seed(&stray.repo_path(), &std::fs::read(&stray.path).unwrap());
    emu.set_faults(FaultPlan::none().with_random(RandomFaults {
        probability: 0.2,
        faults: random_fault_kinds(),
        seed: 7,
        methods: Vec::new(),
    }));
    let started = Instant::now();
    cmd(&emu, "yank", &[&dists[0].filename, "--reason", "old"]).ok();
    cmd(&emu, "yank", &[&dists[1].filename]).ok();
    cmd(&emu, "unyank", &[&dists[1].filename]).ok();
    cmd(&emu, "remove", &[&dists[2].filename]).ok();
    cmd(&emu, "regenerate", &[]).ok();
    let list = cmd(&emu, "list", &["fault-proj"]).ok();
    let verify = cmd(&emu, "verify", &[]).ok();
    let faulted = emu.requests().iter().filter(|r| r.fault.is_some()).count();
    println!(
        "maintenance under faults: {faulted} of {} requests faulted, {:?}",
        emu.requests().len(),
        started.elapsed()
    );
    assert!(faulted >= 5, "too few faults to mean anything: {faulted}");
    emu.set_faults(FaultPlan::none());
    assert_eq!(list.stdout.lines().count(), 3, "{list}");
    assert!(verify.stdout.contains("0 problem(s)"), "{verify}");
    let files = emu.files();
    assert_valid(&files);
    assert_holds(&files, &[&dists[0], &dists[1], &stray]);
    assert_eq!(
        entry(&files, "fault-proj", &dists[0].filename).attr("data-yanked"),
        Some("old")
    );
    assert_eq!(
        entry(&files, "fault-proj", &dists[1].filename).attr("data-yanked"),
        None
    );
    assert!(!files.contains_key(&dists[2].repo_path()));
}
