//! Hostile and broken distributions through the real binary.
//!
//! Each case builds one bad file and runs `gt4py-publish --index-dir INDEX FILE` and
//! `gt4py-publish check FILE`. Both must exit non-zero and name the file on stderr, and the index
//! folder — seeded with a copy of the legacy production index so that "unchanged" means
//! something — must be byte for byte what it was: validation happens before anything is
//! written, for every file given.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{LEGACY_INDEX, copy_dir, tool};
use gt4py_testkit::dist_builder::{
    Method, RawEntry, SdistBuilder, WheelBuilder, core_metadata, record_hash, truncate_file,
    wheel_file,
};
use tempfile::TempDir;

/// A temporary folder with `dist/` for the inputs and `index/` seeded with an existing index.
struct Scene {
    tmp: TempDir,
}

impl Scene {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir(tmp.path().join("dist")).unwrap();
        let index = tmp.path().join("index");
        if Path::new(LEGACY_INDEX).is_dir() {
            copy_dir(Path::new(LEGACY_INDEX), &index);
        } else {
            fs::create_dir_all(index.join("dace")).unwrap();
            fs::write(index.join("index.html"), "<a href=\"dace\">dace</a>\n").unwrap();
            fs::write(index.join("dace/index.html"), "<a href=\"x\">x</a></br>\n").unwrap();
        }
        fs::write(index.join(".nojekyll"), "").unwrap();
        Scene { tmp }
    }

    fn dist(&self) -> PathBuf {
        self.tmp.path().join("dist")
    }

    fn index(&self) -> PathBuf {
        self.tmp.path().join("index")
    }

    /// A file in `dist/` with these bytes.
    fn raw_file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dist().join(name);
        fs::write(&path, bytes).unwrap();
        path
    }
}

/// Every file and folder under `root` (relative path → content; folders map to `None`).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if entry.file_type().unwrap().is_dir() {
                out.insert(relative, None);
                walk(root, &path, out);
            } else {
                out.insert(relative, Some(fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// How the file's name shows in messages (control characters escaped).
fn shown_name(file: &Path) -> String {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    if name.chars().any(char::is_control) {
        name.escape_debug().to_string()
    } else {
        name
    }
}

/// Publishing `files` fails, names `bad` on stderr, and changes nothing in the index; `check`
/// on `bad` alone fails the same way.
fn assert_refused_with(scene: &Scene, files: &[&Path], bad: &Path) {
    let before = snapshot(&scene.index());
    assert!(!before.is_empty());
    let output = tool()
        .arg("--index-dir")
        .arg(scene.index())
        .args(files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "publishing {} should fail; stderr:\n{stderr}",
        bad.display()
    );
    let name = shown_name(bad);
    assert!(
        stderr.contains(&name),
        "stderr should name `{name}`:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "the tool panicked on {name}:\n{stderr}"
    );
    let after = snapshot(&scene.index());
    assert!(
        before == after,
        "the index changed although {name} was refused: {:?}",
        changed_paths(&before, &after)
    );

    let output = tool().arg("check").arg(bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "`check {name}` should fail; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(&name),
        "`check` stderr should name `{name}`:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn assert_refused(scene: &Scene, bad: &Path) {
    assert_refused_with(scene, &[bad], bad);
}

fn changed_paths(
    before: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    after: &BTreeMap<PathBuf, Option<Vec<u8>>>,
) -> Vec<PathBuf> {
    let mut keys: Vec<&PathBuf> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

fn wheel(scene: &Scene, builder: WheelBuilder) -> PathBuf {
    builder.build(&scene.dist()).unwrap()
}

fn dace() -> WheelBuilder {
    WheelBuilder::new("dace", "43!2026.3.1")
}

const INIT: &[u8] = b"__version__ = \"43!2026.3.1\"\n";

// --- Broken archives ------------------------------------------------------------------------

#[test]
fn empty_file() {
    let scene = Scene::new();
    let bad = scene.raw_file("dace-43!2026.3.1-py3-none-any.whl", b"");
    assert_refused(&scene, &bad);
}

#[test]
fn not_a_zip() {
    let scene = Scene::new();
    let bad = scene.raw_file(
        "dace-43!2026.3.1-py3-none-any.whl",
        b"<html><body>404 Not Found</body></html>",
    );
    assert_refused(&scene, &bad);
}

#[test]
fn truncated_zip() {
    let scene = Scene::new();
    let bad = wheel(&scene, dace().file("dace/data.txt", &[b'x'; 10_000]));
    let len = fs::metadata(&bad).unwrap().len();
    truncate_file(&bad, len - 30).unwrap();
    assert_refused(&scene, &bad);
}

#[test]
fn sdist_that_is_not_gzip() {
    let scene = Scene::new();
    let bad = scene.raw_file("dace-2025.11.4.tar.gz", b"PK\x03\x04 this is no tarball");
    assert_refused(&scene, &bad);
}

// --- Filenames ------------------------------------------------------------------------------

#[test]
fn egg() {
    let scene = Scene::new();
    let bad = scene.raw_file("dace-1.0-py3.11.egg", b"PK\x05\x06");
    assert_refused(&scene, &bad);
}

#[test]
fn windows_installer_and_bz2_sdist() {
    let scene = Scene::new();
    let exe = scene.raw_file("dace-1.0.win-amd64.exe", b"MZ");
    assert_refused(&scene, &exe);
    let bz2 = scene.raw_file("dace-1.0.tar.bz2", b"BZh9");
    assert_refused(&scene, &bz2);
}

#[test]
fn filename_path_tricks() {
    let scene = Scene::new();
    let good_content = fs::read(wheel(&scene, dace())).unwrap();
    for name in [
        "dace..x-1.0.tar.gz",
        ".dace-43!2026.3.1-py3-none-any.whl",
        "dace-43!2026.3.1-py3-none-any.whl\u{1b}[2J",
        "dace\"><script>-1.0.tar.gz",
        "dace-43!2026.3.1-py3-none.whl",
    ] {
        let bad = scene.raw_file(name, &good_content);
        assert_refused(&scene, &bad);
    }
}

// --- Wheel structure ------------------------------------------------------------------------

#[test]
fn missing_metadata() {
    let scene = Scene::new();
    let bad = wheel(&scene, dace().without_dist_info_file("METADATA"));
    assert_refused(&scene, &bad);
}

#[test]
fn missing_record() {
    let scene = Scene::new();
    let bad = wheel(&scene, dace().without_dist_info_file("RECORD"));
    assert_refused(&scene, &bad);
}

#[test]
fn duplicate_dist_info_folders() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().extra_entry(
            "numpy-2.0.dist-info/METADATA",
            &core_metadata("numpy", "2.0", None),
        ),
    );
    assert_refused(&scene, &bad);
}

#[test]
fn duplicate_entry_names() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().extra_entry("dace/__init__.py", b"import os; os.system('evil')\n"),
    );
    assert_refused(&scene, &bad);
}

#[test]
fn path_traversal_in_zip_entries() {
    for name in [
        "../evil.py",
        "/etc/cron.d/evil",
        "dace/../../evil.py",
        "dace\\..\\evil.py",
    ] {
        let scene = Scene::new();
        let bad = wheel(&scene, dace().file(name, b"evil = True\n"));
        assert_refused(&scene, &bad);
    }
}

#[test]
fn encrypted_entry() {
    let scene = Scene::new();
    let mut entry = RawEntry::new("dace/secret.py", b"x = 1\n", Method::Stored).unwrap();
    entry.flags = 1;
    let bad = wheel(&scene, dace().raw_entry(entry));
    assert_refused(&scene, &bad);
}

// --- Metadata -------------------------------------------------------------------------------

#[test]
fn name_mismatch() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().metadata_override(&core_metadata("numpy", "43!2026.3.1", None)),
    );
    assert_refused(&scene, &bad);
}

#[test]
fn version_mismatch() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().metadata_override(&core_metadata("dace", "2026.3.1", None)),
    );
    assert_refused(&scene, &bad);
}

#[test]
fn dist_info_folder_mismatch() {
    let scene = Scene::new();
    let bad = wheel(&scene, dace().dist_info_dir("dace-43!2026.3.2.dist-info"));
    assert_refused(&scene, &bad);
}

#[test]
fn html_in_requires_python() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().requires_python(">=3.9\"><script>alert(document.cookie)</script>"),
    );
    assert_refused(&scene, &bad);
    let quote = wheel(
        &scene,
        WheelBuilder::new("quote", "1.0").requires_python(">=3.9' onmouseover='x"),
    );
    assert_refused(&scene, &quote);
}

#[test]
fn non_utf8_metadata() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().metadata_override(
            b"Metadata-Version: 2.1\nName: dace\nVersion: 43!2026.3.1\nSummary: caf\xe9\n",
        ),
    );
    assert_refused(&scene, &bad);
}

#[test]
fn wheel_tags_not_matching_the_filename() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().wheel_file_override(&wheel_file(
            &["cp311-cp311-manylinux_2_17_x86_64".to_string()],
            None,
        )),
    );
    assert_refused(&scene, &bad);
}

// --- RECORD ---------------------------------------------------------------------------------

#[test]
fn record_hash_mismatch() {
    let scene = Scene::new();
    let forged = b"__version__ = \"43!2026.3.9\"\n";
    assert_eq!(forged.len(), INIT.len());
    let bad = wheel(
        &scene,
        dace().record_row(
            "dace/__init__.py",
            &record_hash(forged),
            &INIT.len().to_string(),
        ),
    );
    assert_refused(&scene, &bad);
}

#[test]
fn record_size_mismatch() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().record_row(
            "dace/__init__.py",
            &record_hash(INIT),
            &(INIT.len() + 1).to_string(),
        ),
    );
    assert_refused(&scene, &bad);
}

#[test]
fn file_missing_from_record() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().extra_entry("dace/backdoor.py", b"evil = True\n"),
    );
    assert_refused(&scene, &bad);
}

#[test]
fn record_lists_a_file_that_is_not_there() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().record_row("dace/gone.py", &record_hash(b""), "0"),
    );
    assert_refused(&scene, &bad);
}

#[test]
fn weak_record_hash() {
    let scene = Scene::new();
    let bad = wheel(
        &scene,
        dace().record_row(
            "dace/__init__.py",
            "md5=1B2M2Y8AsgTpgAmY7PhCfg",
            &INIT.len().to_string(),
        ),
    );
    assert_refused(&scene, &bad);
}

// --- Zip bombs: small on disk, refused fast ---------------------------------------------------

#[test]
fn zip_bomb_entry_that_inflates_past_what_record_says() {
    let scene = Scene::new();
    // 4 GiB of zeros in about 4 MiB; the headers and RECORD both say 100 bytes.
    let bomb = RawEntry::zeros("dace/zeros.bin", 4 << 30, 100).unwrap();
    let bad = wheel(
        &scene,
        dace()
            .raw_entry(bomb)
            .record_row("dace/zeros.bin", &record_hash(&[0; 100]), "100"),
    );
    assert!(fs::metadata(&bad).unwrap().len() < 16 << 20);
    let started = std::time::Instant::now();
    assert_refused(&scene, &bad);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "refusing a zip bomb took {:?}",
        started.elapsed()
    );
}

#[test]
fn zip_bomb_declaring_more_than_the_total_limit() {
    let scene = Scene::new();
    let mut builder = dace();
    for i in 0..3 {
        // 3 × 3 GiB declared; each entry's data is padded to 2 MiB so only the total refuses it.
        let mut entry = RawEntry::zeros(format!("dace/part{i}.bin"), 1 << 20, 3 << 30).unwrap();
        entry.data.resize(2 << 20, 0);
        builder = builder.raw_entry(entry);
    }
    let bad = wheel(&scene, builder);
    assert_refused(&scene, &bad);
}

#[test]
fn zip_bomb_with_an_impossible_compression_ratio() {
    let scene = Scene::new();
    let entry = RawEntry {
        name: b"dace/lie.bin".to_vec(),
        method: 8,
        data: vec![3, 0],
        declared_size: 3 << 30,
        crc32: 0,
        flags: 0,
    };
    let bad = wheel(&scene, dace().raw_entry(entry));
    assert_refused(&scene, &bad);
}

// --- Sdists ---------------------------------------------------------------------------------

#[test]
fn sdist_with_pkg_info_only_in_a_nested_folder() {
    let scene = Scene::new();
    let bad = SdistBuilder::new("dace", "2026.3.1")
        .pkg_info_path("dace-2026.3.1/vendor/other/PKG-INFO")
        .build(&scene.dist())
        .unwrap();
    assert_refused(&scene, &bad);
}

#[test]
fn sdist_name_mismatch() {
    let scene = Scene::new();
    let bad = SdistBuilder::new("dace", "2026.3.1")
        .pkg_info_override(&core_metadata("numpy", "2026.3.1", None))
        .build(&scene.dist())
        .unwrap();
    assert_refused(&scene, &bad);
    let zip = SdistBuilder::new("dace", "2026.3.1")
        .zip()
        .pkg_info_override(&core_metadata("dace", "2026.3.2", None))
        .build(&scene.dist())
        .unwrap();
    assert_refused(&scene, &zip);
}

#[test]
fn sdist_with_path_traversal() {
    let scene = Scene::new();
    let tar = SdistBuilder::new("dace", "2026.3.1")
        .extra_entry("../../.bashrc", b"evil\n")
        .build(&scene.dist())
        .unwrap();
    assert_refused(&scene, &tar);
    let zip = SdistBuilder::new("dace", "2026.3.1")
        .zip()
        .extra_entry("/etc/passwd", b"evil\n")
        .build(&scene.dist())
        .unwrap();
    assert_refused(&scene, &zip);
}

#[test]
fn sdist_with_a_link_out_of_the_archive() {
    let scene = Scene::new();
    let bad = SdistBuilder::new("dace", "2026.3.1")
        .symlink("dace-2026.3.1/id_rsa", "../../../root/.ssh/id_rsa")
        .build(&scene.dist())
        .unwrap();
    assert_refused(&scene, &bad);
}

// --- Several files at once --------------------------------------------------------------------

#[test]
fn a_good_and_a_bad_wheel_together_write_nothing() {
    let scene = Scene::new();
    let good = wheel(&scene, dace());
    let bad = wheel(
        &scene,
        WheelBuilder::new("ghex", "0.4.1").metadata_override(&core_metadata("ghex", "0.4.2", None)),
    );
    assert_refused_with(&scene, &[&good, &bad], &bad);
    // And in the other order.
    assert_refused_with(&scene, &[&bad, &good], &bad);
}

#[test]
fn a_good_wheel_does_change_the_index() {
    // The control for every test above: the snapshot sees a publish.
    let scene = Scene::new();
    let good = wheel(&scene, dace().requires_python(">=3.9"));
    let before = snapshot(&scene.index());
    let output = tool()
        .arg("--index-dir")
        .arg(scene.index())
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let after = snapshot(&scene.index());
    let added = PathBuf::from("dace").join(good.file_name().unwrap());
    assert_eq!(
        after.get(&added),
        Some(&Some(fs::read(&good).unwrap())),
        "changed: {:?}",
        changed_paths(&before, &after)
    );
    tool().arg("check").arg(&good).assert().success();
}
