//! Helpers shared by the integration tests: running the binary with a clean environment,
//! capturing its output, snapshots of an index folder, and (in [`github`]) building
//! distributions and checking an index read from the GitHub emulator.
//!
//! Included with `mod common;` from each test file (Cargo does not build `tests/common/mod.rs`
//! as a test of its own).

// Each test file uses a different subset of these helpers; the rest would be dead code there.
#![allow(dead_code)]

pub mod github;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use assert_cmd::Command;

/// The legacy production index written by the old generator.py.
pub const LEGACY_INDEX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/legacy-index/gt4py-index"
);

// ---------------------------------------------------------------------------------------------
// Running the tool
// ---------------------------------------------------------------------------------------------

/// Variables that would point the tool elsewhere or hand it a token (CI sets some of them).
pub fn leaks_into_tool(key: &str) -> bool {
    key.starts_with("GT4PY_PUBLISH")
        || key.starts_with("GITHUB_")
        || key == "GH_TOKEN"
        || key == "GH_HOST"
}

/// The tool with a clean environment: no token, no GitHub settings from the test's own process.
pub fn tool() -> Command {
    let mut command = Command::cargo_bin("gt4py-publish").expect("the binary is built");
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(leaks_into_tool) {
            command.env_remove(key);
        }
    }
    // GitHub asks for a second between writes; the emulator does not. Tests of the pacing
    // itself remove this.
    command.env("GT4PY_PUBLISH_MIN_WRITE_INTERVAL", "0");
    command
}

/// `std::process::Command` for runs that must overlap or be killed; environment as [`tool`].
pub fn tool_std() -> std::process::Command {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("gt4py-publish"));
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(leaks_into_tool) {
            command.env_remove(key);
        }
    }
    command.env("GT4PY_PUBLISH_MIN_WRITE_INTERVAL", "0");
    command
}

/// Output of one run of the tool.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "expected success:\n{self}");
        self
    }

    pub fn failed(self) -> Run {
        assert_eq!(self.code, Some(1), "expected exit status 1:\n{self}");
        self
    }

    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Whether stdout has a summary line `LABEL ... FILENAME`.
    pub fn says(&self, label: &str, filename: &str) -> bool {
        self.stdout
            .lines()
            .any(|l| l.trim_start().starts_with(label) && l.contains(filename))
    }
}

/// Runs `command` to completion and captures its exit status and output.
pub fn exec(command: &mut Command) -> Run {
    let output = command.output().expect("the tool runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Names and folders
// ---------------------------------------------------------------------------------------------

/// PEP 503 normalization.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_run = false;
        }
    }
    out
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Every file and folder below a root: relative path → (bytes or `None` for a folder, mtime).
pub type Tree = BTreeMap<String, (Option<Vec<u8>>, SystemTime)>;

/// The [`Tree`] below `root` (empty if `root` does not exist), leaving out the entry whose
/// relative path is `skip`.
pub fn snapshot_tree(root: &Path, skip: Option<&str>) -> Tree {
    fn walk(root: &Path, dir: &Path, skip: Option<&str>, tree: &mut Tree) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if skip == Some(rel.as_str()) {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                tree.insert(rel, (None, meta.modified().unwrap()));
                walk(root, &path, skip, tree);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                tree.insert(rel, (Some(bytes), meta.modified().unwrap()));
            }
        }
    }
    let mut tree = Tree::new();
    if root.exists() {
        walk(root, root, skip, &mut tree);
    }
    tree
}

/// Files that differ between two snapshots (removed, changed bytes, changed mtime, added), for
/// assertion messages.
pub fn tree_diff(before: &Tree, after: &Tree) -> Vec<String> {
    let mut diff = Vec::new();
    for (path, old) in before {
        match after.get(path) {
            None => diff.push(format!("removed {path}")),
            Some(new) if new.0 != old.0 => diff.push(format!("changed bytes {path}")),
            Some(new) if new.1 != old.1 => diff.push(format!("changed mtime {path}")),
            Some(_) => {}
        }
    }
    for path in after.keys() {
        if !before.contains_key(path) {
            diff.push(format!("added {path}"));
        }
    }
    diff
}
