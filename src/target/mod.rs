//! Where an index lives. A `Target` is a flat store of files addressed by `/`-separated relative
//! paths (`dace/index.html`), with compare-and-swap writes keyed on git blob shas, so the same
//! planner drives a local directory and a GitHub branch.

pub mod local;

use std::io::Read;
use std::path::{Path, PathBuf};

/// Git blob sha (40 lower-case hex digits) identifying a stored file's exact content.
pub type BlobSha = String;

/// A file read back from a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub bytes: Vec<u8>,
    pub sha: BlobSha,
}

/// What a folder listing says of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
    /// Bytes, where the listing carries it (GitHub); 0 on a local directory, whose listing
    /// would need a stat per file for it.
    pub size: u64,
    /// Known without reading the file on GitHub (listings carry it); `None` where computing it
    /// means hashing the file (local directory): ask `Target::file_sha` for the ones you need.
    pub sha: Option<BlobSha>,
}

/// The content of a write.
#[derive(Debug, Clone, Copy)]
pub enum Upload<'a> {
    Bytes(&'a [u8]),
    /// Streamed from disk, so a 100 MB wheel is never held in memory. `sha` is the blob sha the
    /// file had when it was validated: a target refuses to store different bytes.
    File {
        path: &'a Path,
        len: u64,
        sha: &'a str,
    },
}

impl Upload<'_> {
    pub fn len(&self) -> u64 {
        match self {
            Upload::Bytes(b) => b.len() as u64,
            Upload::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The state a write or delete requires, so a concurrent writer's change is never overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// The path must not exist yet.
    Absent,
    /// The path must hold exactly this blob.
    Sha(BlobSha),
}

/// Errors of a target. `Conflict` is the one the publish loop answers by re-reading and
/// re-planning; everything else ends the run.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("`{path}` changed while this run was writing it ({detail})")]
    Conflict { path: String, detail: String },
    #[error("`{path}` is not a safe path inside the index")]
    UnsafePath { path: String },
    #[error("could not {action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the index at {location} is locked by another run and the lock could not be taken")]
    Locked {
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Remote(Box<dyn std::error::Error + Send + Sync>),
}

/// Size limits of a store, checked for every file before a run writes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimits {
    /// Larger files are refused.
    pub max: u64,
    /// Larger files get a warning (they may fail for reasons the store does not document).
    pub warn: u64,
}

/// Held while a run reads, plans and writes; dropping it lets the next run in.
pub trait RunLock {}

/// A place an index is kept.
pub trait Target {
    /// Where this is, for messages: `/srv/index` or `GridTools/pypi@main`.
    fn location(&self) -> String;

    /// The largest file this store accepts; `None` when only the disk limits it.
    fn size_limits(&self) -> Option<SizeLimits> {
        None
    }

    /// Serializes runs where the store can (a local directory); a no-op where it cannot (GitHub,
    /// where compare-and-swap writes and re-planning keep concurrent runs safe instead).
    fn lock(&self) -> Result<Box<dyn RunLock>, TargetError>;

    /// Lists a folder (`""` is the root). `None` when the folder does not exist.
    fn list_dir(&self, dir: &str) -> Result<Option<Vec<DirEntry>>, TargetError>;

    /// Reads a file (pages and `.metadata` files). `None` when it does not exist.
    fn read_file(&self, path: &str) -> Result<Option<StoredFile>, TargetError>;

    /// The blob sha of a stored file, `None` when it does not exist.
    fn file_sha(&self, path: &str) -> Result<Option<BlobSha>, TargetError>;

    /// Streams a stored file's content (for `verify` and `regenerate`).
    fn open_file(&self, path: &str) -> Result<Option<Box<dyn Read + '_>>, TargetError>;

    /// Writes `content` to `path` if it is still in the `expected` state; returns the new blob
    /// sha. `message` becomes the commit message where the store keeps history.
    fn put_file(
        &self,
        path: &str,
        content: Upload<'_>,
        expected: &Expected,
        message: &str,
    ) -> Result<BlobSha, TargetError>;

    /// Deletes `path` if it still holds `expected`.
    fn delete_file(&self, path: &str, expected: &BlobSha, message: &str)
    -> Result<(), TargetError>;
}

/// Checks that `path` is a relative `/`-separated path of plain components, so no input can make
/// a target write outside the index (`..`, absolute paths, backslashes, empty components).
pub fn check_path(path: &str) -> Result<(), TargetError> {
    let ok = !path.is_empty()
        && path.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && !c.contains(['\\', '\0', ':'])
                && !c.chars().any(char::is_control)
        });
    if ok {
        Ok(())
    } else {
        Err(TargetError::UnsafePath {
            path: path.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_safe() {
        for ok in [
            "index.html",
            "dace/index.html",
            ".nojekyll",
            "dace/dace-1.0-py3-none-any.whl",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "dace/../../x",
            "dace//x",
            "dace/./x",
            "a\\b",
            "C:x",
            "a\0",
            "dace/",
            "a\nb",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}
