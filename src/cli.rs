//! Command-line definitions (clap) and nothing else: `main` turns them into a run.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::assets::StorePolicy;

/// Publish Python wheels and sdists to a static PEP 503 package index kept in a GitHub repository
/// (served by GitHub Pages) or in a local directory.
///
/// Bare files mean `publish`: `gt4py-publish dist/*.whl`.
#[derive(Debug, Parser)]
#[command(name = "gt4py-publish", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub output: OutputArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Show every read, write and request (tokens are always redacted).
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,

    /// Show only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate distributions and publish them to the index (the default command).
    Publish(PublishArgs),
    /// Validate distributions without publishing anything.
    Check(CheckArgs),
    /// Mark a published file yanked (PEP 592): installers skip it unless pinned exactly.
    Yank(YankArgs),
    /// Revert a yank.
    Unyank(FileArgs),
    /// Delete a published file and its .metadata, and update the pages.
    Remove(FileArgs),
    /// List the projects of the index, or the files of one project with their versions.
    List(ListArgs),
    /// Rebuild every page from the files present (keeps known hashes, hashes only new files,
    /// adds missing .metadata files); adopts any folder of distributions.
    Regenerate(RegenerateArgs),
    /// Check that every listed file exists with its hash and every file is listed; exits
    /// non-zero on problems.
    Verify(VerifyArgs),
    /// Check a target before the first publish: token and write access, branch rules, GitHub
    /// Pages source, .nojekyll, pages, site size; names each problem with its fix and exits
    /// non-zero on problems.
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct RegenerateArgs {
    /// Show what would be rewritten; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct YankArgs {
    /// The filename as published, e.g. dace-43!2026.2.3-py3-none-any.whl.
    #[arg(value_name = "FILENAME")]
    pub filename: String,

    /// Why it is yanked; installers show it.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub reason: String,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The filename as published, e.g. dace-43!2026.2.3-py3-none-any.whl.
    #[arg(value_name = "FILENAME")]
    pub filename: String,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// A project: list its files (`VERSION  FILENAME`, newest first) instead of the projects.
    #[arg(value_name = "PROJECT")]
    pub project: Option<String>,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Wheels (.whl) and sdists (.tar.gz, .zip) to publish.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// A file whose name is already on the index with different content is skipped with a
    /// warning instead of failing the run.
    #[arg(long)]
    pub skip_existing: bool,

    /// Validate and show the planned changes; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Where distributions go on GitHub: `auto` keeps them in the repository unless one is
    /// above --max-blob-size, which then becomes a release asset; `repo` or `release` for all.
    #[arg(long, value_enum, default_value_t = StorePolicy::Auto, env = "GT4PY_PUBLISH_STORE")]
    pub store: StorePolicy,

    /// Publish even when the GitHub Pages site would pass Pages' 1 GB limit.
    #[arg(long)]
    pub allow_over_budget: bool,

    /// After publishing, poll the served index at URL (e.g. https://gridtools.github.io/pypi/)
    /// until every project page lists the new files with their hashes.
    #[arg(long, value_name = "URL")]
    pub wait_live: Option<String>,

    /// How long --wait-live waits, in seconds (at most a day).
    #[arg(long, value_name = "SECONDS", default_value = "600", value_parser = parse_wait_timeout)]
    pub wait_timeout: Duration,

    /// How often --wait-live polls, in seconds (0.05 to 3600).
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_wait_interval)]
    pub wait_interval: Duration,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Wheels (.whl) and sdists (.tar.gz, .zip) to validate.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Where the index lives: a local directory with `--index-dir`, otherwise a GitHub repository.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Publish into a local index directory (no network, no token); the GitHub options are
    /// then ignored.
    #[arg(long, value_name = "DIR")]
    pub index_dir: Option<PathBuf>,

    /// The GitHub repository that holds the index.
    #[arg(
        long,
        value_name = "OWNER/NAME",
        env = "GT4PY_PUBLISH_REPO",
        default_value = "GridTools/pypi"
    )]
    pub repo: String,

    /// The branch GitHub Pages serves the index from.
    #[arg(
        long,
        value_name = "BRANCH",
        env = "GT4PY_PUBLISH_BRANCH",
        default_value = "main"
    )]
    pub branch: String,

    /// GitHub API base URL (Enterprise Server: https://HOST/api/v3).
    #[arg(
        long,
        value_name = "URL",
        env = "GITHUB_API_URL",
        default_value = "https://api.github.com"
    )]
    pub api_url: String,

    /// Read the token from this file; otherwise from GT4PY_PUBLISH_TOKEN, GH_TOKEN or
    /// GITHUB_TOKEN. It needs Contents: write on the repository (read access for --dry-run).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// Make each run one commit through the Git Data API (one GitHub Pages build, no
    /// half-published state) instead of one Contents API commit per file.
    #[arg(
        long,
        env = "GT4PY_PUBLISH_ATOMIC",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub atomic: bool,

    /// The largest request body (bytes) sent to GitHub in one request; a file whose base64
    /// upload would be larger is refused before anything is written. GitHub cuts bodies off
    /// near 40 MB (default 41943040, 40 MiB: files up to about 30 MiB).
    #[arg(
        long,
        value_name = "BYTES",
        env = "GT4PY_PUBLISH_MAX_BLOB_SIZE",
        default_value_t = crate::github::contents::DEFAULT_MAX_BLOB_SIZE,
        value_parser = clap::value_parser!(u64).range(1024..=2 * 1024 * 1024 * 1024)
    )]
    pub max_blob_size: u64,

    /// Least time between two writes to GitHub, in seconds (GitHub asks integrations for one
    /// second; 0 to 60).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "GT4PY_PUBLISH_MIN_WRITE_INTERVAL",
        default_value = "1",
        value_parser = parse_write_interval
    )]
    pub min_write_interval: Duration,

    /// The release (by tag) whose assets hold distributions stored outside the repository;
    /// created when missing.
    #[arg(
        long,
        value_name = "TAG",
        env = "GT4PY_PUBLISH_ASSET_RELEASE",
        default_value = "gt4py-publish-files"
    )]
    pub asset_release: String,
}

/// A number of seconds within `min..=max`: NaN, infinities, negative and absurd values are
/// refused when the command line is read, not found out after a publish.
fn parse_seconds(text: &str, min: f64, max: f64) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !value.is_finite() {
        return Err(format!("`{text}` is not a finite number of seconds"));
    }
    if !(min..=max).contains(&value) {
        return Err(format!(
            "{value} s is out of range: give {min} to {max} seconds"
        ));
    }
    Duration::try_from_secs_f64(value).map_err(|e| format!("`{text}`: {e}"))
}

fn parse_wait_timeout(text: &str) -> Result<Duration, String> {
    parse_seconds(text, 0.0, 86_400.0)
}

fn parse_write_interval(text: &str) -> Result<Duration, String> {
    parse_seconds(text, 0.0, 60.0)
}

fn parse_wait_interval(text: &str) -> Result<Duration, String> {
    parse_seconds(text, 0.05, 3_600.0)
}

/// Subcommand names; anything else in first position means `publish`.
const SUBCOMMANDS: &[&str] = &[
    "publish",
    "check",
    "yank",
    "unyank",
    "remove",
    "list",
    "regenerate",
    "verify",
    "doctor",
    "help",
];

/// Options that may come before the command word (`gt4py-publish -v list`): they take no value,
/// so skipping them finds the command word.
fn is_global_flag(arg: &str) -> bool {
    matches!(arg, "--verbose" | "--quiet")
        || (arg.len() > 1
            && arg.starts_with('-')
            && !arg.starts_with("--")
            && arg[1..].chars().all(|c| c == 'v' || c == 'q'))
}

/// Inserts the implicit `publish` so `gt4py-publish [OPTIONS] FILE...` works as documented, after
/// any global flags, so `gt4py-publish -v list` still means `list`.
pub fn with_default_command(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let first = args
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, a)| !a.to_str().is_some_and(is_global_flag));
    let needs_publish = match first.map(|(i, a)| (i, a.to_str())) {
        None => None,
        // Not UTF-8: a file name, so `publish`.
        Some((i, None)) => Some(i),
        Some((i, Some(word))) => (!SUBCOMMANDS.contains(&word)
            && !matches!(word, "-h" | "--help" | "-V" | "--version"))
        .then_some(i),
    };
    if let Some(i) = needs_publish {
        args.insert(i, OsString::from("publish"));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(with_default_command(args.iter().map(OsString::from))).unwrap()
    }

    #[test]
    fn bare_files_mean_publish() {
        let cli = parse(&["gt4py-publish", "--index-dir", "idx", "a.whl", "b.tar.gz"]);
        let Command::Publish(args) = cli.command else {
            panic!("expected publish")
        };
        assert_eq!(
            args.files,
            [PathBuf::from("a.whl"), PathBuf::from("b.tar.gz")]
        );
        assert_eq!(args.target.index_dir, Some(PathBuf::from("idx")));
        let cli = parse(&["gt4py-publish", "-v", "a.whl"]);
        assert!(cli.output.verbose);
        assert!(matches!(cli.command, Command::Publish(_)));
    }

    #[test]
    fn explicit_subcommands_are_kept() {
        assert!(matches!(
            parse(&["gt4py-publish", "check", "a.whl"]).command,
            Command::Check(_)
        ));
        assert!(matches!(
            parse(&["gt4py-publish", "publish", "--dry-run", "a.whl"]).command,
            Command::Publish(PublishArgs { dry_run: true, .. })
        ));
    }

    #[test]
    fn global_flags_may_come_before_the_command_word() {
        for args in [
            &["gt4py-publish", "-v", "list", "--index-dir", "x"][..],
            &["gt4py-publish", "--verbose", "list", "--index-dir", "x"],
            &["gt4py-publish", "-q", "-v", "list", "--index-dir", "x"],
            &["gt4py-publish", "list", "-v", "--index-dir", "x"],
        ] {
            let cli = Cli::try_parse_from(with_default_command(args.iter().map(OsString::from)));
            // -q and -v conflict; every other line lists.
            if args.contains(&"-q") {
                assert!(cli.is_err());
                continue;
            }
            let cli = cli.unwrap();
            assert!(matches!(cli.command, Command::List(_)), "{args:?}");
            assert!(cli.output.verbose, "{args:?}");
        }
        let cli = parse(&["gt4py-publish", "-q", "--index-dir", "x", "a.whl"]);
        assert!(cli.output.quiet);
        assert!(matches!(cli.command, Command::Publish(_)));
        assert!(matches!(
            parse(&["gt4py-publish", "-v", "a.whl"]).command,
            Command::Publish(_)
        ));
    }

    #[test]
    fn seconds_refuse_nan_infinities_negatives_and_absurd_values() {
        for bad in [
            "nan", "NaN", "inf", "-inf", "-1", "1e300", "abc", "", "0.001", "86401",
        ] {
            let result = Cli::try_parse_from([
                "gt4py-publish",
                "publish",
                "--wait-interval",
                bad,
                "--wait-timeout",
                "60",
                "a.whl",
            ]);
            let timeout =
                Cli::try_parse_from(["gt4py-publish", "publish", "--wait-timeout", bad, "a.whl"]);
            assert!(result.is_err(), "--wait-interval {bad:?}");
            if !matches!(bad, "0.001") {
                assert!(timeout.is_err(), "--wait-timeout {bad:?}");
            }
        }
        let Command::Publish(args) = parse(&[
            "gt4py-publish",
            "--wait-interval",
            "0.5",
            "--wait-timeout",
            "30",
            "a.whl",
        ])
        .command
        else {
            panic!("expected publish")
        };
        assert_eq!(args.wait_interval, Duration::from_millis(500));
        assert_eq!(args.wait_timeout, Duration::from_secs(30));
    }

    #[test]
    fn atomic_is_a_flag_and_an_environment_variable() {
        let publish = |cli: Cli| match cli.command {
            Command::Publish(args) => args,
            other => panic!("expected publish, got {other:?}"),
        };
        let args = publish(parse(&["gt4py-publish", "--atomic", "a.whl"]));
        assert!(args.target.atomic);
        assert_eq!(args.files, [PathBuf::from("a.whl")]);
        assert!(!publish(parse(&["gt4py-publish", "a.whl"])).target.atomic);
    }

    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
