//! A stateful emulator of the GitHub REST Contents API and Git Trees API, for tests.
//!
//! It holds one repository with one branch, runs an HTTP/1.1 server on `127.0.0.1:0` on its own
//! thread with its own tokio runtime (so plain `#[test]` functions can drive it with a blocking
//! client), and answers with the status codes, messages and JSON shapes that GitHub documents and
//! that the recorded responses in `tests/fixtures/github/` show. Every successful write is one
//! commit with real git object ids: blob shas equal `git hash-object`, tree shas equal
//! `git write-tree`, so a sha from one endpoint works with every other one.
//!
//! ```no_run
//! use github_emulator::{Config, Emulator, Fault, FaultPlan};
//! let emu = Emulator::start(Config::default());
//! emu.seed("index.html", b"<html></html>");
//! // Point the client under test at emu.api_url() with emu.token() ...
//! emu.set_faults(FaultPlan::next("PUT", &emu.contents_path(""), 1, Fault::DropAfterApply));
//! // ... run it, then inspect emu.files(), emu.commits(), emu.requests().
//! ```
//!
//! # Endpoints
//! All under [`Emulator::api_url`] (plus [`Config::api_prefix`], e.g. `/api/v3` to look like
//! GitHub Enterprise Server):
//! - `GET /repos/{o}/{r}` (incl. `default_branch`, `permissions.push`), `GET /rate_limit`,
//!   `GET /repos/{o}/{r}/branches/{b}`, `GET /repos/{o}/{r}/git/ref/heads/{b}` (also `refs/`).
//! - `GET|PUT|DELETE /repos/{o}/{r}/contents/{path}` (`?ref=` a branch or commit sha).
//! - `GET /repos/{o}/{r}/git/trees/{tree_ish}` (`BRANCH`, `BRANCH:folder`, a tree or commit
//!   sha; `?recursive=…`) and `GET /repos/{o}/{r}/git/blobs/{sha}`.
//! - `GET /raw/{o}/{r}/{ref}/{path}`: the `download_url` of files (stands in for
//!   raw.githubusercontent.com: no auth, no rate limit).
//!
//! # Rules and the exact answers
//! Error bodies are `{"message", "documentation_url", "status": "NNN"}` like GitHub's.
//! - No `User-Agent` → 403 `text/plain` "Request forbidden by administrative rules. Please make
//!   sure your request has a User-Agent header (…)". Checked first, costs no rate limit.
//! - Unknown token (`Authorization: Bearer|token X`) → 401 `Bad credentials`, for reads too.
//!   No token: reads work (public repo; 404 if [`Config::private`]), writes → 401
//!   `Requires authentication`. [`Config::read_only_token`] on a write → 403
//!   `Resource not accessible by integration` (+ `x-accepted-github-permissions: contents=write`).
//! - Unknown owner/repo (compared case-insensitively, like GitHub) or route → 404 `Not Found`.
//! - Rate limit headers `x-ratelimit-{limit,remaining,used,reset,resource}` on every API answer
//!   but injected 5xx; each request costs 1 except 304s. Exhausted → 403 `API rate limit
//!   exceeded for user ID 1. …` with remaining 0 and reset at the window's end (epoch seconds).
//! - Contents GET: unknown `ref` → 404 `No commit found for the ref X`; missing path → 404
//!   `Not Found`; folder → array capped at [`Config::max_dir_entries`] (1,000) in git order,
//!   silently; file ≤ [`Config::max_inline_size`] (1 MiB) → object with base64 `content` (a
//!   `\n` after every 60 characters, like Ruby's `encode64`); larger with the default media type →
//!   403 `This API returns blobs up to 1 MB in size. …` with `errors[0].code = "too_large"`;
//!   `Accept: application/vnd.github.raw(+json)` (or `.v3.raw`) → the bytes;
//!   `application/vnd.github.object(+json)` → object (`content: ""`, `encoding: "none"` when
//!   large; a folder gives `{type: "dir", entries: […]}`). GETs carry an `ETag`; a matching
//!   `If-None-Match` → 304, free of rate limit.
//! - Contents PUT `{message, content, sha?, branch?, committer?, author?}`: body not JSON → 400
//!   `Problems parsing JSON`; missing fields → 422 `Invalid request.\n\n"message" wasn't
//!   supplied.` (`"message", "content" weren't supplied.`); a non-string field (incl.
//!   `"sha": null`) → 422 `Invalid request.\n\nFor 'properties/sha', nil is not a string.`;
//!   content not base64 → 422 `Invalid request.\n\ncontent is not valid Base64.`; unknown branch
//!   → 404 `Branch X not found`; path is a folder, below a file, or malformed → 422; decoded
//!   content > [`Config::max_file_size`] (100 MiB) → 422 `PATH is N bytes; this exceeds GitHub's
//!   file size limit of 100.00 MB`; request body > [`Config::max_request_body`] → 413. File
//!   exists, no `sha` → 422 `Invalid request.\n\n"sha" wasn't supplied.`; stale `sha` → 409
//!   `PATH does not match SHA`; `sha` for a missing file → 409 `PATH does not match SHA` (no
//!   evidence found of GitHub's exact answer; [`Config::sha_for_missing_file`] switches to 422).
//!   Created → 201, updated → 200, `{content: {...}, commit: {...}}` as in `create-file.json`.
//!   A PUT always makes a commit, even when the bytes are unchanged, so a test that expects "no
//!   commits" catches needless rewrites.
//! - Contents DELETE `{message, sha, branch?}`: missing fields → 422 as above, missing file →
//!   404 `Not Found`, stale → 409, else 200 `{content: null, commit: {...}}`.
//! - Writes are applied one at a time. A write is checked against the branch head as it was when
//!   the request arrived; if another write committed in between (widen the window with
//!   [`Config::write_latency`]) it gets 409 `refs/heads/BRANCH is at NEW but expected OLD`, even
//!   for a different file.
//! - [`Config::start_empty`]: a repository without commits answers contents reads with 404
//!   `This repository is empty.` and trees/refs with 409 `Git Repository is empty.`; the first
//!   PUT creates the branch.
//! - Faults ([`FaultPlan`]): scripted "next N requests matching METHOD + path prefix" rules, and
//!   seeded random ones.

mod faults;
mod git;
mod server;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

pub use faults::{Fault, FaultPlan, FaultRule, RandomFaults};
pub use git::git_blob_sha;

use faults::FaultState;
use git::{Blob, Snapshot, Tree};

/// What the emulated repository looks like and how it behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub owner: String,
    pub repo: String,
    /// The default (and only) branch.
    pub branch: String,
    /// The token that may read and write.
    pub token: String,
    /// A token that may read but not write (403 on writes).
    pub read_only_token: Option<String>,
    /// A private repository answers 404 to requests without a token.
    pub private: bool,
    /// Path prefix of the API, e.g. `"/api/v3"` as on GitHub Enterprise Server; `""` by default.
    pub api_prefix: String,
    /// Added to every API request.
    pub latency: Duration,
    /// Added to every write between its arrival and its application: the window in which a
    /// concurrent write makes it fail with 409.
    pub write_latency: Duration,
    pub faults: FaultPlan,
    pub rate_limit: RateLimitConfig,
    /// Largest file served base64 in JSON with the default media type (GitHub: 1 MB).
    pub max_inline_size: u64,
    /// Largest file a PUT may store (GitHub: 100 MB).
    pub max_file_size: u64,
    /// Most entries a folder listing returns (GitHub: 1,000; more are silently left out).
    pub max_dir_entries: usize,
    /// Most entries a Git Trees answer returns before `truncated: true` (GitHub: 100,000).
    pub max_tree_entries: usize,
    /// Largest request body accepted (413 beyond). Must leave room for a base64 100 MB file.
    pub max_request_body: u64,
    /// The answer to a PUT with a `sha` for a file that does not exist.
    pub sha_for_missing_file: MissingFileSha,
    /// Start as a repository without any commit (as GitHub creates one without a README): reads
    /// answer 404 `This repository is empty.` (Git Trees/refs: 409 `Git Repository is empty.`)
    /// until a PUT or a seed makes the first commit. Otherwise the branch starts with one empty
    /// root commit.
    pub start_empty: bool,
}

/// The answer to a PUT that names a `sha` for a path holding no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingFileSha {
    /// 409 `PATH does not match SHA` (the default).
    Conflict,
    /// 422 `Invalid request.\n\n"sha" does not match.`
    Unprocessable,
}

/// Primary rate limit: `limit` requests per `window`, counted from the first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub limit: u32,
    pub window: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            limit: 5000,
            window: Duration::from_secs(3600),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            owner: "GridTools".into(),
            repo: "pypi".into(),
            branch: "main".into(),
            token: "ghp_testtoken0000000000000000000000000000".into(),
            read_only_token: None,
            private: false,
            api_prefix: String::new(),
            latency: Duration::ZERO,
            write_latency: Duration::ZERO,
            faults: FaultPlan::default(),
            rate_limit: RateLimitConfig::default(),
            max_inline_size: 1024 * 1024,
            max_file_size: 100 * 1024 * 1024,
            max_dir_entries: 1000,
            max_tree_entries: 100_000,
            max_request_body: 256 * 1024 * 1024,
            sha_for_missing_file: MissingFileSha::Conflict,
            start_empty: false,
        }
    }
}

/// A name and e-mail address on a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
}

impl Person {
    fn emulator() -> Person {
        Person {
            name: "emulator-user".into(),
            email: "emulator-user@users.noreply.github.com".into(),
        }
    }
}

/// How a commit came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitKind {
    /// The empty root commit the branch starts with (unless [`Config::start_empty`]).
    Initial,
    /// [`Emulator::seed`] / [`Emulator::seed_many`] / [`Emulator::remove`].
    Seed,
    /// PUT that created a file (201).
    Create,
    /// PUT that replaced a file (200).
    Update,
    /// DELETE.
    Delete,
}

/// One commit of the branch's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub parent: Option<String>,
    pub tree: String,
    pub message: String,
    pub kind: CommitKind,
    /// Paths the commit wrote or deleted.
    pub paths: Vec<String>,
    pub author: Person,
    pub committer: Person,
}

impl Commit {
    /// The first path the commit changed (API commits change exactly one).
    pub fn changed_path(&self) -> Option<&str> {
        self.paths.first().map(String::as_str)
    }

    /// Whether it was made through the API (PUT or DELETE).
    pub fn via_api(&self) -> bool {
        matches!(
            self.kind,
            CommitKind::Create | CommitKind::Update | CommitKind::Delete
        )
    }
}

/// What the emulator saw of one request and how it answered.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// Order of arrival, from 1.
    pub id: u64,
    pub method: String,
    /// Percent-decoded path, e.g. `/repos/GridTools/pypi/contents/dace/index.html`.
    pub path: String,
    pub query: Option<String>,
    /// `None` when the connection was closed without an answer (a drop fault).
    pub status: Option<u16>,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub accept: Option<String>,
    pub user_agent: Option<String>,
    /// An `Authorization` header was sent (its value is never recorded).
    pub has_auth: bool,
    pub api_version: Option<String>,
    pub if_none_match: Option<String>,
    pub fault: Option<Fault>,
    /// The repository path whose bytes the answer carried (raw, base64, blob or download):
    /// tests use it to check that no wheel was downloaded.
    pub content_served: Option<String>,
    /// Served by the `download_url` stand-in rather than the API.
    pub raw_download: bool,
    /// The commit this request made, if it wrote.
    pub commit: Option<String>,
    pub started: Instant,
    pub finished: Instant,
}

impl RequestRecord {
    /// Whether it was a PUT or DELETE.
    pub fn is_write(&self) -> bool {
        self.method == "PUT" || self.method == "DELETE"
    }
}

pub(crate) struct RateState {
    pub config: RateLimitConfig,
    pub window_start: Option<Instant>,
    pub used: u32,
}

pub(crate) struct State {
    pub head: Arc<Snapshot>,
    pub snapshots: HashMap<String, Arc<Snapshot>>,
    /// Every tree and blob ever stored, by sha (git objects are immutable).
    pub trees: HashMap<String, Arc<Tree>>,
    pub blobs: HashMap<String, Arc<Blob>>,
    pub commits: Vec<Commit>,
    pub requests: Vec<RequestRecord>,
    pub faults: FaultState,
    pub token: String,
    pub read_only_token: Option<String>,
    pub rate: RateState,
    pub latency: Duration,
    pub write_latency: Duration,
    pub next_request_id: u64,
}

impl State {
    /// Makes one commit on top of the head with `files` as its whole tree.
    pub fn commit(
        &mut self,
        files: BTreeMap<String, Arc<Blob>>,
        message: &str,
        kind: CommitKind,
        paths: Vec<String>,
        author: Person,
        committer: Person,
    ) -> Commit {
        let dirs = git::build_trees(&files);
        let tree = dirs[""].sha.clone();
        // The first commit of an empty repository has no parent.
        let parent = (!self.head.commit.is_empty()).then(|| self.head.commit.clone());
        let seconds = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut object = format!("tree {tree}\n");
        if let Some(p) = &parent {
            object.push_str(&format!("parent {p}\n"));
        }
        object.push_str(&format!(
            "author {} <{}> {seconds} +0000\ncommitter {} <{}> {seconds} +0000\n\n{message}\n",
            author.name, author.email, committer.name, committer.email
        ));
        // The parent chain makes every commit unique even when tree and message repeat.
        let sha = git::sha1_hex(format!("commit {}\0{object}", object.len()).as_bytes());
        for blob in files.values() {
            self.blobs
                .entry(blob.sha.clone())
                .or_insert_with(|| blob.clone());
        }
        for t in dirs.values() {
            self.trees.entry(t.sha.clone()).or_insert_with(|| t.clone());
        }
        let snapshot = Arc::new(Snapshot {
            commit: sha.clone(),
            files,
            dirs,
        });
        self.snapshots.insert(sha.clone(), snapshot.clone());
        self.head = snapshot;
        let commit = Commit {
            sha,
            parent,
            tree,
            message: message.to_string(),
            kind,
            paths,
            author,
            committer,
        };
        self.commits.push(commit.clone());
        commit
    }
}

/// Settings fixed at start.
pub(crate) struct Shared {
    pub config: Config,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub state: Mutex<State>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not make every later call panic too.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `http://127.0.0.1:PORT` + the API prefix.
    pub fn api_base(&self) -> String {
        format!("{}{}", self.base, self.config.api_prefix)
    }
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator with the default configuration.
    pub fn new() -> Emulator {
        Emulator::start(Config::default())
    }

    /// Starts the server on `127.0.0.1:0`, on its own thread and tokio runtime, with a branch
    /// holding one empty root commit.
    pub fn start(config: Config) -> Emulator {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("set the listener non-blocking");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let empty = Arc::new(Snapshot {
            commit: String::new(),
            files: BTreeMap::new(),
            dirs: HashMap::new(),
        });
        let mut state = State {
            head: empty,
            snapshots: HashMap::new(),
            trees: HashMap::new(),
            blobs: HashMap::new(),
            commits: Vec::new(),
            requests: Vec::new(),
            faults: FaultState::new(config.faults.clone()),
            token: config.token.clone(),
            read_only_token: config.read_only_token.clone(),
            rate: RateState {
                config: config.rate_limit,
                window_start: None,
                used: 0,
            },
            latency: config.latency,
            write_latency: config.write_latency,
            next_request_id: 1,
        };
        if !config.start_empty {
            state.commit(
                BTreeMap::new(),
                "Initial commit",
                CommitKind::Initial,
                Vec::new(),
                Person::emulator(),
                Person::emulator(),
            );
        }
        let shared = Arc::new(Shared {
            config,
            base,
            state: Mutex::new(state),
        });
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let server_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("github-emulator".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_io()
                    .enable_time()
                    .build()
                    .expect("tokio runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    tokio::spawn(server::accept_loop(listener, server_shared));
                    let _ = stopped.await;
                });
                // Cancels the accept loop and every open connection.
                runtime.shutdown_background();
            })
            .expect("spawn the emulator thread");
        Emulator {
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The API base URL, `http://127.0.0.1:PORT` (+ [`Config::api_prefix`]); endpoints are
    /// `/repos/{owner}/{repo}/...` below it.
    pub fn api_url(&self) -> String {
        self.shared.api_base()
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn owner(&self) -> &str {
        &self.shared.config.owner
    }

    pub fn repo(&self) -> &str {
        &self.shared.config.repo
    }

    pub fn branch(&self) -> &str {
        &self.shared.config.branch
    }

    /// The current read-write token.
    pub fn token(&self) -> String {
        self.shared.lock().token.clone()
    }

    /// The request path of a file or folder's Contents endpoint,
    /// `/repos/{o}/{r}/contents/{path}` (with the API prefix), as matched by [`FaultRule`]s and
    /// recorded in [`RequestRecord::path`].
    pub fn contents_path(&self, path: &str) -> String {
        format!(
            "{}/repos/{}/{}/contents/{}",
            self.shared.config.api_prefix, self.shared.config.owner, self.shared.config.repo, path
        )
    }

    /// The full URL of a file or folder's Contents endpoint (path not percent-encoded).
    pub fn contents_url(&self, path: &str) -> String {
        format!("{}{}", self.shared.base, self.contents_path(path))
    }

    /// Stores `bytes` at `path` in one commit, bypassing the API (no request is recorded).
    /// Returns the commit sha.
    pub fn seed(&self, path: &str, bytes: &[u8]) -> String {
        self.seed_many([(path, bytes)])
    }

    /// Stores many files in one commit (much faster than one commit per file).
    pub fn seed_many<'a>(&self, files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
        let mut state = self.shared.lock();
        let mut tree = state.head.files.clone();
        let mut paths = Vec::new();
        for (path, bytes) in files {
            let path = path.trim_matches('/').to_string();
            // Keep the tree valid: a file replaces a folder of the same name and vice versa.
            let dir_prefix = format!("{path}/");
            tree.retain(|p, _| !p.starts_with(&dir_prefix) && !path.starts_with(&format!("{p}/")));
            tree.insert(
                path.clone(),
                Arc::new(Blob::new(Bytes::copy_from_slice(bytes))),
            );
            paths.push(path);
        }
        let message = format!("Seed {}", paths.join(", "));
        state
            .commit(
                tree,
                &message,
                CommitKind::Seed,
                paths,
                Person::emulator(),
                Person::emulator(),
            )
            .sha
    }

    /// Deletes a file in one commit, bypassing the API. Returns whether it existed.
    pub fn remove(&self, path: &str) -> bool {
        let mut state = self.shared.lock();
        let mut tree = state.head.files.clone();
        if tree.remove(path).is_none() {
            return false;
        }
        state.commit(
            tree,
            &format!("Remove {path}"),
            CommitKind::Seed,
            vec![path.to_string()],
            Person::emulator(),
            Person::emulator(),
        );
        true
    }

    /// The bytes of the file at `path` on the branch.
    pub fn file(&self, path: &str) -> Option<Vec<u8>> {
        self.shared
            .lock()
            .head
            .files
            .get(path)
            .map(|b| b.bytes.to_vec())
    }

    /// The git blob sha of the file at `path` on the branch.
    pub fn file_sha(&self, path: &str) -> Option<String> {
        self.shared
            .lock()
            .head
            .files
            .get(path)
            .map(|b| b.sha.clone())
    }

    /// The branch's tree: every file path with its bytes.
    pub fn files(&self) -> BTreeMap<String, Vec<u8>> {
        self.shared
            .lock()
            .head
            .files
            .iter()
            .map(|(p, b)| (p.clone(), b.bytes.to_vec()))
            .collect()
    }

    /// The branch's head commit sha (`""` while a [`Config::start_empty`] repository is empty).
    pub fn head(&self) -> String {
        self.shared.lock().head.commit.clone()
    }

    /// The sha of the tree at `folder` (`""` for the root) on the branch.
    pub fn tree_sha(&self, folder: &str) -> Option<String> {
        self.shared
            .lock()
            .head
            .dirs
            .get(folder.trim_matches('/'))
            .map(|t| t.sha.clone())
    }

    /// Writes the branch's tree into `dir` (creating folders; other files there are left alone),
    /// e.g. to serve it over HTTP and `pip install` from it.
    pub fn export_to(&self, dir: &Path) -> io::Result<()> {
        let files = self.shared.lock().head.files.clone();
        for (path, blob) in files {
            let target = dir.join(&path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(target, &blob.bytes)?;
        }
        Ok(())
    }

    /// The branch's history, oldest first, starting with the empty root commit (unless
    /// [`Config::start_empty`]).
    pub fn commits(&self) -> Vec<Commit> {
        self.shared.lock().commits.clone()
    }

    /// The commits made through the API (PUT/DELETE), oldest first.
    pub fn api_commits(&self) -> Vec<Commit> {
        self.shared
            .lock()
            .commits
            .iter()
            .filter(|c| c.via_api())
            .cloned()
            .collect()
    }

    /// Every request seen since the start or the last [`Emulator::reset_requests`], in the
    /// order they were answered ([`RequestRecord::id`] gives the order of arrival).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }

    pub fn reset_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Replaces the fault plan (and reseeds the random generator).
    pub fn set_faults(&self, plan: FaultPlan) {
        self.shared.lock().faults = FaultState::new(plan);
    }

    /// Adds a scripted fault rule to the current plan.
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.lock().faults.add_rule(rule);
    }

    /// The current plan, with the remaining counts of scripted rules.
    pub fn faults(&self) -> FaultPlan {
        self.shared.lock().faults.plan()
    }

    /// Replaces the read-write token (the old one becomes a bad credential).
    pub fn set_token(&self, token: &str) {
        self.shared.lock().token = token.to_string();
    }

    pub fn set_read_only_token(&self, token: Option<&str>) {
        self.shared.lock().read_only_token = token.map(str::to_string);
    }

    /// Replaces the rate limit and starts a new window.
    pub fn set_rate_limit(&self, limit: RateLimitConfig) {
        let mut state = self.shared.lock();
        state.rate = RateState {
            config: limit,
            window_start: None,
            used: 0,
        };
    }

    pub fn set_latency(&self, latency: Duration, write_latency: Duration) {
        let mut state = self.shared.lock();
        state.latency = latency;
        state.write_latency = write_latency;
    }
}

impl Default for Emulator {
    fn default() -> Self {
        Emulator::new()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
