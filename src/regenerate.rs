//! `regenerate`: rebuilds every page from the files present (replacing the old `generator.py`).
//! Hashes already on a page are kept (only unknown files are hashed), yanks and Requires-Python
//! survive, a wheel without a `.metadata` file gets one, and entries whose file is gone are
//! dropped with a warning — so any folder of distributions can be adopted.
//!
//! Each attempt gathers facts from the snapshot (listings, pages, hashes of unknown files and
//! the METADATA of wheels without a `.metadata` file, on every core), then [`plan_regenerate`],
//! a pure function, turns them into one change set.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::change::{Change, ChangeSet, Content, Expected};
use crate::dist;
use crate::engine::{self, Planned, PublishError};
use crate::filename::{DistFilename, DistKind};
use crate::hashing::sha256_hex;
use crate::index::{FileEntry, ProjectPage};
use crate::metadata::CoreMetadata;
use crate::name::ProjectName;
use crate::plan::{nojekyll, project_page_change, root_page_change};
use crate::report::{Event, Reporter};
use crate::state::{self, PAGE, ProjectState, RootState, project_path};
use crate::target::{Target, TargetError};
use crate::verify::sha256_of;

/// What `regenerate` did: (path, message) per write.
pub type Changes = Vec<(String, String)>;

/// What the snapshot shows of one distribution file that its page does not already say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileFacts {
    /// sha256 of the file, when the page does not know it. `None`: the file vanished while it
    /// was being read, so it is not listed (a page never carries an empty hash).
    pub sha256: Option<String>,
    /// The METADATA of a wheel that has no `.metadata` file (`None`: not a valid wheel).
    pub extracted_metadata: Option<Vec<u8>>,
    /// The bytes of the existing `.metadata` file, when the page does not know its hash.
    pub stored_metadata: Option<Vec<u8>>,
}

/// One project folder as the planner sees it.
#[derive(Debug, Clone)]
pub struct ProjectFacts {
    pub state: ProjectState,
    /// Facts per filename, for the files that needed any.
    pub files: BTreeMap<String, FileFacts>,
}

/// What regenerating found: the change set, and what to warn about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegeneratePlan {
    pub changes: ChangeSet,
    pub warnings: Vec<String>,
}

/// Rebuilds every page from `projects` (the folders that are normalized project names).
pub fn plan_regenerate(root: &RootState, projects: &[ProjectFacts]) -> RegeneratePlan {
    let mut plan = RegeneratePlan {
        changes: ChangeSet::new("Regenerate the index pages"),
        warnings: Vec::new(),
    };
    if !root.has_nojekyll {
        plan.changes.push(nojekyll());
    }
    let mut metadata_writes = Vec::new();
    let mut pages = Vec::new();
    let mut root_page = root.page.clone();
    for facts in projects {
        let current = &facts.state;
        let project = current.page.project().clone();
        let mut page = ProjectPage::new(project.clone());
        for (name, entry) in &current.files {
            if entry.is_dir || name == PAGE {
                continue;
            }
            let Ok(filename) = DistFilename::parse(name) else {
                continue;
            };
            if filename.project() != &project {
                plan.warnings.push(format!(
                    "{}: belongs to project `{}`, not `{project}`; not listed",
                    project_path(&project, name),
                    filename.project()
                ));
                continue;
            }
            let known = current.page.get(name);
            let fact = facts.files.get(name);
            let sha256 = known
                .and_then(|e| e.sha256.clone())
                .or_else(|| fact.and_then(|f| f.sha256.clone()))
                .filter(|sha| crate::hashing::is_sha256_hex(sha));
            let Some(sha256) = sha256 else {
                plan.warnings.push(format!(
                    "{}: could not be hashed (it vanished while being read); not listed",
                    project_path(&project, name)
                ));
                continue;
            };
            let mut file_entry = FileEntry::new(name.clone(), Some(sha256));
            file_entry.yanked = known.and_then(|e| e.yanked.clone());
            file_entry.requires_python = known.and_then(|e| e.requires_python.clone());
            if filename.kind() == DistKind::Wheel {
                let metadata_name = format!("{name}.metadata");
                let metadata = if current.has_file(&metadata_name) {
                    match (known.and_then(|e| e.metadata_sha256.clone()), fact) {
                        (Some(sha), _) => Some((sha, None)),
                        (
                            None,
                            Some(FileFacts {
                                stored_metadata: Some(bytes),
                                ..
                            }),
                        ) => Some((sha256_hex(bytes), Some(bytes))),
                        _ => None,
                    }
                } else {
                    match fact.and_then(|f| f.extracted_metadata.as_ref()) {
                        Some(bytes) => {
                            metadata_writes.push(Change {
                                path: project_path(&project, &metadata_name),
                                content: Content::Bytes(bytes.clone()),
                                expected: Expected::Absent,
                                message: format!("Add core metadata of {name} (PEP 658)"),
                            });
                            Some((sha256_hex(bytes), Some(bytes)))
                        }
                        None => None,
                    }
                };
                if let Some((sha, bytes)) = metadata {
                    file_entry.metadata_sha256 = Some(sha);
                    if file_entry.requires_python.is_none()
                        && let Some(bytes) = bytes
                        && let Ok(parsed) = CoreMetadata::parse(bytes)
                    {
                        file_entry.requires_python = parsed.requires_python;
                    }
                }
            }
            page.upsert(file_entry);
        }
        for entry in current.page.entries() {
            // Release assets are not in the folder: their entries are kept as they are.
            if entry.url.is_some() {
                if page.get(&entry.filename).is_none() {
                    page.upsert(entry.clone());
                }
                continue;
            }
            if page.get(&entry.filename).is_none() && !current.has_file(&entry.filename) {
                plan.warnings.push(format!(
                    "{}: listed on the old page but not in the folder; dropped",
                    project_path(&project, &entry.filename)
                ));
            }
        }
        if page.is_empty() {
            root_page.remove(&project);
        } else {
            root_page.insert(project.clone());
        }
        // An emptied project keeps an empty page rather than losing it: a deleted page can be
        // brought back by a concurrent writer holding its old sha.
        let message = if page.is_empty() {
            format!("Regenerate the {project} page: no files left")
        } else {
            format!("Regenerate the {project} page")
        };
        pages.extend(project_page_change(current, &page, message));
    }
    // Files before the pages that list them, pages before the root page.
    plan.changes.changes.extend(metadata_writes);
    plan.changes.changes.extend(pages);
    plan.changes.changes.extend(root_page_change(
        root,
        &root_page,
        "Regenerate the root page",
    ));
    plan
}

pub fn regenerate(
    target: &dyn Target,
    dry_run: bool,
    reporter: &dyn Reporter,
) -> Result<Changes, PublishError> {
    crate::maintain::require_index(target)?;
    let _lock = if dry_run {
        None
    } else {
        Some(target.lock().map_err(|source| PublishError::Lock {
            location: target.location(),
            source,
        })?)
    };
    // Facts gathered in one attempt stay valid in the next (files never change in place).
    let mut cache: BTreeMap<String, FileFacts> = BTreeMap::new();
    let converged = engine::converge(target, reporter, dry_run, |_| {
        let root = state::read_root(target, reporter).map_err(|e| PublishError::read(target, e))?;
        let mut projects = Vec::new();
        for folder in &root.folders {
            let Ok(project) = ProjectName::new(folder) else {
                reporter.event(Event::Warning(&format!(
                    "`{folder}/` is not a project folder (not a valid project name); left alone"
                )));
                continue;
            };
            if project.as_str() != folder {
                reporter.event(Event::Warning(&format!(
                    "`{folder}/` is not a normalized project name (pip looks for `{project}/`); \
                     left alone: move its files to `{project}/` and run regenerate again"
                )));
                continue;
            }
            let state = state::read_project(target, &project, &[], reporter)
                .map_err(|e| PublishError::read(target, e))?;
            let files = gather(target, &state, &mut cache, reporter)?;
            projects.push(ProjectFacts { state, files });
        }
        let plan = plan_regenerate(&root, &projects);
        for warning in &plan.warnings {
            reporter.event(Event::Warning(warning));
        }
        Ok(Planned {
            changes: plan.changes,
            value: (),
        })
    })?;
    Ok(if dry_run {
        converged.changes.listing()
    } else {
        converged.done
    })
}

/// One piece of work for the gathering threads.
enum Task {
    /// Hash a file (and, for a wheel without `.metadata`, take its METADATA in the same read).
    Inspect {
        name: String,
        needs_hash: bool,
        wheel_needs_metadata: bool,
    },
    /// Read an existing `.metadata` file whose hash the page does not know.
    ReadMetadata { name: String },
}

/// The facts `plan_regenerate` needs that the page does not have, computed on every core.
fn gather(
    target: &dyn Target,
    state: &ProjectState,
    cache: &mut BTreeMap<String, FileFacts>,
    reporter: &dyn Reporter,
) -> Result<BTreeMap<String, FileFacts>, PublishError> {
    let project = state.page.project();
    let mut tasks = Vec::new();
    let mut facts = BTreeMap::new();
    for (name, entry) in &state.files {
        if entry.is_dir || name == PAGE {
            continue;
        }
        let Ok(filename) = DistFilename::parse(name) else {
            continue;
        };
        if filename.project() != project {
            continue;
        }
        let path = project_path(project, name);
        if let Some(cached) = cache.get(&path) {
            facts.insert(name.clone(), cached.clone());
            continue;
        }
        let known = state.page.get(name);
        let is_wheel = filename.kind() == DistKind::Wheel;
        let metadata_name = format!("{name}.metadata");
        let has_metadata = state.has_file(&metadata_name);
        let needs_hash = known.and_then(|e| e.sha256.as_ref()).is_none();
        let wheel_needs_metadata = is_wheel && !has_metadata;
        if needs_hash || wheel_needs_metadata {
            tasks.push(Task::Inspect {
                name: name.clone(),
                needs_hash,
                wheel_needs_metadata,
            });
        }
        if is_wheel && has_metadata && known.and_then(|e| e.metadata_sha256.as_ref()).is_none() {
            tasks.push(Task::ReadMetadata { name: name.clone() });
        }
    }
    if tasks.is_empty() {
        return Ok(facts);
    }
    reporter.event(Event::Step(&format!(
        "{project}: reading {} file(s) the page does not describe",
        tasks.len()
    )));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(String, Result<FileFacts, PublishError>)>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(tasks.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(task) = tasks.get(i) else { break };
                    let (name, result) = run_task(target, project, task, reporter);
                    if let Ok(mut results) = results.lock() {
                        results.push((name, result));
                    }
                }
            });
        }
    });
    let mut first_error = None;
    for (name, result) in results.into_inner().unwrap_or_default() {
        match result {
            Ok(found) => {
                let slot: &mut FileFacts = facts.entry(name).or_default();
                if found.sha256.is_some() {
                    slot.sha256 = found.sha256;
                }
                if found.extracted_metadata.is_some() {
                    slot.extracted_metadata = found.extracted_metadata;
                }
                if found.stored_metadata.is_some() {
                    slot.stored_metadata = found.stored_metadata;
                }
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    for (name, found) in &facts {
        // A vanished file is looked at again next attempt.
        if found.sha256.is_some() || found.extracted_metadata.is_some() {
            cache.insert(project_path(project, name), found.clone());
        }
    }
    Ok(facts)
}

fn run_task(
    target: &dyn Target,
    project: &ProjectName,
    task: &Task,
    reporter: &dyn Reporter,
) -> (String, Result<FileFacts, PublishError>) {
    match task {
        Task::ReadMetadata { name } => {
            let path = project_path(project, &format!("{name}.metadata"));
            let result = target
                .read_file(&path)
                .map(|file| FileFacts {
                    stored_metadata: file.map(|f| f.bytes),
                    ..FileFacts::default()
                })
                .map_err(|e| PublishError::read(target, e));
            (name.clone(), result)
        }
        Task::Inspect {
            name,
            needs_hash,
            wheel_needs_metadata,
        } => {
            let path = project_path(project, name);
            reporter.event(Event::Detail(&if *needs_hash {
                format!("hashing {path}")
            } else {
                format!("reading the METADATA of {path}")
            }));
            let result = if *wheel_needs_metadata {
                inspect_wheel(target, &path, reporter)
            } else {
                sha256_of(target, &path, reporter)
                    .map(|sha256| FileFacts {
                        sha256,
                        ..FileFacts::default()
                    })
                    .map_err(|e| PublishError::read(target, e))
            };
            (name.clone(), result)
        }
    }
}

/// A stored wheel's sha256 and METADATA ([`dist::read_stored_wheel`]). A local index is read
/// in place; a GitHub one is downloaded to a temporary file first.
fn inspect_wheel(
    target: &dyn Target,
    path: &str,
    reporter: &dyn Reporter,
) -> Result<FileFacts, PublishError> {
    let io_error = |source: io::Error| {
        PublishError::read(
            target,
            TargetError::Io {
                action: "copy",
                path: path.into(),
                source,
            },
        )
    };
    let validated = match target.local_path(path) {
        Some(local) if local.exists() => dist::read_stored_wheel(&local),
        Some(_) => return Ok(FileFacts::default()),
        None => {
            let Some(mut reader) = target
                .open_file(path)
                .map_err(|e| PublishError::read(target, e))?
            else {
                return Ok(FileFacts::default());
            };
            let name = path.rsplit('/').next().unwrap_or(path);
            let dir = temp_dir().map_err(io_error)?;
            let copy = dir.join(name);
            let copied =
                std::fs::File::create(&copy).and_then(|mut out| io::copy(&mut reader, &mut out));
            let result = copied.map(|_| dist::read_stored_wheel(&copy));
            // The copy goes whatever happened, so no download is left in the temp folder.
            let _ = std::fs::remove_dir_all(&dir);
            result.map_err(io_error)?
        }
    };
    match validated {
        Ok(wheel) => Ok(FileFacts {
            sha256: Some(wheel.sha256),
            extracted_metadata: Some(wheel.metadata_bytes),
            stored_metadata: None,
        }),
        Err(error) => {
            reporter.event(Event::Warning(&format!(
                "{path}: no .metadata file and its METADATA cannot be read, so none was made: {error}"
            )));
            // Still listed, with the hash of what is there.
            let sha256 =
                sha256_of(target, path, reporter).map_err(|e| PublishError::read(target, e))?;
            Ok(FileFacts {
                sha256,
                ..FileFacts::default()
            })
        }
    }
}

/// A private temporary folder (no extra crate for one folder).
fn temp_dir() -> io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "gt4py-publish-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::hashing::git_blob_sha;
    use crate::index::RootPage;
    use crate::target::{DirEntry, Version};

    const A: &str = "demo-1.0-py3-none-any.whl";
    const B: &str = "demo-2.0-py3-none-any.whl";
    const S: &str = "demo-2.0.tar.gz";

    fn sha(c: char) -> String {
        c.to_string().repeat(64)
    }

    fn folder(names: &[&str], page: ProjectPage) -> ProjectState {
        let files: BTreeMap<String, DirEntry> = names
            .iter()
            .map(|n| {
                (
                    n.to_string(),
                    DirEntry {
                        name: n.to_string(),
                        is_dir: false,
                        size: 1,
                        sha: None,
                    },
                )
            })
            .collect();
        let stored = (!page.is_empty()).then(|| {
            let bytes = page.render().into_bytes();
            (Version::Sha(git_blob_sha(&bytes)), bytes)
        });
        ProjectState {
            page,
            stored_page: stored,
            files,
            shas: BTreeMap::new(),
        }
    }

    fn root() -> RootState {
        RootState {
            page: RootPage::default(),
            stored: None,
            has_nojekyll: false,
            exists: true,
            folders: vec!["demo".into()],
        }
    }

    fn demo() -> ProjectName {
        ProjectName::new("demo").unwrap()
    }

    /// The project page the plan writes, parsed.
    fn written_page(plan: &RegeneratePlan) -> ProjectPage {
        let change = plan
            .changes
            .changes
            .iter()
            .find(|c| c.path == "demo/index.html")
            .unwrap();
        let Content::Bytes(page) = &change.content else {
            panic!("a page is bytes")
        };
        ProjectPage::parse(demo(), page).unwrap().page
    }

    fn paths(plan: &RegeneratePlan) -> Vec<&str> {
        plan.changes
            .changes
            .iter()
            .map(|c| c.path.as_str())
            .collect()
    }

    #[test]
    fn adopting_a_folder_writes_metadata_files_then_pages() {
        let state = folder(&[A, S], ProjectPage::new(demo()));
        let facts = BTreeMap::from([
            (
                A.to_string(),
                FileFacts {
                    sha256: Some(sha('a')),
                    extracted_metadata: Some(
                        b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Python: >=3.9\n"
                            .to_vec(),
                    ),
                    stored_metadata: None,
                },
            ),
            (
                S.to_string(),
                FileFacts {
                    sha256: Some(sha('c')),
                    ..FileFacts::default()
                },
            ),
        ]);
        let plan = plan_regenerate(
            &root(),
            &[ProjectFacts {
                state,
                files: facts,
            }],
        );
        assert_eq!(
            paths(&plan),
            [
                ".nojekyll",
                "demo/demo-1.0-py3-none-any.whl.metadata",
                "demo/index.html",
                "index.html"
            ]
        );
        let Content::Bytes(page) = &plan.changes.changes[2].content else {
            panic!("a page is bytes")
        };
        let page = ProjectPage::parse(demo(), page).unwrap().page;
        let a = page.get(A).unwrap();
        assert_eq!(a.sha256.as_deref(), Some(&*sha('a')));
        assert_eq!(a.requires_python.as_deref(), Some(">=3.9"));
        assert!(a.metadata_sha256.is_some());
        assert_eq!(page.get(S).unwrap().sha256.as_deref(), Some(&*sha('c')));
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn known_hashes_and_yanks_are_kept_and_a_second_run_plans_nothing() {
        let mut page = ProjectPage::new(demo());
        let mut entry = FileEntry::new(A, Some(sha('a')));
        entry.yanked = Some("broken".into());
        entry.metadata_sha256 = Some(sha('m'));
        page.upsert(entry.clone());
        let state = folder(&[A, &format!("{A}.metadata")], page);
        let mut root = root();
        root.has_nojekyll = true;
        root.page.insert(demo());
        let bytes = root.page.render().into_bytes();
        root.stored = Some((Version::Sha(git_blob_sha(&bytes)), bytes));
        // No facts: the page already knows everything.
        let plan = plan_regenerate(
            &root,
            &[ProjectFacts {
                state,
                files: BTreeMap::new(),
            }],
        );
        assert!(plan.changes.is_empty(), "{:?}", paths(&plan));
    }

    #[test]
    fn a_file_that_vanished_while_hashed_is_not_listed_with_an_empty_hash() {
        let state = folder(&[A, B], ProjectPage::new(demo()));
        let facts = BTreeMap::from([
            (
                A.to_string(),
                FileFacts {
                    sha256: Some(sha('a')),
                    ..FileFacts::default()
                },
            ),
            // B vanished: no hash came back (or a garbage one).
            (
                B.to_string(),
                FileFacts {
                    sha256: Some(String::new()),
                    ..FileFacts::default()
                },
            ),
        ]);
        let plan = plan_regenerate(
            &root(),
            &[ProjectFacts {
                state,
                files: facts,
            }],
        );
        let page = written_page(&plan);
        assert!(page.get(B).is_none());
        assert!(page.entries().all(|e| {
            e.sha256
                .as_deref()
                .is_some_and(crate::hashing::is_sha256_hex)
        }));
        assert!(
            plan.warnings.iter().any(|w| w.contains(B)),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn entries_whose_file_is_gone_are_dropped_but_release_assets_are_kept() {
        let mut page = ProjectPage::new(demo());
        page.upsert(FileEntry::new(A, Some(sha('a'))));
        let mut asset = FileEntry::new(B, Some(sha('b')));
        asset.url = Some(format!("https://github.com/o/r/releases/download/t/{B}"));
        page.upsert(asset.clone());
        // Neither file is in the folder; B is a release asset.
        let state = folder(&[], page);
        let plan = plan_regenerate(
            &root(),
            &[ProjectFacts {
                state,
                files: BTreeMap::new(),
            }],
        );
        let page = written_page(&plan);
        assert!(page.get(A).is_none());
        assert_eq!(page.get(B), Some(&asset));
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains(A) && w.contains("dropped"))
        );
    }

    #[test]
    fn an_emptied_project_keeps_an_empty_page_and_leaves_the_root() {
        let mut page = ProjectPage::new(demo());
        page.upsert(FileEntry::new(A, Some(sha('a'))));
        let state = folder(&[], page);
        let mut root = root();
        root.page.insert(demo());
        let plan = plan_regenerate(
            &root,
            &[ProjectFacts {
                state,
                files: BTreeMap::new(),
            }],
        );
        assert!(plan.changes.changes.iter().all(|c| !c.is_delete()));
        let root_change = plan
            .changes
            .changes
            .iter()
            .find(|c| c.path == "index.html")
            .unwrap();
        let Content::Bytes(root_page) = &root_change.content else {
            panic!("a page is bytes")
        };
        assert!(!String::from_utf8_lossy(root_page).contains("demo/"));
    }
}
