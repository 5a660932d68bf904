//! Benchmarks of issues 3 and 4: hashing throughput against Python's `hashlib`, project page
//! render/parse, local publishes into a big index against an empty one, peak memory of the real
//! binary on a big wheel, and request counts, commits, time and memory against the GitHub
//! emulator.
//!
//! `cargo bench --bench publish` runs the full sizes; `cargo bench --bench publish -- --quick`
//! shrinks them (a smoke test that finishes in well under a minute). One table is printed per
//! run; every timed goal is a ratio against a baseline measured in the same run, never an
//! absolute time, so the verdicts hold on slow and fast machines alike. Memory goals are absolute
//! (peak RSS of the child process, read by the kernel). The exit status is non-zero only when a
//! section could not run (a publish failed): a missed goal is reported, not fatal.
//!
//! A hand-written timing loop (median of N runs) instead of criterion keeps the dependency tree
//! lean.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use github_emulator::Emulator;
use gt4py_publish::dist::{self, DistFile};
use gt4py_publish::github::contents::{DEFAULT_MAX_BLOB_SIZE, largest_file_for_body};
use gt4py_publish::github::{GitHubConfig, GitHubTarget, RetryPolicy, Secret};
use gt4py_publish::hashing;
use gt4py_publish::index::{FileEntry, ProjectPage, RootPage};
use gt4py_publish::name::ProjectName;
use gt4py_publish::publish::{PublishOptions, publish};
use gt4py_publish::report::NullReporter;
use gt4py_publish::target::Target;
use gt4py_publish::target::local::LocalDir;
use gt4py_testkit::dist_builder::{NoiseReader, WheelBuilder};

const MB: f64 = 1_000_000.0;
const MIB: u64 = 1024 * 1024;

/// Sizes and repetition counts of one run.
struct Sizes {
    quick: bool,
    hash_file: u64,
    hash_runs: usize,
    page_entries: usize,
    page_runs: usize,
    /// Wheels in the "big" local index (each also has a `.metadata`: twice as many files).
    local_wheels: usize,
    local_runs: usize,
    big_wheel: u64,
    /// Files (wheels + `.metadata`) in the emulated projects.
    github_files: &'static [usize],
    github_runs: usize,
    github_big_wheel: u64,
    /// Wheels in the folder `regenerate` adopts, the bytes of noise in each, timed runs.
    adopt_wheels: usize,
    adopt_payload: u64,
    adopt_runs: usize,
    /// Timed single-wheel publishes into the adopted index.
    adopt_publish_runs: usize,
    /// Bytes of noise in each wheel of the GHEX-like release.
    ghex_payload: u64,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                quick,
                hash_file: 64 * MIB,
                hash_runs: 3,
                page_entries: 10_000,
                page_runs: 3,
                local_wheels: 1_000,
                local_runs: 5,
                big_wheel: 30 * MIB,
                github_files: &[10, 200, 1_000],
                github_runs: 1,
                github_big_wheel: 20 * MIB,
                adopt_wheels: 200,
                adopt_payload: 128 * 1024,
                adopt_runs: 3,
                adopt_publish_runs: 5,
                ghex_payload: 64 * 1024,
            }
        } else {
            Sizes {
                quick,
                hash_file: 512 * MIB,
                hash_runs: 7,
                page_entries: 10_000,
                page_runs: 11,
                local_wheels: 1_000,
                local_runs: 31,
                big_wheel: 300 * MIB,
                github_files: &[10, 1_000, 5_000],
                github_runs: 5,
                // The largest wheel a 40 MiB request body carries (base64), less the zip's own
                // bytes: GitHub answers 5xx to bigger bodies, so the tool refuses bigger files.
                github_big_wheel: largest_file_for_body(DEFAULT_MAX_BLOB_SIZE) - 64 * 1024,
                adopt_wheels: 2_000,
                adopt_payload: 128 * 1024,
                adopt_runs: 5,
                adopt_publish_runs: 7,
                ghex_payload: 256 * 1024,
            }
        }
    }
}

/// A result line: what, how much, the goal and whether it is met (`None`: reported only).
struct Table {
    rows: usize,
    misses: usize,
    /// Sections that could not run at all: the bench then exits non-zero (a smoke test in CI
    /// fails on a broken publish, never on a missed timing goal).
    errors: usize,
}

impl Table {
    fn header(sizes: &Sizes) {
        println!();
        println!(
            "gt4py-publish benchmarks ({} mode, {} CPUs)",
            if sizes.quick { "quick" } else { "full" },
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!("{:-<126}", "");
        println!(
            "{:<52} {:>30}  {:<34} result",
            "measurement", "value", "goal"
        );
        println!("{:-<126}", "");
    }

    fn row(&mut self, what: &str, value: &str, goal: &str, met: Option<bool>) {
        let verdict = match met {
            Some(true) => "PASS",
            Some(false) => {
                self.misses += 1;
                "MISS"
            }
            None => "",
        };
        self.rows += 1;
        println!("{what:<52} {value:>30}  {goal:<34} {verdict}");
        let _ = io::stdout().flush();
    }

    fn section(&self, title: &str) {
        println!("{title}");
    }

    fn error(&mut self, what: &str, error: &str) {
        self.errors += 1;
        println!("{what:<52} {:>30}  {:<34} ERROR", "failed", "");
        for line in error.lines() {
            println!("    {line}");
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; anything else but `--quick` is ignored.
    let quick = std::env::args().any(|a| a == "--quick");
    // `GT4PY_BENCH_SECTIONS=3,7` runs only those sections (for profiling one of them).
    let only: Option<Vec<u32>> = std::env::var("GT4PY_BENCH_SECTIONS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    let wanted = |n: u32| only.as_ref().is_none_or(|o| o.contains(&n));
    let sizes = Sizes::new(quick);
    let work = tempfile::Builder::new()
        .prefix("gt4py-publish-bench.")
        .tempdir()
        .expect("a temporary folder");
    let started = Instant::now();
    let mut table = Table {
        rows: 0,
        misses: 0,
        errors: 0,
    };
    Table::header(&sizes);

    if wanted(1) {
        table.section("1. hashing (warm page cache, median of runs)");
        if let Err(e) = bench_hashing(&sizes, work.path(), &mut table) {
            table.error("hashing", &e);
        }
    }
    if wanted(2) {
        table.section("2. project page of 10,000 files");
        bench_page(&sizes, &mut table);
    }
    if wanted(3) {
        table.section("3. local index: publish 1 wheel (library, median of runs)");
        if let Err(e) = bench_local_publish(&sizes, work.path(), &mut table) {
            table.error("local publish", &e);
        }
    }
    if wanted(4) {
        table.section("4. local index: peak memory of the binary");
        if let Err(e) = bench_local_memory(&sizes, work.path(), &mut table) {
            table.error("local peak memory", &e);
        }
    }
    if wanted(5) {
        table.section("5. GitHub emulator: publish 1 wheel, Contents API and --atomic (Git Data)");
        if let Err(e) = bench_github(&sizes, work.path(), &mut table) {
            table.error("GitHub publish", &e);
        }
        if let Err(e) = bench_github_memory(&sizes, work.path(), &mut table) {
            table.error("GitHub peak memory", &e);
        }
        if let Err(e) = bench_asset_memory(&sizes, work.path(), &mut table) {
            table.error("release asset peak memory", &e);
        }
    }
    if wanted(6) {
        table.section("6. GitHub emulator: a GHEX-like release (16 platform wheels, one run)");
        if let Err(e) = bench_ghex_release(&sizes, work.path(), &mut table) {
            table.error("GHEX-like release", &e);
        }
    }
    if wanted(7) {
        table.section(&format!(
            "7. adopting a folder of {} wheels: regenerate vs generator.py (children, warm cache)",
            sizes.adopt_wheels
        ));
        if let Err(e) = bench_adopt(&sizes, work.path(), &mut table) {
            table.error("adopting a folder", &e);
        }
    }

    println!("{:-<126}", "");
    println!(
        "{} results, {} goals missed, {} sections failed, {:.1} s",
        table.rows,
        table.misses,
        table.errors,
        started.elapsed().as_secs_f64()
    );
    if table.errors > 0 {
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Timing and memory helpers

/// Median wall time of `runs` calls of `f`; `setup` runs before each call, outside the timing.
fn median_time<S, T>(
    runs: usize,
    mut setup: impl FnMut() -> S,
    mut f: impl FnMut(S) -> T,
) -> Duration {
    let times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            let out = f(input);
            let elapsed = start.elapsed();
            drop(std::hint::black_box(out));
            elapsed
        })
        .collect();
    median(times)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn mb_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MB / d.as_secs_f64()
}

fn python() -> Option<&'static str> {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import hashlib; hashlib.file_digest")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some("python3")
}

/// Runs `command` to completion and returns its peak resident set size in bytes and how it was
/// measured.
///
/// GNU `time -f %M` reports the kernel's `ru_maxrss` of the child it forks itself. (Python's
/// `getrusage(RUSAGE_CHILDREN)` is no good here: the kernel keeps the high-water mark of the
/// process image the child replaced at `exec`, so every child reports at least Python's own
/// ~14 MB.) Without GNU time, `/proc/PID/status` `VmHWM` of the child is polled every
/// millisecond; it may miss a peak in the very last milliseconds of the run.
fn peak_rss(command: &mut Command, work: &Path) -> Result<(u64, &'static str), String> {
    const GNU_TIME: &str = "/usr/bin/time";
    let has_gnu_time = Command::new(GNU_TIME)
        .args(["-f", "%M", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if has_gnu_time {
        let report = work.join("peak-rss.txt");
        let mut timed = Command::new(GNU_TIME);
        timed
            .args(["-f", "%M", "-o"])
            .arg(&report)
            .arg(command.get_program())
            .args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(v) => timed.env(key, v),
                None => timed.env_remove(key),
            };
        }
        let out = timed
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("{GNU_TIME}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "the publish failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let text = fs::read_to_string(&report).map_err(|e| e.to_string())?;
        let kib: u64 = text
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .parse()
            .map_err(|e| format!("{GNU_TIME} output `{text}`: {e}"))?;
        return Ok((kib * 1024, "GNU time"));
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = fs::read_to_string(&status_path)
            && let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kib = line
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if !status.success() {
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        return Err(format!("the publish failed ({status}):\n{err}"));
    }
    Ok((peak_kib * 1024, "VmHWM polling"))
}

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gt4py-publish"))
}

fn validate(path: &Path) -> Result<DistFile, String> {
    dist::validate(path).map_err(|e| error_chain(&e))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, "\n  caused by: {cause}");
        source = cause.source();
    }
    text
}

// ---------------------------------------------------------------------------------------------
// 1. Hashing

fn bench_hashing(sizes: &Sizes, work: &Path, table: &mut Table) -> Result<(), String> {
    let path = work.join("hash-input.bin");
    {
        let mut out =
            io::BufWriter::with_capacity(1 << 20, File::create(&path).map_err(|e| e.to_string())?);
        io::copy(&mut NoiseReader::new(42).take(sizes.hash_file), &mut out)
            .map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    let size = sizes.hash_file;
    // Warm the page cache (and the code) once before timing anything.
    let reference = hashing::digest_file(&path).map_err(|e| e.to_string())?;
    let both = median_time(
        sizes.hash_runs,
        || (),
        |()| hashing::digest_file(&path).unwrap(),
    );
    let alone = median_time(
        sizes.hash_runs,
        || File::open(&path).unwrap(),
        |mut file| hashing::sha256_reader(&mut file).unwrap(),
    );
    let label = format!("{} MiB file", size / MIB);
    table.row(
        &format!("tool sha256 alone (sha256_reader), {label}"),
        &format!("{:.0} MB/s", mb_per_s(size, alone)),
        "",
        None,
    );
    table.row(
        &format!("tool sha256 + git blob sha1 (digest_file), {label}"),
        &format!("{:.0} MB/s", mb_per_s(size, both)),
        "",
        None,
    );
    let Some(python) = python() else {
        table.row(
            "python hashlib.file_digest sha256",
            "python3 >= 3.11 not found",
            "",
            None,
        );
        return Ok(());
    };
    const SCRIPT: &str = "import hashlib, statistics, sys, time\n\
        path, runs = sys.argv[1], int(sys.argv[2])\n\
        times = []\n\
        for _ in range(runs + 1):\n\
        \x20   start = time.perf_counter()\n\
        \x20   with open(path, 'rb') as f:\n\
        \x20       digest = hashlib.file_digest(f, 'sha256').hexdigest()\n\
        \x20   times.append(time.perf_counter() - start)\n\
        print(statistics.median(times[1:]), digest)\n";
    let out = Command::new(python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&path)
        .arg(sizes.hash_runs.to_string())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace();
    let seconds: f64 = fields
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("unexpected python3 output: {text}"))?;
    let python_digest = fields.next().unwrap_or_default();
    if python_digest != reference.sha256 {
        return Err(format!(
            "sha256 differs: tool {} vs python {python_digest}",
            reference.sha256
        ));
    }
    let python_rate = size as f64 / MB / seconds;
    table.row(
        "python hashlib.file_digest sha256 (same file)",
        &format!("{python_rate:.0} MB/s"),
        "",
        None,
    );
    let ratio = mb_per_s(size, alone) / python_rate;
    table.row(
        "  ratio tool sha256 / python sha256",
        &format!("{ratio:.2}x"),
        ">= 0.80x (same kernels)",
        Some(ratio >= 0.8),
    );
    let ratio_both = mb_per_s(size, both) / python_rate;
    table.row(
        "  ratio tool sha256+sha1 / python sha256 only",
        &format!("{ratio_both:.2}x"),
        "reported (two digests)",
        None,
    );
    let _ = fs::remove_file(&path);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2. Project page

/// A page like a busy project's: many versions, each with several platform wheels.
fn big_page(entries: usize) -> ProjectPage {
    let project = ProjectName::new("dace").expect("a valid name");
    let mut page = ProjectPage::new(project);
    let tags = [
        "cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp312-cp312-manylinux_2_28_aarch64",
        "cp313-cp313-macosx_11_0_arm64",
        "py3-none-any",
    ];
    for i in 0..entries {
        let version = format!("43!2026.{}.{}", i / tags.len() / 100, i / tags.len() % 100);
        let filename = format!("dace-{version}-{}.whl", tags[i % tags.len()]);
        let mut entry = FileEntry::new(
            filename,
            Some(hashing::sha256_hex(&(i as u64).to_le_bytes())),
        );
        entry.requires_python = Some(">=3.10, <3.14".to_string());
        entry.metadata_sha256 = Some(hashing::sha256_hex(&(!(i as u64)).to_le_bytes()));
        if i % 97 == 0 {
            entry.yanked = Some("broken <build>".to_string());
        }
        page.upsert(entry);
    }
    page
}

fn bench_page(sizes: &Sizes, table: &mut Table) {
    let page = big_page(sizes.page_entries);
    let html = page.render();
    let render = median_time(sizes.page_runs, || (), |()| page.render());
    let parse = median_time(
        sizes.page_runs,
        || (),
        |()| ProjectPage::parse(page.project().clone(), html.as_bytes()).unwrap(),
    );
    let parsed = ProjectPage::parse(page.project().clone(), html.as_bytes()).unwrap();
    let round_trip = parsed.page == page && parsed.warnings.is_empty();
    let n = sizes.page_entries;
    table.row(
        &format!("render {n}-file page ({:.1} MB)", html.len() as f64 / MB),
        &format!(
            "{} ({:.2} us/file)",
            ms(render),
            render.as_secs_f64() * 1e6 / n as f64
        ),
        "reported",
        None,
    );
    table.row(
        &format!("parse {n}-file page"),
        &format!(
            "{} ({:.2} us/file)",
            ms(parse),
            parse.as_secs_f64() * 1e6 / n as f64
        ),
        "reported",
        None,
    );
    table.row(
        "  parse(render(page)) == page, no warnings",
        if round_trip { "yes" } else { "no" },
        "yes",
        Some(round_trip),
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Local publish: big index vs empty index

fn bench_local_publish(sizes: &Sizes, work: &Path, table: &mut Table) -> Result<(), String> {
    let project = "bench-proj";
    let dists_dir = work.join("local-dists");
    fs::create_dir_all(&dists_dir).map_err(|e| e.to_string())?;

    // The big index: `local_wheels` wheels and their .metadata files, published in one run.
    let setup = Instant::now();
    let mut existing = Vec::with_capacity(sizes.local_wheels);
    for i in 0..sizes.local_wheels {
        let version = format!("1.{}.{}", i / 100, i % 100);
        let path = WheelBuilder::new(project, &version)
            .requires_python(">=3.9")
            .build(&dists_dir)
            .map_err(|e| e.to_string())?;
        existing.push(validate(&path)?);
    }
    let big = work.join("index-big");
    publish(
        &LocalDir::new(&big),
        &existing,
        PublishOptions::default(),
        &NullReporter,
    )
    .map_err(|e| error_chain(&e))?;
    drop(existing);
    let _ = fs::remove_dir_all(&dists_dir);
    let project_dir = big.join(project);
    let files_in_project = fs::read_dir(&project_dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".whl") || name.ends_with(".metadata")
        })
        .count();
    let page_path = project_dir.join("index.html");
    let page_bytes = fs::read(&page_path).map_err(|e| e.to_string())?;
    let setup = setup.elapsed();

    // The wheel each run publishes: the newest version, so it goes at the top of the page.
    let new_dir = work.join("local-new");
    fs::create_dir_all(&new_dir).map_err(|e| e.to_string())?;
    let new_path = WheelBuilder::new(project, "9.9.9")
        .requires_python(">=3.9")
        .build(&new_dir)
        .map_err(|e| e.to_string())?;
    let new = vec![validate(&new_path)?];

    let page_path = page_path
        .strip_prefix(&big)
        .map_err(|e| e.to_string())?
        .to_path_buf();
    let bench = LocalBench {
        dist: &new,
        page: &page_path,
        page_bytes: &page_bytes,
        runs: sizes.local_runs,
    };
    table.row(
        &format!(
            "  (setup: {} wheels published in one run)",
            sizes.local_wheels
        ),
        &format!("{:.2} s", setup.as_secs_f64()),
        "reported",
        None,
    );
    let (into_empty, into_big) = bench.measure(&big, &work.join("index-empty"))?;
    local_rows(table, "disk", files_in_project, into_empty, into_big, true);

    // The same on tmpfs, where fsync costs nothing: what is left is the tool's own work.
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(ram) = tempfile::Builder::new()
            .prefix("gt4py-publish-bench.")
            .tempdir_in(shm)
    {
        let big_ram = ram.path().join("index-big");
        copy_tree(&big, &big_ram).map_err(|e| e.to_string())?;
        let (into_empty, into_big) = bench.measure(&big_ram, &ram.path().join("index-empty"))?;
        // Without fsync the empty publish costs next to nothing, so the ratio says little;
        // the difference is the tool's own work on the big page, broken down below.
        local_rows(
            table,
            "tmpfs",
            files_in_project,
            into_empty,
            into_big,
            false,
        );
    }
    let name = ProjectName::new(project).expect("a valid name");
    let new_entry = FileEntry::new(
        new[0].filename.as_str(),
        Some(new[0].digests.sha256.clone()),
    );
    // What a publish does with the page: read it for an update, look the file up, add it,
    // render (our pages are kept as lines and the new line spliced in).
    let update = median_time(
        sizes.local_runs,
        || (),
        |()| {
            let mut page = ProjectPage::parse_for_update(name.clone(), &page_bytes)
                .unwrap()
                .page;
            assert!(page.get(&new_entry.filename).is_none());
            page.upsert(new_entry.clone());
            page.render()
        },
    );
    let parse = median_time(
        sizes.local_runs,
        || (),
        |()| ProjectPage::parse(name.clone(), &page_bytes).unwrap(),
    );
    let parsed = ProjectPage::parse(name.clone(), &page_bytes)
        .map_err(|e| e.to_string())?
        .page;
    let render = median_time(sizes.local_runs, || (), |()| parsed.render());
    let sha = median_time(
        sizes.local_runs,
        || (),
        |()| hashing::git_blob_sha(&page_bytes),
    );
    let target = LocalDir::new(&big);
    let wanted = [
        "index.html".to_string(),
        new[0].filename.as_str().to_string(),
        format!("{}.metadata", new[0].filename.as_str()),
    ];
    let lookup = median_time(
        sizes.local_runs,
        || (),
        |()| target.dir_entries(project, &wanted).unwrap(),
    );
    let listing = median_time(
        sizes.local_runs,
        || (),
        |()| target.list_dir(project).unwrap(),
    );
    table.row(
        "  of which: look up the page and the 2 new files (disk)",
        &ms(lookup),
        "reported",
        None,
    );
    table.row(
        &format!(
            "  of which: read the {}-entry page, add 1, render",
            parsed.len()
        ),
        &ms(update),
        "reported",
        None,
    );
    table.row(
        &format!(
            "  not done: git blob sha of the page ({:.0} KB)",
            page_bytes.len() as f64 / 1e3
        ),
        &ms(sha),
        "reported (compared byte for byte)",
        None,
    );
    table.row(
        &format!("  not done: list its folder ({files_in_project} files, disk)"),
        &ms(listing),
        "reported (verify, regenerate)",
        None,
    );
    table.row(
        &format!(
            "  not done: parse all {} entries / render them",
            parsed.len()
        ),
        &format!("{} / {}", ms(parse), ms(render)),
        "reported (verify, regenerate)",
        None,
    );
    drop(target);
    let _ = fs::remove_dir_all(&big);
    Ok(())
}

/// Repeated single-wheel publishes into a big index and into an empty one.
struct LocalBench<'a> {
    dist: &'a [DistFile],
    /// The project page, relative to the index root, and its bytes in the big index.
    page: &'a Path,
    page_bytes: &'a [u8],
    runs: usize,
}

impl LocalBench<'_> {
    fn publish(&self, root: &Path) {
        let report = publish(
            &LocalDir::new(root),
            self.dist,
            PublishOptions::default(),
            &NullReporter,
        )
        .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
        assert!(!report.writes.is_empty(), "the publish wrote nothing");
    }

    /// Back to the state before a publish into the big index: the new files go, the old page
    /// comes back. Synced, so no earlier write is flushed inside a timed run's fsync.
    fn restore_big(&self, root: &Path) -> io::Result<()> {
        let page = root.join(self.page);
        let folder = page.parent().unwrap_or(root);
        let name = self.dist[0].filename.as_str();
        let _ = fs::remove_file(folder.join(name));
        let _ = fs::remove_file(folder.join(format!("{name}.metadata")));
        let mut file = File::create(&page)?;
        file.write_all(self.page_bytes)?;
        file.sync_all()?;
        File::open(folder)?.sync_all()
    }

    fn reset_empty(&self, root: &Path) -> io::Result<()> {
        match fs::remove_dir_all(root) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        File::open(root.parent().unwrap_or(root))?.sync_all()
    }

    /// Median times (into the empty index, into the big one); the two kinds of runs alternate,
    /// so drifting machine load affects both alike.
    fn measure(&self, big: &Path, empty: &Path) -> Result<(Duration, Duration), String> {
        let err = |e: io::Error| e.to_string();
        // Warm-up of both paths.
        self.restore_big(big).map_err(err)?;
        self.publish(big);
        self.reset_empty(empty).map_err(err)?;
        self.publish(empty);
        let mut into_big = Vec::with_capacity(self.runs);
        let mut into_empty = Vec::with_capacity(self.runs);
        for _ in 0..self.runs.max(1) {
            self.restore_big(big).map_err(err)?;
            let start = Instant::now();
            self.publish(big);
            into_big.push(start.elapsed());
            self.reset_empty(empty).map_err(err)?;
            let start = Instant::now();
            self.publish(empty);
            into_empty.push(start.elapsed());
        }
        self.restore_big(big).map_err(err)?;
        self.reset_empty(empty).map_err(err)?;
        Ok((median(into_empty), median(into_big)))
    }
}

fn local_rows(
    table: &mut Table,
    medium: &str,
    files: usize,
    into_empty: Duration,
    into_big: Duration,
    with_goal: bool,
) {
    table.row(
        &format!("publish into an empty index ({medium})"),
        &ms(into_empty),
        "baseline",
        None,
    );
    table.row(
        &format!("publish into an index of {files} files ({medium})"),
        &ms(into_big),
        "",
        None,
    );
    let ratio = into_big.as_secs_f64() / into_empty.as_secs_f64();
    table.row(
        &format!("  ratio {files} files / empty ({medium})"),
        &format!("{ratio:.2}x (+{})", ms(into_big.saturating_sub(into_empty))),
        if with_goal {
            "<= 1.20x"
        } else {
            "reported (no fsync cost)"
        },
        with_goal.then_some(ratio <= 1.2),
    );
}

/// Copies a folder tree of regular files.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4. Peak memory of the binary publishing a big wheel into a local index

fn bench_local_memory(sizes: &Sizes, work: &Path, table: &mut Table) -> Result<(), String> {
    let dir = work.join("big-wheel");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let small = WheelBuilder::new("small-proj", "1.0")
        .build(&dir)
        .map_err(|e| e.to_string())?;
    let big = WheelBuilder::new("big-proj", "1.0")
        .payload_size(sizes.big_wheel)
        .build(&dir)
        .map_err(|e| e.to_string())?;
    let big_size = fs::metadata(&big).map_err(|e| e.to_string())?.len();
    let index = work.join("index-memory");
    let publish_cmd = |wheel: &Path| {
        let mut command = Command::new(binary());
        command.arg("-q").arg("--index-dir").arg(&index).arg(wheel);
        command
    };
    let (small_rss, _) = peak_rss(&mut publish_cmd(&small), work)?;
    let start = Instant::now();
    let (big_rss, method) = peak_rss(&mut publish_cmd(&big), work)?;
    let elapsed = start.elapsed();
    let published = fs::metadata(index.join("big-proj").join(big.file_name().unwrap()))
        .map(|m| m.len() == big_size)
        .unwrap_or(false);
    if !published {
        return Err("the big wheel is not in the index after the publish".into());
    }
    table.row(
        "peak RSS, binary publishing a tiny wheel",
        &format!("{:.1} MiB", small_rss as f64 / MIB as f64),
        "baseline",
        None,
    );
    table.row(
        &format!("peak RSS, binary publishing a {} MiB wheel", big_size / MIB),
        &format!("{:.1} MiB ({method})", big_rss as f64 / MIB as f64),
        "<= 64 MiB",
        Some(big_rss <= 64 * MIB),
    );
    table.row(
        "  wall time of that run (validate, hash, copy)",
        &format!(
            "{:.2} s ({:.0} MB/s)",
            elapsed.as_secs_f64(),
            mb_per_s(big_size, elapsed)
        ),
        "reported",
        None,
    );
    let _ = fs::remove_dir_all(&index);
    let _ = fs::remove_dir_all(&dir);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5. GitHub emulator

/// Seeds `project` with `files` files (half wheels, half `.metadata`), its page, the root page
/// and `.nojekyll`, in one commit. Returns the page bytes (to restore between runs).
fn seed_project(emu: &Emulator, project: &str, files: usize) -> Vec<u8> {
    let name = ProjectName::new(project).expect("a valid name");
    let mut page = ProjectPage::new(name);
    let mut seeded: Vec<(String, Vec<u8>)> = Vec::with_capacity(files + 3);
    for i in 0..files / 2 {
        let filename = format!(
            "{}-0.{}.{}-py3-none-any.whl",
            project.replace('-', "_"),
            i / 100,
            i % 100
        );
        // Stand-in bytes: the publish must never read them (it trusts the page).
        let wheel = format!("not really a wheel {i}").into_bytes();
        let metadata = format!(
            "Metadata-Version: 2.1\nName: {project}\nVersion: 0.{}.{}\n",
            i / 100,
            i % 100
        )
        .into_bytes();
        let mut entry = FileEntry::new(filename.clone(), Some(hashing::sha256_hex(&wheel)));
        entry.metadata_sha256 = Some(hashing::sha256_hex(&metadata));
        page.upsert(entry);
        seeded.push((format!("{project}/{filename}.metadata"), metadata));
        seeded.push((format!("{project}/{filename}"), wheel));
    }
    let page_bytes = page.render().into_bytes();
    seeded.push((format!("{project}/index.html"), page_bytes.clone()));
    // The root page exactly as the tool renders it, so a publish has no reason to rewrite it.
    let mut root = RootPage::new();
    root.insert(ProjectName::new(project).expect("a valid name"));
    let root = root.render();
    seeded.push(("index.html".to_string(), root.into_bytes()));
    seeded.push((".nojekyll".to_string(), Vec::new()));
    emu.seed_many(seeded.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    page_bytes
}

/// The two ways of writing to GitHub.
#[derive(Clone, Copy)]
enum Mode {
    /// One Contents API PUT (one commit) per file.
    Contents,
    /// `--atomic`: one Git Data API commit per run.
    Atomic,
}

impl Mode {
    const BOTH: [Mode; 2] = [Mode::Contents, Mode::Atomic];

    fn atomic(self) -> bool {
        matches!(self, Mode::Atomic)
    }

    fn label(self) -> &'static str {
        match self {
            Mode::Contents => "contents",
            Mode::Atomic => "atomic",
        }
    }
}

struct GitHubRun {
    elapsed: Duration,
    requests: usize,
    /// Mutating requests: on GitHub, each after the first waits a second (pacing).
    writes: usize,
    by_method: String,
    wheel_downloads: usize,
    commits: usize,
}

/// Publishes `dists` through the library in one run and counts what reached the emulator.
fn github_publish_once(
    emu: &Emulator,
    dists: &[DistFile],
    mode: Mode,
) -> Result<GitHubRun, String> {
    let commits_before = emu.api_commits().len();
    emu.reset_requests();
    let config = GitHubConfig {
        api_url: emu.api_url(),
        repo: format!("{}/{}", emu.owner(), emu.repo()),
        branch: emu.branch().to_string(),
        token: Some(Secret::new(emu.token())),
        atomic: mode.atomic(),
        max_blob_size: DEFAULT_MAX_BLOB_SIZE,
    };
    let start = Instant::now();
    // No pause between writes: the tool's own time is measured. On GitHub each mutating
    // request after the first waits for a second (`--min-write-interval`); see `writes`.
    let target = GitHubTarget::new(config, &NullReporter)
        .map_err(|e| error_chain(&e))?
        .with_retry_policy(RetryPolicy {
            min_write_interval: Duration::ZERO,
            ..RetryPolicy::default()
        });
    publish(&target, dists, PublishOptions::default(), &NullReporter)
        .map_err(|e| error_chain(&e))?;
    let elapsed = start.elapsed();
    let requests = emu.requests();
    let mut methods: Vec<(String, usize)> = Vec::new();
    for r in &requests {
        match methods.iter_mut().find(|(m, _)| *m == r.method) {
            Some((_, n)) => *n += 1,
            None => methods.push((r.method.clone(), 1)),
        }
    }
    methods.sort();
    let by_method = methods
        .iter()
        .map(|(m, n)| format!("{n} {m}"))
        .collect::<Vec<_>>()
        .join(", ");
    let wheel_downloads = requests
        .iter()
        .filter(|r| {
            r.method == "GET"
                && (r.path.ends_with(".whl")
                    || r.path.ends_with(".tar.gz")
                    || r.content_served.as_deref().is_some_and(|p| {
                        p.ends_with(".whl") || p.ends_with(".tar.gz") || p.ends_with(".zip")
                    }))
        })
        .count();
    let writes = requests.iter().filter(|r| r.method != "GET").count();
    Ok(GitHubRun {
        elapsed,
        requests: requests.len(),
        writes,
        by_method,
        wheel_downloads,
        commits: emu.api_commits().len() - commits_before,
    })
}

/// What one mode did across the project sizes.
#[derive(Default)]
struct ModeSummary {
    counts: Vec<usize>,
    /// Mutating requests of one publish (the same at every size when the counts are).
    writes: usize,
    times: Vec<Duration>,
    all_ok: bool,
}

fn bench_github(sizes: &Sizes, work: &Path, table: &mut Table) -> Result<(), String> {
    let project = "bench-proj";
    let dir = work.join("github-dists");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = WheelBuilder::new(project, "9.9.9")
        .requires_python(">=3.9")
        .build(&dir)
        .map_err(|e| e.to_string())?;
    let dist = validate(&path)?;
    let wheel = dist.filename.as_str().to_string();

    let mut summaries: Vec<ModeSummary> = Mode::BOTH
        .iter()
        .map(|_| ModeSummary {
            all_ok: true,
            ..ModeSummary::default()
        })
        .collect();
    for &files in sizes.github_files {
        let emu = Emulator::new();
        let page = seed_project(&emu, project, files);
        for (mode, summary) in Mode::BOTH.into_iter().zip(&mut summaries) {
            let mut runs = Vec::new();
            // One warm-up (connections, first reads of the seeded trees), then timed runs.
            for i in 0..=sizes.github_runs.max(1) {
                let run = github_publish_once(&emu, std::slice::from_ref(&dist), mode)?;
                // Back to the seeded state, outside the timing (seed commits are not API
                // commits).
                emu.remove(&format!("{project}/{wheel}"));
                emu.remove(&format!("{project}/{wheel}.metadata"));
                emu.seed(&format!("{project}/index.html"), &page);
                if i > 0 {
                    runs.push(run);
                }
            }
            runs.sort_by_key(|r| r.elapsed);
            let median = &runs[runs.len() / 2];
            let max_requests = runs.iter().map(|r| r.requests).max().unwrap_or(0);
            let downloads: usize = runs.iter().map(|r| r.wheel_downloads).sum();
            let commits = runs.iter().map(|r| r.commits).max().unwrap_or(0);
            let label = mode.label();
            let (ok, request_goal) = match mode {
                Mode::Contents => (
                    max_requests <= 8 && downloads == 0,
                    "<= 8, no dist downloaded",
                ),
                Mode::Atomic => (downloads == 0, "no dist downloaded"),
            };
            summary.all_ok &= ok;
            table.row(
                &format!("{files:>5} files, {label}: requests ({})", median.by_method),
                &format!("{max_requests} requests, {downloads} dist GETs"),
                request_goal,
                Some(ok),
            );
            let (commit_goal, commits_ok) = match mode {
                Mode::Contents => ("3 commits (file, .metadata, page)", commits <= 3),
                Mode::Atomic => ("1 commit", commits == 1),
            };
            table.row(
                &format!("{files:>5} files, {label}: wall time, commits"),
                &format!("{}, {commits} commits", ms(median.elapsed)),
                commit_goal,
                Some(commits_ok),
            );
            summary.counts.push(max_requests);
            summary.times.push(median.elapsed);
            summary.writes = median.writes;
        }
    }
    for (mode, summary) in Mode::BOTH.into_iter().zip(&summaries) {
        let label = mode.label();
        let constant = summary.counts.windows(2).all(|w| w[0] == w[1]);
        table.row(
            &format!("  {label}: request count constant across sizes"),
            &format!("{:?}", summary.counts),
            "constant",
            Some(constant && summary.all_ok),
        );
        table.row(
            &format!("  {label}: writes per publish, 1 s apart on GitHub"),
            &format!(
                "{} writes: >= {} s paced",
                summary.writes,
                summary.writes.saturating_sub(1)
            ),
            "reported (pacing off here)",
            None,
        );
        if let (Some(first), Some(last)) = (summary.times.first(), summary.times.last()) {
            table.row(
                &format!(
                    "  {label}: wall time {} files / {} files",
                    sizes.github_files.last().unwrap_or(&0),
                    sizes.github_files.first().unwrap_or(&0)
                ),
                &format!("{:.2}x", last.as_secs_f64() / first.as_secs_f64()),
                "reported",
                None,
            );
        }
    }
    if let [contents, atomic] = &summaries[..]
        && let (Some(c), Some(a)) = (contents.times.last(), atomic.times.last())
    {
        table.row(
            &format!(
                "  wall time atomic / contents ({} files)",
                sizes.github_files.last().unwrap_or(&0)
            ),
            &format!("{:.2}x", a.as_secs_f64() / c.as_secs_f64()),
            "reported",
            None,
        );
    }
    let _ = fs::remove_dir_all(&dir);
    Ok(())
}

/// The platform wheels of one GHEX release: four CPythons on four platforms.
const GHEX_TAGS: [&str; 16] = [
    "cp311-cp311-manylinux_2_28_x86_64",
    "cp311-cp311-manylinux_2_28_aarch64",
    "cp311-cp311-macosx_11_0_arm64",
    "cp311-cp311-macosx_10_13_x86_64",
    "cp312-cp312-manylinux_2_28_x86_64",
    "cp312-cp312-manylinux_2_28_aarch64",
    "cp312-cp312-macosx_11_0_arm64",
    "cp312-cp312-macosx_10_13_x86_64",
    "cp313-cp313-manylinux_2_28_x86_64",
    "cp313-cp313-manylinux_2_28_aarch64",
    "cp313-cp313-macosx_11_0_arm64",
    "cp313-cp313-macosx_10_13_x86_64",
    "cp314-cp314-manylinux_2_28_x86_64",
    "cp314-cp314-manylinux_2_28_aarch64",
    "cp314-cp314-macosx_11_0_arm64",
    "cp314-cp314-macosx_10_13_x86_64",
];

/// A release of 16 platform wheels of one version in one run, into a project that already has
/// an older release, in both modes.
fn bench_ghex_release(sizes: &Sizes, work: &Path, table: &mut Table) -> Result<(), String> {
    let dir = work.join("ghex-dists");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut dists = Vec::with_capacity(GHEX_TAGS.len());
    for tag in GHEX_TAGS {
        let path = WheelBuilder::new("ghex", "0.5.0")
            .tag(tag)
            .requires_python(">=3.11")
            .payload_size(sizes.ghex_payload)
            .build(&dir)
            .map_err(|e| e.to_string())?;
        dists.push(validate(&path)?);
    }
    let bytes: u64 = dists.iter().map(|d| d.digests.size).sum();
    let mut times = Vec::new();
    for mode in Mode::BOTH {
        // A fresh branch each time: an older release of 10 files, its page, the root page.
        let emu = Emulator::new();
        seed_project(&emu, "ghex", 10);
        let run = github_publish_once(&emu, &dists, mode)?;
        let listed = emu
            .file("ghex/index.html")
            .map(|page| {
                let page = String::from_utf8_lossy(&page).into_owned();
                dists
                    .iter()
                    .all(|d| page.contains(&format!("{}#sha256=", d.filename.as_str())))
            })
            .unwrap_or(false);
        if !listed {
            return Err(format!(
                "{} mode: the ghex page does not list the 16 new wheels",
                mode.label()
            ));
        }
        let label = mode.label();
        let (goal, met) = match mode {
            Mode::Contents => ("reported (one per file + page)", None),
            Mode::Atomic => ("1 commit", Some(run.commits == 1)),
        };
        table.row(
            &format!("16 wheels, {label}: commits"),
            &format!("{} commits", run.commits),
            goal,
            met,
        );
        table.row(
            &format!("16 wheels, {label}: requests ({})", run.by_method),
            &format!("{} requests, {}", run.requests, ms(run.elapsed)),
            "reported (pacing off here)",
            None,
        );
        table.row(
            &format!("16 wheels, {label}: writes, 1 s apart on GitHub"),
            &format!(
                "{} writes: >= {} s paced",
                run.writes,
                run.writes.saturating_sub(1)
            ),
            "reported",
            None,
        );
        times.push(run.elapsed);
    }
    table.row(
        &format!(
            "  (16 wheels of {:.0} KiB; wall time atomic / contents)",
            bytes as f64 / 16.0 / 1024.0
        ),
        &format!("{:.2}x", times[1].as_secs_f64() / times[0].as_secs_f64()),
        "reported",
        None,
    );
    let _ = fs::remove_dir_all(&dir);
    Ok(())
}

fn bench_github_memory(sizes: &Sizes, work: &Path, table: &mut Table) -> Result<(), String> {
    let dir = work.join("github-big");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let wheel = WheelBuilder::new("big-proj", "1.0")
        .payload_size(sizes.github_big_wheel)
        .build(&dir)
        .map_err(|e| e.to_string())?;
    let size = fs::metadata(&wheel).map_err(|e| e.to_string())?.len();
    let emu = Emulator::new();
    seed_project(&emu, "other-proj", 10);
    let mut command = publish_to_emulator(&emu, &wheel);
    let commits_before = emu.api_commits().len();
    let start = Instant::now();
    let (rss, method) = peak_rss(&mut command, work)?;
    let elapsed = start.elapsed();
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let stored = emu
        .file(&format!("big-proj/{name}"))
        .map(|b| b.len() as u64);
    if stored != Some(size) {
        return Err(format!(
            "the {} MiB wheel is not on the emulated branch after the publish",
            size / MIB
        ));
    }
    let commits = emu.api_commits().len() - commits_before;
    table.row(
        &format!("peak RSS, binary uploading a {} MiB wheel", size / MIB),
        &format!("{:.1} MiB ({method})", rss as f64 / MIB as f64),
        "<= 64 MiB",
        Some(rss <= 64 * MIB),
    );
    table.row(
        "  wall time, commits (new project: + root page)",
        &format!(
            "{:.2} s ({:.0} MB/s), {commits} commits",
            elapsed.as_secs_f64(),
            mb_per_s(size, elapsed)
        ),
        "4 commits",
        Some(commits <= 4),
    );
    let _ = fs::remove_dir_all(&dir);
    Ok(())
}

/// `gt4py-publish -q FILE` against the emulator, with nothing from this process's environment
/// pointing it elsewhere, and no pause between writes (the rows measure the tool).
fn publish_to_emulator(emu: &Emulator, wheel: &Path) -> Command {
    let mut command = Command::new(binary());
    command
        .arg("-q")
        .arg("--api-url")
        .arg(emu.api_url())
        .arg("--repo")
        .arg(format!("{}/{}", emu.owner(), emu.repo()))
        .arg("--branch")
        .arg(emu.branch())
        .arg("--min-write-interval")
        .arg("0")
        .arg(wheel)
        .env("GT4PY_PUBLISH_TOKEN", emu.token());
    for key in [
        "GT4PY_PUBLISH_REPO",
        "GT4PY_PUBLISH_BRANCH",
        "GT4PY_PUBLISH_STORE",
        "GITHUB_API_URL",
        "GITHUB_ACTIONS",
    ] {
        command.env_remove(key);
    }
    command
}

/// The binary uploading a wheel far above the body ceiling: it becomes a release asset (with
/// its `.metadata` asset), streamed raw from the file, so memory stays flat.
fn bench_asset_memory(sizes: &Sizes, work: &Path, table: &mut Table) -> Result<(), String> {
    let dir = work.join("asset-big");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let wheel = WheelBuilder::new("gpu-proj", "1.0")
        .payload_size(sizes.big_wheel)
        .build(&dir)
        .map_err(|e| e.to_string())?;
    let size = fs::metadata(&wheel).map_err(|e| e.to_string())?.len();
    let emu = Emulator::new();
    let mut command = publish_to_emulator(&emu, &wheel);
    let start = Instant::now();
    let (rss, method) = peak_rss(&mut command, work)?;
    let elapsed = start.elapsed();
    let name = wheel
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let stored = emu
        .assets("gt4py-publish-files")
        .into_iter()
        .find(|a| a.name == name)
        .map(|a| a.size);
    if stored != Some(size) {
        return Err(format!(
            "the {} MiB wheel is not a release asset after the publish",
            size / MIB
        ));
    }
    table.row(
        &format!(
            "peak RSS, binary uploading a {} MiB release asset",
            size / MIB
        ),
        &format!("{:.1} MiB ({method})", rss as f64 / MIB as f64),
        "<= 64 MiB",
        Some(rss <= 64 * MIB),
    );
    table.row(
        "  wall time of that run (validate, hash, upload)",
        &format!(
            "{:.2} s ({:.0} MB/s)",
            elapsed.as_secs_f64(),
            mb_per_s(size, elapsed)
        ),
        "reported",
        None,
    );
    let _ = fs::remove_dir_all(&dir);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 7. Adopting a folder: `regenerate` vs the old generator.py

/// What the old pull-mode `generator.py` did on every update: hash every distribution with
/// `hashlib` and write the root page and each project page in its format (`</br>` line ends),
/// no `.metadata` files, no fsync. Run as `python3 -c GENERATOR_PY DIR`.
const GENERATOR_PY: &str = r#"
import hashlib, os, sys

HEAD = """<!DOCTYPE HTML>
<html>
    <head>
        <title>{title}</title>
        <meta charset="UTF-8" />
    </head>

    <body>
    <h1>{title}</h1>
"""
TAIL = """    </body>
</html>
"""
root = sys.argv[1]
projects = []
for name in sorted(os.listdir(root)):
    folder = os.path.join(root, name)
    if name.startswith(".") or not os.path.isdir(folder):
        continue
    projects.append(name)
    links = []
    for filename in os.listdir(folder):
        if not filename.endswith((".whl", ".tar.gz", ".zip")):
            continue
        with open(os.path.join(folder, filename), "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        links.append(f'        <a href="{filename}#sha256={digest}">{filename}</a> </br>\n')
    with open(os.path.join(folder, "index.html"), "w") as out:
        out.write(HEAD.format(title=f"Custom Package for '{name}'") + "".join(links) + TAIL)
with open(os.path.join(root, "index.html"), "w") as out:
    out.write(
        HEAD.format(title="Custom Package Index for GT4Py")
        + "".join(f'        <a href="{p}">{p}</a>\n' for p in projects)
        + TAIL
    )
"#;

/// A fresh copy of a tree of files: hard links where the filesystem allows (the wheels are only
/// read, and a link costs no write-back that could land in a timed run), else copies.
fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            link_tree(&entry.path(), &target)?;
        } else if fs::hard_link(entry.path(), &target).is_err() {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A new folder in `parent` that ext4 places like a top-level one (`chattr +T` on `parent`): in
/// the flex group with the fewest folders, usually one nobody uses, where the folders and files
/// made inside it then go too. Without a journal (as on the development machine), ext4 does not
/// reuse an inode freed in the last minute (the last six, once its inode block is dirty again)
/// and scans past every such inode on each create: 2,000 files created next to the inodes the
/// previous bench run or a build had just freed took 1–2 s instead of 60 ms. That cost falls on
/// whichever program creates files and comes from what ran before, not from the tool. Where
/// `chattr` or the flag is missing, this is a plain folder.
fn fresh_folder(parent: &Path) -> io::Result<PathBuf> {
    fs::create_dir_all(parent)?;
    let _ = Command::new("chattr")
        .arg("+T")
        .arg(parent)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    // Ties between empty flex groups go by a hash of the name: a new name, a new group.
    let dir = parent.join(format!("{:016x}", fastrand::u64(..)));
    fs::create_dir(&dir)?;
    Ok(dir)
}

/// Flushes everything written so far, so no earlier write is paid for inside a timed run.
fn sync_all() {
    let _ = Command::new("sync").status();
}

/// Runs a child process to completion and returns its wall time.
fn time_child(command: &mut Command) -> Result<Duration, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let start = Instant::now();
    let out = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{program} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(elapsed)
}

/// The binary with none of the caller's settings for a GitHub target.
fn tool_command() -> Command {
    let mut command = Command::new(binary());
    command
        .arg("-q")
        .env_remove("GT4PY_PUBLISH_REPO")
        .env_remove("GT4PY_PUBLISH_BRANCH")
        .env_remove("GT4PY_PUBLISH_ATOMIC")
        .env_remove("GITHUB_ACTIONS");
    command
}

/// sha256 per filename listed on a project page (ours or generator.py's).
fn listed_hashes(project: &str, page: &Path) -> Result<Vec<(String, Option<String>)>, String> {
    let bytes = fs::read(page).map_err(|e| format!("{}: {e}", page.display()))?;
    let name = ProjectName::new(project).map_err(|e| e.to_string())?;
    let parsed = ProjectPage::parse(name, &bytes).map_err(|e| e.to_string())?;
    let mut hashes: Vec<(String, Option<String>)> = parsed
        .page
        .entries()
        .map(|e| (e.filename.clone(), e.sha256.clone()))
        .collect();
    hashes.sort();
    Ok(hashes)
}

fn bench_adopt(sizes: &Sizes, work: &Path, table: &mut Table) -> Result<(), String> {
    let Some(python) = python() else {
        table.row(
            "generator.py baseline",
            "no python3 >= 3.11",
            "skipped",
            None,
        );
        return Ok(());
    };
    let project = "adopt-proj";
    let n = sizes.adopt_wheels;
    let base = fresh_folder(&work.join("adopt")).map_err(|e| e.to_string())?;
    let source = base.join("source");
    let folder = source.join(project);
    fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
    let setup = Instant::now();
    let mut bytes = 0u64;
    for i in 0..n {
        let version = format!("1.{}.{}", i / 100, i % 100);
        let path = WheelBuilder::new(project, &version)
            .requires_python(">=3.9")
            .payload_size(sizes.adopt_payload)
            .build(&folder)
            .map_err(|e| e.to_string())?;
        bytes += fs::metadata(&path).map_err(|e| e.to_string())?.len();
    }
    table.row(
        &format!("  (setup: {n} wheels built, {:.0} MB)", bytes as f64 / MB),
        &format!("{:.2} s", setup.elapsed().as_secs_f64()),
        "reported",
        None,
    );

    // One warm-up of each, then timed runs alternating, each on its own fresh copy. Copies are
    // removed only at the end: ext4 avoids reusing inodes freed seconds ago, so deleting 4,000
    // files just before a timed run makes each file the tool creates cost a scan.
    let runs = sizes.adopt_runs.max(1);
    let mut python_times = Vec::with_capacity(runs);
    let mut tool_times = Vec::with_capacity(runs);
    let mut dry_times = Vec::with_capacity(runs);
    let copies = base.join("copies");
    let mut python_dir = PathBuf::new();
    let mut tool_dir = PathBuf::new();
    for run in 0..=runs {
        python_dir = copies.join(format!("python-{run}"));
        tool_dir = copies.join(format!("tool-{run}"));
        for dir in [&python_dir, &tool_dir] {
            link_tree(&source, dir).map_err(|e| e.to_string())?;
        }
        sync_all();
        let python_time = time_child(
            Command::new(python)
                .arg("-c")
                .arg(GENERATOR_PY)
                .arg(&python_dir),
        )?;
        sync_all();
        let tool_time = time_child(
            tool_command()
                .arg("regenerate")
                .arg("--index-dir")
                .arg(&tool_dir),
        )?;
        // The same reads and hashes, nothing written: where the tool's time goes.
        let dry_dir = copies.join(format!("dry-{run}"));
        link_tree(&source, &dry_dir).map_err(|e| e.to_string())?;
        sync_all();
        let dry_time = time_child(
            tool_command()
                .arg("regenerate")
                .arg("--dry-run")
                .arg("--index-dir")
                .arg(&dry_dir),
        )?;
        if run > 0 {
            python_times.push(python_time);
            tool_times.push(tool_time);
            dry_times.push(dry_time);
        }
    }
    let python_time = median(python_times);
    let tool_time = median(tool_times);

    // Both listed every wheel with the same hash; the tool also wrote every `.metadata`.
    let python_hashes = listed_hashes(project, &python_dir.join(project).join("index.html"))?;
    let tool_hashes = listed_hashes(project, &tool_dir.join(project).join("index.html"))?;
    let metadata_files = fs::read_dir(tool_dir.join(project))
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".whl.metadata"))
        .count();
    let agree = python_hashes.len() == n && tool_hashes == python_hashes && metadata_files == n;
    table.row(
        &format!("generator.py baseline: hash {n} files, 2 pages"),
        &ms(python_time),
        "baseline",
        None,
    );
    table.row(
        &format!("regenerate --index-dir (+ {n} .metadata)"),
        &ms(tool_time),
        "",
        None,
    );
    table.row(
        "  of which: read, hash, plan (--dry-run)",
        &ms(median(dry_times)),
        "reported",
        None,
    );
    let ratio = tool_time.as_secs_f64() / python_time.as_secs_f64();
    table.row(
        "  ratio regenerate / generator.py",
        &format!("{ratio:.2}x"),
        "<= 1.00x",
        Some(ratio <= 1.0),
    );
    table.row(
        "  same hashes listed, every .metadata written",
        &format!(
            "{} / {} listed, {metadata_files} .metadata",
            tool_hashes.len(),
            python_hashes.len()
        ),
        "yes",
        Some(agree),
    );

    // Then one more wheel into the adopted index: the tool reads the page, the old way
    // hashed everything again.
    let new_dir = base.join("new");
    fs::create_dir_all(&new_dir).map_err(|e| e.to_string())?;
    let publishes = sizes.adopt_publish_runs.max(1);
    let mut publish_times = Vec::with_capacity(publishes);
    for run in 0..=publishes {
        let wheel = WheelBuilder::new(project, &format!("9.9.{run}"))
            .requires_python(">=3.9")
            .payload_size(sizes.adopt_payload)
            .build(&new_dir)
            .map_err(|e| e.to_string())?;
        sync_all();
        let elapsed = time_child(tool_command().arg("--index-dir").arg(&tool_dir).arg(&wheel))?;
        if run > 0 {
            publish_times.push(elapsed);
        }
    }
    let publish_time = median(publish_times);
    let listed = listed_hashes(project, &tool_dir.join(project).join("index.html"))?.len();
    if listed != n + publishes + 1 {
        return Err(format!(
            "the adopted page lists {listed} files after {} publishes, not {}",
            publishes + 1,
            n + publishes + 1
        ));
    }
    table.row(
        &format!("publish 1 wheel into the adopted index ({n} wheels)"),
        &ms(publish_time),
        "",
        None,
    );
    let speedup = python_time.as_secs_f64() / publish_time.as_secs_f64();
    table.row(
        "  speed-up vs generator.py's full rehash",
        &format!("{speedup:.1}x"),
        ">= 20x",
        Some(speedup >= 20.0),
    );
    let _ = fs::remove_dir_all(&base);
    Ok(())
}
