//! Release assets: where distributions too large for the Contents API's ~40 MB body ceiling live.
//!
//! A release (found by tag, created on demand) holds the files; index pages link their
//! `browser_download_url`, which GitHub answers with a 302 to its CDN (pip and uv follow it).
//! Uploads go to another host (`uploads.github.com`, GHES `https://HOST/api/uploads`) with the
//! file's raw bytes as a streamed body, so a 300 MB wheel costs a few buffers of memory.
//!
//! Uploads are idempotent: before sending, the release's listing is checked (a re-run meets its
//! own file and sends nothing). The release is listed once per run and the listing kept current
//! with the run's own uploads and deletes, so N uploads cost one listing, not N. After a lost
//! answer (dropped connection, 5xx) or a 422 "name taken",
//! the list settles what happened: our name with our size and sha256 is success, other bytes are
//! a conflict (published files never change), and an upload GitHub stored under a rewritten name
//! is deleted again, because pip takes a file's name from its URL.

use std::collections::HashSet;
use std::io::{self, Cursor, Read};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::blocking::{Body, Response};
use reqwest::{Method, Url};
use serde::Deserialize;

use super::client::{ApiRequest, JSON, Sent, WriteCheck};
use super::contents::{GitHubTarget, upload_timeout};
use super::error::GitHubError;
use crate::report::Event;
use crate::target::AssetBytes;

/// Assets per listing page: GitHub's maximum, so a release of 1,000 files costs 10 requests.
pub const PER_PAGE: u32 = 100;

/// Most listing pages followed (100,000 assets, far beyond GitHub's 1,000 per release): a
/// server whose `Link` headers never end must not keep a run busy forever.
const MAX_PAGES: usize = 1_000;

/// Largest listing page read: 100 assets are about 200 KB of JSON.
const MAX_PAGE_BYTES: u64 = 16 * 1024 * 1024;

/// The body of a release this tool creates, so a person browsing the releases knows what it is.
const RELEASE_BODY: &str = "Distribution files of the package index that are too large to be \
    stored in the repository. Written by gt4py-publish; the index pages link these assets. \
    Do not delete or replace them: published files never change.";

/// Query values are encoded except for RFC 3986's unreserved characters, so `!` (epochs) and
/// `+` (local versions) reach GitHub as themselves rather than as query syntax.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Progress is reported at least every this many bytes (a few hundred messages for 100 MB).
const PROGRESS_STEP: u64 = 256 * 1024;

/// A release that holds index files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub id: u64,
    pub tag: String,
    /// upload URL without the `{?name,label}` template
    pub upload_url: String,
}

/// A release asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: u64,
    pub name: String,
    pub size: u64,
    /// lower-case hex sha256 from GitHub's `digest: "sha256:…"`, when GitHub gives one
    pub sha256: Option<String>,
    /// `browser_download_url`: what a page links (GitHub answers 302 to a CDN)
    pub url: String,
}

/// A fresh reader of an upload's bytes for one attempt: a streamed body cannot be replayed. A
/// file whose size is no longer the validated one is refused before anything is sent.
fn open(source: &AssetBytes) -> Result<Box<dyn Read + Send>, GitHubError> {
    match source {
        AssetBytes::Bytes(bytes) => Ok(Box::new(Cursor::new(bytes.clone()))),
        AssetBytes::File { path, len } => {
            Ok(Box::new(super::upload::reopen_validated(path, *len)?))
        }
    }
}

/// The assets of one release as this run last listed them, kept current with the run's own
/// uploads and deletes. Another run's uploads since are not in it: an upload that meets one
/// (422 "name taken") lists again and settles from that.
#[derive(Debug, Clone)]
pub(super) struct AssetListing {
    release: u64,
    stored: Vec<Stored>,
}

/// The release JSON fields used here; everything else GitHub sends is ignored.
#[derive(Deserialize)]
struct ReleaseJson {
    id: u64,
    tag_name: String,
    upload_url: String,
}

#[derive(Deserialize)]
struct AssetJson {
    id: u64,
    name: String,
    size: u64,
    #[serde(default)]
    digest: Option<String>,
    browser_download_url: String,
    #[serde(default)]
    state: Option<String>,
}

/// An asset as listed, with whether its upload completed: an upload cut off midway leaves an
/// asset in state `starter` that holds the name but no usable file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    asset: Asset,
    complete: bool,
}

/// What a listing says about an upload of `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    /// Our name with our size and sha256.
    Ours(Asset),
    /// Our bytes under a name GitHub rewrote, new since the upload began.
    Renamed(Asset),
    /// Our name with other bytes (or bytes GitHub gives no digest for).
    Other(Asset),
    /// Our name, left unfinished by an upload that was cut off.
    Broken(Asset),
    Absent,
}

/// A release from its JSON; the upload URL loses its `{?name,label}` template.
fn parse_release(bytes: &[u8]) -> Result<Release, String> {
    let json: ReleaseJson = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let upload_url = json
        .upload_url
        .split('{')
        .next()
        .unwrap_or_default()
        .to_string();
    match Url::parse(&upload_url) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => {}
        _ => return Err(format!("`{upload_url}` is not an upload URL")),
    }
    Ok(Release {
        id: json.id,
        tag: json.tag_name,
        upload_url,
    })
}

fn stored_from(json: AssetJson) -> Stored {
    Stored {
        complete: json.state.as_deref().is_none_or(|s| s == "uploaded"),
        asset: Asset {
            id: json.id,
            name: json.name,
            size: json.size,
            sha256: digest_hex(json.digest.as_deref()),
            url: json.browser_download_url,
        },
    }
}

/// One asset, as an upload answers it.
fn parse_asset(bytes: &[u8]) -> Result<Stored, String> {
    serde_json::from_slice::<AssetJson>(bytes)
        .map(stored_from)
        .map_err(|e| e.to_string())
}

/// A page of an asset listing.
fn parse_assets(bytes: &[u8]) -> Result<Vec<Stored>, String> {
    serde_json::from_slice::<Vec<AssetJson>>(bytes)
        .map(|list| list.into_iter().map(stored_from).collect())
        .map_err(|e| e.to_string())
}

/// The lower-case hex of `sha256:HEX`; `None` for anything else (no digest, another
/// algorithm, malformed hex), so a bad digest never compares equal to ours.
fn digest_hex(digest: Option<&str>) -> Option<String> {
    let hex = digest?.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// The `rel="next"` URL of a `Link` header (`<URL>; rel="next", <URL>; rel="last"`).
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let part = part.trim();
        let rest = part.strip_prefix('<')?;
        let (url, params) = rest.split_once('>')?;
        let is_next = params.split(';').any(|param| {
            let Some((key, value)) = param.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| url.trim().to_string())
    })
}

/// Whether the token (sent with every request) may go to `url`: the API's own host (GHES
/// uploads live there under `/api/uploads`), or its `uploads.` sibling over https
/// (`api.github.com` → `uploads.github.com`). A URL from an answer must never carry the token to
/// a host the user never named.
pub(super) fn token_may_go_to(api_url: &str, url: &str) -> bool {
    let Ok(url) = Url::parse(url) else {
        return false;
    };
    if !url.username().is_empty() || url.password().is_some() || url.host_str().is_none() {
        return false;
    }
    match url.scheme() {
        "https" => Url::parse(api_url).is_ok_and(|api| {
            let host = url.host_str();
            let uploads = api
                .host_str()
                .and_then(|h| h.strip_prefix("api."))
                .map(|domain| format!("uploads.{domain}"));
            (api.scheme() == "https" && api.host_str() == host)
                || (uploads.is_some() && uploads.as_deref() == host)
        }),
        "http" => Url::parse(api_url).is_ok_and(|api| {
            api.scheme() == "http"
                && api.host_str() == url.host_str()
                && api.port_or_known_default() == url.port_or_known_default()
        }),
        _ => false,
    }
}

/// Whether `stored` can be GitHub's rewrite of `name`: same length, and equal wherever `name`
/// has a character GitHub keeps. This keeps a concurrent run's file with equal bytes from
/// being taken for ours and deleted.
fn could_be_rewrite_of(stored: &str, name: &str) -> bool {
    let kept = |c: char| c.is_ascii_alphanumeric() || "._+-".contains(c);
    stored != name
        && stored.chars().count() == name.chars().count()
        && stored
            .chars()
            .zip(name.chars())
            .all(|(s, n)| s == n || !kept(n))
}

/// What `listing` says about our upload of `name` (`len` bytes, `sha256`); `before` holds the
/// ids listed before the upload began (a renamed asset must be new).
fn settle(listing: &[Stored], before: &HashSet<u64>, name: &str, len: u64, sha256: &str) -> Found {
    let ours = |asset: &Asset| asset.size == len && asset.sha256.as_deref() == Some(sha256);
    if let Some(stored) = listing.iter().find(|s| s.asset.name == name) {
        let asset = stored.asset.clone();
        return if !stored.complete {
            Found::Broken(asset)
        } else if ours(&asset) {
            Found::Ours(asset)
        } else {
            Found::Other(asset)
        };
    }
    listing
        .iter()
        .find(|s| {
            s.complete
                && !before.contains(&s.asset.id)
                && ours(&s.asset)
                && could_be_rewrite_of(&s.asset.name, name)
        })
        .map_or(Found::Absent, |s| Found::Renamed(s.asset.clone()))
}

/// The raw body of an upload: exactly `len` bytes of `inner`, counted onto `progress`. A source
/// that ends early is an error, not a short body: GitHub would store a truncated file.
struct RawBody<R> {
    inner: R,
    remaining: u64,
    progress: Sender<u64>,
    unreported: u64,
}

impl<R: Read> RawBody<R> {
    fn new(inner: R, len: u64, progress: Sender<u64>) -> Self {
        Self {
            inner,
            remaining: len,
            progress,
            unreported: 0,
        }
    }

    fn report(&mut self, n: usize) {
        self.unreported += n as u64;
        // reqwest stops reading at the announced length and never sees EOF: flush at the last
        // byte, not at the end of the stream.
        if self.unreported > 0 && (self.unreported >= PROGRESS_STEP || self.remaining == 0) {
            // The receiver is gone only when nobody watches the progress; nothing to do then.
            let _ = self.progress.send(self.unreported);
            self.unreported = 0;
        }
    }
}

impl<R: Read> Read for RawBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the file ended {} bytes early; it changed after it was validated",
                    self.remaining
                ),
            ));
        }
        self.remaining -= n as u64;
        self.report(n);
        Ok(n)
    }
}

/// Reads an answer's body (capped) and its `Link` header.
fn read_page(response: Response) -> io::Result<(Vec<u8>, Option<String>)> {
    let link = response
        .headers()
        .get(reqwest::header::LINK)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut bytes = Vec::new();
    response.take(MAX_PAGE_BYTES).read_to_end(&mut bytes)?;
    Ok((bytes, link))
}

fn read_all(mut response: Response) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    response.read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn drain(mut response: Response) -> io::Result<()> {
    io::copy(&mut response, &mut io::sink()).map(|_| ())
}

fn invalid(method: &str, path: &str, detail: impl Into<String>) -> GitHubError {
    GitHubError::InvalidResponse {
        method: method.into(),
        path: path.into(),
        detail: detail.into(),
    }
}

fn conflict(release: &Release, asset: &Asset) -> GitHubError {
    GitHubError::AssetConflict {
        name: asset.name.clone(),
        tag: release.tag.clone(),
        found: match &asset.sha256 {
            Some(sha) => sha.clone(),
            None => format!(
                "unknown: GitHub gives no digest for it; {} bytes",
                asset.size
            ),
        },
    }
}

/// The path and query of an absolute URL, to name a request in messages.
fn path_of(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

impl GitHubTarget<'_> {
    /// The release with this tag; created (name = tag, a body saying what it holds) when
    /// missing and `create` is true. `Ok(None)` when missing and not `create`. A 422
    /// already_exists on create (another run made it meanwhile) reads it again.
    pub fn asset_release(&self, tag: &str, create: bool) -> Result<Option<Release>, GitHubError> {
        if let Some(release) = self.release_by_tag(tag)? {
            return Ok(Some(release));
        }
        if !create {
            return Ok(None);
        }
        self.create_release(tag).map(Some)
    }

    /// Every asset of the release, listed now, following `Link: rel="next"` (per_page=100);
    /// later uploads of this run check this listing instead of listing again. Assets left
    /// unfinished by a cut-off upload (state `starter`) are not listed: they hold no file, and
    /// [`GitHubTarget::upload_asset`] replaces them.
    pub fn list_assets(&self, release: &Release) -> Result<Vec<Asset>, GitHubError> {
        Ok(self
            .list_stored(release)?
            .into_iter()
            .filter(|s| s.complete)
            .map(|s| s.asset)
            .collect())
    }

    /// Uploads `source` as asset `name` (raw streamed body, `Content-Type`, `Content-Length`,
    /// a progress bar). Idempotent: an asset of this name with our size and sha256 is returned
    /// without sending anything; other bytes under the name are [`GitHubError::AssetConflict`];
    /// a lost answer or a 422 "name taken" is settled by listing the assets. An upload stored
    /// under a rewritten name is deleted again ([`GitHubError::AssetRenamed`]). A body above
    /// `RetryPolicy::large_body` is sent at most twice.
    pub fn upload_asset(
        &self,
        release: &Release,
        name: &str,
        source: &AssetBytes,
        sha256: &str,
        content_type: &str,
    ) -> Result<Asset, GitHubError> {
        self.require_token()?;
        let sha256 = sha256.to_ascii_lowercase();
        let len = source.len();
        let listing = self.known_assets(release)?;
        let before: HashSet<u64> = listing.iter().map(|s| s.asset.id).collect();
        match settle(&listing, &before, name, len, &sha256) {
            Found::Ours(asset) => {
                self.detail(&format!(
                    "{name} is already in release {} with the same sha256; not uploaded again",
                    release.tag
                ));
                return Ok(asset);
            }
            Found::Other(asset) => return Err(conflict(release, &asset)),
            Found::Broken(asset) => self.delete_broken(release, &asset)?,
            Found::Renamed(_) | Found::Absent => {}
        }
        let upload = Upload {
            release,
            name,
            source,
            len,
            sha256: &sha256,
            content_type,
            before: &before,
        };
        let asset = self.send_asset(&upload)?;
        self.remember_asset(release.id, &asset);
        Ok(asset)
    }

    /// Deletes an asset; already gone (404) is success.
    pub fn delete_asset(&self, asset: &Asset) -> Result<(), GitHubError> {
        self.delete_asset_id(asset.id, &asset.name)
    }

    /// Deletes the asset with this id (`name` is for messages), without listing the release;
    /// already gone (404) is success.
    pub fn delete_asset_id(&self, id: u64, name: &str) -> Result<(), GitHubError> {
        self.require_token()?;
        let path = self.asset_path(id);
        let mut build = || Ok(ApiRequest::new(Method::DELETE, path.clone(), JSON));
        match self.client.execute(&mut build, &mut drain, None) {
            Ok(_) => {}
            // A token that may read but not write gets 404 too (a classic token without the
            // `repo` scope): gone only if a read says so.
            Err(e) if e.status() == Some(404) => match self.client.get_bytes(&path, JSON) {
                Err(gone) if gone.status() == Some(404) => {}
                _ => return Err(self.write_error(&format!("asset {name}"), e)),
            },
            Err(e) => return Err(self.write_error(&format!("asset {name}"), e)),
        }
        self.forget_asset(id);
        Ok(())
    }

    /// The release's assets as this run knows them: listed on first use, then kept current.
    fn known_assets(&self, release: &Release) -> Result<Vec<Stored>, GitHubError> {
        if let Ok(cache) = self.asset_listing.lock()
            && let Some(listing) = cache.as_ref()
            && listing.release == release.id
        {
            return Ok(listing.stored.clone());
        }
        self.list_stored(release)
    }

    fn remember_listing(&self, release: u64, stored: Vec<Stored>) {
        if let Ok(mut cache) = self.asset_listing.lock() {
            *cache = Some(AssetListing { release, stored });
        }
    }

    /// Our upload, now in the release.
    fn remember_asset(&self, release: u64, asset: &Asset) {
        if let Ok(mut cache) = self.asset_listing.lock()
            && let Some(listing) = cache.as_mut()
            && listing.release == release
        {
            listing.stored.retain(|s| s.asset.name != asset.name);
            listing.stored.push(Stored {
                asset: asset.clone(),
                complete: true,
            });
        }
    }

    fn forget_asset(&self, id: u64) {
        if let Ok(mut cache) = self.asset_listing.lock()
            && let Some(listing) = cache.as_mut()
        {
            listing.stored.retain(|s| s.asset.id != id);
        }
    }

    fn asset_path(&self, id: u64) -> String {
        format!("{}/releases/assets/{id}", self.base)
    }

    fn detail(&self, text: &str) {
        self.client.reporter().event(Event::Detail(text));
    }

    /// An absolute URL from an answer, checked before anything (the token) is sent there.
    fn checked_url(&self, method: &str, url: &str) -> Result<Url, GitHubError> {
        if !token_may_go_to(self.client.api_url(), url) {
            return Err(invalid(
                method,
                url,
                format!(
                    "it names `{url}`, which is neither https nor the API's own host ({}); the \
                     token is not sent there",
                    self.client.api_url()
                ),
            ));
        }
        Url::parse(url).map_err(|e| invalid(method, url, e.to_string()))
    }

    /// The release of `tag`, `None` when there is none (after checking that the repository
    /// itself is visible: a 404 for both would otherwise read as "no release").
    fn release_by_tag(&self, tag: &str) -> Result<Option<Release>, GitHubError> {
        let path = format!(
            "{}/releases/tags/{}",
            self.base,
            utf8_percent_encode(tag, QUERY_VALUE)
        );
        match self.client.get_bytes(&path, JSON) {
            Ok(bytes) => parse_release(&bytes)
                .map(Some)
                .map_err(|e| invalid("GET", &path, e)),
            Err(e) if e.status() == Some(404) => {
                self.client
                    .get_bytes(&self.base, JSON)
                    .map_err(|e| self.repo_error(e))?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn create_release(&self, tag: &str) -> Result<Release, GitHubError> {
        self.require_token()?;
        let path = format!("{}/releases", self.base);
        let body = serde_json::json!({ "tag_name": tag, "name": tag, "body": RELEASE_BODY })
            .to_string()
            .into_bytes();
        let mut build = || {
            let mut request = ApiRequest::new(Method::POST, path.clone(), JSON);
            request.body = Some(Body::from(body.clone()));
            request.content_type = Some("application/json".into());
            Ok(request)
        };
        let mut check = || {
            Ok(match self.release_by_tag(tag)? {
                Some(_) => WriteCheck::Applied,
                None => WriteCheck::NotApplied,
            })
        };
        match self
            .client
            .execute(&mut build, &mut read_all, Some(&mut check))
        {
            Ok(Sent::Done(bytes)) => {
                let release = parse_release(&bytes).map_err(|e| invalid("POST", &path, e))?;
                // Made just now by us: nothing in it to list.
                self.remember_listing(release.id, Vec::new());
                Ok(release)
            }
            Ok(Sent::AlreadyApplied) => self
                .release_by_tag(tag)?
                .ok_or_else(|| invalid("POST", &path, "the created release is not there")),
            // already_exists: another run created it since we looked.
            Err(e) if e.status() == Some(422) => match self.created_meanwhile(tag)? {
                Some(release) => Ok(release),
                None => Err(self.write_error(&format!("release {tag}"), e)),
            },
            Err(e) => Err(self.write_error(&format!("release {tag}"), e)),
        }
    }

    /// The release another run just created: reads may lag behind a write for seconds, so a
    /// few tries before concluding the 422 meant something else.
    fn created_meanwhile(&self, tag: &str) -> Result<Option<Release>, GitHubError> {
        for wait in [0, 500, 1000, 2000] {
            std::thread::sleep(Duration::from_millis(wait));
            if let Some(release) = self.release_by_tag(tag)? {
                return Ok(Some(release));
            }
        }
        Ok(None)
    }

    /// Every asset, unfinished ones included.
    fn list_stored(&self, release: &Release) -> Result<Vec<Stored>, GitHubError> {
        let first = format!(
            "{}/releases/{}/assets?per_page={PER_PAGE}",
            self.base, release.id
        );
        let mut assets = Vec::new();
        let mut seen = HashSet::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let (path, url) = match &next {
                None => (first.clone(), None),
                Some(url) => {
                    let checked = self.checked_url("GET", url)?;
                    (path_of(&checked), Some(url.clone()))
                }
            };
            let (bytes, link) = self.get_page(&path, url)?;
            assets.extend(parse_assets(&bytes).map_err(|e| invalid("GET", &path, e))?);
            next = link.as_deref().and_then(next_link);
            match &next {
                None => {
                    self.remember_listing(release.id, assets.clone());
                    return Ok(assets);
                }
                // A `Link` that points back to a page already read would loop forever.
                Some(url) if !seen.insert(url.clone()) => {
                    return Err(invalid("GET", &path, "the `Link` header loops"));
                }
                Some(_) => {}
            }
        }
        Err(invalid(
            "GET",
            &first,
            format!("more than {MAX_PAGES} pages of assets"),
        ))
    }

    fn get_page(
        &self,
        path: &str,
        url: Option<String>,
    ) -> Result<(Vec<u8>, Option<String>), GitHubError> {
        let mut build = || {
            let mut request = ApiRequest::new(Method::GET, path.to_string(), JSON);
            request.url = url.clone();
            Ok(request)
        };
        match self.client.execute(&mut build, &mut read_page, None)? {
            Sent::Done(page) => Ok(page),
            Sent::AlreadyApplied => Err(invalid("GET", path, "a read was treated as a write")),
        }
    }

    /// An unfinished asset of our name holds the name: it goes before the upload.
    fn delete_broken(&self, release: &Release, asset: &Asset) -> Result<(), GitHubError> {
        self.detail(&format!(
            "{} in release {} is left over from an upload that was cut off; deleting it",
            asset.name, release.tag
        ));
        self.delete_asset(asset)
    }

    /// Sends the upload and settles what happened.
    fn send_asset(&self, upload: &Upload<'_>) -> Result<Asset, GitHubError> {
        let url_text = format!(
            "{}?name={}",
            upload.release.upload_url,
            utf8_percent_encode(upload.name, QUERY_VALUE)
        );
        let url = self.checked_url("POST", &url_text)?;
        let path = path_of(&url);
        let mut settled: Option<Found> = None;
        let sent = {
            let mut build = || self.upload_request(upload, &path, &url_text);
            let mut check = || self.check_upload(upload, &mut settled);
            self.client
                .execute(&mut build, &mut read_all, Some(&mut check))
        };
        let found = match sent {
            Ok(Sent::Done(bytes)) => match parse_asset(&bytes) {
                Ok(stored) => return self.accept_stored(upload, stored.asset),
                // The upload went through but its answer is garbage: the listing knows.
                Err(detail) => self
                    .settle_now(upload)?
                    .ok_or_else(|| invalid("POST", &path, detail))?,
            },
            Ok(Sent::AlreadyApplied) => match settled {
                Some(found) => found,
                None => self
                    .settle_now(upload)?
                    .ok_or_else(|| invalid("POST", &path, "the uploaded asset is not listed"))?,
            },
            // already_exists: the name was taken since the listing (or by our own lost copy).
            Err(e) if e.status() == Some(422) => match self.settle_now(upload)? {
                Some(found) => found,
                None => return Err(self.upload_error(upload, e)),
            },
            Err(e) => return Err(self.upload_error(upload, e)),
        };
        self.finish(upload, found)
    }

    fn upload_error(&self, upload: &Upload<'_>, error: GitHubError) -> GitHubError {
        self.write_error(
            &format!("release {} asset {}", upload.release.tag, upload.name),
            error,
        )
    }

    /// One attempt's request: the file reopened, its raw bytes counted onto a progress bar.
    fn upload_request(
        &self,
        upload: &Upload<'_>,
        path: &str,
        url: &str,
    ) -> Result<ApiRequest, GitHubError> {
        let (counts, progress) = mpsc::channel();
        let body = RawBody::new(open(upload.source)?, upload.len, counts);
        let mut request = ApiRequest::new(Method::POST, path.to_string(), JSON);
        request.url = Some(url.to_string());
        request.content_type = Some(upload.content_type.to_string());
        request.body = Some(Body::sized(body, upload.len));
        request.body_len = upload.len;
        request.timeout = Some(upload_timeout(upload.len));
        request.progress = Some((
            format!(
                "uploading {} to release {}",
                upload.name, upload.release.tag
            ),
            upload.len,
            progress,
        ));
        Ok(request)
    }

    /// After a lost answer: is our asset there (done), nothing (send again), or other bytes?
    fn check_upload(
        &self,
        upload: &Upload<'_>,
        settled: &mut Option<Found>,
    ) -> Result<WriteCheck, GitHubError> {
        let listing = self.list_stored(upload.release)?;
        match settle(
            &listing,
            upload.before,
            upload.name,
            upload.len,
            upload.sha256,
        ) {
            Found::Absent => Ok(WriteCheck::NotApplied),
            Found::Broken(asset) => {
                self.delete_broken(upload.release, &asset)?;
                Ok(WriteCheck::NotApplied)
            }
            Found::Other(asset) => Err(conflict(upload.release, &asset)),
            found => {
                *settled = Some(found);
                Ok(WriteCheck::Applied)
            }
        }
    }

    /// The listing's verdict on our upload; `None` when it shows nothing of ours.
    fn settle_now(&self, upload: &Upload<'_>) -> Result<Option<Found>, GitHubError> {
        let listing = self.list_stored(upload.release)?;
        Ok(
            match settle(
                &listing,
                upload.before,
                upload.name,
                upload.len,
                upload.sha256,
            ) {
                Found::Absent | Found::Broken(_) => None,
                found => Some(found),
            },
        )
    }

    fn finish(&self, upload: &Upload<'_>, found: Found) -> Result<Asset, GitHubError> {
        match found {
            Found::Ours(asset) | Found::Renamed(asset) => self.accept_stored(upload, asset),
            Found::Other(asset) => Err(conflict(upload.release, &asset)),
            Found::Broken(_) | Found::Absent => Err(invalid(
                "POST",
                &upload.release.upload_url,
                "the uploaded asset is not listed",
            )),
        }
    }

    /// The asset GitHub stored for our upload, checked: under our name, with our bytes.
    /// Anything else is deleted again, so no unusable file stays behind.
    fn accept_stored(&self, upload: &Upload<'_>, asset: Asset) -> Result<Asset, GitHubError> {
        if asset.name != upload.name {
            self.delete_asset(&asset)?;
            return Err(GitHubError::AssetRenamed {
                name: upload.name.to_string(),
                tag: upload.release.tag.clone(),
                stored: asset.name,
            });
        }
        let size_ok = asset.size == upload.len;
        let sha_ok = asset
            .sha256
            .as_deref()
            .is_none_or(|sha| sha == upload.sha256);
        if !size_ok || !sha_ok {
            self.delete_asset(&asset)?;
            return Err(GitHubError::ShaMismatch {
                path: format!("{} (release {})", upload.name, upload.release.tag),
                expected: format!("sha256 {} ({} bytes)", upload.sha256, upload.len),
                stored: format!(
                    "sha256 {} ({} bytes)",
                    asset.sha256.as_deref().unwrap_or("unknown"),
                    asset.size
                ),
            });
        }
        Ok(asset)
    }
}

/// One upload's parameters, passed around as one.
struct Upload<'a> {
    release: &'a Release,
    name: &'a str,
    source: &'a AssetBytes,
    len: u64,
    /// Lower-case hex.
    sha256: &'a str,
    content_type: &'a str,
    /// Asset ids listed before the upload began.
    before: &'a HashSet<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "8b7df143d91c716ecfa5fc1730022f6b421b05cedee8fd52b1fc65a96030ad52";

    fn stored(id: u64, name: &str, size: u64, sha: Option<&str>, complete: bool) -> Stored {
        Stored {
            asset: Asset {
                id,
                name: name.into(),
                size,
                sha256: sha.map(str::to_string),
                url: format!("https://github.com/o/r/releases/download/t/{name}"),
            },
            complete,
        }
    }

    #[test]
    fn releases_are_parsed_and_lose_the_upload_template() {
        let json = br#"{"id": 7, "tag_name": "wheels", "name": "x", "assets": [],
            "upload_url": "https://uploads.github.com/repos/o/r/releases/7/assets{?name,label}"}"#;
        assert_eq!(
            parse_release(json).unwrap(),
            Release {
                id: 7,
                tag: "wheels".into(),
                upload_url: "https://uploads.github.com/repos/o/r/releases/7/assets".into(),
            }
        );
    }

    #[test]
    fn garbage_answers_are_errors_not_panics() {
        let garbage: [&[u8]; 12] = [
            b"",
            b"null",
            b"[]",
            b"{}",
            b"<html>Unicorn!</html>",
            b"{\"id\": -1, \"tag_name\": \"t\", \"upload_url\": \"https://x\"}",
            b"{\"id\": 1, \"tag_name\": 5, \"upload_url\": \"https://x\"}",
            b"{\"id\": 1, \"tag_name\": \"t\", \"upload_url\": \"{?name}\"}",
            b"{\"id\": 1, \"tag_name\": \"t\", \"upload_url\": \"ftp://x/{?name}\"}",
            b"{\"id\": 1, \"tag_name\": \"t\", \"upload_url\": \"\xff\xfe\"}",
            b"{\"id\": 18446744073709551616, \"tag_name\": \"t\", \"upload_url\": \"https://x\"}",
            &[0xff; 64],
        ];
        for bytes in garbage {
            assert!(parse_release(bytes).is_err(), "{bytes:?}");
            assert!(parse_asset(bytes).is_err(), "{bytes:?}");
        }
        for bytes in [
            &b"{}"[..],
            b"[{}]",
            b"[1]",
            b"{\"a\": []}",
            b"[{\"id\": 1}]",
        ] {
            assert!(parse_assets(bytes).is_err(), "{bytes:?}");
        }
        assert_eq!(parse_assets(b"[]").unwrap(), vec![]);
        for header in [
            "",
            ",,,",
            "<",
            ">",
            "<>",
            "<x; rel=next",
            "x>; rel=\"next\"",
            ";;;",
        ] {
            let _ = next_link(header);
        }
        assert_eq!(next_link("<x; rel=\"next\""), None);
    }

    #[test]
    fn assets_keep_only_a_well_formed_sha256_digest() {
        let json = format!(
            r#"[{{"id": 1, "name": "a.whl", "size": 3, "digest": "sha256:{}",
                 "browser_download_url": "https://github.com/o/r/releases/download/t/a.whl",
                 "state": "uploaded", "label": null}},
                {{"id": 2, "name": "b.whl", "size": 0, "digest": null, "state": "starter",
                  "browser_download_url": "u"}},
                {{"id": 3, "name": "c.whl", "size": 1, "digest": "sha1:abc",
                  "browser_download_url": "u"}}]"#,
            SHA.to_ascii_uppercase()
        );
        let listed = parse_assets(json.as_bytes()).unwrap();
        assert_eq!(listed[0].asset.sha256.as_deref(), Some(SHA));
        assert!(listed[0].complete);
        assert_eq!(
            listed[0].asset.url,
            "https://github.com/o/r/releases/download/t/a.whl"
        );
        assert_eq!(listed[1].asset.sha256, None);
        assert!(!listed[1].complete);
        assert_eq!(listed[2].asset.sha256, None);
        assert!(listed[2].complete, "no state: assume uploaded");
        for bad in [
            "sha256:",
            "sha256:xyz",
            "sha512:00",
            "SHA256:8b7df143d91c716ecfa5fc1730022f6b421b05cedee8fd52b1fc65a96030ad52",
        ] {
            assert_eq!(digest_hex(Some(bad)), None, "{bad}");
        }
        assert_eq!(digest_hex(Some(&format!("sha256:{SHA}0"))), None);
    }

    #[test]
    fn the_next_link_is_found() {
        let header = "<https://api.github.com/repositories/1/releases/2/assets?per_page=100&page=2>; \
                      rel=\"next\", <https://api.github.com/repositories/1/releases/2/assets?per_page=100&page=5>; rel=\"last\"";
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/repositories/1/releases/2/assets?per_page=100&page=2")
        );
        let last_page = "<https://x/a?page=1>; rel=\"first\", <https://x/a?page=4>; rel=\"prev\"";
        assert_eq!(next_link(last_page), None);
        assert_eq!(
            next_link("<https://x/a?page=3>; REL=next").as_deref(),
            Some("https://x/a?page=3")
        );
    }

    #[test]
    fn the_token_goes_only_to_https_or_the_api_host() {
        let api = "http://127.0.0.1:8080";
        assert!(token_may_go_to(
            api,
            "http://127.0.0.1:8080/uploads/repos/o/r"
        ));
        for foreign in [
            // https is not enough: the host must be the API's or its uploads sibling.
            "https://uploads.github.com/repos/o/r",
            "https://evil.example/x",
            "http://127.0.0.1:9090/uploads",
            "http://evil.example/uploads",
            "http://localhost:8080/uploads",
            "https://user:pw@uploads.github.com/x",
            "ftp://127.0.0.1:8080/x",
            "file:///etc/passwd",
            "not a url",
            "",
        ] {
            assert!(!token_may_go_to(api, foreign), "{foreign}");
        }
        let github = "https://api.github.com";
        assert!(token_may_go_to(
            github,
            "https://uploads.github.com/repos/o/r"
        ));
        assert!(!token_may_go_to(github, "http://api.github.com/repos/o/r"));
        assert!(!token_may_go_to(
            github,
            "http://uploads.github.com/repos/o/r"
        ));
        assert!(token_may_go_to(
            "https://ghe.example/api/v3",
            "https://ghe.example/api/uploads/repos/o/r"
        ));
    }

    #[test]
    fn listings_settle_an_upload() {
        let none = HashSet::new();
        let ours = [stored(1, "a.whl", 3, Some(SHA), true)];
        assert_eq!(
            settle(&ours, &none, "a.whl", 3, SHA),
            Found::Ours(ours[0].asset.clone())
        );
        assert!(matches!(
            settle(&ours, &none, "a.whl", 4, SHA),
            Found::Other(_)
        ));
        let undigested = [stored(1, "a.whl", 3, None, true)];
        assert!(matches!(
            settle(&undigested, &none, "a.whl", 3, SHA),
            Found::Other(_)
        ));
        let broken = [stored(1, "a.whl", 0, None, false)];
        assert!(matches!(
            settle(&broken, &none, "a.whl", 3, SHA),
            Found::Broken(_)
        ));
        assert_eq!(settle(&ours, &none, "b.whl", 3, SHA), Found::Absent);

        // Our bytes under a rewritten name, new since the upload began.
        let renamed = [stored(9, "x-1.2-py3-none-any.whl", 3, Some(SHA), true)];
        assert!(matches!(
            settle(&renamed, &none, "x-1!2-py3-none-any.whl", 3, SHA),
            Found::Renamed(_)
        ));
        let before: HashSet<u64> = [9].into();
        assert_eq!(
            settle(&renamed, &before, "x-1!2-py3-none-any.whl", 3, SHA),
            Found::Absent
        );
        // Equal bytes under an unrelated name are somebody else's file.
        assert_eq!(
            settle(&renamed, &none, "y-1!2-py3-none-any.whl", 3, SHA),
            Found::Absent
        );
    }

    #[test]
    fn rewrites_differ_only_where_github_changes_characters() {
        assert!(could_be_rewrite_of("a.b.whl", "a!b.whl"));
        assert!(could_be_rewrite_of("a.b+c.d.whl", "a b+c~d.whl"));
        assert!(!could_be_rewrite_of("a!b.whl", "a!b.whl"));
        assert!(!could_be_rewrite_of("b.b.whl", "a!b.whl"));
        assert!(!could_be_rewrite_of("a.bb.whl", "a!b.whl"));
    }

    #[test]
    fn the_raw_body_is_exact_and_counted() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let (tx, rx) = mpsc::channel();
        let mut out = Vec::new();
        RawBody::new(&data[..], 999_999, tx)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data[..999_999]);
        assert_eq!(rx.iter().sum::<u64>(), 999_999);

        let (tx, _rx) = mpsc::channel();
        let err = RawBody::new(&data[..10], 11, tx)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn names_are_encoded_in_the_query() {
        assert_eq!(
            utf8_percent_encode("dace-43!2026.2+local-py3-none-any.whl", QUERY_VALUE).to_string(),
            "dace-43%212026.2%2Blocal-py3-none-any.whl"
        );
    }
}
