//! The index in a local directory: the embedded default, used without network or token.
//!
//! Writes go to a temporary file in the destination folder and are renamed into place, so a
//! reader (or a crash) never sees half a file. Runs on the same directory are serialized by an
//! exclusive lock on a lock file, so an overlapping second run waits, then re-reads and merges.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha1::{Digest, Sha1};

use super::{
    BlobSha, CommitError, DirEntry, Expected, LogGroups, RunLock, StoredFile, Target, TargetError,
    Upload, check_path,
};
use crate::change::{ChangeSet, Content};
use crate::hashing::{self, git_blob_sha};
use crate::report::{Event, Reporter};

/// From this many staged files on, one `syncfs` makes them durable instead of one `fsync`
/// each (a flush of the whole filesystem is cheap next to thousands of journal commits, but
/// costly to wait for on a busy machine when only a page or two changed).
const SYNCFS_FROM: usize = 16;

/// Names the tool keeps for itself in the index folder; listings skip them.
const LOCK_FILE: &str = ".gt4py-publish.lock";
const TEMP_PREFIX: &str = ".gt4py-publish.tmp.";

/// Pages are read whole; anything bigger than this is not a page we wrote.
const MAX_READ: u64 = 512 * 1024 * 1024;

/// Files read at least this big are remembered, so the compare-and-swap on them compares bytes
/// instead of hashing the file again (a 1,000-entry page is 400 KB).
const REMEMBER_FROM: usize = 16 * 1024;
/// At most this many bytes are remembered (a `verify` of a big index reads every page).
const REMEMBER_AT_MOST: usize = 64 * 1024 * 1024;

/// A local index directory.
pub struct LocalDir {
    root: PathBuf,
    /// Large files as this value read them, with their blob shas.
    read: Mutex<Remembered>,
}

#[derive(Default)]
struct Remembered {
    files: HashMap<PathBuf, (BlobSha, Vec<u8>)>,
    bytes: usize,
}

impl LocalDir {
    /// An index at `root`; the folder is created on the first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            read: Mutex::new(Remembered::default()),
        }
    }

    fn remember(&self, full: &Path, sha: &str, bytes: &[u8]) {
        if bytes.len() < REMEMBER_FROM {
            return;
        }
        if let Ok(mut read) = self.read.lock()
            && read.bytes + bytes.len() <= REMEMBER_AT_MOST
        {
            read.bytes += bytes.len();
            if let Some((_, old)) = read
                .files
                .insert(full.to_path_buf(), (sha.to_string(), bytes.to_vec()))
            {
                read.bytes -= old.len();
            }
        }
    }

    /// Whether `full` still holds what it held when this value read it with blob sha `sha`:
    /// a byte comparison, which is exact and several times cheaper than hashing it again.
    /// `false` also when it was not remembered (the caller then hashes it).
    fn unchanged_since_read(&self, full: &Path, sha: &str) -> Result<bool, TargetError> {
        let Ok(read) = self.read.lock() else {
            return Ok(false);
        };
        let Some((_, bytes)) = read.files.get(full).filter(|(known, _)| known == sha) else {
            return Ok(false);
        };
        let file = match File::open(full) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Self::io("read", full, e)),
        };
        let mut now = Vec::with_capacity(bytes.len());
        file.take(bytes.len() as u64 + 1)
            .read_to_end(&mut now)
            .map_err(|e| Self::io("read", full, e))?;
        Ok(now == *bytes)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a checked relative path, refusing to follow a symlink out of the index.
    fn resolve(&self, path: &str) -> Result<PathBuf, TargetError> {
        check_path(path)?;
        let mut full = self.root.clone();
        for component in path.split('/') {
            full.push(component);
            if let Ok(meta) = fs::symlink_metadata(&full)
                && meta.file_type().is_symlink()
            {
                return Err(TargetError::UnsafePath {
                    path: path.to_string(),
                });
            }
        }
        Ok(full)
    }

    fn io(action: &'static str, path: &Path, source: io::Error) -> TargetError {
        TargetError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    fn current_sha(&self, full: &Path) -> Result<Option<BlobSha>, TargetError> {
        match File::open(full) {
            Ok(mut file) => {
                let size = file
                    .metadata()
                    .map_err(|e| Self::io("read", full, e))?
                    .len();
                let sha = hashing::blob_sha_reader(&mut file, size)
                    .map_err(|e| Self::io("read", full, e))?;
                Ok(Some(sha))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io("read", full, e)),
        }
    }

    fn check_expected(
        &self,
        path: &str,
        full: &Path,
        expected: &Expected,
    ) -> Result<(), TargetError> {
        if let Expected::Sha(want) = expected
            && self.unchanged_since_read(full, want)?
        {
            return Ok(());
        }
        let current = self.current_sha(full)?;
        let matches = match (expected, &current) {
            (Expected::Absent, None) => true,
            (Expected::Sha(want), Some(have)) => want == have,
            _ => false,
        };
        if matches {
            Ok(())
        } else {
            Err(TargetError::Conflict {
                path: path.to_string(),
                detail: format!(
                    "expected {}, found {}",
                    describe(Some(expected)),
                    current.as_deref().unwrap_or("no file")
                ),
            })
        }
    }

    /// Writes `content` next to `full` and renames it into place, returning the blob sha of
    /// what was written (computed while copying, so a source that changes is noticed).
    fn write_atomically(&self, full: &Path, content: Upload<'_>) -> Result<BlobSha, TargetError> {
        let (temp, sha) = self.stage(full, content, true)?;
        fs::rename(&temp, full).map_err(|e| {
            let _ = fs::remove_file(&temp);
            Self::io("rename into", full, e)
        })?;
        Ok(match (sha, content) {
            (Some(sha), _) => sha,
            (None, Upload::Bytes(bytes)) => git_blob_sha(bytes),
            (None, Upload::File { sha, .. }) => sha.to_string(),
        })
    }

    /// Writes `content` to a new temporary file beside `full` (made durable now when `sync`),
    /// returning its path and, for a file copied from disk, the blob sha of what was copied (a
    /// page in memory is not hashed again: a commit has no use for its sha). Nothing is left
    /// behind on failure.
    fn stage(
        &self,
        full: &Path,
        content: Upload<'_>,
        sync: bool,
    ) -> Result<(PathBuf, Option<BlobSha>), TargetError> {
        let dir = full.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(|e| Self::io("create the folder", dir, e))?;
        let temp = dir.join(format!(
            "{TEMP_PREFIX}{}.{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let result = (|| {
            let mut out = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)
                .map_err(|e| Self::io("create", &temp, e))?;
            let sha = match content {
                Upload::Bytes(bytes) => {
                    out.write_all(bytes)
                        .map_err(|e| Self::io("write", &temp, e))?;
                    None
                }
                Upload::File { path, len, sha } => {
                    let copied = copy_hashing(path, len, &mut out, &temp)?;
                    if copied != sha {
                        return Err(Self::io(
                            "read",
                            path,
                            io::Error::other(
                                "the file changed after it was validated; rebuild it and run again",
                            ),
                        ));
                    }
                    Some(copied)
                }
            };
            // Durable before it becomes visible: a crash must not leave a truncated page.
            if sync {
                out.sync_all().map_err(|e| Self::io("write", &temp, e))?;
            }
            Ok(sha)
        })();
        match result {
            Ok(sha) => Ok((temp, sha)),
            Err(e) => {
                let _ = fs::remove_file(&temp);
                Err(e)
            }
        }
    }

    /// Commits a change set with durable writes batched: every expectation is checked first (the
    /// lock keeps other runs out, so a conflict found now leaves the index untouched), every new
    /// file is written to a temporary file, all are made durable at once, then they are renamed
    /// into place (and deletions made) in the set's order, and each folder touched is synced
    /// once. A crash before the renames leaves the index as it was; during them, a prefix of the
    /// set, which the planner made valid.
    fn commit_batch(
        &self,
        changes: &ChangeSet,
        reporter: &dyn Reporter,
    ) -> Result<Vec<(String, String)>, CommitError> {
        let fail = |path: &str, source: TargetError| CommitError {
            path: path.to_string(),
            source,
            done: Vec::new(),
        };
        let mut resolved = Vec::with_capacity(changes.len());
        for change in &changes.changes {
            let full = self
                .resolve(&change.path)
                .map_err(|e| fail(&change.path, e))?;
            self.check_expected(&change.path, &full, &change.expected)
                .map_err(|e| fail(&change.path, e))?;
            resolved.push(full);
        }
        let batch = changes.len() >= SYNCFS_FROM;
        let mut staged: Vec<Option<PathBuf>> = Vec::with_capacity(changes.len());
        let cleanup = |staged: &[Option<PathBuf>]| {
            for temp in staged.iter().flatten() {
                let _ = fs::remove_file(temp);
            }
        };
        for (change, full) in changes.changes.iter().zip(&resolved) {
            let upload = match &change.content {
                Content::Delete => {
                    staged.push(None);
                    continue;
                }
                Content::Bytes(bytes) => Upload::Bytes(bytes),
                Content::File(file) => Upload::File {
                    path: &file.path,
                    len: file.len,
                    sha: &file.blob_sha,
                },
            };
            reporter.event(Event::Detail(&format!(
                "writing {} ({} bytes)",
                change.path,
                upload.len()
            )));
            match self.stage(full, upload, !batch) {
                Ok((temp, sha)) => {
                    if let Content::File(file) = &change.content
                        && sha.as_ref() != Some(&file.blob_sha)
                    {
                        let _ = fs::remove_file(&temp);
                        cleanup(&staged);
                        return Err(fail(
                            &change.path,
                            TargetError::ChangedAfterValidation {
                                path: file.path.clone(),
                            },
                        ));
                    }
                    staged.push(Some(temp));
                }
                Err(e) => {
                    cleanup(&staged);
                    return Err(fail(&change.path, e));
                }
            }
        }
        if batch && let Err(e) = sync_filesystem(&self.root) {
            cleanup(&staged);
            return Err(fail(
                changes.changes.first().map_or("", |c| c.path.as_str()),
                Self::io("flush", &self.root, e),
            ));
        }
        let mut done = Vec::with_capacity(changes.len());
        let mut folders: Vec<&Path> = Vec::new();
        let mut groups = LogGroups::default();
        for (i, (change, full)) in changes.changes.iter().zip(&resolved).enumerate() {
            groups.enter(change, reporter);
            let result = match &staged[i] {
                Some(temp) => fs::rename(temp, full).map_err(|e| Self::io("rename into", full, e)),
                None => fs::remove_file(full).map_err(|e| Self::io("delete", full, e)),
            };
            if let Err(e) = result {
                groups.close(reporter);
                cleanup(&staged[i..]);
                return Err(CommitError {
                    path: change.path.clone(),
                    source: e,
                    done,
                });
            }
            let verb = if staged[i].is_some() {
                "wrote"
            } else {
                "deleted"
            };
            reporter.event(Event::Step(&format!("{verb} {}", change.path)));
            done.push((change.path.clone(), change.message.clone()));
            if let Some(folder) = full.parent()
                && !folders.contains(&folder)
            {
                folders.push(folder);
            }
        }
        groups.close(reporter);
        // The renames themselves durable: one sync per folder, not per file.
        for folder in folders {
            if let Ok(dir) = File::open(folder) {
                let _ = dir.sync_all();
            }
        }
        Ok(done)
    }
}

/// Flushes every file written so far on the filesystem holding `root` (Linux `syncfs`);
/// elsewhere, `sync` of everything.
fn sync_filesystem(root: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let dir = File::open(root)?;
        // SAFETY: `syncfs` takes a valid open descriptor, which `dir` holds for the call.
        let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = root;
        // SAFETY: `sync` takes no arguments and cannot fail.
        unsafe { libc::sync() };
        Ok(())
    }
}

fn describe(expected: Option<&Expected>) -> String {
    match expected {
        Some(Expected::Absent) | None => "no file".to_string(),
        Some(Expected::Sha(sha)) => sha.clone(),
    }
}

/// Copies `len` bytes of `source` into `out`, returning their blob sha.
fn copy_hashing(
    source: &Path,
    len: u64,
    out: &mut File,
    temp: &Path,
) -> Result<BlobSha, TargetError> {
    let mut input = File::open(source).map_err(|e| LocalDir::io("read", source, e))?;
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {len}\0").as_bytes());
    let mut buf = vec![0u8; 256 * 1024];
    let mut copied: u64 = 0;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LocalDir::io("read", source, e)),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| LocalDir::io("write", temp, e))?;
        copied += n as u64;
    }
    if copied != len {
        return Err(LocalDir::io(
            "read",
            source,
            io::Error::other(format!(
                "the file changed after it was validated ({len} bytes expected, {copied} read)"
            )),
        ));
    }
    Ok(hashing::hex(&hasher.finalize()))
}

struct DirLock {
    _file: File,
}

impl RunLock for DirLock {}

impl Target for LocalDir {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn lock(&self) -> Result<Box<dyn RunLock>, TargetError> {
        fs::create_dir_all(&self.root).map_err(|e| Self::io("create the folder", &self.root, e))?;
        let path = self.root.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Self::io("open the lock file", &path, e))?;
        // The OS releases the lock when the process dies, so a crashed run never wedges the index.
        file.lock().map_err(|source| TargetError::Locked {
            location: self.location(),
            source,
        })?;
        Ok(Box::new(DirLock { _file: file }))
    }

    fn list_dir(&self, dir: &str) -> Result<Option<Vec<DirEntry>>, TargetError> {
        let full = if dir.is_empty() {
            self.root.clone()
        } else {
            self.resolve(dir)?
        };
        let reader = match fs::read_dir(&full) {
            Ok(reader) => reader,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::io("list", &full, e)),
        };
        let mut entries = Vec::new();
        for item in reader {
            let item = item.map_err(|e| Self::io("list", &full, e))?;
            let Ok(name) = item.file_name().into_string() else {
                // Not UTF-8: cannot be a page entry or a distribution; verify reports it.
                continue;
            };
            if name == LOCK_FILE || name.starts_with(TEMP_PREFIX) {
                continue;
            }
            // The type comes with the directory entry on most filesystems; a stat per file would
            // dominate publishing into a folder of thousands of files.
            let file_type = item
                .file_type()
                .map_err(|e| Self::io("list", &item.path(), e))?;
            entries.push(DirEntry {
                name,
                is_dir: file_type.is_dir(),
                size: 0,
                sha: None,
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(entries))
    }

    fn dir_entries(&self, dir: &str, names: &[String]) -> Result<Vec<DirEntry>, TargetError> {
        let mut entries = Vec::with_capacity(names.len());
        for name in names {
            if name == LOCK_FILE || name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let path = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            let full = self.resolve(&path)?;
            match fs::symlink_metadata(&full) {
                Ok(meta) => entries.push(DirEntry {
                    name: name.clone(),
                    is_dir: meta.is_dir(),
                    size: 0,
                    sha: None,
                }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Self::io("look up", &full, e)),
            }
        }
        Ok(entries)
    }

    fn read_file(&self, path: &str) -> Result<Option<StoredFile>, TargetError> {
        let full = self.resolve(path)?;
        let file = match File::open(&full) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::io("read", &full, e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_READ + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Self::io("read", &full, e))?;
        if bytes.len() as u64 > MAX_READ {
            return Err(Self::io(
                "read",
                &full,
                io::Error::other("the file is larger than 512 MiB; it is not an index page"),
            ));
        }
        let sha = git_blob_sha(&bytes);
        self.remember(&full, &sha, &bytes);
        Ok(Some(StoredFile { bytes, sha }))
    }

    fn file_sha(&self, path: &str) -> Result<Option<BlobSha>, TargetError> {
        let full = self.resolve(path)?;
        self.current_sha(&full)
    }

    fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.resolve(path).ok()
    }

    fn commit(
        &self,
        changes: &ChangeSet,
        reporter: &dyn Reporter,
    ) -> Result<Vec<(String, String)>, CommitError> {
        self.commit_batch(changes, reporter)
    }

    fn open_file(&self, path: &str) -> Result<Option<Box<dyn Read + '_>>, TargetError> {
        let full = self.resolve(path)?;
        match File::open(&full) {
            Ok(file) => Ok(Some(Box::new(file))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io("read", &full, e)),
        }
    }

    fn put_file(
        &self,
        path: &str,
        content: Upload<'_>,
        expected: &Expected,
        _message: &str,
    ) -> Result<BlobSha, TargetError> {
        let full = self.resolve(path)?;
        self.check_expected(path, &full, expected)?;
        self.write_atomically(&full, content)
    }

    fn delete_file(
        &self,
        path: &str,
        expected: &BlobSha,
        _message: &str,
    ) -> Result<(), TargetError> {
        let full = self.resolve(path)?;
        self.check_expected(path, &full, &Expected::Sha(expected.clone()))?;
        fs::remove_file(&full).map_err(|e| Self::io("delete", &full, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> (tempfile::TempDir, LocalDir) {
        let dir = tempfile::tempdir().unwrap();
        let target = LocalDir::new(dir.path().join("index"));
        (dir, target)
    }

    #[test]
    fn writes_are_compare_and_swap() {
        let (_dir, target) = index();
        let sha = target
            .put_file(
                "dace/index.html",
                Upload::Bytes(b"one"),
                &Expected::Absent,
                "m",
            )
            .unwrap();
        assert_eq!(sha, git_blob_sha(b"one"));
        // Creating again must fail: someone else created it first.
        let err = target
            .put_file(
                "dace/index.html",
                Upload::Bytes(b"two"),
                &Expected::Absent,
                "m",
            )
            .unwrap_err();
        assert!(matches!(err, TargetError::Conflict { .. }), "{err}");
        // Updating with a stale sha must fail too.
        let err = target
            .put_file(
                "dace/index.html",
                Upload::Bytes(b"two"),
                &Expected::Sha(git_blob_sha(b"zero")),
                "m",
            )
            .unwrap_err();
        assert!(matches!(err, TargetError::Conflict { .. }), "{err}");
        target
            .put_file(
                "dace/index.html",
                Upload::Bytes(b"two"),
                &Expected::Sha(sha),
                "m",
            )
            .unwrap();
        let stored = target.read_file("dace/index.html").unwrap().unwrap();
        assert_eq!(stored.bytes, b"two");
        assert_eq!(stored.sha, git_blob_sha(b"two"));
    }

    /// A large page read once is compared byte for byte, not hashed again; a change of one
    /// byte behind the run's back is still a conflict.
    #[test]
    fn a_remembered_page_changed_behind_the_run_is_a_conflict() {
        let (_dir, target) = index();
        let page: Vec<u8> = (0..REMEMBER_FROM * 2)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        std::fs::create_dir_all(target.root().join("x")).unwrap();
        std::fs::write(target.root().join("x/index.html"), &page).unwrap();
        let stored = target.read_file("x/index.html").unwrap().unwrap();
        assert_eq!(stored.sha, git_blob_sha(&page));

        let mut edited = page.clone();
        edited[REMEMBER_FROM] = b'!';
        std::fs::write(target.root().join("x/index.html"), &edited).unwrap();
        let err = target
            .put_file(
                "x/index.html",
                Upload::Bytes(b"new"),
                &Expected::Sha(stored.sha.clone()),
                "m",
            )
            .unwrap_err();
        assert!(matches!(err, TargetError::Conflict { .. }), "{err}");

        std::fs::write(target.root().join("x/index.html"), &page).unwrap();
        target
            .put_file(
                "x/index.html",
                Upload::Bytes(b"new"),
                &Expected::Sha(stored.sha),
                "m",
            )
            .unwrap();
        assert_eq!(
            std::fs::read(target.root().join("x/index.html")).unwrap(),
            b"new"
        );
    }

    #[test]
    fn file_uploads_are_copied_and_hashed() {
        let (dir, target) = index();
        let source = dir.path().join("x.whl");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        fs::write(&source, &data).unwrap();
        let sha = target
            .put_file(
                "x/x.whl",
                Upload::File {
                    path: &source,
                    len: data.len() as u64,
                    sha: &git_blob_sha(&data),
                },
                &Expected::Absent,
                "m",
            )
            .unwrap();
        assert_eq!(sha, git_blob_sha(&data));
        assert_eq!(target.file_sha("x/x.whl").unwrap(), Some(sha));
        // A source that is not the length it was validated at is refused, and nothing is left.
        let err = target
            .put_file(
                "x/y.whl",
                Upload::File {
                    path: &source,
                    len: 10,
                    sha: &git_blob_sha(&data),
                },
                &Expected::Absent,
                "m",
            )
            .unwrap_err();
        assert!(err.to_string().contains("x.whl") || format!("{err:?}").contains("changed"));
        assert_eq!(target.file_sha("x/y.whl").unwrap(), None);
        let names: Vec<_> = target
            .list_dir("x")
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["x.whl"], "no temporary file may be left behind");
    }

    #[test]
    fn deletes_check_the_sha() {
        let (_dir, target) = index();
        let sha = target
            .put_file("a", Upload::Bytes(b"1"), &Expected::Absent, "m")
            .unwrap();
        assert!(target.delete_file("a", &git_blob_sha(b"2"), "m").is_err());
        target.delete_file("a", &sha, "m").unwrap();
        assert_eq!(target.read_file("a").unwrap(), None);
    }

    #[test]
    fn paths_cannot_escape_the_index() {
        let (dir, target) = index();
        for bad in ["../escape", "/etc/passwd", "a/../../b"] {
            assert!(matches!(
                target.put_file(bad, Upload::Bytes(b"x"), &Expected::Absent, "m"),
                Err(TargetError::UnsafePath { .. })
            ));
        }
        // A symlink inside the index must not be followed out of it.
        fs::create_dir_all(target.root()).unwrap();
        let outside = dir.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, target.root().join("evil")).unwrap();
        assert!(matches!(
            target.put_file("evil/x", Upload::Bytes(b"x"), &Expected::Absent, "m"),
            Err(TargetError::UnsafePath { .. })
        ));
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    }

    #[test]
    fn listings_hide_the_tools_own_files() {
        let (_dir, target) = index();
        assert_eq!(target.list_dir("").unwrap(), None);
        let _lock = target.lock().unwrap();
        target
            .put_file("index.html", Upload::Bytes(b"x"), &Expected::Absent, "m")
            .unwrap();
        let names: Vec<_> = target
            .list_dir("")
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["index.html"]);
    }
}
