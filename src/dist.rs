//! A distribution file given on the command line, validated before anything is written.
//!
//! [`validate`] reads a wheel or an sdist without extracting it, and either returns a
//! [`DistFile`] (filename, digests, core metadata) or a [`DistError`] that names the file and
//! says what is wrong and what to do. Everything it reads is untrusted: every read is capped,
//! no size a header declares is believed, and nothing on any input may panic.
//!
//! Wheels are checked the way an installer relies on them: a sane zip, one `.dist-info` folder
//! that matches the filename, METADATA and WHEEL that agree with the filename, and a RECORD that
//! lists every file with a hash and size the content matches. Sdists (`.tar.gz`, `.zip`) must
//! have `NAME-VERSION/PKG-INFO` at the top and agree with their filename.
//!
//! Limits (why these numbers):
//! - [`MAX_METADATA_SIZE`] (16 MiB) for METADATA, WHEEL and PKG-INFO: real ones are a few KiB
//!   to a few hundred KiB (long descriptions); the cap only has to stop a hostile one.
//! - [`MAX_RECORD_SIZE`] (64 MiB) for RECORD: about 100 bytes per file, so room for more than
//!   half a million files.
//! - [`MAX_TOTAL_UNCOMPRESSED`] (8 GiB) declared in total: far above the 100 MB GitHub lets us
//!   store even at 80:1 compression, far below what hurts a runner's disk or time budget.
//! - [`MAX_COMPRESSION_RATIO`] (2,000:1, checked for entries above 1 MiB): deflate cannot do
//!   better than about 1,032:1, so a higher declared ratio is a header that lies; refusing it
//!   before reading keeps bombs from costing any time at all.
//! - Every other wheel entry is streamed through its hash with a bound of the size RECORD gives
//!   plus one byte, so an entry that inflates to more than recorded stops at that byte.
//! - [`MAX_TAR_ENTRY_HEADERS`] (1 MiB) for the headers of one sdist entry (its 512-byte header,
//!   GNU long names, PAX records), [`MAX_TAR_HEADERS`] (256 MiB) for all of them: the tar reader
//!   loads long names and PAX records whole, so without a cap a tiny `.tar.gz` could inflate one
//!   name to gigabytes in memory, or millions of empty entries could take hours. Real entries
//!   have headers of 512 to 1,536 bytes; 256 MiB is room for half a million files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pep440_rs::Version;
use sha2::{Digest, Sha256, Sha384, Sha512};
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use crate::filename::{DistFilename, DistKind, FilenameError};
use crate::hashing::{FileDigests, digest_reader};
use crate::metadata::{self, CoreMetadata, MetadataError};
use crate::name::ProjectName;

/// Cap on METADATA, WHEEL and PKG-INFO, decompressed.
pub const MAX_METADATA_SIZE: u64 = 16 << 20;
/// Cap on RECORD, decompressed.
pub const MAX_RECORD_SIZE: u64 = 64 << 20;
/// Cap on the uncompressed size of all entries together, as declared by the archive.
pub const MAX_TOTAL_UNCOMPRESSED: u64 = 8 << 30;
/// Highest declared uncompressed:compressed ratio accepted for an entry above
/// [`RATIO_CHECK_MIN_SIZE`].
pub const MAX_COMPRESSION_RATIO: u64 = 2_000;
/// Entries up to this size are not ratio-checked (tiny files of zeros compress absurdly well).
pub const RATIO_CHECK_MIN_SIZE: u64 = 1 << 20;
/// Cap on the decompressed header bytes of one sdist (tar) entry: header, long names, PAX.
pub const MAX_TAR_ENTRY_HEADERS: u64 = 1 << 20;
/// Cap on the decompressed header bytes of all sdist (tar) entries together.
pub const MAX_TAR_HEADERS: u64 = 256 << 20;

/// A distribution that passed validation.
#[derive(Debug, Clone)]
pub struct DistFile {
    pub path: PathBuf,
    pub filename: DistFilename,
    /// sha256, git blob sha and size of the whole file.
    pub digests: FileDigests,
    pub metadata: CoreMetadata,
    /// Wheels: the METADATA file byte for byte (published as `FILENAME.metadata`, PEP 658).
    /// `None` for sdists.
    pub metadata_bytes: Option<Vec<u8>>,
}

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

/// Validates the distribution at `path`; see the module docs for what is checked.
pub fn validate(path: &Path) -> Result<DistFile, DistError> {
    validate_with_progress(path, &|_| {})
}

/// [`validate`], telling `progress` how many bytes of the file were hashed so far (a bar for
/// a 300 MB wheel on a terminal).
pub fn validate_with_progress(path: &Path, progress: &dyn Fn(u64)) -> Result<DistFile, DistError> {
    validate_inner(path, progress).map_err(|reason| DistError {
        path: path.to_path_buf(),
        reason,
    })
}

/// Counts bytes read through it.
struct Counted<'a, R> {
    inner: R,
    progress: &'a dyn Fn(u64),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}

fn validate_inner(path: &Path, progress: &dyn Fn(u64)) -> Result<DistFile, DistErrorReason> {
    let name = path.file_name().unwrap_or_default();
    let name = name.to_str().ok_or_else(|| FilenameError::NotAscii {
        filename: name.to_string_lossy().into_owned(),
    })?;
    let filename = DistFilename::parse(name)?;

    let mut file = File::open(path).map_err(DistErrorReason::Unreadable)?;
    let stat = file.metadata().map_err(DistErrorReason::Unreadable)?;
    if !stat.is_file() {
        return Err(DistErrorReason::NotAFile);
    }
    if stat.len() == 0 {
        return Err(DistErrorReason::Empty);
    }
    // Hash and inspect through one handle, so both see the same file even if the path is
    // replaced meanwhile.
    let digests = digest_reader(
        &mut Counted {
            inner: &mut file,
            progress,
        },
        stat.len(),
    )
    .map_err(DistErrorReason::Unreadable)?;
    file.seek(SeekFrom::Start(0))
        .map_err(DistErrorReason::Unreadable)?;
    let reader = BufReader::with_capacity(256 * 1024, file);
    let (metadata, metadata_bytes) = inspect(reader, &filename)?;
    Ok(DistFile {
        path: path.to_path_buf(),
        filename,
        digests,
        metadata,
        metadata_bytes,
    })
}

/// [`validate`] for a distribution held in memory: `filename` is its name (not a path), `bytes`
/// its content. Every check on the content is the same; only the file-system ones (a regular
/// file, readable) have nothing to check. The fuzz targets and property tests call this.
pub fn validate_bytes(filename: &str, bytes: &[u8]) -> Result<DistFile, DistError> {
    validate_bytes_inner(filename, bytes).map_err(|reason| DistError {
        path: PathBuf::from(filename),
        reason,
    })
}

fn validate_bytes_inner(filename: &str, bytes: &[u8]) -> Result<DistFile, DistErrorReason> {
    let parsed = DistFilename::parse(filename)?;
    if bytes.is_empty() {
        return Err(DistErrorReason::Empty);
    }
    let digests =
        digest_reader(&mut &bytes[..], bytes.len() as u64).map_err(DistErrorReason::Unreadable)?;
    let (metadata, metadata_bytes) = inspect(io::Cursor::new(bytes), &parsed)?;
    Ok(DistFile {
        path: PathBuf::from(filename),
        filename: parsed,
        digests,
        metadata,
        metadata_bytes,
    })
}

/// The content checks of every kind of distribution: its core metadata, and for a wheel the
/// METADATA file byte for byte.
fn inspect<R: Read + Seek>(
    reader: R,
    filename: &DistFilename,
) -> Result<(CoreMetadata, Option<Vec<u8>>), DistErrorReason> {
    Ok(match filename.kind() {
        DistKind::Wheel => {
            let (metadata, bytes) = validate_wheel(reader, filename)?;
            (metadata, Some(bytes))
        }
        DistKind::SdistTarGz => (validate_sdist_tar_gz(reader, filename)?, None),
        DistKind::SdistZip => (validate_sdist_zip(reader, filename)?, None),
    })
}

/// One zip entry, as its central directory describes it.
#[derive(Debug)]
struct ZipEntry {
    index: usize,
    name: String,
    is_dir: bool,
    size: u64,
}

/// Opens a zip and checks its structure and every entry's header, reading no content.
fn open_zip<R: Read + Seek>(reader: R) -> Result<(ZipArchive<R>, Vec<ZipEntry>), DistErrorReason> {
    let mut zip = ZipArchive::new(reader).map_err(DistErrorReason::NotAZip)?;
    if zip.has_duplicate_names() {
        return Err(DistErrorReason::DuplicateEntryNames);
    }
    // Local headers that disagree with the central directory, overlapping entries and
    // hidden local headers all let two zip readers see different files.
    zip.validate_header_consistency()
        .map_err(DistErrorReason::InconsistentZip)?;

    let mut entries = Vec::with_capacity(zip.len());
    let mut total: u64 = 0;
    for index in 0..zip.len() {
        let entry = zip.by_index_data(index).map_err(DistErrorReason::NotAZip)?;
        let name = match entry.name() {
            Ok(name) => name.into_owned(),
            Err(_) => {
                return Err(DistErrorReason::UnsafeEntryName {
                    name: escape(&String::from_utf8_lossy(entry.name_raw())),
                    problem: "is not valid UTF-8",
                });
            }
        };
        if let Some(problem) = entry_name_problem(&name) {
            return Err(DistErrorReason::UnsafeEntryName {
                name: escape(&name),
                problem,
            });
        }
        let is_dir = entry.is_dir();
        if entry.encrypted() {
            return Err(DistErrorReason::EncryptedEntry {
                name: escape(&name),
            });
        }
        let method = entry.compression();
        if !matches!(
            method,
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(DistErrorReason::UnsupportedCompression {
                name: escape(&name),
                method: format!("{method:?}"),
            });
        }
        let size = entry.size();
        let compressed = entry.compressed_size();
        if size > RATIO_CHECK_MIN_SIZE && size / compressed.max(1) > MAX_COMPRESSION_RATIO {
            return Err(DistErrorReason::SuspiciousCompressionRatio {
                name: escape(&name),
                size,
                compressed,
            });
        }
        total = total.saturating_add(size);
        if total > MAX_TOTAL_UNCOMPRESSED {
            return Err(DistErrorReason::TooMuchData {
                total: declared_total(&zip),
                limit: MAX_TOTAL_UNCOMPRESSED,
            });
        }
        entries.push(ZipEntry {
            index,
            name,
            is_dir,
            size,
        });
    }
    Ok((zip, entries))
}

/// The sum of every entry's declared size, for the message.
fn declared_total<R: Read + Seek>(zip: &ZipArchive<R>) -> u64 {
    (0..zip.len())
        .filter_map(|i| zip.by_index_data(i).ok())
        .fold(0u64, |sum, e| sum.saturating_add(e.size()))
}

/// What makes an archive entry name unsafe or ambiguous, if anything.
fn entry_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("has an empty name");
    }
    if name.chars().any(char::is_control) {
        return Some("contains a NUL or control character");
    }
    if name.contains('\\') {
        return Some("contains a backslash (`\\`)");
    }
    if name.starts_with('/') {
        return Some("is an absolute path");
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if name.ends_with('/') {
        components.pop();
    }
    if let Some(first) = components.first() {
        let bytes = first.as_bytes();
        if bytes.len() >= 2
            && bytes.first().is_some_and(u8::is_ascii_alphabetic)
            && bytes.get(1) == Some(&b':')
        {
            return Some("starts with a drive letter");
        }
    }
    if components.contains(&"..") {
        return Some("contains a `..` component");
    }
    if components.iter().any(|c| c.is_empty() || *c == ".") {
        return Some("contains an empty or `.` component");
    }
    None
}

/// Reads a zip entry's decompressed content into `sink`, at most `limit` + 1 bytes, checking
/// the CRC and the declared size when the end is reached. Decompression is done here rather
/// than by the `zip` crate so that reading past a limit can be told apart from corruption.
/// Returns the number of bytes read (`limit + 1` means "more than `limit`").
fn stream_zip_entry<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    entry: &ZipEntry,
    limit: u64,
    sink: &mut dyn FnMut(&[u8]),
) -> Result<u64, DistErrorReason> {
    let corrupt = |source: io::Error| DistErrorReason::CorruptEntry {
        name: escape(&entry.name),
        source,
    };
    let raw = zip
        .by_index_raw(entry.index)
        .map_err(|e| corrupt(io::Error::other(e)))?;
    let expected_crc = raw.crc32();
    let declared = raw.size();
    let method = raw.compression();
    let decompressed: Box<dyn Read + '_> = match method {
        CompressionMethod::Stored => Box::new(raw),
        _ => Box::new(flate2::read::DeflateDecoder::new(raw)),
    };
    let mut bounded = decompressed.take(limit.saturating_add(1));
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut count: u64 = 0;
    loop {
        let n = match bounded.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        crc.update(chunk);
        sink(chunk);
        count = count.saturating_add(n as u64);
    }
    if count > limit {
        return Ok(count);
    }
    if count != declared {
        return Err(corrupt(io::Error::other(format!(
            "it decompresses to {count} bytes, its header declares {declared}"
        ))));
    }
    if crc.finalize() != expected_crc {
        return Err(corrupt(io::Error::other(
            "its CRC-32 does not match its content",
        )));
    }
    Ok(count)
}

/// Reads a whole small entry (METADATA, WHEEL, RECORD, PKG-INFO), refusing one over `limit`.
fn read_zip_entry<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    entry: &ZipEntry,
    limit: u64,
) -> Result<Vec<u8>, DistErrorReason> {
    let too_large = || DistErrorReason::EntryTooLarge {
        name: escape(&entry.name),
        limit,
    };
    if entry.size > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
    let count = stream_zip_entry(zip, entry, limit, &mut |chunk| {
        bytes.extend_from_slice(chunk)
    })?;
    if count > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

fn validate_wheel<R: Read + Seek>(
    reader: R,
    filename: &DistFilename,
) -> Result<(CoreMetadata, Vec<u8>), DistErrorReason> {
    let (mut zip, entries) = open_zip(reader)?;

    let mut dist_infos = BTreeSet::new();
    for entry in &entries {
        if let Some((top, rest)) = entry.name.split_once('/')
            && top.ends_with(".dist-info")
            && (!rest.is_empty() || entry.is_dir)
        {
            dist_infos.insert(top.to_string());
        }
    }
    let dist_info = match dist_infos.len() {
        0 => return Err(DistErrorReason::NoDistInfo),
        1 => dist_infos.pop_first().unwrap_or_default(),
        _ => {
            return Err(DistErrorReason::MultipleDistInfo {
                found: dist_infos
                    .iter()
                    .map(|d| escape(&format!("{d}/")))
                    .collect(),
            });
        }
    };
    check_dist_info_name(&dist_info, filename)?;

    let by_name: BTreeMap<&str, &ZipEntry> = entries
        .iter()
        .filter(|e| !e.is_dir)
        .map(|e| (e.name.as_str(), e))
        .collect();
    let dist_info_entry = |file: &str| {
        let name = format!("{dist_info}/{file}");
        by_name
            .get(name.as_str())
            .copied()
            .ok_or(DistErrorReason::MissingDistInfoFile {
                file: escape(&name),
            })
    };
    let metadata_entry = dist_info_entry("METADATA")?;
    let wheel_entry = dist_info_entry("WHEEL")?;
    let record_entry = dist_info_entry("RECORD")?;

    let metadata_bytes = read_zip_entry(&mut zip, metadata_entry, MAX_METADATA_SIZE)?;
    let metadata_name = escape(&metadata_entry.name);
    let metadata = CoreMetadata::parse(&metadata_bytes).map_err(|source| {
        DistErrorReason::InvalidMetadata {
            file: metadata_name.clone(),
            source,
        }
    })?;
    check_name_and_version(&metadata_name, &metadata, filename)?;

    let wheel_bytes = read_zip_entry(&mut zip, wheel_entry, MAX_METADATA_SIZE)?;
    check_wheel_file(&wheel_bytes, filename)?;

    let record_bytes = read_zip_entry(&mut zip, record_entry, MAX_RECORD_SIZE)?;
    let record = parse_record(&record_bytes)?;
    verify_record(&mut zip, &entries, &by_name, &record, &dist_info)?;

    Ok((metadata, metadata_bytes))
}

/// `NAME-VERSION.dist-info` must name the filename's project and version.
fn check_dist_info_name(dist_info: &str, filename: &DistFilename) -> Result<(), DistErrorReason> {
    let matches = dist_info
        .strip_suffix(".dist-info")
        .and_then(|stem| stem.rsplit_once('-'))
        .is_some_and(|(name, version)| {
            ProjectName::new(name).is_ok_and(|n| &n == filename.project())
                && Version::from_str(version).is_ok_and(|v| &v == filename.version())
        });
    if matches {
        Ok(())
    } else {
        Err(DistErrorReason::DistInfoMismatch {
            found: escape(&format!("{dist_info}/")),
            expected: format!("{}-{}.dist-info/", filename.project(), filename.version()),
        })
    }
}

fn check_name_and_version(
    file: &str,
    metadata: &CoreMetadata,
    filename: &DistFilename,
) -> Result<(), DistErrorReason> {
    if &metadata.project != filename.project() {
        return Err(DistErrorReason::NameMismatch {
            file: file.to_string(),
            found: metadata.name.clone(),
            expected: filename.project().to_string(),
        });
    }
    if &metadata.version != filename.version() {
        return Err(DistErrorReason::VersionMismatch {
            file: file.to_string(),
            found: metadata.version.to_string(),
            expected: filename.version().to_string(),
        });
    }
    Ok(())
}

/// The `WHEEL` file: format version 1.x, and the tags the filename promises.
fn check_wheel_file(bytes: &[u8], filename: &DistFilename) -> Result<(), DistErrorReason> {
    let invalid = |problem: String| DistErrorReason::InvalidWheelFile { problem };
    let headers = metadata::parse_headers(bytes).map_err(|e| invalid(e.to_string()))?;
    let version = metadata::single(&headers, "Wheel-Version")
        .map_err(|e| invalid(e.to_string()))?
        .ok_or_else(|| invalid("it has no `Wheel-Version`".to_string()))?
        .trim();
    let major = version.split_once('.').map_or(version, |(major, _)| major);
    if major != "1" {
        return Err(DistErrorReason::UnsupportedWheelVersion {
            version: escape(version),
        });
    }

    let tags = filename.wheel_tags();
    let in_filename: BTreeSet<String> = tags
        .map(|t| t.expanded())
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    // A compressed tag set expands to the product of its three sets: a few KiB of `Tag: a.a.…`
    // would be billions of tags. A real WHEEL lists each of the filename's tags once or a few
    // times; more than this many is refused before they are expanded.
    let max_tags = in_filename.len().saturating_mul(4).saturating_add(1024);
    let mut expanded: usize = 0;
    let mut in_wheel = BTreeSet::new();
    for tag in metadata::all(&headers, "Tag") {
        // Tags are written expanded; expanding a compressed one too costs nothing.
        let parts: Vec<&str> = tag.trim().split('-').collect();
        let [python, abi, platform] = parts.as_slice() else {
            return Err(invalid(format!(
                "`Tag: {}` is not PYTHON-ABI-PLATFORM",
                escape(tag)
            )));
        };
        let count = [python, abi, platform]
            .iter()
            .fold(1usize, |n, set| n.saturating_mul(set.split('.').count()));
        expanded = expanded.saturating_add(count);
        if expanded > max_tags {
            return Err(invalid(format!(
                "its `Tag` lines stand for more than {max_tags} tags"
            )));
        }
        for p in python.split('.') {
            for a in abi.split('.') {
                for pl in platform.split('.') {
                    in_wheel.insert(format!("{p}-{a}-{pl}").to_ascii_lowercase());
                }
            }
        }
    }
    if in_wheel.is_empty() {
        return Err(invalid("it has no `Tag` lines".to_string()));
    }
    if in_wheel != in_filename {
        return Err(DistErrorReason::WheelTagsMismatch {
            in_wheel: in_wheel.iter().map(|t| escape(t)).collect(),
            in_filename: in_filename.into_iter().collect(),
        });
    }

    let build_in_filename = tags.and_then(|t| t.build.clone());
    if let Some(build) = metadata::single(&headers, "Build").map_err(|e| invalid(e.to_string()))? {
        let build = build.trim();
        if Some(build) != build_in_filename.as_deref() {
            return Err(DistErrorReason::BuildTagMismatch {
                in_wheel: escape(build),
                in_filename: build_in_filename,
            });
        }
    }
    Ok(())
}

/// A hash algorithm RECORD may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: HashAlgorithm) -> Self {
        match algorithm {
            HashAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            HashAlgorithm::Sha384 => Hasher::Sha384(Sha384::new()),
            HashAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// One row of RECORD: a path with its hash and size, when given.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RecordRow {
    line: usize,
    path: String,
    hash: String,
    size: String,
}

/// Parses RECORD as Python's `csv` module (default dialect) reads it: `,`-separated fields,
/// optionally double-quoted with `""` for a quote, quoted fields may hold line breaks, rows end
/// at `\n`, `\r\n` or `\r`. Blank lines are skipped.
fn parse_record(bytes: &[u8]) -> Result<Vec<RecordRow>, DistErrorReason> {
    let text = std::str::from_utf8(bytes).map_err(|e| DistErrorReason::InvalidRecord {
        line: 1 + bytes
            .get(..e.valid_up_to())
            .unwrap_or_default()
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        problem: "it is not valid UTF-8".to_string(),
    })?;

    #[derive(Clone, Copy, PartialEq)]
    enum State {
        StartField,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut rows = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut state = State::StartField;
    let mut line = 1usize;
    let mut row_line = 1usize;
    let mut chars = text.chars().peekable();

    let mut end_row = |fields: &mut Vec<String>, row_line: usize| -> Result<(), DistErrorReason> {
        let row = std::mem::take(fields);
        if row.len() == 1 && row.first().is_some_and(String::is_empty) {
            return Ok(()); // a blank line
        }
        match <[String; 3]>::try_from(row) {
            Ok([path, hash, size]) => {
                rows.push(RecordRow {
                    line: row_line,
                    path,
                    hash,
                    size,
                });
                Ok(())
            }
            Err(row) => Err(DistErrorReason::InvalidRecord {
                line: row_line,
                problem: format!("it has {} fields, expected 3 (path,hash,size)", row.len()),
            }),
        }
    };

    while let Some(c) = chars.next() {
        let newline = c == '\n' || c == '\r';
        if newline && c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
        }
        match state {
            State::Quoted => {
                if c == '"' {
                    state = State::QuoteInQuoted;
                } else {
                    field.push(c);
                }
                if newline {
                    line = line.saturating_add(1);
                }
                continue;
            }
            State::QuoteInQuoted if c == '"' => {
                field.push('"');
                state = State::Quoted;
                continue;
            }
            State::StartField if c == '"' => {
                state = State::Quoted;
                continue;
            }
            _ => {}
        }
        if c == ',' {
            fields.push(std::mem::take(&mut field));
            state = State::StartField;
        } else if newline {
            fields.push(std::mem::take(&mut field));
            end_row(&mut fields, row_line)?;
            state = State::StartField;
            line = line.saturating_add(1);
            row_line = line;
        } else {
            // Like Python, text after a closing quote is kept as it is.
            field.push(c);
            state = State::Unquoted;
        }
    }
    if state == State::Quoted {
        return Err(DistErrorReason::InvalidRecord {
            line: row_line,
            problem: "a quoted field is not closed".to_string(),
        });
    }
    if !(fields.is_empty() && field.is_empty() && state == State::StartField) {
        fields.push(field);
        end_row(&mut fields, row_line)?;
    }
    Ok(rows)
}

/// Every file is in RECORD, everything in RECORD is in the wheel, and every file's content
/// has the recorded size and hash.
fn verify_record<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    entries: &[ZipEntry],
    by_name: &BTreeMap<&str, &ZipEntry>,
    record: &[RecordRow],
    dist_info: &str,
) -> Result<(), DistErrorReason> {
    let record_path = format!("{dist_info}/RECORD");
    // RECORD cannot hold its own hash; its signatures are added after it is written.
    let exempt = |name: &str| {
        name == record_path
            || name == format!("{record_path}.jws")
            || name == format!("{record_path}.p7s")
    };

    let mut rows: BTreeMap<&str, &RecordRow> = BTreeMap::new();
    for row in record {
        if rows.insert(row.path.as_str(), row).is_some() {
            return Err(DistErrorReason::DuplicateRecordEntry {
                name: escape(&row.path),
            });
        }
    }
    for entry in entries.iter().filter(|e| !e.is_dir) {
        if !exempt(&entry.name) && !rows.contains_key(entry.name.as_str()) {
            return Err(DistErrorReason::FileNotInRecord {
                name: escape(&entry.name),
            });
        }
    }

    // Check every row before reading any content: cheap refusals first.
    let mut to_verify = Vec::new();
    for row in record {
        let Some(entry) = by_name.get(row.path.as_str()).copied() else {
            return Err(DistErrorReason::RecordedFileMissing {
                name: escape(&row.path),
            });
        };
        if exempt(&row.path) {
            continue;
        }
        let name = || escape(&row.path);
        if row.hash.is_empty() {
            return Err(DistErrorReason::RecordEntryWithoutHash { name: name() });
        }
        let (algorithm, expected) = parse_record_hash(row)?;
        if row.size.is_empty() {
            return Err(DistErrorReason::RecordEntryWithoutSize { name: name() });
        }
        let recorded: u64 = row
            .size
            .parse()
            .map_err(|_| DistErrorReason::InvalidRecord {
                line: row.line,
                problem: format!("the size `{}` is not a number", escape(&row.size)),
            })?;
        if recorded != entry.size {
            return Err(DistErrorReason::RecordSizeMismatch {
                name: name(),
                recorded,
                actual: entry.size,
            });
        }
        to_verify.push((entry, algorithm, expected, recorded));
    }

    for (entry, algorithm, expected, recorded) in to_verify {
        let mut hasher = Hasher::new(algorithm);
        let count = stream_zip_entry(zip, entry, recorded, &mut |chunk| hasher.update(chunk))?;
        if count > recorded {
            return Err(DistErrorReason::EntryExceedsRecordedSize {
                name: escape(&entry.name),
                recorded,
            });
        }
        if hasher.finish() != expected {
            return Err(DistErrorReason::RecordHashMismatch {
                name: escape(&entry.name),
            });
        }
    }
    Ok(())
}

/// `sha256=<urlsafe base64>` → the algorithm and the digest bytes.
fn parse_record_hash(row: &RecordRow) -> Result<(HashAlgorithm, Vec<u8>), DistErrorReason> {
    let name = || escape(&row.path);
    let Some((algorithm, value)) = row.hash.split_once('=') else {
        return Err(DistErrorReason::InvalidRecord {
            line: row.line,
            problem: format!("the hash `{}` is not ALGORITHM=VALUE", escape(&row.hash)),
        });
    };
    let algorithm = match algorithm.to_ascii_lowercase().as_str() {
        "sha256" => HashAlgorithm::Sha256,
        "sha384" => HashAlgorithm::Sha384,
        "sha512" => HashAlgorithm::Sha512,
        "md5" | "sha1" | "sha224" => {
            return Err(DistErrorReason::WeakRecordHash {
                name: name(),
                algorithm: escape(algorithm),
            });
        }
        _ => {
            return Err(DistErrorReason::UnsupportedRecordHash {
                name: name(),
                algorithm: escape(algorithm),
            });
        }
    };
    // The spec says no padding; some tools pad anyway, which changes nothing.
    let digest = URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .ok()
        .filter(|d| d.len() == algorithm.digest_len())
        .ok_or_else(|| DistErrorReason::InvalidRecord {
            line: row.line,
            problem: format!(
                "the hash of `{}` is not a urlsafe-base64 {algorithm:?} digest",
                name()
            ),
        })?;
    Ok((algorithm, digest))
}

/// Where an sdist's PKG-INFO must be, and what else was seen.
struct PkgInfoSearch {
    expected: String,
    found: Option<Vec<u8>>,
    elsewhere: Option<String>,
}

impl PkgInfoSearch {
    fn new(filename: &DistFilename) -> Self {
        PkgInfoSearch {
            expected: format!("{}/PKG-INFO", filename.stem()),
            found: None,
            elsewhere: None,
        }
    }

    /// Whether `name` is the PKG-INFO to read; remembers the first misplaced one for the hint.
    fn wants(&mut self, name: &str) -> Result<bool, DistErrorReason> {
        if name == self.expected {
            if self.found.is_some() {
                return Err(DistErrorReason::DuplicateEntry { name: escape(name) });
            }
            return Ok(true);
        }
        if self.elsewhere.is_none() && (name == "PKG-INFO" || name.ends_with("/PKG-INFO")) {
            self.elsewhere = Some(escape(name));
        }
        Ok(false)
    }

    fn finish(self, filename: &DistFilename) -> Result<CoreMetadata, DistErrorReason> {
        let Some(bytes) = self.found else {
            return Err(DistErrorReason::MissingPkgInfo {
                expected: escape(&self.expected),
                found: self.elsewhere,
            });
        };
        let metadata =
            CoreMetadata::parse(&bytes).map_err(|source| DistErrorReason::InvalidMetadata {
                file: escape(&self.expected),
                source,
            })?;
        check_name_and_version(&escape(&self.expected), &metadata, filename)?;
        Ok(metadata)
    }
}

fn validate_sdist_zip<R: Read + Seek>(
    reader: R,
    filename: &DistFilename,
) -> Result<CoreMetadata, DistErrorReason> {
    let (mut zip, entries) = open_zip(reader)?;
    let mut search = PkgInfoSearch::new(filename);
    for entry in entries.iter().filter(|e| !e.is_dir) {
        if search.wants(&entry.name)? {
            search.found = Some(read_zip_entry(&mut zip, entry, MAX_METADATA_SIZE)?);
        }
    }
    search.finish(filename)
}

fn validate_sdist_tar_gz<R: Read>(
    reader: R,
    filename: &DistFilename,
) -> Result<CoreMetadata, DistErrorReason> {
    let unreadable = DistErrorReason::UnreadableArchive;
    // Multi-member gzip is valid gzip (Python's tarfile reads it).
    let (capped, budget) = HeaderBudget::wrap(flate2::read::MultiGzDecoder::new(reader));
    let mut archive = tar::Archive::new(capped);
    let mut search = PkgInfoSearch::new(filename);
    let mut total: u64 = 0;
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        budget.entry_starts(entry.size());
        // Every entry's declared size counts, links and skipped ones too: the tar reader skips
        // an entry by reading its data, whatever its type.
        total = total.saturating_add(entry.size());
        if total > MAX_TOTAL_UNCOMPRESSED {
            return Err(DistErrorReason::TooMuchData {
                total,
                limit: MAX_TOTAL_UNCOMPRESSED,
            });
        }
        let raw_name = entry.path_bytes().into_owned();
        let Ok(name) = String::from_utf8(raw_name) else {
            return Err(DistErrorReason::UnsafeEntryName {
                name: escape(&String::from_utf8_lossy(&entry.path_bytes())),
                problem: "is not valid UTF-8",
            });
        };
        // `tar czf x.tar.gz ./dir` writes `./dir/...`; that prefix means nothing.
        let mut name = name.as_str();
        while let Some(rest) = name.strip_prefix("./") {
            name = rest;
        }
        if name.is_empty() || name == "." {
            continue;
        }
        if let Some(problem) = entry_name_problem(name) {
            return Err(DistErrorReason::UnsafeEntryName {
                name: escape(name),
                problem,
            });
        }
        let kind = entry.header().entry_type();
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            let what = if kind.is_fifo() {
                "named pipe"
            } else {
                "device file"
            };
            return Err(DistErrorReason::UnsupportedEntryType {
                name: escape(name),
                kind: what,
            });
        }
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            // A symlink resolves from its folder, a hard link from the archive's root.
            let base = if kind.is_symlink() {
                name.rsplit_once('/').map_or("", |(dir, _)| dir)
            } else {
                ""
            };
            if link_escapes(base, &target) {
                return Err(DistErrorReason::UnsafeLinkTarget {
                    name: escape(name),
                    target: escape(&target),
                });
            }
            continue;
        }
        if kind.is_file() && search.wants(name)? {
            if entry.size() > MAX_METADATA_SIZE {
                return Err(DistErrorReason::EntryTooLarge {
                    name: escape(name),
                    limit: MAX_METADATA_SIZE,
                });
            }
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_METADATA_SIZE)
                .read_to_end(&mut bytes)
                .map_err(unreadable)?;
            search.found = Some(bytes);
        }
    }
    search.finish(filename)
}

/// Caps what the tar reader reads between the data of one entry and the next (headers, GNU long
/// names, PAX records, which it loads into memory whole): it is handed the decompressed stream
/// through [`CappedRead`], which fails a read past the allowance; [`HeaderBudget::entry_starts`]
/// moves the allowance past each entry's data.
#[derive(Clone)]
struct HeaderBudget {
    state: std::rc::Rc<std::cell::Cell<BudgetState>>,
}

#[derive(Clone, Copy, Default)]
struct BudgetState {
    /// Decompressed bytes read so far.
    consumed: u64,
    /// Reads may not go past this position.
    allowed: u64,
    /// Where the data of the last entry ends (its size rounded up to 512-byte blocks).
    data_end: u64,
    /// Header bytes of all entries so far.
    headers: u64,
}

struct CappedRead<R> {
    inner: R,
    budget: HeaderBudget,
}

impl HeaderBudget {
    fn wrap<R: Read>(inner: R) -> (CappedRead<R>, HeaderBudget) {
        let budget = HeaderBudget {
            state: std::rc::Rc::new(std::cell::Cell::new(BudgetState {
                allowed: MAX_TAR_ENTRY_HEADERS,
                ..BudgetState::default()
            })),
        };
        let reader = CappedRead {
            inner,
            budget: budget.clone(),
        };
        (reader, budget)
    }

    /// An entry of `size` data bytes was handed out: its headers are counted, and the reader
    /// may go on to the end of its data plus the headers of the next one.
    fn entry_starts(&self, size: u64) {
        let mut state = self.state.get();
        let headers = state.consumed.saturating_sub(state.data_end);
        state.headers = state.headers.saturating_add(headers);
        state.data_end = state
            .consumed
            .saturating_add(size.div_ceil(512).saturating_mul(512));
        let left = MAX_TAR_HEADERS.saturating_sub(state.headers);
        state.allowed = state
            .data_end
            .saturating_add(MAX_TAR_ENTRY_HEADERS.min(left));
        self.state.set(state);
    }
}

impl<R: Read> Read for CappedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut state = self.budget.state.get();
        let left = state.allowed.saturating_sub(state.consumed);
        if left == 0 && !buf.is_empty() {
            let limit = if state.headers.saturating_add(MAX_TAR_ENTRY_HEADERS) > MAX_TAR_HEADERS {
                format!("{MAX_TAR_HEADERS} bytes for all entries")
            } else {
                format!("{MAX_TAR_ENTRY_HEADERS} bytes for one entry")
            };
            return Err(io::Error::other(format!(
                "its tar headers (names, long names, PAX records) take more than {limit}"
            )));
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
        state.consumed = state.consumed.saturating_add(n as u64);
        self.budget.state.set(state);
        Ok(n)
    }
}

/// Whether a link at folder `base` pointing to `target` resolves outside the archive.
fn link_escapes(base: &str, target: &str) -> bool {
    if target.starts_with('/') || target.contains('\\') || target.contains('\0') {
        return true;
    }
    let mut depth: usize = base.split('/').filter(|c| !c.is_empty()).count();
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            _ => depth = depth.saturating_add(1),
        }
    }
    false
}

/// Text from an archive or a command line, with control characters escaped so that a message
/// can never rewrite the terminal or forge a log line.
fn escape(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.escape_debug().to_string()
    } else {
        text.to_string()
    }
}

impl fmt::Display for DistFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} {})",
            self.filename,
            self.filename.project(),
            self.filename.version()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gt4py_testkit::dist_builder::{
        RawEntry, RawZipWriter, SdistBuilder, WheelBuilder, core_metadata, record_hash,
        truncate_file, wheel_file,
    };

    use DistErrorReason as R;

    fn reason(path: &Path) -> DistErrorReason {
        match validate(path) {
            Ok(dist) => panic!("{} should be refused, got {dist:?}", path.display()),
            Err(e) => {
                assert_eq!(e.path, path);
                e.reason
            }
        }
    }

    #[test]
    fn a_good_wheel_passes_with_its_metadata_and_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = WheelBuilder::new("dace", "43!2026.2.3")
            .requires_python(">=3.9")
            .file("dace/data/table.csv", &vec![b'x'; 3 << 20])
            .build(dir.path())
            .unwrap();
        let dist = validate(&path).unwrap();
        assert_eq!(dist.filename.as_str(), "dace-43!2026.2.3-py3-none-any.whl");
        assert_eq!(dist.metadata.requires_python.as_deref(), Some(">=3.9"));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(dist.digests.sha256, crate::hashing::sha256_hex(&bytes));
        assert_eq!(dist.digests.blob_sha, crate::hashing::git_blob_sha(&bytes));
        assert_eq!(dist.digests.size, bytes.len() as u64);
        assert_eq!(
            dist.metadata_bytes.as_deref(),
            Some(&core_metadata("dace", "43!2026.2.3", Some(">=3.9"))[..])
        );
    }

    #[test]
    fn good_variants_pass() {
        let dir = tempfile::tempdir().unwrap();
        let builders = [
            WheelBuilder::new("Dace_X", "1.0"),
            WheelBuilder::new("six", "1.16.0").tag("py2.py3-none-any"),
            WheelBuilder::new("ghex", "0.4.1")
                .tag("cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64")
                .build_tag("1"),
            WheelBuilder::new("torch", "2.1.0+cu118").tag("cp311-cp311-linux_x86_64"),
            WheelBuilder::new("big", "1.0")
                .payload_size(5 << 20)
                .stored(),
            // Name and version compared after normalization.
            WheelBuilder::new("dace", "1.0").dist_info_dir("DaCe-1.0.0.dist-info"),
            // Quoted RECORD fields, with commas in the path.
            WheelBuilder::new("q", "1.0").file("q/a,b \"c\".txt", b"hi"),
            // RECORD.jws is not listed in RECORD.
            WheelBuilder::new("signed", "1.0")
                .extra_entry("signed-1.0.dist-info/RECORD.jws", b"{}"),
        ];
        for builder in builders {
            let path = builder.build(dir.path()).unwrap();
            validate(&path).unwrap_or_else(|e| panic!("{}: {:?}", path.display(), e.reason));
        }
        for sdist in [
            SdistBuilder::new("dace", "2025.11.4"),
            SdistBuilder::new("foo-bar", "1.0").zip(),
            SdistBuilder::new("foo-bar", "1.0")
                .filename("foo-bar-1.0.tar.gz")
                .top_dir("foo-bar-1.0"),
            SdistBuilder::new("x", "1.0")
                .pkg_info_path("x-1.0/vendor/y/PKG-INFO")
                .extra_entry("x-1.0/PKG-INFO", &core_metadata("x", "1.0", None))
                .symlink("x-1.0/docs/README", "../pyproject.toml"),
        ] {
            let path = sdist.build(dir.path()).unwrap();
            let dist =
                validate(&path).unwrap_or_else(|e| panic!("{}: {:?}", path.display(), e.reason));
            assert!(dist.metadata_bytes.is_none());
        }
    }

    #[test]
    fn refuses_structural_problems() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();

        let empty = d.join("x-1.0-py3-none-any.whl");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(reason(&empty), R::Empty));

        let not_zip = d.join("y-1.0-py3-none-any.whl");
        std::fs::write(&not_zip, b"<html>not a wheel</html>").unwrap();
        assert!(matches!(reason(&not_zip), R::NotAZip(_)));

        let truncated = WheelBuilder::new("t", "1.0").build(d).unwrap();
        let len = std::fs::metadata(&truncated).unwrap().len();
        truncate_file(&truncated, len / 2).unwrap();
        assert!(matches!(reason(&truncated), R::NotAZip(_)));

        let folder = d.join("z-1.0-py3-none-any.whl");
        std::fs::create_dir(&folder).unwrap();
        assert!(matches!(reason(&folder), R::NotAFile));

        let missing = d.join("missing-1.0-py3-none-any.whl");
        assert!(matches!(reason(&missing), R::Unreadable(_)));

        let egg = d.join("x-1.0-py3.9.egg");
        std::fs::write(&egg, b"egg").unwrap();
        assert!(matches!(
            reason(&egg),
            R::Filename(FilenameError::Egg { .. })
        ));
    }

    #[test]
    fn refuses_each_kind_of_bad_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let w = || WheelBuilder::new("dace", "1.0");
        type Check = fn(&DistErrorReason) -> bool;
        let cases: Vec<(&str, WheelBuilder, Check)> = vec![
            ("dotdot", w().file("../evil.py", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            ("absolute", w().file("/etc/evil", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            ("backslash", w().file("dace\\..\\evil.py", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            ("nul", w().extra_entry("dace/a\0b.py", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            ("drive", w().file("C:/evil.py", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            (
                "duplicate",
                w().extra_entry("dace/__init__.py", b"other"),
                |r| matches!(r, R::DuplicateEntryNames),
            ),
            ("no dist-info", w().dist_info_dir("dace-1.0.info"), |r| {
                matches!(r, R::NoDistInfo)
            }),
            (
                "two dist-infos",
                w().extra_entry("other-1.0.dist-info/METADATA", b"x"),
                |r| matches!(r, R::MultipleDistInfo { .. }),
            ),
            (
                "dist-info name",
                w().dist_info_dir("other-1.0.dist-info"),
                |r| matches!(r, R::DistInfoMismatch { .. }),
            ),
            (
                "dist-info version",
                w().dist_info_dir("dace-1.1.dist-info"),
                |r| matches!(r, R::DistInfoMismatch { .. }),
            ),
            ("no METADATA", w().without_dist_info_file("METADATA"), |r| {
                matches!(r, R::MissingDistInfoFile { .. })
            }),
            ("no WHEEL", w().without_dist_info_file("WHEEL"), |r| {
                matches!(r, R::MissingDistInfoFile { .. })
            }),
            ("no RECORD", w().without_dist_info_file("RECORD"), |r| {
                matches!(r, R::MissingDistInfoFile { .. })
            }),
            (
                "name",
                w().metadata_override(&core_metadata("other", "1.0", None)),
                |r| matches!(r, R::NameMismatch { .. }),
            ),
            (
                "version",
                w().metadata_override(&core_metadata("dace", "1.0.1", None)),
                |r| matches!(r, R::VersionMismatch { .. }),
            ),
            (
                "non-utf8",
                w().metadata_override(b"Metadata-Version: 2.1\nName: dace\xff\n"),
                |r| {
                    matches!(
                        r,
                        R::InvalidMetadata {
                            source: MetadataError::NotUtf8 { .. },
                            ..
                        }
                    )
                },
            ),
            (
                "html",
                w().requires_python(">=3.9\"><script>alert(1)</script>"),
                |r| {
                    matches!(
                        r,
                        R::InvalidMetadata {
                            source: MetadataError::InvalidRequiresPython { .. },
                            ..
                        }
                    )
                },
            ),
            (
                "tags",
                w().wheel_file_override(&wheel_file(&["cp311-cp311-linux_x86_64".into()], None)),
                |r| matches!(r, R::WheelTagsMismatch { .. }),
            ),
            (
                "no tags",
                w().wheel_file_override(b"Wheel-Version: 1.0\n"),
                |r| matches!(r, R::InvalidWheelFile { .. }),
            ),
            (
                "wheel 2",
                w().wheel_file_override(b"Wheel-Version: 2.0\nTag: py3-none-any\n"),
                |r| matches!(r, R::UnsupportedWheelVersion { .. }),
            ),
            (
                "build",
                w().wheel_file_override(&wheel_file(&["py3-none-any".into()], Some("7"))),
                |r| matches!(r, R::BuildTagMismatch { .. }),
            ),
            ("unrecorded", w().extra_entry("dace/evil.py", b"x"), |r| {
                matches!(r, R::FileNotInRecord { .. })
            }),
            ("unrecorded init", w().unrecorded("dace/__init__.py"), |r| {
                matches!(r, R::FileNotInRecord { .. })
            }),
            (
                "recorded missing",
                w().record_row("dace/gone.py", &record_hash(b""), "0"),
                |r| matches!(r, R::RecordedFileMissing { .. }),
            ),
            (
                "hash",
                w().record_row(
                    "dace/__init__.py",
                    &record_hash(b"__version__ = \"6.6\"\n"),
                    "20",
                ),
                |r| matches!(r, R::RecordHashMismatch { .. }),
            ),
            (
                "size",
                w().record_row(
                    "dace/__init__.py",
                    &record_hash(b"__version__ = \"1.0\"\n"),
                    "21",
                ),
                |r| matches!(r, R::RecordSizeMismatch { .. }),
            ),
            (
                "md5",
                w().record_row("dace/__init__.py", "md5=1B2M2Y8AsgTpgAmY7PhCfg", "20"),
                |r| matches!(r, R::WeakRecordHash { .. }),
            ),
            (
                "crc32",
                w().record_row("dace/__init__.py", "crc32=abc", "20"),
                |r| matches!(r, R::UnsupportedRecordHash { .. }),
            ),
            (
                "no hash",
                w().record_row("dace/__init__.py", "", "20"),
                |r| matches!(r, R::RecordEntryWithoutHash { .. }),
            ),
            (
                "no size",
                w().record_row(
                    "dace/__init__.py",
                    &record_hash(b"__version__ = \"1.0\"\n"),
                    "",
                ),
                |r| matches!(r, R::RecordEntryWithoutSize { .. }),
            ),
            (
                "bad base64",
                w().record_row("dace/__init__.py", "sha256=!!", "20"),
                |r| matches!(r, R::InvalidRecord { .. }),
            ),
            (
                "record fields",
                w().record_override(b"dace/__init__.py,sha256=x\n"),
                |r| matches!(r, R::InvalidRecord { line: 1, .. }),
            ),
            (
                "record quote",
                w().record_override(b"\"dace/__init__.py,sha256=x,1\n"),
                |r| matches!(r, R::InvalidRecord { .. }),
            ),
            (
                "record twice",
                w().record_override(
                    format!(
                        "dace/__init__.py,{h},20\ndace/__init__.py,{h},20\n",
                        h = record_hash(b"__version__ = \"1.0\"\n")
                    )
                    .as_bytes(),
                ),
                |r| matches!(r, R::DuplicateRecordEntry { .. }),
            ),
            (
                "bomb",
                // Inflates to 64 MiB, headers and RECORD say 100 bytes.
                w().raw_entry(RawEntry::zeros("dace/zeros.bin", 64 << 20, 100).unwrap())
                    .record_row("dace/zeros.bin", &record_hash(&[0; 100]), "100"),
                |r| matches!(r, R::EntryExceedsRecordedSize { recorded: 100, .. }),
            ),
            (
                "ratio",
                w().raw_entry(RawEntry {
                    name: b"dace/lie.bin".to_vec(),
                    method: 8,
                    data: vec![3, 0],
                    declared_size: 2 << 30,
                    crc32: 0,
                    flags: 0,
                }),
                |r| matches!(r, R::SuspiciousCompressionRatio { .. }),
            ),
            (
                "encrypted",
                w().raw_entry(RawEntry {
                    flags: 1,
                    ..RawEntry::new(
                        "dace/secret.py",
                        b"x",
                        gt4py_testkit::dist_builder::Method::Stored,
                    )
                    .unwrap()
                }),
                |r| matches!(r, R::EncryptedEntry { .. }),
            ),
            (
                "bzip2",
                w().raw_entry(RawEntry {
                    method: 12,
                    ..RawEntry::new(
                        "dace/b.py",
                        b"x",
                        gt4py_testkit::dist_builder::Method::Stored,
                    )
                    .unwrap()
                }),
                |r| matches!(r, R::UnsupportedCompression { .. }),
            ),
            (
                "crc",
                w().raw_entry(RawEntry {
                    crc32: 1,
                    ..RawEntry::new(
                        "dace/c.py",
                        b"x",
                        gt4py_testkit::dist_builder::Method::Deflated,
                    )
                    .unwrap()
                })
                .record_row("dace/c.py", &record_hash(b"x"), "1"),
                |r| matches!(r, R::CorruptEntry { .. }),
            ),
            (
                "metadata size",
                w().metadata_override(&vec![b'a'; (16 << 20) + 1]),
                |r| matches!(r, R::EntryTooLarge { .. }),
            ),
        ];
        for (what, builder, check) in cases {
            let sub = dir.path().join(what);
            std::fs::create_dir(&sub).unwrap();
            let path = builder.build(&sub).unwrap();
            let r = reason(&path);
            assert!(check(&r), "{what}: unexpected {r:?}");
        }
    }

    #[test]
    fn a_total_over_the_limit_is_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = WheelBuilder::new("dace", "1.0");
        for i in 0..3 {
            // Each entry declares 3 GiB (9 GiB in all). Its data is a short deflate stream
            // padded to 2 MiB, so the declared ratio (1,536:1) passes the ratio check and only
            // the total can refuse it; nothing is inflated.
            let mut entry = RawEntry::zeros(format!("dace/part{i}.bin"), 1 << 20, 3 << 30).unwrap();
            entry.data.resize(2 << 20, 0);
            builder = builder.raw_entry(entry);
        }
        let path = builder.build(dir.path()).unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(reason(&path), R::TooMuchData { .. }));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn refuses_bad_sdists() {
        let dir = tempfile::tempdir().unwrap();
        type Check = fn(&DistErrorReason) -> bool;
        let s = || SdistBuilder::new("dace", "1.0");
        let cases: Vec<(&str, SdistBuilder, Check)> = vec![
            (
                "nested only",
                s().pkg_info_path("dace-1.0/vendor/sub/PKG-INFO"),
                |r| matches!(r, R::MissingPkgInfo { found: Some(_), .. }),
            ),
            (
                "nested only zip",
                s().zip().pkg_info_path("dace-1.0/vendor/sub/PKG-INFO"),
                |r| matches!(r, R::MissingPkgInfo { found: Some(_), .. }),
            ),
            ("other top", s().top_dir("other-1.0"), |r| {
                matches!(r, R::MissingPkgInfo { .. })
            }),
            (
                "name",
                s().pkg_info_override(&core_metadata("other", "1.0", None)),
                |r| matches!(r, R::NameMismatch { .. }),
            ),
            (
                "version zip",
                s().zip()
                    .pkg_info_override(&core_metadata("dace", "2.0", None)),
                |r| matches!(r, R::VersionMismatch { .. }),
            ),
            ("traversal", s().extra_entry("../evil.py", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            ("absolute", s().extra_entry("/etc/passwd", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            (
                "traversal zip",
                s().zip().extra_entry("dace-1.0/../../evil.py", b"x"),
                |r| matches!(r, R::UnsafeEntryName { .. }),
            ),
            (
                "link",
                s().symlink("dace-1.0/evil", "../../etc/passwd"),
                |r| matches!(r, R::UnsafeLinkTarget { .. }),
            ),
            (
                "two PKG-INFO",
                s().extra_entry("dace-1.0/PKG-INFO", &core_metadata("dace", "1.0", None)),
                |r| matches!(r, R::DuplicateEntry { .. }),
            ),
            ("html", s().requires_python("\"><img src=x>"), |r| {
                matches!(r, R::InvalidMetadata { .. })
            }),
        ];
        for (what, builder, check) in cases {
            let sub = dir.path().join(what);
            std::fs::create_dir(&sub).unwrap();
            let path = builder.build(&sub).unwrap();
            let r = reason(&path);
            assert!(check(&r), "{what}: unexpected {r:?}");
        }

        let not_gz = dir.path().join("dace-1.0.tar.gz");
        std::fs::write(&not_gz, b"PK\x03\x04 not gzip").unwrap();
        assert!(matches!(reason(&not_gz), R::UnreadableArchive(_)));
    }

    /// Found by review while writing the `wheel` fuzz target (libFuzzer cannot get past the
    /// CRC check to reach it): a `Tag` line of compressed sets expands to the product of their
    /// sizes, so 12 KiB of `WHEEL` stood for a billion tags and the check never finished.
    #[test]
    fn a_tag_line_standing_for_billions_of_tags_is_refused_quickly() {
        let set = vec!["py3"; 1000].join(".");
        let wheel = format!("Wheel-Version: 1.0\nTag: {set}-{set}-{set}\n");
        let filename = DistFilename::parse("dace-1.0-py3-none-any.whl").unwrap();
        let started = std::time::Instant::now();
        let err = check_wheel_file(wheel.as_bytes(), &filename).unwrap_err();
        assert!(
            matches!(&err, R::InvalidWheelFile { problem } if problem.contains("more than 1028 tags")),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Repeated and compressed lines of the right tags still pass.
        let filename = DistFilename::parse("six-1.0-py2.py3-none-any.whl").unwrap();
        check_wheel_file(
            b"Wheel-Version: 1.0\nTag: py2-none-any\nTag: py3-none-any\nTag: py2.py3-none-any\n",
            &filename,
        )
        .unwrap();
    }

    /// A `.tar.gz` of `entries` (path, content) with GNU headers, so long paths become GNU
    /// long-name entries.
    fn tar_gz(entries: &[(String, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, path, *content).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    /// Found by the `sdist_tar_gz` fuzz target's review: the tar reader loads GNU long names
    /// and PAX records whole, so a few KiB of gzip could make it allocate gigabytes.
    #[test]
    fn huge_tar_headers_are_refused_without_loading_them() {
        let pkg_info = core_metadata("dace", "1.0", None);
        let ok = tar_gz(&[
            ("dace-1.0/PKG-INFO".to_string(), &pkg_info),
            (format!("dace-1.0/{}/x.py", "a".repeat(5000)), b"x"),
        ]);
        validate_bytes("dace-1.0.tar.gz", &ok).unwrap();

        let long_name = format!("dace-1.0/{}", "a".repeat(MAX_TAR_ENTRY_HEADERS as usize));
        let huge = tar_gz(&[
            ("dace-1.0/PKG-INFO".to_string(), &pkg_info),
            (long_name, b"x"),
        ]);
        assert!(huge.len() < 64 << 10, "{}", huge.len());
        let err = validate_bytes("dace-1.0.tar.gz", &huge).unwrap_err();
        assert!(
            matches!(&err.reason, R::UnreadableArchive(e) if e.to_string().contains("1048576 bytes for one entry")),
            "{:?}",
            err.reason
        );
    }

    /// Found by review of the tar header cap: a link's declared size was not counted, so a
    /// symlink declaring terabytes of data made the reader skip (inflate) them all, and moved
    /// the header allowance past them.
    #[test]
    fn a_link_declaring_a_huge_size_is_refused_without_reading() {
        let mut header = tar::Header::new_gnu();
        header.set_path("dace-1.0/link").unwrap();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_link_name("PKG-INFO").unwrap();
        header.set_size(1 << 40);
        header.set_cksum();
        let mut raw = header.as_bytes().to_vec();
        raw.extend_from_slice(&[0; 1024]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        let bytes = gz.finish().unwrap();
        let err = validate_bytes("dace-1.0.tar.gz", &bytes).unwrap_err();
        assert!(
            matches!(err.reason, R::TooMuchData { .. }),
            "{:?}",
            err.reason
        );
    }

    #[test]
    fn validate_bytes_agrees_with_validate() {
        let dir = tempfile::tempdir().unwrap();
        for path in [
            WheelBuilder::new("dace", "1.0").build(dir.path()).unwrap(),
            SdistBuilder::new("dace", "1.0").build(dir.path()).unwrap(),
            SdistBuilder::new("dace", "1.0")
                .zip()
                .build(dir.path())
                .unwrap(),
        ] {
            let from_file = validate(&path).unwrap();
            let name = path.file_name().unwrap().to_str().unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let from_bytes = validate_bytes(name, &bytes).unwrap();
            assert_eq!(from_bytes.filename, from_file.filename);
            assert_eq!(from_bytes.digests, from_file.digests);
            assert_eq!(from_bytes.metadata, from_file.metadata);
            assert_eq!(from_bytes.metadata_bytes, from_file.metadata_bytes);
        }
        assert!(matches!(
            validate_bytes("dace-1.0.tar.gz", b"").unwrap_err().reason,
            R::Empty
        ));
        assert!(matches!(
            validate_bytes("../dace-1.0.tar.gz", b"x")
                .unwrap_err()
                .reason,
            R::Filename(_)
        ));
    }

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

    #[test]
    fn sha384_sha512_and_padded_hashes_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let init = b"__version__ = \"1.0\"\n";
        let sha512 = format!("sha512={}", URL_SAFE_NO_PAD.encode(Sha512::digest(init)));
        let sha384 = format!("SHA384={}", URL_SAFE_NO_PAD.encode(Sha384::digest(init)));
        let padded = format!("{}=", record_hash(init));
        for (i, hash) in [sha512, sha384, padded].iter().enumerate() {
            let sub = dir.path().join(i.to_string());
            std::fs::create_dir(&sub).unwrap();
            let path = WheelBuilder::new("dace", "1.0")
                .record_row("dace/__init__.py", hash, &init.len().to_string())
                .build(&sub)
                .unwrap();
            validate(&path).unwrap_or_else(|e| panic!("{hash}: {:?}", e.reason));
        }
    }

    /// Corrupted and truncated copies of good archives: any answer is fine, a panic is not.
    #[test]
    fn mangled_archives_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let originals = [
            WheelBuilder::new("dace", "1.0")
                .file("dace/a.py", &[b'a'; 5000])
                .build(dir.path())
                .unwrap(),
            SdistBuilder::new("dace", "1.0").build(dir.path()).unwrap(),
            SdistBuilder::new("dace", "1.0")
                .zip()
                .build(dir.path())
                .unwrap(),
        ];
        let mut rng = fastrand::Rng::with_seed(0x6774_3470);
        for original in &originals {
            let bytes = std::fs::read(original).unwrap();
            let target = dir.path().join("m").join(original.file_name().unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            for round in 0..150 {
                let mut mangled = bytes.clone();
                if round % 3 == 0 {
                    mangled.truncate(rng.usize(..bytes.len()));
                } else {
                    for _ in 0..rng.usize(1..8) {
                        let at = rng.usize(..mangled.len());
                        mangled[at] = rng.u8(..);
                    }
                }
                std::fs::write(&target, &mangled).unwrap();
                let _ = validate(&target);
            }
        }
    }

    #[test]
    fn record_csv_follows_pythons_csv_module() {
        let rows =
            parse_record(b"a,sha256=x,1\r\n\"b,\"\"c\"\"\",,\n\n\"multi\nline\",h,2\rlast,h,3")
                .unwrap();
        let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["a", "b,\"c\"", "multi\nline", "last"]);
        assert_eq!(rows.get(3).unwrap().line, 6);
        assert!(parse_record(b"a,b\n").is_err());
        assert!(parse_record(b"a,b,c,d\n").is_err());
        assert!(parse_record(b"\xff,b,c\n").is_err());
        assert!(parse_record(b"").unwrap().is_empty());
    }

    #[test]
    fn entry_names_and_links() {
        for ok in ["a", "a/b.py", "a/", "a/b/", "a.dist-info/RECORD", "ab:c"] {
            assert_eq!(entry_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "", "/a", "../a", "a/../b", "a\\b", "a\0", "C:/x", "a//b", "./a", "a/./b", "a\nb",
        ] {
            assert!(entry_name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(!link_escapes("a/b", "../c"));
        assert!(!link_escapes("a/b", "../../c"));
        assert!(link_escapes("a/b", "../../../c"));
        assert!(link_escapes("a", "/etc/passwd"));
        assert!(link_escapes("", ".."));
    }

    #[test]
    fn raw_zip_writer_and_validator_agree_on_a_hand_made_wheel() {
        // Guards the testkit writer: a wheel made entry by entry passes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hand-1.0-py3-none-any.whl");
        let mut zip = RawZipWriter::create(&path).unwrap();
        let init = b"x = 1\n";
        let meta = core_metadata("hand", "1.0", None);
        let wheel = wheel_file(&["py3-none-any".into()], None);
        zip.add_directory("hand/").unwrap();
        zip.add(
            "hand/__init__.py",
            init,
            gt4py_testkit::dist_builder::Method::Deflated,
        )
        .unwrap();
        zip.add(
            "hand-1.0.dist-info/METADATA",
            &meta,
            gt4py_testkit::dist_builder::Method::Stored,
        )
        .unwrap();
        zip.add(
            "hand-1.0.dist-info/WHEEL",
            &wheel,
            gt4py_testkit::dist_builder::Method::Stored,
        )
        .unwrap();
        let record = format!(
            "hand/__init__.py,{},{}\nhand-1.0.dist-info/METADATA,{},{}\nhand-1.0.dist-info/WHEEL,{},{}\nhand-1.0.dist-info/RECORD,,\n",
            record_hash(init),
            init.len(),
            record_hash(&meta),
            meta.len(),
            record_hash(&wheel),
            wheel.len()
        );
        zip.add(
            "hand-1.0.dist-info/RECORD",
            record.as_bytes(),
            gt4py_testkit::dist_builder::Method::Deflated,
        )
        .unwrap();
        zip.finish().unwrap();
        validate(&path).unwrap();
    }
}
