//! Project names: PEP 503 normalization and the rules for a name that may become a folder.

use std::fmt;

/// A project name normalized per PEP 503 (`[-_.]+` → `-`, lower case), valid per the core
/// metadata spec, and so safe to use as a folder name of the index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectName(String);

/// Why a string is not a valid project name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not a valid project name: names are ASCII letters, digits, `.`, `_` and `-`, \
     starting and ending with a letter or digit"
)]
pub struct InvalidName {
    pub name: String,
}

impl ProjectName {
    /// Validates and normalizes `name` (PEP 508 name rule, then PEP 503 normalization).
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        let bytes = name.as_bytes();
        let valid = !bytes.is_empty()
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(InvalidName {
                name: name.to_string(),
            });
        }
        let mut normalized = String::with_capacity(name.len());
        let mut in_separator_run = false;
        for c in name.chars() {
            if matches!(c, '.' | '_' | '-') {
                if !in_separator_run {
                    normalized.push('-');
                }
                in_separator_run = true;
            } else {
                normalized.push(c.to_ascii_lowercase());
                in_separator_run = false;
            }
        }
        Ok(Self(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_pep_503() {
        for (raw, normalized) in [
            ("dace", "dace"),
            ("DaCe", "dace"),
            ("friendly-bard", "friendly-bard"),
            ("Friendly-Bard", "friendly-bard"),
            ("FRIENDLY-BARD", "friendly-bard"),
            ("friendly.bard", "friendly-bard"),
            ("friendly_bard", "friendly-bard"),
            ("friendly--bard", "friendly-bard"),
            ("FrIeNdLy-._.-bArD", "friendly-bard"),
            ("ghex", "ghex"),
            ("gt4py", "gt4py"),
            ("a", "a"),
            ("9", "9"),
        ] {
            assert_eq!(ProjectName::new(raw).unwrap().as_str(), normalized, "{raw}");
        }
    }

    #[test]
    fn refuses_names_that_are_not_names() {
        for raw in [
            "", "-dace", "dace-", ".", "..", "../x", "a/b", "a\\b", "dace ", " dace", "dacé",
            "a b", "_a", "a_", "<script>", "a\0b",
        ] {
            assert!(ProjectName::new(raw).is_err(), "{raw:?} should be refused");
        }
    }
}
