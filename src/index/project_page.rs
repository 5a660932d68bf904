//! A project page (`NAME/index.html`): the files of one project, each with its hashes,
//! Requires-Python and yank state (PEP 503, 592, 629, 658, 714).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use pep440_rs::Version;
use percent_encoding::percent_decode_str;

use super::html::{self, Anchor};
use super::page_lines::PageLines;
use super::{PageError, page_text, shown};
use crate::filename::DistFilename;
use crate::hashing::is_sha256_hex;
use crate::name::ProjectName;

/// One file listed on a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// The exact filename; also the anchor text. Must satisfy [`is_plain_filename`].
    pub filename: String,
    /// Lower-case hex sha256 from the `#sha256=` fragment.
    pub sha256: Option<String>,
    /// The unescaped value of `data-requires-python`.
    pub requires_python: Option<String>,
    /// Lower-case hex sha256 of `FILENAME.metadata` (PEP 658 / PEP 714).
    pub metadata_sha256: Option<String>,
    /// PEP 592: `Some("")` is yanked without a reason.
    pub yanked: Option<String>,
    /// Where the file is, when it is not stored next to the page: the absolute download URL
    /// of a release asset (`…/releases/download/TAG/FILENAME`), whose last segment is the
    /// filename (pip takes the filename from the URL). `None`: `FILENAME` beside the page.
    pub url: Option<String>,
}

impl FileEntry {
    /// An entry with only a filename and its sha256, the rest unset.
    pub fn new(filename: impl Into<String>, sha256: Option<String>) -> Self {
        Self {
            filename: filename.into(),
            sha256,
            requires_python: None,
            metadata_sha256: None,
            yanked: None,
            url: None,
        }
    }
}

/// The filename a release download URL ends in (percent-decoded), if `url` is one: http(s),
/// a `releases/download/` path, and no query, fragment, credentials or characters a page cannot
/// carry as they are. pip takes the filename from the URL, so an entry's name is this.
pub fn release_url_filename(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    if host.is_empty()
        || host.contains('@')
        || url.contains(['?', '#', '"', '<', '>', '\\', ' '])
        || url.chars().any(char::is_control)
    {
        return None;
    }
    let (folder, last) = path.rsplit_once('/')?;
    if !folder.contains("releases/download/") {
        return None;
    }
    percent_decode_str(last)
        .decode_utf8()
        .ok()
        .map(|name| name.into_owned())
}

/// Whether `name` can be a file stored next to a project page: not empty, not `.` or `..`, no
/// path separator and no control character. Only such names are read from pages, so a page can
/// never make the tool write outside the project's folder.
pub fn is_plain_filename(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// The files of one project. The page is the state of the project in the index: everything the
/// tool knows about a published file is what this page says.
///
/// A page read for an update ([`ProjectPage::parse_for_update`]) in our own layout is kept as its
/// lines: an entry is parsed when it is asked for, and rendering copies the lines no change
/// touched, so publishing one file into a page of thousands costs about as much as into an
/// empty one.
#[derive(Debug, Clone)]
pub struct ProjectPage {
    project: ProjectName,
    /// Every entry; over `lines`, only those added or changed since the page was read.
    entries: BTreeMap<String, Slot>,
    lines: Option<Lines>,
}

/// An entry with its version, parsed once from the filename because rendering sorts by it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    entry: FileEntry,
    version: Option<Version>,
}

impl Slot {
    fn new(mut entry: FileEntry) -> Slot {
        // Hex digests are stored lower case, so an entry compares equal to its re-parsed page.
        for digest in [&mut entry.sha256, &mut entry.metadata_sha256]
            .into_iter()
            .flatten()
        {
            digest.make_ascii_lowercase();
        }
        // A name that does not parse still gets listed (the page must not lose files); it only
        // sorts after the others.
        let version = DistFilename::parse(&entry.filename)
            .ok()
            .map(|name| name.version().clone());
        Slot { entry, version }
    }
}

/// A page of ours as read, line by line.
#[derive(Debug, Clone)]
struct Lines {
    page: PageLines,
    /// Each line's entry, parsed the first time it is needed; `None` inside: the line is not
    /// an entry (a link `adopt` refuses), and it is kept as it is.
    parsed: Vec<OnceLock<Option<Box<Slot>>>>,
    /// Filenames whose lines no longer count: changed (`entries` has them now) or removed.
    dropped: BTreeSet<String>,
}

impl Lines {
    fn slot(&self, i: usize) -> Option<&Slot> {
        self.parsed[i]
            .get_or_init(|| parse_line(self.page.line(i)).map(Box::new))
            .as_deref()
    }

    /// The lines listing `filename`, in page order.
    fn lines_of<'a>(&'a self, escaped: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.page.find(escaped)
    }

    /// Line `i`'s entry unless a change superseded it.
    fn current(&self, i: usize, entries: &BTreeMap<String, Slot>) -> Option<&Slot> {
        let slot = self.slot(i)?;
        let name = &slot.entry.filename;
        (!entries.contains_key(name) && !self.dropped.contains(name)).then_some(slot)
    }

    /// Where line `i` sorts (its filename's version, then the filename).
    fn order_key(&self, i: usize) -> (Option<Version>, String) {
        let name = html::unescape_own(self.page.key(i)).unwrap_or_default();
        let version = DistFilename::parse(&name)
            .ok()
            .map(|parsed| parsed.version().clone());
        (version, name)
    }
}

/// A line's entry, read the way a full parse reads it.
fn parse_line(line: &str) -> Option<Slot> {
    let anchor =
        html::parse_own_line(line, 0).or_else(|| html::extract_anchors(line).into_iter().next())?;
    adopt(&anchor).ok().map(|(entry, _)| Slot::new(entry))
}

fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    html::push_escaped(&mut out, s);
    out
}

/// Filename bytes an href keeps as they are (see `html::encode_href_path`).
fn is_href_plain(name: &str) -> bool {
    name != "."
        && name != ".."
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'!'))
}

impl PartialEq for ProjectPage {
    fn eq(&self, other: &Self) -> bool {
        self.project == other.project && self.entries().eq(other.entries())
    }
}

impl Eq for ProjectPage {}

/// A parsed page and what could not be taken from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPage {
    pub page: ProjectPage,
    /// One line per link that was not adopted, or adopted with something dropped; they say
    /// which line of the page and why.
    pub warnings: Vec<String>,
}

impl ProjectPage {
    pub fn new(project: ProjectName) -> Self {
        Self {
            project,
            entries: BTreeMap::new(),
            lines: None,
        }
    }

    /// Reads a page that is about to be changed. A page in our own layout whose every link
    /// names the file its text shows is kept as its lines (no warnings: its entries are read
    /// when asked for, and lines no change touches are written back as they were); any other
    /// page is parsed in full, as [`ProjectPage::parse`] does.
    pub fn parse_for_update(project: ProjectName, html: &[u8]) -> Result<ParsedPage, PageError> {
        let text = page_text(html, || format!("the project page of `{project}`"))?;
        if let Some(page) = PageLines::read(text, &format!("Links for {project}")) {
            let parsed: Vec<OnceLock<Option<Box<Slot>>>> =
                (0..page.len()).map(|_| OnceLock::new()).collect();
            let keyed = (0..page.len()).all(|i| {
                let key = page.key(i);
                if key == page.href_path(i) && is_href_plain(key) {
                    return true;
                }
                // Rarer names (`+`, entities, release URLs): the line's own entry decides.
                let slot = parse_line(page.line(i));
                let ok = match (&slot, html::unescape_own(key)) {
                    (Some(slot), Some(name)) => slot.entry.filename == name,
                    _ => false,
                };
                let _ = parsed[i].set(slot.map(Box::new));
                ok
            });
            if keyed {
                return Ok(ParsedPage {
                    page: ProjectPage {
                        project,
                        entries: BTreeMap::new(),
                        lines: Some(Lines {
                            page,
                            parsed,
                            dropped: BTreeSet::new(),
                        }),
                    },
                    warnings: Vec::new(),
                });
            }
        }
        Self::parse(project, html)
    }

    /// Reads a project page, ours or another generator's. Fails only for a page that is not
    /// text at all; links that cannot be adopted are reported in [`ParsedPage::warnings`].
    pub fn parse(project: ProjectName, html: &[u8]) -> Result<ParsedPage, PageError> {
        let text = page_text(html, || format!("the project page of `{project}`"))?;
        let mut page = Self::new(project);
        let mut warnings = Vec::new();
        let mut first_line: HashMap<String, u64> = HashMap::new();
        let anchors =
            html::extract_own_anchors(text).unwrap_or_else(|| html::extract_anchors(text));
        for anchor in anchors {
            // Built only for a warning: formatting it for every link is most of the cost of
            // reading a large page.
            let context = || {
                let href = anchor.attr("href").unwrap_or_default();
                format!("line {}: link to {}", anchor.line, shown(href))
            };
            match adopt(&anchor) {
                Err(reason) => warnings.push(format!("{} is not listed: {reason}", context())),
                Ok((entry, notes)) => {
                    warnings.extend(
                        notes
                            .into_iter()
                            .map(|note| format!("{}: {note}", context())),
                    );
                    if let Some(first) = first_line.get(&entry.filename) {
                        let differs = page.get(&entry.filename).is_some_and(|kept| *kept != entry);
                        warnings.push(format!(
                            "{}: {} is listed again{}; the listing on line {first} is kept",
                            context(),
                            shown(&entry.filename),
                            if differs {
                                " with different details"
                            } else {
                                ""
                            },
                        ));
                        continue;
                    }
                    first_line.insert(entry.filename.clone(), anchor.line);
                    page.upsert(entry);
                }
            }
        }
        Ok(ParsedPage { page, warnings })
    }

    /// The page in our format (DESIGN.md §1). The same state always gives the same bytes; a
    /// page kept as its lines gets its changed entries spliced in where they sort.
    pub fn render(&self) -> String {
        if let Some(lines) = &self.lines {
            return self.render_spliced(lines);
        }
        let mut out = String::with_capacity(512 + 400 * self.entries.len());
        html::push_page_head(&mut out, &format!("Links for {}", self.project));
        for entry in self.entries() {
            push_entry(&mut out, entry);
        }
        html::push_page_tail(&mut out);
        out
    }

    fn render_spliced(&self, lines: &Lines) -> String {
        let page = &lines.page;
        let mut skip = BTreeSet::new();
        for name in self.entries.keys().chain(&lines.dropped) {
            skip.extend(lines.lines_of(&escaped(name)));
        }
        let mut added: Vec<&Slot> = self.entries.values().collect();
        added.sort_by(|a, b| render_order(a, b));
        let mut out = String::with_capacity(
            page.head().len()
                + page.tail().len()
                + page.lines_text(0..page.len()).len()
                + 400 * added.len(),
        );
        out.push_str(page.head());
        // The page is in render order (we wrote it), so each new entry goes before the first
        // line that sorts after it.
        let mut at = 0;
        let copy_to = |out: &mut String, end: usize, at: &mut usize| {
            while *at < end {
                let next_skip = skip.range(*at..end).next().copied().unwrap_or(end);
                out.push_str(page.lines_text(*at..next_skip));
                *at = if next_skip < end { next_skip + 1 } else { end };
            }
        };
        for slot in added {
            let (mut low, mut high) = (at, page.len());
            while low < high {
                let mid = low + (high - low) / 2;
                let (version, name) = lines.order_key(mid);
                if order(&version, &name, &slot.version, &slot.entry.filename) == Ordering::Greater
                {
                    high = mid;
                } else {
                    low = mid + 1;
                }
            }
            let before = low;
            copy_to(&mut out, before, &mut at);
            push_entry(&mut out, &slot.entry);
        }
        copy_to(&mut out, page.len(), &mut at);
        out.push_str(page.tail());
        out
    }

    pub fn get(&self, filename: &str) -> Option<&FileEntry> {
        if let Some(slot) = self.entries.get(filename) {
            return Some(&slot.entry);
        }
        let lines = self.lines.as_ref()?;
        if lines.dropped.contains(filename) {
            return None;
        }
        let escaped = escaped(filename);
        lines
            .lines_of(&escaped)
            .find_map(|i| lines.slot(i))
            .filter(|slot| slot.entry.filename == filename)
            .map(|slot| &slot.entry)
    }

    /// Whether a line of the page as read lists `filename` (whatever changed since).
    fn has_line(&self, filename: &str) -> bool {
        self.lines
            .as_ref()
            .is_some_and(|lines| lines.lines_of(&escaped(filename)).next().is_some())
    }

    /// Adds `entry`, or replaces the entry with the same filename; returns the replaced one.
    /// Hex digests are stored lower case, so an entry compares equal to its re-parsed page.
    pub fn upsert(&mut self, entry: FileEntry) -> Option<FileEntry> {
        let previous = self.get(&entry.filename).cloned();
        if self.has_line(&entry.filename)
            && let Some(lines) = &mut self.lines
        {
            lines.dropped.insert(entry.filename.clone());
        }
        self.entries
            .insert(entry.filename.clone(), Slot::new(entry));
        previous
    }

    pub fn remove(&mut self, filename: &str) -> Option<FileEntry> {
        let previous = self.get(filename).cloned();
        if self.has_line(filename)
            && let Some(lines) = &mut self.lines
        {
            lines.dropped.insert(filename.to_string());
        }
        self.entries.remove(filename);
        previous
    }

    fn slots(&self) -> Vec<&Slot> {
        let mut slots: Vec<&Slot> = self.entries.values().collect();
        if let Some(lines) = &self.lines {
            // A file listed twice keeps its first listing, as a full parse does.
            let mut seen = HashSet::new();
            slots.extend(
                (0..lines.page.len())
                    .filter_map(|i| lines.current(i, &self.entries))
                    .filter(|slot| seen.insert(slot.entry.filename.as_str())),
            );
        }
        slots
    }

    /// The entries in render order: newest version first (PEP 440), then by filename; files
    /// whose name does not parse come last, by filename.
    pub fn entries(&self) -> impl Iterator<Item = &FileEntry> {
        let mut slots = self.slots();
        slots.sort_by(|a, b| render_order(a, b));
        slots.into_iter().map(|slot| &slot.entry)
    }

    /// Whether this page is kept as the lines it was read from (see
    /// [`ProjectPage::parse_for_update`]).
    pub fn kept_as_lines(&self) -> bool {
        self.lines.is_some()
    }

    pub fn project(&self) -> &ProjectName {
        &self.project
    }

    pub fn len(&self) -> usize {
        match &self.lines {
            None => self.entries.len(),
            Some(_) => self.slots().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
            && self.lines.as_ref().is_none_or(|lines| {
                (0..lines.page.len()).all(|i| lines.current(i, &self.entries).is_none())
            })
    }
}

fn push_entry(out: &mut String, entry: &FileEntry) {
    out.push_str("    <a href=\"");
    match &entry.url {
        Some(url) => html::push_escaped(out, url),
        None => html::push_escaped(out, &html::encode_href_path(&entry.filename)),
    }
    if let Some(sha256) = &entry.sha256 {
        out.push_str("#sha256=");
        html::push_escaped(out, sha256);
    }
    out.push('"');
    if let Some(requires_python) = &entry.requires_python {
        push_attr(out, "data-requires-python", requires_python);
    }
    if let Some(metadata_sha256) = &entry.metadata_sha256 {
        // Both names: PEP 658's for the pip releases that predate PEP 714, PEP 714's for the
        // rest.
        let value = format!("sha256={metadata_sha256}");
        push_attr(out, "data-dist-info-metadata", &value);
        push_attr(out, "data-core-metadata", &value);
    }
    if let Some(reason) = &entry.yanked {
        push_attr(out, "data-yanked", reason);
    }
    out.push('>');
    html::push_escaped(out, &entry.filename);
    out.push_str("</a><br>\n");
}

fn render_order(a: &Slot, b: &Slot) -> Ordering {
    order(&a.version, &a.entry.filename, &b.version, &b.entry.filename)
}

fn order(va: &Option<Version>, fa: &str, vb: &Option<Version>, fb: &str) -> Ordering {
    let by_version = match (va, vb) {
        (Some(va), Some(vb)) => vb.cmp(va),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    by_version.then_with(|| fa.cmp(fb))
}

fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    html::push_escaped(out, value);
    out.push('"');
}

/// Turns one link into an entry, with notes on what was dropped from it, or says why the link
/// cannot be an entry.
fn adopt(anchor: &Anchor) -> Result<(FileEntry, Vec<String>), String> {
    let mut notes = Vec::new();
    let Some(href) = anchor.attr("href") else {
        return Err("it has no href".to_string());
    };
    // Browsers ignore white space around a URL; a hand-edited page may have some.
    let href = href.trim_matches(|c: char| c.is_ascii_whitespace());
    let (path, fragment) = match href.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (href, None),
    };
    if html::is_absolute(path) {
        // A release asset: the URL's last segment is the file.
        if let Some(filename) = release_url_filename(path).filter(|f| is_plain_filename(f)) {
            let text = anchor.text.as_str();
            if text != filename && text.trim() != filename {
                notes.push(format!(
                    "its text {} is not the file's name; the page will show the name",
                    shown(text.trim())
                ));
            }
            let mut entry = FileEntry::new(filename, None);
            entry.url = Some(path.to_string());
            return finish_entry(anchor, entry, fragment, notes);
        }
        return Err(
            "it points away from this project's folder (an absolute URL or path other than a \
             release download link); only files stored next to the page or as release assets \
             can be listed"
                .to_string(),
        );
    }
    if path.contains('?') {
        return Err("it has a query string, so it does not name a plain file".to_string());
    }
    let path = path.strip_prefix("./").unwrap_or(path);
    let filename = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| "its percent-encoded name is not valid UTF-8".to_string())?
        .into_owned();
    if !is_plain_filename(&filename) {
        return Err(format!(
            "{} is not a plain file name next to the page (empty, `.`, `..`, a path, or a \
             control character)",
            shown(&filename)
        ));
    }

    let text = anchor.text.as_str();
    if text != filename && text.trim() != filename {
        notes.push(format!(
            "its text {} is not the file's name; the page will show the name",
            shown(text.trim())
        ));
    }
    finish_entry(anchor, FileEntry::new(filename, None), fragment, notes)
}

/// The hash, metadata, Requires-Python and yank attributes of a link, onto `entry`.
fn finish_entry(
    anchor: &Anchor,
    mut entry: FileEntry,
    fragment: Option<&str>,
    mut notes: Vec<String>,
) -> Result<(FileEntry, Vec<String>), String> {
    let mut sha256 = None;
    if let Some(fragment) = fragment.filter(|f| !f.is_empty()) {
        match fragment.split_once('=') {
            Some((name, value)) if name.eq_ignore_ascii_case("sha256") => {
                if !is_sha256_hex(value) {
                    return Err(format!("its sha256 {} is not 64 hex digits", shown(value)));
                }
                sha256 = Some(value.to_ascii_lowercase());
            }
            Some((name, _)) => notes.push(format!(
                "its {} hash is dropped (only sha256 is kept)",
                shown(name)
            )),
            None => notes.push(format!(
                "its fragment {} is not a hash and is dropped",
                shown(fragment)
            )),
        }
    }

    let core = metadata_hash(anchor, "data-core-metadata", &mut notes);
    let dist_info = metadata_hash(anchor, "data-dist-info-metadata", &mut notes);
    let metadata_sha256 = match (core, dist_info) {
        (Some(core), Some(dist_info)) if core != dist_info => {
            notes.push(
                "its data-core-metadata and data-dist-info-metadata hashes differ; the \
                 data-core-metadata one (PEP 714) is kept"
                    .to_string(),
            );
            Some(core)
        }
        (core, dist_info) => core.or(dist_info),
    };

    entry.sha256 = sha256;
    entry.requires_python = anchor.attr("data-requires-python").map(str::to_string);
    entry.metadata_sha256 = metadata_sha256;
    entry.yanked = anchor.attr("data-yanked").map(str::to_string);
    Ok((entry, notes))
}

/// The sha256 in a PEP 658/714 metadata attribute. `true` (metadata served, hash unknown) gives
/// `None`: the next publish of the file writes the hash again.
fn metadata_hash(anchor: &Anchor, attr: &str, notes: &mut Vec<String>) -> Option<String> {
    let value = anchor.attr(attr)?.trim();
    if value.eq_ignore_ascii_case("true") {
        return None;
    }
    match value.split_once('=') {
        Some((name, hex)) if name.eq_ignore_ascii_case("sha256") && is_sha256_hex(hex) => {
            Some(hex.to_ascii_lowercase())
        }
        _ => {
            notes.push(format!(
                "its {attr} value {} is not `true` or `sha256=` and 64 hex digits; it is dropped",
                shown(value)
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dace() -> ProjectName {
        ProjectName::new("dace").unwrap()
    }

    fn fixture(path: &str) -> Vec<u8> {
        let full = format!(
            "{}/tests/fixtures/legacy-index/{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }

    fn parse(html: &str) -> ParsedPage {
        ProjectPage::parse(dace(), html.as_bytes()).unwrap()
    }

    fn filenames(page: &ProjectPage) -> Vec<&str> {
        page.entries().map(|e| e.filename.as_str()).collect()
    }

    const HEX_A: &str = "0fc94ef1dfb8078ffdc0943b5a06dbb5ae63a335235ba5e9ce6571f935e96f66";
    const HEX_B: &str = "c72988e173bc07d59410fb32e7add2dbca498833e9e369fdff94e1971c5a6df5";

    /// Every file and hash the legacy pages list, read off the fixtures by eye.
    const LEGACY_PAGES: [(&str, [(&str, &str); 6]); 2] = [
        (
            "gt4py-index/dace/index.html",
            [
                ("dace-43!2026.2.3-py3-none-any.whl", HEX_A),
                ("dace-43!2026.1.21-py3-none-any.whl", HEX_B),
                (
                    "dace-43!2025.12.18-py3-none-any.whl",
                    "abb95e607e4370119bf2c4e5a288882f5b85512359aee6d5c38882386419cf76",
                ),
                (
                    "dace-43!2026.1.13-py3-none-any.whl",
                    "0a0b6ea03254372043bd8c9532dffddfe336729efb9148195f2523d9aa8ed331",
                ),
                (
                    "dace-43!2025.12.17-py3-none-any.whl",
                    "ee12ebca7fb369ae2de0d3853ced8fb54ad6920a7b5238119bc0e9eb040bc90a",
                ),
                (
                    "dace-43!2026.2.12-py3-none-any.whl",
                    "67c27b0cc46eaaa407fd3bb70508fa100d3b58ae6f311470db075a4335f71341",
                ),
            ],
        ),
        (
            "test-index/dace/index.html",
            [
                (
                    "dace-2025.5.40-py3-none-any.whl",
                    "099ac55908ce618c3c1b86f9cece2f64f80003e71482ed341ca42d25110c2dd4",
                ),
                (
                    "dace-2025.11.5-py3-none-any.whl",
                    "e27813e5314793fbd7cf12ae26a05e5923417ece122d0028fb21cf520c317f9d",
                ),
                (
                    "dace-2025.11.4.tar.gz",
                    "e33c43821029412959fbce0568e50531c3aa21c575c1c8dc7ee6704538fd1947",
                ),
                (
                    "dace-2025.5.43-py3-none-any.whl",
                    "217cbf0dd56f922963cccda89a9a5c10c5bb18eaf3db0ac72cc96f2124ded8a8",
                ),
                (
                    "dace-2025.11.26-py3-none-any.whl",
                    "3c3e4b1d3dd60a418e7de5e8aa1f6899deabea2c2602557c75268c49bf80f695",
                ),
                (
                    "dace-1.0.0-py3-none-any.whl",
                    "f2769f9770e1024487e9e2c424f9ab758327184dbf56aceb0e303d56bff7e8b6",
                ),
            ],
        ),
    ];

    #[test]
    fn adopts_every_file_and_hash_of_the_legacy_pages() {
        for (path, expected) in LEGACY_PAGES {
            let parsed = ProjectPage::parse(dace(), &fixture(path)).unwrap();
            assert_eq!(parsed.warnings, Vec::<String>::new(), "{path}");
            let page = parsed.page;
            assert_eq!(page.len(), expected.len(), "{path}");
            for (filename, sha256) in expected {
                let entry = page
                    .get(filename)
                    .unwrap_or_else(|| panic!("{path}: {filename}"));
                assert_eq!(entry, &FileEntry::new(filename, Some(sha256.to_string())));
            }
            // The rewritten page keeps everything too.
            assert_eq!(parse(&page.render()).page, page, "{path}");
        }
    }

    fn parsed_lines(page: &ProjectPage) -> Option<usize> {
        let lines = page.lines.as_ref()?;
        Some(lines.parsed.iter().filter(|p| p.get().is_some()).count())
    }

    #[test]
    fn a_page_of_ours_is_updated_line_by_line() {
        let mut page = ProjectPage::new(dace());
        let epoch = "dace-43!2026.2.3-py3-none-any.whl";
        let local = "dace-43!2026.1.1+cu12-py3-none-any.whl";
        let asset = "dace-43!2025.1.1-cp311-cp311-manylinux_2_28_x86_64.whl";
        page.upsert(FileEntry::new(epoch, Some(HEX_A.to_string())));
        page.upsert(FileEntry::new(local, Some(HEX_B.to_string())));
        let mut big = FileEntry::new(asset, None);
        big.url = Some(format!(
            "https://github.com/GridTools/pypi/releases/download/files/{asset}"
        ));
        page.upsert(big);
        let html = page.render();

        let parsed = ProjectPage::parse_for_update(dace(), html.as_bytes()).unwrap();
        assert!(parsed.warnings.is_empty());
        let mut lines = parsed.page;
        // Only the lines whose href is not their text were read up front (to check that they
        // name the file they show); the plain one is read when asked for.
        assert_eq!(parsed_lines(&lines), Some(2));
        assert_eq!(lines.get(epoch), page.get(epoch));
        assert_eq!(parsed_lines(&lines), Some(3));

        let newer = "dace-43!2026.3.1-py3-none-any.whl";
        lines.upsert(FileEntry::new(newer, None));
        page.upsert(FileEntry::new(newer, None));
        lines.remove(local);
        page.remove(local);
        let rendered = lines.render();
        assert_eq!(rendered, page.render());
        assert!(rendered.find(newer) < rendered.find(epoch), "{rendered}");
    }

    #[test]
    fn pages_not_quite_ours_are_read_in_full_for_an_update() {
        let legacy = fixture("gt4py-index/dace/index.html");
        let parsed = ProjectPage::parse_for_update(dace(), &legacy).unwrap();
        assert!(parsed.page.lines.is_none());
        assert_eq!(parsed, ProjectPage::parse(dace(), &legacy).unwrap());

        // Our layout, but the text is not the file the href names: the warning must show.
        let mut page = ProjectPage::new(dace());
        page.upsert(FileEntry::new("dace-1.0.tar.gz", None));
        let edited = page
            .render()
            .replace(">dace-1.0.tar.gz</a>", ">dace-2.0.tar.gz</a>");
        let parsed = ProjectPage::parse_for_update(dace(), edited.as_bytes()).unwrap();
        assert!(parsed.page.lines.is_none());
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        assert!(parsed.page.get("dace-1.0.tar.gz").is_some());

        // Another project's title.
        let other = ProjectPage::parse_for_update(
            ProjectName::new("ghex").unwrap(),
            page.render().as_bytes(),
        )
        .unwrap();
        assert!(other.page.lines.is_none());
    }

    /// Found by the property tests (`tests/properties.rs`): a CR in a value (`&#13;` on a
    /// legacy page, or a yank reason) was written raw and read back as LF, so every rewrite of
    /// the page changed it.
    #[test]
    fn a_carriage_return_in_a_value_survives_a_rewrite() {
        let legacy = parse(
            "<a href=\"x-1.0.tar.gz\" data-yanked=\"a&#13;b\r\nc\" \
             data-requires-python=\"&gt;=3.9&#13;\">x-1.0.tar.gz</a>",
        );
        let entry = legacy.page.get("x-1.0.tar.gz").unwrap();
        assert_eq!(entry.yanked.as_deref(), Some("a\rb\nc"));
        assert_eq!(entry.requires_python.as_deref(), Some(">=3.9\r"));
        let rendered = legacy.page.render();
        assert!(
            rendered.contains("data-yanked=\"a&#13;b\nc\""),
            "{rendered}"
        );
        let again = parse(&rendered);
        assert_eq!(again.page, legacy.page);
        assert_eq!(again.page.render(), rendered);
    }

    #[test]
    fn rewrites_the_legacy_pages_in_our_format() {
        for (path, snapshot) in [
            ("gt4py-index/dace/index.html", "legacy_gt4py_index_dace"),
            ("test-index/dace/index.html", "legacy_test_index_dace"),
        ] {
            let page = ProjectPage::parse(dace(), &fixture(path)).unwrap().page;
            insta::assert_snapshot!(snapshot, page.render());
        }
    }

    #[test]
    fn renders_the_documented_layout() {
        let mut page = ProjectPage::new(dace());
        page.upsert(FileEntry {
            filename: "dace-43!2026.2.3-py3-none-any.whl".to_string(),
            sha256: Some(HEX_A.to_uppercase()),
            requires_python: Some(">=3.9".to_string()),
            metadata_sha256: Some(HEX_B.to_string()),
            yanked: None,
            url: None,
        });
        page.upsert(FileEntry {
            filename: "dace-1.0+local.1.tar.gz".to_string(),
            sha256: None,
            requires_python: Some("<4,!=3.10.*".to_string()),
            metadata_sha256: None,
            yanked: Some(r#"broken "import" & <worse>, don't"#.to_string()),
            url: None,
        });
        let expected = format!(
            "<!DOCTYPE html>\n\
             <html>\n  \
               <head>\n    \
                 <meta charset=\"utf-8\">\n    \
                 <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
                 <title>Links for dace</title>\n  \
               </head>\n  \
               <body>\n    \
                 <h1>Links for dace</h1>\n    \
                 <a href=\"dace-43!2026.2.3-py3-none-any.whl#sha256={HEX_A}\" \
             data-requires-python=\"&gt;=3.9\" data-dist-info-metadata=\"sha256={HEX_B}\" \
             data-core-metadata=\"sha256={HEX_B}\">dace-43!2026.2.3-py3-none-any.whl</a><br>\n    \
                 <a href=\"dace-1.0%2Blocal.1.tar.gz\" data-requires-python=\"&lt;4,!=3.10.*\" \
             data-yanked=\"broken &quot;import&quot; &amp; &lt;worse&gt;, don&#39;t\">\
             dace-1.0+local.1.tar.gz</a><br>\n  \
               </body>\n\
             </html>\n"
        );
        assert_eq!(page.render(), expected);
    }

    #[test]
    fn an_empty_page_still_has_its_head() {
        let page = ProjectPage::new(dace());
        assert!(page.is_empty());
        let html = page.render();
        assert!(html.contains("<title>Links for dace</title>"));
        assert!(html.ends_with("  <body>\n    <h1>Links for dace</h1>\n  </body>\n</html>\n"));
        assert_eq!(parse(&html).page, page);
    }

    #[test]
    fn orders_newest_version_first_then_by_filename_with_odd_names_last() {
        let mut page = ProjectPage::new(dace());
        for filename in [
            "zzz-not-a-dist.txt",
            "dace-1.0-py3-none-any.whl",
            "dace-1.0.tar.gz",
            "dace-2.0rc1-py3-none-any.whl",
            "dace-1!0.1-py3-none-any.whl",
            "dace-1.0.0-cp312-cp312-linux_x86_64.whl",
            "dace-2.0-py3-none-any.whl",
            "aaa-odd",
            "dace-1.0.post1.tar.gz",
            "dace-1.0+local-py3-none-any.whl",
            "dace-1.0.dev3.zip",
        ] {
            page.upsert(FileEntry::new(filename, None));
        }
        assert_eq!(
            filenames(&page),
            [
                "dace-1!0.1-py3-none-any.whl",
                "dace-2.0-py3-none-any.whl",
                "dace-2.0rc1-py3-none-any.whl",
                "dace-1.0.post1.tar.gz",
                "dace-1.0+local-py3-none-any.whl",
                // 1.0 and 1.0.0 are the same version: the filename decides.
                "dace-1.0-py3-none-any.whl",
                "dace-1.0.0-cp312-cp312-linux_x86_64.whl",
                "dace-1.0.tar.gz",
                "dace-1.0.dev3.zip",
                "aaa-odd",
                "zzz-not-a-dist.txt",
            ]
        );
        // Insertion order does not matter.
        let mut reversed = ProjectPage::new(dace());
        for entry in page.entries().collect::<Vec<_>>().into_iter().rev() {
            reversed.upsert(entry.clone());
        }
        assert_eq!(reversed.render(), page.render());
    }

    #[test]
    fn upsert_replaces_and_remove_removes() {
        let mut page = ProjectPage::new(dace());
        let first = FileEntry::new("dace-1.0.tar.gz", Some(HEX_A.to_string()));
        assert_eq!(page.upsert(first.clone()), None);
        let yanked = FileEntry {
            yanked: Some(String::new()),
            ..first.clone()
        };
        assert_eq!(page.upsert(yanked.clone()), Some(first));
        assert_eq!(page.len(), 1);
        assert_eq!(page.get("dace-1.0.tar.gz"), Some(&yanked));
        assert!(page.render().contains(" data-yanked=\"\">"));
        assert_eq!(page.remove("dace-1.0.tar.gz"), Some(yanked));
        assert_eq!(page.remove("dace-1.0.tar.gz"), None);
        assert!(page.is_empty());
        assert_eq!(page.project(), &dace());
    }

    /// What one odd anchor becomes: the entry (if adopted) and a piece of the warning (if any).
    #[test]
    fn reads_odd_anchors() {
        struct Case {
            html: &'static str,
            entry: Option<FileEntry>,
            warning: Option<&'static str>,
        }
        let plain = |filename: &str| Some(FileEntry::new(filename, None));
        let hashed = |filename: &str| Some(FileEntry::new(filename, Some(HEX_A.to_string())));
        let with = |f: fn(&mut FileEntry)| {
            let mut entry = FileEntry::new("x.whl", None);
            f(&mut entry);
            Some(entry)
        };
        let upper = HEX_A.to_uppercase();
        let upper: &'static str =
            Box::leak(format!("<a href=x.whl#SHA256={upper}>x.whl</a>").into_boxed_str());
        let cases = [
            Case {
                html: "<a href=x.whl>x.whl</a>",
                entry: plain("x.whl"),
                warning: None,
            },
            Case {
                html: "<A HREF='x.whl'>x.whl</A></br>",
                entry: plain("x.whl"),
                warning: None,
            },
            Case {
                html: "<a href=\" x.whl \">x.whl</a>",
                entry: plain("x.whl"),
                warning: None,
            },
            Case {
                html: "<a href=./x.whl>x.whl</a>",
                entry: plain("x.whl"),
                warning: None,
            },
            Case {
                html: "<a href=x.whl#>x.whl</a>",
                entry: plain("x.whl"),
                warning: None,
            },
            Case {
                html: "<a href=x.whl>\n  x.whl\n</a>",
                entry: plain("x.whl"),
                warning: None,
            },
            Case {
                html: "<a href=x.whl>x.whl",
                entry: plain("x.whl"),
                warning: None,
            },
            Case {
                html: upper,
                entry: hashed("x.whl"),
                warning: None,
            },
            Case {
                html: "<a href=\"dace-1.0%2Blocal-py3-none-any.whl\">dace-1.0+local-py3-none-any.whl</a>",
                entry: plain("dace-1.0+local-py3-none-any.whl"),
                warning: None,
            },
            Case {
                html: "<a href=dace-43%212026.2.3.tar.gz>dace-43!2026.2.3.tar.gz</a>",
                entry: plain("dace-43!2026.2.3.tar.gz"),
                warning: None,
            },
            Case {
                html: "<a href=x.whl data-requires-python=&gt;=3.9,&lt;4>x.whl</a>",
                entry: with(|e| e.requires_python = Some(">=3.9,<4".to_string())),
                warning: None,
            },
            Case {
                html: "<a href=x.whl data-yanked>x.whl</a>",
                entry: with(|e| e.yanked = Some(String::new())),
                warning: None,
            },
            Case {
                html: "<a href=x.whl data-yanked=\"use 2.0 &quot;instead&quot;\">x.whl</a>",
                entry: with(|e| e.yanked = Some("use 2.0 \"instead\"".to_string())),
                warning: None,
            },
            Case {
                html: "<a href=x.whl data-dist-info-metadata=true data-core-metadata=TRUE>x.whl</a>",
                entry: plain("x.whl"),
                warning: None,
            },
            Case {
                html: concat!(
                    "<a href=x.whl data-dist-info-metadata=sha256=",
                    "0fc94ef1dfb8078ffdc0943b5a06dbb5ae63a335235ba5e9ce6571f935e96f66>x.whl</a>"
                ),
                entry: with(|e| e.metadata_sha256 = Some(HEX_A.to_string())),
                warning: None,
            },
            Case {
                html: concat!(
                    "<a href=x.whl data-core-metadata=sha256=",
                    "0fc94ef1dfb8078ffdc0943b5a06dbb5ae63a335235ba5e9ce6571f935e96f66 ",
                    "data-dist-info-metadata=sha256=",
                    "c72988e173bc07d59410fb32e7add2dbca498833e9e369fdff94e1971c5a6df5>x.whl</a>"
                ),
                entry: with(|e| e.metadata_sha256 = Some(HEX_A.to_string())),
                warning: Some("hashes differ"),
            },
            Case {
                html: "<a href=x.whl data-core-metadata=md5=abc>x.whl</a>",
                entry: plain("x.whl"),
                warning: Some("data-core-metadata value `md5=abc`"),
            },
            Case {
                html: "<a href=x.whl#md5=abc>x.whl</a>",
                entry: plain("x.whl"),
                warning: Some("`md5` hash is dropped"),
            },
            Case {
                html: "<a href=x.whl#egg>x.whl</a>",
                entry: plain("x.whl"),
                warning: Some("fragment `egg` is not a hash"),
            },
            Case {
                html: "<a href=x.whl>something else</a>",
                entry: plain("x.whl"),
                warning: Some("text `something else` is not the file's name"),
            },
            Case {
                html: "<a href=x.whl#sha256=abc>x.whl</a>",
                entry: None,
                warning: Some("not 64 hex digits"),
            },
            Case {
                html: "<a href=https://example.com/x.whl>x.whl</a>",
                entry: None,
                warning: Some("absolute URL"),
            },
            Case {
                html: "<a href=//example.com/x.whl>x.whl</a>",
                entry: None,
                warning: Some("absolute URL"),
            },
            Case {
                html: "<a href=/dace/x.whl>x.whl</a>",
                entry: None,
                warning: Some("absolute URL"),
            },
            Case {
                html: "<a href=../x.whl>x.whl</a>",
                entry: None,
                warning: Some("not a plain file name"),
            },
            Case {
                html: "<a href=sub/x.whl>x.whl</a>",
                entry: None,
                warning: Some("not a plain file name"),
            },
            Case {
                html: "<a href=sub%2Fx.whl>x.whl</a>",
                entry: None,
                warning: Some("not a plain file name"),
            },
            Case {
                html: "<a href=sub%5Cx.whl>x.whl</a>",
                entry: None,
                warning: Some("not a plain file name"),
            },
            Case {
                html: "<a href=..>x.whl</a>",
                entry: None,
                warning: Some("not a plain file name"),
            },
            Case {
                html: "<a href=%2E%2E>x.whl</a>",
                entry: None,
                warning: Some("not a plain file name"),
            },
            Case {
                html: "<a href=x%00.whl>x.whl</a>",
                entry: None,
                warning: Some("not a plain file name"),
            },
            Case {
                html: "<a href=\"\">x.whl</a>",
                entry: None,
                warning: Some("not a plain file name"),
            },
            Case {
                html: "<a href=#sha256=abc>x.whl</a>",
                entry: None,
                warning: Some("not a plain file name"),
            },
            Case {
                html: "<a href=x%FF.whl>x.whl</a>",
                entry: None,
                warning: Some("not valid UTF-8"),
            },
            Case {
                html: "<a href=x.whl?raw=1>x.whl</a>",
                entry: None,
                warning: Some("query string"),
            },
            Case {
                html: "<a name=top>x.whl</a>",
                entry: None,
                warning: Some("no href"),
            },
        ];
        for Case {
            html,
            entry,
            warning,
        } in cases
        {
            let parsed = parse(html);
            let entries: Vec<FileEntry> = parsed.page.entries().cloned().collect();
            assert_eq!(entries, entry.into_iter().collect::<Vec<_>>(), "{html}");
            match warning {
                None => assert_eq!(parsed.warnings, Vec::<String>::new(), "{html}"),
                Some(piece) => {
                    assert_eq!(parsed.warnings.len(), 1, "{html}: {:?}", parsed.warnings);
                    assert!(parsed.warnings[0].starts_with("line 1: link to "), "{html}");
                    assert!(
                        parsed.warnings[0].contains(piece),
                        "{html}: {:?} lacks {piece:?}",
                        parsed.warnings
                    );
                }
            }
        }
    }

    #[test]
    fn a_file_listed_twice_keeps_its_first_listing_and_warns() {
        let html = format!(
            "<a href=x.whl#sha256={HEX_A}>x.whl</a>\n\
             <a href=x.whl#sha256={HEX_A}>x.whl</a>\n\
             <a href=x.whl#sha256={HEX_B}>x.whl</a>\n"
        );
        let parsed = parse(&html);
        assert_eq!(
            parsed.page.entries().collect::<Vec<_>>(),
            [&FileEntry::new("x.whl", Some(HEX_A.to_string()))]
        );
        assert_eq!(
            parsed.warnings,
            [
                "line 2: link to `x.whl#sha256=0fc94ef1dfb8078ffdc0943b5a06dbb5ae63a335235ba5e9ce6571f935e96f66`: \
                 `x.whl` is listed again; the listing on line 1 is kept",
                "line 3: link to `x.whl#sha256=c72988e173bc07d59410fb32e7add2dbca498833e9e369fdff94e1971c5a6df5`: \
                 `x.whl` is listed again with different details; the listing on line 1 is kept",
            ]
        );
    }

    #[test]
    fn a_page_that_is_not_utf8_is_an_error_that_says_what_to_do() {
        let err = ProjectPage::parse(dace(), b"<a href=x.whl>\xc3\x28</a>").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("project page of `dace`"), "{message}");
        assert!(message.contains("offset 14"), "{message}");
        assert!(message.contains("gt4py-publish regenerate"), "{message}");
    }

    #[test]
    fn never_panics_on_junk() {
        let mut rng = fastrand::Rng::with_seed(7);
        let pieces = [
            "<a",
            "<A ",
            "href=",
            "HREF",
            "\"",
            "'",
            "#",
            "sha256=",
            "%",
            "%2",
            "%FF",
            "/",
            "..",
            ">",
            "</a>",
            "</br>",
            "&gt;",
            "&#0;",
            "&",
            "data-yanked",
            "data-core-metadata=",
            "true",
            "é",
            "\u{feff}",
            "\0",
            "<!--",
            "-->",
            "<script>",
            "<title>",
            " ",
            "\n",
            "x.whl",
            "\r",
        ];
        for _ in 0..2_000 {
            let mut html = String::new();
            for _ in 0..rng.usize(0..40) {
                html.push_str(pieces[rng.usize(0..pieces.len())]);
            }
            let parsed = parse(&html);
            // Whatever was adopted survives a rewrite.
            assert_eq!(parse(&parsed.page.render()).page, parsed.page, "{html:?}");
        }
    }

    /// Whether `url` is a release download link ending in `filename`.
    fn is_release_url(url: &str, filename: &str) -> bool {
        release_url_filename(url).is_some_and(|name| name == filename)
    }

    /// A random but valid entry: plain filename (often a real dist name, so versions sort),
    /// digests, and free text full of characters that need escaping.
    fn random_entry(rng: &mut fastrand::Rng) -> FileEntry {
        const TEXT: &[char] = &[
            'a', 'Z', '0', ' ', '<', '>', '=', '!', ',', '.', '*', '"', '\'', '&', ';', '#', '%',
            '/', '\\', '?', '+', 'é', '€', '\t', '\n',
        ];
        const NAME: &[char] = &[
            'a', 'Z', '0', '-', '_', '.', '!', '+', '~', ' ', '#', '?', '%', '&', '<', '>', '"',
            '\'', ':', ';', '=', 'é', '€', '😀',
        ];
        let text = |rng: &mut fastrand::Rng, alphabet: &[char], len: usize| -> String {
            (0..len)
                .map(|_| alphabet[rng.usize(0..alphabet.len())])
                .collect()
        };
        let hex = |rng: &mut fastrand::Rng| -> String {
            (0..64)
                .map(|_| char::from(b"0123456789abcdef"[rng.usize(0..16)]))
                .collect()
        };
        let filename = if rng.bool() {
            let mut version = String::new();
            if rng.u8(0..4) == 0 {
                version.push_str(&format!("{}!", rng.u8(0..50)));
            }
            version.push_str(&format!("{}.{}", rng.u16(0..3000), rng.u8(0..20)));
            match rng.u8(0..6) {
                0 => version.push_str(&format!("rc{}", rng.u8(0..3))),
                1 => version.push_str(&format!(".post{}", rng.u8(0..3))),
                2 => version.push_str(&format!(".dev{}", rng.u8(0..3))),
                3 => version.push_str(&format!("+local.{}", rng.u8(0..3))),
                _ => {}
            }
            match rng.u8(0..3) {
                0 => format!("dace-{version}.tar.gz"),
                1 => format!("dace-{version}.zip"),
                _ => format!("dace-{version}-py3-none-any.whl"),
            }
        } else {
            let len = rng.usize(1..20);
            let name = text(rng, NAME, len);
            if name == "." || name == ".." {
                "dots".to_string()
            } else {
                name
            }
        };
        let len = rng.usize(0..30);
        // Some entries are release assets; their URL ends in the encoded filename.
        let url = (rng.u8(..4) == 0 && is_plain_filename(&filename)).then(|| {
            format!(
                "https://github.com/GridTools/pypi/releases/download/gt4py-publish-files/{}",
                html::encode_href_path(&filename)
            )
        });
        FileEntry {
            url: url.filter(|u| is_release_url(u, &filename)),
            filename,
            sha256: rng.bool().then(|| hex(rng)),
            requires_python: rng.bool().then(|| text(rng, TEXT, len)),
            metadata_sha256: rng.bool().then(|| hex(rng)),
            yanked: rng.bool().then(|| text(rng, TEXT, len)),
        }
    }

    #[test]
    fn release_assets_are_linked_by_their_download_url() {
        let name = "ghex-0.5-cp312-cp312-manylinux_2_28_x86_64.whl";
        let url = format!("https://github.com/GridTools/pypi/releases/download/files/{name}");
        assert!(is_release_url(&url, name));
        let mut entry = FileEntry::new(name, Some(HEX_A.to_string()));
        entry.url = Some(url.clone());
        entry.metadata_sha256 = Some(HEX_B.to_string());
        let mut page = ProjectPage::new(ProjectName::new("ghex").unwrap());
        page.upsert(entry.clone());
        let html = page.render();
        assert!(
            html.contains(&format!("<a href=\"{url}#sha256={HEX_A}\"")),
            "{html}"
        );
        let parsed =
            ProjectPage::parse(ProjectName::new("ghex").unwrap(), html.as_bytes()).unwrap();
        assert_eq!(parsed.warnings, Vec::<String>::new());
        assert_eq!(parsed.page.get(name), Some(&entry));
        // Encoded characters in the last segment decode to the filename (pip does the same).
        assert!(is_release_url(
            "http://127.0.0.1:1/download/o/r/releases/download/t/x-1.0%2Blocal-py3-none-any.whl",
            "x-1.0+local-py3-none-any.whl"
        ));
        for (bad, why) in [
            (
                "https://github.com/o/r/releases/download/t/other.whl",
                "another file",
            ),
            (
                "https://github.com/o/r/blob/main/x.whl",
                "not a release download",
            ),
            (
                "ftp://github.com/o/r/releases/download/t/x.whl",
                "not http(s)",
            ),
            (
                "https://u:p@github.com/o/r/releases/download/t/x.whl",
                "credentials",
            ),
            (
                "https://github.com/o/r/releases/download/t/x.whl?x=1",
                "a query",
            ),
            ("https:///releases/download/t/x.whl", "no host"),
            (
                "https://github.com/o/r/releases/download/t/x.whl\"onclick",
                "a quote",
            ),
        ] {
            assert!(
                !is_release_url(bad, "x.whl") || bad.contains("other"),
                "{bad}: {why}"
            );
        }
        assert!(!is_release_url(
            "https://github.com/o/r/releases/download/t/other.whl",
            "x.whl"
        ));
        // Any other absolute link is still refused.
        let foreign =
            "<a href=\"https://example.com/x.whl#sha256=".to_string() + HEX_A + "\">x.whl</a>";
        let parsed =
            ProjectPage::parse(ProjectName::new("x").unwrap(), foreign.as_bytes()).unwrap();
        assert!(parsed.page.is_empty());
        assert!(!parsed.warnings.is_empty());
    }

    #[test]
    fn parse_after_render_gives_the_same_page() {
        let mut rng = fastrand::Rng::with_seed(42);
        for round in 0..300 {
            let mut page = ProjectPage::new(dace());
            for _ in 0..rng.usize(0..25) {
                let entry = random_entry(&mut rng);
                assert!(is_plain_filename(&entry.filename), "{entry:?}");
                page.upsert(entry);
            }
            let html = page.render();
            let parsed = parse(&html);
            assert_eq!(
                parsed.warnings,
                Vec::<String>::new(),
                "round {round}:\n{html}"
            );
            assert_eq!(parsed.page, page, "round {round}:\n{html}");
            assert_eq!(parsed.page.render(), html, "round {round}");
        }
    }

    #[test]
    fn handles_a_page_with_ten_thousand_files() {
        let mut page = ProjectPage::new(dace());
        for i in 0..10_000u32 {
            page.upsert(FileEntry {
                filename: format!(
                    "dace-{}.{}.{}-py3-none-any.whl",
                    i / 1000,
                    i / 10 % 100,
                    i % 10
                ),
                sha256: Some(crate::hashing::sha256_hex(&i.to_le_bytes())),
                requires_python: Some(">=3.9".to_string()),
                metadata_sha256: Some(crate::hashing::sha256_hex(&i.to_be_bytes())),
                yanked: (i % 100 == 0).then(String::new),
                url: None,
            });
        }
        let started = std::time::Instant::now();
        let html = page.render();
        let parsed = parse(&html);
        let elapsed = started.elapsed();
        assert_eq!(parsed.page.len(), 10_000);
        assert!(parsed.warnings.is_empty());
        assert_eq!(parsed.page, page);
        assert_eq!(
            page.entries().next().map(|e| e.filename.as_str()),
            Some("dace-9.99.9-py3-none-any.whl")
        );
        // Generous: a regression to quadratic work would take minutes, not seconds.
        assert!(elapsed.as_secs() < 20, "render + parse took {elapsed:?}");
    }
}
