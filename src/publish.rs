//! Running a publish: lock, read the index, plan, apply; on a conflict with a concurrent writer,
//! re-read and re-plan (bounded, with jittered backoff). Writes already done are seen by the
//! next read and not repeated, so retries and re-runs converge.

use std::collections::BTreeMap;

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
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    pub results: Vec<FileResult>,
    /// Writes made (planned, on a dry run), in order, as (path, message).
    pub writes: Vec<(String, String)>,
    /// The change set of the last plan (what a dry run would commit).
    pub changes: ChangeSet,
    /// Plans made; more than one means concurrent writers were merged with.
    pub attempts: u32,
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
    let mut wanted: BTreeMap<ProjectName, Vec<String>> = BTreeMap::new();
    for dist in dists {
        let names = wanted.entry(dist.filename.project().clone()).or_default();
        names.push(dist.filename.as_str().to_string());
        if dist.metadata_bytes.is_some() {
            names.push(format!("{}.metadata", dist.filename.as_str()));
        }
    }
    if let Some(limits) = target.size_limits() {
        check_sizes(dists, limits, &location, reporter)?;
    }
    let converged = engine::converge(target, reporter, options.dry_run, |_| {
        let state = read_state(target, &wanted, reporter).map_err(|source| PublishError::Read {
            location: location.clone(),
            source,
        })?;
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
        Ok(Planned {
            changes: plan.changes,
            value: plan.results,
        })
    })?;
    let report = PublishReport {
        results: converged.value,
        writes: if options.dry_run {
            converged.changes.listing()
        } else {
            converged.done
        },
        changes: converged.changes,
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
            state::read_project(target, project, names, reporter)?,
        );
    }
    Ok(IndexState { root, projects })
}
