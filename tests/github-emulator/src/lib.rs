//! A stateful emulator of the GitHub REST Contents API, Git Data API and release assets, for
//! tests.
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
//! - Git Data: `POST /repos/{o}/{r}/git/blobs`, `POST …/git/trees`, `POST …/git/commits`,
//!   `GET …/git/commits/{sha}`, `PATCH …/git/refs/heads/{b}`.
//! - `GET /repos/{o}/{r}/pages`, `GET /repos/{o}/{r}/rules/branches/{b}`.
//! - Releases: `GET …/releases` (newest first), `GET …/releases/tags/{tag}`,
//!   `POST …/releases`, `GET|DELETE …/releases/{id}`, `GET …/releases/{id}/assets`,
//!   `GET|DELETE …/releases/assets/{id}`; uploads `POST {uploads}/repos/{o}/{r}/releases/{id}/assets`
//!   below [`Emulator::uploads_url`]; public downloads `GET /download/{o}/{r}/releases/download/{tag}/{name}`
//!   (the `browser_download_url`, no auth) → 302 to `GET /cdn/{asset id}/{name}` (the bytes).
//! - `/repositories/1/…` is the same repository (GitHub's id-based URLs: redirects and `Link`
//!   headers use them).
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
//!   `PATH does not match SHA`; `sha` for a missing file → the `sha` is ignored and the file
//!   created, 201 (measured on GitHub by a third party, DESIGN.md §3);
//!   [`Config::sha_for_missing_file`] switches to 409 `PATH does not match SHA` or 422
//!   `Invalid request.\n\n"sha" does not match.`.
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
//! - Body ceiling: a Contents PUT or `POST /git/blobs` whose request body exceeds
//!   [`Config::max_body_before_timeout`] (40 MiB, GitHub's practical ceiling far below the
//!   documented 100 MB) is read completely, then after [`Config::over_ceiling_delay`] (0) answered
//!   [`Config::over_ceiling_status`] (502) `{"message": "Server Error"}`; nothing is written. The
//!   sources report 500 (github-tools/github#496) and 502/504 after 10–12 s (DESIGN.md §3). The
//!   413 of [`Config::max_request_body`] applies before it.
//! - Read-only token ([`Config::read_only_token`]) on any write (Contents, Git Data, releases,
//!   uploads): 403 `Resource not accessible by integration` with
//!   `x-accepted-github-permissions: contents=write` (default), or with
//!   [`ReadOnlyWriteAnswer::NotFound`] 404 `Not Found` (a classic token without the `repo`
//!   scope). `GET /repos/{o}/{r}` with it shows `permissions.push: false`.
//! - SSO ([`Emulator::set_sso_required`]): every API request with a valid token answers 403
//!   `Resource protected by organization SAML enforcement. You must grant your Personal Access
//!   token access to this organization.` with `X-GitHub-SSO: required; url=URL` (no rate cost;
//!   anonymous reads still work, a bad token still gets 401).
//! - Moved repository ([`Config::moved_to`]): requests naming the old owner/repo answer 301
//!   (GET, HEAD) `{"message": "Moved Permanently", "url", "documentation_url"}` or 307 (other
//!   methods; `"message": "Temporary Redirect"`), `Location` = the same request under
//!   `/repositories/1/…` (with the query), as GitHub redirects to id-based URLs; the body of a
//!   307 is read first. The new name works, and answers carry the new name in their URLs.
//! - Stale reads ([`Config::stale_reads`], [`Emulator::set_stale_reads`], default off): every
//!   read that names the branch or no ref — Contents GET, `GET /git/trees/BRANCH[:folder]`,
//!   `GET /branches/{b}`, `GET /git/ref(s)/heads/{b}`, raw downloads by branch — answers from a
//!   head that was current at some moment in the last N: uniformly among them
//!   ([`StalePick::Random`]) or always the one current at `now - N` ([`StalePick::Oldest`]).
//!   Reads by commit, tree or blob sha are exact. Writes are never stale: a Contents PUT is
//!   checked against the real head, and a ref update against the real head. Once a
//!   [`Config::start_empty`] repository has its first commit, no read sees it empty again.
//! - Branch protection ([`Config::protection`], [`Emulator::set_protection`]): Contents PUT →
//!   409 `Could not create file: REASON`, DELETE → 409 `Could not delete file: REASON`, checked
//!   after the `sha` rules; `PATCH /git/refs/heads/B` → 422 `Protected branch update failed for
//!   refs/heads/B.\n\nREASON` (where GitHub puts the reason is not documented). REASON is
//!   `Changes must be made through a pull request.` for [`Protection::require_pull_request`],
//!   else `Required status check "CTX" is expected.` (one check) or `N of N required status
//!   checks are expected.`. With [`Protection::bypass`] the token's writes go through.
//!   `GET /branches/{b}` shows `"protected": true` whenever a protection is set; `GET
//!   /rules/branches/{b}` lists `[{type: "pull_request" | "required_status_checks",
//!   ruleset_source_type: "Repository", ruleset_source: "o/r", ruleset_id: 1, parameters}]`
//!   (`[]` without protection, or for another branch).
//! - Git Data (needs a first commit: in an empty repository every Git Data write answers 409
//!   `Git Repository is empty.`, as GitHub does). Bodies not JSON → 400 `Problems parsing
//!   JSON`; missing or mistyped fields → 422 `Invalid request.\n\n…` as for Contents.
//!   - `POST /git/blobs {content, encoding: "utf-8" (default) | "base64"}` → 201 `{sha, url}`
//!     with git's blob sha; bad base64 → 422 `Invalid request.\n\ncontent is not valid
//!     Base64.`; more than [`Config::max_file_size`] → 422. Stored, not committed.
//!   - `POST /git/trees {base_tree?, tree: [{path, mode, type, sha | content}]}` → 201 `{sha,
//!     url, tree: [top-level entries], truncated: false}` with git's tree sha. Paths may be
//!     nested (`dace/index.html`); `sha: null` deletes the path (a file or a whole folder);
//!     `content` stores a utf-8 blob; a later entry wins. Unknown `base_tree` → 422 `base_tree
//!     is not a valid tree oid`; unknown blob → 422 `tree.sha SHA is not a valid blob` (type
//!     `tree`: `… is not a valid tree`); only modes `100644` (blob) and `040000` (tree) are
//!     emulated (others → 422).
//!   - `POST /git/commits {message, tree, parents?, author?, committer?}` (`{name, email,
//!     date?}`, ISO 8601 dates with `Z` or `±HH:MM`) → 201 `{sha, node_id, url, html_url,
//!     author, committer, tree: {sha, url}, message, parents: [{sha, url, html_url}],
//!     verification}` with git's commit sha (the message hashed as `git commit-tree -m` stores
//!     it: a final newline added when missing). Author defaults to the token's user and the
//!     time of the request, committer to the author. Unknown tree → 422 `Tree SHA does not
//!     exist`; unknown parent → 422 `Parent SHA does not exist or is not a commit object`. The
//!     branch does not move; the commit is readable by sha (`GET /git/commits/{sha}`,
//!     `?ref=SHA`).
//!   - `PATCH /git/refs/heads/B {sha, force?}` → 200 with the ref JSON when `sha` is the head or
//!     a descendant of it, or `force: true`; else 422 `Update is not a fast forward`. Unknown
//!     (or non-commit) `sha` → 422 `Object does not exist`; another branch → 422 `Reference does
//!     not exist`. Moving the branch records one [`Commit`] of kind [`CommitKind::GitData`] (for
//!     the commit moved to; `paths` = every path that differs between the old and new tree) and
//!     [`RequestRecord::commit`]; setting it to the head it already has records nothing.
//!     [`Config::write_latency`] applies.
//! - GitHub Pages ([`Config::pages`], [`Emulator::set_pages`]): `GET /repos/{o}/{r}/pages` → 404
//!   `Not Found` when `None`, else `{url, status, cname: null, custom_404: false, html_url,
//!   build_type: "legacy" | "workflow", source: {branch, path}, public: true,
//!   protected_domain_state: null, pending_domain_unverified_at: null, https_enforced: true}`.
//! - Releases (shapes as in `release-assets-conflict.json`, plus `digest`):
//!   - `GET /releases/tags/{tag}` and `GET /releases/{id}` → the release or 404 `Not Found`.
//!   - `POST /releases {tag_name, name?, body?, target_commitish?, draft?, prerelease?}` → 201
//!     (`target_commitish` defaults to the branch); a tag that has a release → 422 `Validation
//!     Failed` with `errors: [{resource: "Release", code: "already_exists", field:
//!     "tag_name"}]`. `upload_url` is `{uploads}/repos/{o}/{r}/releases/{id}/assets{?name,label}`.
//!   - `GET /releases/{id}/assets?per_page=N&page=P`: oldest first, `per_page` 30 by default, at
//!     most 100, with `Link: <…/repositories/1/releases/{id}/assets?per_page=N&page=P>;
//!     rel="next", <…>; rel="last"` (and `prev`, `first` past page 1), like GitHub's.
//!   - Upload, raw body (not base64) read into memory, up to [`Config::max_asset_size`] (413
//!     beyond): unknown release → 404; no `Content-Length` (a chunked body) → 400 `{"message":
//!     "Bad Content-Length: ", "request_id"}` (PyGithub#525, deno#24197; off with
//!     [`Config::upload_requires_content_length`]); no `Content-Type` → 400 `Invalid
//!     Content-Type: ''` (fastlane#9922); no `name` → 422 `Invalid name for request` (the
//!     status is a guess). The name is rewritten by [`Config::asset_name_rule`] (GitHub's real
//!     rule is not documented; by default [`github_asset_name`]); a name already taken (after
//!     the rewrite) → 422 exactly as recorded (`{message: "Validation Failed", request_id,
//!     documentation_url, errors: [{resource: "ReleaseAsset", code: "already_exists", field:
//!     "name"}]}`). Else 201 `{url, id, node_id, name, label, uploader: {login}, content_type,
//!     state: "uploaded", size, digest: "sha256:HEX", download_count, created_at, updated_at,
//!     browser_download_url}`.
//!   - `GET /releases/assets/{id}` → the asset (with `Accept: application/octet-stream`: 302 to
//!     the CDN stand-in); `DELETE /releases/assets/{id}` → 204 (404 if unknown).
//!   - `browser_download_url` = `http://127.0.0.1:PORT/download/{o}/{r}/releases/download/{tag}/{name}`
//!     → 302 `Location: /cdn/{id}/{name}?…` → 200 `application/octet-stream` with
//!     `Content-Disposition: attachment; filename=NAME`. No auth, no rate limit, no faults (like
//!     `/raw/`); 404 for a private repository. [`RequestRecord::content_served`] is
//!     `release TAG/NAME`.
//!   - Uploads, release writes and asset deletes count against the rate limit like any API
//!     request and get faults like any other (match them with [`Emulator::uploads_url`] paths or
//!     [`Emulator::api_path`]).
//! - Faults ([`FaultPlan`]): scripted "next N requests matching METHOD + path prefix" rules, and
//!   seeded random ones. They apply to every API and upload request, reads and writes alike:
//!   [`Fault::DropAfterApply`] on any write (Contents, blobs, trees, commits, ref updates,
//!   releases, uploads, asset deletes) applies it and loses the answer.

mod faults;
mod git;
mod server;
mod sha256;

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
use git::{Blob, CommitObject, Signature, Snapshot, Tree};

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
    /// The answer to a PUT with a `sha` for a file that does not exist (GitHub: the file is
    /// created).
    pub sha_for_missing_file: MissingFileSha,
    /// Start as a repository without any commit (as GitHub creates one without a README): reads
    /// answer 404 `This repository is empty.` (Git Trees/refs: 409 `Git Repository is empty.`)
    /// until a PUT or a seed makes the first commit. Otherwise the branch starts with one empty
    /// root commit.
    pub start_empty: bool,
    /// How far back a read by branch name may look (eventual consistency): every such read
    /// answers from the branch as it was at some moment within this window. Zero (the default)
    /// makes every read current. Also [`Emulator::set_stale_reads`].
    pub stale_reads: Duration,
    /// Which past head a stale read answers from.
    pub stale_pick: StalePick,
    /// Branch protection or a ruleset on the branch (none by default). Also
    /// [`Emulator::set_protection`].
    pub protection: Option<Protection>,
    /// Request bodies of a Contents PUT or `POST /git/blobs` beyond this many bytes are read
    /// and then answered [`Config::over_ceiling_status`] with nothing written (GitHub's
    /// practical ceiling: about 40 MiB, see DESIGN.md §3). Default 40 MiB.
    pub max_body_before_timeout: u64,
    /// How long the emulator waits before that answer (GitHub: 10 s and more). Default zero.
    pub over_ceiling_delay: Duration,
    /// The status of that answer: 502 by default (500 and 504 are reported too).
    pub over_ceiling_status: u16,
    /// What a write with [`Config::read_only_token`] gets. Also
    /// [`Emulator::set_read_only_write_answer`].
    pub read_only_write_answer: ReadOnlyWriteAnswer,
    /// `Some(url)`: the organization enforces SAML SSO and the tokens are not authorized for
    /// it: every request with a token answers 403 with `X-GitHub-SSO: required; url=URL`. Also
    /// [`Emulator::set_sso_required`].
    pub sso_required: Option<String>,
    /// `Some((owner, repo))`: the repository was renamed or transferred there. Requests to
    /// [`Config::owner`]/[`Config::repo`] answer 301 (GET, HEAD) or 307 (other methods); the
    /// new name works.
    pub moved_to: Option<(String, String)>,
    /// The GitHub Pages site (`GET /repos/{o}/{r}/pages`); `None` (the default) answers 404.
    /// Also [`Emulator::set_pages`].
    pub pages: Option<Pages>,
    /// How GitHub rewrites a release asset's name on upload. GitHub does not document its
    /// rule; the default, [`github_asset_name`], replaces every character outside
    /// `A-Za-z0-9._+-` with `.`.
    pub asset_name_rule: fn(&str) -> String,
    /// Largest release asset an upload may store (GitHub: 2 GiB; 413 beyond).
    pub max_asset_size: u64,
    /// An upload without `Content-Length` (a chunked body) answers 400 `Bad Content-Length: `,
    /// as uploads.github.com does (default true).
    pub upload_requires_content_length: bool,
}

/// Which past head a read by branch name answers from when [`Config::stale_reads`] is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StalePick {
    /// Any head current within the window, uniformly at random (the default).
    #[default]
    Random,
    /// Always the oldest one: the head as it was at `now - window` (deterministic).
    Oldest,
}

/// Rules on the branch, as a repository ruleset (`GET /rules/branches/{b}` lists them) that also
/// marks the branch `protected`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Protection {
    /// Changes must be made through a pull request.
    pub require_pull_request: bool,
    /// Status check contexts that must pass (none: no such rule).
    pub required_status_checks: Vec<String>,
    /// The token is a bypass actor: its writes go through despite the rules.
    pub bypass: bool,
}

impl Protection {
    /// "Require a pull request before merging".
    pub fn pull_request() -> Protection {
        Protection {
            require_pull_request: true,
            ..Protection::default()
        }
    }

    /// "Require status checks to pass" with these contexts.
    pub fn status_checks(contexts: &[&str]) -> Protection {
        Protection {
            required_status_checks: contexts.iter().map(|c| c.to_string()).collect(),
            ..Protection::default()
        }
    }

    /// The same rules, with the token allowed to bypass them.
    pub fn with_bypass(mut self) -> Protection {
        self.bypass = true;
        self
    }

    /// Why a direct write is refused, in GitHub's words (`None` when no rule applies).
    pub(crate) fn reason(&self) -> Option<String> {
        if self.bypass {
            return None;
        }
        if self.require_pull_request {
            return Some("Changes must be made through a pull request.".into());
        }
        match self.required_status_checks.as_slice() {
            [] => None,
            [one] => Some(format!("Required status check \"{one}\" is expected.")),
            many => Some(format!(
                "{n} of {n} required status checks are expected.",
                n = many.len()
            )),
        }
    }
}

/// What a read-only token's write gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadOnlyWriteAnswer {
    /// 403 `Resource not accessible by integration` with `x-accepted-github-permissions`
    /// (a fine-grained token or GitHub App without Contents: write; the default).
    #[default]
    Forbidden,
    /// 404 `Not Found` (a classic token without the `repo` scope).
    NotFound,
}

/// How a GitHub Pages site is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagesBuildType {
    /// Built from a branch ("Deploy from a branch").
    Legacy,
    /// Built by a GitHub Actions workflow.
    Workflow,
}

/// A GitHub Pages site, as `GET /repos/{o}/{r}/pages` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pages {
    pub build_type: PagesBuildType,
    pub source_branch: String,
    /// `"/"` or `"/docs"`.
    pub source_path: String,
    /// `"built"`, `"building"`, `"errored"`; `None` answers `null`.
    pub status: Option<String>,
    pub html_url: String,
}

impl Pages {
    /// A site built from `branch` at `/`, status `built`.
    pub fn legacy(branch: &str, html_url: &str) -> Pages {
        Pages {
            build_type: PagesBuildType::Legacy,
            source_branch: branch.into(),
            source_path: "/".into(),
            status: Some("built".into()),
            html_url: html_url.into(),
        }
    }
}

/// GitHub's (undocumented) rewrite of release asset names, as the emulator assumes it: every
/// character outside `A-Za-z0-9._+-` becomes `.` (so `dace-43!2026.2.3-py3-none-any.whl` becomes
/// `dace-43.2026.2.3-py3-none-any.whl`).
pub fn github_asset_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect()
}

/// A release and its assets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub target_commitish: String,
    pub draft: bool,
    pub prerelease: bool,
    pub assets: Vec<Asset>,
}

/// One release asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub id: u64,
    /// The name as stored (after [`Config::asset_name_rule`]).
    pub name: String,
    pub label: Option<String>,
    pub content_type: String,
    pub size: u64,
    /// `"sha256:HEX"`.
    pub digest: String,
    pub bytes: Bytes,
}

/// The answer to a PUT that names a `sha` for a path holding no file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingFileSha {
    /// The `sha` is ignored and the file is created (201): GitHub's behaviour as measured by a
    /// third party (DESIGN.md §3). The default.
    Create,
    /// 409 `PATH does not match SHA`.
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
            sha_for_missing_file: MissingFileSha::Create,
            start_empty: false,
            stale_reads: Duration::ZERO,
            stale_pick: StalePick::Random,
            protection: None,
            max_body_before_timeout: 40 * 1024 * 1024,
            over_ceiling_delay: Duration::ZERO,
            over_ceiling_status: 502,
            read_only_write_answer: ReadOnlyWriteAnswer::Forbidden,
            sso_required: None,
            moved_to: None,
            pages: None,
            asset_name_rule: github_asset_name,
            max_asset_size: 2 * 1024 * 1024 * 1024,
            upload_requires_content_length: true,
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
    /// A Git Data ref update (`PATCH /git/refs/heads/BRANCH`) that moved the branch to this
    /// commit.
    GitData,
}

/// One commit of the branch's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub parent: Option<String>,
    pub tree: String,
    pub message: String,
    pub kind: CommitKind,
    /// Paths the commit wrote or deleted (for [`CommitKind::GitData`]: every path that differs
    /// between the old head's tree and this commit's).
    pub paths: Vec<String>,
    pub author: Person,
    pub committer: Person,
}

impl Commit {
    /// The first path the commit changed (API commits change exactly one).
    pub fn changed_path(&self) -> Option<&str> {
        self.paths.first().map(String::as_str)
    }

    /// Whether it was made through the API (Contents PUT or DELETE, or a Git Data ref update).
    pub fn via_api(&self) -> bool {
        matches!(
            self.kind,
            CommitKind::Create | CommitKind::Update | CommitKind::Delete | CommitKind::GitData
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
    /// The commit this request made or moved the branch to, if it wrote to the branch.
    pub commit: Option<String>,
    /// What the request created without moving the branch: the sha of a blob, tree or commit
    /// (`POST /git/...`), or `release:ID` / `asset:ID`.
    pub created: Option<String>,
    pub started: Instant,
    pub finished: Instant,
}

impl RequestRecord {
    /// Whether it used a mutating method: PUT, DELETE, POST or PATCH.
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "PUT" | "DELETE" | "POST" | "PATCH")
    }
}

pub(crate) struct RateState {
    pub config: RateLimitConfig,
    pub window_start: Option<Instant>,
    pub used: u32,
}

pub(crate) struct State {
    pub head: Arc<Snapshot>,
    /// Every head the branch had, with the moment it became the head (for stale reads).
    pub history: Vec<(Instant, Arc<Snapshot>)>,
    /// Every commit object, by sha.
    pub objects: HashMap<String, Arc<CommitObject>>,
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
    pub stale_reads: Duration,
    pub stale_pick: StalePick,
    pub stale_rng: fastrand::Rng,
    pub protection: Option<Protection>,
    pub read_only_write_answer: ReadOnlyWriteAnswer,
    pub sso_required: Option<String>,
    pub pages: Option<Pages>,
    pub releases: Vec<Release>,
    pub next_release_id: u64,
    pub next_asset_id: u64,
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
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let signature = |p: &Person| Signature {
            name: p.name.clone(),
            email: p.email.clone(),
            secs,
            tz_minutes: 0,
        };
        // The parent chain makes every commit unique even when tree and message repeat.
        let object = CommitObject::new(
            &tree,
            parent.iter().cloned().collect(),
            message,
            signature(&author),
            signature(&committer),
        );
        let sha = object.sha.clone();
        self.objects.insert(sha.clone(), Arc::new(object));
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
        self.set_head(snapshot);
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

    /// Moves the branch.
    pub fn set_head(&mut self, snapshot: Arc<Snapshot>) {
        self.history.push((Instant::now(), snapshot.clone()));
        self.head = snapshot;
    }

    /// The branch as a read by its name sees it: the head, or with [`Config::stale_reads`] a
    /// head that was current at some moment within the window.
    pub fn read_head(&mut self) -> Arc<Snapshot> {
        if self.stale_reads.is_zero() || self.history.is_empty() {
            return self.head.clone();
        }
        let now = Instant::now();
        let cutoff = now.checked_sub(self.stale_reads);
        // The head current at `now - window`: the last one that became head at or before it.
        let first = match cutoff {
            Some(cutoff) => self
                .history
                .partition_point(|(t, _)| *t <= cutoff)
                .saturating_sub(1),
            None => 0,
        };
        let pick = match self.stale_pick {
            StalePick::Oldest => first,
            StalePick::Random => self.stale_rng.usize(first..self.history.len()),
        };
        // Once the repository has a commit, no read sees it empty again (so that one request's
        // "is it empty?" and "what is the head?" agree).
        self.history[pick..]
            .iter()
            .map(|(_, s)| s)
            .find(|s| !s.commit.is_empty() || self.head.commit.is_empty())
            .unwrap_or(&self.head)
            .clone()
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

    /// The path prefix of release uploads: `/uploads`, or `/api/uploads` for an API prefix
    /// such as `/api/v3`.
    pub fn uploads_prefix(&self) -> String {
        let prefix = self.config.api_prefix.trim_end_matches('/');
        match prefix.rfind('/') {
            Some(i) if !prefix.is_empty() => format!("{}/uploads", &prefix[..i]),
            _ => "/uploads".to_string(),
        }
    }

    /// The repository's current owner and name (the new ones after a [`Config::moved_to`]).
    pub fn full_name(&self) -> (&str, &str) {
        match &self.config.moved_to {
            Some((o, r)) => (o, r),
            None => (&self.config.owner, &self.config.repo),
        }
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
            head: empty.clone(),
            history: Vec::new(),
            objects: HashMap::new(),
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
            stale_reads: config.stale_reads,
            stale_pick: config.stale_pick,
            stale_rng: fastrand::Rng::with_seed(0x57a1e),
            protection: config.protection.clone(),
            read_only_write_answer: config.read_only_write_answer,
            sso_required: config.sso_required.clone(),
            pages: config.pages.clone(),
            releases: Vec::new(),
            next_release_id: 1,
            next_asset_id: 1,
        };
        if config.start_empty {
            state.set_head(empty);
        } else {
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
    /// [`Config::start_empty`]): one entry per commit the branch moved to. A ref update adds one
    /// entry for the commit it moved to (not for the commits between), so a forced update back
    /// to an older commit lists that sha a second time.
    pub fn commits(&self) -> Vec<Commit> {
        self.shared.lock().commits.clone()
    }

    /// The commits made through the API (Contents PUT/DELETE and Git Data ref updates), oldest
    /// first.
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

    /// Sets [`Config::stale_reads`]: reads by branch name may answer from any head current
    /// within the last `window` (heads from before this call count too).
    pub fn set_stale_reads(&self, window: Duration) {
        self.shared.lock().stale_reads = window;
    }

    /// Sets [`Config::stale_pick`].
    pub fn set_stale_pick(&self, pick: StalePick) {
        self.shared.lock().stale_pick = pick;
    }

    /// Sets [`Config::protection`].
    pub fn set_protection(&self, protection: Option<Protection>) {
        self.shared.lock().protection = protection;
    }

    /// Sets [`Config::read_only_write_answer`].
    pub fn set_read_only_write_answer(&self, answer: ReadOnlyWriteAnswer) {
        self.shared.lock().read_only_write_answer = answer;
    }

    /// Sets [`Config::sso_required`]: `Some(url)` makes every request with a token answer 403
    /// with `X-GitHub-SSO: required; url=URL`.
    pub fn set_sso_required(&self, url: Option<&str>) {
        self.shared.lock().sso_required = url.map(str::to_string);
    }

    /// Sets [`Config::pages`].
    pub fn set_pages(&self, pages: Option<Pages>) {
        self.shared.lock().pages = pages;
    }

    /// The request path of a repository endpoint, `{prefix}/repos/{o}/{r}/{rest}` (`rest`
    /// without a leading `/`), as matched by [`FaultRule`]s.
    pub fn api_path(&self, rest: &str) -> String {
        let cfg = &self.shared.config;
        let path = format!("{}/repos/{}/{}", cfg.api_prefix, cfg.owner, cfg.repo);
        if rest.is_empty() {
            path
        } else {
            format!("{path}/{rest}")
        }
    }

    /// The base of release upload URLs: `http://127.0.0.1:PORT/uploads` (stands in for
    /// `https://uploads.github.com`), or `…/api/uploads` with an [`Config::api_prefix`] (as on
    /// GitHub Enterprise Server). Upload paths are `/repos/{o}/{r}/releases/{id}/assets` below it.
    pub fn uploads_url(&self) -> String {
        format!("{}{}", self.shared.base, self.shared.uploads_prefix())
    }

    /// Every release, in order of creation, with its assets.
    pub fn releases(&self) -> Vec<Release> {
        self.shared.lock().releases.clone()
    }

    /// The release of `tag`.
    pub fn release(&self, tag: &str) -> Option<Release> {
        self.shared
            .lock()
            .releases
            .iter()
            .find(|r| r.tag_name == tag)
            .cloned()
    }

    /// The assets of the release of `tag` (none if there is no such release), in upload order.
    pub fn assets(&self, tag: &str) -> Vec<Asset> {
        self.release(tag).map(|r| r.assets).unwrap_or_default()
    }

    /// Creates a release for `tag` without a request (or returns the existing one's id).
    pub fn seed_release(&self, tag: &str) -> u64 {
        let mut state = self.shared.lock();
        if let Some(r) = state.releases.iter().find(|r| r.tag_name == tag) {
            return r.id;
        }
        let id = state.next_release_id;
        state.next_release_id += 1;
        let target = self.shared.config.branch.clone();
        state.releases.push(Release {
            id,
            tag_name: tag.to_string(),
            name: Some(tag.to_string()),
            body: None,
            target_commitish: target,
            draft: false,
            prerelease: false,
            assets: Vec::new(),
        });
        id
    }

    /// Adds an asset to the release of `tag` (created if needed) without a request, under
    /// `name` exactly (no rewrite); an asset of that name is replaced. Returns the asset id.
    pub fn seed_asset(&self, tag: &str, name: &str, content_type: &str, bytes: &[u8]) -> u64 {
        let release_id = self.seed_release(tag);
        let mut state = self.shared.lock();
        let id = state.next_asset_id;
        state.next_asset_id += 1;
        let asset = Asset {
            id,
            name: name.to_string(),
            label: None,
            content_type: content_type.to_string(),
            size: bytes.len() as u64,
            digest: format!("sha256:{}", sha256::sha256_hex(bytes)),
            bytes: Bytes::copy_from_slice(bytes),
        };
        if let Some(r) = state.releases.iter_mut().find(|r| r.id == release_id) {
            r.assets.retain(|a| a.name != name);
            r.assets.push(asset);
        }
        id
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
