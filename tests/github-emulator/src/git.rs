//! Git object model of the emulated branch: blobs, trees and commits with real git object ids,
//! so shas a client computes locally (`git hash-object`) or receives from one endpoint can be
//! used with every other endpoint, exactly as on GitHub.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use sha1::{Digest, Sha1};

/// Lower-case hex git blob sha of `bytes`: `sha1("blob <len>\0" + bytes)`, as `git hash-object`.
pub fn git_blob_sha(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex(&hasher.finalize())
}

pub(crate) fn sha1_hex(bytes: &[u8]) -> String {
    hex(&Sha1::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect()
}

/// A file's content with its blob sha (computed once, when the file is stored).
#[derive(Debug)]
pub(crate) struct Blob {
    pub sha: String,
    pub bytes: Bytes,
}

impl Blob {
    pub fn new(bytes: Bytes) -> Blob {
        Blob {
            sha: git_blob_sha(&bytes),
            bytes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Blob { size: u64 },
    Tree,
}

#[derive(Debug, Clone)]
pub(crate) struct TreeEntry {
    pub name: String,
    pub sha: String,
    pub kind: EntryKind,
}

/// One git tree object: the direct children of a folder, in git's order.
#[derive(Debug)]
pub(crate) struct Tree {
    pub sha: String,
    pub entries: Vec<TreeEntry>,
}

/// The state of the branch at one commit. Cheap to keep for every commit: blobs are shared.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub commit: String,
    pub files: BTreeMap<String, Arc<Blob>>,
    /// Folder path (`""` for the root, no trailing slash) → its tree.
    pub dirs: HashMap<String, Arc<Tree>>,
}

impl Snapshot {
    pub fn is_dir(&self, path: &str) -> bool {
        self.dirs.contains_key(path)
    }

    /// Whether some proper ancestor folder of `path` is a file (then `path` cannot exist).
    pub fn ancestor_is_file(&self, path: &str) -> Option<String> {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let prefix = &path[..end + i];
            if self.files.contains_key(prefix) {
                return Some(prefix.to_string());
            }
            end += i + 1;
        }
        None
    }
}

/// Git sorts tree entries by name, comparing a subtree's name as if it ended with `/`.
fn git_order(a: &TreeEntry, b: &TreeEntry) -> std::cmp::Ordering {
    let key = |e: &TreeEntry| {
        let mut k = e.name.as_bytes().to_vec();
        if e.kind == EntryKind::Tree {
            k.push(b'/');
        }
        k
    };
    key(a).cmp(&key(b))
}

fn parent_of(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// Builds every tree object of a file set, bottom-up, with real git tree shas.
pub(crate) fn build_trees(files: &BTreeMap<String, Arc<Blob>>) -> HashMap<String, Arc<Tree>> {
    let mut children: BTreeMap<String, Vec<TreeEntry>> = BTreeMap::new();
    let mut all_dirs: BTreeSet<String> = BTreeSet::new();
    all_dirs.insert(String::new());
    for (path, blob) in files {
        let (dir, name) = parent_of(path);
        children
            .entry(dir.to_string())
            .or_default()
            .push(TreeEntry {
                name: name.to_string(),
                sha: blob.sha.clone(),
                kind: EntryKind::Blob {
                    size: blob.bytes.len() as u64,
                },
            });
        let mut d = dir;
        while !d.is_empty() && all_dirs.insert(d.to_string()) {
            d = parent_of(d).0;
        }
    }
    // Deepest folders first, so every subtree's sha is known before its parent is hashed.
    let mut order: Vec<String> = all_dirs.into_iter().collect();
    order.sort_by_key(|d| {
        std::cmp::Reverse(if d.is_empty() {
            0
        } else {
            d.matches('/').count() + 1
        })
    });
    let mut dirs = HashMap::new();
    for dir in order {
        let mut entries = children.remove(&dir).unwrap_or_default();
        entries.sort_by(git_order);
        let mut object = Vec::new();
        for e in &entries {
            let mode = match e.kind {
                EntryKind::Blob { .. } => "100644",
                EntryKind::Tree => "40000",
            };
            object.extend_from_slice(format!("{mode} {}\0", e.name).as_bytes());
            object.extend_from_slice(&unhex(&e.sha));
        }
        let mut hasher = Sha1::new();
        hasher.update(format!("tree {}\0", object.len()).as_bytes());
        hasher.update(&object);
        let tree = Arc::new(Tree {
            sha: hex(&hasher.finalize()),
            entries,
        });
        if !dir.is_empty() {
            let (parent, name) = parent_of(&dir);
            children
                .entry(parent.to_string())
                .or_default()
                .push(TreeEntry {
                    name: name.to_string(),
                    sha: tree.sha.clone(),
                    kind: EntryKind::Tree,
                });
        }
        dirs.insert(dir, tree);
    }
    dirs
}

/// A name, e-mail address and time on a commit object, as git stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    pub name: String,
    pub email: String,
    /// Seconds since the epoch.
    pub secs: i64,
    /// Offset from UTC in minutes (`+0130` is 90).
    pub tz_minutes: i32,
}

impl Signature {
    /// `Name <email> SECS +HHMM`, as in a git commit object.
    fn line(&self) -> String {
        let sign = if self.tz_minutes < 0 { '-' } else { '+' };
        let tz = self.tz_minutes.unsigned_abs();
        format!(
            "{} <{}> {} {sign}{:02}{:02}",
            self.name,
            self.email,
            self.secs,
            tz / 60,
            tz % 60
        )
    }
}

/// One git commit object.
#[derive(Debug, Clone)]
pub(crate) struct CommitObject {
    pub sha: String,
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
    pub author: Signature,
    pub committer: Signature,
}

impl CommitObject {
    /// Builds the object and its real git sha. The message is hashed as `git commit-tree -m`
    /// stores it: with a final newline added when it has none; `message` keeps it as given.
    pub fn new(
        tree: &str,
        parents: Vec<String>,
        message: &str,
        author: Signature,
        committer: Signature,
    ) -> CommitObject {
        let mut text = message.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let mut object = format!("tree {tree}\n");
        for p in &parents {
            object.push_str(&format!("parent {p}\n"));
        }
        object.push_str(&format!(
            "author {}\ncommitter {}\n\n{text}",
            author.line(),
            committer.line()
        ));
        let sha = sha1_hex(format!("commit {}\0{object}", object.len()).as_bytes());
        CommitObject {
            sha,
            tree: tree.to_string(),
            parents,
            message: message.to_string(),
            author,
            committer,
        }
    }
}

/// Every file below `tree` (paths relative to it) and every folder's tree (`""` for `tree`
/// itself), from the stored objects; `None` if an object is missing.
#[allow(clippy::type_complexity)]
pub(crate) fn flatten(
    tree: &str,
    trees: &HashMap<String, Arc<Tree>>,
    blobs: &HashMap<String, Arc<Blob>>,
) -> Option<(BTreeMap<String, Arc<Blob>>, HashMap<String, Arc<Tree>>)> {
    let mut files = BTreeMap::new();
    let mut dirs = HashMap::new();
    let mut stack = vec![(String::new(), trees.get(tree)?.clone())];
    while let Some((prefix, t)) = stack.pop() {
        for e in &t.entries {
            let path = if prefix.is_empty() {
                e.name.clone()
            } else {
                format!("{prefix}/{}", e.name)
            };
            match e.kind {
                EntryKind::Blob { .. } => {
                    files.insert(path, blobs.get(&e.sha)?.clone());
                }
                EntryKind::Tree => stack.push((path, trees.get(&e.sha)?.clone())),
            }
        }
        dirs.insert(prefix, t);
    }
    Some((files, dirs))
}

/// Parses an ISO 8601 date-time as GitHub accepts it (`2014-11-07T22:01:45Z`,
/// `2014-11-07T22:01:45+01:00`, fractions of seconds ignored) into epoch seconds and a UTC
/// offset in minutes.
pub(crate) fn parse_datetime(s: &str) -> Option<(i64, i32)> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let tz = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let minutes = num(i + 1, 2)? * 60 + num(i + 4, 2)?;
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let local = days * 86_400 + h * 3600 + mi * 60 + sec;
    Some((local - tz * 60, tz as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &[u8])]) -> BTreeMap<String, Arc<Blob>> {
        list.iter()
            .map(|(p, b)| {
                (
                    p.to_string(),
                    Arc::new(Blob::new(Bytes::copy_from_slice(b))),
                )
            })
            .collect()
    }

    #[test]
    fn blob_sha_matches_git_hash_object() {
        assert_eq!(
            git_blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            git_blob_sha(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }

    #[test]
    fn empty_tree_has_gits_well_known_sha() {
        let dirs = build_trees(&BTreeMap::new());
        assert_eq!(dirs[""].sha, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    }

    #[test]
    fn tree_shas_match_git() {
        // From `git init; printf 'hello\n' > a.txt; mkdir d; : > d/e; git add .; git write-tree`
        // and `git rev-parse <that tree>:d`.
        let dirs = build_trees(&files(&[("a.txt", b"hello\n"), ("d/e", b"")]));
        assert_eq!(dirs["d"].sha, "aa09f3cb5dbbb431d96a0055dc96a6861f3ce7de");
        assert_eq!(dirs[""].sha, "351d6af9c83a8f40480546b0666516f999d8b824");
    }

    #[test]
    fn dates_parse_with_offsets() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_datetime("2017-10-10T16:00:00Z"),
            Some((1_507_651_200, 0))
        );
        assert_eq!(
            parse_datetime("2017-10-10T17:30:00.123+01:30"),
            Some((1_507_651_200, 90))
        );
        assert_eq!(
            parse_datetime("2017-10-10T14:00:00-02:00"),
            Some((1_507_651_200, -120))
        );
        for bad in [
            "",
            "2017-10-10",
            "2017-13-10T00:00:00Z",
            "2017-10-10T00:00:00",
            "x017-10-10T00:00:00Z",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn commit_sha_matches_git() {
        // `git commit-tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904 -m m` with author and
        // committer `a <a@x>` at 1507651200 +0000.
        let sig = Signature {
            name: "a".into(),
            email: "a@x".into(),
            secs: 1_507_651_200,
            tz_minutes: 0,
        };
        let c = CommitObject::new(
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            vec![],
            "m",
            sig.clone(),
            sig,
        );
        assert_eq!(c.message, "m");
        assert_eq!(c.sha, "f4a865ca95f0eda21119cf43b4eb5ceb5e041cf4");
    }

    #[test]
    fn subtrees_sort_as_if_they_ended_with_a_slash() {
        // "a.b" < "a/" because '.' (0x2e) < '/' (0x2f); "a0" > "a/".
        let dirs = build_trees(&files(&[("a.b", b""), ("a/x", b""), ("a0", b"")]));
        let names: Vec<_> = dirs[""].entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.b", "a", "a0"]);
    }
}
