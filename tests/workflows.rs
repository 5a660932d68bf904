//! The release workflows (`update_workflows/*.yml`, `.github/workflows/release.yml`) and the
//! composite action (`action.yml`), read as YAML and checked for the facts they must keep:
//! DaCe's version is read from the tag (never written) and checked against the tag's date,
//! builds are reproducible, runs are grouped per requested ref, GHEX installs what its build
//! needs for the Pythons GT4Py supports, every published wheel is attested by a job that alone
//! holds the signing permissions, and the action runs a release binary only when it verifies.
//!
//! The scripts the workflows run are run here too: `update_workflows/scripts/dace_version.py`
//! (with python3) on matching and mismatching tag/version pairs, DaCe's planning step against a
//! local git repository, and the action's install step with stub `curl`, `gh` and `cargo`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_yaml_ng::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DACE_VERSION_SCRIPT: &str = "update_workflows/scripts/dace_version.py";
const ATTEST_ACTION: &str = "actions/attest-build-provenance@";

fn path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

fn load(relative: &str) -> Value {
    let text = fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"))
}

fn text(relative: &str) -> String {
    fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `value[key1][key2]...`, panicking with the path when something is missing.
fn get<'a>(value: &'a Value, keys: &[&str]) -> &'a Value {
    let mut current = value;
    for (i, key) in keys.iter().enumerate() {
        current = current
            .get(*key)
            .unwrap_or_else(|| panic!("no {} in the document", keys[..=i].join(".")));
    }
    current
}

fn string<'a>(value: &'a Value, keys: &[&str]) -> &'a str {
    get(value, keys)
        .as_str()
        .unwrap_or_else(|| panic!("{} is not a string", keys.join(".")))
}

fn jobs(workflow: &Value) -> BTreeMap<String, &Value> {
    get(workflow, &["jobs"])
        .as_mapping()
        .expect("jobs is a mapping")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v))
        .collect()
}

fn steps(job: &Value) -> Vec<&Value> {
    get(job, &["steps"])
        .as_sequence()
        .expect("steps")
        .iter()
        .collect()
}

fn step_uses<'a>(job: &'a Value, prefix: &str) -> Vec<&'a Value> {
    steps(job)
        .into_iter()
        .filter(|s| {
            s.get("uses")
                .and_then(Value::as_str)
                .is_some_and(|u| u.starts_with(prefix))
        })
        .collect()
}

fn step_named<'a>(job: &'a Value, name_part: &str) -> &'a Value {
    steps(job)
        .into_iter()
        .find(|s| {
            s.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.contains(name_part))
        })
        .unwrap_or_else(|| panic!("no step named like '{name_part}'"))
}

fn runs(job: &Value) -> Vec<&str> {
    steps(job)
        .into_iter()
        .filter_map(|s| s.get("run").and_then(Value::as_str))
        .collect()
}

/// The permissions a job asks for, as `name -> level` (`{}` gives an empty map).
fn permissions(job: &Value) -> BTreeMap<String, String> {
    match job.get("permissions") {
        None => panic!("a job without explicit permissions"),
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().unwrap().to_string(),
                    v.as_str().unwrap().to_string(),
                )
            })
            .collect(),
        Some(other) => panic!("permissions {other:?} is not a mapping"),
    }
}

/// The facts every attesting workflow keeps: top-level permissions are empty; exactly one job
/// runs attest-build-provenance, and it alone has `id-token: write` and `attestations: write`;
/// the job that publishes needs it. Returns the attesting job's name.
fn check_attestation(relative: &str, workflow: &Value, subject: &str) -> String {
    assert_eq!(
        get(workflow, &["permissions"])
            .as_mapping()
            .map(|m| m.len()),
        Some(0),
        "{relative}: top-level permissions must be {{}}"
    );
    let all = jobs(workflow);
    let attesting: Vec<_> = all
        .iter()
        .filter(|(_, job)| !step_uses(job, ATTEST_ACTION).is_empty())
        .collect();
    assert_eq!(attesting.len(), 1, "{relative}: exactly one job attests");
    let (name, job) = attesting[0];
    let want: BTreeMap<String, String> = [("attestations", "write"), ("id-token", "write")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        permissions(job),
        want,
        "{relative}: the attest job's permissions"
    );
    let attest = step_uses(job, ATTEST_ACTION)[0];
    assert_eq!(
        string(attest, &["with", "subject-path"]).trim(),
        subject,
        "{relative}"
    );
    let uses = string(attest, &["uses"]);
    let sha = uses.trim_start_matches(ATTEST_ACTION);
    assert!(is_sha(sha), "{relative}: {uses} is not pinned to a commit");
    for (other, job) in &all {
        if other != name {
            let perms = permissions(job);
            assert!(
                !perms.contains_key("id-token") && !perms.contains_key("attestations"),
                "{relative}: job {other} must not have id-token or attestations ({perms:?})"
            );
        }
    }
    name.clone()
}

fn is_sha(text: &str) -> bool {
    text.len() == 40
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn needs(job: &Value) -> Vec<String> {
    match job.get("needs") {
        None => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(seq)) => seq
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        Some(other) => panic!("needs {other:?}"),
    }
}

/// The job that runs the gt4py-publish action to publish (not install-only).
fn publish_step(workflow: &Value) -> (&str, &Value) {
    for (name, job) in get(workflow, &["jobs"]).as_mapping().unwrap() {
        for step in step_uses(job, "GridTools/gt4py-publish@") {
            if step
                .get("with")
                .and_then(|w| w.get("install-only"))
                .is_none()
            {
                return (name.as_str().unwrap(), step);
            }
        }
    }
    panic!("no publish step");
}

// ---------------------------------------------------------------------------------------------
// The DaCe version check script
// ---------------------------------------------------------------------------------------------

fn python3() -> Command {
    let mut command = Command::new("python3");
    command.env_remove("GITHUB_ACTIONS");
    command
}

fn run_version_script(version_py: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("version.py");
    fs::write(&file, version_py).unwrap();
    let output = python3()
        .arg(path(DACE_VERSION_SCRIPT))
        .arg(&file)
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("python3 runs");
    // Never executed: a version.py with side effects leaves nothing behind.
    assert!(
        !dir.path().join("executed").exists(),
        "the script executed version.py"
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

const TAG: &str = "__gt4py-next-integration_2026_01_21";

#[test]
fn dace_version_matching_tag_prints_the_canonical_version() {
    for (version_py, tag, want) in [
        ("__version__ = '43!2026.01.21'\n", TAG, "43!2026.1.21"),
        ("__version__ = \"43!2026.1.21\"\n", TAG, "43!2026.1.21"),
        (
            "__version__: str = '43!2026.01.21.post1'\n",
            TAG,
            "43!2026.1.21.post1",
        ),
        (
            "__version__ = '43!2025.07.21.1'\n",
            "__gt4py-next-integration_2025_07_21_I",
            "43!2025.7.21.1",
        ),
        (
            "__version__ = '43!2025.7.23.2'\n",
            "__gt4py-next-integration_2025_07_23_II",
            "43!2025.7.23.2",
        ),
        (
            "__version__ = '43!2025.7.23.3'\n",
            "__gt4py-next-integration_2025_07_23_3",
            "43!2025.7.23.3",
        ),
        (
            "__version__ = '43!2026.01.21'\n",
            "refs/tags/__gt4py-next-integration_2026_01_21",
            "43!2026.1.21",
        ),
        // Something that would run code if executed: it never is.
        (
            "import os\nos.system('touch executed')\n__version__ = '43!2026.01.21'\n",
            TAG,
            "43!2026.1.21",
        ),
    ] {
        let output = run_version_script(version_py, &["--tag", tag, "--epoch", "43"]);
        assert!(
            output.status.success(),
            "{version_py} / {tag}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), want, "{version_py} / {tag}");
    }
}

#[test]
fn dace_version_mismatching_tag_fails_with_a_clear_message() {
    for (version_py, tag, must_say) in [
        // The mis-set version that once reached the index three times.
        (
            "__version__ = '1.0.0'\n",
            TAG,
            vec!["'1.0.0'", "epoch 43", "43!2026.1.21", "never rewrites"],
        ),
        (
            "__version__ = '43!2026.01.20'\n",
            TAG,
            vec!["'43!2026.01.20'", TAG, "43!2026.1.21"],
        ),
        (
            "__version__ = '43!2026.01.21'\n",
            "__gt4py-next-integration_2026_01_21_II",
            vec!["43!2026.1.21.2"],
        ),
        (
            "__version__ = '43!2026.1.21.1'\n",
            TAG,
            vec!["43!2026.1.21"],
        ),
        ("__version__ = '42!2026.1.21'\n", TAG, vec!["epoch 43"]),
        (
            "__version__ = '43!2026.01.21'\n",
            "__state_2025_06_05_II",
            vec!["not an integration tag"],
        ),
        (
            "__version__ = '43!2026.01.21'\n",
            "__gt4py-next-integration_2026_02_30",
            vec!["no valid date"],
        ),
        (
            "__version__ = 'not a version'\n",
            TAG,
            vec!["not a valid PEP 440 version"],
        ),
        (
            "import os\n__version__ = os.environ['V']\n",
            TAG,
            vec!["not a plain string literal"],
        ),
        ("VERSION = '43!2026.1.21'\n", TAG, vec!["no __version__"]),
    ] {
        let output = run_version_script(version_py, &["--tag", tag, "--epoch", "43"]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{version_py} / {tag} must fail"
        );
        assert!(stdout(&output).is_empty(), "no version printed on failure");
        let message = stderr(&output);
        assert!(message.starts_with("error: "), "{message}");
        for part in must_say {
            assert!(message.contains(part), "'{message}' does not say '{part}'");
        }
    }
}

#[test]
fn dace_version_reads_standard_input_and_speaks_github_actions() {
    let mut child = python3()
        .arg(path(DACE_VERSION_SCRIPT))
        .args(["-", "--tag", TAG, "--epoch", "43"])
        .env("GITHUB_ACTIONS", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"__version__ = '1.0.0'\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).starts_with("::error title=DaCe version::dace/version.py says"));
}

#[test]
fn dace_version_canonical_forms() {
    // Without --tag: only the canonical form (the same as packaging's str(Version(...))).
    for (raw, want) in [
        ("43!2026.01.21", "43!2026.1.21"),
        ("0!1.0", "1.0"),
        ("1.0RC1", "1.0rc1"),
        ("1.0-1", "1.0.post1"),
        ("1.0.dev", "1.0.dev0"),
        (
            "1.0_alpha-2.r3.DEV04+Ubuntu-01.X",
            "1.0a2.post3.dev4+ubuntu.1.x",
        ),
        ("v01.002", "1.2"),
    ] {
        let output = run_version_script(&format!("__version__ = '{raw}'\n"), &[]);
        assert!(output.status.success(), "{raw}: {}", stderr(&output));
        assert_eq!(stdout(&output), want, "{raw}");
    }
}

// ---------------------------------------------------------------------------------------------
// DaCe workflow
// ---------------------------------------------------------------------------------------------

const DACE: &str = "update_workflows/dace-updater.yml";

#[test]
fn dace_reads_the_version_from_the_tag_and_never_writes_it() {
    let workflow = load(DACE);
    let all = jobs(&workflow);
    for (name, job) in &all {
        for script in runs(job) {
            for forbidden in [
                "> dace/version.py",
                ">dace/version.py",
                "open(\"dace/version.py\", \"w\")",
                "sed -i",
            ] {
                assert!(
                    !script.contains(forbidden),
                    "{DACE} job {name} writes version.py: {forbidden}"
                );
            }
        }
    }
    // No way to pass another version in: it always comes from the tag.
    let inputs = get(&workflow, &["on", "workflow_dispatch", "inputs"])
        .as_mapping()
        .unwrap();
    assert_eq!(
        inputs
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect::<Vec<_>>(),
        ["ref"]
    );

    // The plan reads version.py of the tag's commit and runs the committed script on it, taken
    // from the checkout of the (pinned) gt4py-publish action.
    let plan = all["plan"];
    let tool = step_uses(plan, "GridTools/gt4py-publish@")[0];
    assert_eq!(string(tool, &["with", "install-only"]), "true");
    let list = step_named(plan, "List the builds");
    let script_path = string(list, &["env", "DACE_VERSION"]);
    assert_eq!(
        script_path,
        format!("${{{{ steps.tool.outputs.action-path }}}}/{DACE_VERSION_SCRIPT}")
    );
    assert!(path(DACE_VERSION_SCRIPT).is_file());
    let run = string(list, &["run"]);
    assert!(
        run.contains("contents/dace/version.py?ref=$2"),
        "reads version.py at the commit"
    );
    assert!(run.contains(r#"python3 "$DACE_VERSION" - --tag "$1" --epoch "$VERSION_EPOCH""#));
    assert_eq!(string(&workflow, &["env", "VERSION_EPOCH"]), "43");
    // The backfill compares that version with the index listing.
    assert!(run.contains(r#""$GT4PY_PUBLISH" list "$PROJECT""#));
    assert!(run.contains(r#"grep -qxF -- "$version" <<< "$present""#));

    // The build checks out the tag's commit as it is, and fails on a refused tag.
    let build = all["build"];
    let checkout = step_uses(build, "actions/checkout@")[0];
    assert_eq!(string(checkout, &["with", "ref"]), "${{ matrix.sha }}");
    assert_eq!(string(checkout, &["with", "submodules"]), "recursive");
    let refuse = steps(build)[0];
    assert_eq!(string(refuse, &["if"]), "matrix.error != ''");
    assert!(string(refuse, &["run"]).contains("exit 1"));
    let smoke = string(step_named(build, "Smoke test"), &["run"]);
    assert!(
        smoke.contains(r#"!= "$VERSION""#),
        "the installed version must be the tag's"
    );
}

#[test]
fn dace_builds_are_reproducible() {
    let workflow = load(DACE);
    let constraints = string(&workflow, &["env", "BUILD_CONSTRAINTS"]);
    for package in ["build", "setuptools", "wheel"] {
        let line = constraints
            .lines()
            .find(|l| l.starts_with(&format!("{package}==")))
            .unwrap_or_else(|| panic!("{package} is not pinned in BUILD_CONSTRAINTS"));
        let version = line.trim_start_matches(&format!("{package}=="));
        assert!(
            !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
            "{line}"
        );
    }
    let build = jobs(&workflow)["build"];
    let script = string(step_named(build, "Build the wheel"), &["run"]);
    for needed in [
        "SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)",
        "export SOURCE_DATE_EPOCH",
        r#"printf '%s\n' "$BUILD_CONSTRAINTS" > "$constraints""#,
        r#"export PIP_CONSTRAINT="$constraints""#,
        "-m build --wheel",
        "cmp ",
    ] {
        assert!(script.contains(needed), "the build step lacks {needed}");
    }
    // SOURCE_DATE_EPOCH is set before the first build.
    assert!(
        script.find("export SOURCE_DATE_EPOCH").unwrap() < script.find("-m build --wheel").unwrap()
    );
    // A race or re-run producing the same bytes is "already present"; nothing is skipped.
    let (_, publish) = publish_step(&workflow);
    assert!(publish.get("with").unwrap().get("skip-existing").is_none());
}

#[test]
fn dace_concurrency_is_per_requested_ref_and_never_cancels() {
    let workflow = load(DACE);
    assert_eq!(
        string(&workflow, &["concurrency", "group"]),
        "${{ github.workflow }}-${{ inputs.ref || github.ref_name }}"
    );
    assert_eq!(
        get(&workflow, &["concurrency", "cancel-in-progress"]).as_bool(),
        Some(false)
    );
    let on = get(&workflow, &["on"]);
    assert_eq!(
        get(on, &["push", "tags"]).as_sequence().unwrap()[0].as_str(),
        Some("__gt4py-next-integration_*")
    );
    assert!(
        get(on, &["schedule"])
            .as_sequence()
            .is_some_and(|s| !s.is_empty())
    );
}

#[test]
fn dace_attests_what_it_publishes() {
    let workflow = load(DACE);
    let attest = check_attestation(DACE, &workflow, "dist/*.whl");
    let all = jobs(&workflow);
    let (publisher, step) = publish_step(&workflow);
    assert_eq!(needs(all[publisher]), std::slice::from_ref(&attest));
    assert!(needs(all[attest.as_str()]).contains(&"build".to_string()));
    assert_eq!(string(step, &["with", "atomic"]), "true");
    assert_eq!(string(step, &["with", "files"]), "dist/*.whl");
    assert!(permissions(all[publisher]).is_empty());
}

// ---------------------------------------------------------------------------------------------
// GHEX workflow
// ---------------------------------------------------------------------------------------------

const GHEX: &str = "update_workflows/ghex-updater.yml";

#[test]
fn ghex_installs_what_its_build_needs_for_python_3_12_to_3_14() {
    let workflow = load(GHEX);
    let all = jobs(&workflow);
    assert_eq!(
        all.keys().collect::<Vec<_>>(),
        ["attest", "publish", "wheels"],
        "no sdist job"
    );
    let wheels = all["wheels"];
    let build = step_named(wheels, "cibuildwheel");
    let before_all = string(build, &["env", "CIBW_BEFORE_ALL_LINUX"]);
    for package in ["numactl-devel", "openmpi-devel", "boost-devel"] {
        assert!(
            before_all.split_whitespace().any(|w| w == package),
            "{package} in {before_all}"
        );
    }
    let environment = string(build, &["env", "CIBW_ENVIRONMENT_LINUX"]);
    assert!(environment.contains("/usr/lib64/openmpi/bin"));
    assert!(environment.contains("GHEX_USE_GPU=OFF"));
    let repair = string(build, &["env", "CIBW_REPAIR_WHEEL_COMMAND_LINUX"]);
    assert!(
        repair.contains("--exclude 'libmpi.so*'"),
        "MPI stays outside the wheel"
    );
    assert_eq!(
        string(build, &["env", "CIBW_BUILD"]),
        "${{ matrix.python.cibw }}-manylinux_${{ matrix.platform.arch }}"
    );

    let pythons: Vec<(String, String)> = get(wheels, &["strategy", "matrix", "python"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| {
            (
                string(p, &["version"]).to_string(),
                string(p, &["cibw"]).to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [("3.12", "cp312"), ("3.13", "cp313"), ("3.14", "cp314")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(pythons, want);

    for (name, job) in &all {
        for script in runs(job) {
            assert!(
                !script.contains("--sdist"),
                "{GHEX} job {name} builds an sdist"
            );
        }
    }
    let (_, publish) = publish_step(&workflow);
    assert_eq!(string(publish, &["with", "files"]), "dist/*.whl");
}

#[test]
fn ghex_smoke_tests_and_summarizes_every_wheel() {
    let workflow = load(GHEX);
    let wheels = jobs(&workflow)["wheels"];
    let smoke = string(step_named(wheels, "Smoke test"), &["run"]);
    assert!(smoke.contains("-m venv"));
    assert!(smoke.contains("pip install --disable-pip-version-check wheelhouse/*.whl"));
    assert!(smoke.contains("import ghex"));
    let summary = string(step_named(wheels, "size budget"), &["run"]);
    for needed in [
        "auditwheel\" show",
        "$GITHUB_STEP_SUMMARY",
        "WHEEL_SIZE_BUDGET_MIB",
        "stat -c %s",
        "exit \"$status\"",
    ] {
        assert!(summary.contains(needed), "the summary step lacks {needed}");
    }
    let budget: u64 = string(&workflow, &["env", "WHEEL_SIZE_BUDGET_MIB"])
        .parse()
        .unwrap();
    assert!(
        budget > 0 && budget < 35,
        "below gt4py-publish's 35 MB warning"
    );
    let order: Vec<&str> = steps(wheels)
        .iter()
        .filter_map(|s| s.get("name").and_then(Value::as_str))
        .collect();
    let position = |part: &str| order.iter().position(|n| n.contains(part)).unwrap();
    assert!(position("cibuildwheel") < position("Smoke test"));
}

#[test]
fn ghex_attests_and_publishes_all_wheels_in_one_atomic_run() {
    let workflow = load(GHEX);
    let attest = check_attestation(GHEX, &workflow, "dist/*.whl");
    let all = jobs(&workflow);
    assert_eq!(needs(all[attest.as_str()]), ["wheels"]);
    let (publisher, step) = publish_step(&workflow);
    assert_eq!(needs(all[publisher]), [attest]);
    assert_eq!(string(step, &["with", "atomic"]), "true");
    assert!(permissions(all[publisher]).is_empty());
    assert_eq!(
        string(&workflow, &["concurrency", "group"]),
        "${{ github.workflow }}-${{ inputs.ref || github.ref_name }}"
    );
    assert_eq!(
        get(&workflow, &["concurrency", "cancel-in-progress"]).as_bool(),
        Some(false)
    );
}

// ---------------------------------------------------------------------------------------------
// The tool's own release and the action
// ---------------------------------------------------------------------------------------------

const RELEASE: &str = ".github/workflows/release.yml";

#[test]
fn release_attests_the_binaries_and_never_clobbers_assets() {
    let workflow = load(RELEASE);
    let attest = check_attestation(
        RELEASE,
        &workflow,
        "dist/gt4py-publish-x86_64-unknown-linux-musl\ndist/gt4py-publish-aarch64-unknown-linux-musl",
    );
    let all = jobs(&workflow);
    assert!(needs(all["release"]).contains(&attest));
    for (name, job) in &all {
        for script in runs(job) {
            assert!(
                !script.contains("--clobber"),
                "{RELEASE} job {name} uses --clobber"
            );
        }
    }
    let release = runs(all["release"]).join("\n");
    assert!(release.contains("gh release upload"));
    assert!(
        release.contains("cmp -s"),
        "an existing asset is compared, never replaced"
    );
}

#[test]
fn every_third_party_action_is_pinned_to_a_commit() {
    let mut attest_pins = vec![];
    for relative in [
        DACE,
        GHEX,
        RELEASE,
        ".github/workflows/ci.yml",
        "action.yml",
    ] {
        for line in text(relative).lines() {
            let line = line.trim_start().trim_start_matches("- ");
            let Some(uses) = line.strip_prefix("uses: ") else {
                continue;
            };
            let reference = uses.split_whitespace().next().unwrap();
            let (action, pin) = reference.split_once('@').unwrap();
            if action == "GridTools/gt4py-publish" {
                continue; // by its release tag until the first release (see .ci/zizmor.yml)
            }
            assert!(
                is_sha(pin),
                "{relative}: {reference} is not pinned to a full commit sha"
            );
            assert!(
                uses.contains(" # v"),
                "{relative}: {reference} has no version comment"
            );
            if action == "actions/attest-build-provenance" {
                attest_pins.push(pin.to_string());
            }
        }
    }
    attest_pins.dedup();
    assert_eq!(
        attest_pins.len(),
        1,
        "one attest-build-provenance pin everywhere"
    );
}

#[test]
fn readme_shows_users_how_to_verify_a_wheel() {
    let readme = text("update_workflows/README.md");
    for needed in [
        "gh attestation verify",
        "--repo GridTools/dace",
        "--repo ghex-org/GHEX",
        "gt4py-publish doctor",
        "actions/create-github-app-token",
        "--atomic",
    ] {
        assert!(
            readme.contains(needed),
            "update_workflows/README.md does not mention {needed}"
        );
    }
}

#[test]
fn action_passes_atomic_and_verifies_the_release_binary() {
    let action = load("action.yml");
    assert_eq!(string(&action, &["inputs", "atomic", "default"]), "false");
    let steps = get(&action, &["runs", "steps"]).as_sequence().unwrap();
    let publish = steps
        .iter()
        .find(|s| string(s, &["id"]) == "publish")
        .unwrap();
    assert_eq!(
        string(publish, &["env", "INPUT_ATOMIC"]),
        "${{ inputs.atomic }}"
    );
    assert!(
        string(publish, &["run"])
            .contains(r#"if flag atomic "$INPUT_ATOMIC"; then args+=(--atomic); fi"#)
    );
    let install = steps
        .iter()
        .find(|s| string(s, &["id"]) == "install")
        .unwrap();
    let run = string(install, &["run"]);
    assert!(run.contains("gh attestation verify"));
    assert!(run.contains(r#"--cert-identity "$signer@refs/tags/$release_tag""#));
    assert!(run.contains("/.github/workflows/release.yml"));
    assert_eq!(
        string(&action, &["outputs", "action-path", "value"]),
        "${{ steps.install.outputs.action-path }}"
    );
}

// ---------------------------------------------------------------------------------------------
// Running the action's install step with stub curl, gh and cargo
// ---------------------------------------------------------------------------------------------

fn write_executable(file: &Path, body: &str) {
    fs::write(file, body).unwrap();
    fs::set_permissions(file, fs::Permissions::from_mode(0o755)).unwrap();
}

struct InstallRun {
    outputs: String,
    log: String,
    stdout: String,
    success: bool,
}

/// Runs the action's install step with the action checked out at `action_dir` (relative to a
/// temporary folder; `_actions/GridTools/gt4py-publish/REF` is how the runner lays out
/// `uses: GridTools/gt4py-publish@REF`). `gh` answers with an attestation naming
/// `attested_commit`, or fails when it is None.
fn run_install(action_dir: &str, attested_commit: Option<&str>) -> InstallRun {
    let action = load("action.yml");
    let steps = get(&action, &["runs", "steps"]).as_sequence().unwrap();
    let install = steps
        .iter()
        .find(|s| string(s, &["id"]) == "install")
        .unwrap();
    let script = string(install, &["run"]);

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let action_path = root.join(action_dir);
    fs::create_dir_all(&action_path).unwrap();
    fs::copy(path("Cargo.toml"), action_path.join("Cargo.toml")).unwrap();
    let stubs = root.join("stubs");
    fs::create_dir_all(&stubs).unwrap();
    let log = root.join("log");
    let binary = "#!/bin/sh\necho 'gt4py-publish (release binary)'\n";
    fs::write(root.join("release-binary"), binary).unwrap();
    write_executable(
        &stubs.join("curl"),
        &format!(
            r#"#!/bin/bash
echo "curl $*" >> '{log}'
out="" url=""
while (($#)); do case "$1" in --output) out="$2"; shift 2 ;; -*) shift ;; *) url="$1"; shift ;; esac; done
if [[ "$url" == *.sha256 ]]; then
  (cd '{root}' && sha256sum release-binary) | sed "s/release-binary/$(basename "${{url%.sha256}}")/" > "$out"
else
  cp '{root}/release-binary' "$out"
fi
"#,
            log = log.display(),
            root = root.display()
        ),
    );
    let gh_body = match attested_commit {
        Some(commit) => format!(
            "echo '[{{\"verificationResult\":{{\"signature\":{{\"certificate\":{{\"sourceRepositoryDigest\":\"{commit}\"}}}}}}}}]'"
        ),
        None => "echo 'verification failed' >&2; exit 1".to_string(),
    };
    write_executable(
        &stubs.join("gh"),
        &format!(
            "#!/bin/bash\necho \"gh $*\" >> '{}'\n{gh_body}\n",
            log.display()
        ),
    );
    write_executable(
        &stubs.join("cargo"),
        &format!(
            r#"#!/bin/bash
echo "cargo $*" >> '{log}'
while (($#)); do [[ "$1" == --root ]] && root="$2"; shift; done
mkdir -p "$root/bin"
printf '#!/bin/sh\necho "gt4py-publish (built)"\n' > "$root/bin/gt4py-publish"
chmod +x "$root/bin/gt4py-publish"
"#,
            log = log.display()
        ),
    );
    let outputs = root.join("outputs");
    let runner_temp = root.join("runner-temp");
    fs::create_dir_all(&runner_temp).unwrap();
    let output = Command::new("bash")
        .arg("-c")
        .arg(script)
        .env(
            "PATH",
            format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap()),
        )
        .env("INPUT_VERSION", "")
        .env("ACTION_PATH", &action_path)
        .env("TOOL_REPO", "GridTools/gt4py-publish")
        .env("GH_TOKEN", "unused")
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("RUNNER_TEMP", &runner_temp)
        .env("GITHUB_OUTPUT", &outputs)
        .output()
        .unwrap();
    InstallRun {
        outputs: fs::read_to_string(&outputs).unwrap_or_default(),
        log: fs::read_to_string(&log).unwrap_or_default(),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        success: output.status.success(),
    }
}

fn own_version() -> String {
    let manifest = text("Cargo.toml");
    let line = manifest
        .lines()
        .find(|l| l.starts_with("version = "))
        .unwrap();
    format!(
        "v{}",
        line.trim_start_matches("version = ").trim_matches('"')
    )
}

fn has_jq() -> bool {
    Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn action_uses_the_release_binary_from_its_release_tag_when_it_verifies() {
    let tag = own_version();
    let run = run_install(
        &format!("_actions/GridTools/gt4py-publish/{tag}"),
        Some("0".repeat(40).as_str()),
    );
    assert!(run.success, "{}", run.stdout);
    assert!(
        run.outputs
            .contains(&format!("source=release {tag} (attested")),
        "{}",
        run.outputs
    );
    assert!(run.log.contains(&format!(
        "--cert-identity https://github.com/GridTools/gt4py-publish/.github/workflows/release.yml@refs/tags/{tag}"
    )));
    assert!(run.log.contains("--repo GridTools/gt4py-publish"));
    assert!(!run.log.contains("cargo "), "nothing built: {}", run.log);
}

#[test]
fn action_builds_from_source_when_the_attestation_does_not_verify() {
    let tag = own_version();
    let run = run_install(&format!("_actions/GridTools/gt4py-publish/{tag}"), None);
    assert!(run.success, "{}", run.stdout);
    assert!(
        run.stdout.contains("::warning::the attestation of"),
        "{}",
        run.stdout
    );
    assert!(
        run.log.contains("cargo install --locked --root"),
        "{}",
        run.log
    );
    assert!(
        run.log.contains("--path"),
        "built from the action's own source: {}",
        run.log
    );
    assert!(
        run.outputs
            .contains("source=built from the action's source")
    );
}

#[test]
fn action_builds_from_source_for_any_other_ref() {
    for dir in [
        "_actions/GridTools/gt4py-publish/main".to_string(),
        "_actions/GridTools/gt4py-publish/v0.0.1".to_string(),
        format!("_actions/SomeFork/gt4py-publish/{}", own_version()),
        "work/gt4py-publish/gt4py-publish".to_string(), // uses: ./ (a local checkout)
    ] {
        let run = run_install(&dir, Some("0".repeat(40).as_str()));
        assert!(run.success, "{dir}: {}", run.stdout);
        assert!(
            !run.log.contains("curl "),
            "{dir}: no release download: {}",
            run.log
        );
        assert!(
            run.log.contains("cargo install --locked --root"),
            "{dir}: {}",
            run.log
        );
        assert!(
            run.stdout.contains("::notice::this action runs from"),
            "{dir}: {}",
            run.stdout
        );
    }
}

#[test]
fn action_pinned_by_commit_uses_the_release_binary_only_if_it_was_built_from_that_commit() {
    // GitHub's runners have jq; .ci/run installs it where it is missing.
    assert!(
        has_jq(),
        "jq is not installed (apt-get install jq): the action's commit-pin check needs it"
    );
    let commit = "1234567890abcdef1234567890abcdef12345678";
    let dir = format!("_actions/GridTools/gt4py-publish/{commit}");
    let run = run_install(&dir, Some(commit));
    assert!(run.success, "{}", run.stdout);
    assert!(run.outputs.contains("source=release"), "{}", run.outputs);
    assert!(!run.log.contains("cargo "));

    let other = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";
    let run = run_install(&dir, Some(other));
    assert!(run.success, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("was built from {other}")),
        "{}",
        run.stdout
    );
    assert!(
        run.log.contains("cargo install --locked --root"),
        "{}",
        run.log
    );
}

// ---------------------------------------------------------------------------------------------
// Running DaCe's planning step against a local repository with integration tags
// ---------------------------------------------------------------------------------------------

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", stderr(&output));
    stdout(&output)
}

struct Plan {
    success: bool,
    builds: Vec<Value>,
    /// Standard output and error (GitHub reads workflow commands such as ::error:: from both).
    output: String,
    commits: BTreeMap<&'static str, String>,
}

/// A repository whose tags carry these version.py files, and the plan step run against it.
fn run_plan(event: &str, pushed_tag: &str, input_ref: &str) -> Plan {
    let workflow = load(DACE);
    let plan = jobs(&workflow)["plan"];
    let script = string(step_named(plan, "List the builds"), &["run"]).to_string();

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let work = root.join("work");
    fs::create_dir_all(work.join("dace")).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    let mut commits = BTreeMap::new();
    for (tag, version, annotated) in [
        ("__gt4py-next-integration_2026_01_21", "43!2026.01.21", true),
        ("__gt4py-next-integration_2026_01_22", "1.0.0", false),
        ("__gt4py-next-integration_2026_01_23", "43!2026.1.23", true),
        ("__state_2026_01_24", "43!2026.1.24", false),
    ] {
        fs::write(
            work.join("dace/version.py"),
            format!("__version__ = '{version}'\n"),
        )
        .unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-q", "-m", tag]);
        if annotated {
            git(&work, &["tag", "-a", "-m", tag, tag]);
        } else {
            git(&work, &["tag", tag]);
        }
        commits.insert(tag, git(&work, &["rev-parse", "HEAD"]));
    }
    git(root, &["clone", "-q", "--bare", "work", "dace.git"]);

    let stubs = root.join("stubs");
    fs::create_dir_all(&stubs).unwrap();
    // gh api ... contents/dace/version.py?ref=SHA: that commit's file.
    write_executable(
        &stubs.join("gh"),
        &format!(
            "#!/bin/bash\nref=\"${{@: -1}}\"; git -C '{}' show \"${{ref##*ref=}}:dace/version.py\"\n",
            root.join("dace.git").display()
        ),
    );
    // gt4py-publish list dace: the index has 43!2026.1.21.
    write_executable(
        &stubs.join("gt4py-publish"),
        "#!/bin/bash\necho '43!2026.1.21  dace-43!2026.1.21-py3-none-any.whl'\n",
    );
    let env = get(&workflow, &["env"]).as_mapping().unwrap();
    let mut command = Command::new("bash");
    command.arg("-c").arg(&script);
    for (key, value) in env {
        command.env(key.as_str().unwrap(), value.as_str().unwrap());
    }
    let outputs = root.join("outputs");
    let output = command
        .env(
            "PATH",
            format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap()),
        )
        .env("EVENT", event)
        .env("PUSHED_TAG", pushed_tag)
        .env("INPUT_REF", input_ref)
        .env("GT4PY_PUBLISH", stubs.join("gt4py-publish"))
        .env("DACE_VERSION", path(DACE_VERSION_SCRIPT))
        .env("GITHUB_SERVER_URL", root)
        .env("GITHUB_REPOSITORY", "dace")
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_ACTIONS", "true")
        .env("RUNNER_TEMP", root)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    let written = fs::read_to_string(&outputs).unwrap_or_default();
    let builds = written
        .lines()
        .find_map(|l| l.strip_prefix("builds="))
        .map(|json| serde_yaml_ng::from_str::<Vec<Value>>(json).unwrap())
        .unwrap_or_default();
    Plan {
        success: output.status.success(),
        builds,
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(&output)
        ),
        commits,
    }
}

#[test]
fn dace_plan_for_a_pushed_tag_reads_its_version_at_the_tagged_commit() {
    let plan = run_plan("push", "__gt4py-next-integration_2026_01_21", "");
    assert!(plan.success, "{}", plan.output);
    assert_eq!(plan.builds.len(), 1);
    let build = &plan.builds[0];
    assert_eq!(string(build, &["version"]), "43!2026.1.21");
    // The commit, not the annotated tag object.
    assert_eq!(
        string(build, &["sha"]),
        plan.commits["__gt4py-next-integration_2026_01_21"]
    );
    assert_eq!(string(build, &["error"]), "");

    // The same tag asked for by hand.
    let plan = run_plan(
        "workflow_dispatch",
        "main",
        "__gt4py-next-integration_2026_01_21",
    );
    assert!(plan.success, "{}", plan.output);
    assert_eq!(string(&plan.builds[0], &["version"]), "43!2026.1.21");
}

#[test]
fn dace_plan_refuses_a_tag_whose_version_py_disagrees() {
    let plan = run_plan("push", "__gt4py-next-integration_2026_01_22", "");
    assert!(!plan.success);
    assert!(plan.builds.is_empty());
    assert!(
        plan.output
            .contains("::error title=DaCe version::dace/version.py says __version__ = '1.0.0'"),
        "{}",
        plan.output
    );
    let plan = run_plan("workflow_dispatch", "main", "__state_2026_01_24");
    assert!(!plan.success);
    assert!(
        plan.output.contains("not an integration tag"),
        "{}",
        plan.output
    );
    let plan = run_plan(
        "workflow_dispatch",
        "main",
        "__gt4py-next-integration_2030_01_01",
    );
    assert!(!plan.success);
    assert!(plan.output.contains("there is no tag"), "{}", plan.output);
}

#[test]
fn dace_backfill_builds_the_tags_whose_version_is_not_on_the_index() {
    let plan = run_plan("schedule", "main", "");
    assert!(plan.success, "{}", plan.output);
    let by_tag: BTreeMap<&str, &Value> = plan
        .builds
        .iter()
        .map(|b| (string(b, &["tag"]), b))
        .collect();
    assert_eq!(
        by_tag.keys().copied().collect::<Vec<_>>(),
        [
            "__gt4py-next-integration_2026_01_22",
            "__gt4py-next-integration_2026_01_23"
        ],
        "2026_01_21 is on the index, __state_ is no integration tag"
    );
    let good = by_tag["__gt4py-next-integration_2026_01_23"];
    assert_eq!(string(good, &["version"]), "43!2026.1.23");
    assert_eq!(string(good, &["error"]), "");
    // The mismatching tag gets a build job that fails with the check's message.
    let bad = by_tag["__gt4py-next-integration_2026_01_22"];
    assert!(string(bad, &["error"]).contains("'1.0.0'"), "{bad:?}");
    assert!(!string(bad, &["error"]).starts_with("::"));
}
