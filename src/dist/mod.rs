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

mod error;
mod record;
mod sdist;
#[cfg(test)]
mod test_support;
mod wheel;
mod zip_reader;

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::filename::{DistFilename, DistKind, FilenameError};
use crate::hashing::{FileDigests, digest_reader};
use crate::metadata::CoreMetadata;

pub use error::{DistError, DistErrorReason};
pub use sdist::{MAX_TAR_ENTRY_HEADERS, MAX_TAR_HEADERS};
pub use zip_reader::{
    MAX_COMPRESSION_RATIO, MAX_METADATA_SIZE, MAX_RECORD_SIZE, MAX_TOTAL_UNCOMPRESSED,
    RATIO_CHECK_MIN_SIZE,
};

use sdist::{validate_sdist_tar_gz, validate_sdist_zip};
use wheel::validate_wheel;

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

/// What adopting a stored wheel needs of it.
#[derive(Debug, Clone)]
pub struct StoredWheel {
    /// Lower-case hex sha256 of the whole file.
    pub sha256: String,
    pub metadata: CoreMetadata,
    pub metadata_bytes: Vec<u8>,
}

/// Reads a wheel already on an index to adopt it: one sha256 pass over the file and its
/// METADATA (checked against the filename), but none of an upload's other checks (git blob
/// sha, WHEEL tags, every RECORD hash), which would read and hash the archive three times.
pub fn read_stored_wheel(path: &Path) -> Result<StoredWheel, DistError> {
    read_stored_wheel_inner(path).map_err(|reason| DistError {
        path: path.to_path_buf(),
        reason,
    })
}

fn read_stored_wheel_inner(path: &Path) -> Result<StoredWheel, DistErrorReason> {
    let name = path.file_name().unwrap_or_default();
    let name = name.to_str().ok_or_else(|| FilenameError::NotAscii {
        filename: name.to_string_lossy().into_owned(),
    })?;
    let filename = DistFilename::parse(name)?;
    if filename.kind() != DistKind::Wheel {
        return Err(DistErrorReason::NotAFile);
    }
    let mut file = File::open(path).map_err(DistErrorReason::Unreadable)?;
    let (digest, _) =
        crate::hashing::sha256_reader(&mut file).map_err(DistErrorReason::Unreadable)?;
    file.seek(SeekFrom::Start(0))
        .map_err(DistErrorReason::Unreadable)?;
    let (metadata, metadata_bytes) =
        wheel::read_wheel_metadata(BufReader::with_capacity(64 * 1024, file), &filename)?;
    Ok(StoredWheel {
        sha256: crate::hashing::hex(&digest),
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
    use super::test_support::reason;
    use super::*;
    use gt4py_testkit::dist_builder::{SdistBuilder, WheelBuilder, core_metadata, truncate_file};

    use DistErrorReason as R;

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
    fn a_stored_wheel_is_read_with_one_hash_pass_and_its_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = WheelBuilder::new("dace", "1.0")
            .requires_python(">=3.9")
            .build(dir.path())
            .unwrap();
        let full = validate(&path).unwrap();
        let stored = read_stored_wheel(&path).unwrap();
        assert_eq!(stored.sha256, full.digests.sha256);
        assert_eq!(Some(stored.metadata_bytes), full.metadata_bytes);
        assert_eq!(
            stored.metadata.requires_python,
            full.metadata.requires_python
        );
        // A RECORD that lies is not its business (adoption takes the folder as it is), but a
        // METADATA that names another project is.
        let lying = WheelBuilder::new("dace", "2.0")
            .record_row("dace/__init__.py", "sha256=AAAA", "1")
            .build(dir.path())
            .unwrap();
        assert!(validate(&lying).is_err());
        assert!(read_stored_wheel(&lying).is_ok());
        let renamed = dir.path().join("other-1.0-py3-none-any.whl");
        std::fs::copy(&path, &renamed).unwrap();
        let err = read_stored_wheel(&renamed).unwrap_err();
        assert!(
            err.to_string().contains("other-1.0-py3-none-any.whl"),
            "{err}"
        );
        assert!(read_stored_wheel(&dir.path().join("missing-1.0-py3-none-any.whl")).is_err());
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
}
