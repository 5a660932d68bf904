//! Maintenance of published files: yank / unyank (PEP 592) and remove. Each is a read → plan →
//! apply step under the same compare-and-swap and re-plan rules as publishing.

use crate::filename::DistFilename;
use crate::index::ProjectPage;
use crate::plan::{Content, Write};
use crate::publish::{self, PublishError};
use crate::report::Reporter;
use crate::state::{self, PAGE, project_path};
use crate::target::{Expected, Target};

/// What a maintenance command changed, as (path, message) writes.
pub type Changes = Vec<(String, String)>;

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
    publish::converge(target, reporter, |_| {
        let state = read(target, &project, reporter)?;
        let Some(entry) = state.page.get(filename) else {
            return Err(not_on_index(target, filename));
        };
        let mut entry = entry.clone();
        let wanted = reason.map(str::to_string);
        if entry.yanked == wanted {
            return Ok(Vec::new());
        }
        entry.yanked = wanted;
        let mut page = state.page.clone();
        page.upsert(entry);
        let message = match reason {
            Some("") => format!("Yank {filename}"),
            Some(reason) => format!("Yank {filename}: {reason}"),
            None => format!("Unyank {filename}"),
        };
        let writes = vec![page_write(&project, &page, &state, message)];
        let mut done = Vec::new();
        publish::apply(target, &[], &writes, reporter, &mut done)?;
        Ok(done)
    })
}

/// Deletes a file and its `.metadata` and drops it from the pages. The page goes first, so no
/// page ever links a file that is gone; a project left empty leaves the root page too.
pub fn remove(
    target: &dyn Target,
    filename: &str,
    reporter: &dyn Reporter,
) -> Result<Changes, PublishError> {
    let parsed = parse_filename(target, filename)?;
    let project = parsed.project().clone();
    require_index(target)?;
    let _lock = lock(target)?;
    let metadata = format!("{filename}.metadata");
    publish::converge(target, reporter, |attempt| {
        let wanted = [filename.to_string(), metadata.clone()];
        let state = read_with(target, &project, &wanted, reporter)?;
        let listed = state.page.get(filename).is_some();
        let file_sha = state.sha_of(filename).cloned();
        let metadata_sha = state.sha_of(&metadata).cloned();
        let mut page = state.page.clone();
        page.remove(filename);
        // The project goes away with its last file. The root page is read only then (or when
        // there is nothing else to do: an interrupted earlier run may have left its link).
        let nothing_here = !listed && file_sha.is_none() && metadata_sha.is_none();
        let root = if page.is_empty() {
            Some(state::read_root(target, reporter).map_err(|source| read_error(target, source))?)
        } else {
            None
        };
        let root_write = root.as_ref().and_then(|root| {
            let mut root_page = root.page.clone();
            root_page.remove(&project).then(|| Write {
                path: PAGE.to_string(),
                content: Content::Bytes(root_page.render().into_bytes()),
                expected: match &root.stored {
                    Some((sha, _)) => Expected::Sha(sha.clone()),
                    None => Expected::Absent,
                },
                message: format!("Remove {project} from the root page"),
            })
        });
        if nothing_here && (root_write.is_none() || state.stored_page.is_some()) {
            // After a conflict the earlier attempt may have done all the work: only a first
            // attempt that finds nothing is "not there".
            return if attempt == 1 {
                Err(not_on_index(target, filename))
            } else {
                Ok(Vec::new())
            };
        }
        // Order keeps every intermediate state valid (a crash leaves an index a re-run
        // completes): the root stops linking an emptied project before its page goes, and a
        // page stops listing a file before the file goes.
        let mut writes: Vec<Write> = root_write.into_iter().collect();
        if listed {
            if page.is_empty() {
                if let Some((sha, _)) = &state.stored_page {
                    writes.push(Write {
                        path: project_path(&project, PAGE),
                        content: Content::Delete,
                        expected: Expected::Sha(sha.clone()),
                        message: format!("Remove {filename}: {project} has no files left"),
                    });
                }
            } else {
                writes.push(page_write(
                    &project,
                    &page,
                    &state,
                    format!("Remove {filename} from the {project} page"),
                ));
            }
        }
        for (name, sha) in [(filename, file_sha), (metadata.as_str(), metadata_sha)] {
            if let Some(sha) = sha {
                writes.push(Write {
                    path: project_path(&project, name),
                    content: Content::Delete,
                    expected: Expected::Sha(sha),
                    message: format!("Remove {name}"),
                });
            }
        }
        let mut done = Vec::new();
        publish::apply(target, &[], &writes, reporter, &mut done)?;
        Ok(done)
    })
}

/// Fails when there is no index at all (a mistyped `--index-dir`, an empty repository), so a
/// maintenance command neither creates one nor reports on nothing as if all were well.
pub fn require_index(target: &dyn Target) -> Result<(), PublishError> {
    match target.list_dir("") {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(PublishError::NoIndex {
            location: target.location(),
        }),
        Err(source) => Err(read_error(target, source.into())),
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

fn read_error(target: &dyn Target, source: state::StateError) -> PublishError {
    PublishError::Read {
        location: target.location(),
        source,
    }
}

fn read(
    target: &dyn Target,
    project: &crate::name::ProjectName,
    reporter: &dyn Reporter,
) -> Result<state::ProjectState, PublishError> {
    read_with(target, project, &[], reporter)
}

fn read_with(
    target: &dyn Target,
    project: &crate::name::ProjectName,
    wanted: &[String],
    reporter: &dyn Reporter,
) -> Result<state::ProjectState, PublishError> {
    state::read_project(target, project, wanted, reporter)
        .map_err(|source| read_error(target, source))
}

fn page_write(
    project: &crate::name::ProjectName,
    page: &ProjectPage,
    state: &state::ProjectState,
    message: String,
) -> Write {
    Write {
        path: project_path(project, PAGE),
        content: Content::Bytes(page.render().into_bytes()),
        expected: match &state.stored_page {
            Some((sha, _)) => Expected::Sha(sha.clone()),
            None => Expected::Absent,
        },
        message,
    }
}
