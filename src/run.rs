//! One invocation of the tool: validate the given files, choose the target, run the command and
//! describe the outcome. `main` only parses arguments and renders errors.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cli::{
    CheckArgs, Cli, Command, DoctorArgs, FileArgs, ListArgs, PublishArgs, RegenerateArgs,
    TargetArgs, VerifyArgs, YankArgs,
};
use crate::dist::{self, DistError, DistFile};
use crate::github::{self, GitHubConfig, GitHubTarget, RetryPolicy};
use crate::maintain;
use crate::name::ProjectName;
use crate::plan::Outcome;
use crate::publish::{self, PublishError, PublishOptions, PublishReport};
use crate::report::{Event, Reporter};
use crate::state;
use crate::target::local::LocalDir;
use crate::target::{CommitMode, Target};
use crate::{actions, doctor, regenerate, verify, wait_live};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Every refused file, so one run shows all that is wrong; nothing was written.
    #[error("{} of {total} file(s) refused; nothing was published", errors.len())]
    Invalid {
        errors: Vec<DistError>,
        total: usize,
    },
    #[error(
        "`{first}` and `{second}` have the same filename but different content; \
         pass each distribution once"
    )]
    DuplicateFilename { first: PathBuf, second: PathBuf },
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(
        "no GitHub token: {what} on {repo} needs one with Contents: write; set GT4PY_PUBLISH_TOKEN (or GH_TOKEN / GITHUB_TOKEN), pass --token-file, or use --index-dir for a local index"
    )]
    NoToken { what: &'static str, repo: String },
    #[error(transparent)]
    Token(#[from] github::token::TokenError),
    #[error("cannot use the GitHub repository {repo}")]
    GitHub {
        repo: String,
        #[source]
        source: Box<github::GitHubError>,
    },
    #[error("`{name}` is not a project name")]
    BadProject {
        name: String,
        #[source]
        source: crate::name::InvalidName,
    },
    #[error("project `{project}` is not on the index at {location}")]
    NoSuchProject { project: String, location: String },
    #[error(
        "the index at {location} has {count} problem(s); fix them, or rebuild the pages with `gt4py-publish regenerate`"
    )]
    VerifyFailed { location: String, count: usize },
    #[error(
        "doctor found {count} problem(s) at {location}: publishing would fail or the index would not be served; fix each `problem` line as it says, then run `gt4py-publish doctor` again"
    )]
    DoctorFailed { location: String, count: usize },
    #[error(transparent)]
    WaitLive(#[from] wait_live::WaitError),
    #[error("could not write the summary")]
    Output(#[source] std::io::Error),
}

impl RunError {
    /// Standard output was closed by its reader (`list | head -1`): the reader has what it
    /// wanted, so the run ends quietly, as ripgrep does.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, RunError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Runs a parsed command line; `out` receives the result summary (stdout). With `--quiet` the
/// summaries are left out (warnings and errors still go to stderr); `list` still prints what it
/// lists and `verify` its problems, since that output is the answer.
pub fn run(cli: Cli, reporter: &dyn Reporter, out: &mut dyn Write) -> Result<(), RunError> {
    let quiet = cli.output.quiet;
    let verbose = cli.output.verbose;
    let mut sink = std::io::sink();
    let answer_only = matches!(
        cli.command,
        Command::List(_) | Command::Verify(_) | Command::Doctor(_)
    );
    let summary: &mut dyn Write = if quiet && !answer_only {
        &mut sink
    } else {
        out
    };
    match cli.command {
        Command::Check(args) => check(args, reporter, summary),
        Command::Publish(args) => publish_files(args, reporter, summary),
        Command::Yank(args) => yank(args, reporter, summary),
        Command::Unyank(args) => unyank(args, reporter, summary),
        Command::Remove(args) => remove(args, reporter, summary),
        Command::List(args) => list(args, reporter, summary),
        Command::Regenerate(args) => regenerate(args, verbose, reporter, summary),
        Command::Verify(args) => verify(args, quiet, reporter, summary),
        Command::Doctor(args) => doctor(args, quiet, reporter, summary),
    }
}

/// `doctor`: checks the target (no token required, nothing written), prints one line per
/// finding and fails when any finding is a problem.
fn doctor(
    args: DoctorArgs,
    quiet: bool,
    reporter: &dyn Reporter,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    let limits = doctor::Limits {
        body_ceiling: args.target.max_blob_size,
        ..doctor::Limits::default()
    };
    let facts = match &args.target.index_dir {
        Some(dir) => doctor::gather_local(dir, limits, reporter),
        None => {
            let target = open_github(&args.target, false, "checking", reporter)?;
            let token = target
                .token_source()
                .map(|source| doctor::token_facts(source, actions::in_actions()));
            doctor::gather_github(&target, token, limits, reporter)
        }
    };
    let findings = doctor::diagnose(&facts);
    doctor::write_findings(out, &facts.location, &findings, quiet).map_err(RunError::Output)?;
    match doctor::count(&findings, doctor::Severity::Problem) {
        0 => Ok(()),
        count => Err(RunError::DoctorFailed {
            location: facts.location,
            count,
        }),
    }
}

fn check(args: CheckArgs, reporter: &dyn Reporter, out: &mut dyn Write) -> Result<(), RunError> {
    let dists = validate_all(&args.files, reporter)?;
    for dist in &dists {
        writeln!(
            out,
            "ok  {}  ({} {}, sha256 {})",
            dist.filename.as_str(),
            dist.filename.project(),
            dist.filename.version(),
            dist.digests.sha256
        )
        .map_err(RunError::Output)?;
    }
    Ok(())
}

fn publish_files(
    args: PublishArgs,
    reporter: &dyn Reporter,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    if let Some(url) = &args.wait_live {
        wait_live::check_url(url)?;
    }
    let dists = validate_all(&args.files, reporter)?;
    let target = open_target(&args.target, !args.dry_run, "publishing", reporter)?;
    let options = PublishOptions {
        skip_existing: args.skip_existing,
        dry_run: args.dry_run,
        store: args.store,
        allow_over_budget: args.allow_over_budget,
    };
    let report = publish::publish(target.as_ref(), &dists, options, reporter)?;
    let index_url = match &args.wait_live {
        Some(url) => format!("{}/", url.trim_end_matches('/')),
        None => install_url(&args.target),
    };
    write_summary(
        out,
        &target.location(),
        &report,
        args.dry_run,
        target.commit_mode(),
        &index_url,
    )
    .map_err(RunError::Output)?;
    if actions::in_actions() && !args.dry_run {
        actions::write_step_files(&report, &target.location(), &index_url)
            .map_err(RunError::Output)?;
    }
    if let (Some(url), false) = (&args.wait_live, args.dry_run) {
        let expected: Vec<_> = report
            .results
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Skipped { .. }))
            .filter_map(|r| {
                let dist = dists.iter().find(|d| d.filename.as_str() == r.filename)?;
                Some(wait_live::Expect {
                    project: r.project.clone(),
                    filename: r.filename.clone(),
                    sha256: dist.digests.sha256.clone(),
                })
            })
            .collect();
        wait_live::wait_live(
            url,
            &expected,
            args.wait_timeout,
            args.wait_interval,
            reporter,
        )?;
        writeln!(out, "Live: {url} serves every file of this run.").map_err(RunError::Output)?;
    }
    Ok(())
}

fn regenerate(
    args: RegenerateArgs,
    verbose: bool,
    reporter: &dyn Reporter,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    let target = open_target(&args.target, !args.dry_run, "regenerating", reporter)?;
    let changes = regenerate::regenerate(target.as_ref(), args.dry_run, reporter)?;
    write_change_summary(out, &target.location(), &changes, args.dry_run, verbose)
        .map_err(RunError::Output)
}

/// What kind of file a change touched, for summaries that stay short at scale.
fn change_kind(path: &str, message: &str) -> &'static str {
    let file = path.rsplit('/').next().unwrap_or(path);
    if message.starts_with("Remove") && !file.ends_with(".html") {
        "file(s) deleted"
    } else if path == "index.html" {
        "root page"
    } else if file == "index.html" {
        "project page(s)"
    } else if file.ends_with(".metadata") {
        ".metadata file(s)"
    } else if file == ".nojekyll" {
        ".nojekyll"
    } else {
        "distribution(s)"
    }
}

/// The summary of a regenerate: counts per kind of file, and with `--verbose` every path. A
/// run over 2,000 files prints a handful of lines, not 2,000.
pub fn write_change_summary(
    out: &mut dyn Write,
    location: &str,
    changes: &[(String, String)],
    dry_run: bool,
    verbose: bool,
) -> std::io::Result<()> {
    if changes.is_empty() {
        return writeln!(
            out,
            "Every page of {location} is up to date; nothing written."
        );
    }
    let verb = if dry_run { "would write" } else { "wrote" };
    writeln!(
        out,
        "Regenerated {location}: {verb} {} file(s):",
        changes.len()
    )?;
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (path, message) in changes {
        let kind = change_kind(path, message);
        match counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((kind, 1)),
        }
    }
    for (kind, n) in counts {
        writeln!(out, "  {n:>6}  {kind}")?;
    }
    if verbose {
        for (path, message) in changes {
            writeln!(out, "  {path}  ({message})")?;
        }
    } else if changes.len() > 1 {
        writeln!(out, "(--verbose lists every file)")?;
    }
    Ok(())
}

fn verify(
    args: VerifyArgs,
    quiet: bool,
    reporter: &dyn Reporter,
    out: &mut dyn Write,
) -> Result<(), RunError> {
    let target = open_target(&args.target, false, "verifying", reporter)?;
    let report = verify::verify(target.as_ref(), reporter)?;
    let location = target.location();
    for problem in &report.problems {
        writeln!(out, "problem: {problem}").map_err(RunError::Output)?;
    }
    if quiet {
        return if report.problems.is_empty() {
            Ok(())
        } else {
            Err(RunError::VerifyFailed {
                location,
                count: report.problems.len(),
            })
        };
    }
    writeln!(
        out,
        "Checked {} file(s) in {} project(s) at {location}: {} problem(s).",
        report.files_checked,
        report.projects,
        report.problems.len()
    )
    .map_err(RunError::Output)?;
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(RunError::VerifyFailed {
            location,
            count: report.problems.len(),
        })
    }
}

/// The local directory when `--index-dir` is given, else the GitHub repository. A command that
/// writes to GitHub fails here, before any request, when there is no token.
fn open_target<'r>(
    args: &TargetArgs,
    writes: bool,
    what: &'static str,
    reporter: &'r dyn Reporter,
) -> Result<Box<dyn Target + 'r>, RunError> {
    if let Some(dir) = &args.index_dir {
        return Ok(Box::new(LocalDir::new(dir.clone())));
    }
    Ok(Box::new(open_github(args, writes, what, reporter)?))
}

/// The GitHub repository of `args` (whatever `--index-dir` says).
fn open_github<'r>(
    args: &TargetArgs,
    writes: bool,
    what: &'static str,
    reporter: &'r dyn Reporter,
) -> Result<GitHubTarget<'r>, RunError> {
    let token = github::token::discover(args.token_file.as_deref())?;
    if writes && token.is_none() {
        return Err(RunError::NoToken {
            what,
            repo: args.repo.clone(),
        });
    }
    if let Some(token) = &token {
        reporter.event(Event::Detail(&format!(
            "using the token from {}",
            token.source()
        )));
        if writes && is_actions_token(token.source()) {
            reporter.event(Event::Warning(
                "the token is the workflow's GITHUB_TOKEN: commits made with it start no GitHub \
                 Pages build, so the served index will not change until something else builds \
                 the site; pass a fine-grained token or a GitHub App token instead \
                 (GT4PY_PUBLISH_TOKEN)",
            ));
        }
    }
    let config = GitHubConfig {
        api_url: args.api_url.clone(),
        repo: args.repo.clone(),
        branch: args.branch.clone(),
        token,
        atomic: args.atomic,
        max_blob_size: args.max_blob_size,
    };
    let target = GitHubTarget::new(config, reporter)
        .map_err(|source| RunError::GitHub {
            repo: args.repo.clone(),
            source: Box::new(source),
        })?
        .with_retry_policy(RetryPolicy {
            min_write_interval: args.min_write_interval,
            ..RetryPolicy::default()
        })
        .with_asset_release(&args.asset_release);
    Ok(target)
}

fn yank(args: YankArgs, reporter: &dyn Reporter, out: &mut dyn Write) -> Result<(), RunError> {
    let target = open_target(&args.target, true, "yanking", reporter)?;
    let changes = maintain::set_yanked(
        target.as_ref(),
        &args.filename,
        Some(&args.reason),
        reporter,
    )?;
    let line = if changes.is_empty() {
        format!("{} was already yanked; nothing written.", args.filename)
    } else {
        format!("Yanked {} on {}.", args.filename, target.location())
    };
    writeln!(out, "{line}").map_err(RunError::Output)
}

fn unyank(args: FileArgs, reporter: &dyn Reporter, out: &mut dyn Write) -> Result<(), RunError> {
    let target = open_target(&args.target, true, "unyanking", reporter)?;
    let changes = maintain::set_yanked(target.as_ref(), &args.filename, None, reporter)?;
    let line = if changes.is_empty() {
        format!("{} was not yanked; nothing written.", args.filename)
    } else {
        format!("Unyanked {} on {}.", args.filename, target.location())
    };
    writeln!(out, "{line}").map_err(RunError::Output)
}

fn remove(args: FileArgs, reporter: &dyn Reporter, out: &mut dyn Write) -> Result<(), RunError> {
    let target = open_target(&args.target, true, "removing", reporter)?;
    let changes = maintain::remove(target.as_ref(), &args.filename, reporter)?;
    writeln!(out, "Removed {} from {}:", args.filename, target.location())
        .map_err(RunError::Output)?;
    for (path, _) in &changes {
        writeln!(out, "  {path}").map_err(RunError::Output)?;
    }
    Ok(())
}

/// `list`: project names, or `VERSION  FILENAME` lines of one project (newest first), in a form
/// scripts can read (the updater workflows ask which versions are published).
fn list(args: ListArgs, reporter: &dyn Reporter, out: &mut dyn Write) -> Result<(), RunError> {
    let target = open_target(&args.target, false, "listing", reporter)?;
    let location = target.location();
    let read_error = |source| PublishError::Read {
        location: location.clone(),
        source,
    };
    let Some(name) = args.project else {
        let root = state::read_root(target.as_ref(), reporter).map_err(read_error)?;
        for project in root.page.projects() {
            writeln!(out, "{project}").map_err(RunError::Output)?;
        }
        return Ok(());
    };
    let project = ProjectName::new(&name).map_err(|source| RunError::BadProject {
        name: name.clone(),
        source,
    })?;
    let state =
        state::read_project(target.as_ref(), &project, &[], reporter).map_err(read_error)?;
    if state.stored_page.is_none() {
        return Err(RunError::NoSuchProject {
            project: name,
            location,
        });
    }
    for entry in state.page.entries() {
        let version = crate::filename::DistFilename::parse(&entry.filename)
            .map(|f| f.version().to_string())
            .unwrap_or_else(|_| "?".to_string());
        let yanked = match entry.yanked.as_deref() {
            None => String::new(),
            Some("") => "  (yanked)".to_string(),
            Some(reason) => format!("  (yanked: {reason})"),
        };
        writeln!(out, "{version}  {}{yanked}", entry.filename).map_err(RunError::Output)?;
    }
    Ok(())
}

/// Whether the token is most likely the Actions `GITHUB_TOKEN` of the running workflow.
fn is_actions_token(source: &github::TokenSource) -> bool {
    actions::in_actions() && *source == github::TokenSource::Env("GITHUB_TOKEN")
}

/// What a `file://` URL path leaves unencoded (`/` separates, so it stays).
const FILE_URL_PATH: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The index URL a user installs from: the folder as a `file://` URL, or the GitHub Pages site
/// of the repository (known only for github.com).
fn install_url(args: &TargetArgs) -> String {
    match &args.index_dir {
        Some(dir) => {
            let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            let path = absolute.display().to_string();
            let path = path.trim_end_matches('/');
            format!(
                "file://{}/",
                percent_encoding::utf8_percent_encode(path, FILE_URL_PATH)
            )
        }
        None => pages_url(&args.api_url, &args.repo).unwrap_or_default(),
    }
}

/// `https://OWNER.github.io/NAME/` (or `https://OWNER.github.io/` for the `OWNER.github.io`
/// repository), for repositories on github.com.
pub fn pages_url(api_url: &str, repo: &str) -> Option<String> {
    if api_url.trim_end_matches('/') != "https://api.github.com" {
        return None;
    }
    let (owner, name) = repo.split_once('/')?;
    let owner = owner.to_ascii_lowercase();
    if name.eq_ignore_ascii_case(&format!("{owner}.github.io")) {
        Some(format!("https://{owner}.github.io/"))
    } else {
        Some(format!("https://{owner}.github.io/{name}/"))
    }
}

/// Validates every file (in parallel: hashing a large wheel is the slow part) and reports every
/// refusal, not just the first.
pub fn validate_all(files: &[PathBuf], reporter: &dyn Reporter) -> Result<Vec<DistFile>, RunError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<DistFile, DistError>)>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len())
        .max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                    let bar = reporter.transfer(&format!("checking {}", path.display()), size);
                    let result = dist::validate_with_progress(path, &|n| bar.advance(n));
                    drop(bar);
                    if let Ok(dist) = &result {
                        reporter.event(Event::Step(&format!(
                            "validated {} ({} {})",
                            path.display(),
                            dist.filename.project(),
                            dist.filename.version()
                        )));
                    }
                    if let Ok(mut results) = results.lock() {
                        results.push((i, result));
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _)| *i);
    let mut dists = Vec::new();
    let mut errors = Vec::new();
    for (_, result) in results {
        match result {
            Ok(dist) => dists.push(dist),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(RunError::Invalid {
            total: files.len(),
            errors,
        });
    }
    dedupe(dists)
}

/// The same file given twice (a shell glob and an explicit name) is published once; two
/// different files with one name cannot both be published.
fn dedupe(dists: Vec<DistFile>) -> Result<Vec<DistFile>, RunError> {
    let mut seen: BTreeMap<String, DistFile> = BTreeMap::new();
    let mut order = Vec::new();
    for dist in dists {
        let name = dist.filename.as_str().to_string();
        match seen.get(&name) {
            Some(first) if first.digests.sha256 != dist.digests.sha256 => {
                return Err(RunError::DuplicateFilename {
                    first: first.path.clone(),
                    second: dist.path,
                });
            }
            Some(_) => {}
            None => {
                order.push(name.clone());
                seen.insert(name, dist);
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|name| seen.remove(&name))
        .collect())
}

/// The human summary: one line per file, what was written, and how to install.
pub fn write_summary(
    out: &mut dyn Write,
    location: &str,
    report: &PublishReport,
    dry_run: bool,
    mode: CommitMode,
    install_url: &str,
) -> std::io::Result<()> {
    if dry_run {
        writeln!(out, "Dry run: nothing was written to {location}.")?;
    } else {
        writeln!(out, "Index: {location}")?;
    }
    for result in &report.results {
        let label = result.outcome.label(dry_run);
        let note = match &result.outcome {
            Outcome::Published => String::new(),
            Outcome::AlreadyPresent => " (identical; nothing written)".into(),
            Outcome::Skipped { reason } => format!(" ({reason})"),
        };
        writeln!(out, "  {label:<16} {}{note}", result.filename)?;
    }
    if dry_run {
        if report.writes.is_empty() {
            writeln!(out, "No changes needed.")?;
        } else if mode == CommitMode::Atomic {
            // Uploads are not part of the commit: they go first, so the commit's pages link
            // files that exist.
            if let Some(first) = report.uploads.first() {
                writeln!(
                    out,
                    "Planned: {} release asset upload(s) to {}, before the commit:",
                    report.uploads.len(),
                    first.location
                )?;
                for upload in &report.uploads {
                    writeln!(out, "  upload {}  ({} bytes)", upload.name, upload.size)?;
                }
            }
            writeln!(
                out,
                "Planned: one commit of {} change(s), \"{}\":",
                report.changes.len(),
                report.changes.title
            )?;
            for change in &report.changes.changes {
                let verb = if change.is_delete() {
                    "delete"
                } else {
                    "write "
                };
                writeln!(out, "  {verb} {}  ({})", change.path, change.message)?;
            }
        } else {
            writeln!(out, "Planned writes, in order:")?;
            for (path, message) in &report.writes {
                writeln!(out, "  {path}  ({message})")?;
            }
        }
        return Ok(());
    }
    match report.writes.len() {
        0 => writeln!(out, "Nothing to write: the index already holds every file.")?,
        n => writeln!(out, "{n} file(s) written.")?,
    }
    let installable = report.installable_versions();
    if !installable.is_empty() && !install_url.is_empty() {
        writeln!(out, "Install with:")?;
        for (project, version) in installable {
            writeln!(
                out,
                "  {}",
                publish::install_command(install_url, &project, &version)
            )?;
        }
    }
    Ok(())
}
