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
    fn subtrees_sort_as_if_they_ended_with_a_slash() {
        // "a.b" < "a/" because '.' (0x2e) < '/' (0x2f); "a0" > "a/".
        let dirs = build_trees(&files(&[("a.b", b""), ("a/x", b""), ("a0", b"")]));
        let names: Vec<_> = dirs[""].entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.b", "a", "a0"]);
    }
}
