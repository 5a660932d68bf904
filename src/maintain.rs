//! Maintenance of published files: yank / unyank (PEP 592) and remove. Each is a pure planner
//! over what the snapshot shows (unit-tested without I/O) run by the commit engine under the
//! same compare-and-swap and re-plan rules as publishing.

use crate::change::{Change, ChangeSet, Content, Expected};
use crate::engine::{self, Planned, PublishError};
use crate::filename::DistFilename;
use crate::name::ProjectName;
use crate::plan::{project_page_change, root_page_change};
use crate::report::Reporter;
use crate::state::{self, ProjectState, RootState, project_path};
use crate::target::Target;

/// What a maintenance command changed, as (path, message) writes.
pub type Changes = Vec<(String, String)>;

/// What a maintenance planner found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaintenancePlan {
    /// The file is not on the index (not listed, not stored).
    NotThere,
    /// These changes (empty: already in the wanted state).
    Changes(ChangeSet),
}

/// Plans marking `filename` yanked (`Some(reason)`, `""` for none) or not yanked (`None`).
pub fn plan_set_yanked(
    project: &ProjectState,
    filename: &str,
    reason: Option<&str>,
) -> MaintenancePlan {
    let Some(entry) = project.page.get(filename) else {
        return MaintenancePlan::NotThere;
    };
    let title = match reason {
        Some("") => format!("Yank {filename}"),
        Some(reason) => format!("Yank {filename}: {reason}"),
        None => format!("Unyank {filename}"),
    };
    let mut changes = ChangeSet::new(title.clone());
    let wanted = reason.map(str::to_string);
    if entry.yanked != wanted {
        let mut entry = entry.clone();
        entry.yanked = wanted;
        let mut page = project.page.clone();
        page.upsert(entry);
        changes
            .changes
            .extend(project_page_change(project, &page, title));
    }
    MaintenancePlan::Changes(changes)
}

/// Plans removing `filename` and its `.metadata`. The page stops listing the file before it
/// goes, and a project left empty leaves the root page. Its page stays, empty: deleting it would
/// let a concurrent writer holding the old page's sha create it again (GitHub ignores a stale
/// `sha` on a path that does not exist), listing the files just deleted.
///
/// `root` is needed only when the project's page ends up empty (pass `None` otherwise).
pub fn plan_remove(
    project: &ProjectState,
    root: Option<&RootState>,
    filename: &str,
) -> MaintenancePlan {
    let name = project.page.project().clone();
    let metadata = format!("{filename}.metadata");
    let listed = project.page.get(filename).is_some();
    let file_sha = project.sha_of(filename);
    let metadata_sha = project.sha_of(&metadata);
    let mut page = project.page.clone();
    page.remove(filename);
    let root_change = match root {
        Some(root) if page.is_empty() => {
            let mut root_page = root.page.clone();
            root_page.remove(&name);
            root_page_change(
                root,
                &root_page,
                &format!("Remove {name} from the root page"),
            )
        }
        _ => None,
    };
    if !listed && file_sha.is_none() && metadata_sha.is_none() && root_change.is_none() {
        return MaintenancePlan::NotThere;
    }
    let mut changes = ChangeSet::new(format!("Remove {filename}"));
    if listed {
        let message = if page.is_empty() {
            format!("Remove {filename}: {name} has no files left")
        } else {
            format!("Remove {filename} from the {name} page")
        };
        changes
            .changes
            .extend(project_page_change(project, &page, message));
    }
    changes.changes.extend(root_change);
    for (file, sha) in [(filename, file_sha), (metadata.as_str(), metadata_sha)] {
        if let Some(sha) = sha {
            changes.push(Change {
                path: project_path(&name, file),
                content: Content::Delete,
                expected: Expected::Sha(sha.clone()),
                message: format!("Remove {file}"),
            });
        }
    }
    MaintenancePlan::Changes(changes)
}

/// Marks a file yanked (`Some(reason)`, `""` for none) or not yanked (`None`).
pub fn set_yanked(
    target: &dyn Target,
    filename: &str,
    reason: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Changes, PublishError> {
    let parsed = parse_filename(target, filename)?;
    let project = parsed.project().clone();
    // A page attribute cannot carry control characters exactly (HTML rewrites CR and NUL).
    if let Some(reason) = reason
        && reason.chars().any(char::is_control)
    {
        return Err(PublishError::BadYankReason {
            reason: reason.escape_debug().to_string(),
        });
    }
    require_index(target)?;
    let _lock = lock(target)?;
    let converged = engine::converge(target, reporter, false, |_| {
        let state = read(target, &project, &[], reporter)?;
        match plan_set_yanked(&state, filename, reason) {
            MaintenancePlan::NotThere => Err(not_on_index(target, filename)),
            MaintenancePlan::Changes(changes) => Ok(Planned { changes, value: () }),
        }
    })?;
    Ok(converged.done)
}

/// Deletes a file and its `.metadata` and drops it from the pages.
pub fn remove(
    target: &dyn Target,
    filename: &str,
    reporter: &dyn Reporter,
) -> Result<Changes, PublishError> {
    let parsed = parse_filename(target, filename)?;
    let project = parsed.project().clone();
    require_index(target)?;
    let _lock = lock(target)?;
    let wanted = [filename.to_string(), format!("{filename}.metadata")];
    let mut asset_url = None;
    let converged = engine::converge(target, reporter, false, |attempt| {
        let state = read(target, &project, &wanted, reporter)?;
        if let Some(url) = state.page.get(filename).and_then(|e| e.url.clone()) {
            asset_url = Some(url);
        }
        let mut remaining = state.page.clone();
        remaining.remove(filename);
        // The root page is read only when the project may leave it.
        let root = if remaining.is_empty() {
            Some(state::read_root(target, reporter).map_err(|e| PublishError::read(target, e))?)
        } else {
            None
        };
        match plan_remove(&state, root.as_ref(), filename) {
            // After a conflict the earlier attempt may have done all the work: only a first
            // attempt that finds nothing is "not there".
            MaintenancePlan::NotThere => Ok(Planned {
                changes: ChangeSet::new("nothing left to remove"),
                value: attempt == 1,
            }),
            MaintenancePlan::Changes(changes) => Ok(Planned {
                changes,
                value: false,
            }),
        }
    })?;
    let not_in_repository = converged.value;
    let mut done = converged.done;
    // A release asset goes after the page stopped linking it (with its `.metadata` asset). One
    // that no page links any more (a remove interrupted after its page write) goes too.
    let store = target
        .assets()
        .filter(|_| asset_url.is_some() || not_in_repository);
    let listed = match store {
        Some(store) => store
            .list_assets()
            .map_err(|source| PublishError::read(target, source))?,
        None => Vec::new(),
    };
    let names = [filename.to_string(), format!("{filename}.metadata")];
    if not_in_repository && !listed.iter().any(|a| names.contains(&a.name)) {
        return Err(not_on_index(target, filename));
    }
    if let Some(store) = store {
        for name in names {
            if let Some(asset) = listed.iter().find(|a| a.name == name) {
                store
                    .delete_asset(asset)
                    .map_err(|source| PublishError::Write {
                        location: store.asset_location(),
                        path: name.clone(),
                        source,
                    })?;
                done.push((
                    format!("release asset {name}"),
                    format!("Delete {name} from {}", store.asset_location()),
                ));
            }
        }
    }
    Ok(done)
}

/// Fails when there is no index at all (a mistyped `--index-dir`, an empty repository), so a
/// maintenance command neither creates one nor reports on nothing as if all were well.
pub fn require_index(target: &dyn Target) -> Result<(), PublishError> {
    match target.list_dir("") {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(PublishError::NoIndex {
            location: target.location(),
        }),
        Err(source) => Err(PublishError::read(target, source)),
    }
}

fn parse_filename(target: &dyn Target, filename: &str) -> Result<DistFilename, PublishError> {
    DistFilename::parse(filename).map_err(|source| PublishError::BadFilename {
        location: target.location(),
        filename: filename.to_string(),
        source,
    })
}

fn lock(target: &dyn Target) -> Result<Box<dyn crate::target::RunLock>, PublishError> {
    target.lock().map_err(|source| PublishError::Lock {
        location: target.location(),
        source,
    })
}

fn not_on_index(target: &dyn Target, filename: &str) -> PublishError {
    PublishError::NotOnIndex {
        location: target.location(),
        filename: filename.to_string(),
    }
}

fn read(
    target: &dyn Target,
    project: &ProjectName,
    wanted: &[String],
    reporter: &dyn Reporter,
) -> Result<ProjectState, PublishError> {
    state::read_project_for_update(target, project, wanted, reporter)
        .map_err(|source| PublishError::read(target, source))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::hashing::git_blob_sha;
    use crate::index::{FileEntry, ProjectPage, RootPage};
    use crate::state::PAGE;
    use crate::target::{DirEntry, Version};

    const WHEEL: &str = "dace-1.0-py3-none-any.whl";
    const OTHER: &str = "dace-0.9-py3-none-any.whl";

    fn file(name: &str) -> (String, DirEntry) {
        (
            name.to_string(),
            DirEntry {
                name: name.to_string(),
                is_dir: false,
                size: 1,
                sha: None,
            },
        )
    }

    /// A stored project page listing `names`, each stored with its `.metadata`.
    fn project(names: &[&str]) -> ProjectState {
        let project = ProjectName::new("dace").unwrap();
        let mut page = ProjectPage::new(project);
        let mut files = BTreeMap::new();
        let mut shas = BTreeMap::new();
        for name in names {
            page.upsert(FileEntry::new(*name, Some("ab".repeat(32))));
            for stored in [name.to_string(), format!("{name}.metadata")] {
                shas.insert(stored.clone(), git_blob_sha(stored.as_bytes()));
                files.insert(stored.clone(), file(&stored).1);
            }
        }
        let bytes = page.render().into_bytes();
        files.extend([file(PAGE)]);
        ProjectState {
            stored_page: Some((Version::Sha(git_blob_sha(&bytes)), bytes)),
            page,
            files,
            shas,
        }
    }

    fn root(projects: &[&str]) -> RootState {
        let mut page = RootPage::default();
        for p in projects {
            page.insert(ProjectName::new(p).unwrap());
        }
        let bytes = page.render().into_bytes();
        RootState {
            stored: Some((Version::Sha(git_blob_sha(&bytes)), bytes)),
            page,
            has_nojekyll: true,
            exists: true,
            folders: projects.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn changes(plan: MaintenancePlan) -> ChangeSet {
        match plan {
            MaintenancePlan::Changes(changes) => changes,
            MaintenancePlan::NotThere => panic!("expected changes"),
        }
    }

    fn paths(set: &ChangeSet) -> Vec<(&str, bool)> {
        set.changes
            .iter()
            .map(|c| (c.path.as_str(), c.is_delete()))
            .collect()
    }

    #[test]
    fn yank_rewrites_only_the_page_and_is_idempotent() {
        let state = project(&[WHEEL]);
        let set = changes(plan_set_yanked(&state, WHEEL, Some("broken")));
        assert_eq!(paths(&set), [("dace/index.html", false)]);
        assert_eq!(set.title, format!("Yank {WHEEL}: broken"));
        let Content::Bytes(page) = &set.changes[0].content else {
            panic!("a page is bytes")
        };
        assert!(String::from_utf8_lossy(page).contains("data-yanked=\"broken\""));
        assert_eq!(
            set.changes[0].expected,
            Expected::from_version(state.stored_page.as_ref().map(|(v, _)| v))
        );
        // Applied, then asked again: nothing to do.
        let mut yanked = state.clone();
        let mut entry = yanked.page.get(WHEEL).unwrap().clone();
        entry.yanked = Some("broken".into());
        yanked.page.upsert(entry);
        let bytes = yanked.page.render().into_bytes();
        yanked.stored_page = Some((Version::Sha(git_blob_sha(&bytes)), bytes));
        assert!(changes(plan_set_yanked(&yanked, WHEEL, Some("broken"))).is_empty());
        assert!(!changes(plan_set_yanked(&yanked, WHEEL, None)).is_empty());
        assert_eq!(
            plan_set_yanked(&state, "dace-2.0.tar.gz", None),
            MaintenancePlan::NotThere
        );
    }

    #[test]
    fn remove_updates_the_page_before_deleting_the_files() {
        let state = project(&[WHEEL, OTHER]);
        let set = changes(plan_remove(&state, None, WHEEL));
        assert_eq!(
            paths(&set),
            [
                ("dace/index.html", false),
                ("dace/dace-1.0-py3-none-any.whl", true),
                ("dace/dace-1.0-py3-none-any.whl.metadata", true),
            ]
        );
        // Deletions are compare-and-swapped on the blobs the snapshot showed.
        assert_eq!(
            set.changes[1].expected,
            Expected::Sha(git_blob_sha(WHEEL.as_bytes()))
        );
    }

    #[test]
    fn removing_the_last_file_keeps_an_empty_page_and_leaves_the_root() {
        let state = project(&[WHEEL]);
        let root = root(&["dace", "ghex"]);
        let set = changes(plan_remove(&state, Some(&root), WHEEL));
        assert_eq!(
            paths(&set),
            [
                ("dace/index.html", false),
                ("index.html", false),
                ("dace/dace-1.0-py3-none-any.whl", true),
                ("dace/dace-1.0-py3-none-any.whl.metadata", true),
            ]
        );
        // The page is never deleted: a deleted path can be re-created by a writer holding its
        // old sha, and would list the files again.
        assert!(
            set.changes
                .iter()
                .all(|c| !(c.is_delete() && c.path.ends_with(PAGE)))
        );
        let Content::Bytes(root_page) = &set.changes[1].content else {
            panic!("a page is bytes")
        };
        let root_text = String::from_utf8_lossy(root_page);
        assert!(!root_text.contains("dace/"), "{root_text}");
        assert!(root_text.contains("ghex/"), "{root_text}");
    }

    #[test]
    fn a_rerun_after_an_interrupted_remove_finishes_and_then_finds_nothing() {
        // The page and root were rewritten, the files not yet deleted: only deletions remain.
        let mut state = project(&[WHEEL]);
        state.page.remove(WHEEL);
        let bytes = state.page.render().into_bytes();
        state.stored_page = Some((Version::Sha(git_blob_sha(&bytes)), bytes));
        let root = root(&[]);
        let set = changes(plan_remove(&state, Some(&root), WHEEL));
        assert_eq!(
            paths(&set),
            [
                ("dace/dace-1.0-py3-none-any.whl", true),
                ("dace/dace-1.0-py3-none-any.whl.metadata", true),
            ]
        );
        // Everything gone: not there.
        state.shas.clear();
        assert_eq!(
            plan_remove(&state, Some(&root), WHEEL),
            MaintenancePlan::NotThere
        );
    }
}
