//! Command-line definitions (clap) and nothing else: `main` turns them into a run.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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

    /// After publishing, poll the served index at URL (e.g. https://gridtools.github.io/pypi/)
    /// until every project page lists the new files with their hashes.
    #[arg(long, value_name = "URL")]
    pub wait_live: Option<String>,

    /// How long --wait-live waits, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub wait_timeout: u64,

    /// How often --wait-live polls, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub wait_interval: f64,

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
    "help",
];

/// Inserts the implicit `publish` so `gt4py-publish [OPTIONS] FILE...` works as documented.
pub fn with_default_command(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let needs_publish = match args.get(1).and_then(|a| a.to_str()) {
        None => false,
        Some(first) => {
            !SUBCOMMANDS.contains(&first) && !matches!(first, "-h" | "--help" | "-V" | "--version")
        }
    };
    if needs_publish {
        args.insert(1, OsString::from("publish"));
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
    fn verify_cli() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
