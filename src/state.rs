//! Reading what an index holds now: the root page, and for each project its page and folder
//! listing. The pages are the state (hashes of existing files come from them, not from
//! re-hashing); listings tell which files really exist.

use std::collections::BTreeMap;

use crate::index::{ProjectPage, RootPage};
use crate::name::ProjectName;
use crate::report::{Event, Reporter};
use crate::target::{BlobSha, DirEntry, Target, TargetError, Version};

pub const PAGE: &str = "index.html";
pub const NOJEKYLL: &str = ".nojekyll";

/// The root of the index.
#[derive(Debug, Clone)]
pub struct RootState {
    pub page: RootPage,
    /// What identifies `index.html` as stored, and its bytes, `None` when there is none yet.
    pub stored: Option<(Version, Vec<u8>)>,
    pub has_nojekyll: bool,
    /// Whether the index exists at all (a missing folder or empty repository reads as empty).
    pub exists: bool,
    /// Top-level folders, so a project folder without a root entry is noticed.
    pub folders: Vec<String>,
}

/// One project folder.
#[derive(Debug, Clone)]
pub struct ProjectState {
    pub page: ProjectPage,
    pub stored_page: Option<(Version, Vec<u8>)>,
    /// The folder's files by name.
    pub files: BTreeMap<String, DirEntry>,
    /// Blob shas of the files this run asked about (the ones it wants to write).
    pub shas: BTreeMap<String, BlobSha>,
}

impl ProjectState {
    /// The blob sha of a file of this folder, if it exists and this run asked for it.
    pub fn sha_of(&self, name: &str) -> Option<&BlobSha> {
        self.shas.get(name)
    }

    pub fn has_file(&self, name: &str) -> bool {
        self.files.get(name).is_some_and(|e| !e.is_dir)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(
        "the page `{path}` cannot be read; fix it or rebuild it with `gt4py-publish regenerate`"
    )]
    Page {
        path: String,
        #[source]
        source: crate::index::PageError,
    },
}

/// Path of a file inside a project folder.
pub fn project_path(project: &ProjectName, file: &str) -> String {
    format!("{project}/{file}")
}

pub fn read_root(target: &dyn Target, reporter: &dyn Reporter) -> Result<RootState, StateError> {
    reporter.event(Event::Detail("reading the root of the index"));
    let listing = target.list_dir("")?;
    let exists = listing.is_some();
    let listing = listing.unwrap_or_default();
    let has_nojekyll = listing.iter().any(|e| e.name == NOJEKYLL && !e.is_dir);
    let folders = listing
        .iter()
        .filter(|e| e.is_dir && !e.name.starts_with('.'))
        .map(|e| e.name.clone())
        .collect();
    let stored = if listing.iter().any(|e| e.name == PAGE && !e.is_dir) {
        target.read_file(PAGE)?.map(|f| (f.version, f.bytes))
    } else {
        None
    };
    let page = match &stored {
        Some((_, bytes)) => {
            let parsed = RootPage::parse(bytes).map_err(|source| StateError::Page {
                path: PAGE.to_string(),
                source,
            })?;
            for warning in &parsed.warnings {
                reporter.event(Event::Warning(&format!("{PAGE}: {warning}")));
            }
            parsed.page
        }
        None => RootPage::default(),
    };
    Ok(RootState {
        page,
        stored,
        has_nojekyll,
        exists,
        folders,
    })
}

/// Reads a project's page and listing; `wanted` names the files whose blob shas the caller
/// needs (only those are hashed on a local target). Every entry is parsed and checked against
/// the listing: what `verify`, `regenerate` and `list` need.
pub fn read_project(
    target: &dyn Target,
    project: &ProjectName,
    wanted: &[String],
    reporter: &dyn Reporter,
) -> Result<ProjectState, StateError> {
    reporter.event(Event::Detail(&format!("reading project `{project}`")));
    let files: BTreeMap<String, DirEntry> = target
        .list_dir(project.as_str())?
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect();
    let state = read_page_and_shas(target, project, files, wanted, ProjectPage::parse, reporter)?;
    warn_missing(project, &state.page, &state.files, reporter);
    Ok(state)
}

/// Reads what a change to a project needs, and no more: its page (kept as its lines when it is
/// ours, see [`ProjectPage::parse_for_update`]) and, of its folder, only the page and the
/// `wanted` files, so publishing into a folder of thousands of files neither lists it nor
/// parses every entry. `files` holds only those. A page that is not ours is read in full and
/// checked against the listing, as [`read_project`] does.
pub fn read_project_for_update(
    target: &dyn Target,
    project: &ProjectName,
    wanted: &[String],
    reporter: &dyn Reporter,
) -> Result<ProjectState, StateError> {
    reporter.event(Event::Detail(&format!("reading project `{project}`")));
    let mut names = Vec::with_capacity(wanted.len() + 1);
    names.push(PAGE.to_string());
    names.extend(wanted.iter().cloned());
    let files = target
        .dir_entries(project.as_str(), &names)?
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect();
    let state = read_page_and_shas(
        target,
        project,
        files,
        wanted,
        ProjectPage::parse_for_update,
        reporter,
    )?;
    if state.page.kept_as_lines() {
        return Ok(state);
    }
    // A page not in our layout (the legacy generator's, one edited by hand) is read in full and
    // rewritten by this run: worth one listing to say which of its entries have no file.
    let listed: BTreeMap<String, DirEntry> = target
        .list_dir(project.as_str())?
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect();
    warn_missing(project, &state.page, &listed, reporter);
    Ok(state)
}

fn warn_missing(
    project: &ProjectName,
    page: &ProjectPage,
    files: &BTreeMap<String, DirEntry>,
    reporter: &dyn Reporter,
) {
    let page_path = project_path(project, PAGE);
    for entry in page.entries() {
        if files.get(&entry.filename).is_none_or(|e| e.is_dir) {
            reporter.event(Event::Warning(&format!(
                "{page_path} lists `{}` but the file is missing from the index; \
                 publish it again or remove the entry with `gt4py-publish remove`",
                entry.filename
            )));
        }
    }
}

type PageParser =
    fn(ProjectName, &[u8]) -> Result<crate::index::ParsedPage, crate::index::PageError>;

fn read_page_and_shas(
    target: &dyn Target,
    project: &ProjectName,
    files: BTreeMap<String, DirEntry>,
    wanted: &[String],
    parse: PageParser,
    reporter: &dyn Reporter,
) -> Result<ProjectState, StateError> {
    let page_path = project_path(project, PAGE);
    let stored_page = if files.get(PAGE).is_some_and(|e| !e.is_dir) {
        target.read_file(&page_path)?.map(|f| (f.version, f.bytes))
    } else {
        None
    };
    let page = match &stored_page {
        Some((_, bytes)) => {
            let parsed = parse(project.clone(), bytes).map_err(|source| StateError::Page {
                path: page_path.clone(),
                source,
            })?;
            for warning in &parsed.warnings {
                reporter.event(Event::Warning(&format!("{page_path}: {warning}")));
            }
            parsed.page
        }
        None => ProjectPage::new(project.clone()),
    };
    let mut shas = BTreeMap::new();
    for name in wanted {
        let Some(entry) = files.get(name).filter(|e| !e.is_dir) else {
            continue;
        };
        let sha = match &entry.sha {
            Some(sha) => Some(sha.clone()),
            None => target.file_sha(&project_path(project, name))?,
        };
        if let Some(sha) = sha {
            shas.insert(name.clone(), sha);
        }
    }
    Ok(ProjectState {
        page,
        stored_page,
        files,
        shas,
    })
}
