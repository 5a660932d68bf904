//! Drives real Python package clients (pip, and uv when it is installed) against a test index on
//! 127.0.0.1, so the tests prove that what the tool publishes is installable.
//!
//! - [`Venv::shared`] gives one virtual environment per test process (kept between runs under
//!   the Cargo target folder, rebuilt when the Python it came from changes). Tests never install
//!   into it: every install goes to its own `--target` folder, so tests running in parallel
//!   threads do not interfere, and [`Venv::import_version`] imports from that folder.
//! - Clients run with a clean environment: no `PIP_*`/`UV_*` settings, no config files, no
//!   cache, no proxies, a short network timeout and no retries, so the only network they touch
//!   is the loopback index they are given.
//! - A failure is a [`CommandError`] whose message holds the full command line, the exit status,
//!   stdout and stderr.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds a client waits on a socket before giving up (the index is local: anything slow is a
/// hang worth failing on).
pub const NETWORK_TIMEOUT_SECS: u32 = 15;

/// A command that could not be started or did not succeed, with everything it printed.
#[derive(Debug)]
pub struct CommandError {
    /// The command line, quoted for a shell.
    pub command: String,
    /// `None` when the command could not be started.
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    /// Why it could not be started, if it could not.
    pub spawn_error: Option<std::io::Error>,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.spawn_error, self.status) {
            (Some(e), _) => writeln!(f, "could not run `{}`: {e}", self.command)?,
            (None, Some(status)) => writeln!(f, "`{}` failed ({status})", self.command)?,
            (None, None) => writeln!(f, "`{}` failed", self.command)?,
        }
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}

impl std::error::Error for CommandError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.spawn_error
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What a successful command printed.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    pub stdout: String,
    pub stderr: String,
}

/// Which client installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// `python -m pip` inside the venv.
    Pip,
    /// `uv pip ... --python VENV/bin/python` (see [`uv_path`]).
    Uv,
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Client::Pip => "pip",
            Client::Uv => "uv",
        })
    }
}

/// The `uv` executable on `PATH`, if any.
pub fn uv_path() -> Option<PathBuf> {
    static UV: OnceLock<Option<PathBuf>> = OnceLock::new();
    UV.get_or_init(|| {
        let path = find_on_path("uv")?;
        // A pyenv shim exists even when the active Python has no uv: make sure it runs.
        let runs = Command::new(&path)
            .arg("--version")
            .env("UV_NO_CONFIG", "1")
            .output()
            .is_ok_and(|o| o.status.success());
        runs.then_some(path)
    })
    .clone()
}

/// The Python used to create virtual environments: `$GT4PY_TEST_PYTHON`, else `python3`.
pub fn base_python() -> OsString {
    std::env::var_os("GT4PY_TEST_PYTHON").unwrap_or_else(|| "python3".into())
}

/// A Python virtual environment with pip.
#[derive(Debug, Clone)]
pub struct Venv {
    root: PathBuf,
    python: PathBuf,
}

impl Venv {
    /// Creates a venv at `dir` that uses the base interpreter's pip (`--without-pip
    /// --system-site-packages`): `venv` would bring the pip bundled with Python (23.x here),
    /// while CI installs a current pip into the base interpreter, and the PEP 658 checks need
    /// a pip that does not download wheels on `--dry-run`.
    pub fn create(dir: impl AsRef<Path>) -> Result<Venv, CommandError> {
        let dir = dir.as_ref();
        let mut command = Command::new(base_python());
        command
            .args(["-m", "venv", "--without-pip", "--system-site-packages"])
            .arg(dir);
        run(clean_env(&mut command))?;
        let venv = Venv::at(dir);
        run(clean_env(venv.python_command().args(["-c", "import pip"])))?;
        Ok(venv)
    }

    /// An existing venv at `dir` (not checked).
    pub fn at(dir: impl AsRef<Path>) -> Venv {
        let root = dir.as_ref().to_path_buf();
        let python = if cfg!(windows) {
            root.join("Scripts").join("python.exe")
        } else {
            root.join("bin").join("python")
        };
        Venv { root, python }
    }

    /// The venv shared by every test of this process; created on first use, and reused across
    /// runs from `target/tmp/` (rebuilt when it no longer works). Panics with the full command
    /// output when no venv can be made: a test that needs Python cannot go on without it.
    pub fn shared() -> &'static Venv {
        static SHARED: OnceLock<Venv> = OnceLock::new();
        SHARED.get_or_init(|| match cached_venv() {
            Ok(venv) => venv,
            Err(e) => panic!("cannot create the test venv:\n{e}"),
        })
    }

    /// The venv folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The venv's interpreter.
    pub fn python(&self) -> &Path {
        &self.python
    }

    /// A `Command` for the venv's interpreter, with a clean environment.
    pub fn python_command(&self) -> Command {
        let mut command = Command::new(&self.python);
        clean_env(&mut command);
        command
    }

    /// `python -m pip --disable-pip-version-check --no-input --no-cache-dir ARGS`.
    pub fn pip<I, S>(&self, args: I) -> Result<CommandOutput, CommandError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.pip_command();
        command.args(args);
        run(&mut command)
    }

    /// The `Command` behind [`Venv::pip`], for callers that need to add environment variables;
    /// add the pip subcommand and its arguments.
    pub fn pip_command(&self) -> Command {
        let mut command = self.python_command();
        command.args(["-m", "pip", "--disable-pip-version-check", "--no-input"]);
        command.args(["--no-cache-dir", "--retries", "0", "--timeout"]);
        command.arg(NETWORK_TIMEOUT_SECS.to_string());
        command
    }

    /// `uv pip SUBCOMMAND --python VENV/bin/python ARGS` (no cache, no config, no downloads of
    /// Pythons). Fails with a clear message when uv is not installed.
    pub fn uv_pip<I, S>(&self, subcommand: &str, args: I) -> Result<CommandOutput, CommandError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let Some(uv) = uv_path() else {
            return Err(CommandError {
                command: format!("uv pip {subcommand}"),
                status: None,
                stdout: String::new(),
                stderr: String::new(),
                spawn_error: Some(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "uv is not on PATH (pip install uv)",
                )),
            });
        };
        let mut command = Command::new(uv);
        clean_env(&mut command)
            .env("UV_NO_CACHE", "1")
            .env("UV_NO_CONFIG", "1")
            .env("UV_NO_PROGRESS", "1")
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_HTTP_TIMEOUT", NETWORK_TIMEOUT_SECS.to_string())
            .env("UV_HTTP_RETRIES", "0")
            .args(["pip", subcommand, "--python"])
            .arg(&self.python)
            .args(args);
        run(&mut command)
    }

    /// Installs `requirements` (e.g. `dace==43!2026.2.3`; several projects at once save a
    /// client start-up each) from `index_url` with `--no-deps` into the folder `target` (not
    /// into the venv), with `client`. `extra` goes before the requirements (e.g. `--no-binary`,
    /// `:all:`).
    pub fn install(
        &self,
        client: Client,
        index_url: &str,
        requirements: &[&str],
        target: &Path,
        extra: &[&str],
    ) -> Result<CommandOutput, CommandError> {
        let mut args: Vec<OsString> = vec![
            "--index-url".into(),
            index_url.into(),
            "--no-deps".into(),
            "--target".into(),
            target.into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        args.extend(requirements.iter().map(OsString::from));
        match client {
            Client::Pip => {
                let mut pip_args: Vec<OsString> = vec!["install".into()];
                pip_args.extend(args);
                self.pip(pip_args)
            }
            Client::Uv => self.uv_pip("install", args),
        }
    }

    /// Installs `requirement` from its sdist only (`--no-binary :all:`), built offline by the
    /// stand-in backend of [`write_stub_build_backend`] (`--no-build-isolation`, the backend's
    /// folder on `PYTHONPATH`), with `--no-deps` into `target`. This downloads the sdist through
    /// its link on the index (and checks its `#sha256=`), unpacks and builds it.
    pub fn install_sdist_offline(
        &self,
        index_url: &str,
        requirement: &str,
        target: &Path,
    ) -> Result<CommandOutput, CommandError> {
        let backend = scratch_dir("stub-backend");
        write_stub_build_backend(&backend).map_err(|e| CommandError {
            command: format!("write the stub build backend into {}", backend.display()),
            status: None,
            stdout: String::new(),
            stderr: String::new(),
            spawn_error: Some(e),
        })?;
        let mut command = self.pip_command();
        command
            .env("PYTHONPATH", &backend)
            .args(["install", "--index-url", index_url, "--no-deps"])
            .args(["--no-binary", ":all:", "--no-build-isolation", "--target"])
            .arg(target)
            .arg(requirement);
        let result = run(&mut command);
        let _ = std::fs::remove_dir_all(&backend);
        result
    }

    /// Resolves `requirements` from `index_url` without installing them (`pip install --dry-run
    /// --report -` / `uv pip install --dry-run`). For pip, stdout is the JSON installation
    /// report. Dependencies are resolved (no `--no-deps`), so the client must read the
    /// distribution's metadata (uv skips it with `--no-deps` and an exact pin); they must all be
    /// on the index. pip before 25.3 still downloads the wheel after resolving; uv does not.
    pub fn dry_run(
        &self,
        client: Client,
        index_url: &str,
        requirements: &[&str],
    ) -> Result<CommandOutput, CommandError> {
        let scratch = scratch_dir("dry-run");
        let mut args: Vec<OsString> = vec![
            "install".into(),
            "--dry-run".into(),
            "--index-url".into(),
            index_url.into(),
            // An empty target: the venv's own packages never satisfy the requirement.
            "--target".into(),
            scratch.clone().into(),
        ];
        let result = match client {
            Client::Pip => {
                args.extend(["--quiet".into(), "--report".into(), "-".into()]);
                args.extend(requirements.iter().map(OsString::from));
                self.pip(args)
            }
            Client::Uv => {
                args.extend(requirements.iter().map(OsString::from));
                self.uv_pip("install", args.into_iter().skip(1))
            }
        };
        let _ = std::fs::remove_dir_all(&scratch);
        result
    }

    /// `pip download --no-deps --index-url URL --dest DEST EXTRA... REQUIREMENT`.
    pub fn download(
        &self,
        index_url: &str,
        requirement: &str,
        dest: &Path,
        extra: &[&str],
    ) -> Result<CommandOutput, CommandError> {
        let mut args: Vec<OsString> = vec![
            "download".into(),
            "--no-deps".into(),
            "--index-url".into(),
            index_url.into(),
            "--dest".into(),
            dest.into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        args.push(requirement.into());
        self.pip(args)
    }

    /// The venv's pip version as numbers, e.g. `[23, 2, 1]` (pre-release tails are dropped).
    pub fn pip_version(&self) -> Result<Vec<u32>, CommandError> {
        let mut command = self.python_command();
        command.args(["-c", "import pip; print(pip.__version__)"]);
        let version = run(&mut command)?.stdout;
        Ok(version
            .trim()
            .split('.')
            .map_while(|part| part.parse().ok())
            .collect())
    }

    /// Imports `module` with `target` first on `sys.path` and returns its `__version__`.
    pub fn import_version(&self, module: &str, target: &Path) -> Result<String, CommandError> {
        const CODE: &str = "import importlib, sys\n\
            sys.path.insert(0, sys.argv[1])\n\
            m = importlib.import_module(sys.argv[2])\n\
            print(m.__version__)\n";
        let mut command = self.python_command();
        command.args(["-s", "-c", CODE]).arg(target).arg(module);
        Ok(run(&mut command)?.stdout.trim().to_owned())
    }
}

/// A PEP 517 build backend for tests, written to `dir/setuptools/build_meta.py`.
///
/// pip cannot build a setuptools sdist offline: the venv's setuptools (65) needs the `wheel`
/// package for `bdist_wheel`, and build isolation would download build requirements. Put `dir`
/// on `PYTHONPATH` with `--no-build-isolation` ([`Venv::install_sdist_offline`]) and the sdist's
/// `build-backend = "setuptools.build_meta"` resolves to this stand-in instead, which builds a
/// pure-Python `py3-none-any` wheel from the unpacked sdist: `PKG-INFO` becomes `METADATA`, and
/// every file below the top folder except `PKG-INFO`, `pyproject.toml` and `setup.*` is packed
/// with a correct RECORD. Returns `dir`.
pub fn write_stub_build_backend(dir: &Path) -> std::io::Result<PathBuf> {
    const BACKEND: &str = r#""""Stand-in for setuptools.build_meta in gt4py-publish tests (offline)."""
import base64, email, hashlib, os, re, zipfile

_SKIP = {"PKG-INFO", "pyproject.toml", "setup.py", "setup.cfg"}


def _record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open("PKG-INFO", "rb") as f:
        metadata = f.read()
    headers = email.message_from_bytes(metadata)
    name = re.sub(r"[-_.]+", "_", headers["Name"]).lower()
    version = headers["Version"]
    dist_info = f"{name}-{version}.dist-info"
    files = []
    for root, dirs, names in os.walk("."):
        dirs[:] = sorted(d for d in dirs if not d.endswith((".egg-info", "__pycache__")))
        for n in sorted(names):
            path = os.path.relpath(os.path.join(root, n), ".").replace(os.sep, "/")
            if path in _SKIP:
                continue
            with open(path, "rb") as f:
                files.append((path, f.read()))
    wheel = b"Wheel-Version: 1.0\nGenerator: gt4py-testkit\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files.append((f"{dist_info}/METADATA", metadata))
    files.append((f"{dist_info}/WHEEL", wheel))
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in files)
    record += f"{dist_info}/RECORD,,\n"
    files.append((f"{dist_info}/RECORD", record.encode()))
    filename = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as z:
        for path, data in files:
            z.writestr(path, data)
    return filename
"#;
    let package = dir.join("setuptools");
    std::fs::create_dir_all(&package)?;
    std::fs::write(package.join("__init__.py"), "")?;
    std::fs::write(package.join("build_meta.py"), BACKEND)?;
    Ok(dir.to_path_buf())
}

/// Runs `command`, capturing its output; non-zero exit is an error.
pub fn run(command: &mut Command) -> Result<CommandOutput, CommandError> {
    let line = describe(command);
    let output: Output = command.output().map_err(|e| CommandError {
        command: line.clone(),
        status: None,
        stdout: String::new(),
        stderr: String::new(),
        spawn_error: Some(e),
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.status.success() {
        Ok(CommandOutput { stdout, stderr })
    } else {
        Err(CommandError {
            command: line,
            status: Some(output.status),
            stdout,
            stderr,
            spawn_error: None,
        })
    }
}

/// Removes everything that could point a client elsewhere than the index it is given.
fn clean_env(command: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let upper = key.to_ascii_uppercase();
        if upper.starts_with("PIP_")
            || upper.starts_with("UV_")
            || upper.starts_with("PYTHON")
            || upper.ends_with("_PROXY")
            || upper == "VIRTUAL_ENV"
            || upper == "CONDA_PREFIX"
        {
            command.env_remove(key);
        }
    }
    command
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_NO_INPUT", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONNOUSERSITE", "1")
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
}

fn describe(command: &Command) -> String {
    let mut parts = vec![shell_quote(command.get_program())];
    parts.extend(command.get_args().map(shell_quote));
    parts.join(" ")
}

fn shell_quote(arg: &OsStr) -> String {
    let arg = arg.to_string_lossy();
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:+@,%".contains(c));
    if plain {
        arg.into_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// A fresh empty folder under the system temp folder.
fn scratch_dir(purpose: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name(purpose));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A name no other call (in this or another process) returns.
fn unique_name(purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("gt4py-testkit-{purpose}-{}-{nanos}-{n}", std::process::id())
}

/// Where cached venvs live: `target/tmp/` next to the test binary (`target/debug/deps/x`), else
/// the system temp folder.
fn cache_root() -> PathBuf {
    let from_exe = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        if deps.file_name()? != "deps" {
            return None;
        }
        Some(deps.parent()?.parent()?.join("tmp"))
    });
    from_exe.unwrap_or_else(std::env::temp_dir)
}

/// The shared venv: reuse a working one for this base Python, else build one next to it and
/// move it into place (another test process may be doing the same: the first rename wins).
fn cached_venv() -> Result<Venv, CommandError> {
    let mut probe = Command::new(base_python());
    probe.args([
        "-c",
        "import sys, pip; print(sys.version); print(sys.base_prefix); print(pip.__version__)",
    ]);
    let identity = run(clean_env(&mut probe))?.stdout;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    identity.hash(&mut hasher);
    let root = cache_root();
    let _ = std::fs::create_dir_all(&root);
    let dir = root.join(format!("gt4py-testkit-venv-{:016x}", hasher.finish()));

    let works = |venv: &Venv| {
        run(venv
            .python_command()
            .args(["-c", "import pip, sys; sys.exit(0)"]))
        .is_ok()
    };
    let existing = Venv::at(&dir);
    if existing.python().exists() && works(&existing) {
        return Ok(existing);
    }
    let staging = root.join(unique_name("venv-staging"));
    Venv::create(&staging)?;
    // Replace a broken cached venv; keep a working one another process just made.
    if existing.python().exists() && !works(&existing) {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if std::fs::rename(&staging, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    // `python -m pip` does not depend on the venv's path, so a moved venv works.
    let venv = Venv::at(&dir);
    if works(&venv) {
        Ok(venv)
    } else {
        Venv::create(scratch_dir("venv"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_venv_runs_pip_and_imports_from_a_target_folder() {
        let venv = Venv::shared();
        let version = venv.pip(["--version"]).unwrap();
        assert!(version.stdout.starts_with("pip "), "{version:?}");
        // pip comes from the base interpreter (see `Venv::create`); the interpreter is the venv's.
        let prefix = run(venv
            .python_command()
            .args(["-c", "import sys; print(sys.prefix)"]))
        .unwrap();
        assert_eq!(
            Path::new(prefix.stdout.trim()).canonicalize().unwrap(),
            venv.root().canonicalize().unwrap()
        );

        let target = scratch_dir("import");
        std::fs::write(target.join("hello_mod.py"), "__version__ = '1.2+x'\n").unwrap();
        assert_eq!(venv.import_version("hello_mod", &target).unwrap(), "1.2+x");
        let missing = venv.import_version("no_such_mod", &target).unwrap_err();
        let message = missing.to_string();
        assert!(message.contains("ModuleNotFoundError"), "{message}");
        assert!(message.contains("--- stderr ---"), "{message}");
        std::fs::remove_dir_all(&target).unwrap();
    }

    #[test]
    fn errors_carry_the_command_line_and_output() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; echo err >&2; exit 3"]);
        let error = run(&mut command).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("`sh -c 'echo out; echo err >&2; exit 3'` failed"),
            "{message}"
        );
        assert!(
            message.contains("--- stdout ---\nout\n--- stderr ---\nerr"),
            "{message}"
        );

        let error = run(&mut Command::new("/nonexistent/program")).unwrap_err();
        assert!(error.spawn_error.is_some());
    }
}
