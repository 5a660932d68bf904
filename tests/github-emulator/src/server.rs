//! The HTTP side: a hand-written hyper service that routes GitHub's endpoints, applies auth, rate
//! limits and faults, and records every request. A handler closes the connection without an
//! answer by returning [`ConnectionDropped`], which makes hyper drop the connection.

// Error answers travel as `Err(Resp)`, once per request: boxing them would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};

use crate::git::{Blob, EntryKind, Snapshot, Tree};
use crate::{
    CommitKind, Fault, MissingFileSha, PagesBuildType, Person, ReadOnlyWriteAnswer, RequestRecord,
    Shared,
};

mod git_data;
mod releases;

/// An answer under construction; turned into a hyper response at the end.
pub(crate) struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn into_hyper(self) -> Response<Full<Bytes>> {
        let mut resp = Response::new(Full::new(self.body));
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        *resp.headers_mut() = self.headers;
        resp
    }

    /// Sets a header; a value that is not a valid header value (it could come from a request)
    /// is percent-encoded rather than panicking.
    fn header(&mut self, name: &'static str, value: &str) {
        let value = HeaderValue::from_str(value).unwrap_or_else(|_| {
            HeaderValue::from_str(&encode_path(value)).unwrap_or(HeaderValue::from_static(""))
        });
        self.headers.insert(name, value);
    }
}

/// Returned by the service to make hyper close the connection without writing a response.
#[derive(Debug)]
pub(crate) struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for ConnectionDropped {}

const DOCS: &str = "https://docs.github.com/rest";
const DOCS_GET_CONTENT: &str = "https://docs.github.com/rest/repos/contents#get-repository-content";
const DOCS_PUT: &str = "https://docs.github.com/rest/repos/contents#create-or-update-file-contents";
const DOCS_DELETE: &str = "https://docs.github.com/rest/repos/contents#delete-a-file";
const DOCS_TREES: &str = "https://docs.github.com/rest/git/trees#get-a-tree";
const DOCS_RATE: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";

pub(crate) async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // E.g. out of file descriptors: don't spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                // Idle keep-alive connections stay open: a server-side close racing with the
                // client's next request would look like a dropped-connection fault.
                .header_read_timeout(None)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// What the request asked for, in the form every handler needs.
struct RequestInfo {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: HeaderMap,
}

impl RequestInfo {
    /// A header's value; repeated headers are joined with `, ` as HTTP says they combine.
    fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// The outcome of handling: an answer, or a closed connection.
enum Outcome {
    Answer(Resp),
    Drop,
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ConnectionDropped> {
    let started = Instant::now();
    // The branch head as the request arrived: a write is applied on top of it or not at all.
    let base = shared.lock().head.clone();
    let (parts, body) = req.into_parts();
    let inc = RequestInfo {
        method: parts.method.as_str().to_ascii_uppercase(),
        path: percent_decode(parts.uri.path()),
        query: parse_query(parts.uri.query().unwrap_or("")),
        headers: parts.headers,
    };
    let id = {
        let mut state = shared.lock();
        state.next_request_id += 1;
        state.next_request_id - 1
    };
    let mut record = RequestRecord {
        id,
        method: inc.method.clone(),
        path: inc.path.clone(),
        query: parts.uri.query().map(str::to_string),
        status: None,
        request_bytes: 0,
        response_bytes: 0,
        accept: inc.header("accept"),
        user_agent: inc.header("user-agent"),
        has_auth: inc.headers.contains_key("authorization"),
        api_version: inc.header("x-github-api-version"),
        if_none_match: inc.header("if-none-match"),
        fault: None,
        content_served: None,
        raw_download: false,
        commit: None,
        created: None,
        started,
        finished: started,
    };
    let mut body = Some(body);
    let outcome = process(&shared, &inc, &mut body, base, &mut record).await;
    record.finished = Instant::now();
    let result = match outcome {
        Outcome::Answer(mut resp) => {
            resp.header(
                "x-github-request-id",
                &format!("E0E0:{id:05X}:0000000:0000000:00000000"),
            );
            record.status = Some(resp.status);
            record.response_bytes = resp.body.len() as u64;
            Ok(resp.into_hyper())
        }
        Outcome::Drop => Err(ConnectionDropped),
    };
    shared.lock().requests.push(record);
    result
}

async fn read_body(
    body: &mut Option<Incoming>,
    limit: u64,
    record: &mut RequestRecord,
) -> Result<Bytes, Resp> {
    let Some(body) = body.take() else {
        return Ok(Bytes::new());
    };
    match Limited::new(body, limit as usize).collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            record.request_bytes = bytes.len() as u64;
            Ok(bytes)
        }
        Err(_) => Err(error(413, "Payload Too Large", DOCS)),
    }
}

async fn process(
    shared: &Arc<Shared>,
    inc: &RequestInfo,
    body: &mut Option<Incoming>,
    base: Arc<Snapshot>,
    record: &mut RequestRecord,
) -> Outcome {
    let cfg = &shared.config;
    if let Some(rest) = inc.path.strip_prefix("/raw/") {
        record.raw_download = true;
        return Outcome::Answer(raw_download(shared, inc, rest, record));
    }
    if let Some(rest) = inc.path.strip_prefix("/download/") {
        record.raw_download = true;
        return Outcome::Answer(releases::download(shared, inc, rest, record));
    }
    if let Some(rest) = inc.path.strip_prefix("/cdn/") {
        record.raw_download = true;
        return Outcome::Answer(releases::cdn(shared, inc, rest, record));
    }
    let uploads_prefix = shared.uploads_prefix();
    let (api_path, uploads) = match inc.path.strip_prefix(uploads_prefix.as_str()) {
        Some(p) if p.starts_with('/') => (p, true),
        _ => match inc.path.strip_prefix(cfg.api_prefix.as_str()) {
            Some(p) => (p, false),
            None => return Outcome::Answer(error(404, "Not Found", DOCS)),
        },
    };
    let api_path = if api_path.is_empty() { "/" } else { api_path };
    // Uploads may be far larger than any API body.
    let limit = if uploads {
        cfg.max_asset_size.max(cfg.max_request_body)
    } else {
        cfg.max_request_body
    };

    // GitHub's front end refuses requests without a User-Agent before anything else.
    if record.user_agent.is_none() {
        let _ = read_body(body, limit, record).await;
        return Outcome::Answer(text(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a \
             User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). \
             Check https://developer.github.com for other possible causes.\n",
        ));
    }

    let (fault, latency, write_latency) = {
        let mut state = shared.lock();
        let fault = state.faults.draw(&inc.method, &inc.path);
        (fault, state.latency, state.write_latency)
    };
    record.fault = fault.clone();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match &fault {
        Some(Fault::Latency(d)) => tokio::time::sleep(*d).await,
        Some(Fault::DropBeforeApply) => {
            // Read the whole body first so the close is a clean FIN, not a reset mid-upload.
            let _ = read_body(body, limit, record).await;
            return Outcome::Drop;
        }
        Some(Fault::ServerError { status, html }) => {
            let _ = read_body(body, limit, record).await;
            return Outcome::Answer(server_error(*status, *html));
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let _ = read_body(body, limit, record).await;
            let mut resp = secondary_limit(429, Some(*retry_after_secs));
            add_rate_headers(shared, &mut resp);
            return Outcome::Answer(resp);
        }
        Some(Fault::SecondaryRateLimit { retry_after_secs }) => {
            let _ = read_body(body, limit, record).await;
            let mut resp = secondary_limit(403, *retry_after_secs);
            add_rate_headers(shared, &mut resp);
            return Outcome::Answer(resp);
        }
        Some(Fault::DropAfterApply) | None => {}
    }

    let auth = authenticate(shared, inc);
    if auth == Auth::Bad {
        let _ = read_body(body, limit, record).await;
        let mut resp = error(401, "Bad credentials", DOCS);
        add_rate_headers(shared, &mut resp);
        return Outcome::Answer(resp);
    }

    let sso = shared.lock().sso_required.clone();
    if let Some(url) = sso
        && auth != Auth::Anonymous
    {
        let _ = read_body(body, limit, record).await;
        let mut resp = error(
            403,
            "Resource protected by organization SAML enforcement. You must grant your Personal \
             Access token access to this organization.",
            "https://docs.github.com/articles/authenticating-to-a-github-organization-with-saml-single-sign-on/",
        );
        resp.header("x-github-sso", &format!("required; url={url}"));
        return Outcome::Answer(resp);
    }

    if let Err(resp) = take_rate(shared) {
        let _ = read_body(body, limit, record).await;
        return Outcome::Answer(resp);
    }

    let ctx = Ctx {
        shared,
        inc,
        auth,
        limit,
        base,
        write_latency,
    };
    let mut resp = route(&ctx, api_path, uploads, body, record).await;

    if inc.method == "GET" && resp.status == 200 {
        apply_etag(&mut resp, inc);
    }
    if resp.status == 304 {
        // Conditional requests answered 304 do not count against the rate limit.
        let mut state = shared.lock();
        state.rate.used = state.rate.used.saturating_sub(1);
    }
    add_rate_headers(shared, &mut resp);
    if fault == Some(Fault::DropAfterApply) {
        return Outcome::Drop;
    }
    Outcome::Answer(resp)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Anonymous,
    Write,
    ReadOnly,
    Bad,
}

fn authenticate(shared: &Shared, inc: &RequestInfo) -> Auth {
    let Some(value) = inc.header("authorization") else {
        return Auth::Anonymous;
    };
    let mut words = value.split_whitespace();
    let scheme = words.next().unwrap_or("").to_ascii_lowercase();
    let token = words.next().unwrap_or("");
    if !(scheme == "bearer" || scheme == "token") || token.is_empty() {
        return Auth::Bad;
    }
    let state = shared.lock();
    if token == state.token {
        Auth::Write
    } else if state.read_only_token.as_deref() == Some(token) {
        Auth::ReadOnly
    } else {
        Auth::Bad
    }
}

fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The epoch second at which the current window ends, rounded up so that a client that waits
/// until then finds the window renewed.
fn reset_epoch(window_start: Instant, window: Duration) -> u64 {
    let end = SystemTime::now() + (window_start + window).saturating_duration_since(Instant::now());
    let d = end
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Counts one request, or answers 403 when the window's budget is spent.
fn take_rate(shared: &Shared) -> Result<(), Resp> {
    let mut state = shared.lock();
    let now = Instant::now();
    let rate = &mut state.rate;
    let start = *rate.window_start.get_or_insert(now);
    if now >= start + rate.config.window {
        rate.window_start = Some(now);
        rate.used = 0;
    }
    if rate.used >= rate.config.limit {
        drop(state);
        let mut resp = error(
            403,
            "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, \
             please include the request ID E0E0:00001:0000000:0000000:00000000.",
            DOCS_RATE,
        );
        add_rate_headers(shared, &mut resp);
        return Err(resp);
    }
    rate.used += 1;
    Ok(())
}

fn add_rate_headers(shared: &Shared, resp: &mut Resp) {
    let state = shared.lock();
    let rate = &state.rate;
    let start = rate.window_start.unwrap_or_else(Instant::now);
    let mut set = |name: &'static str, value: String| resp.header(name, &value);
    set("x-ratelimit-limit", rate.config.limit.to_string());
    set(
        "x-ratelimit-remaining",
        rate.config.limit.saturating_sub(rate.used).to_string(),
    );
    set("x-ratelimit-used", rate.used.to_string());
    set(
        "x-ratelimit-reset",
        reset_epoch(start, rate.config.window).to_string(),
    );
    set("x-ratelimit-resource", "core".to_string());
}

/// What every endpoint handler needs to know about the request.
struct Ctx<'a> {
    shared: &'a Arc<Shared>,
    inc: &'a RequestInfo,
    auth: Auth,
    /// The largest body this request may send.
    limit: u64,
    /// The branch head as the request arrived.
    base: Arc<Snapshot>,
    write_latency: Duration,
}

/// Which repository a request path names.
enum Target<'a> {
    /// This repository; the rest of the path after `repos/{o}/{r}/` or `repositories/1/`.
    Repo(&'a str),
    /// The old name of a moved repository.
    Moved(&'a str),
    Unknown,
}

fn target<'a>(shared: &Shared, path: &'a str) -> Target<'a> {
    let cfg = &shared.config;
    if let Some(r) = path.strip_prefix("repositories/") {
        let (id, rest) = r.split_once('/').unwrap_or((r, ""));
        return if id == "1" {
            Target::Repo(rest)
        } else {
            Target::Unknown
        };
    }
    let Some(r) = path.strip_prefix("repos/") else {
        return Target::Unknown;
    };
    let mut parts = r.splitn(3, '/');
    let (owner, repo, rest) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let (current_owner, current_repo) = shared.full_name();
    if owner.eq_ignore_ascii_case(current_owner) && repo.eq_ignore_ascii_case(current_repo) {
        Target::Repo(rest)
    } else if cfg.moved_to.is_some()
        && owner.eq_ignore_ascii_case(&cfg.owner)
        && repo.eq_ignore_ascii_case(&cfg.repo)
    {
        Target::Moved(rest)
    } else {
        Target::Unknown
    }
}

/// 301 (GET, HEAD) or 307 to the repository's id-based URL, as GitHub answers for a renamed or
/// transferred repository.
fn moved(ctx: &Ctx, rest: &str, uploads: bool, record: &RequestRecord) -> Resp {
    let shared = ctx.shared;
    let base = if uploads {
        format!("{}{}", shared.base, shared.uploads_prefix())
    } else {
        shared.api_base()
    };
    let mut location = format!("{base}/repositories/1");
    if !rest.is_empty() {
        location.push('/');
        location.push_str(&encode_path(rest));
    }
    if let Some(q) = &record.query {
        location.push('?');
        location.push_str(q);
    }
    let permanent = matches!(ctx.inc.method.as_str(), "GET" | "HEAD");
    let (status, message) = if permanent {
        (301, "Moved Permanently")
    } else {
        (307, "Temporary Redirect")
    };
    let mut resp = json_resp(
        status,
        &json!({
            "message": message,
            "url": location,
            "documentation_url": "https://docs.github.com/v3/#http-redirects",
        }),
    );
    resp.header("location", &location);
    resp
}

/// The refusal a write gets from a token that may not write, if it gets one.
async fn write_allowed(
    ctx: &Ctx<'_>,
    body: &mut Option<Incoming>,
    record: &mut RequestRecord,
    docs: &str,
) -> Result<(), Resp> {
    match ctx.auth {
        Auth::Anonymous => {
            let _ = read_body(body, ctx.limit, record).await;
            Err(error(401, "Requires authentication", DOCS))
        }
        Auth::ReadOnly => {
            let _ = read_body(body, ctx.limit, record).await;
            let answer = ctx.shared.lock().read_only_write_answer;
            Err(match answer {
                ReadOnlyWriteAnswer::Forbidden => {
                    let mut resp = error(403, "Resource not accessible by integration", docs);
                    resp.header("x-accepted-github-permissions", "contents=write");
                    resp
                }
                ReadOnlyWriteAnswer::NotFound => error(404, "Not Found", docs),
            })
        }
        Auth::Write | Auth::Bad => Ok(()),
    }
}

/// The answer to a body beyond [`crate::Config::max_body_before_timeout`] (after its delay).
async fn over_ceiling(shared: &Shared, bytes: &Bytes) -> Result<(), Resp> {
    let cfg = &shared.config;
    if bytes.len() as u64 <= cfg.max_body_before_timeout {
        return Ok(());
    }
    if !cfg.over_ceiling_delay.is_zero() {
        tokio::time::sleep(cfg.over_ceiling_delay).await;
    }
    Err(json_resp(
        cfg.over_ceiling_status,
        &json!({"message": "Server Error"}),
    ))
}

async fn route(
    ctx: &Ctx<'_>,
    api_path: &str,
    uploads: bool,
    body: &mut Option<Incoming>,
    record: &mut RequestRecord,
) -> Resp {
    let (shared, inc) = (ctx.shared, ctx.inc);
    let cfg = &shared.config;
    let trimmed = api_path.trim_start_matches('/');
    if !uploads && inc.method == "GET" && trimmed.trim_end_matches('/') == "rate_limit" {
        return rate_limit_json(shared);
    }
    let rest = match target(shared, trimmed) {
        Target::Repo(rest) => rest,
        Target::Moved(rest) => {
            let _ = read_body(body, ctx.limit, record).await;
            return moved(ctx, rest, uploads, record);
        }
        Target::Unknown => return error(404, "Not Found", DOCS),
    };
    if cfg.private && ctx.auth == Auth::Anonymous {
        return error(404, "Not Found", DOCS);
    }
    let method = inc.method.as_str();
    let (endpoint, sub) = rest.split_once('/').unwrap_or((rest, ""));
    if uploads {
        return match (method, endpoint) {
            ("POST", "releases") => {
                let Some(id) = sub.strip_suffix("/assets") else {
                    return error(404, "Not Found", DOCS);
                };
                if let Err(resp) = write_allowed(ctx, body, record, releases::DOCS_UPLOAD).await {
                    return resp;
                }
                releases::upload(ctx, id, body, record).await
            }
            _ => error(404, "Not Found", DOCS),
        };
    }
    if rest.is_empty() {
        return match method {
            "GET" => repo_json(shared, ctx.auth),
            _ => error(404, "Not Found", DOCS),
        };
    }
    match (method, endpoint) {
        ("GET", "contents") => get_contents(shared, inc, sub, record),
        ("PUT" | "DELETE", "contents") => {
            let docs = if method == "PUT" {
                DOCS_PUT
            } else {
                DOCS_DELETE
            };
            if let Err(resp) = write_allowed(ctx, body, record, docs).await {
                return resp;
            }
            let bytes = match read_body(body, ctx.limit, record).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            if method == "PUT"
                && let Err(resp) = over_ceiling(shared, &bytes).await
            {
                return resp;
            }
            write_contents(ctx, method, sub, &bytes, record).await
        }
        ("GET", "branches") => branch_json(shared, sub),
        ("GET", "git") => {
            if let Some(tree_ish) = sub.strip_prefix("trees/") {
                get_tree(shared, inc, tree_ish)
            } else if let Some(sha) = sub.strip_prefix("blobs/") {
                get_blob(shared, inc, sha, record)
            } else if let Some(sha) = sub.strip_prefix("commits/") {
                git_data::get_commit(shared, sha)
            } else if let Some(name) = sub
                .strip_prefix("ref/heads/")
                .or_else(|| sub.strip_prefix("refs/heads/"))
            {
                ref_json(shared, name)
            } else {
                error(404, "Not Found", DOCS)
            }
        }
        ("POST" | "PATCH", "git") => {
            let Some(kind) = git_data::WriteKind::parse(method, sub) else {
                return error(404, "Not Found", DOCS);
            };
            if let Err(resp) = write_allowed(ctx, body, record, kind.docs()).await {
                return resp;
            }
            let bytes = match read_body(body, ctx.limit, record).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            if matches!(kind, git_data::WriteKind::Blob)
                && let Err(resp) = over_ceiling(shared, &bytes).await
            {
                return resp;
            }
            git_data::write(ctx, kind, &bytes, record).await
        }
        ("GET", "pages") if sub.is_empty() => pages_json(shared),
        ("GET", "rules") => match sub.strip_prefix("branches/") {
            Some(branch) => rules_json(shared, branch),
            None => error(404, "Not Found", DOCS),
        },
        ("GET", "releases") => releases::get(ctx, sub, record),
        ("POST" | "DELETE", "releases") => {
            if let Err(resp) = write_allowed(ctx, body, record, releases::DOCS_RELEASES).await {
                return resp;
            }
            let bytes = match read_body(body, ctx.limit, record).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            releases::write(ctx, sub, &bytes, record)
        }
        _ => error(404, "Not Found", DOCS),
    }
}

// ---------------------------------------------------------------------------------------------
// Responses

fn respond(status: u16, content_type: &str, body: Bytes) -> Resp {
    let mut resp = Resp {
        status,
        headers: HeaderMap::new(),
        body,
    };
    resp.header("content-type", content_type);
    resp
}

fn json_resp(status: u16, value: &Value) -> Resp {
    let mut resp = respond(
        status,
        "application/json; charset=utf-8",
        Bytes::from(serde_json::to_vec(value).expect("serializable")),
    );
    resp.header("x-github-media-type", "github.v3; format=json");
    resp
}

fn text(status: u16, body: &str) -> Resp {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::copy_from_slice(body.as_bytes()),
    )
}

/// GitHub's error body: `{message, documentation_url, status}`.
fn error(status: u16, message: &str, docs: &str) -> Resp {
    json_resp(
        status,
        &json!({"message": message, "documentation_url": docs, "status": status.to_string()}),
    )
}

fn server_error(status: u16, html: bool) -> Resp {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Server Error");
    if html {
        let page = format!(
            "<!DOCTYPE html>\n<html>\n  <head>\n    <meta http-equiv=\"Content-type\" \
             content=\"text/html; charset=utf-8\">\n    <title>Unicorn! &middot; GitHub</title>\n  \
             </head>\n  <body>\n    <h1>{status} {reason}</h1>\n    <p>No server is currently \
             available to service your request. Sorry about that. Please try refreshing and \
             contact us if the problem persists.</p>\n  </body>\n</html>\n"
        );
        respond(status, "text/html; charset=utf-8", Bytes::from(page))
    } else {
        let message = if status == 500 {
            "Server Error"
        } else {
            reason
        };
        json_resp(status, &json!({"message": message}))
    }
}

fn secondary_limit(status: u16, retry_after: Option<u64>) -> Resp {
    let mut resp = error(
        status,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try \
         again. If you reach out to GitHub Support for help, please include the request ID \
         E0E0:00001:0000000:0000000:00000000.",
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
    );
    if let Some(secs) = retry_after {
        resp.header("retry-after", &secs.to_string());
    }
    resp
}

/// Adds an `ETag` to a GET answer, and turns it into 304 when the client already has it.
fn apply_etag(resp: &mut Resp, inc: &RequestInfo) {
    // The media type is part of the representation: raw and JSON answers get different tags.
    let mut hashed = resp.body.to_vec();
    hashed.extend_from_slice(inc.header("accept").unwrap_or_default().as_bytes());
    let etag = format!("W/\"{}\"", crate::git::sha1_hex(&hashed));
    resp.header("etag", &etag);
    resp.header("cache-control", "private, max-age=60, s-maxage=60");
    if let Some(tags) = inc.header("if-none-match") {
        let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
        let mine = bare(&etag);
        if tags.split(',').any(|t| t.trim() == "*" || bare(t) == mine) {
            resp.status = 304;
            resp.headers.remove("content-type");
            resp.body = Bytes::new();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// URL helpers

fn percent_decode(s: &str) -> String {
    let hexval = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(hi), Some(lo)) = (hexval(b[i + 1]), hexval(b[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Percent-encodes a repository path for a URL, keeping `/` and RFC 3986's path characters.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every URL a contents entry carries, for one ref.
struct Urls<'a> {
    shared: &'a Shared,
    git_ref: &'a str,
}

impl Urls<'_> {
    fn repo(&self) -> String {
        let (owner, repo) = self.shared.full_name();
        format!("{}/repos/{owner}/{repo}", self.shared.api_base())
    }
    fn html_repo(&self) -> String {
        let (owner, repo) = self.shared.full_name();
        format!("{}/{owner}/{repo}", self.shared.base)
    }
    fn contents(&self, path: &str) -> String {
        format!(
            "{}/contents/{}?ref={}",
            self.repo(),
            encode_path(path),
            self.git_ref
        )
    }
    fn html(&self, path: &str, dir: bool) -> String {
        let kind = if dir { "tree" } else { "blob" };
        format!(
            "{}/{kind}/{}/{}",
            self.html_repo(),
            self.git_ref,
            encode_path(path)
        )
    }
    fn git(&self, sha: &str, dir: bool) -> String {
        let kind = if dir { "trees" } else { "blobs" };
        format!("{}/git/{kind}/{sha}", self.repo())
    }
    fn download(&self, path: &str) -> String {
        let (owner, repo) = self.shared.full_name();
        format!(
            "{}/raw/{owner}/{repo}/{}/{}",
            self.shared.base,
            self.git_ref,
            encode_path(path)
        )
    }
    fn commit(&self, sha: &str) -> String {
        format!("{}/git/commits/{sha}", self.repo())
    }
    fn html_commit(&self, sha: &str) -> String {
        format!("{}/commit/{sha}", self.html_repo())
    }

    /// The fields every contents entry has (`get-content.json`, `create-file.json`).
    fn entry(&self, path: &str, sha: &str, size: u64, dir: bool) -> serde_json::Map<String, Value> {
        let name = path.rsplit('/').next().unwrap_or(path);
        let self_url = self.contents(path);
        let git_url = self.git(sha, dir);
        let html_url = self.html(path, dir);
        let download = if dir {
            Value::Null
        } else {
            Value::String(self.download(path))
        };
        let mut m = serde_json::Map::new();
        m.insert("name".into(), json!(name));
        m.insert("path".into(), json!(path));
        m.insert("sha".into(), json!(sha));
        m.insert("size".into(), json!(size));
        m.insert("url".into(), json!(self_url));
        m.insert("html_url".into(), json!(html_url));
        m.insert("git_url".into(), json!(git_url));
        m.insert("download_url".into(), download);
        m.insert("type".into(), json!(if dir { "dir" } else { "file" }));
        m.insert(
            "_links".into(),
            json!({"self": self_url, "git": git_url, "html": html_url}),
        );
        m
    }
}

/// Base64 with a newline after every 60 characters, as GitHub (Ruby's `encode64`) sends it.
fn base64_lines(bytes: &[u8]) -> String {
    let flat = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for chunk in flat.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
        out.push('\n');
    }
    out
}

#[derive(PartialEq, Eq)]
enum Media {
    Json,
    Raw,
    Object,
}

fn media(inc: &RequestInfo) -> Media {
    let accept = inc
        .header("accept")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if accept.contains("vnd.github.raw") || accept.contains("vnd.github.v3.raw") {
        Media::Raw
    } else if accept.contains("vnd.github.object") || accept.contains("vnd.github.v3.object") {
        Media::Object
    } else {
        Media::Json
    }
}

fn raw_resp(bytes: Bytes, media_type: &str) -> Resp {
    let mut resp = respond(200, media_type, bytes);
    resp.header("x-github-media-type", "github.v3; param=raw");
    resp
}

// ---------------------------------------------------------------------------------------------
// Endpoints

fn rate_limit_json(shared: &Shared) -> Resp {
    let state = shared.lock();
    let rate = &state.rate;
    let start = rate.window_start.unwrap_or_else(Instant::now);
    let core = json!({
        "limit": rate.config.limit,
        "remaining": rate.config.limit.saturating_sub(rate.used),
        "reset": reset_epoch(start, rate.config.window),
        "used": rate.used,
        "resource": "core",
    });
    json_resp(200, &json!({"resources": {"core": core}, "rate": core}))
}

fn repo_json(shared: &Shared, auth: Auth) -> Resp {
    let cfg = &shared.config;
    let urls = Urls {
        shared,
        git_ref: &cfg.branch,
    };
    let mut v = json!({
        "id": 1,
        "node_id": "MDEwOlJlcG9zaXRvcnkx",
        "name": shared.full_name().1,
        "full_name": format!("{}/{}", shared.full_name().0, shared.full_name().1),
        "private": cfg.private,
        "visibility": if cfg.private { "private" } else { "public" },
        "owner": {"login": shared.full_name().0, "id": 1, "type": "Organization"},
        "html_url": urls.html_repo(),
        "url": urls.repo(),
        "contents_url": format!("{}/contents/{{+path}}", urls.repo()),
        "trees_url": format!("{}/git/trees{{/sha}}", urls.repo()),
        "default_branch": cfg.branch,
        "archived": false,
        "disabled": false,
    });
    if auth != Auth::Anonymous {
        let push = auth == Auth::Write;
        v["permissions"] = json!({
            "admin": false, "maintain": false, "push": push, "triage": push, "pull": true,
        });
    }
    json_resp(200, &v)
}

/// The 404/409 a read of an empty repository gets, if the repository is empty (as a read by
/// branch name sees it).
fn empty_repository(shared: &Shared, conflict: bool) -> Option<Resp> {
    if !shared.lock().read_head().commit.is_empty() {
        return None;
    }
    Some(if conflict {
        error(409, "Git Repository is empty.", DOCS)
    } else {
        error(404, "This repository is empty.", DOCS_GET_CONTENT)
    })
}

/// The branch (by name: possibly stale, see [`crate::Config::stale_reads`]) or a commit (by
/// sha: exact).
fn resolve_ref(shared: &Shared, git_ref: &str) -> Option<Arc<Snapshot>> {
    let mut state = shared.lock();
    if git_ref == shared.config.branch
        || git_ref == format!("refs/heads/{}", shared.config.branch)
        || git_ref == "HEAD"
    {
        let head = state.read_head();
        return (!head.commit.is_empty()).then_some(head);
    }
    state.snapshots.get(git_ref).cloned()
}

fn commit_summary(shared: &Shared, sha: &str) -> Value {
    let urls = Urls {
        shared,
        git_ref: &shared.config.branch,
    };
    let state = shared.lock();
    let commit = state.objects.get(sha);
    let (message, tree, parents) = commit.map_or((String::new(), String::new(), vec![]), |c| {
        (c.message.clone(), c.tree.clone(), c.parents.clone())
    });
    json!({
        "sha": sha,
        "url": urls.commit(sha),
        "html_url": urls.html_commit(sha),
        "commit": {"message": message, "tree": {"sha": tree, "url": urls.git(&tree, true)}},
        "parents": parents.iter().map(|p: &String| json!({"sha": p, "url": urls.commit(p)})).collect::<Vec<_>>(),
    })
}

fn branch_json(shared: &Shared, name: &str) -> Resp {
    let (head, protected) = {
        let mut state = shared.lock();
        (state.read_head().commit.clone(), state.protection.is_some())
    };
    if name != shared.config.branch || head.is_empty() {
        return error(
            404,
            "Branch not found",
            "https://docs.github.com/rest/branches/branches#get-a-branch",
        );
    }
    let urls = Urls {
        shared,
        git_ref: name,
    };
    json_resp(
        200,
        &json!({
            "name": name,
            "commit": commit_summary(shared, &head),
            "_links": {
                "self": format!("{}/branches/{name}", urls.repo()),
                "html": format!("{}/tree/{name}", urls.html_repo()),
            },
            "protected": protected,
            "protection_url": format!("{}/branches/{name}/protection", urls.repo()),
        }),
    )
}

/// `GET /repos/{o}/{r}/pages`.
fn pages_json(shared: &Shared) -> Resp {
    let Some(pages) = shared.lock().pages.clone() else {
        return error(
            404,
            "Not Found",
            "https://docs.github.com/rest/pages/pages#get-a-apiname-pages-site",
        );
    };
    let urls = Urls {
        shared,
        git_ref: &shared.config.branch,
    };
    json_resp(
        200,
        &json!({
            "url": format!("{}/pages", urls.repo()),
            "status": pages.status,
            "cname": null,
            "custom_404": false,
            "html_url": pages.html_url,
            "build_type": match pages.build_type {
                PagesBuildType::Legacy => "legacy",
                PagesBuildType::Workflow => "workflow",
            },
            "source": {"branch": pages.source_branch, "path": pages.source_path},
            "public": true,
            "protected_domain_state": null,
            "pending_domain_unverified_at": null,
            "https_enforced": true,
        }),
    )
}

/// `GET /repos/{o}/{r}/rules/branches/{b}`: the rules of [`crate::Config::protection`], as
/// one repository ruleset (id 1).
fn rules_json(shared: &Shared, branch: &str) -> Resp {
    let protection = shared.lock().protection.clone();
    let mut rules = Vec::new();
    if let Some(p) = protection.filter(|_| branch == shared.config.branch) {
        let (owner, repo) = shared.full_name();
        let rule = |kind: &str, parameters: Value| {
            json!({
                "type": kind,
                "ruleset_source_type": "Repository",
                "ruleset_source": format!("{owner}/{repo}"),
                "ruleset_id": 1,
                "parameters": parameters,
            })
        };
        if p.require_pull_request {
            rules.push(rule(
                "pull_request",
                json!({
                    "required_approving_review_count": 1,
                    "dismiss_stale_reviews_on_push": false,
                    "require_code_owner_review": false,
                    "require_last_push_approval": false,
                    "required_review_thread_resolution": false,
                    "allowed_merge_methods": ["merge", "squash", "rebase"],
                }),
            ));
        }
        if !p.required_status_checks.is_empty() {
            let checks: Vec<Value> = p
                .required_status_checks
                .iter()
                .map(|c| json!({"context": c}))
                .collect();
            rules.push(rule(
                "required_status_checks",
                json!({
                    "strict_required_status_checks_policy": false,
                    "do_not_enforce_on_create": false,
                    "required_status_checks": checks,
                }),
            ));
        }
    }
    json_resp(200, &Value::Array(rules))
}

fn ref_json(shared: &Shared, name: &str) -> Resp {
    if let Some(resp) = empty_repository(shared, true) {
        return resp;
    }
    if name != shared.config.branch {
        return error(
            404,
            "Not Found",
            "https://docs.github.com/rest/git/refs#get-a-reference",
        );
    }
    let head = shared.lock().read_head().commit.clone();
    ref_answer(shared, 200, name, &head)
}

/// `{ref, node_id, url, object}` for the branch at `head`.
fn ref_answer(shared: &Shared, status: u16, name: &str, head: &str) -> Resp {
    let urls = Urls {
        shared,
        git_ref: name,
    };
    json_resp(
        status,
        &json!({
            "ref": format!("refs/heads/{name}"),
            "node_id": "MDM6UmVmMQ==",
            "url": format!("{}/git/refs/heads/{name}", urls.repo()),
            "object": {"sha": head, "type": "commit", "url": urls.commit(head)},
        }),
    )
}

fn raw_download(
    shared: &Shared,
    inc: &RequestInfo,
    rest: &str,
    record: &mut RequestRecord,
) -> Resp {
    let cfg = &shared.config;
    let mut parts = rest.splitn(4, '/');
    let (owner, repo, git_ref, path) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let not_found = || text(404, "404: Not Found");
    let (current_owner, current_repo) = shared.full_name();
    let named = |o: &str, r: &str| owner.eq_ignore_ascii_case(o) && repo.eq_ignore_ascii_case(r);
    if inc.method != "GET" || !(named(&cfg.owner, &cfg.repo) || named(current_owner, current_repo))
    {
        return not_found();
    }
    let Some(snapshot) = resolve_ref(shared, git_ref) else {
        return not_found();
    };
    match snapshot.files.get(path) {
        Some(blob) => {
            record.content_served = Some(path.to_string());
            respond(200, "application/octet-stream", blob.bytes.clone())
        }
        None => not_found(),
    }
}

fn dir_entries(urls: &Urls, dir: &str, tree: &Tree, cap: usize) -> Vec<Value> {
    tree.entries
        .iter()
        .take(cap)
        .map(|e| {
            let path = if dir.is_empty() {
                e.name.clone()
            } else {
                format!("{dir}/{}", e.name)
            };
            let (size, is_dir) = match e.kind {
                EntryKind::Blob { size } => (size, false),
                EntryKind::Tree => (0, true),
            };
            Value::Object(urls.entry(&path, &e.sha, size, is_dir))
        })
        .collect()
}

fn get_contents(
    shared: &Shared,
    inc: &RequestInfo,
    path: &str,
    record: &mut RequestRecord,
) -> Resp {
    let cfg = &shared.config;
    let git_ref = inc
        .query
        .get("ref")
        .filter(|r| !r.is_empty())
        .cloned()
        .unwrap_or_else(|| cfg.branch.clone());
    if let Some(resp) = empty_repository(shared, false) {
        return resp;
    }
    let Some(snapshot) = resolve_ref(shared, &git_ref) else {
        return error(
            404,
            &format!("No commit found for the ref {git_ref}"),
            DOCS_GET_CONTENT,
        );
    };
    let path = path.trim_matches('/');
    let urls = Urls {
        shared,
        git_ref: &git_ref,
    };
    let media = media(inc);
    if let Some(tree) = snapshot.dirs.get(path) {
        let entries = dir_entries(&urls, path, tree, cfg.max_dir_entries);
        if media == Media::Object {
            let mut obj = if path.is_empty() {
                let mut m = serde_json::Map::new();
                m.insert("name".into(), json!(""));
                m.insert("path".into(), json!(""));
                m.insert("sha".into(), json!(tree.sha));
                m.insert("size".into(), json!(0));
                m.insert("type".into(), json!("dir"));
                m
            } else {
                urls.entry(path, &tree.sha, 0, true)
            };
            obj.insert("entries".into(), Value::Array(entries));
            return json_resp(200, &Value::Object(obj));
        }
        return json_resp(200, &Value::Array(entries));
    }
    let Some(blob) = snapshot.files.get(path) else {
        return error(404, "Not Found", DOCS_GET_CONTENT);
    };
    let size = blob.bytes.len() as u64;
    if media == Media::Raw {
        record.content_served = Some(path.to_string());
        return raw_resp(blob.bytes.clone(), "application/vnd.github.raw");
    }
    let inline = size <= cfg.max_inline_size;
    if !inline && media == Media::Json {
        return json_resp(
            403,
            &json!({
                "message": "This API returns blobs up to 1 MB in size. The requested blob is too \
                            large to fetch via the API, but you can use the Git Data API to \
                            request blobs up to 100 MB in size.",
                "errors": [{"resource": "Blob", "field": "data", "code": "too_large"}],
                "documentation_url": DOCS_GET_CONTENT,
                "status": "403",
            }),
        );
    }
    let mut obj = urls.entry(path, &blob.sha, size, false);
    if inline {
        record.content_served = Some(path.to_string());
        obj.insert("content".into(), json!(base64_lines(&blob.bytes)));
        obj.insert("encoding".into(), json!("base64"));
    } else {
        obj.insert("content".into(), json!(""));
        obj.insert("encoding".into(), json!("none"));
    }
    json_resp(200, &Value::Object(obj))
}

fn get_blob(shared: &Shared, inc: &RequestInfo, sha: &str, record: &mut RequestRecord) -> Resp {
    let blob = shared.lock().blobs.get(sha).cloned();
    let Some(blob) = blob else {
        return error(
            404,
            "Not Found",
            "https://docs.github.com/rest/git/blobs#get-a-blob",
        );
    };
    let path = shared
        .lock()
        .head
        .files
        .iter()
        .find(|(_, b)| b.sha == blob.sha)
        .map(|(p, _)| p.clone())
        .unwrap_or_else(|| format!("blob {sha}"));
    record.content_served = Some(path);
    if media(inc) == Media::Raw {
        return raw_resp(blob.bytes.clone(), "application/vnd.github.raw");
    }
    let urls = Urls {
        shared,
        git_ref: &shared.config.branch,
    };
    json_resp(
        200,
        &json!({
            "sha": blob.sha,
            "node_id": "MDQ6QmxvYjE=",
            "size": blob.bytes.len(),
            "url": urls.git(&blob.sha, false),
            "content": base64_lines(&blob.bytes),
            "encoding": "base64",
        }),
    )
}

/// Lists a tree for the Git Trees API.
struct TreeWalk<'a> {
    trees: &'a std::collections::HashMap<String, Arc<Tree>>,
    urls: &'a Urls<'a>,
    recursive: bool,
    cap: usize,
    out: Vec<Value>,
    truncated: bool,
}

impl TreeWalk<'_> {
    /// Depth-first, a folder's entry before its contents, like GitHub's recursive listing.
    fn walk(&mut self, tree: &Tree, prefix: &str) {
        for e in &tree.entries {
            if self.out.len() >= self.cap {
                self.truncated = true;
                return;
            }
            let path = format!("{prefix}{}", e.name);
            match e.kind {
                EntryKind::Blob { size } => self.out.push(json!({
                    "path": path, "mode": "100644", "type": "blob", "sha": e.sha, "size": size,
                    "url": self.urls.git(&e.sha, false),
                })),
                EntryKind::Tree => {
                    self.out.push(json!({
                        "path": path, "mode": "040000", "type": "tree", "sha": e.sha,
                        "url": self.urls.git(&e.sha, true),
                    }));
                    if self.recursive
                        && let Some(sub) = self.trees.get(&e.sha)
                    {
                        self.walk(sub, &format!("{path}/"));
                    }
                }
            }
        }
    }
}

fn get_tree(shared: &Shared, inc: &RequestInfo, tree_ish: &str) -> Resp {
    if let Some(resp) = empty_repository(shared, true) {
        return resp;
    }
    let not_found = || error(404, "Not Found", DOCS_TREES);
    let tree = {
        let state = shared.lock();
        if let Some(t) = state.trees.get(tree_ish) {
            Some(t.clone())
        } else {
            drop(state);
            let (rev, folder) = tree_ish.split_once(':').unwrap_or((tree_ish, ""));
            resolve_ref(shared, rev).and_then(|s| s.dirs.get(folder.trim_matches('/')).cloned())
        }
    };
    let Some(tree) = tree else {
        return not_found();
    };
    let recursive = inc.query.contains_key("recursive");
    let urls = Urls {
        shared,
        git_ref: &shared.config.branch,
    };
    let mut walk = TreeWalk {
        trees: &shared.lock().trees,
        urls: &urls,
        recursive,
        cap: shared.config.max_tree_entries,
        out: Vec::new(),
        truncated: false,
    };
    walk.walk(&tree, "");
    let (out, truncated) = (walk.out, walk.truncated);
    json_resp(
        200,
        &json!({
            "sha": tree.sha,
            "url": urls.git(&tree.sha, true),
            "tree": out,
            "truncated": truncated,
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Writes

fn invalid(message: &str, docs: &str) -> Resp {
    error(422, &format!("Invalid request.\n\n{message}"), docs)
}

/// GitHub's schema message for missing fields: `"a" wasn't supplied.` / `"a", "b" weren't
/// supplied.`
fn missing_fields(names: &[&str], docs: &str) -> Resp {
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let verb = if names.len() == 1 {
        "wasn't"
    } else {
        "weren't"
    };
    invalid(&format!("{list} {verb} supplied."), docs)
}

fn type_name(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        other => other.to_string(),
    }
}

fn person(v: Option<&Value>, field: &str, docs: &str) -> Result<Option<Person>, Resp> {
    let Some(v) = v else { return Ok(None) };
    let obj = v.as_object().ok_or_else(|| {
        invalid(
            &format!(
                "For 'properties/{field}', {} is not an object.",
                type_name(v)
            ),
            docs,
        )
    })?;
    let get = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    match (get("name"), get("email")) {
        (Some(name), Some(email)) => Ok(Some(Person { name, email })),
        (None, _) => Err(missing_fields(&["name"], docs)),
        (_, None) => Err(missing_fields(&["email"], docs)),
    }
}

/// Checks a path a write names: non-empty, no empty, `.` or `..` segments.
fn valid_write_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\0'))
}

fn decode_content(content: &str) -> Option<Vec<u8>> {
    let engine = base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
    match engine.decode(content) {
        Ok(bytes) => Some(bytes),
        // GitHub accepts base64 broken into lines, as its own answers send it.
        Err(_) => {
            let compact: Vec<u8> = content
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            engine.decode(compact).ok()
        }
    }
}

async fn write_contents(
    ctx: &Ctx<'_>,
    method: &str,
    path: &str,
    body: &[u8],
    record: &mut RequestRecord,
) -> Resp {
    let (shared, base, write_latency) = (ctx.shared, ctx.base.clone(), ctx.write_latency);
    let cfg = &shared.config;
    let is_put = method == "PUT";
    let docs = if is_put { DOCS_PUT } else { DOCS_DELETE };
    let path = path.trim_matches('/').to_string();
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return error(400, "Problems parsing JSON", docs);
    };

    // Schema validation, like GitHub's: required fields, then their types.
    let required: &[&str] = if is_put {
        &["message", "content"]
    } else {
        &["message", "sha"]
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| !fields.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return missing_fields(&missing, docs);
    }
    for key in ["message", "content", "sha", "branch"] {
        if let Some(v) = fields.get(key)
            && !v.is_string()
        {
            return invalid(
                &format!("For 'properties/{key}', {} is not a string.", type_name(v)),
                docs,
            );
        }
    }
    let committer = match person(fields.get("committer"), "committer", docs) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let author = match person(fields.get("author"), "author", docs) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let text_field = |k: &str| fields.get(k).and_then(Value::as_str);
    let message = text_field("message").unwrap_or_default().to_string();
    let sha = text_field("sha").map(str::to_string);
    let branch = text_field("branch").unwrap_or(&cfg.branch).to_string();
    let content = if is_put {
        let Some(bytes) = decode_content(text_field("content").unwrap_or_default()) else {
            return invalid("content is not valid Base64.", docs);
        };
        if bytes.len() as u64 > cfg.max_file_size {
            return error(
                422,
                &format!(
                    "{path} is {} bytes; this exceeds GitHub's file size limit of {:.2} MB",
                    bytes.len(),
                    cfg.max_file_size as f64 / (1024.0 * 1024.0)
                ),
                docs,
            );
        }
        Some(Bytes::from(bytes))
    } else {
        None
    };
    if branch != cfg.branch {
        return error(404, &format!("Branch {branch} not found"), docs);
    }
    if !valid_write_path(&path) {
        return invalid(&format!("path \"{path}\" is not a valid file path."), docs);
    }
    // Hash outside the lock: a 100 MB blob takes a moment.
    let blob = content.map(|bytes| Arc::new(Blob::new(bytes)));

    if !write_latency.is_zero() {
        tokio::time::sleep(write_latency).await;
    }

    let mut state = shared.lock();
    // Validate against the head the request started from.
    if base.is_dir(&path) {
        return invalid(&format!("\"{path}\" is a directory."), docs);
    }
    if let Some(file) = base.ancestor_is_file(&path) {
        return invalid(&format!("\"{file}\" is a file, not a directory."), docs);
    }
    let existing = base.files.get(&path).map(|b| b.sha.clone());
    match (&existing, &sha) {
        (Some(_), None) => return missing_fields(&["sha"], docs),
        (Some(current), Some(given)) if current != given => {
            return error(409, &format!("{path} does not match {given}"), docs);
        }
        (None, Some(given)) if is_put => match cfg.sha_for_missing_file {
            MissingFileSha::Create => {}
            MissingFileSha::Conflict => {
                return error(409, &format!("{path} does not match {given}"), docs);
            }
            MissingFileSha::Unprocessable => return invalid("\"sha\" does not match.", docs),
        },
        (None, _) if !is_put => return error(404, "Not Found", docs),
        _ => {}
    }
    if let Some(reason) = state.protection.as_ref().and_then(|p| p.reason()) {
        let verb = if is_put { "create" } else { "delete" };
        return error(409, &format!("Could not {verb} file: {reason}"), docs);
    }
    // Another write committed since this one arrived: GitHub's ref update fails.
    if state.head.commit != base.commit {
        return error(
            409,
            &format!(
                "refs/heads/{} is at {} but expected {}",
                cfg.branch, state.head.commit, base.commit
            ),
            docs,
        );
    }
    let mut files = base.files.clone();
    let kind = match &blob {
        Some(blob) => {
            files.insert(path.clone(), blob.clone());
            if existing.is_some() {
                CommitKind::Update
            } else {
                CommitKind::Create
            }
        }
        None => {
            files.remove(&path);
            CommitKind::Delete
        }
    };
    let committer = committer.unwrap_or_else(Person::emulator);
    let author = author.unwrap_or_else(|| committer.clone());
    let commit = state.commit(
        files,
        &message,
        kind,
        vec![path.clone()],
        author.clone(),
        committer.clone(),
    );
    drop(state);
    record.commit = Some(commit.sha.clone());

    let urls = Urls {
        shared,
        git_ref: &cfg.branch,
    };
    let now = rfc3339(SystemTime::now());
    let person_json = |p: &Person| json!({"name": p.name, "email": p.email, "date": now});
    let parents: Vec<Value> = commit
        .parent
        .iter()
        .map(|p| json!({"url": urls.commit(p), "html_url": urls.html_commit(p), "sha": p}))
        .collect();
    let commit_json = json!({
        "sha": commit.sha,
        "node_id": "MDY6Q29tbWl0MQ==",
        "url": urls.commit(&commit.sha),
        "html_url": urls.html_commit(&commit.sha),
        "author": person_json(&author),
        "committer": person_json(&committer),
        "tree": {"sha": commit.tree, "url": urls.git(&commit.tree, true)},
        "message": commit.message,
        "parents": parents,
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null},
    });
    let content_json = match &blob {
        Some(blob) => Value::Object(urls.entry(&path, &blob.sha, blob.bytes.len() as u64, false)),
        None => Value::Null,
    };
    let status = if kind == CommitKind::Create { 201 } else { 200 };
    json_resp(
        status,
        &json!({"content": content_json, "commit": commit_json}),
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` without a date crate (days-to-civil from Howard Hinnant).
fn rfc3339(t: SystemTime) -> String {
    let secs = epoch_secs(t) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_507_651_200);
        assert_eq!(rfc3339(t), "2017-10-10T16:00:00Z");
    }

    #[test]
    fn base64_has_a_newline_every_60_characters() {
        let s = base64_lines(&[7u8; 100]);
        let lines: Vec<_> = s.split_terminator('\n').collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            [60, 60, 16]
        );
        assert!(s.ends_with('\n'));
        assert_eq!(base64_lines(b""), "");
    }

    #[test]
    fn paths_round_trip_through_percent_encoding() {
        let p = "dace/dace-43!2026.2.3 x+y%.whl";
        assert_eq!(percent_decode(&encode_path(p)), p);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%21%2f"), "!/");
    }
}
