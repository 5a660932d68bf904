//! Running a publish: lock, read the index, plan, apply; on a conflict with a concurrent writer,
//! re-read and re-plan (bounded, with jittered backoff). Writes already done are seen by the
//! next read and not repeated, so retries and re-runs converge.

use std::collections::BTreeMap;

use crate::assets::{self, PlannedUpload, StorePolicy};
use crate::budget::{self, Budget};
use crate::change::ChangeSet;
use crate::dist::DistFile;
use crate::engine::{self, Planned};
use crate::name::ProjectName;
use crate::plan::{self, FileResult, IndexState, PlanOptions};
use crate::report::{Event, Reporter};
use crate::state::{self, StateError};
use crate::target::{SizeLimits, Target};

pub use crate::engine::PublishError;

#[derive(Debug, Clone, Copy, Default)]
pub struct PublishOptions {
    pub skip_existing: bool,
    pub dry_run: bool,
    /// Repository or release assets (see `assets`).
    pub store: StorePolicy,
    /// Publish even when the Pages site would pass 1 GB.
    pub allow_over_budget: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    pub results: Vec<FileResult>,
    /// Writes made (planned, on a dry run), in order, as (path, message).
    pub writes: Vec<(String, String)>,
    /// The change set of the last plan (what a dry run would commit).
    pub changes: ChangeSet,
    /// The release asset uploads a dry run would make before committing `changes`.
    pub uploads: Vec<PlannedUpload>,
    /// Plans made; more than one means concurrent writers were merged with.
    pub attempts: u32,
}

impl PublishReport {
    /// Each (project, version) of the run that can be installed, once (a wheel and its sdist
    /// are one install).
    pub fn installable_versions(&self) -> Vec<(String, String)> {
        let mut seen = Vec::new();
        for result in &self.results {
            if matches!(result.outcome, plan::Outcome::Skipped { .. }) {
                continue;
            }
            let key = (result.project.to_string(), result.version.clone());
            if !seen.contains(&key) {
                seen.push(key);
            }
        }
        seen
    }
}

/// The command that installs `project==version` from the index at `index_url`.
pub fn install_command(index_url: &str, project: &str, version: &str) -> String {
    format!("python3 -m pip install --extra-index-url {index_url} {project}=={version}")
}

/// Publishes validated distributions to `target`.
pub fn publish(
    target: &dyn Target,
    dists: &[DistFile],
    options: PublishOptions,
    reporter: &dyn Reporter,
) -> Result<PublishReport, PublishError> {
    let location = target.location();
    // A dry run must leave no trace, not even the lock file of a local index.
    let _lock = if options.dry_run {
        None
    } else {
        reporter.event(Event::Detail(&format!("locking {location}")));
        Some(target.lock().map_err(|source| PublishError::Lock {
            location: location.clone(),
            source,
        })?)
    };
    let limits = target.size_limits();
    let routed = if target.assets().is_some() {
        assets::route(dists, options.store, limits)
    } else {
        Vec::new()
    };
    if let Some(limits) = limits {
        let in_repo: Vec<DistFile> = dists
            .iter()
            .enumerate()
            .filter(|(i, _)| !routed.contains(i))
            .map(|(_, d)| d.clone())
            .collect();
        check_sizes(&in_repo, limits, &location, reporter)?;
    }
    // Assets first: a page is committed only once the files it links exist.
    let settled = assets::settle(
        target,
        dists,
        &routed,
        options.skip_existing,
        options.dry_run,
        reporter,
    )?;
    let dists: Vec<DistFile> = dists
        .iter()
        .filter(|d| !settled.skipped.iter().any(|s| s == d.filename.as_str()))
        .cloned()
        .collect();
    let dists = &dists[..];
    // Only the projects of files still to publish: a project whose one file was skipped gets no
    // (empty) page and no root entry.
    let mut wanted: BTreeMap<ProjectName, Vec<String>> = BTreeMap::new();
    for dist in dists {
        let names = wanted.entry(dist.filename.project().clone()).or_default();
        names.push(dist.filename.as_str().to_string());
        if dist.metadata_bytes.is_some() {
            names.push(format!("{}.metadata", dist.filename.as_str()));
        }
    }
    let converged = engine::converge(target, reporter, options.dry_run, |_| {
        let mut state =
            read_state(target, &wanted, reporter).map_err(|source| PublishError::Read {
                location: location.clone(),
                source,
            })?;
        state.assets = settled.assets.clone();
        let plan = plan::plan_publish(
            dists,
            &state,
            PlanOptions {
                skip_existing: options.skip_existing,
            },
        )
        .map_err(|source| PublishError::Plan {
            location: location.clone(),
            source,
        })?;
        check_budget(target, &plan.changes, options, reporter)?;
        Ok(Planned {
            changes: plan.changes,
            value: plan.results,
        })
    })?;
    let mut results = converged.value;
    // A file an earlier attempt wrote is "published", even when the last plan found it there.
    for result in &mut results {
        let path = format!("{}/{}", result.project, result.filename);
        let written = converged
            .done
            .iter()
            .any(|(p, _)| *p == path || *p == format!("{path}.metadata"));
        if result.outcome == plan::Outcome::AlreadyPresent && written {
            result.outcome = plan::Outcome::Published;
        }
    }
    for skipped in &settled.skipped {
        if let Some(dist) = skipped_result(skipped) {
            results.push(dist);
        }
    }
    let report = PublishReport {
        results,
        writes: if options.dry_run {
            settled
                .planned
                .iter()
                .map(PlannedUpload::listing)
                .chain(converged.changes.listing())
                .collect()
        } else {
            converged.done
        },
        changes: converged.changes,
        uploads: if options.dry_run {
            settled.planned
        } else {
            Vec::new()
        },
        attempts: converged.attempts,
    };
    for result in &report.results {
        if let plan::Outcome::Skipped { reason } = &result.outcome {
            reporter.event(Event::Warning(&format!(
                "skipped `{}`: {reason} (--skip-existing)",
                result.filename
            )));
        }
    }
    Ok(report)
}

/// The result line of a distribution skipped because its release asset holds other content.
fn skipped_result(filename: &str) -> Option<FileResult> {
    let parsed = crate::filename::DistFilename::parse(filename).ok()?;
    Some(FileResult {
        filename: filename.to_string(),
        project: parsed.project().clone(),
        version: parsed.version().to_string(),
        outcome: plan::Outcome::Skipped {
            reason: "its release asset holds other content".to_string(),
        },
        asset_url: None,
    })
}

/// Warns when the Pages site nears 1 GB with what this plan adds to the repository, and refuses
/// above it unless allowed. Release assets do not count (they are not part of the site); a
/// plan that adds nothing costs no request.
fn check_budget(
    target: &dyn Target,
    changes: &ChangeSet,
    options: PublishOptions,
    reporter: &dyn Reporter,
) -> Result<(), PublishError> {
    let adding: u64 = changes
        .changes
        .iter()
        .filter(|c| matches!(c.content, crate::change::Content::File(_)))
        .map(|c| c.content.len())
        .sum();
    if adding == 0 {
        return Ok(());
    }
    let Some(current) = target
        .site_size()
        .map_err(|source| PublishError::read(target, source))?
    else {
        return Ok(());
    };
    let location = target.location();
    match budget::check(current, adding) {
        Budget::Fine => Ok(()),
        Budget::Warn(share) => {
            reporter.event(Event::Warning(&format!(
                "the GitHub Pages site of {location} will be {:.0} % of Pages' 1 GB limit ({:.0} \
                 MB); consider --store release for large files",
                share * 100.0,
                (current + adding) as f64 / 1e6
            )));
            Ok(())
        }
        Budget::Over(_) if options.allow_over_budget => {
            reporter.event(Event::Warning(&format!(
                "the GitHub Pages site of {location} will pass Pages' 1 GB limit \
                 (--allow-over-budget); GitHub may stop publishing it"
            )));
            Ok(())
        }
        Budget::Over(_) => Err(PublishError::OverBudget {
            location,
            total_mb: current.saturating_add(adding) as f64 / 1e6,
        }),
    }
}

/// Refuses, before anything is written, a file the store cannot take, and warns about one that
/// is near the store's practical limit.
fn check_sizes(
    dists: &[DistFile],
    limits: SizeLimits,
    location: &str,
    reporter: &dyn Reporter,
) -> Result<(), PublishError> {
    for dist in dists {
        let size = dist.digests.size;
        if size > limits.max {
            return Err(PublishError::TooLarge {
                path: dist.path.clone(),
                size,
                max: limits.max,
                location: location.to_string(),
            });
        }
        if size > limits.warn {
            reporter.event(Event::Warning(&format!(
                "`{}` is {:.1} MB; uploads above {:.0} MB often fail on {location} (the request \
                 body grows by a third in base64); if it does, make the wheel smaller",
                dist.path.display(),
                size as f64 / 1e6,
                limits.warn as f64 / 1e6,
            )));
        }
    }
    Ok(())
}

fn read_state(
    target: &dyn Target,
    wanted: &BTreeMap<ProjectName, Vec<String>>,
    reporter: &dyn Reporter,
) -> Result<IndexState, StateError> {
    let root = state::read_root(target, reporter)?;
    let mut projects = BTreeMap::new();
    for (project, names) in wanted {
        projects.insert(
            project.clone(),
            state::read_project_for_update(target, project, names, reporter)?,
        );
    }
    Ok(IndexState {
        root,
        projects,
        assets: BTreeMap::new(),
    })
}
