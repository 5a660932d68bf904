//! `gt4py-publish doctor` through the binary: against the GitHub emulator (a healthy setup,
//! Pages off, on another branch, from `/docs`, built by a workflow, no write access, a PR-only
//! rule, no `.nojekyll`, no token, a refused token, a missing branch, SSO, the Actions
//! `GITHUB_TOKEN`) and on local index folders. Each case asserts the exit status and the line
//! that names the issue and its fix.

mod common;

use common::github::*;
use common::*;
use github_emulator::{Config, Emulator, Pages, PagesBuildType, Protection};
use tempfile::TempDir;

const SITE: &str = "https://gridtools.github.io/pypi/";
const READ_ONLY: &str = "ghp_ReadOnlyT0kenNeverPrinted0123456789ab";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// An emulator whose branch holds a published wheel (`.nojekyll`, root and project page) and
/// whose Pages site serves `main` from `/`.
fn healthy(work: &TempDir) -> Emulator {
    healthy_with(work, config())
}

fn healthy_with(work: &TempDir, config: Config) -> Emulator {
    let emu = Emulator::start(config);
    let dist = wheel(&work.path().join("dist"), "doctor-proj", "1.0");
    exec(gh(&emu, Some(TOKEN), "publish").args(["-q", dist.path.to_str().unwrap()])).ok();
    emu.set_pages(Some(Pages::legacy(BRANCH, SITE)));
    emu
}

/// `gt4py-publish doctor` against the emulator with `token` (if any).
fn doctor(emu: &Emulator, token: Option<&str>) -> Run {
    let run = exec(&mut gh(emu, token, "doctor"));
    for secret in [TOKEN, READ_ONLY] {
        assert!(
            !run.output().contains(secret),
            "a token was printed:\n{run}"
        );
    }
    run
}

/// The stdout line of `severity` for `check` (`problem      pages: …`).
fn line<'a>(run: &'a Run, severity: &str, check: &str) -> Option<&'a str> {
    let prefix = format!("{severity:<11}  {check}: ");
    run.stdout.lines().find(|l| l.starts_with(&prefix))
}

/// The line, which must be there and contain every one of `words`.
#[track_caller]
fn says(run: &Run, severity: &str, check: &str, words: &[&str]) {
    let found = line(run, severity, check)
        .unwrap_or_else(|| panic!("no `{severity}` line for {check}:\n{run}"));
    for word in words {
        assert!(found.contains(word), "`{word}` is not in\n  {found}\n{run}");
    }
}

fn problems(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with("problem "))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// GitHub
// ---------------------------------------------------------------------------------------------

/// Pages on `main` from `/`, `.nojekyll` and the pages present, a token that may push: every
/// check is `ok`, the exit status 0, and nothing was written.
#[test]
fn a_healthy_setup_passes() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    let commits = emu.commits().len();
    emu.reset_requests();
    let run = doctor(&emu, Some(TOKEN)).ok();
    assert!(problems(&run).is_empty(), "{run}");
    says(&run, "ok", "token", &["GT4PY_PUBLISH_TOKEN", "accepted"]);
    says(&run, "ok", "repository", &[REPO, "public"]);
    says(&run, "ok", "write access", &["permissions.push"]);
    says(&run, "ok", "branch", &["main exists", "not protected"]);
    says(&run, "ok", "rules", &["no ruleset"]);
    says(&run, "ok", "pages", &["serves main from /", SITE, "built"]);
    says(&run, "ok", ".nojekyll", &["present"]);
    says(&run, "ok", "root page", &["1 project(s)"]);
    says(&run, "ok", "project pages", &["1 page(s)", "1 file(s)"]);
    says(&run, "ok", "site size", &["GitHub Pages' 1 GB"]);
    says(&run, "ok", "large files", &["none above"]);
    assert!(run.stdout.contains("0 problem(s)"), "no count line:\n{run}");
    assert_eq!(emu.commits().len(), commits, "doctor wrote something");
    assert!(
        emu.requests().iter().all(|r| r.method == "GET"),
        "doctor made a request other than GET"
    );
}

/// A branch that exists but holds no index yet (the state before the first publish) passes:
/// the first publish writes `.nojekyll` and the pages.
#[test]
fn a_fresh_branch_passes_before_the_first_publish() {
    let emu = Emulator::start(config());
    emu.set_pages(Some(Pages::legacy(BRANCH, SITE)));
    let run = doctor(&emu, Some(TOKEN)).ok();
    says(&run, "ok", ".nojekyll", &["first publish"]);
    says(&run, "ok", "root page", &["empty index"]);
}

#[test]
fn pages_off_is_named_with_the_setting_to_change() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    emu.set_pages(None);
    let run = doctor(&emu, Some(TOKEN)).failed();
    says(
        &run,
        "problem",
        "pages",
        &[
            "GitHub Pages is off for GridTools/pypi",
            "fix:",
            "Settings → Pages",
            "Deploy from a branch",
            "main and / (root)",
        ],
    );
    assert_eq!(problems(&run).len(), 1, "{run}");
    assert!(run.stderr.contains("doctor found 1 problem(s)"), "{run}");
}

#[test]
fn pages_on_another_branch_is_named() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    emu.set_pages(Some(Pages::legacy("gh-pages", SITE)));
    let run = doctor(&emu, Some(TOKEN)).failed();
    says(
        &run,
        "problem",
        "pages",
        &[
            "serves gh-pages from /",
            "not main from /",
            "Deploy from a branch",
            "--branch gh-pages",
        ],
    );
}

#[test]
fn pages_from_the_docs_folder_is_named() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    emu.set_pages(Some(Pages {
        source_path: "/docs".into(),
        ..Pages::legacy(BRANCH, SITE)
    }));
    let run = doctor(&emu, Some(TOKEN)).failed();
    says(
        &run,
        "problem",
        "pages",
        &["serves main from /docs", "not main from /", "/ (root)"],
    );
    // The folder is wrong, not the branch: no advice to switch branches.
    assert!(!run.stdout.contains("--branch main"), "{run}");
}

/// A workflow-built site is not wrong, but the workflow must deploy the index: a warning.
#[test]
fn pages_built_by_a_workflow_is_a_warning() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    emu.set_pages(Some(Pages {
        build_type: PagesBuildType::Workflow,
        ..Pages::legacy(BRANCH, SITE)
    }));
    let run = doctor(&emu, Some(TOKEN)).ok();
    says(
        &run,
        "warning",
        "pages",
        &["GitHub Actions workflow builds the Pages site", SITE],
    );
}

/// A token that can read but not write: `permissions.push` is false.
#[test]
fn no_write_access_is_named() {
    let work = TempDir::new().unwrap();
    let emu = healthy_with(
        &work,
        Config {
            read_only_token: Some(READ_ONLY.into()),
            ..config()
        },
    );
    let run = doctor(&emu, Some(READ_ONLY)).failed();
    says(
        &run,
        "problem",
        "write access",
        &[
            "cannot write to GridTools/pypi",
            "permissions.push is false",
            "Contents: read and write",
        ],
    );
    assert_eq!(problems(&run).len(), 1, "{run}");
}

/// A ruleset that requires pull requests refuses every direct write.
#[test]
fn a_pull_request_only_rule_is_named() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    emu.set_protection(Some(Protection::pull_request()));
    let run = doctor(&emu, Some(TOKEN)).failed();
    says(&run, "ok", "branch", &["main exists (protected)"]);
    says(
        &run,
        "problem",
        "rules",
        &[
            "direct writes to main are refused",
            "`pull_request`",
            "through a pull request",
            "ruleset 1 of GridTools/pypi",
            "bypass list",
        ],
    );
}

/// Required status checks block direct writes too.
#[test]
fn a_status_check_rule_is_named() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    emu.set_protection(Some(Protection::status_checks(&["ci"])));
    let run = doctor(&emu, Some(TOKEN)).failed();
    says(&run, "problem", "rules", &["`required_status_checks`"]);
}

#[test]
fn a_missing_nojekyll_is_named() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    assert!(emu.remove(".nojekyll"));
    let run = doctor(&emu, Some(TOKEN)).failed();
    says(
        &run,
        "problem",
        ".nojekyll",
        &["missing at the root of the branch", "Jekyll", "regenerate"],
    );
    assert_eq!(problems(&run).len(), 1, "{run}");
}

/// Without a token a public repository is still checked (repository, branch, rules, Pages,
/// pages, sizes); what needs a token is `not checked`, and the missing token is a problem,
/// since publishing needs one.
#[test]
fn no_token_checks_what_it_can_and_fails() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    let run = doctor(&emu, None).failed();
    says(
        &run,
        "problem",
        "token",
        &["no token found", "GT4PY_PUBLISH_TOKEN", "--token-file"],
    );
    says(&run, "not checked", "write access", &["needs a token"]);
    says(&run, "ok", "repository", &["public"]);
    says(&run, "ok", "branch", &["main exists"]);
    says(&run, "ok", "rules", &[]);
    says(&run, "ok", "pages", &["serves main from /"]);
    says(&run, "ok", "root page", &[]);
    assert_eq!(problems(&run).len(), 1, "{run}");
}

#[test]
fn a_refused_token_is_named() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    let run = doctor(&emu, Some("ghp_NotTheRightToken000000000000000000000")).failed();
    assert!(!run.output().contains("ghp_NotTheRightToken"), "{run}");
    says(
        &run,
        "problem",
        "token",
        &["refused the token", "401", "create a new one"],
    );
    says(&run, "not checked", "pages", &["refused the token"]);
}

#[test]
fn a_missing_branch_is_named() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    let run = exec(
        tool()
            .args(["doctor", "--api-url", &emu.api_url(), "--repo", REPO])
            .args(["--branch", "gh-pages"])
            .env("GT4PY_PUBLISH_TOKEN", TOKEN),
    )
    .failed();
    says(
        &run,
        "problem",
        "branch",
        &["gh-pages does not exist", "--branch"],
    );
    says(&run, "not checked", "index", &["gh-pages does not exist"]);
    // Pages serves main, not the branch asked about.
    says(
        &run,
        "problem",
        "pages",
        &["serves main from /", "--branch main"],
    );
}

/// An organization enforcing SAML SSO refuses the token: the repository line says so.
#[test]
fn sso_enforcement_is_named() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    emu.set_sso_required(Some(
        "https://github.com/orgs/GridTools/sso?authorization_request=x",
    ));
    let run = doctor(&emu, Some(TOKEN)).failed();
    says(&run, "problem", "repository", &["SAML"]);
    says(&run, "not checked", "write access", &[]);
}

/// In GitHub Actions, the token from `GITHUB_TOKEN` is most likely the workflow's own, whose
/// commits start no Pages build.
#[test]
fn the_actions_github_token_is_a_warning() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    let run = exec(
        tool()
            .arg("doctor")
            .args(target_args(&emu))
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_TOKEN", TOKEN),
    )
    .ok();
    assert!(!run.output().contains(TOKEN), "{run}");
    says(
        &run,
        "warning",
        "token",
        &["GITHUB_TOKEN", "no GitHub Pages build", "GitHub App token"],
    );
}

/// `-q` prints only what is not `ok`, and no count line.
#[test]
fn quiet_prints_only_what_needs_attention() {
    let work = TempDir::new().unwrap();
    let emu = healthy(&work);
    assert!(emu.remove(".nojekyll"));
    let run = exec(gh(&emu, Some(TOKEN), "doctor").arg("-q")).failed();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{run}");
    assert!(lines[0].starts_with("problem      .nojekyll: "), "{run}");
}

// ---------------------------------------------------------------------------------------------
// Local index
// ---------------------------------------------------------------------------------------------

fn local_index(work: &TempDir) -> std::path::PathBuf {
    let index = work.path().join("index");
    let dist = wheel(&work.path().join("dist"), "local-proj", "1.0");
    exec(
        tool()
            .args(["-q", "--index-dir"])
            .arg(&index)
            .arg(&dist.path),
    )
    .ok();
    index
}

fn local_doctor(index: &std::path::Path) -> Run {
    exec(tool().args(["doctor", "--index-dir"]).arg(index))
}

#[test]
fn a_healthy_index_dir_passes() {
    let work = TempDir::new().unwrap();
    let index = local_index(&work);
    let run = local_doctor(&index).ok();
    assert!(problems(&run).is_empty(), "{run}");
    says(&run, "ok", "index folder", &["exists"]);
    says(
        &run,
        "not checked",
        "github",
        &["GitHub Pages", "local index"],
    );
    says(&run, "ok", ".nojekyll", &["present"]);
    says(&run, "ok", "root page", &["1 project(s)"]);
    says(&run, "ok", "project pages", &["1 page(s)"]);
    says(&run, "ok", "site size", &["1 GB"]);
    says(&run, "ok", "large files", &["none above"]);
}

/// No `.nojekyll`, a project page gone, a file the page lists gone: each named.
#[test]
fn a_broken_index_dir_is_named() {
    let work = TempDir::new().unwrap();
    let index = local_index(&work);
    std::fs::remove_file(index.join(".nojekyll")).unwrap();
    std::fs::remove_file(index.join("local-proj/index.html")).unwrap();
    let run = local_doctor(&index).failed();
    says(
        &run,
        "problem",
        ".nojekyll",
        &["missing at the root of the folder"],
    );
    says(
        &run,
        "problem",
        "project pages",
        &[
            "links `local-proj/`",
            "local-proj/index.html is missing",
            "regenerate",
        ],
    );
    assert_eq!(problems(&run).len(), 2, "{run}");

    // A root page that is not a page at all.
    std::fs::write(index.join("index.html"), [0xff, 0xfe, 0x00]).unwrap();
    let run = local_doctor(&index).failed();
    says(
        &run,
        "problem",
        "root page",
        &["cannot be read", "regenerate"],
    );
}

#[test]
fn a_missing_index_dir_is_named() {
    let work = TempDir::new().unwrap();
    let run = local_doctor(&work.path().join("nowhere")).failed();
    says(
        &run,
        "problem",
        "index folder",
        &["does not exist", "--index-dir"],
    );
    says(&run, "not checked", "index", &["no folder"]);
}
