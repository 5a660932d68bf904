//! `--wait-live`: after a publish, poll the served index until every project page lists the new
//! files with their hashes, so a downstream job can install right away. GitHub Pages rebuilds a
//! site a while after the commit; this waits for what users will really see.

use std::time::{Duration, Instant};

use crate::index::ProjectPage;
use crate::name::ProjectName;
use crate::report::{Event, Reporter};

/// A file the served index must show.
#[derive(Debug, Clone)]
pub struct Expect {
    pub project: ProjectName,
    pub filename: String,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error(
        "{url} did not show {missing} within {seconds} s (last check: {last}); the publish \
         itself succeeded — GitHub Pages may still be building: check the repository's Pages \
         deployments, or wait longer with --wait-timeout"
    )]
    Timeout {
        url: String,
        missing: String,
        seconds: u64,
        last: String,
    },
    #[error("--wait-live needs an http(s) URL, got `{url}`")]
    BadUrl { url: String },
    #[error("could not set up an HTTP client for --wait-live")]
    Client(#[source] reqwest::Error),
}

/// Refuses a URL `--wait-live` cannot poll, so the mistake shows before anything is published.
pub fn check_url(url: &str) -> Result<(), WaitError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(WaitError::BadUrl {
            url: url.to_string(),
        }),
    }
}

/// Polls `base_url` (the index root) until every `expected` file is listed with its sha256.
pub fn wait_live(
    base_url: &str,
    expected: &[Expect],
    timeout: Duration,
    interval: Duration,
    reporter: &dyn Reporter,
) -> Result<(), WaitError> {
    check_url(base_url)?;
    let base = format!("{}/", base_url.trim_end_matches('/'));
    crate::github::client::install_crypto_provider();
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("gt4py-publish/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(WaitError::Client)?;
    let started = Instant::now();
    let mut pending: Vec<&Expect> = expected.iter().collect();
    let mut last = String::from("not checked yet");
    loop {
        let mut still = Vec::new();
        for expect in &pending {
            let url = format!("{base}{}/", expect.project);
            match check(&client, &url, expect) {
                Ok(true) => reporter.event(Event::Step(&format!(
                    "live: {url} lists {}",
                    expect.filename
                ))),
                Ok(false) => {
                    last = format!("{url} does not list {} yet", expect.filename);
                    still.push(*expect);
                }
                Err(reason) => {
                    last = format!("{url}: {reason}");
                    still.push(*expect);
                }
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(());
        }
        let elapsed = started.elapsed();
        if elapsed >= timeout {
            return Err(WaitError::Timeout {
                url: base,
                missing: pending
                    .iter()
                    .map(|e| e.filename.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                seconds: timeout.as_secs(),
                last,
            });
        }
        let delay = interval.min(timeout - elapsed);
        reporter.event(Event::Waiting {
            reason: &format!("for {base} to serve the new files ({last})"),
            delay: Some(delay),
        });
        std::thread::sleep(delay);
    }
}

/// Whether the page at `url` lists the file with its hash. Pages are cached by CDNs, so the
/// request asks for a fresh copy.
fn check(client: &reqwest::blocking::Client, url: &str, expect: &Expect) -> Result<bool, String> {
    let response = client
        .get(url)
        .header("Cache-Control", "no-cache")
        .send()
        .map_err(|e| format!("request failed ({e})"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let body = response
        .bytes()
        .map_err(|e| format!("reading the page failed ({e})"))?;
    let page = ProjectPage::parse(expect.project.clone(), &body).map_err(|e| e.to_string())?;
    Ok(page
        .page
        .get(&expect.filename)
        .and_then(|e| e.sha256.as_deref())
        .is_some_and(|sha| sha.eq_ignore_ascii_case(&expect.sha256)))
}
