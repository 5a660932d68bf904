//! The index in a local directory: the embedded default, used without network or token.
//!
//! Writes go to a temporary file in the destination folder and are renamed into place, so a
//! reader (or a crash) never sees half a file. Runs on the same directory are serialized by an
//! exclusive lock on a lock file, so an overlapping second run waits, then re-reads and merges.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use sha1::{Digest, Sha1};

use super::{
    BlobSha, CommitError, DirEntry, Expected, LogGroups, ReadId, RunLock, StoredFile, Target,
    TargetError, Upload, Version, check_path,
};
use crate::change::{ChangeSet, Content};
use crate::hashing::{self, git_blob_sha};
use crate::report::{Event, Reporter};

/// From this many changes on, the staged files are made durable together instead of one
/// `fsync` each as it is written (see [`Flush`]); below, that costs more than it saves.
const BATCH_FROM: usize = 16;

/// Threads that `fdatasync` a batch file by file. They wait on the disk, not the CPU: the more
/// flushes are in flight at once, the more of them the block layer merges into one cache flush
/// of the device.
const SYNC_THREADS: usize = 32;

/// What one file's own `fdatasync` costs, as bytes `syncfs` could write back in that time. On
/// the development machine (a disk writing about 3 GB/s), 2,000 files synced on
/// [`SYNC_THREADS`] threads took 30–70 ms longer than one `syncfs` of them, so from about 45 KiB
/// of other dirty data per file on, syncing each file is faster. Set lower, to err towards the
/// way whose time does not depend on other programs.
const FLUSH_COST_BYTES: u64 = 32 * 1024;

/// Names the tool keeps for itself in the index folder; listings skip them.
const LOCK_FILE: &str = ".gt4py-publish.lock";
const TEMP_PREFIX: &str = ".gt4py-publish.tmp.";

/// Pages are read whole; anything bigger than this is not a page we wrote.
const MAX_READ: u64 = 512 * 1024 * 1024;

/// Files read at least this big are remembered, and a write that replaces one compares it
/// with what was read instead of hashing it (a 1,000-entry page is 400 KB; hashing it took
/// as long as the rest of a publish into an empty index). Smaller ones are hashed.
const REMEMBER_FROM: usize = 16 * 1024;
/// At most this many bytes are remembered (a `verify` of a big index reads every page); past
/// that, files read are hashed.
const REMEMBER_AT_MOST: usize = 64 * 1024 * 1024;

/// A local index directory.
pub struct LocalDir {
    root: PathBuf,
    /// Large files as this value last read them.
    read: Mutex<Remembered>,
}

#[derive(Default)]
struct Remembered {
    /// Per file, the read a write may name ([`Expected::Read`]) and its bytes.
    files: HashMap<PathBuf, (ReadId, Vec<u8>)>,
    bytes: usize,
}

/// The next [`ReadId`], shared by every [`LocalDir`] of the process: two values on the same
/// folder never issue the same id, so one never takes the other's older read for its own.
static NEXT_READ: AtomicU64 = AtomicU64::new(0);

impl LocalDir {
    /// An index at `root`; the folder is created on the first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            read: Mutex::new(Remembered::default()),
        }
    }

    /// What identifies `bytes`, just read from `full`: a remembered read for a large file
    /// while there is room, its blob sha otherwise. A file read again is remembered anew: an
    /// older read of it no longer matches, so a plan made from it conflicts and is made again.
    fn remember(&self, full: &Path, bytes: &[u8]) -> Version {
        if bytes.len() >= REMEMBER_FROM
            && let Ok(mut read) = self.read.lock()
        {
            let old = read.files.remove(full).map_or(0, |(_, old)| old.len());
            read.bytes -= old;
            if read.bytes + bytes.len() <= REMEMBER_AT_MOST {
                let id = ReadId(NEXT_READ.fetch_add(1, Ordering::Relaxed));
                read.bytes += bytes.len();
                read.files.insert(full.to_path_buf(), (id, bytes.to_vec()));
                return Version::Read(id);
            }
        }
        Version::Sha(git_blob_sha(bytes))
    }

    /// Whether `full` still holds the bytes of read `id`. `false` also when this value does not
    /// remember that read (another value issued it, or the file was read again since).
    fn unchanged_since_read(&self, full: &Path, id: ReadId) -> Result<bool, TargetError> {
        let Ok(read) = self.read.lock() else {
            return Ok(false);
        };
        let Some((_, bytes)) = read.files.get(full).filter(|(known, _)| *known == id) else {
            return Ok(false);
        };
        Ok(matches!(read_at_most(full, bytes.len() as u64)?, Whole::Bytes(now) if now == *bytes))
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
        let matches = match expected {
            Expected::Read(id) => self.unchanged_since_read(full, *id)?,
            Expected::Absent => match fs::symlink_metadata(full) {
                Ok(_) => false,
                Err(e) if e.kind() == io::ErrorKind::NotFound => true,
                Err(e) => return Err(Self::io("read", full, e)),
            },
            Expected::Sha(want) => self.current_sha(full)?.as_ref() == Some(want),
        };
        if matches {
            return Ok(());
        }
        // Hashed only to say what is there now.
        let current = self.current_sha(full)?;
        Err(TargetError::Conflict {
            path: path.to_string(),
            detail: format!(
                "expected {}, found {}",
                describe(Some(expected)),
                current.as_deref().unwrap_or("no file")
            ),
        })
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

    /// Every change's full path, checked as [`Self::resolve`] and [`Self::check_expected`] check
    /// it, with one `lstat` for a file the change creates: each folder is resolved once, and a
    /// file that is not there is not opened to find so. On failure, the change's path and why.
    fn resolve_and_check<'c>(
        &self,
        changes: &'c ChangeSet,
    ) -> Result<Vec<PathBuf>, (&'c str, TargetError)> {
        let mut folders: HashMap<&str, PathBuf> = HashMap::new();
        let mut resolved = Vec::with_capacity(changes.len());
        for change in &changes.changes {
            let path = change.path.as_str();
            check_path(path).map_err(|e| (path, e))?;
            let (folder, name) = path.rsplit_once('/').unwrap_or(("", path));
            let dir = match folders.get(folder) {
                Some(dir) => dir.clone(),
                None => {
                    let dir = if folder.is_empty() {
                        self.root.clone()
                    } else {
                        self.resolve(folder).map_err(|e| (path, e))?
                    };
                    folders.insert(folder, dir.clone());
                    dir
                }
            };
            let full = dir.join(name);
            let absent = match fs::symlink_metadata(&full) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err((
                        path,
                        TargetError::UnsafePath {
                            path: path.to_string(),
                        },
                    ));
                }
                Ok(_) => false,
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            };
            if !(absent && matches!(change.expected, Expected::Absent)) {
                self.check_expected(path, &full, &change.expected)
                    .map_err(|e| (path, e))?;
            }
            resolved.push(full);
        }
        Ok(resolved)
    }

    /// Commits a change set with durable writes batched: every expectation is checked first (the
    /// lock keeps other runs out, so a conflict found now leaves the index untouched), every new
    /// file is written to a temporary file, then, in the set's order, each is renamed into place
    /// once it is durable (and deletions made), and each folder touched is synced once. A crash
    /// or a failed flush leaves the index as it was or with a prefix of the set renamed into
    /// place, which the planner made valid.
    fn commit_batch(
        &self,
        changes: &ChangeSet,
        reporter: &dyn Reporter,
    ) -> Result<Vec<(String, String)>, CommitError> {
        let flush = (changes.len() >= BATCH_FROM).then(|| Flush::choose(changes.len()));
        self.commit_flushed(changes, flush, reporter)
    }

    /// [`Self::commit_batch`] with the way the staged files are made durable chosen: `None`,
    /// each as it is written.
    fn commit_flushed(
        &self,
        changes: &ChangeSet,
        flush: Option<Flush>,
        reporter: &dyn Reporter,
    ) -> Result<Vec<(String, String)>, CommitError> {
        let fail = |path: &str, source: TargetError| CommitError {
            path: path.to_string(),
            source,
            done: Vec::new(),
        };
        let resolved = self
            .resolve_and_check(changes)
            .map_err(|(path, e)| fail(path, e))?;
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
            match self.stage(full, upload, flush.is_none()) {
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
        if flush == Some(Flush::Filesystem)
            && let Err(e) = sync_filesystem(&self.root)
        {
            cleanup(&staged);
            return Err(fail(
                changes.changes.first().map_or("", |c| c.path.as_str()),
                Self::io("flush", &self.root, e),
            ));
        }
        let each_file = flush == Some(Flush::EachFile);
        let syncer = Syncer::new(if each_file { &staged } else { &[] });
        let result = std::thread::scope(|scope| {
            syncer.start(scope);
            let result = self.rename_staged(changes, &resolved, &staged, &syncer, reporter);
            // After a failure, the files not yet taken are not synced for nothing.
            syncer.stop();
            result
        });
        result.map_err(|(error, failed_at)| {
            cleanup(&staged[failed_at..]);
            error
        })
    }

    /// Renames each staged file into place once `syncer` has made it durable, and makes each
    /// deletion, in the set's order; then syncs each folder touched once. On failure, the error
    /// and the index of the first change not made.
    fn rename_staged(
        &self,
        changes: &ChangeSet,
        resolved: &[PathBuf],
        staged: &[Option<PathBuf>],
        syncer: &Syncer<'_>,
        reporter: &dyn Reporter,
    ) -> Result<Vec<(String, String)>, (CommitError, usize)> {
        let mut done = Vec::with_capacity(changes.len());
        let mut folders: Vec<&Path> = Vec::new();
        let mut groups = LogGroups::default();
        let mut replaced = Replaced::default();
        for (i, (change, full)) in changes.changes.iter().zip(resolved).enumerate() {
            groups.enter(change, reporter);
            let result = match &staged[i] {
                Some(temp) => syncer
                    .wait(i)
                    .map_err(|e| Self::io("flush", temp, e))
                    .and_then(|()| {
                        replaced.hold(full, &change.expected);
                        fs::rename(temp, full).map_err(|e| Self::io("rename into", full, e))
                    }),
                None => fs::remove_file(full).map_err(|e| Self::io("delete", full, e)),
            };
            if let Err(e) = result {
                groups.close(reporter);
                // What was renamed before the failure is reported done: make it durable too.
                sync_folders(&folders);
                replaced.release();
                return Err((
                    CommitError {
                        path: change.path.clone(),
                        source: e,
                        done,
                    },
                    i,
                ));
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
        sync_folders(&folders);
        replaced.release();
        Ok(done)
    }
}

/// Makes the renames in `folders` durable: one sync per folder, not per file.
fn sync_folders(folders: &[&Path]) {
    for folder in folders {
        if let Ok(dir) = File::open(folder) {
            let _ = dir.sync_all();
        }
    }
}

/// A whole file read into one buffer sized by its length (no regrowing, one `read` for a page
/// already in the cache); `None` when it does not exist.
fn read_whole(full: &Path) -> Result<Option<Vec<u8>>, TargetError> {
    match read_at_most(full, MAX_READ)? {
        Whole::Missing => Ok(None),
        Whole::Bytes(bytes) => Ok(Some(bytes)),
        Whole::Larger => Err(LocalDir::io(
            "read",
            full,
            io::Error::other("the file is larger than 512 MiB; it is not an index page"),
        )),
    }
}

/// What [`read_at_most`] found.
enum Whole {
    Missing,
    Bytes(Vec<u8>),
    /// More than the limit: not read past it.
    Larger,
}

/// A file's bytes if it holds at most `limit` of them.
fn read_at_most(full: &Path, limit: u64) -> Result<Whole, TargetError> {
    let io = |e| LocalDir::io("read", full, e);
    let file = match File::open(full) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Whole::Missing),
        Err(e) => return Err(io(e)),
    };
    let len = file.metadata().map_err(io)?.len();
    if len > limit {
        return Ok(Whole::Larger);
    }
    // One byte more than the length, so a file that grew meanwhile is read to its end in the
    // same buffer and still checked against the limit.
    let mut bytes = Vec::with_capacity(usize::try_from(len).map_or(0, |n| n.saturating_add(1)));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(if bytes.len() as u64 > limit {
        Whole::Larger
    } else {
        Whole::Bytes(bytes)
    })
}

/// Large files about to be replaced by a rename, held open so that the rename does not free
/// them: freeing a file drops its cached pages and blocks, which for a 400 KB page took as long
/// as the rename and the folder sync together. They are freed on another thread afterwards
/// (or when the process exits), off the path of the run. A crash meanwhile leaves an orphan
/// inode, which the filesystem frees when it is mounted again.
#[derive(Default)]
struct Replaced(Vec<File>);

impl Replaced {
    /// Below this, freeing a file costs less than handing it to another thread.
    const FROM: u64 = 64 * 1024;

    /// Holds `full` if the change expecting `expected` there replaces a large file.
    fn hold(&mut self, full: &Path, expected: &Expected) {
        if matches!(expected, Expected::Absent) {
            return;
        }
        if let Ok(file) = File::open(full)
            && file
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() >= Self::FROM)
        {
            self.0.push(file);
        }
    }

    fn release(self) {
        if self.0.is_empty() {
            return;
        }
        // Detached: nothing waits for it. Where no thread can be had, the files are freed
        // here instead.
        let files = self.0;
        let _ = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || drop(files));
    }
}

/// How a batch of staged files is made durable before they are renamed into place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// One `syncfs`: a single cache flush for the whole batch, but it also writes back whatever
    /// other programs left dirty on the filesystem (a build beside us), and waits for that.
    Filesystem,
    /// One `fdatasync` per file on [`SYNC_THREADS`] threads, each file renamed as soon as it is
    /// durable: a flush per file, but no wait for anyone else's data.
    EachFile,
}

impl Flush {
    /// The cheaper way for `files` files, by how much is dirty on the machine now.
    fn choose(files: usize) -> Flush {
        Flush::for_dirty(files, dirty_bytes())
    }

    /// `dirty`: bytes waiting to be written back on the machine (`None`: unknown).
    fn for_dirty(files: usize, dirty: Option<u64>) -> Flush {
        match dirty {
            Some(dirty) if dirty <= files as u64 * FLUSH_COST_BYTES => Flush::Filesystem,
            _ => Flush::EachFile,
        }
    }
}

/// Dirty and under-writeback page cache of the whole machine, from `/proc/meminfo` (more than
/// `syncfs` of one filesystem writes, so never less). `None` where there is no such file.
fn dirty_bytes() -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let mut total = 0u64;
    let mut found = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key == "Dirty" || key == "Writeback" {
            let kib: u64 = value.trim().trim_end_matches("kB").trim().parse().ok()?;
            total = total.saturating_add(kib.saturating_mul(1024));
            found += 1;
        }
    }
    (found == 2).then_some(total)
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

/// Makes staged files durable for [`Flush::EachFile`]: threads take the files in order, so the
/// renames, which wait for each file's own sync only, follow right behind.
struct Syncer<'a> {
    /// The files to sync; `None` (a deletion) needs nothing.
    files: &'a [Option<PathBuf>],
    next: AtomicUsize,
    /// Per file, once its sync has finished: how it went.
    results: Mutex<Vec<Option<io::Result<()>>>>,
    finished: Condvar,
}

impl<'a> Syncer<'a> {
    /// A syncer for `files`; with none (they are already durable), `wait` returns at once.
    fn new(files: &'a [Option<PathBuf>]) -> Self {
        Syncer {
            files,
            next: AtomicUsize::new(0),
            results: Mutex::new(files.iter().map(|_| None).collect()),
            finished: Condvar::new(),
        }
    }

    fn start<'scope>(&'scope self, scope: &'scope std::thread::Scope<'scope, '_>) {
        let pending = self.files.iter().flatten().count();
        let mut started = 0;
        for _ in 0..SYNC_THREADS.min(pending) {
            // Small stacks: the threads only make two system calls per file.
            let spawned = std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn_scoped(scope, || self.work());
            if spawned.is_ok() {
                started += 1;
            }
        }
        if started == 0 && pending > 0 {
            // No thread to be had: sync them all here, or `wait` would wait forever.
            self.work();
        }
    }

    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(file) = self.files.get(i) else { break };
            let Some(path) = file else { continue };
            let result = sync_file(path);
            let failed = result.is_err();
            if let Some(slot) = self.lock().get_mut(i) {
                *slot = Some(result);
            }
            self.finished.notify_all();
            if failed {
                // The renames stop at the first failure.
                self.stop();
            }
        }
    }

    /// Leaves the files not yet taken unsynced.
    fn stop(&self) {
        self.next.store(self.files.len(), Ordering::Relaxed);
    }

    /// Waits until file `i` is durable, or its sync has failed. Every file before the first
    /// failure is taken (threads take them in order), so this returns.
    fn wait(&self, i: usize) -> io::Result<()> {
        if self.files.get(i).is_none_or(Option::is_none) {
            return Ok(());
        }
        let mut results = self.lock();
        loop {
            match results.get_mut(i).map(Option::take) {
                Some(Some(result)) => return result,
                Some(None) => {
                    results = self
                        .finished
                        .wait(results)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                None => return Ok(()),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<io::Result<()>>>> {
        self.results
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `fdatasync` of one staged file, reopened by path: holding thousands of files open until the
/// flush could run out of file descriptors.
fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_data()
}

fn describe(expected: Option<&Expected>) -> String {
    match expected {
        Some(Expected::Absent) | None => "no file".to_string(),
        Some(Expected::Sha(sha)) => sha.clone(),
        Some(Expected::Read(_)) => "the content this run read".to_string(),
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
        let Some(bytes) = read_whole(&full)? else {
            return Ok(None);
        };
        let version = self.remember(&full, &bytes);
        Ok(Some(StoredFile { bytes, version }))
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
        // A small file is identified by its blob sha.
        assert_eq!(stored.version, Version::Sha(git_blob_sha(b"two")));
    }

    /// A large page is identified by the read itself and compared byte for byte, not hashed;
    /// a change of one byte behind the run's back is still a conflict.
    #[test]
    fn a_remembered_page_changed_behind_the_run_is_a_conflict() {
        let (_dir, target) = index();
        let page: Vec<u8> = (0..REMEMBER_FROM * 2)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        std::fs::create_dir_all(target.root().join("x")).unwrap();
        std::fs::write(target.root().join("x/index.html"), &page).unwrap();
        let stored = target.read_file("x/index.html").unwrap().unwrap();
        assert_eq!(stored.bytes, page);
        assert!(matches!(stored.version, Version::Read(_)), "{stored:?}");
        let expected = Expected::from_version(Some(&stored.version));

        let mut edited = page.clone();
        edited[REMEMBER_FROM] = b'!';
        std::fs::write(target.root().join("x/index.html"), &edited).unwrap();
        let err = target
            .put_file("x/index.html", Upload::Bytes(b"new"), &expected, "m")
            .unwrap_err();
        assert!(matches!(err, TargetError::Conflict { .. }), "{err}");
        // One byte more is a change too.
        let mut longer = page.clone();
        longer.push(b'a');
        std::fs::write(target.root().join("x/index.html"), &longer).unwrap();
        let err = target
            .put_file("x/index.html", Upload::Bytes(b"new"), &expected, "m")
            .unwrap_err();
        assert!(matches!(err, TargetError::Conflict { .. }), "{err}");
        // Gone is a change.
        fs::remove_file(target.root().join("x/index.html")).unwrap();
        let err = target
            .put_file("x/index.html", Upload::Bytes(b"new"), &expected, "m")
            .unwrap_err();
        assert!(matches!(err, TargetError::Conflict { .. }), "{err}");

        std::fs::write(target.root().join("x/index.html"), &page).unwrap();
        target
            .put_file("x/index.html", Upload::Bytes(b"new"), &expected, "m")
            .unwrap();
        assert_eq!(
            std::fs::read(target.root().join("x/index.html")).unwrap(),
            b"new"
        );
    }

    /// A read is good for the one state it saw: reading the file again, or asking another
    /// value for the same directory, never passes an old read off as current.
    #[test]
    fn a_read_is_honoured_only_by_the_value_that_made_it_and_until_the_next_read() {
        let (_dir, target) = index();
        let page = vec![b'p'; REMEMBER_FROM];
        std::fs::create_dir_all(target.root().join("x")).unwrap();
        std::fs::write(target.root().join("x/index.html"), &page).unwrap();
        let first = target.read_file("x/index.html").unwrap().unwrap().version;
        let second = target.read_file("x/index.html").unwrap().unwrap().version;
        assert_ne!(first, second);
        let stale = Expected::from_version(Some(&first));
        let err = target
            .put_file("x/index.html", Upload::Bytes(b"new"), &stale, "m")
            .unwrap_err();
        assert!(matches!(err, TargetError::Conflict { .. }), "{err}");

        // Another value on the same folder, even one that read the file itself (and so
        // remembers bytes equal to what is there), never takes this value's read for its own.
        let other = LocalDir::new(target.root());
        let own = other.read_file("x/index.html").unwrap().unwrap().version;
        assert_ne!(own, second);
        for foreign in [first, second.clone()] {
            let err = other
                .put_file(
                    "x/index.html",
                    Upload::Bytes(b"new"),
                    &Expected::from_version(Some(&foreign)),
                    "m",
                )
                .unwrap_err();
            assert!(matches!(err, TargetError::Conflict { .. }), "{err}");
        }
        assert_eq!(fs::read(target.root().join("x/index.html")).unwrap(), page);

        target
            .put_file(
                "x/index.html",
                Upload::Bytes(b"new"),
                &Expected::from_version(Some(&second)),
                "m",
            )
            .unwrap();
    }

    /// A large page replaced by a commit is held open across the rename (so the rename does not
    /// free it); a small one is not held at all. The new content is in place either way.
    #[test]
    fn a_large_replaced_page_is_held_until_released() {
        let (_dir, target) = index();
        let big = vec![b'b'; Replaced::FROM as usize];
        fs::create_dir_all(target.root().join("x")).unwrap();
        fs::write(target.root().join("x/index.html"), &big).unwrap();
        fs::write(target.root().join("x/small"), b"s").unwrap();
        let read = target.read_file("x/index.html").unwrap().unwrap();
        let page = Expected::from_version(Some(&read.version));
        assert!(matches!(page, Expected::Read(_)));
        let small = Expected::Sha(git_blob_sha(b"s"));
        let mut replaced = Replaced::default();
        // A file the change creates is not there to hold.
        replaced.hold(&target.root().join("x/index.html"), &Expected::Absent);
        assert!(replaced.0.is_empty());
        replaced.hold(&target.root().join("x/index.html"), &page);
        replaced.hold(&target.root().join("x/small"), &small);
        replaced.hold(&target.root().join("x/missing"), &small);
        assert_eq!(replaced.0.len(), 1);
        fs::write(target.root().join("x/next"), b"new").unwrap();
        fs::rename(
            target.root().join("x/next"),
            target.root().join("x/index.html"),
        )
        .unwrap();
        let mut held = Vec::new();
        (&replaced.0[0]).read_to_end(&mut held).unwrap();
        assert_eq!(
            held, big,
            "the old page stays readable through the held handle"
        );
        replaced.release();

        let stored = target.read_file("x/index.html").unwrap().unwrap();
        let mut changes = ChangeSet::new("replace");
        changes.push(crate::change::Change {
            path: "x/index.html".to_string(),
            content: Content::Bytes(big.clone()),
            expected: Expected::from_version(Some(&stored.version)),
            message: "page".to_string(),
        });
        target
            .commit(&changes, &crate::report::NullReporter)
            .unwrap();
        assert_eq!(fs::read(target.root().join("x/index.html")).unwrap(), big);
    }

    /// Past the memory budget, files read are hashed and compared by blob sha as before.
    #[test]
    fn past_the_budget_a_read_is_identified_by_its_blob_sha() {
        let (_dir, target) = index();
        let page = vec![b'q'; REMEMBER_FROM];
        std::fs::create_dir_all(target.root().join("x")).unwrap();
        std::fs::write(target.root().join("x/index.html"), &page).unwrap();
        target.read.lock().unwrap().bytes = REMEMBER_AT_MOST;
        let stored = target.read_file("x/index.html").unwrap().unwrap();
        assert_eq!(stored.version, Version::Sha(git_blob_sha(&page)));
        target
            .put_file(
                "x/index.html",
                Upload::Bytes(b"new"),
                &Expected::from_version(Some(&stored.version)),
                "m",
            )
            .unwrap();
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

    fn batch(count: usize) -> ChangeSet {
        let mut changes = ChangeSet::new("batch");
        for i in 0..count {
            changes.push(crate::change::Change {
                path: format!("p/f{i:03}.metadata"),
                content: Content::Bytes(format!("file {i}").into_bytes()),
                expected: Expected::Absent,
                message: format!("add {i}"),
            });
        }
        changes
    }

    fn names(target: &LocalDir, dir: &str) -> Vec<String> {
        fs::read_dir(target.root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    }

    #[test]
    fn a_batch_commits_every_file_whichever_way_it_is_flushed() {
        for flush in [None, Some(Flush::Filesystem), Some(Flush::EachFile)] {
            let (_dir, target) = index();
            let mut changes = batch(40);
            target
                .put_file("p/old", Upload::Bytes(b"old"), &Expected::Absent, "m")
                .unwrap();
            changes.push(crate::change::Change {
                path: "p/old".to_string(),
                content: Content::Delete,
                expected: Expected::Sha(git_blob_sha(b"old")),
                message: "drop old".to_string(),
            });
            changes.push(crate::change::Change {
                path: "index.html".to_string(),
                content: Content::Bytes(b"root".to_vec()),
                expected: Expected::Absent,
                message: "root".to_string(),
            });
            let done = target
                .commit_flushed(&changes, flush, &crate::report::NullReporter)
                .unwrap();
            assert_eq!(done.len(), 42, "{flush:?}");
            assert_eq!(
                done[0],
                ("p/f000.metadata".to_string(), "add 0".to_string())
            );
            for i in 0..40 {
                let stored = target.read_file(&format!("p/f{i:03}.metadata")).unwrap();
                assert_eq!(stored.unwrap().bytes, format!("file {i}").into_bytes());
            }
            assert_eq!(target.read_file("p/old").unwrap(), None);
            assert_eq!(
                target.read_file("index.html").unwrap().unwrap().bytes,
                b"root"
            );
            let mut left = names(&target, "p");
            left.retain(|n| n.starts_with(TEMP_PREFIX));
            assert!(left.is_empty(), "{flush:?}: {left:?}");
        }
    }

    #[test]
    fn a_conflict_anywhere_in_a_batch_leaves_the_index_untouched() {
        let (_dir, target) = index();
        let mut changes = batch(20);
        target
            .put_file(
                "p/f010.metadata",
                Upload::Bytes(b"x"),
                &Expected::Absent,
                "m",
            )
            .unwrap();
        let commit_err = |changes: &ChangeSet, flush| {
            target
                .commit_flushed(changes, Some(flush), &crate::report::NullReporter)
                .unwrap_err()
        };
        let err = commit_err(&changes, Flush::EachFile);
        assert_eq!(err.path, "p/f010.metadata");
        assert!(
            matches!(err.source, TargetError::Conflict { .. }),
            "{err:?}"
        );
        assert!(err.done.is_empty());
        assert_eq!(names(&target, "p"), ["f010.metadata"]);
        // A symlink among them is refused too, before anything is written.
        fs::remove_file(target.root().join("p/f010.metadata")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", target.root().join("p/f005.metadata")).unwrap();
        changes.changes.truncate(8);
        let err = commit_err(&changes, Flush::Filesystem);
        assert_eq!(err.path, "p/f005.metadata");
        assert!(
            matches!(err.source, TargetError::UnsafePath { .. }),
            "{err:?}"
        );
        assert_eq!(names(&target, "p"), ["f005.metadata"]);
    }

    #[test]
    fn renames_stop_at_the_first_file_that_could_not_be_synced() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for i in 0..50 {
            let path = dir.path().join(format!("f{i}"));
            if i != 30 {
                fs::write(&path, b"x").unwrap();
            }
            files.push((i % 7 != 3).then_some(path));
        }
        let syncer = Syncer::new(&files);
        std::thread::scope(|scope| {
            syncer.start(scope);
            for i in 0..30 {
                syncer.wait(i).unwrap();
            }
            let err = syncer.wait(30).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
            syncer.stop();
        });
        // Nothing to sync: no thread, no wait.
        let none = Syncer::new(&[]);
        std::thread::scope(|scope| none.start(scope));
        none.wait(0).unwrap();
    }

    #[test]
    fn syncfs_is_chosen_only_while_little_else_is_dirty() {
        assert_eq!(Flush::for_dirty(2_000, Some(0)), Flush::Filesystem);
        assert_eq!(
            Flush::for_dirty(2_000, Some(2_000 * FLUSH_COST_BYTES)),
            Flush::Filesystem
        );
        assert_eq!(
            Flush::for_dirty(2_000, Some(2_000 * FLUSH_COST_BYTES + 1)),
            Flush::EachFile
        );
        assert_eq!(
            Flush::for_dirty(16, Some(600 * 1024 * 1024)),
            Flush::EachFile
        );
        assert_eq!(Flush::for_dirty(2_000, None), Flush::EachFile);
        if cfg!(target_os = "linux") {
            assert!(dirty_bytes().is_some());
        }
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
