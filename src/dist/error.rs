//! Why a distribution is refused: [`DistError`] (which file) and [`DistErrorReason`] (what is
//! wrong and what to do), and the escaping every message applies to text from an archive.

use std::io;
use std::path::PathBuf;

use zip::result::ZipError;

use crate::filename::FilenameError;
use crate::metadata::MetadataError;

/// A refused distribution: which file, and why.
#[derive(Debug, thiserror::Error)]
#[error("`{}` cannot be published", escape(&path.display().to_string()))]
pub struct DistError {
    pub path: PathBuf,
    #[source]
    pub reason: DistErrorReason,
}

/// Why a distribution was refused; one variant per reason, each message saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum DistErrorReason {
    #[error(transparent)]
    Filename(#[from] FilenameError),
    #[error("it is not a regular file; pass the path of a `.whl`, `.tar.gz` or `.zip` file")]
    NotAFile,
    #[error("the file cannot be read")]
    Unreadable(#[source] io::Error),
    #[error("the file is empty; rebuild the distribution")]
    Empty,
    #[error("the file is not a readable zip archive (truncated or corrupt?); rebuild it")]
    NotAZip(#[source] ZipError),
    #[error(
        "the file is not a readable gzip-compressed tar archive (truncated or corrupt?); rebuild it"
    )]
    UnreadableArchive(#[source] io::Error),
    #[error(
        "the zip archive lists the same entry name more than once, so tools could disagree on \
         its content; rebuild it"
    )]
    DuplicateEntryNames,
    #[error("the archive holds `{name}` more than once; rebuild it")]
    DuplicateEntry { name: String },
    #[error(
        "the zip archive's local headers disagree with its central directory (a sign of a \
         tampered or confused archive); rebuild it"
    )]
    InconsistentZip(#[source] ZipError),
    #[error(
        "the archive entry `{name}` {problem}; archives must only hold relative paths inside \
         the package, rebuild it"
    )]
    UnsafeEntryName { name: String, problem: &'static str },
    #[error(
        "the archive entry `{name}` links to `{target}`, outside the archive; remove the link \
         and rebuild"
    )]
    UnsafeLinkTarget { name: String, target: String },
    #[error("the archive entry `{name}` is a {kind}; sdists only hold files, folders and links")]
    UnsupportedEntryType { name: String, kind: &'static str },
    #[error("the archive entry `{name}` is encrypted; pip cannot install it")]
    EncryptedEntry { name: String },
    #[error(
        "the archive entry `{name}` uses compression method {method}; only stored and deflate \
         are accepted (what every build backend writes)"
    )]
    UnsupportedCompression { name: String, method: String },
    #[error(
        "the archive declares {total} bytes of uncompressed content, more than the limit of \
         {limit} bytes"
    )]
    TooMuchData { total: u64, limit: u64 },
    #[error(
        "the archive entry `{name}` declares {size} bytes stored in {compressed}, a compression \
         ratio no real file has (a zip bomb?)"
    )]
    SuspiciousCompressionRatio {
        name: String,
        size: u64,
        compressed: u64,
    },
    #[error("`{name}` is larger than the {limit} bytes accepted for it")]
    EntryTooLarge { name: String, limit: u64 },
    #[error("the archive entry `{name}` is corrupt; rebuild the distribution")]
    CorruptEntry {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "the wheel has no `NAME-VERSION.dist-info/` folder; build it with a standard backend \
         (`python -m build --wheel`)"
    )]
    NoDistInfo,
    #[error(
        "the wheel has more than one `.dist-info/` folder ({}); a wheel holds exactly one, \
         rebuild it",
        found.join(", ")
    )]
    MultipleDistInfo { found: Vec<String> },
    #[error(
        "the wheel's metadata folder is `{found}`, which does not match the filename (expected \
         `{expected}`, compared after normalization); rename the file as the build tool named \
         it or rebuild"
    )]
    DistInfoMismatch { found: String, expected: String },
    #[error("the wheel has no `{file}`; rebuild it with a standard backend")]
    MissingDistInfoFile { file: String },
    #[error("`{file}` is invalid")]
    InvalidMetadata {
        file: String,
        #[source]
        source: MetadataError,
    },
    #[error(
        "`{file}` says `Name: {found}` but the filename says `{expected}`; rename the file as \
         the build tool named it or rebuild"
    )]
    NameMismatch {
        file: String,
        found: String,
        expected: String,
    },
    #[error(
        "`{file}` says `Version: {found}` but the filename says `{expected}`; rename the file as \
         the build tool named it or rebuild"
    )]
    VersionMismatch {
        file: String,
        found: String,
        expected: String,
    },
    #[error("the wheel's `WHEEL` file is invalid: {problem}; rebuild the wheel")]
    InvalidWheelFile { problem: String },
    #[error(
        "the wheel's format is `Wheel-Version: {version}`; pip installs version 1.x wheels only"
    )]
    UnsupportedWheelVersion { version: String },
    #[error(
        "the `WHEEL` file's tags ({}) differ from the filename's ({}); rename the file as the \
         build tool named it (or fix it with `wheel tags`)",
        in_wheel.join(", "),
        in_filename.join(", ")
    )]
    WheelTagsMismatch {
        in_wheel: Vec<String>,
        in_filename: Vec<String>,
    },
    #[error(
        "the `WHEEL` file's `Build: {in_wheel}` differs from the filename's build tag `{}`",
        in_filename.as_deref().unwrap_or("(none)")
    )]
    BuildTagMismatch {
        in_wheel: String,
        in_filename: Option<String>,
    },
    #[error("RECORD line {line} is invalid: {problem}; rebuild the wheel")]
    InvalidRecord { line: usize, problem: String },
    #[error("RECORD lists `{name}` more than once; rebuild the wheel")]
    DuplicateRecordEntry { name: String },
    #[error(
        "`{name}` is in the wheel but not in its RECORD, so nothing vouches for its content; \
         rebuild the wheel"
    )]
    FileNotInRecord { name: String },
    #[error("RECORD lists `{name}`, which is not in the wheel; rebuild the wheel")]
    RecordedFileMissing { name: String },
    #[error("RECORD gives no hash for `{name}`; rebuild the wheel")]
    RecordEntryWithoutHash { name: String },
    #[error("RECORD gives no size for `{name}`; rebuild the wheel")]
    RecordEntryWithoutSize { name: String },
    #[error(
        "RECORD hashes `{name}` with {algorithm}, which is too weak (sha256 or better is \
         required); rebuild the wheel with a current backend"
    )]
    WeakRecordHash { name: String, algorithm: String },
    #[error(
        "RECORD hashes `{name}` with `{algorithm}`, which is not supported (use sha256, sha384 \
         or sha512)"
    )]
    UnsupportedRecordHash { name: String, algorithm: String },
    #[error(
        "`{name}` is {actual} bytes but RECORD says {recorded}; the wheel was modified after it \
         was built, rebuild it"
    )]
    RecordSizeMismatch {
        name: String,
        recorded: u64,
        actual: u64,
    },
    #[error(
        "`{name}` decompresses to more than the {recorded} bytes RECORD says (a zip bomb or a \
         modified wheel); rebuild it"
    )]
    EntryExceedsRecordedSize { name: String, recorded: u64 },
    #[error(
        "the content of `{name}` does not match its hash in RECORD; the wheel was modified \
         after it was built, rebuild it"
    )]
    RecordHashMismatch { name: String },
    #[error(
        "the sdist has no `{expected}`{}; an sdist holds its metadata at `NAME-VERSION/PKG-INFO` \
         named as the file is; build it with `python -m build --sdist`",
        found.as_ref().map(|f| format!(" (only `{f}`, which is not at the top)")).unwrap_or_default()
    )]
    MissingPkgInfo {
        expected: String,
        found: Option<String>,
    },
}

/// Text from an archive or a command line, with control characters escaped so that a message
/// can never rewrite the terminal or forge a log line.
pub(super) fn escape(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.escape_debug().to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::validate;
    use gt4py_testkit::dist_builder::{WheelBuilder, core_metadata};

    #[test]
    fn the_error_names_the_file_and_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = WheelBuilder::new("dace", "1.0")
            .metadata_override(&core_metadata("other", "1.0", None))
            .build(dir.path())
            .unwrap();
        let err = validate(&path).unwrap_err();
        assert!(
            err.to_string().contains("dace-1.0-py3-none-any.whl"),
            "{err}"
        );
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains("Name: other"), "{cause}");
    }
}
