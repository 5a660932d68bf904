//! HTTP to the GitHub REST API: headers, authentication, error mapping, retries, rate limits.
//!
//! Every call goes through [`ApiClient::execute`], one retry loop for all requests. The loop
//! rebuilds the request on each attempt (a streamed body cannot be replayed, so the caller's
//! `build` closure reopens the file), waits as GitHub asks (`retry-after`, the primary rate
//! limit's reset time) or backs off exponentially with jitter, tells the reporter what it waits
//! for, and gives up after a bounded number of attempts and a bounded total wait.
//!
//! A write whose answer was lost (dropped connection, timeout, 5xx) may still have been applied.
//! Before such a write is sent again, the caller's `check_write` looks at the file: already in
//! the new state → done; still in the old state → send again; anything else → conflict.

use std::io::Read;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::blocking::{Body, Client, Response};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};

use super::error::{GitHubError, RequestId};
use super::token::Secret;
use crate::report::{Event, Reporter};

/// The REST API version this client was written against.
pub const API_VERSION: &str = "2022-11-28";
/// `User-Agent`: GitHub refuses requests without one (reqwest sends none by default).
pub const USER_AGENT: &str = concat!("gt4py-publish/", env!("CARGO_PKG_VERSION"));

/// Media types (`Accept`).
pub const JSON: &str = "application/vnd.github+json";
/// The file's bytes, for files up to 100 MB (the default media type stops at 1 MB).
pub const RAW: &str = "application/vnd.github.raw+json";
/// Metadata (sha, size) without the content, whatever the file's size.
pub const OBJECT: &str = "application/vnd.github.object+json";

/// Error bodies are small JSON objects; anything longer is not one worth quoting whole.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// How often and how long to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff step; doubled on each retry, then jittered down by up to half.
    pub base_delay: Duration,
    /// Cap on one backoff step (server-requested waits are not capped by this, only by
    /// `max_total_wait`).
    pub max_delay: Duration,
    /// Cap on all waits of one request added up; a server-requested wait beyond it fails now
    /// rather than hanging a CI job for an hour.
    pub max_total_wait: Duration,
    /// Least wait after a secondary rate limit without `retry-after` (GitHub asks for a minute),
    /// doubled on each further one.
    pub secondary_min_wait: Duration,
    /// Least time between two mutating requests (GitHub's best practices ask for a second).
    pub min_write_interval: Duration,
    /// Request bodies above this many bytes are sent at most twice: GitHub cuts such bodies off
    /// near 40 MB after seconds of upload, and a third try only repeats the wait.
    pub large_body: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(15 * 60),
            secondary_min_wait: Duration::from_secs(60),
            min_write_interval: Duration::from_secs(1),
            large_body: 8 * 1024 * 1024,
        }
    }
}

/// Why a failed attempt may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryKind {
    /// 5xx: GitHub had a problem.
    Server,
    /// The connection failed, dropped, or timed out.
    Transport,
    /// 429, or a 403 whose message names a secondary rate limit.
    SecondaryLimit,
    /// 403/429 with `x-ratelimit-remaining: 0`: the token's hourly budget is used up.
    PrimaryLimit,
}

/// The rate-limit headers of an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateHeaders {
    /// `retry-after`, in seconds.
    pub retry_after: Option<Duration>,
    /// `x-ratelimit-remaining`.
    pub remaining: Option<u64>,
    /// `x-ratelimit-reset`, epoch seconds.
    pub reset: Option<u64>,
}

impl RateHeaders {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            retry_after: parse_retry_after(headers.get(header::RETRY_AFTER)),
            remaining: number("x-ratelimit-remaining"),
            reset: number("x-ratelimit-reset"),
        }
    }
}

/// Longest wait a server answer is taken at its word for. Anything longer (a `Retry-After` of
/// 2^64-1, a reset time in the next century) is clamped here, so no sum of waits can overflow;
/// the retry loop then refuses it against its total budget and says what was asked.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After` as delay-seconds, the form GitHub sends, clamped to [`MAX_SERVER_WAIT`]. The
/// HTTP-date form is not used by GitHub; it is ignored and the backoff applies instead.
pub fn parse_retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits but too long for u64 is still "a very long wait", not "no header".
    let secs = text.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_SERVER_WAIT))
}

/// Whether an answer with this status may be retried, and why.
pub fn classify(status: StatusCode, rate: &RateHeaders, message: &str) -> Option<RetryKind> {
    let code = status.as_u16();
    if (code == 403 || code == 429) && rate.remaining == Some(0) {
        return Some(RetryKind::PrimaryLimit);
    }
    let lower = message.to_ascii_lowercase();
    if code == 429
        || (code == 403 && (lower.contains("secondary rate limit") || lower.contains("abuse")))
    {
        return Some(RetryKind::SecondaryLimit);
    }
    if status.is_server_error() {
        return Some(RetryKind::Server);
    }
    None
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0 for the first retry), with jitter: a random
    /// point in the upper half of the exponential step, so clients that failed together do not
    /// come back together.
    pub fn backoff(&self, retry: u32) -> Duration {
        crate::backoff::jittered(self.base_delay, self.max_delay, retry)
    }

    /// How long to wait before retry number `retry`, given what the answer asked for. `now` is
    /// epoch seconds (for `x-ratelimit-reset`).
    pub fn delay(&self, kind: RetryKind, rate: &RateHeaders, retry: u32, now: u64) -> Duration {
        if let Some(after) = rate.retry_after {
            return after.min(MAX_SERVER_WAIT);
        }
        match kind {
            RetryKind::PrimaryLimit => match rate.reset {
                // One second more: the reset time is rounded down to the second.
                Some(reset) => Duration::from_secs(reset.saturating_sub(now).saturating_add(1))
                    .min(MAX_SERVER_WAIT),
                None => self.backoff(retry).max(self.secondary_min_wait),
            },
            // A minute, then two, then four: GitHub asks clients to wait longer each time.
            RetryKind::SecondaryLimit => self
                .backoff(retry)
                .max(
                    self.secondary_min_wait
                        .saturating_mul(1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX)),
                )
                .min(MAX_SERVER_WAIT),
            RetryKind::Server | RetryKind::Transport => self.backoff(retry),
        }
    }
}

/// One request as the retry loop sends it. Built afresh for every attempt.
pub struct ApiRequest {
    pub method: Method,
    /// Path below the API root, percent-encoded, starting with `/`; may carry a query.
    pub path: String,
    /// `Accept` media type.
    pub accept: &'static str,
    pub body: Option<Body>,
    /// Length of `body` in bytes (for the resend limit on large bodies).
    pub body_len: u64,
    /// Overrides the client's default timeout (uploads scale it with their size).
    pub timeout: Option<Duration>,
    /// Byte counts read from the body, for a progress bar labelled `.0` of `.1` bytes.
    pub progress: Option<(String, u64, Receiver<u64>)>,
    /// An absolute URL sent to instead of the API root plus `path` (release uploads go to
    /// another host; `Link` headers name whole URLs); `path` still names it in messages. The
    /// caller checks that the token may go there.
    pub url: Option<String>,
    /// `Content-Type` of the body (release uploads need one).
    pub content_type: Option<String>,
}

impl ApiRequest {
    pub fn new(method: Method, path: String, accept: &'static str) -> Self {
        Self {
            method,
            path,
            accept,
            body: None,
            body_len: 0,
            timeout: None,
            progress: None,
            url: None,
            content_type: None,
        }
    }

    /// Whether it changes something on GitHub (paced, see [`RetryPolicy::min_write_interval`]).
    pub fn is_mutating(&self) -> bool {
        !matches!(self.method, Method::GET | Method::HEAD)
    }
}

/// What a write looks like on GitHub after its answer was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCheck {
    /// The write took effect; do not send it again.
    Applied,
    /// Still in the state the write expects; send it again.
    NotApplied,
}

/// The outcome of [`ApiClient::execute`].
#[derive(Debug)]
pub enum Sent<T> {
    /// GitHub answered with success; `T` is what the `read` closure made of the answer.
    Done(T),
    /// An earlier attempt's answer was lost, but the write is visible on GitHub.
    AlreadyApplied,
}

/// How a failed attempt ended.
enum Failure {
    /// GitHub answered with an error status.
    Status {
        error: Box<GitHubError>,
        retry: Option<RetryKind>,
        rate: RateHeaders,
    },
    /// No (complete) answer. `sent` is false when the connection was never made, so the
    /// request cannot have been applied. `retry` is false for failures a retry cannot fix (a
    /// request reqwest could not build).
    Transport {
        error: Box<GitHubError>,
        sent: bool,
        retry: bool,
    },
}

/// Installs the TLS crypto provider (ring) that reqwest needs, built as it is without a bundled
/// one. Every HTTP client of the tool calls this first; installing twice is harmless (the error
/// only says one is already in place).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client of one repository.
pub struct ApiClient<'r> {
    http: Client,
    api_url: String,
    repo: String,
    /// The branch written to, for messages.
    branch: Option<String>,
    has_token: bool,
    policy: RetryPolicy,
    reporter: &'r dyn Reporter,
    /// When the last mutating request was sent (pacing).
    last_write: std::sync::Mutex<Option<Instant>>,
}

impl<'r> ApiClient<'r> {
    /// A client for `api_url` (`https://api.github.com`, `https://HOST/api/v3`) acting on
    /// `repo` (`OWNER/NAME`, used in messages).
    pub fn new(
        api_url: &str,
        repo: &str,
        token: Option<&Secret>,
        reporter: &'r dyn Reporter,
    ) -> Result<Self, GitHubError> {
        install_crypto_provider();

        let mut headers = HeaderMap::new();
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static(API_VERSION),
        );
        if let Some(token) = token {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                    // The value is not quoted: it is the secret.
                    GitHubError::InvalidConfig(format!(
                        "the token from {} contains characters that cannot be sent in an HTTP \
                         header",
                        token.source()
                    ))
                })?;
            // Keeps it out of reqwest's Debug output and off cross-host redirects.
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        let http = Client::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            // A moved repository answers 301/307: a streamed upload cannot follow one, and a
            // silent follow would hide that --repo names the old place. Reported instead.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(GitHubError::Client)?;
        Ok(Self {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            repo: repo.to_string(),
            branch: None,
            last_write: std::sync::Mutex::new(None),
            has_token: token.is_some(),
            policy: RetryPolicy::default(),
            reporter,
        })
    }

    pub fn set_branch(&mut self, branch: &str) {
        self.branch = Some(branch.to_string());
    }

    pub fn set_retry_policy(&mut self, policy: RetryPolicy) {
        self.policy = policy;
    }

    pub fn has_token(&self) -> bool {
        self.has_token
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    pub fn reporter(&self) -> &'r dyn Reporter {
        self.reporter
    }

    /// GETs `path` and parses the JSON answer.
    pub fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        accept: &'static str,
    ) -> Result<T, GitHubError> {
        let bytes = self.get_bytes(path, accept)?;
        serde_json::from_slice(&bytes).map_err(|e| GitHubError::InvalidResponse {
            method: "GET".into(),
            path: path.to_string(),
            detail: e.to_string(),
        })
    }

    /// GETs `path` and returns the whole body.
    pub fn get_bytes(&self, path: &str, accept: &'static str) -> Result<Vec<u8>, GitHubError> {
        let sent = self.execute(
            &mut || Ok(ApiRequest::new(Method::GET, path.to_string(), accept)),
            &mut |mut response| {
                let mut bytes = Vec::new();
                response.read_to_end(&mut bytes).map(|_| bytes)
            },
            None,
        )?;
        match sent {
            Sent::Done(bytes) => Ok(bytes),
            Sent::AlreadyApplied => Err(self.unexpected("GET", path)),
        }
    }

    /// GETs `path` and hands back the answer unread, for streaming. Failures while reading the
    /// body later are not retried.
    pub fn get_stream(&self, path: &str, accept: &'static str) -> Result<Response, GitHubError> {
        let sent = self.execute(
            &mut || Ok(ApiRequest::new(Method::GET, path.to_string(), accept)),
            &mut |response| Ok(response),
            None,
        )?;
        match sent {
            Sent::Done(response) => Ok(response),
            Sent::AlreadyApplied => Err(self.unexpected("GET", path)),
        }
    }

    /// The branch a request names (`?ref=`, `refs/heads/…`), for messages; else "the branch".
    fn branch_hint(&self, path: &str) -> String {
        if let Some((_, rest)) = path.split_once("/git/refs/heads/") {
            return rest.split('?').next().unwrap_or(rest).to_string();
        }
        self.branch
            .clone()
            .unwrap_or_else(|| "the index branch".to_string())
    }

    fn unexpected(&self, method: &str, path: &str) -> GitHubError {
        GitHubError::InvalidResponse {
            method: method.to_string(),
            path: path.to_string(),
            detail: "a read was treated as a write".into(),
        }
    }

    /// Sends a request until it succeeds, fails for good, or the retry budget is spent.
    ///
    /// `build` makes the request for each attempt. `read` turns a success answer into `T`; its
    /// I/O errors count as a lost answer. `check_write` is given for writes: it is asked before
    /// a write whose answer was lost is sent again.
    pub fn execute<T>(
        &self,
        build: &mut dyn FnMut() -> Result<ApiRequest, GitHubError>,
        read: &mut dyn FnMut(Response) -> Result<T, std::io::Error>,
        mut check_write: Option<&mut dyn FnMut() -> Result<WriteCheck, GitHubError>>,
    ) -> Result<Sent<T>, GitHubError> {
        let mut waited = Duration::ZERO;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let request = build()?;
            let method = request.method.to_string();
            let path = request.path.clone();
            let large = request.body_len > self.policy.large_body;
            if request.is_mutating() {
                self.pace();
            }
            let failure = match self.attempt(request, read) {
                Ok(value) => return Ok(Sent::Done(value)),
                Err(failure) => failure,
            };
            let (error, kind, rate, maybe_applied) = match failure {
                Failure::Status {
                    error, retry: None, ..
                } => return Err(*error),
                Failure::Status {
                    error,
                    retry: Some(kind),
                    rate,
                } => {
                    // A 5xx on a write may come after the write was applied.
                    let maybe_applied = kind == RetryKind::Server;
                    (error, kind, rate, maybe_applied)
                }
                Failure::Transport {
                    error,
                    sent,
                    retry: false,
                } => return self.give_up(*error, sent, &mut check_write, &method, &path),
                Failure::Transport { error, sent, .. } => {
                    (error, RetryKind::Transport, RateHeaders::default(), sent)
                }
            };
            let max_attempts = if large {
                self.policy.max_attempts.min(2)
            } else {
                self.policy.max_attempts
            };
            if attempt >= max_attempts {
                return self.give_up(*error, maybe_applied, &mut check_write, &method, &path);
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let delay = self.policy.delay(kind, &rate, attempt - 1, now);
            if waited.saturating_add(delay) > self.policy.max_total_wait {
                let error = match kind {
                    RetryKind::PrimaryLimit => GitHubError::RateLimited {
                        resets: rate
                            .reset
                            .map(utc_time_of_day)
                            .unwrap_or_else(|| "an unknown time".into()),
                        wait_secs: delay.as_secs(),
                    },
                    _ => GitHubError::WaitTooLong {
                        method: method.clone(),
                        path: path.clone(),
                        wait_secs: delay.as_secs(),
                        budget_secs: self.policy.max_total_wait.as_secs(),
                        source: error,
                    },
                };
                return self.give_up(error, maybe_applied, &mut check_write, &method, &path);
            }
            let reason = match kind {
                RetryKind::PrimaryLimit => format!(
                    "GitHub's API rate limit for this token is used up; waiting for it to \
                     reset before retrying {method} {path}"
                ),
                RetryKind::SecondaryLimit => format!(
                    "GitHub's secondary rate limit was hit; retrying {method} {path} \
                     (attempt {} of {})",
                    attempt + 1,
                    self.policy.max_attempts
                ),
                RetryKind::Server | RetryKind::Transport => format!(
                    "{error}; retrying (attempt {} of {})",
                    attempt + 1,
                    self.policy.max_attempts
                ),
            };
            self.reporter.event(Event::Waiting {
                reason: &reason,
                delay: Some(delay),
            });
            std::thread::sleep(delay);
            waited = waited.saturating_add(delay);
            if maybe_applied
                && let Some(check) = check_write.as_mut()
                && check()? == WriteCheck::Applied
            {
                self.report_applied(&method, &path);
                return Ok(Sent::AlreadyApplied);
            }
        }
    }

    /// Waits until `min_write_interval` has passed since the last mutating request.
    fn pace(&self) {
        let Ok(mut last) = self.last_write.lock() else {
            return;
        };
        if let Some(previous) = *last {
            let since = previous.elapsed();
            if since < self.policy.min_write_interval {
                let wait = self.policy.min_write_interval - since;
                self.reporter.event(Event::Detail(&format!(
                    "waiting {} ms between writes, as GitHub asks",
                    wait.as_millis()
                )));
                std::thread::sleep(wait);
            }
        }
        *last = Some(Instant::now());
    }

    /// Ends the loop with `error`, unless the write it was sending turns out to be applied: a
    /// lost answer on the last attempt must not turn a successful write into a failed run.
    fn give_up<T>(
        &self,
        error: GitHubError,
        maybe_applied: bool,
        check_write: &mut Option<&mut dyn FnMut() -> Result<WriteCheck, GitHubError>>,
        method: &str,
        path: &str,
    ) -> Result<Sent<T>, GitHubError> {
        if maybe_applied
            && let Some(check) = check_write.as_mut()
            // If the check fails too (GitHub still unreachable), the original error says more.
            && matches!(check(), Ok(WriteCheck::Applied))
        {
            self.report_applied(method, path);
            return Ok(Sent::AlreadyApplied);
        }
        Err(error)
    }

    fn report_applied(&self, method: &str, path: &str) {
        self.reporter.event(Event::Detail(&format!(
            "{method} {path}: the answer was lost, but the write is on GitHub"
        )));
    }

    /// One attempt: send, log, and classify the answer.
    fn attempt<T>(
        &self,
        request: ApiRequest,
        read: &mut dyn FnMut(Response) -> Result<T, std::io::Error>,
    ) -> Result<T, Failure> {
        let ApiRequest {
            method,
            path,
            accept,
            body,
            timeout,
            progress,
            url,
            content_type,
            ..
        } = request;
        let method_name = method.to_string();
        let (url, host_url) = match url {
            Some(url) => (url.clone(), url),
            None => (format!("{}{}", self.api_url, path), self.api_url.clone()),
        };
        let mut builder = self
            .http
            .request(method, &url)
            .header(header::ACCEPT, accept);
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        let started = Instant::now();
        let result = match progress {
            None => builder.send(),
            Some((label, total, counts)) => {
                let transfer = self.reporter.transfer(&label, total);
                // The blocking client reads the body on the calling thread, but wants a
                // `'static` reader, so the progress bar (which borrows the reporter) cannot live
                // inside it: the send runs on a scoped thread and the body reports byte counts
                // over a channel, which closes when reqwest drops the body.
                std::thread::scope(|scope| {
                    let sending = scope.spawn(move || builder.send());
                    for n in counts {
                        transfer.advance(n);
                    }
                    sending
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
            }
        };
        let elapsed = started.elapsed().as_secs_f64();
        let transport = |source: Box<dyn std::error::Error + Send + Sync>,
                         sent: bool,
                         retry: bool| Failure::Transport {
            error: Box::new(GitHubError::Transport {
                method: method_name.clone(),
                path: path.clone(),
                api_url: host_url.clone(),
                source,
            }),
            sent,
            retry,
        };
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                // The URL holds no secret, but the message names the request already.
                let e = e.without_url();
                self.reporter.event(Event::Detail(&format!(
                    "{method_name} {path} -> failed: {} ({elapsed:.1}s)",
                    chain(&e)
                )));
                // A connect error means nothing reached GitHub; anything later is ambiguous.
                let sent = !e.is_connect() && !e.is_builder();
                let retry = !e.is_builder();
                return Err(transport(Box::new(e), sent, retry));
            }
        };
        let status = response.status();
        self.reporter.event(Event::Detail(&format!(
            "{method_name} {path} -> {} ({elapsed:.1}s)",
            status.as_u16()
        )));
        if status.is_success() {
            return read(response).map_err(|e| {
                self.reporter.event(Event::Detail(&format!(
                    "{method_name} {path}: reading the answer failed: {}",
                    chain(&e)
                )));
                transport(Box::new(e), true, true)
            });
        }
        let rate = RateHeaders::from_headers(response.headers());
        let sso = response
            .headers()
            .get("x-github-sso")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let request_id = RequestId(
            response
                .headers()
                .get("x-github-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        );
        let mut text = Vec::new();
        // A body cut short still says what it can; the status alone decides what happens next.
        let _ = response.take(MAX_ERROR_BODY).read_to_end(&mut text);
        let message = error_message(&text, status);
        let retry = classify(status, &rate, &message);
        let error = if status.as_u16() == 403
            && let Some(sso) = sso
        {
            GitHubError::SsoRequired {
                repo: self.repo.clone(),
                url: sso_url(&sso),
                request_id,
            }
        } else if status.is_redirection() {
            GitHubError::Moved {
                repo: self.repo.clone(),
                status: status.as_u16(),
                location: location.unwrap_or_default(),
            }
        } else {
            self.status_error(status, method_name, path, message, request_id)
        };
        Err(Failure::Status {
            error: Box::new(error),
            retry,
            rate,
        })
    }

    /// The error for a final error answer, specific where the user can act on it.
    fn status_error(
        &self,
        status: StatusCode,
        method: String,
        path: String,
        message: String,
        request_id: RequestId,
    ) -> GitHubError {
        if is_protection_refusal(status.as_u16(), &message) {
            return GitHubError::ProtectedBranch {
                repo: self.repo.clone(),
                branch: self.branch_hint(&path),
                request: format!("{method} {path}"),
                message,
                request_id,
            };
        }
        match status.as_u16() {
            401 => GitHubError::BadCredentials { request_id },
            403 if message.contains("Resource not accessible") => GitHubError::NoWritePermission {
                repo: self.repo.clone(),
                method,
                path,
                message,
                request_id,
            },
            404 => GitHubError::NotFound {
                method,
                path,
                message,
                request_id,
            },
            _ => GitHubError::Api {
                method,
                path,
                status,
                message,
                request_id,
            },
        }
    }
}

/// The URL in `X-GitHub-SSO: required; url=URL` (the whole value when it has no `url=`).
pub fn sso_url(value: &str) -> String {
    value
        .split(';')
        .find_map(|part| part.trim().strip_prefix("url="))
        .unwrap_or(value)
        .trim()
        .to_string()
}

/// Whether an error answer is branch protection or a ruleset refusing a direct write. GitHub
/// answers those 409 (Contents API) or 422 (ref updates) — the same statuses as a lost
/// compare-and-swap race, so only the message tells them apart.
pub fn is_protection_refusal(status: u16, message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    (status == 409 || status == 422)
        && (lower.contains("protected branch")
            || lower.contains("must be made through a pull request")
            || lower.contains("status check")
            || lower.contains("repository rule violations")
            || lower.contains("rule violation"))
}

/// `HH:MM:SS UTC` of an epoch second: enough to tell when a rate limit resets (it is always
/// within the hour).
pub fn utc_time_of_day(epoch: u64) -> String {
    let day = epoch % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

/// An error and its causes on one line, for log lines (`error sending request: connection
/// closed before message completed`).
pub fn chain(error: &dyn std::error::Error) -> String {
    crate::error_chain::one_line(error)
}

/// GitHub's own `message` from an error body, on one line; the status text when there is none.
pub fn error_message(body: &[u8], status: StatusCode) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        });
    let text = match from_json {
        Some(message) => message,
        // GitHub's front end answers 502/503 with an HTML page ("Unicorn!"): its markup would
        // only bury the status.
        None if body.trim_ascii_start().starts_with(b"<") => String::new(),
        None => String::from_utf8_lossy(body).chars().take(300).collect(),
    };
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(retry_after: Option<u64>, remaining: Option<u64>, reset: Option<u64>) -> RateHeaders {
        RateHeaders {
            retry_after: retry_after.map(Duration::from_secs),
            remaining,
            reset,
        }
    }

    #[test]
    fn retry_after_is_parsed_as_seconds() {
        let value = HeaderValue::from_static(" 7 ");
        assert_eq!(
            parse_retry_after(Some(&value)),
            Some(Duration::from_secs(7))
        );
        let date = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(parse_retry_after(Some(&date)), None);
        assert_eq!(parse_retry_after(None), None);
        for bad in ["", "-5", "1.5", "+3", "7s"] {
            let value = HeaderValue::from_str(bad).unwrap();
            assert_eq!(parse_retry_after(Some(&value)), None, "{bad:?}");
        }
    }

    #[test]
    fn secondary_limits_without_retry_after_wait_a_minute_then_longer() {
        let policy = RetryPolicy::default();
        let none = RateHeaders::default();
        let waits: Vec<Duration> = (0..4)
            .map(|retry| policy.delay(RetryKind::SecondaryLimit, &none, retry, 0))
            .collect();
        assert!(waits[0] >= Duration::from_secs(60), "{waits:?}");
        for pair in waits.windows(2) {
            assert!(pair[1] > pair[0], "{waits:?}");
        }
        assert!(policy.delay(RetryKind::SecondaryLimit, &none, u32::MAX, 0) <= MAX_SERVER_WAIT);
    }

    #[test]
    fn sso_headers_give_the_url_to_open() {
        assert_eq!(
            sso_url("required; url=https://github.com/orgs/o/sso?authorization_request=x"),
            "https://github.com/orgs/o/sso?authorization_request=x"
        );
        assert_eq!(
            sso_url("partial-results; organizations=1,2"),
            "partial-results; organizations=1,2"
        );
    }

    #[test]
    fn protection_refusals_are_told_apart_from_races() {
        for refusal in [
            (
                409,
                "Could not create file: Changes must be made through a pull request.",
            ),
            (
                409,
                "Could not create file: 2 of 2 required status checks are expected.",
            ),
            (422, "Protected branch update failed for refs/heads/main."),
            (409, "Repository rule violations found"),
        ] {
            assert!(is_protection_refusal(refusal.0, refusal.1), "{refusal:?}");
        }
        for race in [
            (409, "dace/index.html does not match 0123abc"),
            (409, "refs/heads/main is at 1 but expected 2"),
            (422, "Update is not a fast forward"),
            (422, "Invalid request.\n\n\"sha\" wasn't supplied."),
            (403, "Changes must be made through a pull request."),
        ] {
            assert!(!is_protection_refusal(race.0, race.1), "{race:?}");
        }
    }

    #[test]
    fn absurd_server_waits_are_clamped_without_overflow() {
        for huge in ["18446744073709551615", "99999999999999999999999999"] {
            let value = HeaderValue::from_str(huge).unwrap();
            assert_eq!(parse_retry_after(Some(&value)), Some(MAX_SERVER_WAIT));
        }
        let policy = RetryPolicy::default();
        let huge = RateHeaders {
            retry_after: Some(Duration::MAX),
            remaining: Some(0),
            reset: Some(u64::MAX),
        };
        for kind in [RetryKind::PrimaryLimit, RetryKind::SecondaryLimit] {
            let delay = policy.delay(kind, &huge, 0, 0);
            assert_eq!(delay, MAX_SERVER_WAIT);
            // The loop's sum of waits must not overflow either.
            assert_eq!(Duration::MAX.saturating_add(delay), Duration::MAX);
        }
        let reset_only = RateHeaders {
            reset: Some(u64::MAX),
            ..huge.clone()
        };
        let reset_only = RateHeaders {
            retry_after: None,
            ..reset_only
        };
        assert_eq!(
            policy.delay(RetryKind::PrimaryLimit, &reset_only, 0, 0),
            MAX_SERVER_WAIT
        );
    }

    #[test]
    fn rate_headers_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("30"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1700000000"));
        assert_eq!(
            RateHeaders::from_headers(&headers),
            rate(Some(30), Some(0), Some(1_700_000_000))
        );
    }

    #[test]
    fn statuses_are_classified() {
        let none = RateHeaders::default();
        let s = |c| StatusCode::from_u16(c).unwrap();
        for code in [500, 502, 503, 504] {
            assert_eq!(classify(s(code), &none, ""), Some(RetryKind::Server));
        }
        assert_eq!(classify(s(429), &none, ""), Some(RetryKind::SecondaryLimit));
        assert_eq!(
            classify(
                s(403),
                &none,
                "You have exceeded a secondary rate limit. Please wait a few minutes"
            ),
            Some(RetryKind::SecondaryLimit)
        );
        assert_eq!(
            classify(
                s(403),
                &rate(None, Some(0), Some(5)),
                "API rate limit exceeded"
            ),
            Some(RetryKind::PrimaryLimit)
        );
        for (code, message) in [
            (401, "Bad credentials"),
            (403, "Resource not accessible by integration"),
            (404, "Not Found"),
            (409, "x does not match y"),
            (422, "Invalid request. \"sha\" wasn't supplied."),
        ] {
            assert_eq!(classify(s(code), &none, message), None, "{code}");
        }
        // A 403 with budget left is a permission problem, not a limit.
        assert_eq!(
            classify(s(403), &rate(None, Some(10), Some(5)), "Forbidden"),
            None
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let first = policy.backoff(0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(2);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = policy.backoff(40);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn server_requested_waits_win() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(1),
            secondary_min_wait: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        // retry-after is honoured for every kind.
        for kind in [
            RetryKind::Server,
            RetryKind::SecondaryLimit,
            RetryKind::PrimaryLimit,
        ] {
            assert_eq!(
                policy.delay(kind, &rate(Some(3), None, None), 0, 0),
                Duration::from_secs(3)
            );
        }
        // Primary limit: until the reset, plus a second.
        assert_eq!(
            policy.delay(
                RetryKind::PrimaryLimit,
                &rate(None, Some(0), Some(1_000)),
                0,
                990
            ),
            Duration::from_secs(11)
        );
        // A reset in the past waits only the extra second.
        assert_eq!(
            policy.delay(
                RetryKind::PrimaryLimit,
                &rate(None, Some(0), Some(900)),
                0,
                990
            ),
            Duration::from_secs(1)
        );
        // Secondary limit without retry-after: at least the minimum GitHub asks for.
        assert_eq!(
            policy.delay(RetryKind::SecondaryLimit, &RateHeaders::default(), 0, 0),
            Duration::from_secs(60)
        );
        assert!(
            policy.delay(RetryKind::Server, &RateHeaders::default(), 0, 0)
                <= Duration::from_millis(1)
        );
    }

    #[test]
    fn reset_times_are_shown_as_utc_clock_times() {
        assert_eq!(utc_time_of_day(1_700_000_000), "22:13:20 UTC");
        assert_eq!(utc_time_of_day(0), "00:00:00 UTC");
    }

    #[test]
    fn error_messages_come_from_the_json_body_on_one_line() {
        let body = br#"{"message":"Invalid request.\n\n\"sha\" wasn't supplied.","documentation_url":"x"}"#;
        assert_eq!(
            error_message(body, StatusCode::UNPROCESSABLE_ENTITY),
            "Invalid request. \"sha\" wasn't supplied."
        );
        assert_eq!(error_message(b"", StatusCode::BAD_GATEWAY), "Bad Gateway");
        assert_eq!(
            error_message(
                b"\n<!DOCTYPE html>\n<html>Unicorn!</html>",
                StatusCode::BAD_GATEWAY
            ),
            "Bad Gateway"
        );
        assert_eq!(
            error_message(b"upstream\n timed out", StatusCode::GATEWAY_TIMEOUT),
            "upstream timed out"
        );
    }
}
