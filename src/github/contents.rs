//! The index in a GitHub branch, through the Contents API (files) and the Git Trees API
//! (folder listings, complete beyond the Contents API's 1,000 entries, with blob shas).
//!
//! Writes are compare-and-swap on the file's blob sha: GitHub refuses a write whose `sha` is not
//! the file's current one (409), or that creates a file that already exists (422), and both
//! come back as `TargetError::Conflict`, which the publish loop answers by re-reading and
//! re-planning. So there is no lock: concurrent runs stay correct, the slower one re-plans.

use std::collections::HashSet;
use std::io::{Cursor, Read};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use reqwest::blocking::Body;
use serde::Deserialize;

use super::client::{ApiClient, ApiRequest, JSON, OBJECT, RAW, RetryPolicy, Sent, WriteCheck};
use super::error::GitHubError;
use super::token::Secret;
use super::upload::{PutBody, PutFields, reopen_validated};
use crate::change::ChangeSet;
use crate::hashing::git_blob_sha;
use crate::report::Reporter;
use crate::target::{
    BlobSha, CommitError, CommitMode, DirEntry, Expected, RunLock, SizeLimits, Snapshot,
    StoredFile, Target, TargetError, Upload, Version, check_path, commit_in_order,
};

/// The public GitHub API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// GitHub blocks files over 100 MiB.
pub const MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;
/// The largest request body GitHub reliably accepts for a Contents API PUT or a blob: bodies near
/// 40 MB answer 500/502/504 after 10–12 s (DESIGN.md §3). The file travels base64-encoded (4/3
/// of its size), so the largest file is about 30 MiB.
pub const DEFAULT_MAX_BLOB_SIZE: u64 = 40 * 1024 * 1024;

/// The release whose assets hold files stored outside the repository.
pub const DEFAULT_ASSET_RELEASE: &str = "gt4py-publish-files";

/// The largest file whose upload body (base64 plus a small JSON envelope) fits in `max_body`.
pub fn largest_file_for_body(max_body: u64) -> u64 {
    // Room for the JSON around the content (message, branch, sha: well under 1 KiB).
    let room = max_body.saturating_sub(1024);
    room / 4 * 3
}

/// Everything but RFC 3986's unreserved characters is encoded: filenames carry `!` (epochs) and
/// `+` (local versions), which must reach GitHub as themselves, not as URL syntax.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where the index lives on GitHub.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_url: String,
    /// `OWNER/NAME`.
    pub repo: String,
    pub branch: String,
    /// Needed for writes, and for reads of a private repository.
    pub token: Option<Secret>,
    /// Commit each change set as one commit through the Git Data API.
    pub atomic: bool,
    /// The largest request body sent in one request ([`DEFAULT_MAX_BLOB_SIZE`]).
    pub max_blob_size: u64,
}

/// A GitHub branch as an index target.
pub struct GitHubTarget<'r> {
    pub(super) client: ApiClient<'r>,
    repo: String,
    branch: String,
    /// `/repos/OWNER/NAME`, encoded.
    pub(super) base: String,
    /// Host shown in `location()` when it is not github.com.
    host: Option<String>,
    /// Set once the branch has been seen, so a 404 afterwards means "no such file".
    branch_seen: OnceLock<()>,
    /// Where the token came from, for `doctor` (the token itself lives in the client's headers).
    token_source: Option<super::token::TokenSource>,
    /// One commit per change set (Git Data API) instead of one per file (Contents API).
    atomic: bool,
    max_blob_size: u64,
    /// The tag of the release whose assets hold large files.
    pub(super) asset_release: String,
    /// That release, once found or created.
    pub(super) release_cache: Mutex<Option<super::releases::Release>>,
    /// Its assets as this run last listed them, kept current with the run's own writes.
    pub(super) asset_listing: Mutex<Option<super::releases::AssetListing>>,
    /// The snapshot reads come from, and the blob shas its listings showed.
    pinned: Mutex<Option<Pinned>>,
    seen_blobs: Mutex<HashSet<String>>,
    full_tree: Mutex<Option<Arc<FullTree>>>,
}

/// The commit a snapshot resolved the branch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pinned {
    pub commit: String,
    /// Its tree, when known.
    pub tree: Option<String>,
}

/// A recursive tree listing of a commit.
#[derive(Debug)]
pub(super) struct FullTree {
    /// The tree's own sha.
    pub sha: String,
    pub entries: Vec<TreeEntry>,
    /// GitHub stops past 100,000 entries or 7 MB; folder listings then come one by one.
    pub truncated: bool,
}

impl FullTree {
    /// The entries of `dir` (`""`: the root), sorted by name; `None` when it is no folder.
    fn listing(&self, dir: &str) -> Option<Vec<DirEntry>> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            if !self
                .entries
                .iter()
                .any(|e| e.path == dir && e.kind == "tree")
            {
                return None;
            }
            format!("{dir}/")
        };
        let mut entries: Vec<DirEntry> = self
            .entries
            .iter()
            .filter_map(|e| {
                let name = e.path.strip_prefix(&prefix)?;
                if name.is_empty() || name.contains('/') {
                    return None;
                }
                match e.kind.as_str() {
                    "blob" => Some(DirEntry {
                        name: name.to_string(),
                        is_dir: false,
                        size: e.size.unwrap_or(0),
                        sha: Some(e.sha.clone()),
                    }),
                    "tree" => Some(DirEntry {
                        name: name.to_string(),
                        is_dir: true,
                        size: 0,
                        sha: None,
                    }),
                    _ => None,
                }
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Some(entries)
    }

    /// Bytes of every file (what GitHub Pages publishes).
    pub fn size(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.kind == "blob")
            .filter_map(|e| e.size)
            .fold(0u64, u64::saturating_add)
    }
}

#[derive(Deserialize)]
struct RecursiveTree {
    sha: String,
    #[serde(default)]
    tree: Vec<TreeEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
pub struct Tree {
    tree: Vec<TreeEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct TreeEntry {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub sha: String,
    #[serde(default)]
    pub size: Option<u64>,
}

#[derive(Deserialize)]
pub struct ContentObject {
    #[serde(rename = "type")]
    kind: String,
    sha: String,
}

#[derive(Deserialize)]
pub struct WriteAnswer {
    content: WrittenContent,
}

#[derive(Deserialize)]
struct WrittenContent {
    sha: String,
}

struct NoLock;

impl RunLock for NoLock {}

impl<'r> GitHubTarget<'r> {
    /// Checks the configuration (no request is made yet) and sets up the client.
    pub fn new(config: GitHubConfig, reporter: &'r dyn Reporter) -> Result<Self, GitHubError> {
        let (owner, name) = parse_repo(&config.repo)?;
        check_branch(&config.branch)?;
        let api_url = config.api_url.trim_end_matches('/');
        let url = reqwest::Url::parse(api_url).map_err(|e| {
            GitHubError::InvalidConfig(format!("`{api_url}` is not a valid API URL: {e}"))
        })?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(GitHubError::InvalidConfig(format!(
                "`{api_url}` is not an http(s) API URL"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            // Credentials in a URL end up in logs and error messages: the token goes in the
            // Authorization header only.
            return Err(GitHubError::InvalidConfig(
                "the API URL must not contain credentials; pass the token with \
                 GT4PY_PUBLISH_TOKEN / GH_TOKEN / GITHUB_TOKEN or --token-file"
                    .into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(GitHubError::InvalidConfig(format!(
                "the API URL `{api_url}` must not have a query or fragment"
            )));
        }
        let host = match url.host_str() {
            Some("api.github.com") | None => None,
            Some(host) => Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            }),
        };
        let repo = format!("{owner}/{name}");
        let mut client = ApiClient::new(api_url, &repo, config.token.as_ref(), reporter)?;
        client.set_branch(&config.branch);
        Ok(Self {
            client,
            base: format!("/repos/{}/{}", encode(owner), encode(name)),
            repo,
            branch: config.branch,
            host,
            branch_seen: OnceLock::new(),
            token_source: config.token.as_ref().map(|t| t.source().clone()),
            atomic: config.atomic,
            max_blob_size: config.max_blob_size,
            asset_release: DEFAULT_ASSET_RELEASE.to_string(),
            release_cache: Mutex::new(None),
            asset_listing: Mutex::new(None),
            pinned: Mutex::new(None),
            seen_blobs: Mutex::new(HashSet::new()),
            full_tree: Mutex::new(None),
        })
    }

    /// The snapshot's commit, if one was taken.
    pub(super) fn pinned(&self) -> Option<Pinned> {
        self.pinned.lock().ok().and_then(|p| p.clone())
    }

    /// Whether a listing of the snapshot showed a blob with this sha (so it need not be sent).
    pub(super) fn snapshot_has_blob(&self, sha: &str) -> bool {
        self.seen_blobs.lock().is_ok_and(|seen| seen.contains(sha))
    }

    pub(super) fn encoded_branch(&self) -> String {
        encode_path(&self.branch)
    }

    /// What reads name: the snapshot's commit (exact, immune to replica lag) once one is
    /// taken, else the branch.
    fn read_ref(&self) -> String {
        match self.pinned() {
            Some(pinned) => pinned.commit,
            None => self.branch.clone(),
        }
    }

    /// Where the token came from, if there is one.
    pub fn token_source(&self) -> Option<&super::token::TokenSource> {
        self.token_source.as_ref()
    }

    /// Stores large files as assets of the release tagged `tag` (created when missing).
    pub fn with_asset_release(mut self, tag: &str) -> Self {
        self.asset_release = tag.to_string();
        self
    }

    /// Replaces the retry policy (tests use short waits).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.client.set_retry_policy(policy);
        self
    }

    pub fn repo(&self) -> &str {
        &self.repo
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    fn contents_path(&self, path: &str) -> String {
        format!("{}/contents/{}", self.base, encode_path(path))
    }

    /// A file at the snapshot.
    fn contents_ref(&self, path: &str) -> String {
        format!(
            "{}?ref={}",
            self.contents_path(path),
            encode(&self.read_ref())
        )
    }

    /// A file on the branch as it is now (checking whether a write whose answer was lost took
    /// effect: the snapshot predates it).
    fn contents_live(&self, path: &str) -> String {
        format!("{}?ref={}", self.contents_path(path), encode(&self.branch))
    }

    fn tree_path(&self, dir: &str) -> String {
        let at = self.read_ref();
        let reference = if dir.is_empty() {
            at
        } else {
            format!("{at}:{dir}")
        };
        // One segment, `/` and `:` encoded too, as octokit sends it.
        format!("{}/git/trees/{}", self.base, encode(&reference))
    }

    /// Makes sure the repository and branch exist and are visible, once per run, so a 404 on a
    /// file can be told apart from a wrong `--repo`.
    fn ensure_branch(&self) -> Result<(), GitHubError> {
        if self.branch_seen.get().is_some() {
            return Ok(());
        }
        match self.client.get_bytes(&self.tree_path(""), JSON) {
            Ok(_) => {
                let _ = self.branch_seen.set(());
                Ok(())
            }
            Err(e) => Err(self.repo_error(e)),
        }
    }

    /// Turns "the branch itself is not there" answers into errors that say so.
    pub(super) fn repo_error(&self, error: GitHubError) -> GitHubError {
        match error.status() {
            Some(404) => GitHubError::RepoNotFound {
                repo: self.repo.clone(),
                branch: self.branch.clone(),
                has_token: self.client.has_token(),
            },
            // "Git Repository is empty."
            Some(409) => GitHubError::RepoEmpty {
                repo: self.repo.clone(),
                branch: self.branch.clone(),
            },
            _ => error,
        }
    }

    /// A 404 on a path: `None` when the branch is there, otherwise the branch's error.
    fn missing<T>(&self, error: GitHubError) -> Result<Option<T>, GitHubError> {
        if error.status() == Some(404) {
            self.ensure_branch()?;
            Ok(None)
        } else {
            Err(error)
        }
    }

    pub(super) fn require_token(&self) -> Result<(), GitHubError> {
        if self.client.has_token() {
            Ok(())
        } else {
            Err(GitHubError::NoToken {
                repo: self.repo.clone(),
            })
        }
    }

    /// The snapshot's whole tree, read once per snapshot with one recursive listing: every
    /// folder listing of the plan, the site's size and the blobs the snapshot already holds
    /// come from it, so a publish costs the same requests whatever the index's size. `None`
    /// before a snapshot is taken.
    pub(super) fn full_tree(&self) -> Result<Option<Arc<FullTree>>, GitHubError> {
        let Some(pinned) = self.pinned() else {
            return Ok(None);
        };
        if let Ok(cache) = self.full_tree.lock()
            && let Some(tree) = cache.as_ref()
        {
            return Ok(Some(tree.clone()));
        }
        let tree = Arc::new(self.read_full_tree(&pinned.commit)?);
        if let Ok(mut seen) = self.seen_blobs.lock() {
            seen.extend(
                tree.entries
                    .iter()
                    .filter(|e| e.kind == "blob")
                    .map(|e| e.sha.clone()),
            );
        }
        if let Ok(mut pinned) = self.pinned.lock()
            && let Some(pinned) = pinned.as_mut()
        {
            pinned.tree = Some(tree.sha.clone());
        }
        if let Ok(mut cache) = self.full_tree.lock() {
            *cache = Some(tree.clone());
        }
        Ok(Some(tree))
    }

    /// The snapshot's tree, or without a snapshot the tree at `at` (a commit or the branch),
    /// read now: what the site size and `doctor`'s file list come from.
    pub(super) fn full_tree_at(&self, at: &str) -> Result<Arc<FullTree>, GitHubError> {
        match self.full_tree()? {
            Some(tree) => Ok(tree),
            None => self.read_full_tree(at).map(Arc::new),
        }
    }

    /// The one reader of a recursive tree listing (`GET /git/trees/{at}?recursive=1`).
    fn read_full_tree(&self, at: &str) -> Result<FullTree, GitHubError> {
        let answer: RecursiveTree = self
            .client
            .get_json(&self.full_tree_path(at), JSON)
            .map_err(|e| self.repo_error(e))?;
        Ok(FullTree {
            sha: answer.sha,
            truncated: answer.truncated,
            entries: answer.tree,
        })
    }

    fn full_tree_path(&self, at: &str) -> String {
        format!("{}/git/trees/{}?recursive=1", self.base, encode(at))
    }

    /// Bytes of every file on the branch at the snapshot (what Pages publishes). A truncated
    /// listing is refused: a partial size would pass the budget check it exists for.
    pub(super) fn tree_size(&self) -> Result<u64, GitHubError> {
        let tree = self.full_tree_at(&self.read_ref())?;
        if tree.truncated {
            return Err(GitHubError::InvalidResponse {
                method: "GET".into(),
                path: self.full_tree_path(&self.read_ref()),
                detail: "GitHub truncated the recursive tree listing (over 100,000 files)".into(),
            });
        }
        Ok(tree.size())
    }

    fn list(&self, dir: &str) -> Result<Option<Vec<DirEntry>>, GitHubError> {
        if let Some(tree) = self.full_tree()?
            && !tree.truncated
        {
            let _ = self.branch_seen.set(());
            return Ok(tree.listing(dir));
        }
        let path = self.tree_path(dir);
        let tree: Tree = match self.client.get_json(&path, JSON) {
            Ok(tree) => tree,
            Err(e) if dir.is_empty() => return Err(self.repo_error(e)),
            Err(e) => return self.missing(e),
        };
        let _ = self.branch_seen.set(());
        if tree.truncated {
            // Only past 100,000 entries or 7 MB of listing; an index folder never gets there.
            return Err(GitHubError::InvalidResponse {
                method: "GET".into(),
                path,
                detail: "GitHub truncated the folder listing".into(),
            });
        }
        if let Ok(mut seen) = self.seen_blobs.lock() {
            seen.extend(
                tree.tree
                    .iter()
                    .filter(|e| e.kind == "blob")
                    .map(|e| e.sha.clone()),
            );
        }
        let mut entries: Vec<DirEntry> = tree
            .tree
            .into_iter()
            .filter_map(|entry| match entry.kind.as_str() {
                "blob" => Some(DirEntry {
                    name: entry.path,
                    is_dir: false,
                    size: entry.size.unwrap_or(0),
                    sha: Some(entry.sha),
                }),
                "tree" => Some(DirEntry {
                    name: entry.path,
                    is_dir: true,
                    size: 0,
                    sha: None,
                }),
                // Submodules ("commit") are neither pages nor distributions.
                _ => None,
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(entries))
    }

    fn read(&self, path: &str) -> Result<Option<StoredFile>, GitHubError> {
        // The raw media type works up to 100 MB in one request; the default one stops at 1 MB.
        match self.client.get_bytes(&self.contents_ref(path), RAW) {
            Ok(bytes) => {
                let _ = self.branch_seen.set(());
                let sha = git_blob_sha(&bytes);
                Ok(Some(StoredFile {
                    bytes,
                    version: Version::Sha(sha),
                }))
            }
            Err(e) => self.missing(e),
        }
    }

    /// The blob sha at the snapshot, from the object media type: metadata without the content.
    fn current_sha(&self, path: &str) -> Result<Option<BlobSha>, GitHubError> {
        self.sha_at(path, self.contents_ref(path))
    }

    /// The blob sha on the branch now.
    fn live_sha(&self, path: &str) -> Result<Option<BlobSha>, GitHubError> {
        self.sha_at(path, self.contents_live(path))
    }

    fn sha_at(&self, path: &str, api_path: String) -> Result<Option<BlobSha>, GitHubError> {
        match self.client.get_json::<ContentObject>(&api_path, OBJECT) {
            Ok(object) if object.kind == "dir" => Err(GitHubError::InvalidResponse {
                method: "GET".into(),
                path: api_path,
                detail: format!("`{path}` is a folder, not a file"),
            }),
            Ok(object) => {
                let _ = self.branch_seen.set(());
                Ok(Some(object.sha))
            }
            Err(e) => self.missing(e),
        }
    }

    fn put(
        &self,
        path: &str,
        content: Upload<'_>,
        expected: &Expected,
        message: &str,
    ) -> Result<BlobSha, GitHubError> {
        self.require_token()?;
        let len = content.len();
        if len > MAX_FILE_SIZE {
            return Err(GitHubError::TooLarge {
                path: path.to_string(),
                size: len,
                max: MAX_FILE_SIZE,
            });
        }
        let ours: BlobSha = match content {
            Upload::Bytes(bytes) => git_blob_sha(bytes),
            Upload::File { sha, .. } => {
                let sha: &str = sha;
                sha.to_string()
            }
        };
        let old = match expected {
            Expected::Absent => None,
            Expected::Sha(sha) => Some(sha.as_str()),
            // Issued by a local directory's reads only: not a state of this branch, and
            // re-planning would not change that.
            Expected::Read(_) => {
                return Err(GitHubError::ForeignRead {
                    path: path.to_string(),
                });
            }
        };
        let fields = PutFields {
            message,
            branch: &self.branch,
            sha: old,
        };
        let api_path = self.contents_path(path);
        let mut build = || -> Result<ApiRequest, GitHubError> {
            // Reopened on every attempt: a streamed body cannot be replayed.
            let source: Box<dyn Read + Send> = match content {
                Upload::Bytes(bytes) => Box::new(Cursor::new(bytes.to_vec())),
                Upload::File { path: file, .. } => Box::new(reopen_validated(file, len)?),
            };
            let (counts, progress) = mpsc::channel();
            let body = PutBody::new(&fields, source, len).with_progress(counts);
            let body_len = body.len();
            let mut request = ApiRequest::new(Method::PUT, api_path.clone(), JSON);
            request.body = Some(Body::sized(body, body_len));
            request.body_len = body_len;
            request.timeout = Some(upload_timeout(body_len));
            request.progress = Some((format!("uploading {path}"), body_len, progress));
            Ok(request)
        };
        let mut check = || self.check_put(path, &ours, old);
        let sent = self.client.execute(
            &mut build,
            &mut |mut response| {
                let mut bytes = Vec::new();
                response.read_to_end(&mut bytes).map(|_| bytes)
            },
            Some(&mut check),
        );
        let answer = match sent {
            Ok(Sent::Done(answer)) => answer,
            Ok(Sent::AlreadyApplied) => return Ok(ours),
            Err(e) => {
                let error = self.write_error(path, e);
                // A write re-sent after a lost answer meets its own first copy ("sha wasn't
                // supplied", "does not match"), possibly seen late through a lagging replica:
                // our exact blob on the branch is a success, not a conflict.
                if matches!(error, GitHubError::Conflict { .. })
                    && self.live_sha(path).ok().flatten().as_deref() == Some(ours.as_str())
                {
                    return Ok(ours);
                }
                return Err(error);
            }
        };
        let stored = serde_json::from_slice::<WriteAnswer>(&answer)
            .map_err(|e| GitHubError::InvalidResponse {
                method: "PUT".into(),
                path: api_path,
                detail: e.to_string(),
            })?
            .content
            .sha;
        if stored != ours {
            return Err(GitHubError::ShaMismatch {
                path: path.to_string(),
                expected: ours,
                stored,
            });
        }
        Ok(stored)
    }

    /// After a lost answer to a PUT: is our content there, is the old state still there, or
    /// did someone else write?
    fn check_put(
        &self,
        path: &str,
        ours: &str,
        old: Option<&str>,
    ) -> Result<WriteCheck, GitHubError> {
        let current = self.live_sha(path)?;
        if current.as_deref() == Some(ours) {
            Ok(WriteCheck::Applied)
        } else if current.as_deref() == old {
            Ok(WriteCheck::NotApplied)
        } else {
            Err(conflict(path, old, current.as_deref()))
        }
    }

    fn delete(&self, path: &str, expected: &str, message: &str) -> Result<(), GitHubError> {
        self.require_token()?;
        let body = serde_json::json!({
            "message": message,
            "sha": expected,
            "branch": self.branch,
        })
        .to_string()
        .into_bytes();
        let api_path = self.contents_path(path);
        let mut build = || {
            let mut request = ApiRequest::new(Method::DELETE, api_path.clone(), JSON);
            request.body = Some(Body::from(body.clone()));
            Ok(request)
        };
        let mut check = || match self.live_sha(path)? {
            None => Ok(WriteCheck::Applied),
            Some(current) if current == expected => Ok(WriteCheck::NotApplied),
            Some(current) => Err(conflict(path, Some(expected), Some(&current))),
        };
        let sent = self.client.execute(
            &mut build,
            &mut |mut response| {
                // Drain the answer so the connection can be reused; its content is not needed.
                std::io::copy(&mut response, &mut std::io::sink()).map(|_| ())
            },
            Some(&mut check),
        );
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => {
                self.ensure_branch()?;
                Err(conflict(path, Some(expected), None))
            }
            Err(e) => Err(self.write_error(path, e)),
        }
    }

    /// GitHub's compare-and-swap refusals become conflicts; a 404 is checked against the branch.
    pub(super) fn write_error(&self, path: &str, error: GitHubError) -> GitHubError {
        let message = match &error {
            GitHubError::Api { message, .. } => message.clone(),
            _ => String::new(),
        };
        match error.status() {
            // "<path> does not match <sha>", or "refs/heads/main expected to be at …" when
            // another write to the branch landed in between.
            Some(409) => GitHubError::Conflict {
                path: path.to_string(),
                detail: message,
            },
            // `"sha" wasn't supplied` (the file appeared) or a sha that is no longer valid.
            Some(422) if message.contains("sha") => GitHubError::Conflict {
                path: path.to_string(),
                detail: message,
            },
            Some(404) => match self.ensure_branch() {
                Ok(()) => match error {
                    GitHubError::NotFound {
                        method,
                        path,
                        request_id,
                        ..
                    } => GitHubError::WriteNotFound {
                        repo: self.repo.clone(),
                        branch: self.branch.clone(),
                        method,
                        path,
                        request_id,
                    },
                    other => other,
                },
                Err(branch_error) => branch_error,
            },
            _ => error,
        }
    }
}

impl Target for GitHubTarget<'_> {
    fn location(&self) -> String {
        match &self.host {
            Some(host) => format!("{host}/{}@{}", self.repo, self.branch),
            None => format!("{}@{}", self.repo, self.branch),
        }
    }

    fn size_limits(&self) -> Option<SizeLimits> {
        let max = largest_file_for_body(self.max_blob_size).min(MAX_FILE_SIZE);
        Some(SizeLimits {
            max,
            warn: max / 4 * 3,
        })
    }

    fn lock(&self) -> Result<Box<dyn RunLock>, TargetError> {
        // Nothing to take: compare-and-swap writes plus re-planning keep concurrent runs safe.
        Ok(Box::new(NoLock))
    }

    fn snapshot(&self) -> Result<Snapshot, TargetError> {
        let commit = self.head_commit()?;
        let _ = self.branch_seen.set(());
        if let Ok(mut pinned) = self.pinned.lock() {
            *pinned = Some(Pinned {
                commit: commit.clone(),
                tree: None,
            });
        }
        if let Ok(mut seen) = self.seen_blobs.lock() {
            seen.clear();
        }
        if let Ok(mut tree) = self.full_tree.lock() {
            *tree = None;
        }
        Ok(Snapshot {
            commit: Some(commit),
        })
    }

    fn assets(&self) -> Option<&dyn crate::target::AssetStore> {
        Some(self)
    }

    fn site_size(&self) -> Result<Option<u64>, TargetError> {
        Ok(Some(self.tree_size()?))
    }

    fn commit_mode(&self) -> CommitMode {
        if self.atomic {
            CommitMode::Atomic
        } else {
            CommitMode::PerChange
        }
    }

    fn commit(
        &self,
        changes: &ChangeSet,
        reporter: &dyn Reporter,
    ) -> Result<Vec<(String, String)>, CommitError> {
        if self.atomic {
            self.commit_atomic(changes, reporter)
        } else {
            commit_in_order(self, changes, reporter)
        }
    }

    fn list_dir(&self, dir: &str) -> Result<Option<Vec<DirEntry>>, TargetError> {
        if !dir.is_empty() {
            check_path(dir)?;
        }
        Ok(self.list(dir)?)
    }

    fn read_file(&self, path: &str) -> Result<Option<StoredFile>, TargetError> {
        check_path(path)?;
        Ok(self.read(path)?)
    }

    fn file_sha(&self, path: &str) -> Result<Option<BlobSha>, TargetError> {
        check_path(path)?;
        Ok(self.current_sha(path)?)
    }

    fn open_file(&self, path: &str) -> Result<Option<Box<dyn Read + '_>>, TargetError> {
        check_path(path)?;
        match self.client.get_stream(&self.contents_ref(path), RAW) {
            Ok(response) => Ok(Some(Box::new(response))),
            Err(e) => Ok(self.missing(e)?),
        }
    }

    fn put_file(
        &self,
        path: &str,
        content: Upload<'_>,
        expected: &Expected,
        message: &str,
    ) -> Result<BlobSha, TargetError> {
        check_path(path)?;
        Ok(self.put(path, content, expected, message)?)
    }

    fn delete_file(
        &self,
        path: &str,
        expected: &BlobSha,
        message: &str,
    ) -> Result<(), TargetError> {
        check_path(path)?;
        Ok(self.delete(path, expected, message)?)
    }
}

fn conflict(path: &str, expected: Option<&str>, found: Option<&str>) -> GitHubError {
    GitHubError::Conflict {
        path: path.to_string(),
        detail: format!(
            "expected {}, found {}",
            expected.unwrap_or("no file"),
            found.unwrap_or("no file")
        ),
    }
}

/// Enough time for the body at a slow 128 KiB/s, plus a minute for GitHub to commit: the
/// client's default timeout would cut a large upload short.
pub(super) fn upload_timeout(body_len: u64) -> Duration {
    Duration::from_secs(60 + body_len / (128 * 1024))
}

fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// `OWNER/NAME` with GitHub's characters for both parts.
fn parse_repo(repo: &str) -> Result<(&str, &str), GitHubError> {
    let valid = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repo.split_once('/') {
        Some((owner, name)) if valid(owner) && valid(name) => Ok((owner, name)),
        _ => Err(GitHubError::InvalidConfig(format!(
            "`{repo}` is not a GitHub repository: expected OWNER/NAME, e.g. GridTools/pypi"
        ))),
    }
}

/// The parts of git's ref-name rules that matter here: nothing that could change the meaning of
/// a URL or a tree reference.
fn check_branch(branch: &str) -> Result<(), GitHubError> {
    let valid = !branch.is_empty()
        && !branch.starts_with(['/', '-'])
        && !branch.ends_with(['/', '.'])
        && !branch.contains("..")
        && !branch.contains("//")
        && !branch.contains("@{")
        && !branch
            .chars()
            .any(|c| c.is_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\'));
    if valid {
        Ok(())
    } else {
        Err(GitHubError::InvalidConfig(format!(
            "`{branch}` is not a valid branch name"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(
            encode_path("dace/dace-1!2.0+local-py3-none-any.whl"),
            "dace/dace-1%212.0%2Blocal-py3-none-any.whl"
        );
        assert_eq!(encode("main:dace/x"), "main%3Adace%2Fx");
    }

    #[test]
    fn repositories_must_be_owner_slash_name() {
        assert_eq!(parse_repo("GridTools/pypi").unwrap(), ("GridTools", "pypi"));
        assert!(parse_repo("a/b.c-d_e").is_ok());
        for bad in [
            "", "pypi", "/pypi", "a/", "a/b/c", "a b/c", "../x", "a/..", "a/b?x",
        ] {
            assert!(parse_repo(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branches_are_checked() {
        for ok in ["main", "gh-pages", "release/1.0", "v1"] {
            assert!(check_branch(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a b", "a..b", "/x", "x/", "a:b", "a?b", "a\nb", "x.", "-x",
        ] {
            assert!(check_branch(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn config_is_validated_without_requests() {
        let reporter = crate::report::NullReporter;
        let config = |api_url: &str, repo: &str| GitHubConfig {
            api_url: api_url.into(),
            repo: repo.into(),
            branch: "main".into(),
            token: None,
            atomic: false,
            max_blob_size: DEFAULT_MAX_BLOB_SIZE,
        };
        let target =
            GitHubTarget::new(config(DEFAULT_API_URL, "GridTools/pypi"), &reporter).unwrap();
        assert_eq!(target.location(), "GridTools/pypi@main");
        let target =
            GitHubTarget::new(config("https://ghe.example.com/api/v3/", "o/r"), &reporter).unwrap();
        assert_eq!(target.location(), "ghe.example.com/o/r@main");
        assert!(GitHubTarget::new(config("https://u:p@x.example/", "o/r"), &reporter).is_err());
        assert!(GitHubTarget::new(config("ftp://x.example/", "o/r"), &reporter).is_err());
        assert!(GitHubTarget::new(config(DEFAULT_API_URL, "nope"), &reporter).is_err());
    }

    #[test]
    fn the_largest_file_fits_its_base64_body_under_the_ceiling() {
        for ceiling in [2048, DEFAULT_MAX_BLOB_SIZE, 1 << 31] {
            let file = largest_file_for_body(ceiling);
            assert!(
                crate::github::upload::encoded_len(file) + 1024 <= ceiling,
                "{ceiling}"
            );
            assert!(
                crate::github::upload::encoded_len(file + 16) + 1024 > ceiling,
                "{ceiling}"
            );
        }
        // About 30 MiB under GitHub's 40 MiB.
        let default = largest_file_for_body(DEFAULT_MAX_BLOB_SIZE);
        assert!((29 << 20..31 << 20).contains(&default), "{default}");
        assert_eq!(largest_file_for_body(0), 0);
    }

    #[test]
    fn upload_timeouts_grow_with_size() {
        assert_eq!(upload_timeout(0), Duration::from_secs(60));
        assert!(upload_timeout(140 * 1024 * 1024) > Duration::from_secs(1000));
    }
}
