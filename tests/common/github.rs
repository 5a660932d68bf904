//! Helpers for the tests against the GitHub emulator: the options that point the tool at it,
//! distributions built for a test, and reading and checking the index on its branch.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use github_emulator::{Config, Emulator, Fault};
use gt4py_testkit::dist_builder::{SdistBuilder, WheelBuilder};
use sha2::{Digest, Sha256};

use super::{normalize, tool};

/// The emulator's read-write token: distinctive, so any leak into output is found.
pub const TOKEN: &str = "ghp_E2eS3cretT0kenNeverPrinted0123456789";
pub const REPO: &str = "GridTools/pypi";
pub const BRANCH: &str = "main";

/// An emulator configuration with [`TOKEN`] as its read-write token.
pub fn config() -> Config {
    Config {
        token: TOKEN.into(),
        ..Config::default()
    }
}

/// The options that point the tool at the emulator.
pub fn target_args(emu: &Emulator) -> Vec<String> {
    vec![
        "--api-url".into(),
        emu.api_url(),
        "--repo".into(),
        REPO.into(),
        "--branch".into(),
        BRANCH.into(),
    ]
}

/// `gt4py-publish SUBCOMMAND --api-url EMU --repo GridTools/pypi --branch main`, with `token`
/// (if any) in `GT4PY_PUBLISH_TOKEN`; the caller adds the rest.
pub fn gh(emu: &Emulator, token: Option<&str>, subcommand: &str) -> Command {
    let mut command = tool();
    command.arg(subcommand).args(target_args(emu));
    if let Some(token) = token {
        command.env("GT4PY_PUBLISH_TOKEN", token);
    }
    command
}

/// The faults the random-fault tests inject: server errors (plain and as HTML pages), primary
/// and secondary rate limits, and writes dropped before or after they were applied.
pub fn random_fault_kinds() -> Vec<Fault> {
    vec![
        Fault::status(500),
        Fault::ServerError {
            status: 502,
            html: true,
        },
        Fault::ServerError {
            status: 503,
            html: true,
        },
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
        Fault::SecondaryRateLimit {
            retry_after_secs: Some(1),
        },
        Fault::DropBeforeApply,
        Fault::DropAfterApply,
    ]
}

/// Polls the branch until a commit made after `since` commits satisfies `landed`.
pub fn wait_for_commit(
    emu: &Emulator,
    since: usize,
    what: &str,
    landed: impl Fn(&github_emulator::Commit) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !emu.commits()[since..].iter().any(&landed) {
        assert!(Instant::now() < deadline, "{what} never landed");
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------------------
// Distributions
// ---------------------------------------------------------------------------------------------

/// A distribution built for a test.
#[derive(Debug, Clone)]
pub struct Dist {
    pub path: PathBuf,
    pub filename: String,
    /// The PEP 503 normalized project name: its folder on the index.
    pub folder: String,
    /// As given (for `pip install NAME==V`).
    pub project: String,
    pub version: String,
    /// The METADATA of a wheel (what `FILENAME.metadata` must hold); `None` for an sdist.
    pub metadata: Option<Vec<u8>>,
}

impl Dist {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn repo_path(&self) -> String {
        format!("{}/{}", self.folder, self.filename)
    }

    pub fn requirement(&self) -> String {
        format!("{}=={}", self.project, self.version)
    }
}

pub fn build_wheel(dir: &Path, builder: WheelBuilder, project: &str, version: &str) -> Dist {
    std::fs::create_dir_all(dir).unwrap();
    let metadata = builder.metadata_bytes();
    let path = builder.build(dir).expect("the wheel builds");
    Dist {
        filename: path.file_name().unwrap().to_string_lossy().into_owned(),
        path,
        folder: normalize(project),
        project: project.to_string(),
        version: version.to_string(),
        metadata: Some(metadata),
    }
}

pub fn wheel(dir: &Path, project: &str, version: &str) -> Dist {
    build_wheel(dir, WheelBuilder::new(project, version), project, version)
}

pub fn sdist(dir: &Path, project: &str, version: &str) -> Dist {
    std::fs::create_dir_all(dir).unwrap();
    let path = SdistBuilder::new(project, version)
        .build(dir)
        .expect("the sdist builds");
    Dist {
        filename: path.file_name().unwrap().to_string_lossy().into_owned(),
        path,
        folder: normalize(project),
        project: project.to_string(),
        version: version.to_string(),
        metadata: None,
    }
}

pub fn paths(dists: &[&Dist]) -> Vec<PathBuf> {
    dists.iter().map(|d| d.path.clone()).collect()
}

pub fn refs(paths: &[PathBuf]) -> Vec<&Path> {
    paths.iter().map(PathBuf::as_path).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading and checking the index on the branch
// ---------------------------------------------------------------------------------------------

/// One `<a>` of a page: attributes as written (HTML-escaped) and the text.
#[derive(Debug)]
pub struct Anchor {
    pub attrs: BTreeMap<String, String>,
    pub text: String,
}

impl Anchor {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    pub fn href(&self) -> &str {
        self.attr("href").expect("an anchor without href")
    }

    /// The `#sha256=` of the href.
    pub fn sha256(&self) -> Option<&str> {
        self.href().split_once("#sha256=").map(|(_, h)| h)
    }

    /// The href without its fragment, percent-decoded.
    pub fn target(&self) -> String {
        let href = self.href().split('#').next().unwrap_or_default();
        percent_encoding::percent_decode_str(&html_unescape(href))
            .decode_utf8_lossy()
            .into_owned()
    }
}

/// The anchors of a page (double-quoted or bare attribute values; legacy `</br>` is ignored).
pub fn anchors(html: &str) -> Vec<Anchor> {
    anchors_with(html, html_unescape)
}

/// The anchors of a page, each anchor's text passed through `text` (attribute values are
/// kept as written).
pub fn anchors_with(html: &str, text: impl Fn(&str) -> String) -> Vec<Anchor> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<a ") {
        let tag = &rest[start + 3..];
        let end = tag.find('>').expect("an unterminated <a> tag");
        let mut source = &tag[..end];
        let mut attrs = BTreeMap::new();
        loop {
            source = source.trim_start();
            if source.is_empty() {
                break;
            }
            let eq = source
                .find('=')
                .unwrap_or_else(|| panic!("an attribute without a value in <a {}>", &tag[..end]));
            let name = source[..eq].trim().to_ascii_lowercase();
            let after = &source[eq + 1..];
            let (value, remaining) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let close = quoted.find('"').expect("an unterminated attribute value");
                    (&quoted[..close], &quoted[close + 1..])
                }
                None => {
                    let close = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..close], &after[close..])
                }
            };
            attrs.insert(name, value.to_owned());
            source = remaining;
        }
        let body = &tag[end + 1..];
        let close = body.find("</a>").expect("an <a> without </a>");
        out.push(Anchor {
            attrs,
            text: text(&body[..close]),
        });
        rest = &body[close..];
    }
    out
}

pub fn html_unescape(value: &str) -> String {
    value
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

pub type Files = BTreeMap<String, Vec<u8>>;

pub fn text(files: &Files, path: &str) -> String {
    String::from_utf8_lossy(
        files
            .get(path)
            .unwrap_or_else(|| panic!("no {path} on the branch")),
    )
    .into_owned()
}

/// The anchors of `FOLDER/index.html`.
pub fn page(files: &Files, folder: &str) -> Vec<Anchor> {
    anchors(&text(files, &format!("{folder}/index.html")))
}

/// Projects linked from the root page, in order, as the folders they point to.
pub fn root_projects(files: &Files) -> Vec<String> {
    anchors(&text(files, "index.html"))
        .iter()
        .map(|a| a.target().trim_end_matches('/').to_string())
        .collect()
}

/// Links that lead nowhere or to the wrong bytes: a root link without its page, a page entry
/// without its file, a hash that is not the file's, a metadata hash that is not the
/// `.metadata` file's. Any state a publish passes through must have none.
pub fn link_problems(files: &Files) -> Vec<String> {
    link_problems_with(files, None)
}

/// [`link_problems`], with the release assets (by name) that absolute links point at; without
/// them, an absolute link is only checked to be a release download named as its label.
pub fn link_problems_with(files: &Files, assets: Option<&Files>) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(root) = files.get("index.html") else {
        return problems;
    };
    for link in anchors(&String::from_utf8_lossy(root)) {
        let folder = link.target().trim_end_matches('/').to_string();
        let page_path = format!("{folder}/index.html");
        let Some(page) = files.get(&page_path) else {
            problems.push(format!(
                "the root links {folder}/ but {page_path} is missing"
            ));
            continue;
        };
        let mut seen = BTreeSet::new();
        for entry in anchors(&String::from_utf8_lossy(page)) {
            let target = entry.target();
            let absolute = target.starts_with("http://") || target.starts_with("https://");
            let name = if absolute {
                if !target.contains("/releases/download/") {
                    problems.push(format!("{page_path}: {target} is not a release download"));
                }
                target.rsplit('/').next().unwrap_or_default().to_string()
            } else {
                target
            };
            let store = if absolute {
                match assets {
                    Some(assets) => assets,
                    None => {
                        if name != entry.text {
                            problems.push(format!(
                                "{page_path}: the link {} is labelled {}",
                                entry.href(),
                                entry.text
                            ));
                        }
                        continue;
                    }
                }
            } else {
                files
            };
            if name != entry.text {
                problems.push(format!(
                    "{page_path}: the link {} is labelled {}",
                    entry.href(),
                    entry.text
                ));
            }
            if !seen.insert(name.clone()) {
                problems.push(format!("{page_path} lists {name} twice"));
            }
            let path = if absolute {
                name.clone()
            } else {
                format!("{folder}/{name}")
            };
            match (store.get(&path), entry.sha256()) {
                (None, _) => problems.push(format!("{page_path} lists {name}: no such file")),
                (Some(_), None) => problems.push(format!("{page_path}: {name} has no hash")),
                (Some(bytes), Some(hash)) if sha256_hex(bytes) != hash => problems.push(format!(
                    "{page_path}: {name} is listed with sha256 {hash}, the file has {}",
                    sha256_hex(bytes)
                )),
                _ => {}
            }
            let dist_info = entry.attr("data-dist-info-metadata");
            let core = entry.attr("data-core-metadata");
            if dist_info != core {
                problems.push(format!(
                    "{page_path}: {name} has data-dist-info-metadata {dist_info:?} but \
                     data-core-metadata {core:?}"
                ));
            }
            if let Some(value) = dist_info {
                let metadata = format!("{path}.metadata");
                match (store.get(&metadata), value.strip_prefix("sha256=")) {
                    (None, _) => problems.push(format!("{page_path}: {metadata} is missing")),
                    (Some(bytes), Some(hash)) if sha256_hex(bytes) == hash => {}
                    (Some(bytes), _) => problems.push(format!(
                        "{page_path}: {name} lists metadata {value}, {metadata} has sha256={}",
                        sha256_hex(bytes)
                    )),
                }
            }
        }
    }
    problems
}

/// Everything that is wrong with a finished index: [`link_problems`], plus a missing
/// `.nojekyll` or root page, a project folder the root does not link (or links twice), a
/// distribution no page lists.
pub fn index_problems(files: &Files) -> Vec<String> {
    let mut problems = link_problems(files);
    if !files.contains_key(".nojekyll") {
        problems.push("no .nojekyll".into());
    }
    if !files.contains_key("index.html") {
        problems.push("no root page".into());
        return problems;
    }
    let linked = root_projects(files);
    let unique: BTreeSet<&String> = linked.iter().collect();
    if unique.len() != linked.len() {
        problems.push(format!("the root lists a project twice: {linked:?}"));
    }
    // Each project page's filenames, parsed once.
    let mut listed: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for path in files.keys() {
        let Some((folder, name)) = path.split_once('/') else {
            continue;
        };
        // An emptied project keeps an empty page the root no longer links: that is fine.
        if name == "index.html"
            && !linked.iter().any(|p| p == folder)
            && files
                .get(path)
                .is_some_and(|p| !anchors(&String::from_utf8_lossy(p)).is_empty())
        {
            problems.push(format!("the root does not link {folder}/"));
        }
        let is_dist = name.ends_with(".whl") || name.ends_with(".tar.gz") || name.ends_with(".zip");
        if is_dist {
            let names = listed.entry(folder).or_insert_with(|| {
                files
                    .get(&format!("{folder}/index.html"))
                    .map(|p| {
                        anchors(&String::from_utf8_lossy(p))
                            .into_iter()
                            .map(|a| a.text)
                            .collect()
                    })
                    .unwrap_or_default()
            });
            if !names.contains(name) {
                problems.push(format!("{path} is on no page"));
            }
        }
    }
    problems
}

/// [`assert_valid`] for an index whose pages also link release assets (by name).
pub fn assert_valid_with_assets(files: &Files, assets: &Files) {
    let mut problems = index_problems(files);
    problems.extend(link_problems_with(files, Some(assets)));
    assert!(
        problems.is_empty(),
        "the index is not valid:\n  {}",
        problems.join("\n  ")
    );
}

pub fn assert_valid(files: &Files) {
    let problems = index_problems(files);
    assert!(
        problems.is_empty(),
        "the index is not valid:\n  {}",
        problems.join("\n  ")
    );
}

/// Each distribution is stored byte for byte, its `.metadata` is the wheel's METADATA byte for
/// byte, and its page lists it with its sha256 (and the metadata's).
pub fn assert_holds(files: &Files, dists: &[&Dist]) {
    for dist in dists {
        let stored = files
            .get(&dist.repo_path())
            .unwrap_or_else(|| panic!("{} is not on the branch", dist.repo_path()));
        let bytes = std::fs::read(&dist.path).unwrap();
        assert!(
            *stored == bytes,
            "{} is not stored byte for byte",
            dist.filename
        );
        let metadata_path = format!("{}.metadata", dist.repo_path());
        assert_eq!(
            files.get(&metadata_path),
            dist.metadata.as_ref(),
            "{metadata_path} is not the wheel's METADATA"
        );
        let entries = page(files, &dist.folder);
        let entry = entries
            .iter()
            .find(|a| a.text == dist.filename)
            .unwrap_or_else(|| {
                panic!(
                    "{} is not on its page:\n{}",
                    dist.filename,
                    text(files, &format!("{}/index.html", dist.folder))
                )
            });
        assert_eq!(entry.sha256(), Some(sha256_hex(&bytes).as_str()));
        if let Some(metadata) = &dist.metadata {
            assert_eq!(
                entry.attr("data-core-metadata"),
                Some(format!("sha256={}", sha256_hex(metadata)).as_str()),
                "{}",
                dist.filename
            );
        }
    }
}
