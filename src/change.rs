//! A change set: what one planned step does to the index, as an ordered list of changes to
//! paths, each with the state it requires. Planners produce change sets from a snapshot; stores
//! commit them (in order, or as one commit); nothing here does I/O.

use std::path::PathBuf;

/// Git blob sha (40 lower-case hex digits) identifying a stored file's exact content.
pub type BlobSha = String;

/// The state a change requires of its path, so a concurrent writer's change is never
/// overwritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// The path must not exist yet.
    Absent,
    /// The path must hold exactly this blob.
    Sha(BlobSha),
    /// The path must still hold exactly the bytes of this read (see [`ReadId`]).
    Read(ReadId),
}

impl Expected {
    /// `Absent` for no sha, else that sha.
    pub fn from_sha(sha: Option<&BlobSha>) -> Expected {
        match sha {
            Some(sha) => Expected::Sha(sha.clone()),
            None => Expected::Absent,
        }
    }

    /// `Absent` for a file that was not there, else what a write must find to replace it.
    pub fn from_version(version: Option<&Version>) -> Expected {
        match version {
            Some(Version::Sha(sha)) => Expected::Sha(sha.clone()),
            Some(Version::Read(id)) => Expected::Read(*id),
            None => Expected::Absent,
        }
    }
}

/// One read of a file by a store that keeps the bytes it read (a local directory): a write
/// that expects this read compares the file with those bytes, which is exact, where a blob sha
/// would mean hashing a 400 KB page on every publish only to compare the hash. Issued by that
/// store's `read_file` and understood by its writes alone; ids are unique in the process, so a
/// local directory handed one it did not issue (or no longer remembers) sees a conflict, and
/// the run reads and plans again. Other stores refuse it as a bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadId(pub u64);

/// What identifies the content a read found, for the write that will replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// Its blob sha (GitHub answers it with the content; small local files are hashed).
    Sha(BlobSha),
    /// The read itself, its bytes kept by the store.
    Read(ReadId),
}

/// A distribution on disk, streamed when committed (never held in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    pub path: PathBuf,
    pub len: u64,
    /// Its git blob sha when it was validated: a store refuses to commit different bytes.
    pub blob_sha: BlobSha,
}

/// The new content of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A validated distribution, streamed from disk.
    File(LocalFile),
    Bytes(Vec<u8>),
    /// Remove the path (`expected` names the blob it must still be).
    Delete,
}

impl Content {
    /// The blob sha the path holds after the change (`None` for a deletion).
    pub fn blob_sha(&self) -> Option<BlobSha> {
        match self {
            Content::File(file) => Some(file.blob_sha.clone()),
            Content::Bytes(bytes) => Some(crate::hashing::git_blob_sha(bytes)),
            Content::Delete => None,
        }
    }

    pub fn len(&self) -> u64 {
        match self {
            Content::File(file) => file.len,
            Content::Bytes(bytes) => bytes.len() as u64,
            Content::Delete => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One change to one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub content: Content,
    pub expected: Expected,
    /// What it does, in words: the commit message where each change is its own commit.
    pub message: String,
}

impl Change {
    pub fn is_delete(&self) -> bool {
        matches!(self.content, Content::Delete)
    }
}

/// The changes of one planned step, in an order where every prefix leaves a valid index
/// (file → `.metadata` → project page → root page; pages stop listing a file before it goes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    pub changes: Vec<Change>,
    /// The subject of the one commit a store that commits atomically makes.
    pub title: String,
}

impl ChangeSet {
    pub fn new(title: impl Into<String>) -> ChangeSet {
        ChangeSet {
            changes: Vec::new(),
            title: title.into(),
        }
    }

    pub fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// The message of one commit holding every change: the title, then one line per path.
    pub fn commit_message(&self) -> String {
        let mut message = self.title.clone();
        if !self.changes.is_empty() {
            message.push_str("\n\n");
            for change in &self.changes {
                let verb = if change.is_delete() {
                    "delete"
                } else {
                    "write"
                };
                message.push_str(&format!("- {verb} {}: {}\n", change.path, change.message));
            }
        }
        message
    }

    /// (path, message) per change, for summaries.
    pub fn listing(&self) -> Vec<(String, String)> {
        self.changes
            .iter()
            .map(|c| (c.path.clone(), c.message.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_commit_message_lists_every_change() {
        let mut set = ChangeSet::new("Publish dace 1.0 (2 files)");
        set.push(Change {
            path: "dace/dace-1.0-py3-none-any.whl".into(),
            content: Content::Bytes(b"x".to_vec()),
            expected: Expected::Absent,
            message: "Publish dace 1.0".into(),
        });
        set.push(Change {
            path: "dace/old.whl".into(),
            content: Content::Delete,
            expected: Expected::Sha("a".repeat(40)),
            message: "Remove old.whl".into(),
        });
        assert_eq!(
            set.commit_message(),
            "Publish dace 1.0 (2 files)\n\n\
             - write dace/dace-1.0-py3-none-any.whl: Publish dace 1.0\n\
             - delete dace/old.whl: Remove old.whl\n"
        );
        assert_eq!(ChangeSet::new("t").commit_message(), "t");
    }

    #[test]
    fn contents_know_their_blob_sha() {
        assert_eq!(
            Content::Bytes(b"hello".to_vec()).blob_sha().as_deref(),
            Some("b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0")
        );
        assert_eq!(Content::Delete.blob_sha(), None);
    }
}
