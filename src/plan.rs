//! The publish planner: a pure function from validated distributions and the index's current
//! state to the list of writes that brings the index to the wanted state, in an order where
//! every intermediate state is a valid index (file → `.metadata` → project page → root page).

use std::collections::BTreeMap;

use crate::change::{Change, ChangeSet, Content, Expected, LocalFile};
use crate::dist::DistFile;
use crate::hashing::{git_blob_sha, sha256_hex};
use crate::index::FileEntry;
use crate::name::ProjectName;
use crate::state::{NOJEKYLL, PAGE, ProjectState, RootState, project_path};
use crate::target::StoredAsset;

/// What a run decided for one distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written (or completed after an earlier interrupted run).
    Published,
    /// Already on the index byte for byte; nothing written for it.
    AlreadyPresent,
    /// Same filename with different content, skipped because of `--skip-existing`.
    Skipped { reason: String },
}

#[derive(Debug, Clone)]
pub struct FileResult {
    pub filename: String,
    pub project: ProjectName,
    pub version: String,
    pub outcome: Outcome,
    /// The release asset's download URL, for a file stored as one.
    pub asset_url: Option<String>,
}

impl Outcome {
    /// The word a summary shows for it (`would publish` on a dry run).
    pub fn label(&self, dry_run: bool) -> &'static str {
        match self {
            Outcome::Published if dry_run => "would publish",
            Outcome::Published => "published",
            Outcome::AlreadyPresent => "already present",
            Outcome::Skipped { .. } => "skipped",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub changes: ChangeSet,
    pub results: Vec<FileResult>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    pub skip_existing: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "`{filename}` is already on the index with different content (sha256 {theirs} there, \
         {ours} here); published files never change: bump the version or add a build tag and \
         publish again, or pass --skip-existing to skip it"
    )]
    DifferentContent {
        filename: String,
        ours: String,
        theirs: String,
    },
}

/// What the planner needs to know of the index.
pub struct IndexState {
    pub root: RootState,
    pub projects: BTreeMap<ProjectName, ProjectState>,
    /// Distributions of this run already stored as release assets (with their `.metadata`),
    /// by filename: their entries link the asset instead of a file beside the page.
    pub assets: BTreeMap<String, StoredAsset>,
}

/// Plans the publication of `dists` (already validated; each filename once).
pub fn plan_publish(
    dists: &[DistFile],
    state: &IndexState,
    options: PlanOptions,
) -> Result<Plan, PlanError> {
    let mut plan = Plan {
        changes: ChangeSet::new(publish_title(dists)),
        results: Vec::new(),
    };
    if !state.root.has_nojekyll {
        plan.changes.push(nojekyll());
    }
    let mut pages = Vec::new();
    let mut root = state.root.page.clone();
    for (project, project_state) in &state.projects {
        let mut page = project_state.page.clone();
        let mut added = Vec::new();
        for dist in dists {
            if dist.filename.project() != project {
                continue;
            }
            let filename = dist.filename.as_str();
            let version = dist.filename.version().to_string();
            let on_page = page.get(filename).cloned();
            let stored_sha = project_state.sha_of(filename);
            let theirs = match (on_page.as_ref().and_then(|e| e.sha256.as_ref()), stored_sha) {
                // The page is the record: a different hash there is a different file.
                (Some(listed), _) => Some(listed.clone()).filter(|s| *s != dist.digests.sha256),
                // No hash on the page (or no entry: a run interrupted before its page write
                // leaves that): the stored bytes decide.
                (None, Some(sha)) if *sha != dist.digests.blob_sha => {
                    Some(format!("unknown (git blob {sha})"))
                }
                _ => None,
            };
            if let Some(theirs) = theirs {
                if options.skip_existing {
                    plan.results.push(FileResult {
                        filename: filename.to_string(),
                        project: project.clone(),
                        version,
                        outcome: Outcome::Skipped {
                            reason: "already on the index with different content".to_string(),
                        },
                        asset_url: None,
                    });
                    continue;
                }
                return Err(PlanError::DifferentContent {
                    filename: filename.to_string(),
                    ours: dist.digests.sha256.clone(),
                    theirs,
                });
            }

            let mut wrote = false;
            let asset = state.assets.get(filename);
            // The file itself: missing, or (page says ours, bytes say otherwise) damaged. An
            // asset-backed file is already stored (assets are uploaded before planning).
            if asset.is_none() && stored_sha != Some(&dist.digests.blob_sha) {
                let verb = if stored_sha.is_some() {
                    "Repair"
                } else {
                    "Publish"
                };
                plan.changes.push(Change {
                    path: project_path(project, filename),
                    content: Content::File(LocalFile {
                        path: dist.path.clone(),
                        len: dist.digests.size,
                        blob_sha: dist.digests.blob_sha.clone(),
                    }),
                    expected: Expected::from_sha(stored_sha),
                    message: format!("{verb} {project} {version} ({filename})"),
                });
                wrote = true;
            }
            let mut metadata_sha256 = None;
            if let (Some(metadata), Some(_)) = (&dist.metadata_bytes, asset) {
                // Its `.metadata` is an asset beside it, so `href + ".metadata"` resolves.
                metadata_sha256 = Some(sha256_hex(metadata));
            } else if let Some(metadata) = &dist.metadata_bytes {
                let name = format!("{filename}.metadata");
                let blob = git_blob_sha(metadata);
                let expected = match project_state.sha_of(&name) {
                    Some(sha) if *sha == blob => None,
                    Some(sha) => Some(Expected::Sha(sha.clone())),
                    None => Some(Expected::Absent),
                };
                if let Some(expected) = expected {
                    plan.changes.push(Change {
                        path: project_path(project, &name),
                        content: Content::Bytes(metadata.to_vec()),
                        expected,
                        message: format!("Add core metadata of {filename} (PEP 658)"),
                    });
                    wrote = true;
                }
                metadata_sha256 = Some(sha256_hex(metadata));
            }
            let entry = FileEntry {
                filename: filename.to_string(),
                sha256: Some(dist.digests.sha256.clone()),
                requires_python: dist.metadata.requires_python.clone(),
                metadata_sha256,
                // A re-publish must not undo a yank.
                yanked: on_page.and_then(|e| e.yanked),
                url: asset.map(|a| a.url.clone()),
            };
            if page.get(filename) != Some(&entry) {
                page.upsert(entry);
                added.push(filename.to_string());
                wrote = true;
            }
            plan.results.push(FileResult {
                filename: filename.to_string(),
                project: project.clone(),
                version,
                outcome: if wrote {
                    Outcome::Published
                } else {
                    Outcome::AlreadyPresent
                },
                asset_url: asset.map(|a| a.url.clone()),
            });
        }
        let message = if added.is_empty() {
            format!("Rewrite the {project} page")
        } else {
            format!("Update the {project} page: add {}", added.join(", "))
        };
        pages.extend(project_page_change(project_state, &page, message));
        root.insert(project.clone());
    }
    // Pages after every file they list, so no page ever links a file that is not there yet.
    plan.changes.changes.extend(pages);
    if let Some(change) = root_page_change(&state.root, &root, "Update the root page") {
        plan.changes.push(change);
    }
    Ok(plan)
}

/// The title of a publish commit: the one project and version, or counts.
fn publish_title(dists: &[DistFile]) -> String {
    let mut versions: Vec<(String, String)> = dists
        .iter()
        .map(|d| {
            (
                d.filename.project().to_string(),
                d.filename.version().to_string(),
            )
        })
        .collect();
    versions.dedup();
    match versions.as_slice() {
        [(project, version)] => format!(
            "Publish {project} {version} ({} file{})",
            dists.len(),
            if dists.len() == 1 { "" } else { "s" }
        ),
        _ => format!(
            "Publish {} files ({})",
            dists.len(),
            versions
                .iter()
                .map(|(p, v)| format!("{p} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The empty `.nojekyll` file: GitHub Pages then serves the index as it is.
pub fn nojekyll() -> Change {
    Change {
        path: NOJEKYLL.to_string(),
        content: Content::Bytes(Vec::new()),
        expected: Expected::Absent,
        message: "Serve the index as is (no Jekyll)".to_string(),
    }
}

/// The write of the root page when `page` renders differently from what is stored.
pub fn root_page_change(
    root: &RootState,
    page: &crate::index::RootPage,
    message: &str,
) -> Option<Change> {
    let rendered = page.render().into_bytes();
    let stored = root.stored.as_ref();
    (stored.map(|(_, bytes)| bytes) != Some(&rendered)).then(|| Change {
        path: PAGE.to_string(),
        content: Content::Bytes(rendered),
        expected: Expected::from_version(stored.map(|(version, _)| version)),
        message: message.to_string(),
    })
}

/// The write of a project page when `page` renders differently from what is stored.
pub fn project_page_change(
    project: &ProjectState,
    page: &crate::index::ProjectPage,
    message: String,
) -> Option<Change> {
    let rendered = page.render().into_bytes();
    let stored = project.stored_page.as_ref();
    (stored.map(|(_, bytes)| bytes) != Some(&rendered)).then(|| Change {
        path: project_path(page.project(), PAGE),
        content: Content::Bytes(rendered),
        expected: Expected::from_version(stored.map(|(version, _)| version)),
        message,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::dist::DistFile;
    use crate::filename::DistFilename;
    use crate::hashing::FileDigests;
    use crate::index::{ProjectPage, RootPage};
    use crate::metadata::CoreMetadata;
    use crate::target::{DirEntry, Version};

    fn wheel(filename: &str, content: &[u8]) -> DistFile {
        let parsed = DistFilename::parse(filename).unwrap();
        let metadata_bytes = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\nRequires-Python: >=3.9\n",
            parsed.project(),
            parsed.version()
        )
        .into_bytes();
        DistFile {
            path: PathBuf::from(format!("dist/{filename}")),
            metadata: CoreMetadata::parse(&metadata_bytes).unwrap(),
            metadata_bytes: Some(metadata_bytes),
            digests: FileDigests {
                sha256: sha256_hex(content),
                blob_sha: git_blob_sha(content),
                size: content.len() as u64,
            },
            filename: parsed,
        }
    }

    fn empty_index(projects: &[&str]) -> IndexState {
        IndexState {
            root: RootState {
                page: RootPage::default(),
                stored: None,
                has_nojekyll: false,
                exists: false,
                folders: Vec::new(),
            },
            projects: projects
                .iter()
                .map(|p| {
                    let name = ProjectName::new(p).unwrap();
                    (
                        name.clone(),
                        ProjectState {
                            page: ProjectPage::new(name),
                            stored_page: None,
                            files: BTreeMap::new(),
                            shas: BTreeMap::new(),
                        },
                    )
                })
                .collect(),
            assets: BTreeMap::new(),
        }
    }

    /// The state a target would show after `plan` was applied to `state`.
    fn applied(mut state: IndexState, plan: &Plan, dists: &[DistFile]) -> IndexState {
        for write in &plan.changes.changes {
            let bytes = match &write.content {
                Content::Bytes(b) => b.clone(),
                Content::File(file) => {
                    let dist = dists.iter().find(|d| d.path == file.path).unwrap();
                    let project = state.projects.get_mut(dist.filename.project()).unwrap();
                    let name = dist.filename.as_str().to_string();
                    project
                        .shas
                        .insert(name.clone(), dist.digests.blob_sha.clone());
                    project.files.insert(
                        name.clone(),
                        DirEntry {
                            name,
                            is_dir: false,
                            size: 0,
                            sha: None,
                        },
                    );
                    continue;
                }
                Content::Delete => unreachable!(),
            };
            let sha = git_blob_sha(&bytes);
            match write.path.split_once('/') {
                None if write.path == PAGE => {
                    state.root.page = RootPage::parse(&bytes).unwrap().page;
                    state.root.stored = Some((Version::Sha(sha), bytes));
                }
                None => state.root.has_nojekyll = true,
                Some((project, name)) => {
                    let project = state
                        .projects
                        .get_mut(&ProjectName::new(project).unwrap())
                        .unwrap();
                    if name == PAGE {
                        project.page = ProjectPage::parse(project.page.project().clone(), &bytes)
                            .unwrap()
                            .page;
                        project.stored_page = Some((Version::Sha(sha), bytes));
                    } else {
                        project.shas.insert(name.to_string(), sha);
                        project.files.insert(
                            name.to_string(),
                            DirEntry {
                                name: name.to_string(),
                                is_dir: false,
                                size: 0,
                                sha: None,
                            },
                        );
                    }
                }
            }
        }
        state
    }

    fn paths(plan: &Plan) -> Vec<&str> {
        plan.changes
            .changes
            .iter()
            .map(|w| w.path.as_str())
            .collect()
    }

    #[test]
    fn a_fresh_index_gets_files_before_the_pages_that_list_them() {
        let dists = [
            wheel("dace-43!2026.2.3-py3-none-any.whl", b"one"),
            wheel("ghex-0.4.1-cp311-cp311-linux_x86_64.whl", b"two"),
        ];
        let plan = plan_publish(
            &dists,
            &empty_index(&["dace", "ghex"]),
            PlanOptions::default(),
        )
        .unwrap();
        assert_eq!(
            paths(&plan),
            [
                ".nojekyll",
                "dace/dace-43!2026.2.3-py3-none-any.whl",
                "dace/dace-43!2026.2.3-py3-none-any.whl.metadata",
                "ghex/ghex-0.4.1-cp311-cp311-linux_x86_64.whl",
                "ghex/ghex-0.4.1-cp311-cp311-linux_x86_64.whl.metadata",
                "dace/index.html",
                "ghex/index.html",
                "index.html",
            ]
        );
        assert!(
            plan.changes
                .changes
                .iter()
                .all(|w| w.expected == Expected::Absent)
        );
        assert_eq!(
            plan.changes.changes[1].message,
            "Publish dace 43!2026.2.3 (dace-43!2026.2.3-py3-none-any.whl)"
        );
        assert!(plan.results.iter().all(|r| r.outcome == Outcome::Published));
    }

    #[test]
    fn publishing_again_plans_nothing() {
        let dists = [wheel("dace-1.0-py3-none-any.whl", b"one")];
        let state = empty_index(&["dace"]);
        let plan = plan_publish(&dists, &state, PlanOptions::default()).unwrap();
        let state = applied(state, &plan, &dists);
        let again = plan_publish(&dists, &state, PlanOptions::default()).unwrap();
        assert!(again.changes.is_empty(), "{:?}", paths(&again));
        assert_eq!(again.results[0].outcome, Outcome::AlreadyPresent);
    }

    #[test]
    fn a_new_version_updates_the_page_with_a_compare_and_swap() {
        let first = [wheel("dace-1.0-py3-none-any.whl", b"one")];
        let state = empty_index(&["dace"]);
        let plan = plan_publish(&first, &state, PlanOptions::default()).unwrap();
        let state = applied(state, &plan, &first);
        let page_sha = state
            .projects
            .values()
            .next()
            .unwrap()
            .stored_page
            .clone()
            .unwrap()
            .0;
        let second = [wheel("dace-1.1-py3-none-any.whl", b"two")];
        let plan = plan_publish(&second, &state, PlanOptions::default()).unwrap();
        assert_eq!(
            paths(&plan),
            [
                "dace/dace-1.1-py3-none-any.whl",
                "dace/dace-1.1-py3-none-any.whl.metadata",
                "dace/index.html"
            ],
            "the root page already lists dace and must not be rewritten"
        );
        assert_eq!(
            plan.changes.changes[2].expected,
            Expected::from_version(Some(&page_sha))
        );
        let state = applied(state, &plan, &second);
        let page = &state.projects.values().next().unwrap().page;
        let names: Vec<_> = page.entries().map(|e| e.filename.as_str()).collect();
        assert_eq!(
            names,
            ["dace-1.1-py3-none-any.whl", "dace-1.0-py3-none-any.whl"]
        );
    }

    #[test]
    fn same_name_different_content_is_refused_or_skipped() {
        let dists = [wheel("dace-1.0-py3-none-any.whl", b"one")];
        let state = empty_index(&["dace"]);
        let plan = plan_publish(&dists, &state, PlanOptions::default()).unwrap();
        let state = applied(state, &plan, &dists);
        let other = [wheel("dace-1.0-py3-none-any.whl", b"other")];
        let err = plan_publish(&other, &state, PlanOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("dace-1.0-py3-none-any.whl"),
            "{err}"
        );
        assert!(err.to_string().contains("--skip-existing"), "{err}");
        let plan = plan_publish(
            &other,
            &state,
            PlanOptions {
                skip_existing: true,
            },
        )
        .unwrap();
        assert!(plan.changes.changes.is_empty(), "{:?}", paths(&plan));
        assert!(matches!(plan.results[0].outcome, Outcome::Skipped { .. }));
    }

    #[test]
    fn a_file_left_by_an_interrupted_run_is_completed_not_rewritten() {
        let dists = [wheel("dace-1.0-py3-none-any.whl", b"one")];
        let state = empty_index(&["dace"]);
        let mut plan = plan_publish(&dists, &state, PlanOptions::default()).unwrap();
        // The run died after writing .nojekyll and the wheel.
        plan.changes.changes.truncate(2);
        let state = applied(state, &plan, &dists);
        let rest = plan_publish(&dists, &state, PlanOptions::default()).unwrap();
        assert_eq!(
            paths(&rest),
            [
                "dace/dace-1.0-py3-none-any.whl.metadata",
                "dace/index.html",
                "index.html"
            ]
        );
        assert_eq!(rest.results[0].outcome, Outcome::Published);
    }

    #[test]
    fn an_unlisted_file_with_other_content_is_not_overwritten() {
        let dists = [wheel("dace-1.0-py3-none-any.whl", b"one")];
        let mut state = empty_index(&["dace"]);
        let project = state.projects.values_mut().next().unwrap();
        project
            .shas
            .insert("dace-1.0-py3-none-any.whl".into(), git_blob_sha(b"theirs"));
        assert!(matches!(
            plan_publish(&dists, &state, PlanOptions::default()),
            Err(PlanError::DifferentContent { .. })
        ));
    }

    #[test]
    fn a_yank_survives_a_republish_and_legacy_entries_are_kept() {
        let dists = [wheel("dace-1.0-py3-none-any.whl", b"one")];
        let state = empty_index(&["dace"]);
        let plan = plan_publish(&dists, &state, PlanOptions::default()).unwrap();
        let mut state = applied(state, &plan, &dists);
        let project = state.projects.values_mut().next().unwrap();
        let mut entry = project
            .page
            .get("dace-1.0-py3-none-any.whl")
            .unwrap()
            .clone();
        entry.yanked = Some("broken".into());
        project.page.upsert(entry);
        project
            .page
            .upsert(FileEntry::new("dace-0.1.tar.gz", Some("ab".repeat(32))));
        let plan = plan_publish(&dists, &state, PlanOptions::default()).unwrap();
        let state = applied(state, &plan, &dists);
        let page = &state.projects.values().next().unwrap().page;
        assert_eq!(
            page.get("dace-1.0-py3-none-any.whl")
                .unwrap()
                .yanked
                .as_deref(),
            Some("broken")
        );
        assert_eq!(
            page.get("dace-0.1.tar.gz").unwrap().sha256.as_deref(),
            Some("ab".repeat(32).as_str())
        );
    }
}
