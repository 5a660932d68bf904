//! What can go wrong talking to GitHub, in words that tell the user what to do.
//!
//! Messages name the request (`PUT /repos/o/r/contents/x`) and quote GitHub's own `message`,
//! plus the `x-github-request-id` GitHub support asks for. They never contain the token: it only
//! ever travels in a header marked sensitive, never in a URL or a message.

use std::fmt;
use std::path::PathBuf;

/// The `x-github-request-id` of a failed request, shown as ` (GitHub request id …)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestId(pub Option<String>);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(id) => write!(f, " (GitHub request id {id})"),
            None => Ok(()),
        }
    }
}

/// A failure of the GitHub target.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("{0}")]
    InvalidConfig(String),

    #[error(
        "internal error: the write of `{path}` was planned from a read that a local directory \
         made, not from this branch; please report this bug"
    )]
    ForeignRead { path: String },

    #[error("could not set up the HTTP client")]
    Client(#[source] reqwest::Error),

    #[error(
        "writing to {repo} needs a GitHub token: set GT4PY_PUBLISH_TOKEN (or GH_TOKEN / \
         GITHUB_TOKEN) or pass --token-file"
    )]
    NoToken { repo: String },

    #[error(
        "GitHub refused the token (401 Bad credentials): check GT4PY_PUBLISH_TOKEN / GH_TOKEN / \
         GITHUB_TOKEN or --token-file{request_id}"
    )]
    BadCredentials { request_id: RequestId },

    #[error(
        "the token lacks Contents: write permission on {repo} (GitHub answered 403 \"{message}\" \
         to {method} {path}); grant it or use another token{request_id}"
    )]
    NoWritePermission {
        repo: String,
        method: String,
        path: String,
        message: String,
        request_id: RequestId,
    },

    #[error(
        "repository {repo} or branch {branch} not found, or not visible to the token{}",
        if *has_token { "" } else { " (no token was given; a private repository needs one)" }
    )]
    RepoNotFound {
        repo: String,
        branch: String,
        has_token: bool,
    },

    #[error("repository {repo} is empty: push a first commit to branch {branch}, then run again")]
    RepoEmpty { repo: String, branch: String },

    #[error(
        "GitHub's API rate limit for this token is used up until {resets} (in {wait_secs} s), \
         longer than this run waits; run again later or use a token with a higher limit"
    )]
    RateLimited { resets: String, wait_secs: u64 },

    #[error(
        "GitHub asked to wait {wait_secs} s before retrying {method} {path}, more than this \
         run's retry budget of {budget_secs} s; run again later"
    )]
    WaitTooLong {
        method: String,
        path: String,
        wait_secs: u64,
        budget_secs: u64,
        #[source]
        source: Box<GitHubError>,
    },

    #[error("GitHub answered 404 Not Found to {method} {path}: {message}{request_id}")]
    NotFound {
        method: String,
        path: String,
        message: String,
        request_id: RequestId,
    },

    #[error("GitHub answered {status} to {method} {path}: {message}{request_id}")]
    Api {
        method: String,
        path: String,
        status: reqwest::StatusCode,
        message: String,
        request_id: RequestId,
    },

    #[error("could not complete {method} {path} at {api_url}")]
    Transport {
        method: String,
        path: String,
        api_url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("GitHub's answer to {method} {path} was not understood: {detail}")]
    InvalidResponse {
        method: String,
        path: String,
        detail: String,
    },

    #[error(
        "the organization that owns {repo} enforces SAML single sign-on: open {url} and \
         authorize the token for the organization, then run again{request_id}"
    )]
    SsoRequired {
        repo: String,
        url: String,
        request_id: RequestId,
    },

    #[error(
        "repository {repo} moved (GitHub answered {status}{}); pass its new name with --repo \
         (or GT4PY_PUBLISH_REPO)",
        if location.is_empty() { String::new() } else { format!(", Location: {location}") }
    )]
    Moved {
        repo: String,
        status: u16,
        location: String,
    },

    #[error(
        "GitHub answered 404 to {method} {path} although branch {branch} exists: the token can \
         read {repo} but not write it. A classic token needs the `repo` (or `public_repo`) scope; \
         a fine-grained token needs Contents: read and write on this repository; an Actions \
         GITHUB_TOKEN cannot write to another repository — use a fine-grained token or a GitHub \
         App token as a secret{request_id}"
    )]
    WriteNotFound {
        repo: String,
        branch: String,
        method: String,
        path: String,
        request_id: RequestId,
    },

    /// Branch protection or a ruleset refuses direct writes: not a race, so never retried.
    #[error(
        "branch {branch} of {repo} is protected: GitHub refused {request} with \"{message}\"; \
         let the token's user or app bypass the rule (branch protection or ruleset settings), or \
         publish to an unprotected branch that GitHub Pages serves{request_id}"
    )]
    ProtectedBranch {
        repo: String,
        branch: String,
        /// `METHOD PATH`.
        request: String,
        message: String,
        request_id: RequestId,
    },

    /// A ref update refused as not a fast forward whose outcome is unknown: the read of the
    /// branch that would tell (our own earlier update, or another run's) failed.
    #[error(
        "GitHub refused to move {ref_name} (\"{refusal}\"), and the branch could not be read to \
         tell whether it already holds this run's commit"
    )]
    RefUnsettled {
        ref_name: String,
        refusal: String,
        #[source]
        source: Box<GitHubError>,
    },

    /// Someone else changed the file since it was read; the caller re-reads and re-plans.
    #[error("`{path}` changed on GitHub while this run was writing it ({detail})")]
    Conflict { path: String, detail: String },

    #[error("could not read {}", path.display())]
    Source {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{path}` is {size} bytes; the GitHub Contents API accepts files up to {max} bytes")]
    TooLarge { path: String, size: u64, max: u64 },

    #[error(
        "GitHub stored `{path}` as blob {stored}, but the file was validated as blob {expected}: \
         it changed during the upload; rebuild it and run again to repair the index"
    )]
    ShaMismatch {
        path: String,
        expected: String,
        stored: String,
    },

    /// A release asset of this name exists with other bytes: never replaced, since pip caches
    /// and lock files pin the old hash.
    #[error(
        "the asset {name} in release {tag} already holds other content (sha256 {found}); \
         published files never change — bump the version"
    )]
    AssetConflict {
        name: String,
        tag: String,
        /// The stored asset's sha256, or why it is not known.
        found: String,
    },

    /// GitHub stored the upload under another name (it rewrites unusual characters); the
    /// renamed asset has been deleted again.
    #[error(
        "GitHub renamed the asset {name} of release {tag} to {stored}: pip takes a \
         distribution's filename from its URL, so the file cannot be linked under the renamed \
         name (the renamed asset was deleted); rename the file or keep it in the repository"
    )]
    AssetRenamed {
        name: String,
        tag: String,
        stored: String,
    },
}

impl GitHubError {
    /// The HTTP status GitHub answered, for errors that come from an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            GitHubError::BadCredentials { .. } => Some(401),
            GitHubError::NoWritePermission { .. } => Some(403),
            GitHubError::NotFound { .. } => Some(404),
            GitHubError::Api { status, .. } => Some(status.as_u16()),
            _ => None,
        }
    }
}

impl From<GitHubError> for crate::target::TargetError {
    fn from(error: GitHubError) -> Self {
        match error {
            // The one error the publish loop answers by re-reading and re-planning.
            GitHubError::Conflict { path, detail } => {
                crate::target::TargetError::Conflict { path, detail }
            }
            other => crate::target::TargetError::Remote(Box::new(other)),
        }
    }
}
