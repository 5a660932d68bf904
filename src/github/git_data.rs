//! `--atomic`: a whole change set as one commit through the Git Data API — blobs, one tree on
//! top of the snapshot's tree, one commit whose parent is the snapshot, then a fast-forward-only
//! update of the branch. GitHub Pages builds once per commit, and no reader ever sees half a
//! publish. "Not a fast forward" means another run committed since the snapshot: a conflict,
//! which the engine answers with a new snapshot and a new plan.

use std::io::{Cursor, Read};
use std::sync::mpsc;

use reqwest::Method;
use reqwest::blocking::Body;
use serde::Deserialize;
use serde_json::json;

use super::client::{ApiRequest, JSON, Sent, WriteCheck};
use super::contents::{GitHubTarget, Pinned};
use super::error::GitHubError;
use super::upload::{PutBody, blob_envelope, reopen_validated};
use crate::change::{ChangeSet, Content};
use crate::report::{Event, Reporter};
use crate::target::{CommitError, TargetError};

/// Text up to this size goes inside the tree request rather than as its own blob.
const INLINE_TREE_CONTENT: usize = 1024 * 1024;

/// How far back a lost ref update is looked for in the branch's history (another run may have
/// committed on top of ours before we could look).
const ANCESTRY_DEPTH: usize = 20;

#[derive(Deserialize)]
pub struct ShaAnswer {
    sha: String,
}

#[derive(Deserialize)]
pub struct CommitAnswer {
    tree: ShaAnswer,
    #[serde(default)]
    parents: Vec<ShaAnswer>,
}

#[derive(Deserialize)]
pub struct RefAnswer {
    object: ShaAnswer,
}

/// The branch against a commit of ours made on top of its old head.
enum BranchState {
    /// At our commit, or at one built on it (another run committed after ours landed).
    Ours,
    /// Still at the old head: our update did not land.
    Unmoved,
    /// Somewhere else: another run got there first.
    Moved(String),
}

impl GitHubTarget<'_> {
    /// The branch's head commit, read now (by name: may lag a few seconds behind on GitHub).
    pub(super) fn head_commit(&self) -> Result<String, GitHubError> {
        let path = format!("{}/git/ref/heads/{}", self.base, self.encoded_branch());
        match self.client.get_json::<RefAnswer>(&path, JSON) {
            Ok(answer) => Ok(answer.object.sha),
            Err(e) => Err(self.repo_error(e)),
        }
    }

    /// The tree and parents of a commit (immutable: read by sha).
    fn commit_object(&self, sha: &str) -> Result<CommitAnswer, GitHubError> {
        let path = format!("{}/git/commits/{sha}", self.base);
        self.client.get_json::<CommitAnswer>(&path, JSON)
    }

    /// Commits `changes` as one commit on top of the pinned snapshot.
    pub(super) fn commit_atomic(
        &self,
        changes: &ChangeSet,
        reporter: &dyn Reporter,
    ) -> Result<Vec<(String, String)>, CommitError> {
        let first = changes.changes.first().map_or("", |c| c.path.as_str());
        let fail = |path: &str, error: GitHubError| CommitError {
            path: path.to_string(),
            source: TargetError::from(error),
            done: Vec::new(),
        };
        self.require_token().map_err(|e| fail(first, e))?;
        let pinned = match self.pinned() {
            Some(pinned) => pinned,
            None => {
                let commit = self.head_commit().map_err(|e| fail(first, e))?;
                Pinned { commit, tree: None }
            }
        };
        let base_tree = match &pinned.tree {
            Some(tree) => tree.clone(),
            None => {
                self.commit_object(&pinned.commit)
                    .map_err(|e| fail(first, e))?
                    .tree
                    .sha
            }
        };
        let mut entries = Vec::with_capacity(changes.len());
        for change in &changes.changes {
            // Small text (pages, `.metadata`, `.nojekyll`) travels inside the tree request:
            // one write for all of them instead of a blob request each (GitHub spaces writes a
            // second apart). Distributions and anything else go as blobs first.
            if let Content::Bytes(bytes) = &change.content
                && bytes.len() <= INLINE_TREE_CONTENT
                && let Ok(text) = std::str::from_utf8(bytes)
            {
                entries.push(json!({
                    "path": change.path,
                    "mode": "100644",
                    "type": "blob",
                    "content": text,
                }));
                continue;
            }
            let sha = match &change.content {
                Content::Delete => None,
                content => {
                    let ours = content.blob_sha().unwrap_or_default();
                    if !self.snapshot_has_blob(&ours) {
                        self.create_blob(&change.path, content, reporter)
                            .map_err(|e| fail(&change.path, e))?;
                    }
                    Some(ours)
                }
            };
            entries.push(json!({
                "path": change.path,
                "mode": "100644",
                "type": "blob",
                "sha": sha,
            }));
        }
        let tree = self
            .post_json(
                &format!("{}/git/trees", self.base),
                &json!({ "base_tree": base_tree, "tree": entries }),
            )
            .map_err(|e| fail(first, e))?;
        let tree: ShaAnswer = parse(&tree, "POST", "git/trees").map_err(|e| fail(first, e))?;
        let commit = self
            .post_json(
                &format!("{}/git/commits", self.base),
                &json!({
                    "message": changes.commit_message(),
                    "tree": tree.sha,
                    "parents": [pinned.commit],
                }),
            )
            .map_err(|e| fail(first, e))?;
        let commit: ShaAnswer =
            parse(&commit, "POST", "git/commits").map_err(|e| fail(first, e))?;
        reporter.event(Event::Detail(&format!(
            "made commit {} with {} change(s) on top of {}",
            commit.sha,
            changes.len(),
            pinned.commit
        )));
        self.move_branch(&commit.sha, &pinned.commit)
            .map_err(|e| fail(first, e))?;
        reporter.event(Event::Step(&format!(
            "committed {} change(s) to {} as {}",
            changes.len(),
            self.branch(),
            short(&commit.sha)
        )));
        Ok(changes.listing())
    }

    /// Stores one blob; the body is the base64 of the content, streamed from disk for a file.
    fn create_blob(
        &self,
        path: &str,
        content: &Content,
        reporter: &dyn Reporter,
    ) -> Result<(), GitHubError> {
        let ours = content.blob_sha().unwrap_or_default();
        let len = content.len();
        let api_path = format!("{}/git/blobs", self.base);
        reporter.event(Event::Detail(&format!(
            "uploading the blob of {path} ({len} bytes)"
        )));
        let mut build = || -> Result<ApiRequest, GitHubError> {
            let source: Box<dyn Read + Send> = match content {
                Content::Bytes(bytes) => Box::new(Cursor::new(bytes.clone())),
                Content::File(file) => Box::new(reopen_validated(&file.path, len)?),
                Content::Delete => Box::new(Cursor::new(Vec::new())),
            };
            let (prefix, suffix) = blob_envelope();
            let (counts, progress) = mpsc::channel();
            let body = PutBody::with_envelope(prefix, suffix, source, len).with_progress(counts);
            let body_len = body.len();
            let mut request = ApiRequest::new(Method::POST, api_path.clone(), JSON);
            request.body = Some(Body::sized(body, body_len));
            request.body_len = body_len;
            request.timeout = Some(super::contents::upload_timeout(body_len));
            request.progress = Some((format!("uploading {path}"), body_len, progress));
            Ok(request)
        };
        // Creating a blob is idempotent (its sha is its content): a lost answer is simply sent
        // again, but never a body past the ceiling more than once.
        let sent = self
            .client
            .execute(
                &mut build,
                &mut |mut response| {
                    let mut bytes = Vec::new();
                    response.read_to_end(&mut bytes).map(|_| bytes)
                },
                None,
            )
            .map_err(|e| self.write_error(path, e))?;
        let Sent::Done(answer) = sent else {
            return Ok(());
        };
        let stored: ShaAnswer = parse(&answer, "POST", "git/blobs")?;
        if stored.sha != ours {
            return Err(GitHubError::ShaMismatch {
                path: path.to_string(),
                expected: ours,
                stored: stored.sha,
            });
        }
        Ok(())
    }

    /// POSTs a small JSON body (trees, commits: creating them again is harmless, they are
    /// content-addressed) and returns the answer.
    fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<Vec<u8>, GitHubError> {
        let bytes = body.to_string().into_bytes();
        let sent = self.client.execute(
            &mut || {
                let mut request = ApiRequest::new(Method::POST, path.to_string(), JSON);
                request.body = Some(Body::from(bytes.clone()));
                Ok(request)
            },
            &mut |mut response| {
                let mut bytes = Vec::new();
                response.read_to_end(&mut bytes).map(|_| bytes)
            },
            None,
        );
        let sent = sent.map_err(|e| self.write_error(path, e))?;
        match sent {
            Sent::Done(answer) => Ok(answer),
            Sent::AlreadyApplied => Err(GitHubError::InvalidResponse {
                method: "POST".into(),
                path: path.to_string(),
                detail: "no answer".into(),
            }),
        }
    }

    /// `PATCH /git/refs/heads/BRANCH` to `new` if the branch is still at `old`. A lost answer
    /// is settled by reading the ref: ours (or a descendant of ours) → done; still `old` → send
    /// again; anything else → another run got there first.
    fn move_branch(&self, new: &str, old: &str) -> Result<(), GitHubError> {
        let path = format!("{}/git/refs/heads/{}", self.base, self.encoded_branch());
        let body = json!({ "sha": new, "force": false })
            .to_string()
            .into_bytes();
        let ref_name = format!("refs/heads/{}", self.branch());
        let mut check = || -> Result<WriteCheck, GitHubError> {
            match self.branch_against(new, old)? {
                BranchState::Ours => Ok(WriteCheck::Applied),
                BranchState::Unmoved => Ok(WriteCheck::NotApplied),
                BranchState::Moved(head) => Err(GitHubError::Conflict {
                    path: ref_name.clone(),
                    detail: format!("the branch moved to {head} while this run committed"),
                }),
            }
        };
        let sent = self.client.execute(
            &mut || {
                let mut request = ApiRequest::new(Method::PATCH, path.clone(), JSON);
                request.body = Some(Body::from(body.clone()));
                Ok(request)
            },
            &mut |mut response| std::io::copy(&mut response, &mut std::io::sink()).map(|_| ()),
            Some(&mut check),
        );
        let error = match sent {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        match &error {
            GitHubError::Api { message, .. }
                if error.status() == Some(422) && message.contains("fast forward") =>
            {
                // A re-sent update refused as "not a fast forward" may be refusing our own
                // earlier update, applied but unanswered: the ref decides. A ref that cannot be
                // read is that failure (bad credentials, a vanished repository, rate limits), not
                // a race with another run to re-plan around.
                match self.branch_against(new, old) {
                    Ok(BranchState::Ours) => Ok(()),
                    Ok(_) => Err(GitHubError::Conflict {
                        path: ref_name,
                        detail: message.clone(),
                    }),
                    Err(source) => Err(GitHubError::RefUnsettled {
                        ref_name,
                        refusal: message.clone(),
                        source: Box::new(source),
                    }),
                }
            }
            _ => Err(self.write_error(&ref_name, error)),
        }
    }

    /// Where the branch is now, against our commit `new` made on top of `old`.
    fn branch_against(&self, new: &str, old: &str) -> Result<BranchState, GitHubError> {
        let head = self.head_commit()?;
        if head == new || self.descends_from(&head, new)? {
            Ok(BranchState::Ours)
        } else if head == old {
            Ok(BranchState::Unmoved)
        } else {
            Ok(BranchState::Moved(head))
        }
    }

    /// Whether `commit` is `ancestor` or has it among its first-parent ancestors (bounded).
    fn descends_from(&self, commit: &str, ancestor: &str) -> Result<bool, GitHubError> {
        let mut current = commit.to_string();
        for _ in 0..ANCESTRY_DEPTH {
            if current == ancestor {
                return Ok(true);
            }
            let object = self.commit_object(&current)?;
            match object.parents.into_iter().next() {
                Some(parent) => current = parent.sha,
                None => return Ok(false),
            }
        }
        Ok(false)
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    method: &str,
    what: &str,
) -> Result<T, GitHubError> {
    serde_json::from_slice(bytes).map_err(|e| GitHubError::InvalidResponse {
        method: method.to_string(),
        path: what.to_string(),
        detail: e.to_string(),
    })
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
