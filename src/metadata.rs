//! Core metadata (`METADATA` in wheels, `PKG-INFO` in sdists): the few fields the index needs,
//! read by hand from the RFC 822-style header block.
//!
//! The parser mirrors what pip sees through Python's `email` package (the header block ends at
//! the first blank line or at the first line that is neither a header nor a continuation;
//! header names are case-insensitive; continuation lines are folded into the previous header),
//! and is strict where leniency would let two tools read different values from the same bytes:
//! non-UTF-8 input and a repeated single-use field are refused.

use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};

use crate::name::ProjectName;

/// The fields of a distribution's core metadata that the index uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreMetadata {
    /// `Metadata-Version`, as written (`2.1`, `2.4`, …).
    pub metadata_version: String,
    /// `Name`, as written.
    pub name: String,
    /// `Name`, validated and PEP 503 normalized.
    pub project: ProjectName,
    pub version: Version,
    /// `Requires-Python`, trimmed; `None` when absent or empty. Validated as a PEP 440 specifier
    /// set, so it is safe to show on a page once HTML-escaped.
    pub requires_python: Option<String>,
    /// `Summary`, folded and trimmed (only for display).
    pub summary: Option<String>,
}

/// Why core metadata cannot be used. Messages say what to fix in the project's build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error(
        "the metadata is not valid UTF-8 (first invalid byte at offset {offset}); core metadata \
         must be UTF-8, rebuild with a current build backend"
    )]
    NotUtf8 { offset: usize },
    #[error("the metadata has no `{field}` field; rebuild with a current build backend")]
    MissingField { field: &'static str },
    #[error(
        "the metadata has more than one `{field}` field, so tools could disagree on its value; \
         rebuild with a current build backend"
    )]
    DuplicateField { field: &'static str },
    #[error(
        "`Metadata-Version: {value}` is not a metadata version (expected `MAJOR.MINOR`, such as \
         `2.1`)"
    )]
    InvalidMetadataVersion { value: String },
    #[error(
        "`Name: {value}` in the metadata is not a valid project name (ASCII letters, digits, \
         `.`, `_` and `-`, starting and ending with a letter or digit)"
    )]
    InvalidName { value: String },
    #[error("`Version: {value}` in the metadata is not a valid PEP 440 version: {reason}")]
    InvalidVersion { value: String, reason: String },
    #[error(
        "`Requires-Python: {value}` in the metadata is not a valid PEP 440 version specifier set \
         (such as `>=3.9` or `>=3.9,<4`): {reason}; fix `requires-python` in pyproject.toml and \
         rebuild"
    )]
    InvalidRequiresPython { value: String, reason: String },
}

/// One header of the block: its name as written and its value, folded and with the space after
/// the colon removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

impl CoreMetadata {
    /// Parses `METADATA` or `PKG-INFO` bytes. The caller caps how many bytes it reads.
    pub fn parse(bytes: &[u8]) -> Result<Self, MetadataError> {
        let headers = parse_headers(bytes)?;

        let metadata_version = single(&headers, "Metadata-Version")?
            .ok_or(MetadataError::MissingField {
                field: "Metadata-Version",
            })?
            .trim()
            .to_string();
        if !is_metadata_version(&metadata_version) {
            return Err(MetadataError::InvalidMetadataVersion {
                value: metadata_version,
            });
        }

        let name = single(&headers, "Name")?
            .ok_or(MetadataError::MissingField { field: "Name" })?
            .trim()
            .to_string();
        let project = ProjectName::new(&name).map_err(|_| MetadataError::InvalidName {
            value: name.escape_debug().to_string(),
        })?;

        let version_text = single(&headers, "Version")?
            .ok_or(MetadataError::MissingField { field: "Version" })?
            .trim();
        let version =
            Version::from_str(version_text).map_err(|err| MetadataError::InvalidVersion {
                value: version_text.escape_debug().to_string(),
                reason: first_line(&err.to_string()),
            })?;

        let requires_python = match single(&headers, "Requires-Python")?.map(str::trim) {
            None | Some("") => None,
            Some(value) => {
                VersionSpecifiers::from_str(value).map_err(|err| {
                    MetadataError::InvalidRequiresPython {
                        value: value.escape_debug().to_string(),
                        reason: first_line(&err.to_string()),
                    }
                })?;
                Some(value.to_string())
            }
        };

        let summary = single(&headers, "Summary")?
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|s| !s.is_empty());

        Ok(CoreMetadata {
            metadata_version,
            name,
            project,
            version,
            requires_python,
            summary,
        })
    }
}

/// Reads the header block of an RFC 822-style file (core metadata, a wheel's `WHEEL` file).
///
/// Line endings may be `\r\n`, `\n` or `\r`. The block ends at the first empty line, or — as
/// in Python's `email.feedparser` — at the first line that is neither `Name: value` nor a
/// continuation (a line starting with a space or tab); the rest is the body and is ignored.
/// A continuation line before any header is ignored, as Python does.
pub fn parse_headers(bytes: &[u8]) -> Result<Vec<Header>, MetadataError> {
    let text = std::str::from_utf8(bytes).map_err(|err| MetadataError::NotUtf8 {
        offset: err.valid_up_to(),
    })?;
    let mut headers: Vec<Header> = Vec::new();
    for line in lines(text) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // RFC 5322 unfolding: the line break goes, the whitespace stays.
            if let Some(last) = headers.last_mut() {
                last.value.push_str(line);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        // Python's header pattern: printable ASCII other than `:` and space.
        if !name.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
            break;
        }
        headers.push(Header {
            name: name.to_string(),
            value: value.trim_start_matches([' ', '\t']).to_string(),
        });
    }
    for header in &mut headers {
        let trimmed = header.value.trim_end_matches([' ', '\t']).len();
        header.value.truncate(trimmed);
    }
    Ok(headers)
}

/// The values of every header called `name` (case-insensitive), in order.
pub fn all<'a>(headers: &'a [Header], name: &str) -> impl Iterator<Item = &'a str> {
    let name = name.to_string();
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(&name))
        .map(|h| h.value.as_str())
}

/// The value of a single-use header, refusing a repeated one.
pub fn single<'a>(
    headers: &'a [Header],
    name: &'static str,
) -> Result<Option<&'a str>, MetadataError> {
    let mut values = all(headers, name);
    let first = values.next();
    if values.next().is_some() {
        return Err(MetadataError::DuplicateField { field: name });
    }
    Ok(first)
}

/// Splits at `\r\n`, `\n` or `\r`, without the line endings.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            None => {
                rest = None;
                // A trailing newline does not start one more (empty) line.
                (!current.is_empty()).then_some(current)
            }
            Some(at) => {
                let line = current.get(..at).unwrap_or_default();
                let after = current.get(at..).unwrap_or_default();
                let ending = if after.starts_with("\r\n") { 2 } else { 1 };
                rest = Some(after.get(ending..).unwrap_or_default());
                Some(line)
            }
        }
    })
}

fn is_metadata_version(value: &str) -> bool {
    let Some((major, minor)) = value.split_once('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

/// The first line of a parser's message (pep440_rs adds a caret diagram below it), with
/// control characters escaped: the text comes from the file and ends up on a terminal.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.trim_end_matches(':').escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CoreMetadata, MetadataError> {
        CoreMetadata::parse(text.as_bytes())
    }

    #[test]
    fn reads_a_typical_metadata_file() {
        let m = parse(
            "Metadata-Version: 2.1\n\
             Name: DaCe\n\
             Version: 43!2026.2.3\n\
             Summary: Data-Centric Parallel Programming\n\
             Requires-Python: >=3.9\n\
             Requires-Dist: numpy\n\
             Description-Content-Type: text/markdown\n\
             \n\
             # DaCe\n\
             Name: not-this\n",
        )
        .unwrap();
        assert_eq!(m.metadata_version, "2.1");
        assert_eq!(m.name, "DaCe");
        assert_eq!(m.project.as_str(), "dace");
        assert_eq!(m.version, Version::from_str("43!2026.2.3").unwrap());
        assert_eq!(m.requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(
            m.summary.as_deref(),
            Some("Data-Centric Parallel Programming")
        );
    }

    #[test]
    fn table() {
        // (input, name, version, requires_python)
        let ok: &[(&str, &str, &str, Option<&str>)] = &[
            // CRLF line endings.
            (
                "Metadata-Version: 2.1\r\nName: a\r\nVersion: 1.0\r\nRequires-Python: >=3.8\r\n\r\nbody",
                "a",
                "1.0",
                Some(">=3.8"),
            ),
            // Old Mac line endings.
            (
                "Metadata-Version: 1.0\rName: a\rVersion: 1.0\r",
                "a",
                "1.0",
                None,
            ),
            // Folded Requires-Python, extra spaces, tab after the colon.
            (
                "Metadata-Version: 2.1\nName:\ta\nVersion:   2.0  \nRequires-Python: >=3.9,\n   <4\n",
                "a",
                "2.0",
                Some(">=3.9,   <4"),
            ),
            // Header names are case-insensitive.
            (
                "metadata-version: 2.1\nNAME: b\nversion: 1\n",
                "b",
                "1",
                None,
            ),
            // Headers-like text in the body is ignored.
            (
                "Metadata-Version: 2.1\nName: a\nVersion: 1.0\n\nName: b\nVersion: 2.0\nRequires-Python: ><script>\n",
                "a",
                "1.0",
                None,
            ),
            // A non-header line ends the block (as in Python's email parser).
            (
                "Metadata-Version: 2.1\nName: a\nVersion: 1.0\nthis is not a header\nVersion: 2.0\n",
                "a",
                "1.0",
                None,
            ),
            // Empty Requires-Python means no constraint.
            (
                "Metadata-Version: 2.1\nName: a\nVersion: 1.0\nRequires-Python:   \n",
                "a",
                "1.0",
                None,
            ),
            // A leading continuation line is ignored.
            (
                " junk\nMetadata-Version: 2.4\nName: a\nVersion: 1.0\n",
                "a",
                "1.0",
                None,
            ),
            // Multiple-use fields may repeat.
            (
                "Metadata-Version: 2.1\nName: a\nVersion: 1.0\nClassifier: x\nClassifier: y\n",
                "a",
                "1.0",
                None,
            ),
            // No trailing newline at all.
            (
                "Metadata-Version: 2.1\nName: a\nVersion: 1.0+local.7",
                "a",
                "1.0+local.7",
                None,
            ),
        ];
        for (input, name, version, requires_python) in ok {
            let m = parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(m.name, *name, "{input:?}");
            assert_eq!(m.version, Version::from_str(version).unwrap(), "{input:?}");
            assert_eq!(m.requires_python.as_deref(), *requires_python, "{input:?}");
        }
    }

    #[test]
    fn refusals() {
        use MetadataError as E;
        type Check = fn(&MetadataError) -> bool;
        let cases: &[(&[u8], Check)] = &[
            (b"Metadata-Version: 2.1\nName: caf\xe9\nVersion: 1\n", |e| {
                matches!(e, E::NotUtf8 { offset: 31 })
            }),
            (b"Name: a\nVersion: 1\n", |e| {
                matches!(
                    e,
                    E::MissingField {
                        field: "Metadata-Version"
                    }
                )
            }),
            (b"Metadata-Version: 2.1\nVersion: 1\n", |e| {
                matches!(e, E::MissingField { field: "Name" })
            }),
            (b"Metadata-Version: 2.1\nName: a\n", |e| {
                matches!(e, E::MissingField { field: "Version" })
            }),
            // Name after the blank line is body, not a header.
            (b"Metadata-Version: 2.1\nVersion: 1\n\nName: a\n", |e| {
                matches!(e, E::MissingField { field: "Name" })
            }),
            (b"", |e| matches!(e, E::MissingField { .. })),
            (b"Metadata-Version: 2.1\nName: a\nname: b\nVersion: 1\n", |e| {
                matches!(e, E::DuplicateField { field: "Name" })
            }),
            (b"Metadata-Version: 2.1\nName: a\nVersion: 1\nVersion: 2\n", |e| {
                matches!(e, E::DuplicateField { field: "Version" })
            }),
            (
                b"Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Python: >=3\nRequires-Python: <2\n",
                |e| {
                    matches!(
                        e,
                        E::DuplicateField {
                            field: "Requires-Python"
                        }
                    )
                },
            ),
            (b"Metadata-Version: two\nName: a\nVersion: 1\n", |e| {
                matches!(e, E::InvalidMetadataVersion { .. })
            }),
            (b"Metadata-Version: 2.1\nName: a b\nVersion: 1\n", |e| {
                matches!(e, E::InvalidName { .. })
            }),
            (b"Metadata-Version: 2.1\nName: \nVersion: 1\n", |e| {
                matches!(e, E::InvalidName { .. })
            }),
            (b"Metadata-Version: 2.1\nName: a\nVersion: latest\n", |e| {
                matches!(e, E::InvalidVersion { .. })
            }),
            (
                b"Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Python: >=3.9\"><script>alert(1)</script>\n",
                |e| matches!(e, E::InvalidRequiresPython { .. }),
            ),
            (
                b"Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Python: 3.9'\n",
                |e| matches!(e, E::InvalidRequiresPython { .. }),
            ),
            (
                b"Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Python: >=3.9 & <4\n",
                |e| matches!(e, E::InvalidRequiresPython { .. }),
            ),
        ];
        for (input, check) in cases {
            match CoreMetadata::parse(input) {
                Ok(m) => panic!("{:?} should be refused, got {m:?}", input.escape_ascii()),
                Err(e) => assert!(check(&e), "{}: unexpected {e:?}", input.escape_ascii()),
            }
        }
    }

    #[test]
    fn headers_keep_order_and_repeats() {
        let headers = parse_headers(
            b"Wheel-Version: 1.0\nGenerator: x\nRoot-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n",
        )
        .unwrap();
        assert_eq!(
            all(&headers, "tag").collect::<Vec<_>>(),
            ["py2-none-any", "py3-none-any"]
        );
        assert_eq!(single(&headers, "Wheel-Version").unwrap(), Some("1.0"));
        assert!(single(&headers, "Tag").is_err());
    }

    #[test]
    fn line_splitting() {
        let collect = |s| lines(s).collect::<Vec<_>>();
        assert_eq!(collect("a\r\nb\nc\rd"), ["a", "b", "c", "d"]);
        assert_eq!(collect("a\n\nb\n"), ["a", "", "b"]);
        assert_eq!(collect("a\r\n\r\n"), ["a", ""]);
        assert!(collect("").is_empty());
    }

    #[test]
    fn the_error_names_the_bad_value_without_raw_control_characters() {
        let e =
            parse("Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Python: >=3\u{1b}[2J\n")
                .unwrap_err();
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
    }
}
