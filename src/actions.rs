//! GitHub Actions integration: the job summary (`$GITHUB_STEP_SUMMARY`) and step outputs
//! (`$GITHUB_OUTPUT`) of a publish, so a workflow can show and use what was published.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use crate::plan::Outcome;
use crate::publish::{PublishReport, install_command};

/// Whether this process runs as a GitHub Actions step.
pub fn in_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// The Markdown job summary: a table of files and outcomes, and the install commands.
pub fn step_summary(report: &PublishReport, location: &str, index_url: &str) -> String {
    let mut md = format!("### gt4py-publish: {}\n\n", markdown_escape(location));
    md.push_str("| File | Version | Result |\n|---|---|---|\n");
    for result in &report.results {
        let label = result.outcome.label(false);
        let outcome = match &result.outcome {
            Outcome::Published => label.to_string(),
            Outcome::AlreadyPresent => format!("{label} (nothing written)"),
            Outcome::Skipped { reason } => format!("{label}: {}", markdown_escape(reason)),
        };
        md.push_str(&format!(
            "| `{}` | {} | {} |\n",
            result.filename.replace('`', "'"),
            markdown_escape(&result.version),
            outcome
        ));
    }
    let installable = report.installable_versions();
    if !installable.is_empty() && !index_url.is_empty() {
        md.push_str("\nInstall with:\n\n```sh\n");
        for (project, version) in installable {
            md.push_str(&install_command(index_url, &project, &version));
            md.push('\n');
        }
        md.push_str("```\n");
    }
    md
}

/// The URLs of the files of this run (published or already present), one per line.
pub fn file_urls(report: &PublishReport, index_url: &str) -> Vec<String> {
    report
        .results
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Skipped { .. }))
        .map(|r| match &r.asset_url {
            Some(url) => url.clone(),
            None => format!(
                "{index_url}{}/{}",
                r.project,
                crate::index::encode_href_path(&r.filename)
            ),
        })
        .collect()
}

/// Step outputs in the `$GITHUB_OUTPUT` syntax: `published-urls` (multi-line), `published`
/// (how many files were written) and `index-url`.
pub fn step_outputs(report: &PublishReport, index_url: &str) -> String {
    let urls = file_urls(report, index_url).join("\n");
    let published = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Published)
        .count();
    // A delimiter no URL can contain, random so no input can end the value early.
    let delimiter = format!("gt4py_publish_{:016x}", fastrand::u64(..));
    format!(
        "published-urls<<{delimiter}\n{urls}\n{delimiter}\npublished={published}\nindex-url={index_url}\n"
    )
}

/// Appends to the files GitHub Actions names in `GITHUB_STEP_SUMMARY` and `GITHUB_OUTPUT`.
pub fn write_step_files(report: &PublishReport, location: &str, index_url: &str) -> io::Result<()> {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        append(Path::new(&path), &step_summary(report, location, index_url))?;
    }
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT") {
        append(Path::new(&path), &step_outputs(report, index_url))?;
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> io::Result<()> {
    let mut file = OpenOptions::new().append(true).create(true).open(path)?;
    file.write_all(text.as_bytes())
}

fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>') {
            out.push('\\');
        }
        if c == '\n' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::ProjectName;
    use crate::plan::FileResult;

    fn report() -> PublishReport {
        PublishReport {
            results: vec![
                FileResult {
                    filename: "dace-43!2026.2.3-py3-none-any.whl".into(),
                    project: ProjectName::new("dace").unwrap(),
                    version: "43!2026.2.3".into(),
                    outcome: Outcome::Published,
                    asset_url: None,
                },
                FileResult {
                    filename: "ghex-0.4+cu118-cp311-cp311-linux_x86_64.whl".into(),
                    project: ProjectName::new("ghex").unwrap(),
                    version: "0.4+cu118".into(),
                    outcome: Outcome::AlreadyPresent,
                    asset_url: None,
                },
                FileResult {
                    filename: "ghex-0.3.tar.gz".into(),
                    project: ProjectName::new("ghex").unwrap(),
                    version: "0.3".into(),
                    outcome: Outcome::Skipped {
                        reason: "already on the index | with different content".into(),
                    },
                    asset_url: None,
                },
            ],
            writes: Vec::new(),
            changes: Default::default(),
            uploads: Vec::new(),
            attempts: 1,
        }
    }

    #[test]
    fn outputs_list_the_file_urls_in_a_multiline_value() {
        let out = step_outputs(&report(), "https://gridtools.github.io/pypi/");
        let mut lines = out.lines();
        let first = lines.next().unwrap();
        let delimiter = first.strip_prefix("published-urls<<").unwrap();
        assert_eq!(
            lines.next(),
            Some("https://gridtools.github.io/pypi/dace/dace-43!2026.2.3-py3-none-any.whl")
        );
        assert_eq!(
            lines.next(),
            Some(
                "https://gridtools.github.io/pypi/ghex/ghex-0.4%2Bcu118-cp311-cp311-linux_x86_64.whl"
            )
        );
        assert_eq!(lines.next(), Some(delimiter));
        assert_eq!(lines.next(), Some("published=1"));
    }

    #[test]
    fn the_summary_is_a_table_with_install_commands() {
        let md = step_summary(
            &report(),
            "GridTools/pypi@main",
            "https://gridtools.github.io/pypi/",
        );
        assert!(
            md.contains("| `dace-43!2026.2.3-py3-none-any.whl` | 43!2026.2.3 | published |"),
            "{md}"
        );
        assert!(
            md.contains("skipped: already on the index \\| with different content"),
            "{md}"
        );
        assert!(md.contains(
            "python3 -m pip install --extra-index-url https://gridtools.github.io/pypi/ dace==43!2026.2.3"
        ));
        assert!(
            !md.contains("ghex==0.3"),
            "skipped files are not installable from here"
        );
    }
}
