//! Where an index lives. A `Target` is a flat store of files addressed by `/`-separated relative
//! paths (`dace/index.html`), with compare-and-swap writes keyed on what a run read (a git blob
//! sha, or for a large file a local directory remembers, the read itself), so the same planner
//! drives a local directory and a GitHub branch.

pub mod local;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use crate::change::{BlobSha, Expected, ReadId, Version};
use crate::change::{Change, ChangeSet, Content};
use crate::report::{Event, Reporter};

/// A file read back from a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub bytes: Vec<u8>,
    /// What a write must expect to replace exactly these bytes.
    pub version: Version,
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
    #[error(
        "`{}` changed after it was validated (its content is not what was checked); rebuild \
         it and run again", path.display()
    )]
    ChangedAfterValidation { path: PathBuf },
    #[error(transparent)]
    Remote(Box<dyn std::error::Error + Send + Sync>),
}

/// A change set that could not be committed: the change that failed, why, and what was
/// committed before it (stores that commit change by change leave those in place).
#[derive(Debug)]
pub struct CommitError {
    pub path: String,
    pub source: TargetError,
    pub done: Vec<(String, String)>,
}

/// A distribution (or its `.metadata`) stored as a release asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAsset {
    /// The store's id for it (GitHub's asset id), so deleting it needs no listing; `None` for
    /// an asset not read from the store (a dry run's planned upload).
    pub id: Option<u64>,
    pub name: String,
    pub size: u64,
    /// Lower-case hex sha256, when the store reports one.
    pub sha256: Option<String>,
    /// The absolute download URL a page links.
    pub url: String,
}

/// A file to store as a release asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetUpload {
    pub name: String,
    pub source: AssetBytes,
    pub sha256: String,
    pub content_type: &'static str,
}

/// Where an asset's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssetBytes {
    File { path: PathBuf, len: u64 },
    Bytes(Vec<u8>),
}

impl AssetBytes {
    pub fn len(&self) -> u64 {
        match self {
            AssetBytes::File { len, .. } => *len,
            AssetBytes::Bytes(bytes) => bytes.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Release assets beside the index, for files too large for the repository (GitHub: one
/// release whose assets the pages link).
pub trait AssetStore: Sync {
    /// Where they are, for messages: `GridTools/pypi release gt4py-publish-files`.
    fn asset_location(&self) -> String;

    /// Every asset stored now (empty when there is no release yet).
    fn list_assets(&self) -> Result<Vec<StoredAsset>, TargetError>;

    /// Stores `upload` unless an asset of that name with that sha256 is there; the same name
    /// with other content is an error.
    fn put_asset(
        &self,
        upload: &AssetUpload,
        reporter: &dyn Reporter,
    ) -> Result<StoredAsset, TargetError>;

    /// Deletes an asset; one already gone is not an error.
    fn delete_asset(&self, asset: &StoredAsset) -> Result<(), TargetError>;
}

/// The point a run's reads come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The commit the branch was resolved to (GitHub); `None` for a locked local directory,
    /// which is its own snapshot.
    pub commit: Option<String>,
}

/// How a store turns a change set into history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitMode {
    /// One write per change, in order (local directory, GitHub Contents API).
    PerChange,
    /// One commit for the whole change set (GitHub Git Data API).
    Atomic,
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

/// A place an index is kept. `Sync`: regenerate and verify read files on every core.
pub trait Target: Sync {
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

    /// The entries of folder `dir` named `names`, those that exist: a listing filtered, where
    /// a store lists cheaply (GitHub's one tree per snapshot); a local directory looks each
    /// name up instead of reading a folder of thousands of files.
    fn dir_entries(&self, dir: &str, names: &[String]) -> Result<Vec<DirEntry>, TargetError> {
        Ok(self
            .list_dir(dir)?
            .unwrap_or_default()
            .into_iter()
            .filter(|e| names.contains(&e.name))
            .collect())
    }

    /// Reads a file (pages and `.metadata` files). `None` when it does not exist.
    fn read_file(&self, path: &str) -> Result<Option<StoredFile>, TargetError>;

    /// The blob sha of a stored file, `None` when it does not exist.
    fn file_sha(&self, path: &str) -> Result<Option<BlobSha>, TargetError>;

    /// Streams a stored file's content (for `verify` and `regenerate`).
    fn open_file(&self, path: &str) -> Result<Option<Box<dyn Read + '_>>, TargetError>;

    /// Where a stored file is on this machine, for stores that are local folders: it can then
    /// be read in place instead of copied.
    fn local_path(&self, _path: &str) -> Option<PathBuf> {
        None
    }

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

    /// Starts a consistent view: every read until the next call answers from one state of the
    /// index (GitHub: the branch resolved to one commit, read by sha, so replica lag cannot mix
    /// two states into one plan).
    fn snapshot(&self) -> Result<Snapshot, TargetError> {
        Ok(Snapshot::default())
    }

    fn commit_mode(&self) -> CommitMode {
        CommitMode::PerChange
    }

    /// The release assets beside this index, where the store has them (GitHub).
    fn assets(&self) -> Option<&dyn AssetStore> {
        None
    }

    /// Bytes the served site holds now (GitHub Pages publishes at most 1 GB), where the store
    /// can tell cheaply (GitHub: one recursive tree listing of the snapshot).
    fn site_size(&self) -> Result<Option<u64>, TargetError> {
        Ok(None)
    }

    /// Commits a change set planned from the current snapshot. A `Conflict` means the index
    /// moved since: the caller takes a new snapshot and plans again.
    fn commit(
        &self,
        changes: &ChangeSet,
        reporter: &dyn Reporter,
    ) -> Result<Vec<(String, String)>, CommitError> {
        commit_in_order(self, changes, reporter)
    }
}

/// Commits `changes` one by one through `put_file`/`delete_file`, in their order, so every
/// intermediate state is one the planner meant to be valid. Log groups open per distribution
/// (its file and `.metadata`), so CI logs fold per file.
pub fn commit_in_order<T: Target + ?Sized>(
    target: &T,
    changes: &ChangeSet,
    reporter: &dyn Reporter,
) -> Result<Vec<(String, String)>, CommitError> {
    let mut done = Vec::new();
    let mut groups = LogGroups::default();
    let mut result = Ok(());
    for change in &changes.changes {
        groups.enter(change, reporter);
        match commit_one(target, change, reporter) {
            Ok(true) => done.push((change.path.clone(), change.message.clone())),
            Ok(false) => {}
            Err(source) => {
                result = Err(CommitError {
                    path: change.path.clone(),
                    source,
                    done: Vec::new(),
                });
                break;
            }
        }
    }
    groups.close(reporter);
    match result {
        Ok(()) => Ok(done),
        Err(mut error) => {
            error.done = done;
            Err(error)
        }
    }
}

/// Log groups per distribution (its file and its `.metadata`), so CI logs fold per file.
#[derive(Default)]
pub struct LogGroups {
    open: Option<String>,
}

impl LogGroups {
    /// Opens the group `change` belongs to (closing the previous one), if any.
    pub fn enter(&mut self, change: &Change, reporter: &dyn Reporter) {
        let file = change.path.rsplit('/').next().unwrap_or(&change.path);
        let is_dist = matches!(change.content, Content::File(_))
            || (file.ends_with(".metadata") && !change.is_delete());
        let group = is_dist.then(|| file.trim_end_matches(".metadata").to_string());
        if group != self.open {
            self.close(reporter);
            if let Some(name) = &group {
                reporter.event(Event::FileStarted(name));
            }
            self.open = group;
        }
    }

    pub fn close(&mut self, reporter: &dyn Reporter) {
        if let Some(open) = self.open.take() {
            reporter.event(Event::FileFinished(&open));
        }
    }
}

fn commit_one<T: Target + ?Sized>(
    target: &T,
    change: &Change,
    reporter: &dyn Reporter,
) -> Result<bool, TargetError> {
    let upload = match &change.content {
        Content::File(file) => Upload::File {
            path: &file.path,
            len: file.len,
            sha: &file.blob_sha,
        },
        Content::Bytes(bytes) => Upload::Bytes(bytes),
        Content::Delete => {
            let Expected::Sha(sha) = &change.expected else {
                // Nothing to delete is what the planner wanted; there is no write to make.
                return Ok(false);
            };
            reporter.event(Event::Detail(&format!("deleting {}", change.path)));
            target.delete_file(&change.path, sha, &change.message)?;
            reporter.event(Event::Step(&format!("deleted {}", change.path)));
            return Ok(true);
        }
    };
    reporter.event(Event::Detail(&format!(
        "writing {} ({} bytes)",
        change.path,
        upload.len()
    )));
    let stored = target.put_file(&change.path, upload, &change.expected, &change.message)?;
    if let Content::File(file) = &change.content
        && stored != file.blob_sha
    {
        return Err(TargetError::ChangedAfterValidation {
            path: file.path.clone(),
        });
    }
    reporter.event(Event::Step(&format!("wrote {}", change.path)));
    Ok(true)
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
