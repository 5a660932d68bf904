//! The command line as people use it, through the binary on a local index: global flags before
//! the command word, a closed pipe, quiet and verbose summaries, seconds options refused when
//! the command line is read (nothing written), and a regenerate of many files that prints counts.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{exec, snapshot_tree, tool, tool_std, tree_diff};
use gt4py_testkit::dist_builder::WheelBuilder;
use tempfile::TempDir;

fn wheel(dir: &Path, name: &str, version: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    WheelBuilder::new(name, version).build(dir).unwrap()
}

#[test]
fn global_flags_work_before_the_command_word() {
    let work = TempDir::new().unwrap();
    let index = work.path().join("index");
    let dist = wheel(&work.path().join("dist"), "flag-proj", "1.0");
    exec(tool().arg("--index-dir").arg(&index).arg(&dist)).ok();
    let run = exec(tool().args(["-v", "list", "--index-dir"]).arg(&index)).ok();
    assert_eq!(run.stdout.trim(), "flag-proj", "{run}");
    // -v shows the reads on stderr.
    assert!(run.stderr.contains("reading"), "{run}");
    let run = exec(
        tool()
            .args(["-q", "list", "flag-proj", "--index-dir"])
            .arg(&index),
    )
    .ok();
    assert!(
        run.stdout.contains("flag_proj-1.0-py3-none-any.whl"),
        "{run}"
    );
}

#[test]
fn a_closed_pipe_ends_the_run_quietly_with_success() {
    let work = TempDir::new().unwrap();
    let index = work.path().join("index");
    std::fs::create_dir_all(&index).unwrap();
    // A root page whose listing is far larger than a pipe's buffer.
    let mut root = String::from("<!DOCTYPE html><html><body>\n");
    for i in 0..20_000 {
        root.push_str(&format!(
            "<a href=\"project-{i:05}/\">project-{i:05}</a><br>\n"
        ));
    }
    root.push_str("</body></html>\n");
    std::fs::write(index.join("index.html"), root).unwrap();
    let mut child = tool_std()
        .args(["list", "--index-dir"])
        .arg(&index)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here, as `head -1` exits.
    let out = child.wait_with_output().unwrap();
    assert_eq!(first.trim(), "project-00000");
    assert!(out.status.success(), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn quiet_prints_only_warnings_and_errors() {
    let work = TempDir::new().unwrap();
    let index = work.path().join("index");
    let dist = wheel(&work.path().join("dist"), "quiet-proj", "1.0");
    let run = exec(
        tool()
            .args(["-q", "publish", "--index-dir"])
            .arg(&index)
            .arg(&dist),
    )
    .ok();
    assert_eq!(run.stdout, "", "{run}");
    assert_eq!(run.stderr, "", "{run}");
    let run = exec(
        tool()
            .args(["publish", "--index-dir"])
            .arg(&index)
            .arg(&dist),
    )
    .ok();
    assert!(run.stdout.contains("already present"), "{run}");
}

#[test]
fn seconds_options_are_refused_before_anything_happens() {
    let work = TempDir::new().unwrap();
    let index = work.path().join("index");
    let dist = wheel(&work.path().join("dist"), "secs-proj", "1.0");
    for (option, value) in [
        ("--wait-interval", "nan"),
        ("--wait-interval", "inf"),
        ("--wait-interval", "-1"),
        ("--wait-timeout", "1e300"),
        ("--min-write-interval", "NaN"),
    ] {
        let run = exec(
            tool()
                .args(["publish", "--wait-live", "http://127.0.0.1:9/"])
                .arg(format!("{option}={value}"))
                .arg("--index-dir")
                .arg(&index)
                .arg(&dist),
        );
        assert_eq!(run.code, Some(2), "{option} {value}: {run}");
        assert!(run.stderr.contains(option), "{run}");
        assert!(!run.stderr.contains("panicked"), "{run}");
        assert!(!index.exists(), "{option} {value}: something was written");
    }
}

/// 600 wheels adopted by regenerate: a few lines of counts, not 1,200; `-v` lists each.
#[test]
fn regenerate_summaries_stay_short_at_scale() {
    let work = TempDir::new().unwrap();
    let index = work.path().join("index");
    let folder = index.join("many-proj");
    for i in 0..600 {
        wheel(&folder, "many-proj", &format!("1.{i}"));
    }
    let before = snapshot_tree(&index, None);
    let run = exec(
        tool()
            .args(["regenerate", "--dry-run", "--index-dir"])
            .arg(&index),
    )
    .ok();
    assert!(tree_diff(&before, &snapshot_tree(&index, None)).is_empty());
    assert!(run.stdout.lines().count() <= 8, "{run}");
    assert!(run.stdout.contains("600  .metadata file(s)"), "{run}");
    let run = exec(tool().args(["-v", "regenerate", "--index-dir"]).arg(&index)).ok();
    assert!(
        run.stdout.lines().count() > 600,
        "{}",
        run.stdout.lines().count()
    );
    let run = exec(tool().args(["verify", "--index-dir"]).arg(&index)).ok();
    assert!(run.stdout.contains("0 problem(s)"), "{run}");
}
