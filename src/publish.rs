//! Running a publish: lock, read the index, plan, apply; on a conflict with a concurrent writer,
//! re-read and re-plan (bounded, with jittered backoff). Writes already done are seen by the
//! next read and not repeated, so retries and re-runs converge.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::dist::DistFile;
use crate::name::ProjectName;
use crate::plan::{self, Content, FileResult, IndexState, PlanError, PlanOptions, Write};
use crate::report::{Event, Reporter};
use crate::state::{self, StateError};
use crate::target::{Expected, SizeLimits, Target, TargetError, Upload};

/// How often a run re-plans after concurrent writers changed the index under it.
const MAX_ATTEMPTS: u32 = 12;

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
    /// Plans made; more than one means concurrent writers were merged with.
    pub attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("could not read the index at {location}")]
    Read {
        location: String,
        #[source]
        source: StateError,
    },
    #[error("refusing to publish to {location}")]
    Plan {
        location: String,
        #[source]
        source: PlanError,
    },
    #[error("could not write `{path}` to the index at {location}")]
    Write {
        location: String,
        path: String,
        #[source]
        source: TargetError,
    },
    #[error(
        "`{}` changed after it was validated (its content is not what was checked); \
         rebuild it and run again", path.display()
    )]
    ChangedAfterValidation { path: std::path::PathBuf },
    #[error(
        "gave up after {attempts} attempts: other runs kept changing the index at {location} \
         (last conflict on `{path}`); run again"
    )]
    TooManyConflicts {
        location: String,
        path: String,
        attempts: u32,
    },
    #[error(
        "`{filename}` is not on the index at {location}; `gt4py-publish list PROJECT` shows what is"
    )]
    NotOnIndex { location: String, filename: String },
    #[error("`{filename}` is not a distribution filename (index at {location})")]
    BadFilename {
        location: String,
        filename: String,
        #[source]
        source: crate::filename::FilenameError,
    },
    #[error(
        "`{}` is {size} bytes, more than the {max} bytes {location} accepts; nothing was \
         published", path.display()
    )]
    TooLarge {
        path: std::path::PathBuf,
        size: u64,
        max: u64,
        location: String,
    },
    #[error(
        "there is no index at {location}; check the path (or --repo/--branch), or publish a file first"
    )]
    NoIndex { location: String },
    #[error(
        "the yank reason \"{reason}\" has control characters (line breaks, tabs); give a one-line reason"
    )]
    BadYankReason { reason: String },
    #[error("could not lock the index at {location}")]
    Lock {
        location: String,
        #[source]
        source: TargetError,
    },
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
    let mut report = PublishReport::default();
    converge(target, reporter, |attempt| {
        report.attempts = attempt;
        report.writes.clear();
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
        if options.dry_run {
            report.writes = plan
                .writes
                .iter()
                .map(|w| (w.path.clone(), w.message.clone()))
                .collect();
        } else {
            apply(target, dists, &plan.writes, reporter, &mut report.writes)?;
        }
        report.results = plan.results;
        Ok(())
    })?;
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

/// Runs `step` (read the index, plan, apply) until it completes without meeting a concurrent
/// writer. A conflict means the state `step` planned from is stale: it is read again, so the
/// writes that did land are seen and not repeated.
pub(crate) fn converge<T>(
    target: &dyn Target,
    reporter: &dyn Reporter,
    mut step: impl FnMut(u32) -> Result<T, PublishError>,
) -> Result<T, PublishError> {
    let mut last_conflict = String::new();
    for attempt in 1..=MAX_ATTEMPTS {
        match step(attempt) {
            Err(PublishError::Write {
                path,
                source: TargetError::Conflict { detail, .. },
                ..
            }) => {
                let delay = backoff(attempt);
                reporter.event(Event::Waiting {
                    reason: &format!(
                        "another run changed `{path}` ({detail}); re-reading the index and merging"
                    ),
                    delay: Some(delay),
                });
                std::thread::sleep(delay);
                last_conflict = path;
            }
            other => return other,
        }
    }
    Err(PublishError::TooManyConflicts {
        location: target.location(),
        path: last_conflict,
        attempts: MAX_ATTEMPTS,
    })
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

/// Applies `writes` in order, recording each one done in `done` as (path, message).
pub(crate) fn apply(
    target: &dyn Target,
    dists: &[DistFile],
    writes: &[Write],
    reporter: &dyn Reporter,
    done: &mut Vec<(String, String)>,
) -> Result<(), PublishError> {
    let location = target.location();
    // Log groups per distribution (its file and `.metadata`), so CI logs fold per file.
    let mut group: Option<String> = None;
    let result = (|| {
        for write in writes {
            let file = write.path.rsplit('/').next().unwrap_or(&write.path);
            let this_group = (matches!(write.content, Content::Dist(_))
                || file.ends_with(".metadata"))
            .then(|| file.trim_end_matches(".metadata").to_string());
            if this_group != group {
                if let Some(open) = group.take() {
                    reporter.event(Event::FileFinished(&open));
                }
                if let Some(name) = &this_group {
                    reporter.event(Event::FileStarted(name));
                }
                group = this_group;
            }
            apply_one(target, dists, write, reporter, done, &location)?;
        }
        Ok(())
    })();
    if let Some(open) = group {
        reporter.event(Event::FileFinished(&open));
    }
    result
}

fn apply_one(
    target: &dyn Target,
    dists: &[DistFile],
    write: &Write,
    reporter: &dyn Reporter,
    done: &mut Vec<(String, String)>,
    location: &str,
) -> Result<(), PublishError> {
    {
        let (upload, want_sha, dist) = match &write.content {
            Content::Dist(i) => {
                let Some(dist) = dists.get(*i) else {
                    return Ok(());
                };
                (
                    Upload::File {
                        path: &dist.path,
                        len: dist.digests.size,
                        sha: &dist.digests.blob_sha,
                    },
                    Some(&dist.digests.blob_sha),
                    Some(dist),
                )
            }
            Content::Bytes(bytes) => (Upload::Bytes(bytes), None, None),
            Content::Delete => {
                let Expected::Sha(sha) = &write.expected else {
                    return Ok(());
                };
                reporter.event(Event::Detail(&format!("deleting {}", write.path)));
                target
                    .delete_file(&write.path, sha, &write.message)
                    .map_err(|source| PublishError::Write {
                        location: location.to_string(),
                        path: write.path.clone(),
                        source,
                    })?;
                reporter.event(Event::Step(&format!("deleted {}", write.path)));
                done.push((write.path.clone(), write.message.clone()));
                return Ok(());
            }
        };
        reporter.event(Event::Detail(&format!(
            "writing {} ({} bytes)",
            write.path,
            upload.len()
        )));
        let sha = target
            .put_file(&write.path, upload, &write.expected, &write.message)
            .map_err(|source| PublishError::Write {
                location: location.to_string(),
                path: write.path.clone(),
                source,
            })?;
        if let (Some(want), Some(dist)) = (want_sha, dist)
            && *want != sha
        {
            return Err(PublishError::ChangedAfterValidation {
                path: dist.path.clone(),
            });
        }
        reporter.event(Event::Step(&format!("wrote {}", write.path)));
        done.push((write.path.clone(), write.message.clone()));
    }
    Ok(())
}

/// Exponential backoff with full jitter, so racing runs do not retry in lockstep.
fn backoff(attempt: u32) -> Duration {
    let cap_ms = 200u64.saturating_mul(1 << attempt.min(5)).min(5_000);
    Duration::from_millis(cap_ms / 2 + fastrand::u64(0..=cap_ms / 2))
}
