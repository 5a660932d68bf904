//! Read-only questions about the repository behind a [`GitHubTarget`], for `doctor`: may the
//! token push, is the branch there and protected, which rules apply to it, how GitHub Pages
//! serves it, and which files (with their sizes) the branch holds.
//!
//! Every call is one GET (two for Pages without the token, see
//! [`GitHubTarget::pages_site_without_token`]); none changes anything. Answers are parsed into
//! plain structs with only the fields `doctor` judges, so a new field on GitHub's side changes
//! nothing here.

use serde::Deserialize;

use super::client::{ApiClient, JSON};
use super::contents::GitHubTarget;
use super::error::GitHubError;

/// `GET /repos/{o}/{r}`: what the repository says about itself and the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RepoInfo {
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub default_branch: Option<String>,
    /// Present only when the request carried a token.
    #[serde(default)]
    pub permissions: Option<RepoPermissions>,
}

/// The caller's permissions on the repository, as GitHub reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct RepoPermissions {
    #[serde(default)]
    pub push: bool,
    #[serde(default)]
    pub admin: bool,
}

/// `GET /repos/{o}/{r}/branches/{b}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct BranchInfo {
    /// Branch protection or a ruleset applies to the branch.
    #[serde(default)]
    pub protected: bool,
}

/// One entry of `GET /repos/{o}/{r}/rules/branches/{b}`: a rule of some ruleset that applies to
/// the branch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BranchRule {
    /// `pull_request`, `required_status_checks`, `update`, `non_fast_forward`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// `Repository` or `Organization`.
    #[serde(default)]
    pub ruleset_source_type: Option<String>,
    /// `OWNER/NAME` or the organization.
    #[serde(default)]
    pub ruleset_source: Option<String>,
    #[serde(default)]
    pub ruleset_id: Option<u64>,
}

/// `GET /repos/{o}/{r}/rulesets/{id}`, the one field doctor reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
struct RulesetAnswer {
    /// `always`, `pull_requests_only`, `never` or `exempt`; absent without a token.
    #[serde(default)]
    current_user_can_bypass: Option<String>,
}

/// `GET /repos/{o}/{r}/pages`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PagesSite {
    /// `built`, `building`, `errored`, or none.
    #[serde(default)]
    pub status: Option<String>,
    /// `legacy` (deploy from a branch) or `workflow` (a GitHub Actions workflow deploys).
    #[serde(default)]
    pub build_type: Option<String>,
    #[serde(default)]
    pub source: Option<PagesSource>,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// The branch and folder a branch-built Pages site is served from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PagesSource {
    #[serde(default)]
    pub branch: String,
    /// `/` or `/docs`.
    #[serde(default)]
    pub path: String,
}

/// Every file of the branch with its size (`GET /git/trees/{commit}?recursive=1`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchFiles {
    /// `(path, bytes)` of every blob.
    pub files: Vec<(String, u64)>,
    /// GitHub left entries out (past 100,000 entries or 7 MB of listing): the list is partial.
    pub truncated: bool,
}

impl GitHubTarget<'_> {
    /// Whether requests carry a token.
    pub fn has_token(&self) -> bool {
        self.client.has_token()
    }

    /// The repository, and with a token the caller's permissions on it (`permissions.push`).
    pub fn repository_info(&self) -> Result<RepoInfo, GitHubError> {
        self.client.get_json(&self.base, JSON)
    }

    /// The branch; `None` when GitHub answers 404 (no such branch, or an empty repository).
    pub fn branch_info(&self) -> Result<Option<BranchInfo>, GitHubError> {
        let path = format!("{}/branches/{}", self.base, self.encoded_branch());
        not_found_is_none(self.client.get_json(&path, JSON))
    }

    /// The rules of every ruleset that applies to the branch (classic branch protection is
    /// not listed here; [`BranchInfo::protected`] shows it).
    pub fn branch_rules(&self) -> Result<Vec<BranchRule>, GitHubError> {
        let path = format!("{}/rules/branches/{}", self.base, self.encoded_branch());
        self.client.get_json(&path, JSON)
    }

    /// Whether the caller may bypass ruleset `id` (`current_user_can_bypass`); `None` when
    /// GitHub does not say (no token, an older GitHub Enterprise Server, or no access).
    pub fn ruleset_bypass(&self, id: u64) -> Result<Option<String>, GitHubError> {
        let path = format!("{}/rulesets/{id}?includes_parents=true", self.base);
        match self.client.get_json::<RulesetAnswer>(&path, JSON) {
            Ok(answer) => Ok(answer.current_user_can_bypass),
            Err(e) if matches!(e.status(), Some(403 | 404)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The GitHub Pages site; `None` when GitHub answers 404. Without a token that means Pages
    /// is off; with one it may also mean the token lacks Pages: read (fine-grained tokens need
    /// it), so the caller should ask again with [`Self::pages_site_without_token`].
    pub fn pages_site(&self) -> Result<Option<PagesSite>, GitHubError> {
        pages_site(&self.client, &self.base)
    }

    /// [`Self::pages_site`] asked without the token: on a public repository a 404 then means
    /// Pages is off, whatever the token may read.
    pub fn pages_site_without_token(&self) -> Result<Option<PagesSite>, GitHubError> {
        let client = ApiClient::new(
            self.client.api_url(),
            self.repo(),
            None,
            self.client.reporter(),
        )?;
        pages_site(&client, &self.base)
    }

    /// Every file of the branch with its size: the snapshot's recursive listing when one was
    /// taken (the one folder listings and the site size share), else the branch's head,
    /// resolved now.
    pub fn branch_files(&self) -> Result<BranchFiles, GitHubError> {
        let at = match self.pinned() {
            Some(pinned) => pinned.commit,
            None => self.head_commit()?,
        };
        let tree = self.full_tree_at(&at)?;
        Ok(BranchFiles {
            files: tree
                .entries
                .iter()
                .filter(|e| e.kind == "blob")
                .map(|e| (e.path.clone(), e.size.unwrap_or(0)))
                .collect(),
            truncated: tree.truncated,
        })
    }
}

fn pages_site(client: &ApiClient<'_>, base: &str) -> Result<Option<PagesSite>, GitHubError> {
    not_found_is_none(client.get_json(&format!("{base}/pages"), JSON))
}

fn not_found_is_none<T>(answer: Result<T, GitHubError>) -> Result<Option<T>, GitHubError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_with_only_the_fields_doctor_reads() {
        let repo: RepoInfo = serde_json::from_str(
            r#"{"id":1,"private":false,"archived":false,"default_branch":"main",
                "permissions":{"admin":false,"push":true,"pull":true}}"#,
        )
        .unwrap();
        assert_eq!(repo.permissions.map(|p| p.push), Some(true));
        let anonymous: RepoInfo = serde_json::from_str(r#"{"id":1,"private":false}"#).unwrap();
        assert_eq!(anonymous.permissions, None);

        let rules: Vec<BranchRule> = serde_json::from_str(
            r#"[{"type":"pull_request","ruleset_source_type":"Repository",
                 "ruleset_source":"o/r","ruleset_id":7,"parameters":{}}]"#,
        )
        .unwrap();
        assert_eq!(rules[0].kind, "pull_request");
        assert_eq!(rules[0].ruleset_id, Some(7));

        let pages: PagesSite = serde_json::from_str(
            r#"{"status":null,"build_type":"legacy","source":{"branch":"main","path":"/"},
                "html_url":"https://o.github.io/r/"}"#,
        )
        .unwrap();
        assert_eq!(pages.status, None);
        assert_eq!(pages.source.map(|s| s.branch), Some("main".to_string()));
        // A workflow-built site has no source.
        let workflow: PagesSite = serde_json::from_str(r#"{"build_type":"workflow"}"#).unwrap();
        assert_eq!(workflow.source, None);
    }
}
