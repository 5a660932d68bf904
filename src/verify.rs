//! `verify`: checks that the index is whole — every listed file exists with the listed hash,
//! every `.metadata` file matches its hash, every distribution in a project folder is listed,
//! and the root page lists exactly the projects that have pages.

use std::collections::BTreeSet;
use std::fmt;

use crate::filename::DistFilename;
use crate::hashing::{hex, sha256_hex, sha256_reader};
use crate::name::ProjectName;
use crate::publish::PublishError;
use crate::report::{Event, Reporter};
use crate::state::{self, PAGE, project_path};
use crate::target::{Target, TargetError};

/// One thing wrong with the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The page lists a file that is not there.
    MissingFile,
    /// The file's sha256 is not the one the page lists.
    HashMismatch { listed: String, actual: String },
    /// The page lists no hash for the file (pip cannot check it).
    NoHash,
    /// The page announces a `.metadata` file that is not there.
    MissingMetadata,
    /// The `.metadata` file's sha256 is not the one the page lists.
    MetadataHashMismatch { listed: String, actual: String },
    /// A distribution in the project folder that the page does not list.
    Unlisted,
    /// A project page the root page does not link.
    NotInRoot,
    /// A root page link to a project without a page.
    NoProjectPage,
    /// The index has no root page (pip finds nothing).
    NoRootPage,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        match &self.kind {
            ProblemKind::MissingFile => write!(f, "{path}: listed on the page but missing"),
            ProblemKind::HashMismatch { listed, actual } => {
                write!(f, "{path}: sha256 is {actual}, the page lists {listed}")
            }
            ProblemKind::NoHash => write!(f, "{path}: the page lists no sha256 for it"),
            ProblemKind::MissingMetadata => {
                write!(
                    f,
                    "{path}: the page announces this .metadata file but it is missing"
                )
            }
            ProblemKind::MetadataHashMismatch { listed, actual } => {
                write!(f, "{path}: sha256 is {actual}, the page lists {listed}")
            }
            ProblemKind::Unlisted => write!(f, "{path}: in the project folder but not on its page"),
            ProblemKind::NotInRoot => write!(f, "{path}: the root page does not link this project"),
            ProblemKind::NoRootPage => write!(f, "{path}: missing; pip cannot find any project"),
            ProblemKind::NoProjectPage => {
                write!(
                    f,
                    "{path}: the root page links this project but it has no page"
                )
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub problems: Vec<Problem>,
    /// Distribution files hashed.
    pub files_checked: usize,
    pub projects: usize,
}

/// Checks the whole index. Every listed file is read and hashed (downloaded from GitHub).
pub fn verify(target: &dyn Target, reporter: &dyn Reporter) -> Result<VerifyReport, PublishError> {
    let location = target.location();
    let read_error = |source| PublishError::Read {
        location: location.clone(),
        source,
    };
    let root = state::read_root(target, reporter).map_err(read_error)?;
    if !root.exists {
        return Err(PublishError::NoIndex { location });
    }
    let mut report = VerifyReport::default();
    if root.stored.is_none() {
        report.problems.push(Problem {
            path: PAGE.to_string(),
            kind: ProblemKind::NoRootPage,
        });
    }
    let mut projects: BTreeSet<ProjectName> = root.page.projects().cloned().collect();
    for folder in &root.folders {
        if let Ok(name) = ProjectName::new(folder)
            && name.as_str() == folder
        {
            projects.insert(name);
        }
    }
    // Listed once, when the first asset-backed entry needs it.
    let mut assets: Option<Vec<crate::target::StoredAsset>> = None;
    for project in &projects {
        let project_state =
            state::read_project(target, project, &[], reporter).map_err(read_error)?;
        let page_path = project_path(project, PAGE);
        if project_state.stored_page.is_none() {
            if root.page.contains(project) {
                report.problems.push(Problem {
                    path: page_path,
                    kind: ProblemKind::NoProjectPage,
                });
            }
            continue;
        }
        report.projects += 1;
        // An emptied project keeps an empty page (see `maintain::plan_remove`) and leaves the
        // root: that is the intended state, not damage.
        if !root.page.contains(project) && !project_state.page.is_empty() {
            report.problems.push(Problem {
                path: page_path.clone(),
                kind: ProblemKind::NotInRoot,
            });
        }
        for entry in project_state.page.entries() {
            let path = project_path(project, &entry.filename);
            if entry.url.is_some() {
                let assets = match &assets {
                    Some(listed) => listed,
                    None => assets.insert(list_assets(target)?),
                };
                check_asset_entry(entry, &path, assets, &mut report);
                continue;
            }
            reporter.event(Event::Step(&format!("checking {path}")));
            let Some(actual) =
                sha256_of(target, &path, reporter).map_err(|source| PublishError::Read {
                    location: location.clone(),
                    source: source.into(),
                })?
            else {
                report.problems.push(Problem {
                    path,
                    kind: ProblemKind::MissingFile,
                });
                continue;
            };
            report.files_checked += 1;
            match &entry.sha256 {
                None => report.problems.push(Problem {
                    path: path.clone(),
                    kind: ProblemKind::NoHash,
                }),
                Some(listed) if !listed.eq_ignore_ascii_case(&actual) => {
                    report.problems.push(Problem {
                        path: path.clone(),
                        kind: ProblemKind::HashMismatch {
                            listed: listed.clone(),
                            actual,
                        },
                    })
                }
                Some(_) => {}
            }
            if let Some(listed) = &entry.metadata_sha256 {
                let metadata_path = format!("{path}.metadata");
                match target
                    .read_file(&metadata_path)
                    .map_err(|source| PublishError::Read {
                        location: location.clone(),
                        source: source.into(),
                    })? {
                    None => report.problems.push(Problem {
                        path: metadata_path,
                        kind: ProblemKind::MissingMetadata,
                    }),
                    Some(stored) => {
                        let actual = sha256_hex(&stored.bytes);
                        if !listed.eq_ignore_ascii_case(&actual) {
                            report.problems.push(Problem {
                                path: metadata_path,
                                kind: ProblemKind::MetadataHashMismatch {
                                    listed: listed.clone(),
                                    actual,
                                },
                            });
                        }
                    }
                }
            }
        }
        for (name, entry) in &project_state.files {
            if entry.is_dir || project_state.page.get(name).is_some() {
                continue;
            }
            let is_dist = DistFilename::parse(name).is_ok_and(|f| f.project() == project);
            if is_dist {
                report.problems.push(Problem {
                    path: project_path(project, name),
                    kind: ProblemKind::Unlisted,
                });
            }
        }
    }
    Ok(report)
}

/// Streams a stored file through sha256; `None` when it does not exist.
pub fn sha256_of(
    target: &dyn Target,
    path: &str,
    reporter: &dyn Reporter,
) -> Result<Option<String>, TargetError> {
    let Some(mut reader) = target.open_file(path)? else {
        return Ok(None);
    };
    reporter.event(Event::Detail(&format!("hashing {path}")));
    let (digest, _) = sha256_reader(&mut reader).map_err(|source| TargetError::Io {
        action: "read",
        path: path.into(),
        source,
    })?;
    Ok(Some(hex(&digest)))
}

fn list_assets(target: &dyn Target) -> Result<Vec<crate::target::StoredAsset>, PublishError> {
    match target.assets() {
        Some(store) => store
            .list_assets()
            .map_err(|source| PublishError::read(target, source)),
        None => Ok(Vec::new()),
    }
}

/// An entry whose file is a release asset: the asset and its `.metadata` asset must be there
/// with the page's hashes. GitHub reports each asset's sha256, so nothing is downloaded.
fn check_asset_entry(
    entry: &crate::index::FileEntry,
    path: &str,
    assets: &[crate::target::StoredAsset],
    report: &mut VerifyReport,
) {
    let find = |name: &str| assets.iter().find(|a| a.name == name);
    let Some(asset) = find(&entry.filename) else {
        report.problems.push(Problem {
            path: path.to_string(),
            kind: ProblemKind::MissingFile,
        });
        return;
    };
    report.files_checked += 1;
    match (&entry.sha256, &asset.sha256) {
        (None, _) => report.problems.push(Problem {
            path: path.to_string(),
            kind: ProblemKind::NoHash,
        }),
        (Some(listed), Some(actual)) if !listed.eq_ignore_ascii_case(actual) => {
            report.problems.push(Problem {
                path: path.to_string(),
                kind: ProblemKind::HashMismatch {
                    listed: listed.clone(),
                    actual: actual.clone(),
                },
            })
        }
        _ => {}
    }
    if let Some(listed) = &entry.metadata_sha256 {
        let metadata_path = format!("{path}.metadata");
        match find(&format!("{}.metadata", entry.filename)) {
            None => report.problems.push(Problem {
                path: metadata_path,
                kind: ProblemKind::MissingMetadata,
            }),
            Some(metadata) => {
                if let Some(actual) = &metadata.sha256
                    && !listed.eq_ignore_ascii_case(actual)
                {
                    report.problems.push(Problem {
                        path: metadata_path,
                        kind: ProblemKind::MetadataHashMismatch {
                            listed: listed.clone(),
                            actual: actual.clone(),
                        },
                    });
                }
            }
        }
    }
}
