//! Distribution filenames: PEP 427 wheels and `.tar.gz` / `.zip` sdists.
//!
//! A filename is the first thing checked and the cheapest: it becomes a path inside the index
//! (`NAME/FILENAME`) and a link on a page, so anything that could escape a folder, confuse a
//! browser or name a format pip cannot install is refused here, before the file is opened.
//! The rules follow the binary distribution format spec (wheels) and the source distribution
//! format spec (sdists); legacy sdist names such as `dace-2025.11.4.tar.gz` or
//! `foo-bar-1.0.tar.gz` are accepted by splitting at the last `-`.

use std::fmt;
use std::str::FromStr;

use crate::name::{InvalidName, ProjectName};
use pep440_rs::Version;

/// Longest filename accepted, in bytes: the limit of common file systems (ext4, APFS, NTFS).
pub const MAX_FILENAME_LEN: usize = 255;

/// What kind of distribution a filename names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DistKind {
    Wheel,
    SdistTarGz,
    SdistZip,
}

impl DistKind {
    /// Whether this is a source distribution (either archive format).
    pub fn is_sdist(self) -> bool {
        matches!(self, DistKind::SdistTarGz | DistKind::SdistZip)
    }

    /// The filename extension, with its leading dot.
    pub fn extension(self) -> &'static str {
        match self {
            DistKind::Wheel => ".whl",
            DistKind::SdistTarGz => ".tar.gz",
            DistKind::SdistZip => ".zip",
        }
    }
}

/// The tag part of a wheel filename; each set is expanded from its compressed form
/// (`py2.py3` → `["py2", "py3"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelTags {
    pub build: Option<String>,
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

impl WheelTags {
    /// Every `python-abi-platform` combination the compressed sets stand for, in order.
    /// This is the set a wheel's `WHEEL` file must list as `Tag:` lines.
    pub fn expanded(&self) -> Vec<String> {
        let mut tags = Vec::new();
        for python in &self.python {
            for abi in &self.abi {
                for platform in &self.platform {
                    tags.push(format!("{python}-{abi}-{platform}"));
                }
            }
        }
        tags
    }
}

/// A parsed, valid distribution filename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFilename {
    filename: String,
    project: ProjectName,
    version: Version,
    kind: DistKind,
    wheel_tags: Option<WheelTags>,
}

/// Why a filename is not one we can publish. Each message says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilenameError {
    #[error("the filename is empty; pass the path of a `.whl`, `.tar.gz` or `.zip` file")]
    Empty,
    #[error(
        "`{filename}`: the filename is {len} bytes long, more than the {MAX_FILENAME_LEN} bytes \
         file systems allow; shorten the project name or version"
    )]
    TooLong { filename: String, len: usize },
    #[error(
        "{}: the filename contains a NUL or control character; rename the file",
        Escaped(filename)
    )]
    ControlCharacter { filename: String },
    #[error(
        "{}: the filename contains a path separator (`/` or `\\`); pass the file's path as the \
         argument, the filename itself must be a plain name",
        Escaped(filename)
    )]
    PathSeparator { filename: String },
    #[error(
        "{}: the filename contains `..`; distribution filenames never do, rename the file as \
         the build tool named it",
        Escaped(filename)
    )]
    DotDot { filename: String },
    #[error(
        "{}: the filename starts with `.`; hidden files are not distributions, rename the file \
         as the build tool named it",
        Escaped(filename)
    )]
    LeadingDot { filename: String },
    #[error(
        "{}: the filename contains characters other than ASCII letters, digits and `-_.!+`; \
         distribution filenames are ASCII, rename the file as the build tool named it",
        Escaped(filename)
    )]
    NotAscii { filename: String },
    #[error(
        "`{filename}`: eggs are not supported by pip's index; build a wheel with \
         `python -m build --wheel`"
    )]
    Egg { filename: String },
    #[error(
        "`{filename}`: Windows installers (`.exe`/`.msi`) are not installable by pip; build a \
         wheel with `python -m build --wheel`"
    )]
    WindowsInstaller { filename: String },
    #[error(
        "`{filename}`: `{extension}` sdists are not accepted; build a `.tar.gz` sdist with \
         `python -m build --sdist`"
    )]
    UnsupportedArchive { filename: String, extension: String },
    #[error(
        "`{filename}`: not a distribution file; expected a wheel (`.whl`) or an sdist \
         (`.tar.gz` or `.zip`), as built by `python -m build`"
    )]
    UnknownExtension { filename: String },
    #[error(
        "`{filename}`: a wheel filename has 5 or 6 `-`-separated parts \
         (`NAME-VERSION[-BUILD]-PYTHON-ABI-PLATFORM.whl`), this one has {parts}; rename the file \
         as the build tool named it (names and versions inside it use `_`, never `-`)"
    )]
    WheelParts { filename: String, parts: usize },
    #[error(
        "`{filename}`: the filename has an empty part (`--`, or `-`/`.` at an edge); rename the \
         file as the build tool named it"
    )]
    EmptyPart { filename: String },
    #[error(
        "`{filename}`: the build tag `{build}` must start with a digit and contain only ASCII \
         letters, digits, `_` and `.`"
    )]
    InvalidBuildTag { filename: String, build: String },
    #[error(
        "`{filename}`: `{tag}` is not a valid compatibility tag set (`.`-separated tags of ASCII \
         letters, digits and `_`, such as `py2.py3`, `cp311`, `manylinux_2_17_x86_64`)"
    )]
    InvalidTag { filename: String, tag: String },
    #[error(
        "`{filename}`: an sdist filename is `NAME-VERSION.tar.gz` (or `.zip`), this one has no \
         `-` before the version; rename the file as the build tool named it"
    )]
    SdistWithoutVersion { filename: String },
    #[error("`{filename}`: {source}")]
    InvalidName {
        filename: String,
        #[source]
        source: InvalidName,
    },
    #[error(
        "`{filename}`: `{version}` is not a valid PEP 440 version ({reason}); set a valid \
         version in the project's metadata and rebuild"
    )]
    InvalidVersion {
        filename: String,
        version: String,
        reason: String,
    },
}

/// Shows a possibly hostile filename with control characters escaped, so that an error message
/// can never rewrite the terminal or forge a log line.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.0.escape_debug())
    }
}

impl DistFilename {
    /// Parses and validates a filename (the last component of a path, not a path).
    pub fn parse(filename: &str) -> Result<Self, FilenameError> {
        check_plain_name(filename)?;
        let owned = || filename.to_string();
        let lower = filename.to_ascii_lowercase();

        if let Some(stem) = filename.strip_suffix(".whl") {
            return parse_wheel(filename, stem);
        }
        if let Some(stem) = filename.strip_suffix(".tar.gz") {
            return parse_sdist(filename, stem, DistKind::SdistTarGz);
        }
        if let Some(stem) = filename.strip_suffix(".zip") {
            return parse_sdist(filename, stem, DistKind::SdistZip);
        }

        if lower.ends_with(".egg") {
            return Err(FilenameError::Egg { filename: owned() });
        }
        if lower.ends_with(".exe") || lower.ends_with(".msi") {
            return Err(FilenameError::WindowsInstaller { filename: owned() });
        }
        for extension in [
            ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar.zst", ".tgz", ".tar.z", ".tar", ".rpm",
            ".deb", ".rar", ".7z",
        ] {
            if lower.ends_with(extension) {
                return Err(FilenameError::UnsupportedArchive {
                    filename: owned(),
                    extension: extension.to_string(),
                });
            }
        }
        Err(FilenameError::UnknownExtension { filename: owned() })
    }

    /// The filename exactly as given.
    pub fn as_str(&self) -> &str {
        &self.filename
    }
    pub fn project(&self) -> &ProjectName {
        &self.project
    }
    pub fn version(&self) -> &Version {
        &self.version
    }
    pub fn kind(&self) -> DistKind {
        self.kind
    }
    pub fn wheel_tags(&self) -> Option<&WheelTags> {
        self.wheel_tags.as_ref()
    }

    /// The filename without its extension: `NAME-VERSION` for an sdist (the name of the
    /// top-level folder inside it), `NAME-VERSION[-BUILD]-TAGS` for a wheel.
    pub fn stem(&self) -> &str {
        self.filename
            .strip_suffix(self.kind.extension())
            .unwrap_or(&self.filename)
    }
}

impl fmt::Display for DistFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.filename)
    }
}

impl FromStr for DistFilename {
    type Err = FilenameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The checks that keep a filename a single, harmless path component.
fn check_plain_name(filename: &str) -> Result<(), FilenameError> {
    let owned = || filename.to_string();
    if filename.is_empty() {
        return Err(FilenameError::Empty);
    }
    if filename.len() > MAX_FILENAME_LEN {
        return Err(FilenameError::TooLong {
            filename: owned(),
            len: filename.len(),
        });
    }
    if filename.chars().any(char::is_control) {
        return Err(FilenameError::ControlCharacter { filename: owned() });
    }
    if filename.contains(['/', '\\']) {
        return Err(FilenameError::PathSeparator { filename: owned() });
    }
    if filename.contains("..") {
        return Err(FilenameError::DotDot { filename: owned() });
    }
    if filename.starts_with('.') {
        return Err(FilenameError::LeadingDot { filename: owned() });
    }
    // Names, PEP 440 versions, tags and extensions are all ASCII; this also keeps quotes,
    // `<`, `&`, spaces and `#`/`?` (which would change a link's meaning) out of pages.
    if !filename
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'!' | b'+'))
    {
        return Err(FilenameError::NotAscii { filename: owned() });
    }
    Ok(())
}

fn parse_wheel(filename: &str, stem: &str) -> Result<DistFilename, FilenameError> {
    let owned = || filename.to_string();
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(FilenameError::EmptyPart { filename: owned() });
    }
    let (name, version, build, python, abi, platform) = match parts.as_slice() {
        [name, version, python, abi, platform] => (*name, *version, None, *python, *abi, *platform),
        [name, version, build, python, abi, platform] => {
            (*name, *version, Some(*build), *python, *abi, *platform)
        }
        _ => {
            return Err(FilenameError::WheelParts {
                filename: owned(),
                parts: parts.len(),
            });
        }
    };
    let project = parse_name(filename, name)?;
    let version = parse_version(filename, version)?;
    if let Some(build) = build {
        let starts_with_digit = build.bytes().next().is_some_and(|b| b.is_ascii_digit());
        let valid_chars = build
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'));
        if !starts_with_digit || !valid_chars {
            return Err(FilenameError::InvalidBuildTag {
                filename: owned(),
                build: build.to_string(),
            });
        }
    }
    let wheel_tags = WheelTags {
        build: build.map(str::to_string),
        python: parse_tag_set(filename, python)?,
        abi: parse_tag_set(filename, abi)?,
        platform: parse_tag_set(filename, platform)?,
    };
    Ok(DistFilename {
        filename: owned(),
        project,
        version,
        kind: DistKind::Wheel,
        wheel_tags: Some(wheel_tags),
    })
}

/// Splits a compressed tag set (`py2.py3`) into its tags.
fn parse_tag_set(filename: &str, set: &str) -> Result<Vec<String>, FilenameError> {
    let invalid = || FilenameError::InvalidTag {
        filename: filename.to_string(),
        tag: set.to_string(),
    };
    let mut tags = Vec::new();
    for tag in set.split('.') {
        if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(invalid());
        }
        tags.push(tag.to_string());
    }
    Ok(tags)
}

fn parse_sdist(filename: &str, stem: &str, kind: DistKind) -> Result<DistFilename, FilenameError> {
    let owned = || filename.to_string();
    let Some((name, version)) = stem.rsplit_once('-') else {
        return Err(FilenameError::SdistWithoutVersion { filename: owned() });
    };
    if name.is_empty() || version.is_empty() {
        return Err(FilenameError::EmptyPart { filename: owned() });
    }
    let project = parse_name(filename, name)?;
    let version = parse_version(filename, version)?;
    Ok(DistFilename {
        filename: owned(),
        project,
        version,
        kind,
        wheel_tags: None,
    })
}

fn parse_name(filename: &str, name: &str) -> Result<ProjectName, FilenameError> {
    ProjectName::new(name).map_err(|source| FilenameError::InvalidName {
        filename: filename.to_string(),
        source,
    })
}

fn parse_version(filename: &str, version: &str) -> Result<Version, FilenameError> {
    Version::from_str(version).map_err(|err| FilenameError::InvalidVersion {
        filename: filename.to_string(),
        version: version.to_string(),
        reason: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_real_world_wheels() {
        // (filename, project, version, build, python, abi, platform)
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, &str, &str, Option<&str>, &[&str], &[&str], &[&str])] = &[
            (
                "dace-43!2026.2.3-py3-none-any.whl",
                "dace",
                "43!2026.2.3",
                None,
                &["py3"],
                &["none"],
                &["any"],
            ),
            (
                "dace-2025.5.40-py3-none-any.whl",
                "dace",
                "2025.5.40",
                None,
                &["py3"],
                &["none"],
                &["any"],
            ),
            (
                "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                "numpy",
                "1.26.4",
                None,
                &["cp311"],
                &["cp311"],
                &["manylinux_2_17_x86_64", "manylinux2014_x86_64"],
            ),
            (
                "torch-2.1.0+cu118-cp311-cp311-linux_x86_64.whl",
                "torch",
                "2.1.0+cu118",
                None,
                &["cp311"],
                &["cp311"],
                &["linux_x86_64"],
            ),
            (
                "six-1.16.0-py2.py3-none-any.whl",
                "six",
                "1.16.0",
                None,
                &["py2", "py3"],
                &["none"],
                &["any"],
            ),
            (
                "ghex-0.4.1-cp310-cp310-linux_x86_64.whl",
                "ghex",
                "0.4.1",
                None,
                &["cp310"],
                &["cp310"],
                &["linux_x86_64"],
            ),
            (
                "ghex-0.4.1-1-cp310-cp310-linux_x86_64.whl",
                "ghex",
                "0.4.1",
                Some("1"),
                &["cp310"],
                &["cp310"],
                &["linux_x86_64"],
            ),
            (
                "pkg-1.0-2b_nightly-py3-none-any.whl",
                "pkg",
                "1.0",
                Some("2b_nightly"),
                &["py3"],
                &["none"],
                &["any"],
            ),
            (
                "gt4py-1.0.4-py3-none-any.whl",
                "gt4py",
                "1.0.4",
                None,
                &["py3"],
                &["none"],
                &["any"],
            ),
            (
                "Friendly_Bard-1.0rc1.post2.dev3-py3-none-any.whl",
                "friendly-bard",
                "1.0rc1.post2.dev3",
                None,
                &["py3"],
                &["none"],
                &["any"],
            ),
            (
                "cryptography-42.0.5-cp39-abi3-macosx_10_12_universal2.whl",
                "cryptography",
                "42.0.5",
                None,
                &["cp39"],
                &["abi3"],
                &["macosx_10_12_universal2"],
            ),
            (
                "pywin32-306-cp312-cp312-win_amd64.whl",
                "pywin32",
                "306",
                None,
                &["cp312"],
                &["cp312"],
                &["win_amd64"],
            ),
            (
                "numpy-2.1.0-cp313-cp313t-musllinux_1_2_aarch64.whl",
                "numpy",
                "2.1.0",
                None,
                &["cp313"],
                &["cp313t"],
                &["musllinux_1_2_aarch64"],
            ),
            (
                "zope.interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                "zope-interface",
                "6.0",
                None,
                &["cp311"],
                &["cp311"],
                &["manylinux_2_17_x86_64"],
            ),
            (
                "cupy_cuda12x-13.0.0-cp311-cp311-manylinux2014_x86_64.whl",
                "cupy-cuda12x",
                "13.0.0",
                None,
                &["cp311"],
                &["cp311"],
                &["manylinux2014_x86_64"],
            ),
        ];
        for (filename, project, version, build, python, abi, platform) in cases {
            let parsed = DistFilename::parse(filename)
                .unwrap_or_else(|e| panic!("{filename} should parse: {e}"));
            assert_eq!(parsed.as_str(), *filename);
            assert_eq!(parsed.project().as_str(), *project, "{filename}");
            assert_eq!(parsed.version(), &v(version), "{filename}");
            assert_eq!(parsed.kind(), DistKind::Wheel);
            let tags = parsed.wheel_tags().unwrap();
            assert_eq!(tags.build.as_deref(), *build, "{filename}");
            assert_eq!(tags.python, strings(python), "{filename}");
            assert_eq!(tags.abi, strings(abi), "{filename}");
            assert_eq!(tags.platform, strings(platform), "{filename}");
        }
    }

    #[test]
    fn expands_compressed_tag_sets() {
        let parsed = DistFilename::parse(
            "x-1.0-py2.py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        )
        .unwrap();
        assert_eq!(
            parsed.wheel_tags().unwrap().expanded(),
            strings(&[
                "py2-none-manylinux_2_17_x86_64",
                "py2-none-manylinux2014_x86_64",
                "py3-none-manylinux_2_17_x86_64",
                "py3-none-manylinux2014_x86_64",
            ])
        );
    }

    #[test]
    fn parses_sdists_including_legacy_names() {
        for (filename, project, version, kind, stem) in [
            (
                "dace-2025.11.4.tar.gz",
                "dace",
                "2025.11.4",
                DistKind::SdistTarGz,
                "dace-2025.11.4",
            ),
            (
                "foo-bar-1.0.tar.gz",
                "foo-bar",
                "1.0",
                DistKind::SdistTarGz,
                "foo-bar-1.0",
            ),
            (
                "foo_bar-1.0.zip",
                "foo-bar",
                "1.0",
                DistKind::SdistZip,
                "foo_bar-1.0",
            ),
            (
                "dace-43!2026.2.3.tar.gz",
                "dace",
                "43!2026.2.3",
                DistKind::SdistTarGz,
                "dace-43!2026.2.3",
            ),
            (
                "gt4py-1.0.4.tar.gz",
                "gt4py",
                "1.0.4",
                DistKind::SdistTarGz,
                "gt4py-1.0.4",
            ),
            (
                "torch-2.1.0+cu118.tar.gz",
                "torch",
                "2.1.0+cu118",
                DistKind::SdistTarGz,
                "torch-2.1.0+cu118",
            ),
            (
                "Django-5.0.tar.gz",
                "django",
                "5.0",
                DistKind::SdistTarGz,
                "Django-5.0",
            ),
        ] {
            let parsed = DistFilename::parse(filename)
                .unwrap_or_else(|e| panic!("{filename} should parse: {e}"));
            assert_eq!(parsed.project().as_str(), project, "{filename}");
            assert_eq!(parsed.version(), &v(version), "{filename}");
            assert_eq!(parsed.kind(), kind, "{filename}");
            assert!(parsed.kind().is_sdist());
            assert!(parsed.wheel_tags().is_none());
            assert_eq!(parsed.stem(), stem);
        }
    }

    #[test]
    fn parses_every_filename_of_the_legacy_indexes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut seen = 0;
        for index in ["gt4py-index", "test-index"] {
            let page = root
                .join("legacy-index")
                .join(index)
                .join("dace/index.html");
            let Ok(html) = std::fs::read_to_string(&page) else {
                continue; // fixtures are optional outside the project's checkout
            };
            for line in html.lines() {
                let Some(rest) = line.split("\">").nth(1) else {
                    continue;
                };
                let Some(filename) = rest.split("</a>").next() else {
                    continue;
                };
                let parsed = DistFilename::parse(filename)
                    .unwrap_or_else(|e| panic!("{filename} should parse: {e}"));
                assert_eq!(parsed.project().as_str(), "dace");
                seen += 1;
            }
        }
        if root.exists() {
            assert!(seen >= 12, "only {seen} filenames found in the fixtures");
        }
    }

    #[test]
    fn refuses_with_a_specific_reason() {
        use FilenameError as E;
        type Check = fn(&FilenameError) -> bool;
        let long = format!("{}-1.0-py3-none-any.whl", "a".repeat(250));
        let cases: Vec<(&str, Check)> = vec![
            ("", |e| matches!(e, E::Empty)),
            (&long, |e| matches!(e, E::TooLong { .. })),
            ("x-1.0-py3-none-any.whl\0", |e| {
                matches!(e, E::ControlCharacter { .. })
            }),
            ("x-1.0-py3-none-any\n.whl", |e| {
                matches!(e, E::ControlCharacter { .. })
            }),
            ("x\u{1b}[2J-1.0.tar.gz", |e| {
                matches!(e, E::ControlCharacter { .. })
            }),
            ("dist/x-1.0-py3-none-any.whl", |e| {
                matches!(e, E::PathSeparator { .. })
            }),
            ("..\\x-1.0-py3-none-any.whl", |e| {
                matches!(e, E::PathSeparator { .. })
            }),
            ("x..y-1.0.tar.gz", |e| matches!(e, E::DotDot { .. })),
            ("..", |e| matches!(e, E::DotDot { .. })),
            (".x-1.0-py3-none-any.whl", |e| {
                matches!(e, E::LeadingDot { .. })
            }),
            ("dacé-1.0-py3-none-any.whl", |e| {
                matches!(e, E::NotAscii { .. })
            }),
            ("x-1.0 .tar.gz", |e| matches!(e, E::NotAscii { .. })),
            ("x-1.0\"><script>.tar.gz", |e| {
                matches!(e, E::NotAscii { .. })
            }),
            ("x-1.0-py3-none-any.whl#sha256=00", |e| {
                matches!(e, E::NotAscii { .. })
            }),
            ("x-1.0-py3.9.egg", |e| matches!(e, E::Egg { .. })),
            ("x-1.0.EGG", |e| matches!(e, E::Egg { .. })),
            ("x-1.0.win-amd64.exe", |e| {
                matches!(e, E::WindowsInstaller { .. })
            }),
            ("x-1.0.tar.bz2", |e| {
                matches!(e, E::UnsupportedArchive { .. })
            }),
            ("x-1.0.tgz", |e| matches!(e, E::UnsupportedArchive { .. })),
            ("x-1.0.tar.xz", |e| {
                matches!(e, E::UnsupportedArchive { .. })
            }),
            ("x-1.0.txt", |e| matches!(e, E::UnknownExtension { .. })),
            ("x-1.0-py3-none-any.WHL", |e| {
                matches!(e, E::UnknownExtension { .. })
            }),
            ("README", |e| matches!(e, E::UnknownExtension { .. })),
            ("x-1.0-any.whl", |e| {
                matches!(e, E::WheelParts { parts: 3, .. })
            }),
            ("x-1.0-py3-none.whl", |e| {
                matches!(e, E::WheelParts { parts: 4, .. })
            }),
            ("foo-bar-1.0-1-py3-none-any.whl", |e| {
                matches!(e, E::WheelParts { parts: 7, .. })
            }),
            ("x--1.0-py3-none-any.whl", |e| {
                matches!(e, E::EmptyPart { .. })
            }),
            ("x-1.0-py3-none-.whl", |e| matches!(e, E::EmptyPart { .. })),
            (".whl", |e| matches!(e, E::LeadingDot { .. })),
            ("-1.0.tar.gz", |e| matches!(e, E::EmptyPart { .. })),
            ("x-.tar.gz", |e| matches!(e, E::EmptyPart { .. })),
            ("x-1.0-beta-py3-none-any.whl", |e| {
                matches!(e, E::InvalidBuildTag { .. })
            }),
            ("x-1.0-py2..py3-none-any.whl", |e| {
                matches!(e, E::DotDot { .. })
            }),
            ("x-1.0-py2.-none-any.whl", |e| {
                matches!(e, E::InvalidTag { .. })
            }),
            ("x-1.0-py3-none-any!.whl", |e| {
                matches!(e, E::InvalidTag { .. })
            }),
            ("x-1.0-py3-none-any+x.whl", |e| {
                matches!(e, E::InvalidTag { .. })
            }),
            ("dace.tar.gz", |e| {
                matches!(e, E::SdistWithoutVersion { .. })
            }),
            ("_x-1.0-py3-none-any.whl", |e| {
                matches!(e, E::InvalidName { .. })
            }),
            ("x!-1.0.tar.gz", |e| matches!(e, E::InvalidName { .. })),
            ("x-one-py3-none-any.whl", |e| {
                matches!(e, E::InvalidVersion { .. })
            }),
            ("x-1.0.0.0.0.0.x.tar.gz", |e| {
                matches!(e, E::InvalidVersion { .. })
            }),
            ("x-1.0+-py3-none-any.whl", |e| {
                matches!(e, E::InvalidVersion { .. })
            }),
        ];
        for (filename, check) in cases {
            match DistFilename::parse(filename) {
                Ok(parsed) => panic!("{filename:?} should be refused, parsed as {parsed:?}"),
                Err(e) => assert!(check(&e), "{filename:?}: unexpected error {e:?}"),
            }
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = DistFilename::parse("x.egg").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`x.egg`: eggs are not supported by pip's index; build a wheel with \
             `python -m build --wheel`"
        );
        let e = DistFilename::parse("x-1.0.tar.bz2").unwrap_err();
        assert!(e.to_string().contains("python -m build --sdist"), "{e}");
        // Control characters never reach the terminal as they are.
        let e = DistFilename::parse("x\u{1b}[2J.whl").unwrap_err();
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
        assert!(e.to_string().contains("\\u{1b}"), "{e}");
    }

    #[test]
    fn a_255_byte_name_is_fine_and_256_is_not() {
        let suffix = "-1.0.tar.gz";
        let ok = format!("{}{suffix}", "a".repeat(MAX_FILENAME_LEN - suffix.len()));
        assert_eq!(ok.len(), 255);
        assert!(DistFilename::parse(&ok).is_ok());
        let too_long = format!("a{ok}");
        assert!(matches!(
            DistFilename::parse(&too_long),
            Err(FilenameError::TooLong { len: 256, .. })
        ));
    }
}
