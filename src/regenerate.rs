//! `regenerate`: rebuilds every page from the files present (replacing the old `generator.py`).
//! Hashes already on a page are kept (only unknown files are hashed), yanks and Requires-Python
//! survive, a wheel without a `.metadata` file gets one, and entries whose file is gone are
//! dropped with a warning — so any folder of distributions can be adopted.

use std::collections::BTreeMap;
use std::io;

use crate::dist;
use crate::filename::{DistFilename, DistKind};
use crate::hashing::sha256_hex;
use crate::index::{FileEntry, ProjectPage};
use crate::metadata::CoreMetadata;
use crate::name::ProjectName;
use crate::plan::{Content, Write};
use crate::publish::{self, PublishError};
use crate::report::{Event, Reporter};
use crate::state::{self, NOJEKYLL, PAGE, project_path};
use crate::target::{Expected, Target, TargetError};
use crate::verify::sha256_of;

/// What `regenerate` did: (path, message) per write.
pub type Changes = Vec<(String, String)>;

pub fn regenerate(
    target: &dyn Target,
    dry_run: bool,
    reporter: &dyn Reporter,
) -> Result<Changes, PublishError> {
    let location = target.location();
    crate::maintain::require_index(target)?;
    let _lock = if dry_run {
        None
    } else {
        Some(target.lock().map_err(|source| PublishError::Lock {
            location: location.clone(),
            source,
        })?)
    };
    let read_error = |source: TargetError| PublishError::Read {
        location: location.clone(),
        source: source.into(),
    };
    // Hashes computed in one attempt stay valid in the next (files never change in place).
    let mut hashed: BTreeMap<String, String> = BTreeMap::new();
    publish::converge(target, reporter, |_| {
        let root = state::read_root(target, reporter).map_err(|source| PublishError::Read {
            location: location.clone(),
            source,
        })?;
        let mut writes = Vec::new();
        let mut pages = Vec::new();
        let mut root_page = root.page.clone();
        if !root.has_nojekyll {
            writes.push(Write {
                path: NOJEKYLL.to_string(),
                content: Content::Bytes(Vec::new()),
                expected: Expected::Absent,
                message: "Serve the index as is (no Jekyll)".to_string(),
            });
        }
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
            let current =
                state::read_project(target, &project, &[], reporter).map_err(|source| {
                    PublishError::Read {
                        location: location.clone(),
                        source,
                    }
                })?;
            let mut page = ProjectPage::new(project.clone());
            for (name, entry) in &current.files {
                if entry.is_dir || name == PAGE {
                    continue;
                }
                let Ok(filename) = DistFilename::parse(name) else {
                    continue;
                };
                if filename.project() != &project {
                    reporter.event(Event::Warning(&format!(
                        "{}: belongs to project `{}`, not `{project}`; not listed",
                        project_path(&project, name),
                        filename.project()
                    )));
                    continue;
                }
                let path = project_path(&project, name);
                let known = current.page.get(name).cloned();
                let sha256 = match known.as_ref().and_then(|e| e.sha256.clone()) {
                    Some(sha) => sha,
                    None => match hashed.get(&path) {
                        Some(sha) => sha.clone(),
                        None => {
                            reporter.event(Event::Step(&format!("hashing {path}")));
                            let sha = sha256_of(target, &path, reporter)
                                .map_err(read_error)?
                                .unwrap_or_default();
                            hashed.insert(path.clone(), sha.clone());
                            sha
                        }
                    },
                };
                let mut file_entry = FileEntry::new(name.clone(), Some(sha256));
                file_entry.yanked = known.as_ref().and_then(|e| e.yanked.clone());
                file_entry.requires_python = known.as_ref().and_then(|e| e.requires_python.clone());
                if filename.kind() == DistKind::Wheel {
                    let metadata_name = format!("{name}.metadata");
                    let metadata = if current.has_file(&metadata_name) {
                        target
                            .read_file(&project_path(&project, &metadata_name))
                            .map_err(read_error)?
                            .map(|f| f.bytes)
                    } else {
                        let extracted = extract_metadata(target, &path, reporter)?;
                        if let Some(bytes) = &extracted {
                            writes.push(Write {
                                path: project_path(&project, &metadata_name),
                                content: Content::Bytes(bytes.clone()),
                                expected: Expected::Absent,
                                message: format!("Add core metadata of {name} (PEP 658)"),
                            });
                        }
                        extracted
                    };
                    if let Some(bytes) = metadata {
                        file_entry.metadata_sha256 = Some(sha256_hex(&bytes));
                        if file_entry.requires_python.is_none()
                            && let Ok(parsed) = CoreMetadata::parse(&bytes)
                        {
                            file_entry.requires_python = parsed.requires_python;
                        }
                    }
                }
                page.upsert(file_entry);
            }
            for entry in current.page.entries() {
                if page.get(&entry.filename).is_none() {
                    reporter.event(Event::Warning(&format!(
                        "{}: listed on the old page but not in the folder; dropped",
                        project_path(&project, &entry.filename)
                    )));
                }
            }
            if page.is_empty() {
                // No distribution left: a page would only list missing files.
                if let Some((sha, _)) = &current.stored_page {
                    pages.push(Write {
                        path: project_path(&project, PAGE),
                        content: Content::Delete,
                        expected: Expected::Sha(sha.clone()),
                        message: format!("Remove the {project} page: no files left"),
                    });
                }
                root_page.remove(&project);
                continue;
            }
            root_page.insert(project.clone());
            let rendered = page.render().into_bytes();
            if current.stored_page.as_ref().map(|(_, b)| b) != Some(&rendered) {
                pages.push(Write {
                    path: project_path(&project, PAGE),
                    content: Content::Bytes(rendered),
                    expected: match &current.stored_page {
                        Some((sha, _)) => Expected::Sha(sha.clone()),
                        None => Expected::Absent,
                    },
                    message: format!("Regenerate the {project} page"),
                });
            }
        }
        writes.extend(pages);
        let rendered = root_page.render().into_bytes();
        if root.stored.as_ref().map(|(_, b)| b) != Some(&rendered) {
            writes.push(Write {
                path: PAGE.to_string(),
                content: Content::Bytes(rendered),
                expected: match &root.stored {
                    Some((sha, _)) => Expected::Sha(sha.clone()),
                    None => Expected::Absent,
                },
                message: "Regenerate the root page".to_string(),
            });
        }
        if dry_run {
            return Ok(writes
                .iter()
                .map(|w| (w.path.clone(), w.message.clone()))
                .collect());
        }
        let mut done = Vec::new();
        publish::apply(target, &[], &writes, reporter, &mut done)?;
        Ok(done)
    })
}

/// The METADATA of a stored wheel, for wheels published without a `.metadata` file: the wheel
/// is copied to a temporary file (downloaded from GitHub) and validated like a new upload.
fn extract_metadata(
    target: &dyn Target,
    path: &str,
    reporter: &dyn Reporter,
) -> Result<Option<Vec<u8>>, PublishError> {
    let location = target.location();
    let io_error = |source: io::Error| PublishError::Read {
        location: location.clone(),
        source: TargetError::Io {
            action: "copy",
            path: path.into(),
            source,
        }
        .into(),
    };
    let Some(mut reader) = target
        .open_file(path)
        .map_err(|source| PublishError::Read {
            location: location.clone(),
            source: source.into(),
        })?
    else {
        return Ok(None);
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    let dir = tempfile_dir().map_err(io_error)?;
    let copy = dir.join(name);
    let copied = std::fs::File::create(&copy).and_then(|mut out| io::copy(&mut reader, &mut out));
    let result = copied.map(|_| dist::validate(&copy));
    // The copy goes whatever happened, so no download is left in the temp folder.
    let _ = std::fs::remove_dir_all(&dir);
    match result.map_err(io_error)? {
        Ok(dist) => Ok(dist.metadata_bytes),
        Err(error) => {
            reporter.event(Event::Warning(&format!(
                "{path}: no .metadata file and the wheel is not valid, so none was made: {error}"
            )));
            Ok(None)
        }
    }
}

/// A private temporary folder (no extra crate for one folder).
fn tempfile_dir() -> io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "gt4py-publish-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}
