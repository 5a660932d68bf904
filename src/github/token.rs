//! Finding the GitHub token and keeping it out of every output.
//!
//! The token is held in a [`Secret`] whose `Debug` and `Display` print a placeholder, so a log
//! line, an error message or a `{:?}` dump can never show it; the only way to the value is
//! [`Secret::expose`], called once, where the `Authorization` header is built.

use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variables searched for a token, in order: ours first, then the ones the GitHub
/// CLI (`gh`) and GitHub Actions use, so a CI job usually needs no extra setup.
pub const TOKEN_VARIABLES: [&str; 3] = ["GT4PY_PUBLISH_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"];

/// Where a token came from, for `--verbose` ("using the token from GH_TOKEN").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token-file PATH`.
    File(PathBuf),
    /// An environment variable.
    Env(&'static str),
    /// Handed over by the caller (tests, library users).
    Given,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::File(path) => write!(f, "the token file {}", path.display()),
            TokenSource::Env(name) => write!(f, "the {name} environment variable"),
            TokenSource::Given => f.write_str("the caller"),
        }
    }
}

/// A token that never shows up in output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    source: TokenSource,
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            source: TokenSource::Given,
        }
    }

    /// The token itself. Only the HTTP client calls this, to build the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Where the token was found.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted>, from {})", self.source)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a token could not be read. Messages name the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("could not read the token file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the token file {} is empty; put a GitHub token with Contents: write permission in it",
        path.display()
    )]
    Empty { path: PathBuf },
    #[error(
        "the token from {source_name} contains a line break or control character inside it; \
         it must be a single line"
    )]
    Malformed { source_name: String },
}

/// Finds the token: `--token-file PATH` if given, else the first non-empty one of
/// `GT4PY_PUBLISH_TOKEN`, `GH_TOKEN`, `GITHUB_TOKEN`. `None` when there is none (reads of a
/// public repository work without one; writes fail with a clear message before any request).
pub fn discover(token_file: Option<&Path>) -> Result<Option<Secret>, TokenError> {
    discover_with(token_file, |name| std::env::var(name).ok())
}

/// [`discover`] with the environment passed in, so tests need not change the process's.
pub fn discover_with(
    token_file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, TokenError> {
    if let Some(path) = token_file {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let source = TokenSource::File(path.to_path_buf());
        return match text.trim() {
            "" => Err(TokenError::Empty {
                path: path.to_path_buf(),
            }),
            value => checked(value, source).map(Some),
        };
    }
    for name in TOKEN_VARIABLES {
        if let Some(value) = env(name) {
            let value = value.trim();
            // An empty variable counts as unset: CI templates often export `GH_TOKEN=` blank.
            if !value.is_empty() {
                return checked(value, TokenSource::Env(name)).map(Some);
            }
        }
    }
    Ok(None)
}

/// Refuses values that cannot be an HTTP header (a pasted file with two lines, say); reqwest's
/// own error would be vaguer, and checking here keeps the value out of any error path.
fn checked(value: &str, source: TokenSource) -> Result<Secret, TokenError> {
    if value.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(TokenError::Malformed {
            source_name: source.to_string(),
        });
    }
    Ok(Secret {
        value: value.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let secret = Secret::new("ghp_supersecret");
        assert!(!format!("{secret:?}").contains("supersecret"));
        assert!(!format!("{secret}").contains("supersecret"));
        assert_eq!(secret.expose(), "ghp_supersecret");
    }

    #[test]
    fn variables_are_searched_in_order_and_empty_ones_skipped() {
        let found = discover_with(None, env(&[("GH_TOKEN", "b"), ("GITHUB_TOKEN", "c")]))
            .unwrap()
            .unwrap();
        assert_eq!(found.expose(), "b");
        assert_eq!(found.source(), &TokenSource::Env("GH_TOKEN"));

        let found = discover_with(
            None,
            env(&[
                ("GT4PY_PUBLISH_TOKEN", "  "),
                ("GH_TOKEN", ""),
                ("GITHUB_TOKEN", "c"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(found.source(), &TokenSource::Env("GITHUB_TOKEN"));

        let found = discover_with(
            None,
            env(&[("GT4PY_PUBLISH_TOKEN", "a"), ("GH_TOKEN", "b")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(found.expose(), "a");

        assert!(discover_with(None, env(&[])).unwrap().is_none());
    }

    #[test]
    fn a_token_file_wins_and_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  ghp_fromfile\n").unwrap();
        let found = discover_with(Some(&path), env(&[("GH_TOKEN", "b")]))
            .unwrap()
            .unwrap();
        assert_eq!(found.expose(), "ghp_fromfile");
        assert_eq!(found.source(), &TokenSource::File(path.clone()));
    }

    #[test]
    fn an_empty_or_missing_token_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "\n \n").unwrap();
        let err = discover_with(Some(&path), env(&[("GH_TOKEN", "b")])).unwrap_err();
        assert!(matches!(err, TokenError::Empty { .. }));
        assert!(err.to_string().contains(&path.display().to_string()));

        let missing = dir.path().join("missing");
        let err = discover_with(Some(&missing), env(&[])).unwrap_err();
        assert!(err.to_string().contains("missing"));
    }

    #[test]
    fn a_multi_line_token_is_refused_without_showing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "ghp_one\nghp_two\n").unwrap();
        let err = discover_with(Some(&path), env(&[])).unwrap_err();
        assert!(matches!(err, TokenError::Malformed { .. }));
        assert!(!err.to_string().contains("ghp_"));
        assert!(!format!("{err:?}").contains("ghp_"));
    }
}
