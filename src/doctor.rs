//! `doctor`: checks a target before the first publish and names each problem with its fix.
//!
//! Two halves, so the judgement is tested without any I/O:
//! - gathering ([`gather_github`], [`gather_local`]) asks GitHub (or the disk) and keeps the
//!   answers, failures included, in a plain [`Facts`] struct;
//! - [`diagnose`] turns the facts into [`Finding`]s: `ok`, `warning`, `problem` (with the fix)
//!   or `not checked` (with the reason, e.g. no token).
//!
//! On GitHub it checks the token (present, accepted, `permissions.push`), the repository, the
//! branch, the rules and branch protection that refuse direct writes, how GitHub Pages serves
//! the branch, `.nojekyll`, the root and project pages, the site's size against Pages' 1 GB
//! limit and files above the upload body ceiling. On a local index the GitHub checks are `not
//! checked (local index)`.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::github::GitHubTarget;
use crate::github::client::chain;
use crate::github::inspect::{BranchInfo, BranchRule, PagesSite, RepoInfo};
use crate::github::token::TokenSource;
use crate::name::ProjectName;
use crate::report::{Event, Reporter};
use crate::state::{self, StateError};
use crate::target::Target;
use crate::target::local::LocalDir;

/// GitHub Pages sites "may be no larger than 1 GB" (GitHub's Pages limits); read as 10^9 bytes.
pub const PAGES_SITE_LIMIT: u64 = 1_000_000_000;
/// From this share of [`PAGES_SITE_LIMIT`] on, the size is a warning.
pub const PAGES_WARN_PERCENT: u64 = 75;
/// GitHub cuts request bodies off near 40 MB (DESIGN.md §3): the default upload body ceiling.
pub const DEFAULT_BODY_CEILING: u64 = 40 * 1024 * 1024;

/// How many paths a finding names before it says "and N more".
const NAMES_SHOWN: usize = 5;

// ---------------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------------

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Ok,
    /// Works, but something deserves attention.
    Warning,
    /// Publishing would fail, or the published index would not be served; the run exits 1.
    Problem,
    /// Could not be checked (no token, local index, a refused request): says why.
    NotChecked,
}

impl Severity {
    /// The word that starts the finding's line.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Problem => "problem",
            Severity::NotChecked => "not checked",
        }
    }
}

/// One checked thing and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// What was checked: `token`, `write access`, `branch`, `rules`, `pages`, `.nojekyll`, …
    pub check: &'static str,
    pub text: String,
    /// What to do about it (problems always have one; warnings and not-checked items may).
    pub fix: Option<String>,
}

impl Finding {
    fn new(severity: Severity, check: &'static str, text: impl Into<String>) -> Self {
        Self {
            severity,
            check,
            text: text.into(),
            fix: None,
        }
    }

    fn ok(check: &'static str, text: impl Into<String>) -> Self {
        Self::new(Severity::Ok, check, text)
    }

    fn warning(check: &'static str, text: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(Severity::Warning, check, text).with_fix(fix)
    }

    fn problem(check: &'static str, text: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(Severity::Problem, check, text).with_fix(fix)
    }

    fn not_checked(check: &'static str, text: impl Into<String>) -> Self {
        Self::new(Severity::NotChecked, check, text)
    }

    fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// `problem      pages: GitHub Pages is off for o/r; fix: …` — the label padded to the width
/// of `not checked`, so the checks line up.
impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<11}  {}: {}",
            self.severity.label(),
            self.check,
            self.text
        )?;
        if let Some(fix) = &self.fix {
            write!(f, "; fix: {fix}")?;
        }
        Ok(())
    }
}

/// The number of findings with this severity.
pub fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

/// One line per finding, then a count line. With `quiet`, only what is not `ok`, and no count.
pub fn write_findings(
    out: &mut dyn Write,
    location: &str,
    findings: &[Finding],
    quiet: bool,
) -> io::Result<()> {
    for finding in findings {
        if quiet && finding.severity == Severity::Ok {
            continue;
        }
        writeln!(out, "{finding}")?;
    }
    if !quiet {
        writeln!(
            out,
            "Checked {location}: {} ok, {} warning(s), {} problem(s), {} not checked.",
            count(findings, Severity::Ok),
            count(findings, Severity::Warning),
            count(findings, Severity::Problem),
            count(findings, Severity::NotChecked),
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Facts
// ---------------------------------------------------------------------------------------------

/// What one question answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact<T> {
    Known(T),
    /// The request failed: GitHub's status when it answered, and the error in words.
    Failed {
        status: Option<u16>,
        error: String,
    },
    /// Not asked, and why (an earlier answer made the question pointless).
    Skipped(String),
}

impl<T> Fact<T> {
    fn from_result<E: std::error::Error>(
        result: Result<T, E>,
        status: impl Fn(&E) -> Option<u16>,
    ) -> Self {
        match result {
            Ok(value) => Fact::Known(value),
            Err(e) => Fact::Failed {
                status: status(&e),
                error: chain(&e),
            },
        }
    }

    fn known(&self) -> Option<&T> {
        match self {
            Fact::Known(value) => Some(value),
            _ => None,
        }
    }

    /// Why there is no value, in words.
    fn reason(&self) -> String {
        match self {
            Fact::Known(_) => String::new(),
            Fact::Failed { error, .. } => error.clone(),
            Fact::Skipped(why) => why.clone(),
        }
    }
}

fn github_fact<T>(result: Result<T, crate::github::GitHubError>) -> Fact<T> {
    Fact::from_result(result, |e| e.status())
}

/// Everything [`diagnose`] judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `GridTools/pypi@main` or the folder.
    pub location: String,
    pub place: Place,
    pub index: Fact<IndexFacts>,
    pub files: Fact<SiteFiles>,
    pub limits: Limits,
}

/// Where the index is, with the facts only that kind of place has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Local { dir: PathBuf, state: DirState },
    GitHub(Box<GitHubFacts>),
}

/// The `--index-dir` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirState {
    Directory,
    Missing,
    NotADirectory,
    Unreadable(String),
}

/// The answers GitHub gave about the repository, the branch, its rules and Pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubFacts {
    pub repo: String,
    pub branch: String,
    /// `None`: no token was found.
    pub token: Option<TokenFacts>,
    pub repository: Fact<RepoInfo>,
    /// `Known(None)`: GitHub answered 404 for the branch.
    pub branch_info: Fact<Option<BranchInfo>>,
    pub rules: Fact<Vec<RuleFact>>,
    /// `Known(None)`: Pages is off (a 404 seen without a token, or with one on a public
    /// repository confirmed without it).
    pub pages: Fact<Option<PagesSite>>,
    /// The token was refused the Pages settings (403/404) and they were read without it.
    pub pages_read_without_token: bool,
}

/// Where the token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    /// `the GT4PY_PUBLISH_TOKEN environment variable`, `the token file PATH`.
    pub source: String,
    /// In GitHub Actions with the token from `GITHUB_TOKEN`: most likely the workflow's own
    /// token, whose commits start no Pages build.
    pub actions_github_token: bool,
}

/// The facts about a token, from where it was found; `in_actions` is `GITHUB_ACTIONS=true`.
pub fn token_facts(source: &TokenSource, in_actions: bool) -> TokenFacts {
    TokenFacts {
        source: source.to_string(),
        actions_github_token: in_actions && *source == TokenSource::Env("GITHUB_TOKEN"),
    }
}

/// A rule that applies to the branch, and whether the token's actor may bypass its ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFact {
    pub rule: BranchRule,
    /// `current_user_can_bypass` of the ruleset (`always`, `exempt`, `pull_requests_only`,
    /// `never`); `None` when not known.
    pub bypass: Option<String>,
}

/// The index as the pages describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFacts {
    pub has_nojekyll: bool,
    pub root: PageFact,
    /// Top-level folders (not starting with `.`).
    pub folders: Vec<String>,
    /// The projects the root page links, when it could be read.
    pub projects: Vec<ProjectFacts>,
}

impl IndexFacts {
    /// Nothing published yet: the first publish writes `.nojekyll` and the pages.
    fn is_empty(&self) -> bool {
        self.root == PageFact::Missing && self.folders.is_empty()
    }
}

/// A page of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageFact {
    Missing,
    /// It is there but cannot be read or parsed: why.
    Unreadable(String),
    /// Read and parsed: how many links (projects on the root page, files on a project page).
    Read {
        entries: usize,
    },
}

/// One project linked from the root page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFacts {
    pub name: String,
    pub page: PageFact,
    /// Files the page lists that are not in the folder.
    pub missing_files: Vec<String>,
}

/// Every file the site serves, with its size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteFiles {
    pub files: Vec<(String, u64)>,
    /// The listing is partial (GitHub truncated it): sizes are lower bounds.
    pub truncated: bool,
}

/// The limits the checks compare against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// GitHub Pages' site limit ([`PAGES_SITE_LIMIT`]).
    pub site_max: u64,
    /// The largest upload body sent to GitHub in one request (`--max-blob-size`).
    pub body_ceiling: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            site_max: PAGES_SITE_LIMIT,
            body_ceiling: DEFAULT_BODY_CEILING,
        }
    }
}

impl Limits {
    /// The largest file whose base64 upload body (plus a few KiB of JSON) fits the ceiling, as
    /// publishing computes it.
    pub fn largest_upload(&self) -> u64 {
        crate::github::contents::largest_file_for_body(self.body_ceiling)
    }
}

// ---------------------------------------------------------------------------------------------
// Gathering (I/O)
// ---------------------------------------------------------------------------------------------

/// Asks GitHub everything `doctor` judges. Nothing is written. `token` is `None` when no token
/// was found (the target then makes anonymous requests).
pub fn gather_github(
    target: &GitHubTarget<'_>,
    token: Option<TokenFacts>,
    limits: Limits,
    reporter: &dyn Reporter,
) -> Facts {
    let repo = target.repo().to_string();
    let branch = target.branch().to_string();
    reporter.event(Event::Detail(&format!("doctor: checking {repo}@{branch}")));
    let repository = github_fact(target.repository_info());
    let stop = match &repository {
        Fact::Known(_) => None,
        Fact::Failed {
            status: Some(401), ..
        } => Some("GitHub refused the token".to_string()),
        Fact::Failed {
            status: Some(404), ..
        } => Some(format!("{repo} is not visible")),
        _ => Some(format!("{repo} could not be read")),
    };
    let mut facts = GitHubFacts {
        repo: repo.clone(),
        branch: branch.clone(),
        token,
        repository,
        branch_info: Fact::Skipped(String::new()),
        rules: Fact::Skipped(String::new()),
        pages: Fact::Skipped(String::new()),
        pages_read_without_token: false,
    };
    if let Some(why) = stop {
        facts.branch_info = Fact::Skipped(why.clone());
        facts.rules = Fact::Skipped(why.clone());
        facts.pages = Fact::Skipped(why.clone());
        return Facts {
            location: target.location(),
            place: Place::GitHub(Box::new(facts)),
            index: Fact::Skipped(why.clone()),
            files: Fact::Skipped(why),
            limits,
        };
    }
    facts.branch_info = github_fact(target.branch_info());
    facts.rules = gather_rules(target);
    let public = facts.repository.known().is_some_and(|r| !r.private);
    let (pages, without_token) = gather_pages(target, public);
    facts.pages = pages;
    facts.pages_read_without_token = without_token;

    let (index, files) = match &facts.branch_info {
        Fact::Known(Some(_)) => match target.snapshot() {
            Ok(_) => (
                gather_index(target, reporter),
                github_fact(target.branch_files()).map(|b| SiteFiles {
                    files: b.files,
                    truncated: b.truncated,
                }),
            ),
            Err(e) => {
                let error = chain(&e);
                (
                    Fact::Failed {
                        status: None,
                        error: error.clone(),
                    },
                    Fact::Failed {
                        status: None,
                        error,
                    },
                )
            }
        },
        Fact::Known(None) => {
            let why = format!("branch {branch} does not exist");
            (Fact::Skipped(why.clone()), Fact::Skipped(why))
        }
        other => {
            let why = format!("branch {branch} could not be read: {}", other.reason());
            (Fact::Skipped(why.clone()), Fact::Skipped(why))
        }
    };
    Facts {
        location: target.location(),
        place: Place::GitHub(Box::new(facts)),
        index,
        files,
        limits,
    }
}

impl<T> Fact<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Fact<U> {
        match self {
            Fact::Known(value) => Fact::Known(f(value)),
            Fact::Failed { status, error } => Fact::Failed { status, error },
            Fact::Skipped(why) => Fact::Skipped(why),
        }
    }
}

/// The branch's rules, with the bypass of each ruleset whose rules would refuse writes (asked
/// once per ruleset, and only with a token: anonymous requests bypass nothing).
fn gather_rules(target: &GitHubTarget<'_>) -> Fact<Vec<RuleFact>> {
    let rules = match target.branch_rules() {
        Ok(rules) => rules,
        Err(e) => return github_fact(Err(e)),
    };
    let mut bypasses: Vec<(u64, Option<String>)> = Vec::new();
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        let bypass = match rule.ruleset_id {
            Some(id) if target.has_token() && rule_effect(&rule.kind) != RuleEffect::Harmless => {
                match bypasses.iter().find(|(known, _)| *known == id) {
                    Some((_, bypass)) => bypass.clone(),
                    None => {
                        let bypass = target.ruleset_bypass(id).ok().flatten();
                        bypasses.push((id, bypass.clone()));
                        bypass
                    }
                }
            }
            _ => None,
        };
        out.push(RuleFact { rule, bypass });
    }
    Fact::Known(out)
}

/// The Pages site. With a token, a 403 or 404 may only mean the token lacks Pages: read
/// (fine-grained tokens need it): a public repository is then asked again without the token.
fn gather_pages(target: &GitHubTarget<'_>, public: bool) -> (Fact<Option<PagesSite>>, bool) {
    let answer = target.pages_site();
    if !target.has_token() {
        return (github_fact(answer), false);
    }
    let refused = match &answer {
        Ok(None) => Some(404),
        Err(e) if e.status() == Some(403) => Some(403),
        _ => None,
    };
    let Some(status) = refused else {
        return (github_fact(answer), false);
    };
    if public {
        return match target.pages_site_without_token() {
            Ok(site) => (Fact::Known(site), true),
            Err(e) => (github_fact(Err(e)), false),
        };
    }
    let error = match answer {
        Err(e) => chain(&e),
        Ok(_) => "GitHub answered 404 Not Found".to_string(),
    };
    (
        Fact::Failed {
            status: Some(status),
            error,
        },
        false,
    )
}

/// Checks a local index folder.
pub fn gather_local(dir: &Path, limits: Limits, reporter: &dyn Reporter) -> Facts {
    reporter.event(Event::Detail(&format!(
        "doctor: checking {}",
        dir.display()
    )));
    let state = match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => DirState::Directory,
        Ok(_) => DirState::NotADirectory,
        Err(e) if e.kind() == io::ErrorKind::NotFound => DirState::Missing,
        Err(e) => DirState::Unreadable(e.to_string()),
    };
    let (index, files) = if state == DirState::Directory {
        let target = LocalDir::new(dir);
        (gather_index(&target, reporter), local_files(dir))
    } else {
        let why = format!("there is no folder {}", dir.display());
        (Fact::Skipped(why.clone()), Fact::Skipped(why))
    };
    Facts {
        location: dir.display().to_string(),
        place: Place::Local {
            dir: dir.to_path_buf(),
            state,
        },
        index,
        files,
        limits,
    }
}

/// Reads the root page and every project page it links, with the state code that publishing
/// uses, so a page doctor reads is a page a publish can read.
fn gather_index(target: &dyn Target, reporter: &dyn Reporter) -> Fact<IndexFacts> {
    let root = match state::read_root(target, reporter) {
        Ok(root) => root,
        Err(StateError::Page { path, source }) => {
            let error = format!("{path}: {}", chain(&source));
            return match target.list_dir("") {
                Ok(listing) => {
                    let listing = listing.unwrap_or_default();
                    Fact::Known(IndexFacts {
                        has_nojekyll: listing
                            .iter()
                            .any(|e| e.name == state::NOJEKYLL && !e.is_dir),
                        root: PageFact::Unreadable(error),
                        folders: listing
                            .iter()
                            .filter(|e| e.is_dir && !e.name.starts_with('.'))
                            .map(|e| e.name.clone())
                            .collect(),
                        projects: Vec::new(),
                    })
                }
                Err(e) => Fact::from_result(Err(e), |_| None),
            };
        }
        Err(e) => return Fact::from_result(Err(e), |_| None),
    };
    let root_page = match &root.stored {
        Some(_) => PageFact::Read {
            entries: root.page.len(),
        },
        None => PageFact::Missing,
    };
    let projects = root
        .page
        .projects()
        .map(|project| project_facts(target, project, reporter))
        .collect();
    Fact::Known(IndexFacts {
        has_nojekyll: root.has_nojekyll,
        root: root_page,
        folders: root.folders,
        projects,
    })
}

fn project_facts(
    target: &dyn Target,
    project: &ProjectName,
    reporter: &dyn Reporter,
) -> ProjectFacts {
    let name = project.to_string();
    match state::read_project(target, project, &[], reporter) {
        Ok(read) if read.stored_page.is_none() => ProjectFacts {
            name,
            page: PageFact::Missing,
            missing_files: Vec::new(),
        },
        Ok(read) => ProjectFacts {
            name,
            page: PageFact::Read {
                entries: read.page.len(),
            },
            missing_files: read
                .page
                .entries()
                .filter(|e| !read.has_file(&e.filename))
                .map(|e| e.filename.clone())
                .collect(),
        },
        Err(e) => ProjectFacts {
            name,
            page: PageFact::Unreadable(chain(&e)),
            missing_files: Vec::new(),
        },
    }
}

/// Every file below `dir` with its size; symbolic links are not followed, `.git` and the
/// tool's own lock and temporary files are left out (GitHub Pages serves none of them).
fn local_files(dir: &Path) -> Fact<SiteFiles> {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, u64)>) -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == ".git" || name.starts_with(".gt4py-publish.") {
                continue;
            }
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                walk(root, &path, files)?;
            } else if meta.is_file() {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                files.push((relative.to_string_lossy().into_owned(), meta.len()));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    match walk(dir, dir, &mut files) {
        Ok(()) => {
            files.sort();
            Fact::Known(SiteFiles {
                files,
                truncated: false,
            })
        }
        Err(e) => Fact::Failed {
            status: None,
            error: format!("listing {}: {e}", dir.display()),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Diagnosis (pure)
// ---------------------------------------------------------------------------------------------

/// Judges the facts: one finding per check, in the order a maintainer would fix them.
pub fn diagnose(facts: &Facts) -> Vec<Finding> {
    let mut findings = Vec::new();
    let local = match &facts.place {
        Place::GitHub(github) => {
            diagnose_github(github, &mut findings);
            false
        }
        Place::Local { dir, state } => {
            diagnose_folder(dir, state, &mut findings);
            true
        }
    };
    diagnose_index(&facts.index, local, &mut findings);
    diagnose_size(&facts.files, &facts.limits, local, &mut findings);
    findings
}

const TOKEN_FIX: &str = "set GT4PY_PUBLISH_TOKEN (or GH_TOKEN / GITHUB_TOKEN) to a token with \
                         Contents: read and write on the repository, or pass --token-file";

fn diagnose_folder(dir: &Path, state: &DirState, findings: &mut Vec<Finding>) {
    let shown = dir.display();
    findings.push(match state {
        DirState::Directory => Finding::ok("index folder", format!("{shown} exists")),
        DirState::Missing => Finding::problem(
            "index folder",
            format!("{shown} does not exist"),
            "check --index-dir (a publish would create the folder)",
        ),
        DirState::NotADirectory => Finding::problem(
            "index folder",
            format!("{shown} is not a folder"),
            "pass the index folder with --index-dir",
        ),
        DirState::Unreadable(error) => Finding::problem(
            "index folder",
            format!("{shown} cannot be read: {error}"),
            "check the path and its permissions",
        ),
    });
    findings.push(Finding::not_checked(
        "github",
        "token, write access, branch rules and GitHub Pages (local index)",
    ));
}

fn diagnose_github(facts: &GitHubFacts, findings: &mut Vec<Finding>) {
    let repo = &facts.repo;
    let branch = &facts.branch;
    let refused_token = matches!(
        facts.repository,
        Fact::Failed {
            status: Some(401),
            ..
        }
    );

    // The token.
    match &facts.token {
        None => findings.push(Finding::problem(
            "token",
            format!("no token found; publishing to {repo} needs one"),
            TOKEN_FIX,
        )),
        Some(token) if refused_token => findings.push(Finding::problem(
            "token",
            format!(
                "GitHub refused the token from {} (401 Bad credentials)",
                token.source
            ),
            format!(
                "the token is expired, revoked or mistyped: create a new one with Contents: \
                 read and write on {repo}"
            ),
        )),
        Some(token) => {
            let accepted = if facts.repository.known().is_some() {
                ", accepted by GitHub"
            } else {
                ""
            };
            findings.push(Finding::ok(
                "token",
                format!("from {}{accepted}", token.source),
            ));
            if token.actions_github_token {
                findings.push(Finding::warning(
                    "token",
                    "this is the workflow's GITHUB_TOKEN: commits made with it start no GitHub \
                     Pages build, so published files are not served until something else \
                     builds the site",
                    "pass a fine-grained token or a GitHub App token in GT4PY_PUBLISH_TOKEN",
                ));
            }
        }
    }

    // The repository and write access.
    let who = if facts.token.is_some() {
        "to the token"
    } else {
        "without a token"
    };
    match &facts.repository {
        Fact::Known(info) => {
            let visibility = if info.private { "private" } else { "public" };
            findings.push(Finding::ok("repository", format!("{repo} ({visibility})")));
            if info.archived {
                findings.push(Finding::problem(
                    "repository",
                    format!("{repo} is archived: GitHub refuses every write"),
                    "unarchive it (Settings → General → Danger Zone) or publish to another \
                     repository with --repo",
                ));
            }
        }
        Fact::Failed {
            status: Some(401), ..
        } => findings.push(Finding::not_checked(
            "repository",
            "GitHub refused the token",
        )),
        Fact::Failed {
            status: Some(404), ..
        } => findings.push(Finding::problem(
            "repository",
            format!("{repo} was not found, or is not visible {who}"),
            if facts.token.is_some() {
                "check --repo (OWNER/NAME) and that the token may read the repository".to_string()
            } else {
                format!(
                    "check --repo (OWNER/NAME); a private repository needs a token: {TOKEN_FIX}"
                )
            },
        )),
        other => findings.push(Finding::problem(
            "repository",
            format!("{repo} could not be read: {}", other.reason()),
            "check --api-url and the network, then run doctor again (-v shows every request)",
        )),
    }
    findings.push(match (&facts.token, &facts.repository) {
        (None, _) => Finding::not_checked("write access", "needs a token"),
        (Some(_), Fact::Known(info)) => match info.permissions {
            Some(p) if p.push => Finding::ok(
                "write access",
                format!("the token may push to {repo} (permissions.push)"),
            ),
            Some(_) => Finding::problem(
                "write access",
                format!("the token cannot write to {repo} (permissions.push is false)"),
                format!(
                    "give it Contents: read and write on {repo} (fine-grained token or GitHub \
                     App), or use a classic token with the repo scope of an account that may \
                     push"
                ),
            ),
            None => Finding::not_checked(
                "write access",
                "GitHub's answer carries no permissions for the token",
            ),
        },
        (Some(_), _) if refused_token => {
            Finding::not_checked("write access", "GitHub refused the token")
        }
        (Some(_), other) => Finding::not_checked("write access", other.reason()),
    });

    // The branch.
    let protected = match &facts.branch_info {
        Fact::Known(Some(info)) => {
            let note = if info.protected {
                "protected"
            } else {
                "not protected"
            };
            findings.push(Finding::ok("branch", format!("{branch} exists ({note})")));
            info.protected
        }
        Fact::Known(None) => {
            findings.push(Finding::problem(
                "branch",
                format!("{branch} does not exist in {repo} (or the repository is empty)"),
                format!(
                    "pass --branch with the branch GitHub Pages serves, or create {branch} \
                     with a first commit (an empty .nojekyll will do)"
                ),
            ));
            false
        }
        other => {
            findings.push(Finding::not_checked("branch", other.reason()));
            false
        }
    };

    diagnose_rules(facts, protected, findings);
    diagnose_pages(facts, findings);
}

/// What a rule does to the tool's direct commits (Contents API writes, fast-forward ref
/// updates of commits made by the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleEffect {
    /// Refuses every direct write.
    Blocks,
    /// May refuse some commits, depending on its parameters.
    MayBlock,
    /// Does not touch a fast-forward commit to an existing branch.
    Harmless,
}

fn rule_effect(kind: &str) -> RuleEffect {
    match kind {
        "pull_request"
        | "required_status_checks"
        | "update"
        | "required_deployments"
        | "merge_queue" => RuleEffect::Blocks,
        "non_fast_forward"
        | "deletion"
        | "creation"
        | "required_linear_history"
        | "branch_name_pattern"
        | "tag_name_pattern" => RuleEffect::Harmless,
        // Signatures, commit message and e-mail patterns, file path, extension and size
        // restrictions, workflows, code scanning, and kinds this version does not know.
        _ => RuleEffect::MayBlock,
    }
}

/// `pull_request` (changes must be made through a pull request), for messages.
fn describe_rule(rule: &BranchRule) -> String {
    let what = match rule.kind.as_str() {
        "pull_request" => " (changes must be made through a pull request)",
        "required_status_checks" => " (status checks must pass before a commit lands)",
        "update" => " (only bypass actors may update the branch)",
        "required_deployments" => " (deployments must succeed first)",
        "merge_queue" => " (changes must go through a merge queue)",
        "required_signatures" => " (commits must be signed)",
        "max_file_size" => " (files above a size are refused)",
        _ => "",
    };
    let source = match (&rule.ruleset_id, &rule.ruleset_source) {
        (Some(id), Some(source)) => format!(" from ruleset {id} of {source}"),
        (Some(id), None) => format!(" from ruleset {id}"),
        (None, Some(source)) => format!(" from a ruleset of {source}"),
        (None, None) => String::new(),
    };
    format!("`{}`{what}{source}", rule.kind)
}

fn may_bypass(rule: &RuleFact) -> bool {
    matches!(rule.bypass.as_deref(), Some("always" | "exempt"))
}

fn diagnose_rules(facts: &GitHubFacts, protected: bool, findings: &mut Vec<Finding>) {
    let branch = &facts.branch;
    let protection_warning = || {
        Finding::warning(
            "rules",
            format!(
                "{branch} is protected but no ruleset applies to it, so classic branch \
                 protection does; its settings are readable only with admin access"
            ),
            format!(
                "check Settings → Branches: the rule for {branch} must not require pull requests \
                 or status checks, or must let the token's user or app bypass it"
            ),
        )
    };
    let rules = match &facts.rules {
        Fact::Known(rules) => rules,
        other => {
            findings.push(Finding::not_checked("rules", other.reason()));
            if protected {
                findings.push(protection_warning());
            }
            return;
        }
    };
    let listed = |rules: &[&RuleFact]| {
        rules
            .iter()
            .map(|r| describe_rule(&r.rule))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (bypassed, active): (Vec<&RuleFact>, Vec<&RuleFact>) = rules
        .iter()
        .filter(|r| rule_effect(&r.rule.kind) != RuleEffect::Harmless)
        .partition(|r| may_bypass(r));
    let blocking: Vec<&RuleFact> = active
        .iter()
        .copied()
        .filter(|r| rule_effect(&r.rule.kind) == RuleEffect::Blocks)
        .collect();
    let maybe: Vec<&RuleFact> = active
        .iter()
        .copied()
        .filter(|r| rule_effect(&r.rule.kind) == RuleEffect::MayBlock)
        .collect();
    if !blocking.is_empty() {
        let unknown = if facts.token.is_none() {
            " (without a token doctor cannot tell whether you may bypass them)"
        } else {
            ""
        };
        findings.push(Finding::problem(
            "rules",
            format!(
                "direct writes to {branch} are refused by {}{unknown}",
                listed(&blocking)
            ),
            "add the token's user or GitHub App to the ruleset's bypass list (Settings → Rules → \
             Rulesets), remove the rule from the branch, or publish to an unprotected branch that \
             GitHub Pages serves",
        ));
    }
    if !maybe.is_empty() {
        findings.push(Finding::warning(
            "rules",
            format!(
                "{branch} has rules that may refuse some commits: {}",
                listed(&maybe)
            ),
            "make sure commits made with the token satisfy them, or add the token's user or app \
             to the ruleset's bypass list",
        ));
    }
    if !bypassed.is_empty() {
        findings.push(Finding::ok(
            "rules",
            format!(
                "{} apply to {branch}, but the token may bypass them",
                listed(&bypassed)
            ),
        ));
    }
    if blocking.is_empty() && maybe.is_empty() {
        if protected && rules.is_empty() {
            findings.push(protection_warning());
        } else if bypassed.is_empty() {
            findings.push(Finding::ok(
                "rules",
                format!("no ruleset or branch protection refuses direct writes to {branch}"),
            ));
        }
    }
}

fn diagnose_pages(facts: &GitHubFacts, findings: &mut Vec<Finding>) {
    let repo = &facts.repo;
    let branch = &facts.branch;
    let settings = format!(
        "in Settings → Pages → Build and deployment choose Source: Deploy from a branch, then \
         {branch} and / (root)"
    );
    let site = match &facts.pages {
        Fact::Known(Some(site)) => site,
        Fact::Known(None) => {
            findings.push(Finding::problem(
                "pages",
                format!("GitHub Pages is off for {repo}: nothing is served"),
                format!("enable it: {settings}"),
            ));
            return;
        }
        Fact::Failed {
            status: Some(status @ (403 | 404)),
            ..
        } if facts.token.is_some() => {
            findings.push(
                Finding::not_checked(
                    "pages",
                    format!(
                        "GitHub answered {status} to the Pages settings: Pages is off, or the \
                         token lacks Pages: read (fine-grained tokens need it to read them)"
                    ),
                )
                .with_fix(format!(
                    "give the token Pages: read and run doctor again, or check yourself: {settings}"
                )),
            );
            return;
        }
        other => {
            findings.push(Finding::not_checked("pages", other.reason()));
            return;
        }
    };
    let url = site
        .html_url
        .as_deref()
        .map(|u| format!(" at {u}"))
        .unwrap_or_default();
    let status = site
        .status
        .as_deref()
        .map(|s| format!(", status {s}"))
        .unwrap_or_default();
    let anonymous = if facts.pages_read_without_token {
        " (read without the token, which lacks Pages: read)"
    } else {
        ""
    };
    match site.build_type.as_deref() {
        Some("workflow") => findings.push(Finding::warning(
            "pages",
            format!(
                "a GitHub Actions workflow builds the Pages site{url}{status}{anonymous}: the \
                 index files on {branch} are served only if that workflow deploys them as they are"
            ),
            format!(
                "make the workflow upload {branch} from / unchanged, or serve the branch directly: \
                 {settings}"
            ),
        )),
        _ => {
            let (source_branch, source_path) = site
                .source
                .as_ref()
                .map(|s| (s.branch.as_str(), s.path.as_str()))
                .unwrap_or(("", ""));
            if source_branch == branch.as_str() && source_path == "/" {
                findings.push(Finding::ok(
                    "pages",
                    format!("GitHub Pages serves {branch} from /{url}{status}{anonymous}"),
                ));
            } else {
                let other_branch = if source_path == "/" && source_branch != branch.as_str() {
                    format!(", or publish to that branch with --branch {source_branch}")
                } else {
                    String::new()
                };
                findings.push(Finding::problem(
                    "pages",
                    format!(
                        "GitHub Pages serves {} from {}, not {branch} from /: the index \
                         files are not served{url}",
                        if source_branch.is_empty() {
                            "an unknown branch"
                        } else {
                            source_branch
                        },
                        if source_path.is_empty() {
                            "an unknown folder"
                        } else {
                            source_path
                        },
                    ),
                    format!("{settings}{other_branch}"),
                ));
            }
        }
    }
    if site.status.as_deref() == Some("errored") {
        findings.push(Finding::warning(
            "pages",
            "the last GitHub Pages build failed (status errored)",
            "open the repository's Actions tab (pages build and deployment) for the error",
        ));
    }
}

/// `a, b, c and 2 more`.
fn some_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    let mut text = names
        .iter()
        .take(NAMES_SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMES_SHOWN {
        text.push_str(&format!(" and {} more", names.len() - NAMES_SHOWN));
    }
    text
}

fn diagnose_index(index: &Fact<IndexFacts>, local: bool, findings: &mut Vec<Finding>) {
    let index = match index {
        Fact::Known(index) => index,
        Fact::Skipped(why) => {
            findings.push(Finding::not_checked(
                "index",
                format!(".nojekyll, root and project pages: {why}"),
            ));
            return;
        }
        Fact::Failed { error, .. } => {
            findings.push(Finding::problem(
                "index",
                format!("the index could not be read: {error}"),
                "fix the cause (-v shows every read), then run doctor again",
            ));
            return;
        }
    };
    let empty = index.is_empty();
    let regenerate = "run `gt4py-publish regenerate` to rebuild the pages from the files present";

    findings.push(if index.has_nojekyll {
        Finding::ok(
            ".nojekyll",
            "present (GitHub Pages serves the files as they are)",
        )
    } else if empty {
        Finding::ok(".nojekyll", "not there yet; the first publish writes it")
    } else {
        Finding::problem(
            ".nojekyll",
            format!(
                "missing at the root of the {}: GitHub Pages then runs Jekyll, which leaves out \
                 files and folders whose names start with `_` or `.` and slows every build",
                if local { "folder" } else { "branch" }
            ),
            "run `gt4py-publish regenerate` (it adds `.nojekyll`), or commit an empty \
             `.nojekyll` file at the root",
        )
    });

    findings.push(match &index.root {
        PageFact::Read { entries } => Finding::ok(
            "root page",
            format!("index.html lists {entries} project(s)"),
        ),
        PageFact::Missing if empty => Finding::ok(
            "root page",
            "none yet (an empty index); the first publish writes index.html",
        ),
        PageFact::Missing => Finding::problem(
            "root page",
            format!(
                "index.html is missing but the index has folders ({}): pip finds no project",
                some_names(index.folders.iter().map(String::as_str))
            ),
            regenerate,
        ),
        PageFact::Unreadable(error) => Finding::problem(
            "root page",
            format!("index.html cannot be read: {error}"),
            regenerate,
        ),
    });
    if !matches!(index.root, PageFact::Read { .. }) {
        return;
    }

    let mut pages_ok = 0;
    let mut files_listed = 0;
    for project in &index.projects {
        let path = format!("{}/index.html", project.name);
        match &project.page {
            PageFact::Read { entries } => {
                pages_ok += 1;
                files_listed += entries;
            }
            PageFact::Missing => findings.push(Finding::problem(
                "project pages",
                format!(
                    "the root page links `{}/` but {path} is missing (pip finds no files for it)",
                    project.name
                ),
                regenerate,
            )),
            PageFact::Unreadable(error) => findings.push(Finding::problem(
                "project pages",
                format!("{path} cannot be read: {error}"),
                regenerate,
            )),
        }
        if !project.missing_files.is_empty() {
            findings.push(Finding::warning(
                "project pages",
                format!(
                    "{path} lists {} file(s) that are not in the index: {}",
                    project.missing_files.len(),
                    some_names(project.missing_files.iter().map(String::as_str))
                ),
                "publish them again, or run `gt4py-publish regenerate` to drop the entries \
                 (`gt4py-publish verify` checks every file and hash)",
            ));
        }
    }
    if pages_ok == index.projects.len() {
        findings.push(Finding::ok(
            "project pages",
            format!("{pages_ok} page(s) read, listing {files_listed} file(s)"),
        ));
    }
}

/// `512.0 MB` (decimal units, as GitHub states its limits).
fn megabytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1_000.0),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1_000_000.0),
        _ => format!("{:.2} GB", bytes as f64 / 1_000_000_000.0),
    }
}

/// `75 %` of `limit`, rounded down.
fn percent_of(bytes: u64, limit: u64) -> u64 {
    if limit == 0 {
        return 100;
    }
    (u128::from(bytes) * 100 / u128::from(limit)).min(u128::from(u64::MAX)) as u64
}

fn diagnose_size(
    files: &Fact<SiteFiles>,
    limits: &Limits,
    local: bool,
    findings: &mut Vec<Finding>,
) {
    let site = match files {
        Fact::Known(site) => site,
        other => {
            findings.push(Finding::not_checked("site size", other.reason()));
            return;
        }
    };
    let total = site
        .files
        .iter()
        .fold(0u64, |sum, (_, size)| sum.saturating_add(*size));
    let at_least = if site.truncated { "at least " } else { "" };
    let percent = percent_of(total, limits.site_max);
    let limit = format!(
        "GitHub Pages' 1 GB site limit ({} bytes)",
        thousands(limits.site_max)
    );
    let served = if local {
        " if GitHub Pages serves it"
    } else {
        ""
    };
    let size = format!(
        "{at_least}{} in {} file(s), {percent} % of {limit}",
        megabytes(total),
        site.files.len()
    );
    findings.push(if total > limits.site_max {
        Finding::problem(
            "site size",
            format!("{size}: too large{served}"),
            "remove files no one installs any more (`gt4py-publish remove FILENAME`)",
        )
    } else if percent >= PAGES_WARN_PERCENT {
        Finding::warning(
            "site size",
            size,
            "plan ahead: remove old files (`gt4py-publish remove FILENAME`) before the site \
             reaches the limit",
        )
    } else {
        Finding::ok("site size", size)
    });
    if site.truncated {
        findings.push(Finding::warning(
            "site size",
            "GitHub truncated the branch's file listing; the size and the large files are \
             counted from part of it",
            "none needed to publish; expect the site to be larger than shown",
        ));
    }

    let largest = limits.largest_upload();
    let mut large: Vec<&(String, u64)> = site.files.iter().filter(|(_, s)| *s > largest).collect();
    large.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let ceiling = format!(
        "the {} byte upload body ceiling (--max-blob-size), files up to {}",
        thousands(limits.body_ceiling),
        megabytes(largest)
    );
    if large.is_empty() {
        findings.push(Finding::ok("large files", format!("none above {ceiling}")));
        return;
    }
    let names = some_names(
        large
            .iter()
            .map(|(path, size)| format!("{path} ({})", megabytes(*size)))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str),
    );
    findings.push(if local {
        Finding::warning(
            "large files",
            format!("{} file(s) above {ceiling}: {names}", large.len()),
            "fine for a local index; on a GitHub index GitHub times out bodies this large, so \
             such files would have to be release assets",
        )
    } else {
        Finding::warning(
            "large files",
            format!(
                "{} file(s) on the branch above {ceiling}: {names}",
                large.len()
            ),
            "GitHub times out request bodies this large: files of this size cannot be written \
             through the API again; keep new files smaller or publish them as release assets",
        )
    });
}

/// `1,000,000,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::inspect::{PagesSource, RepoPermissions};

    const MIB: u64 = 1024 * 1024;

    fn rule(kind: &str) -> RuleFact {
        RuleFact {
            rule: BranchRule {
                kind: kind.into(),
                ruleset_source_type: Some("Repository".into()),
                ruleset_source: Some("o/r".into()),
                ruleset_id: Some(1),
            },
            bypass: None,
        }
    }

    fn site(branch: &str, path: &str) -> PagesSite {
        PagesSite {
            status: Some("built".into()),
            build_type: Some("legacy".into()),
            source: Some(PagesSource {
                branch: branch.into(),
                path: path.into(),
            }),
            html_url: Some("https://o.github.io/r/".into()),
        }
    }

    /// A healthy repository: a token that may push, the branch, no rules, Pages on main at /.
    fn github() -> GitHubFacts {
        GitHubFacts {
            repo: "o/r".into(),
            branch: "main".into(),
            token: Some(TokenFacts {
                source: "the GT4PY_PUBLISH_TOKEN environment variable".into(),
                actions_github_token: false,
            }),
            repository: Fact::Known(RepoInfo {
                private: false,
                archived: false,
                default_branch: Some("main".into()),
                permissions: Some(RepoPermissions {
                    push: true,
                    admin: false,
                }),
            }),
            branch_info: Fact::Known(Some(BranchInfo { protected: false })),
            rules: Fact::Known(Vec::new()),
            pages: Fact::Known(Some(site("main", "/"))),
            pages_read_without_token: false,
        }
    }

    fn index() -> IndexFacts {
        IndexFacts {
            has_nojekyll: true,
            root: PageFact::Read { entries: 1 },
            folders: vec!["dace".into()],
            projects: vec![ProjectFacts {
                name: "dace".into(),
                page: PageFact::Read { entries: 2 },
                missing_files: Vec::new(),
            }],
        }
    }

    fn files(sizes: &[u64]) -> Fact<SiteFiles> {
        Fact::Known(SiteFiles {
            files: sizes
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("dace/f{i}.whl"), *s))
                .collect(),
            truncated: false,
        })
    }

    fn facts(github: GitHubFacts) -> Facts {
        Facts {
            location: "o/r@main".into(),
            place: Place::GitHub(Box::new(github)),
            index: Fact::Known(index()),
            files: files(&[1000, 2000]),
            limits: Limits::default(),
        }
    }

    fn local(state: DirState) -> Facts {
        Facts {
            location: "/srv/index".into(),
            place: Place::Local {
                dir: PathBuf::from("/srv/index"),
                state,
            },
            index: Fact::Known(index()),
            files: files(&[1000]),
            limits: Limits::default(),
        }
    }

    fn with(change: impl FnOnce(&mut GitHubFacts)) -> Vec<Finding> {
        let mut github = github();
        change(&mut github);
        diagnose(&facts(github))
    }

    /// The one finding of `check` with `severity`; fails when there is none or several.
    #[track_caller]
    fn only<'a>(findings: &'a [Finding], severity: Severity, check: &str) -> &'a Finding {
        let found: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.severity == severity && f.check == check)
            .collect();
        assert_eq!(found.len(), 1, "{severity:?} {check} in {findings:#?}");
        found[0]
    }

    fn problems(findings: &[Finding]) -> Vec<&Finding> {
        findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
            .collect()
    }

    fn failed<T>(status: Option<u16>, error: &str) -> Fact<T> {
        Fact::Failed {
            status,
            error: error.into(),
        }
    }

    #[test]
    fn a_healthy_repository_is_all_ok_in_order() {
        let findings = diagnose(&facts(github()));
        assert!(
            findings.iter().all(|f| f.severity == Severity::Ok),
            "{findings:#?}"
        );
        let checks: Vec<&str> = findings.iter().map(|f| f.check).collect();
        assert_eq!(
            checks,
            [
                "token",
                "repository",
                "write access",
                "branch",
                "rules",
                "pages",
                ".nojekyll",
                "root page",
                "project pages",
                "site size",
                "large files"
            ]
        );
        let pages = only(&findings, Severity::Ok, "pages");
        assert!(
            pages
                .text
                .contains("serves main from / at https://o.github.io/r/")
        );
    }

    #[test]
    fn every_problem_has_a_fix() {
        let cases: Vec<Vec<Finding>> = vec![
            with(|g| g.token = None),
            with(|g| g.pages = Fact::Known(None)),
            with(|g| g.rules = Fact::Known(vec![rule("pull_request")])),
            with(|g| g.branch_info = Fact::Known(None)),
            with(|g| g.repository = failed(Some(404), "Not Found")),
            diagnose(&local(DirState::Missing)),
        ];
        for findings in cases {
            assert!(!problems(&findings).is_empty());
            for finding in problems(&findings) {
                assert!(finding.fix.is_some(), "{finding:?}");
            }
        }
    }

    #[test]
    fn no_token_is_a_problem_and_write_access_is_not_checked() {
        let findings = with(|g| {
            g.token = None;
            if let Fact::Known(repo) = &mut g.repository {
                repo.permissions = None;
            }
        });
        let token = only(&findings, Severity::Problem, "token");
        assert!(token.text.contains("no token found"));
        assert!(
            token
                .fix
                .as_deref()
                .unwrap()
                .contains("GT4PY_PUBLISH_TOKEN")
        );
        assert!(token.fix.as_deref().unwrap().contains("--token-file"));
        let write = only(&findings, Severity::NotChecked, "write access");
        assert_eq!(write.text, "needs a token");
        assert_eq!(problems(&findings).len(), 1, "{findings:#?}");
        // Everything that works anonymously was checked.
        only(&findings, Severity::Ok, "pages");
        only(&findings, Severity::Ok, "rules");
    }

    #[test]
    fn a_refused_token_is_one_problem_and_the_rest_not_checked() {
        let findings = with(|g| {
            g.repository = failed(Some(401), "GitHub refused the token (401 Bad credentials)");
            g.branch_info = Fact::Skipped("GitHub refused the token".into());
            g.rules = Fact::Skipped("GitHub refused the token".into());
            g.pages = Fact::Skipped("GitHub refused the token".into());
        });
        let token = only(&findings, Severity::Problem, "token");
        assert!(token.text.contains("401"));
        assert_eq!(problems(&findings).len(), 1, "{findings:#?}");
        assert_eq!(
            only(&findings, Severity::NotChecked, "write access").text,
            "GitHub refused the token"
        );
        only(&findings, Severity::NotChecked, "repository");
        only(&findings, Severity::NotChecked, "pages");
    }

    #[test]
    fn write_access_follows_permissions_push() {
        let findings = with(|g| {
            if let Fact::Known(repo) = &mut g.repository {
                repo.permissions = Some(RepoPermissions {
                    push: false,
                    admin: false,
                });
            }
        });
        let write = only(&findings, Severity::Problem, "write access");
        assert!(write.text.contains("permissions.push is false"));
        assert!(
            write
                .fix
                .as_deref()
                .unwrap()
                .contains("Contents: read and write")
        );

        let findings = with(|g| {
            if let Fact::Known(repo) = &mut g.repository {
                repo.permissions = None;
            }
        });
        only(&findings, Severity::NotChecked, "write access");
    }

    #[test]
    fn the_actions_github_token_is_a_warning() {
        let findings = with(|g| {
            if let Some(token) = &mut g.token {
                token.actions_github_token = true;
            }
        });
        let warning = only(&findings, Severity::Warning, "token");
        assert!(warning.text.contains("no GitHub Pages build"));
        only(&findings, Severity::Ok, "token");

        let actions = token_facts(&TokenSource::Env("GITHUB_TOKEN"), true);
        assert!(actions.actions_github_token);
        assert_eq!(actions.source, "the GITHUB_TOKEN environment variable");
        assert!(!token_facts(&TokenSource::Env("GITHUB_TOKEN"), false).actions_github_token);
        assert!(!token_facts(&TokenSource::Env("GH_TOKEN"), true).actions_github_token);
        assert!(!token_facts(&TokenSource::File("t".into()), true).actions_github_token);
    }

    #[test]
    fn repository_failures_say_what_to_check() {
        let findings = with(|g| {
            g.token = None;
            g.repository = failed(Some(404), "Not Found");
        });
        let repo = only(&findings, Severity::Problem, "repository");
        assert!(repo.text.contains("not visible without a token"));
        assert!(
            repo.fix
                .as_deref()
                .unwrap()
                .contains("private repository needs a token")
        );

        let findings = with(|g| g.repository = failed(Some(404), "Not Found"));
        let repo = only(&findings, Severity::Problem, "repository");
        assert!(repo.text.contains("not visible to the token"));
        only(&findings, Severity::NotChecked, "write access");

        let findings = with(|g| g.repository = failed(None, "connection refused"));
        let repo = only(&findings, Severity::Problem, "repository");
        assert!(repo.text.contains("connection refused"));
        assert!(repo.fix.as_deref().unwrap().contains("--api-url"));

        let findings = with(|g| {
            if let Fact::Known(repo) = &mut g.repository {
                repo.archived = true;
            }
        });
        assert!(
            only(&findings, Severity::Problem, "repository")
                .text
                .contains("archived")
        );
    }

    #[test]
    fn a_missing_branch_is_a_problem() {
        let findings = with(|g| g.branch_info = Fact::Known(None));
        let branch = only(&findings, Severity::Problem, "branch");
        assert!(branch.text.contains("main does not exist"));
        assert!(branch.fix.as_deref().unwrap().contains("--branch"));

        let findings = with(|g| g.branch_info = failed(Some(500), "Server Error"));
        only(&findings, Severity::NotChecked, "branch");
    }

    #[test]
    fn rules_that_refuse_direct_writes_are_problems() {
        for kind in [
            "pull_request",
            "required_status_checks",
            "update",
            "required_deployments",
            "merge_queue",
        ] {
            let findings = with(|g| g.rules = Fact::Known(vec![rule(kind)]));
            let rules = only(&findings, Severity::Problem, "rules");
            assert!(rules.text.contains(&format!("`{kind}`")), "{rules:?}");
            assert!(rules.text.contains("ruleset 1 of o/r"), "{rules:?}");
            assert!(rules.fix.as_deref().unwrap().contains("bypass list"));
        }
        let findings = with(|g| g.rules = Fact::Known(vec![rule("pull_request")]));
        assert!(
            only(&findings, Severity::Problem, "rules")
                .text
                .contains("through a pull request")
        );
        // Without a token, whether one may bypass is unknown: said so.
        let findings = with(|g| {
            g.token = None;
            g.rules = Fact::Known(vec![rule("pull_request")]);
        });
        assert!(
            only(&findings, Severity::Problem, "rules")
                .text
                .contains("without a token")
        );
    }

    #[test]
    fn a_bypass_actor_passes_but_pull_requests_only_does_not() {
        for bypass in ["always", "exempt"] {
            let findings = with(|g| {
                let mut r = rule("pull_request");
                r.bypass = Some(bypass.into());
                g.rules = Fact::Known(vec![r]);
            });
            assert!(problems(&findings).is_empty(), "{bypass}: {findings:#?}");
            assert!(
                only(&findings, Severity::Ok, "rules")
                    .text
                    .contains("may bypass")
            );
        }
        for bypass in ["pull_requests_only", "never"] {
            let findings = with(|g| {
                let mut r = rule("pull_request");
                r.bypass = Some(bypass.into());
                g.rules = Fact::Known(vec![r]);
            });
            only(&findings, Severity::Problem, "rules");
        }
    }

    #[test]
    fn other_rules_are_warnings_or_harmless() {
        let findings = with(|g| {
            g.rules = Fact::Known(vec![rule("required_signatures"), rule("some_new_rule")]);
        });
        let warning = only(&findings, Severity::Warning, "rules");
        assert!(
            warning
                .text
                .contains("`required_signatures` (commits must be signed)")
        );
        assert!(warning.text.contains("`some_new_rule`"));
        assert!(problems(&findings).is_empty());

        let findings = with(|g| {
            g.branch_info = Fact::Known(Some(BranchInfo { protected: true }));
            g.rules = Fact::Known(vec![rule("non_fast_forward"), rule("deletion")]);
        });
        assert!(
            findings.iter().all(|f| f.severity == Severity::Ok),
            "{findings:#?}"
        );
    }

    #[test]
    fn classic_branch_protection_is_a_warning() {
        let findings = with(|g| g.branch_info = Fact::Known(Some(BranchInfo { protected: true })));
        let warning = only(&findings, Severity::Warning, "rules");
        assert!(warning.text.contains("classic branch protection"));
        assert!(
            warning
                .fix
                .as_deref()
                .unwrap()
                .contains("Settings → Branches")
        );

        // Rules unreadable: not checked, and the protection still warned about.
        let findings = with(|g| {
            g.branch_info = Fact::Known(Some(BranchInfo { protected: true }));
            g.rules = failed(Some(403), "Forbidden");
        });
        only(&findings, Severity::NotChecked, "rules");
        only(&findings, Severity::Warning, "rules");
    }

    #[test]
    fn pages_off_on_another_branch_or_folder_are_problems() {
        let findings = with(|g| g.pages = Fact::Known(None));
        let pages = only(&findings, Severity::Problem, "pages");
        assert!(pages.text.contains("GitHub Pages is off for o/r"));
        let fix = pages.fix.as_deref().unwrap();
        assert!(
            fix.contains("Settings → Pages → Build and deployment"),
            "{fix}"
        );
        assert!(
            fix.contains("Deploy from a branch, then main and / (root)"),
            "{fix}"
        );

        let findings = with(|g| g.pages = Fact::Known(Some(site("gh-pages", "/"))));
        let pages = only(&findings, Severity::Problem, "pages");
        assert!(pages.text.contains("serves gh-pages from /"), "{pages:?}");
        assert!(pages.text.contains("https://o.github.io/r/"), "{pages:?}");
        assert!(pages.fix.as_deref().unwrap().contains("--branch gh-pages"));

        let findings = with(|g| g.pages = Fact::Known(Some(site("main", "/docs"))));
        let pages = only(&findings, Severity::Problem, "pages");
        assert!(pages.text.contains("serves main from /docs, "), "{pages:?}");
        assert!(!pages.fix.as_deref().unwrap().contains("--branch"));

        // Another branch and another folder: no advice to publish there.
        let findings = with(|g| g.pages = Fact::Known(Some(site("gh-pages", "/docs"))));
        let pages = only(&findings, Severity::Problem, "pages");
        assert!(!pages.fix.as_deref().unwrap().contains("--branch"));

        // A legacy site without a source.
        let findings = with(|g| {
            g.pages = Fact::Known(Some(PagesSite {
                source: None,
                ..site("main", "/")
            }))
        });
        assert!(
            only(&findings, Severity::Problem, "pages")
                .text
                .contains("an unknown branch")
        );
    }

    #[test]
    fn a_workflow_build_and_a_failed_build_are_warnings() {
        let findings = with(|g| {
            g.pages = Fact::Known(Some(PagesSite {
                build_type: Some("workflow".into()),
                source: None,
                ..site("main", "/")
            }))
        });
        let pages = only(&findings, Severity::Warning, "pages");
        assert!(
            pages
                .text
                .contains("workflow builds the Pages site at https://o.github.io/r/")
        );
        assert!(problems(&findings).is_empty());

        let findings = with(|g| {
            g.pages = Fact::Known(Some(PagesSite {
                status: Some("errored".into()),
                ..site("main", "/")
            }))
        });
        only(&findings, Severity::Ok, "pages");
        assert!(
            only(&findings, Severity::Warning, "pages")
                .text
                .contains("errored")
        );
    }

    #[test]
    fn pages_the_token_may_not_read_are_not_checked() {
        for status in [403, 404] {
            let findings = with(|g| g.pages = failed(Some(status), "Resource not accessible"));
            let pages = only(&findings, Severity::NotChecked, "pages");
            assert!(pages.text.contains("Pages: read"), "{pages:?}");
            assert!(
                pages
                    .fix
                    .as_deref()
                    .unwrap()
                    .contains("Deploy from a branch")
            );
            assert!(problems(&findings).is_empty());
        }
        let findings = with(|g| g.pages_read_without_token = true);
        assert!(
            only(&findings, Severity::Ok, "pages")
                .text
                .contains("read without the token")
        );
        let findings = with(|g| g.pages = failed(Some(500), "Server Error"));
        assert_eq!(
            only(&findings, Severity::NotChecked, "pages").text,
            "Server Error"
        );
    }

    fn index_findings(index: IndexFacts) -> Vec<Finding> {
        let mut facts = facts(github());
        facts.index = Fact::Known(index);
        diagnose(&facts)
    }

    #[test]
    fn nojekyll_is_needed_once_the_index_has_pages() {
        let findings = index_findings(IndexFacts {
            has_nojekyll: false,
            ..index()
        });
        let nojekyll = only(&findings, Severity::Problem, ".nojekyll");
        assert!(nojekyll.text.contains("Jekyll"));
        assert!(nojekyll.fix.as_deref().unwrap().contains("regenerate"));

        // Before the first publish: nothing there, nothing wrong.
        let findings = index_findings(IndexFacts {
            has_nojekyll: false,
            root: PageFact::Missing,
            folders: Vec::new(),
            projects: Vec::new(),
        });
        assert!(problems(&findings).is_empty(), "{findings:#?}");
        assert!(
            only(&findings, Severity::Ok, ".nojekyll")
                .text
                .contains("first publish")
        );
        assert!(
            only(&findings, Severity::Ok, "root page")
                .text
                .contains("empty index")
        );
    }

    #[test]
    fn root_and_project_page_problems_are_named() {
        let findings = index_findings(IndexFacts {
            root: PageFact::Missing,
            projects: Vec::new(),
            ..index()
        });
        let root = only(&findings, Severity::Problem, "root page");
        assert!(root.text.contains("folders (dace)"), "{root:?}");
        assert!(root.fix.as_deref().unwrap().contains("regenerate"));

        let findings = index_findings(IndexFacts {
            root: PageFact::Unreadable("index.html: not UTF-8".into()),
            projects: Vec::new(),
            ..index()
        });
        assert!(
            only(&findings, Severity::Problem, "root page")
                .text
                .contains("not UTF-8")
        );

        let findings = index_findings(IndexFacts {
            projects: vec![
                ProjectFacts {
                    name: "dace".into(),
                    page: PageFact::Missing,
                    missing_files: Vec::new(),
                },
                ProjectFacts {
                    name: "ghex".into(),
                    page: PageFact::Unreadable("bad page".into()),
                    missing_files: Vec::new(),
                },
                ProjectFacts {
                    name: "gt4py".into(),
                    page: PageFact::Read { entries: 3 },
                    missing_files: (0..7).map(|i| format!("f{i}.whl")).collect(),
                },
            ],
            ..index()
        });
        let pages: Vec<&Finding> = problems(&findings);
        assert_eq!(pages.len(), 2, "{findings:#?}");
        assert!(pages[0].text.contains("dace/index.html is missing"));
        assert!(
            pages[1]
                .text
                .contains("ghex/index.html cannot be read: bad page")
        );
        let missing = only(&findings, Severity::Warning, "project pages");
        assert!(missing.text.contains("lists 7 file(s)"), "{missing:?}");
        assert!(missing.text.contains("f4.whl and 2 more"), "{missing:?}");
        // Not every page was read: no `ok` line for the pages.
        assert!(
            !findings
                .iter()
                .any(|f| f.check == "project pages" && f.severity == Severity::Ok)
        );
    }

    #[test]
    fn an_index_that_cannot_be_read_is_a_problem_and_a_skipped_one_not_checked() {
        let mut broken = facts(github());
        broken.index = failed(None, "timed out");
        let findings = diagnose(&broken);
        assert!(
            only(&findings, Severity::Problem, "index")
                .text
                .contains("timed out")
        );

        let mut skipped = facts(github());
        skipped.index = Fact::Skipped("branch main does not exist".into());
        skipped.files = Fact::Skipped("branch main does not exist".into());
        let findings = diagnose(&skipped);
        only(&findings, Severity::NotChecked, "index");
        only(&findings, Severity::NotChecked, "site size");
        assert!(problems(&findings).is_empty());
    }

    fn size_findings(sizes: &[u64], truncated: bool, local: bool) -> Vec<Finding> {
        let mut facts = if local {
            self::local(DirState::Directory)
        } else {
            facts(github())
        };
        facts.files = match files(sizes) {
            Fact::Known(site) => Fact::Known(SiteFiles { truncated, ..site }),
            other => other,
        };
        diagnose(&facts)
    }

    #[test]
    fn site_size_warns_from_75_percent_and_fails_above_1_gb() {
        let ok = size_findings(&[749_999_999], false, false);
        let size = only(&ok, Severity::Ok, "site size");
        assert!(
            size.text.contains("74 % of GitHub Pages' 1 GB site limit"),
            "{size:?}"
        );
        assert!(size.text.contains("1,000,000,000 bytes"), "{size:?}");

        let warned = size_findings(&[700_000_000, 50_000_000], false, false);
        assert!(
            only(&warned, Severity::Warning, "site size")
                .text
                .contains("750.0 MB in 2 file(s), 75 %")
        );
        // Exactly the limit is allowed.
        only(
            &size_findings(&[1_000_000_000], false, false),
            Severity::Warning,
            "site size",
        );

        let over = size_findings(&[600_000_000, 400_000_001], false, false);
        let problem = only(&over, Severity::Problem, "site size");
        assert!(problem.text.contains("1.00 GB"), "{problem:?}");
        assert!(
            problem
                .fix
                .as_deref()
                .unwrap()
                .contains("gt4py-publish remove")
        );

        // Sizes that would overflow a sum saturate instead.
        only(
            &size_findings(&[u64::MAX, u64::MAX], false, false),
            Severity::Problem,
            "site size",
        );
    }

    #[test]
    fn a_truncated_listing_is_a_lower_bound() {
        let findings = size_findings(&[1000], true, false);
        assert!(
            only(&findings, Severity::Ok, "site size")
                .text
                .starts_with("at least 1.0 kB")
        );
        assert!(
            only(&findings, Severity::Warning, "site size")
                .text
                .contains("truncated")
        );
    }

    #[test]
    fn files_above_the_upload_ceiling_are_warnings() {
        let largest = Limits::default().largest_upload();
        assert!(largest > 29 * MIB && largest < 31 * MIB, "{largest}");
        let findings = size_findings(&[largest, 1000], false, false);
        assert!(
            only(&findings, Severity::Ok, "large files")
                .text
                .contains("41,943,040 byte upload body ceiling")
        );
        let findings = size_findings(&[largest + 1, 45 * MIB, 10], false, false);
        let large = only(&findings, Severity::Warning, "large files");
        assert!(
            large.text.starts_with("2 file(s) on the branch above"),
            "{large:?}"
        );
        // Largest first.
        assert!(
            large.text.contains(": dace/f1.whl (47.2 MB), dace/f0.whl"),
            "{large:?}"
        );
        assert!(problems(&findings).is_empty());

        let findings = size_findings(&[45 * MIB], false, true);
        let large = only(&findings, Severity::Warning, "large files");
        assert!(large.fix.as_deref().unwrap().contains("release assets"));

        // A smaller --max-blob-size lowers the bar.
        let mut facts = facts(github());
        facts.limits.body_ceiling = MIB;
        facts.files = files(&[MIB]);
        only(&diagnose(&facts), Severity::Warning, "large files");
    }

    #[test]
    fn a_local_index_checks_the_folder_and_not_github() {
        let findings = diagnose(&local(DirState::Directory));
        assert!(problems(&findings).is_empty(), "{findings:#?}");
        only(&findings, Severity::Ok, "index folder");
        let github = only(&findings, Severity::NotChecked, "github");
        assert!(github.text.contains("(local index)"));
        assert!(!findings.iter().any(|f| f.check == "token"));

        let mut missing = local(DirState::Missing);
        missing.index = Fact::Skipped("there is no folder /srv/index".into());
        missing.files = Fact::Skipped("there is no folder /srv/index".into());
        let findings = diagnose(&missing);
        let folder = only(&findings, Severity::Problem, "index folder");
        assert!(folder.text.contains("/srv/index does not exist"));
        assert_eq!(problems(&findings).len(), 1);

        for state in [
            DirState::NotADirectory,
            DirState::Unreadable("denied".into()),
        ] {
            only(&diagnose(&local(state)), Severity::Problem, "index folder");
        }

        let mut local_nojekyll = local(DirState::Directory);
        local_nojekyll.index = Fact::Known(IndexFacts {
            has_nojekyll: false,
            ..index()
        });
        assert!(
            only(&diagnose(&local_nojekyll), Severity::Problem, ".nojekyll")
                .text
                .contains("root of the folder")
        );
    }

    #[test]
    fn findings_print_one_line_each_with_the_fix() {
        let problem = Finding::problem("pages", "GitHub Pages is off", "enable it");
        assert_eq!(
            problem.to_string(),
            "problem      pages: GitHub Pages is off; fix: enable it"
        );
        assert_eq!(
            Finding::not_checked("write access", "needs a token").to_string(),
            "not checked  write access: needs a token"
        );
        assert_eq!(
            Finding::ok("branch", "main exists").to_string(),
            "ok           branch: main exists"
        );
        let findings = vec![Finding::ok("branch", "main exists"), problem];
        let mut out = Vec::new();
        write_findings(&mut out, "o/r@main", &findings, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ok           branch: main exists\n\
             problem      pages: GitHub Pages is off; fix: enable it\n\
             Checked o/r@main: 1 ok, 0 warning(s), 1 problem(s), 0 not checked.\n"
        );
        let mut quiet = Vec::new();
        write_findings(&mut quiet, "o/r@main", &findings, true).unwrap();
        assert_eq!(
            String::from_utf8(quiet).unwrap(),
            "problem      pages: GitHub Pages is off; fix: enable it\n"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000_000), "1,000,000,000");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(megabytes(512), "512 bytes");
        assert_eq!(megabytes(1_500), "1.5 kB");
        assert_eq!(megabytes(41_943_040), "41.9 MB");
        assert_eq!(megabytes(1_200_000_000), "1.20 GB");
        assert_eq!(percent_of(750, 1000), 75);
        assert_eq!(percent_of(u64::MAX, 1), u64::MAX);
        assert_eq!(percent_of(1, 0), 100);
        assert_eq!(some_names(["a", "b"].into_iter()), "a, b");
    }
}
