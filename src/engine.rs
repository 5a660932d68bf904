//! The one commit engine every writing command runs on: take a snapshot of the index, let a pure
//! planner turn it into a change set, commit that set, and when the store reports that the index
//! moved under the plan (a compare-and-swap conflict, a ref that is no longer a fast forward),
//! take a new snapshot and plan again — bounded, with one jittered backoff. Changes committed by
//! an earlier attempt are in the next snapshot, so they are planned as done, not repeated.

use std::time::Duration;

use crate::change::ChangeSet;
use crate::report::{Event, Reporter};
use crate::state::StateError;
use crate::target::{CommitError, Snapshot, Target, TargetError};

/// How often a run re-plans after concurrent writers changed the index under it.
pub const MAX_ATTEMPTS: u32 = 12;

/// The errors of every command that reads and writes an index.
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
        source: crate::plan::PlanError,
    },
    #[error("could not write `{path}` to the index at {location}")]
    Write {
        location: String,
        path: String,
        #[source]
        source: TargetError,
    },
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
        "`{}` is {size} bytes, more than the {max} bytes {location} accepts in one upload \
         (GitHub cuts request bodies off near 40 MB and a file travels base64-encoded; \
         --max-blob-size sets the ceiling); nothing was published", path.display()
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
    #[error(
        "{location} has no release to store large files in; store them in the repository \
         (--store repo, within --max-blob-size) or publish to a GitHub repository"
    )]
    NoAssetStore { location: String },
    #[error(
        "publishing would make the GitHub Pages site of {location} {total_mb:.0} MB, above \
         Pages' 1 GB limit; store large files as release assets (--store release), remove old \
         files, or pass --allow-over-budget"
    )]
    OverBudget { location: String, total_mb: f64 },
    #[error(
        "internal error: {what}; nothing more was written. Please report this at \
         https://github.com/GridTools/gt4py-publish/issues"
    )]
    Internal { what: String },
}

impl PublishError {
    pub fn read(target: &dyn Target, source: impl Into<StateError>) -> PublishError {
        PublishError::Read {
            location: target.location(),
            source: source.into(),
        }
    }
}

/// What a planner decided in one attempt: the changes, and what to tell the user about them.
pub struct Planned<T> {
    pub changes: ChangeSet,
    pub value: T,
}

/// What a run did.
#[derive(Debug)]
pub struct Converged<T> {
    pub value: T,
    /// The change set of the last plan (what was committed, or would be on a dry run).
    pub changes: ChangeSet,
    /// (path, message) of every change committed (empty on a dry run).
    pub done: Vec<(String, String)>,
    /// Plans made; more than one means concurrent writers were merged with.
    pub attempts: u32,
    /// The snapshot the last plan was made from.
    pub snapshot: Snapshot,
}

/// Runs `plan` against fresh snapshots until its change set commits without meeting a
/// concurrent writer (or, on a dry run, once without committing).
pub fn converge<T>(
    target: &dyn Target,
    reporter: &dyn Reporter,
    dry_run: bool,
    plan: impl FnMut(u32) -> Result<Planned<T>, PublishError>,
) -> Result<Converged<T>, PublishError> {
    converge_with(target, reporter, dry_run, Replan::default(), plan)
}

/// How re-planning backs off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replan {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Replan {
    /// Short at first (the other run is usually done in a moment), then longer.
    fn default() -> Self {
        Replan {
            max_attempts: MAX_ATTEMPTS,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

/// [`converge`] with its own backoff.
pub fn converge_with<T>(
    target: &dyn Target,
    reporter: &dyn Reporter,
    dry_run: bool,
    replan: Replan,
    mut plan: impl FnMut(u32) -> Result<Planned<T>, PublishError>,
) -> Result<Converged<T>, PublishError> {
    let location = target.location();
    let mut last_conflict = String::new();
    // Changes an attempt committed before it met a conflict are real writes: reported too.
    let mut committed: Vec<(String, String)> = Vec::new();
    for attempt in 1..=replan.max_attempts {
        let snapshot = target
            .snapshot()
            .map_err(|source| PublishError::read(target, source))?;
        if let Some(commit) = &snapshot.commit {
            reporter.event(Event::Detail(&format!(
                "planning from commit {commit} (attempt {attempt})"
            )));
        }
        let Planned { changes, value } = plan(attempt)?;
        if dry_run || changes.is_empty() {
            return Ok(Converged {
                value,
                changes,
                done: committed,
                attempts: attempt,
                snapshot,
            });
        }
        match target.commit(&changes, reporter) {
            Ok(done) => {
                committed.extend(done);
                return Ok(Converged {
                    value,
                    changes,
                    done: committed,
                    attempts: attempt,
                    snapshot,
                });
            }
            Err(CommitError {
                path,
                source: TargetError::Conflict { detail, .. },
                done,
            }) => {
                committed.extend(done);
                let delay = crate::backoff::jittered(
                    replan.base_delay,
                    replan.max_delay,
                    attempt.saturating_sub(1),
                );
                reporter.event(Event::Waiting {
                    reason: &format!(
                        "another run changed `{path}` ({detail}); re-reading the index and merging"
                    ),
                    delay: Some(delay),
                });
                std::thread::sleep(delay);
                last_conflict = path;
            }
            Err(CommitError { path, source, .. }) => {
                return Err(PublishError::Write {
                    location,
                    path,
                    source,
                });
            }
        }
    }
    Err(PublishError::TooManyConflicts {
        location,
        path: last_conflict,
        attempts: replan.max_attempts,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::change::{Change, Content, Expected};
    use crate::report::NullReporter as Silent;
    use crate::target::{BlobSha, DirEntry, RunLock, StoredFile, Upload};

    /// A store whose commits fail with a conflict a given number of times, then succeed.
    struct Flaky {
        conflicts_left: AtomicU32,
        snapshots: AtomicU32,
        committed: Mutex<Vec<ChangeSet>>,
        fail_hard: bool,
    }

    impl Target for Flaky {
        fn location(&self) -> String {
            "flaky".into()
        }
        fn lock(&self) -> Result<Box<dyn RunLock>, TargetError> {
            unimplemented!()
        }
        fn list_dir(&self, _: &str) -> Result<Option<Vec<DirEntry>>, TargetError> {
            Ok(None)
        }
        fn read_file(&self, _: &str) -> Result<Option<StoredFile>, TargetError> {
            Ok(None)
        }
        fn file_sha(&self, _: &str) -> Result<Option<BlobSha>, TargetError> {
            Ok(None)
        }
        fn open_file(&self, _: &str) -> Result<Option<Box<dyn Read + '_>>, TargetError> {
            Ok(None)
        }
        fn put_file(
            &self,
            _: &str,
            _: Upload<'_>,
            _: &Expected,
            _: &str,
        ) -> Result<BlobSha, TargetError> {
            unimplemented!()
        }
        fn delete_file(&self, _: &str, _: &BlobSha, _: &str) -> Result<(), TargetError> {
            unimplemented!()
        }
        fn snapshot(&self) -> Result<Snapshot, TargetError> {
            let n = self.snapshots.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Snapshot {
                commit: Some(format!("{n:040}")),
            })
        }
        fn commit(
            &self,
            changes: &ChangeSet,
            _: &dyn Reporter,
        ) -> Result<Vec<(String, String)>, CommitError> {
            let path = changes.changes[0].path.clone();
            if self.fail_hard {
                return Err(CommitError {
                    path,
                    source: TargetError::UnsafePath { path: "x".into() },
                    done: Vec::new(),
                });
            }
            if self.conflicts_left.load(Ordering::SeqCst) > 0 {
                self.conflicts_left.fetch_sub(1, Ordering::SeqCst);
                // The first change landed before the conflict.
                return Err(CommitError {
                    path: path.clone(),
                    source: TargetError::Conflict {
                        path: path.clone(),
                        detail: "moved".into(),
                    },
                    done: vec![(format!("{path}.partial"), "landed".into())],
                });
            }
            self.committed.lock().unwrap().push(changes.clone());
            Ok(changes.listing())
        }
    }

    fn flaky(conflicts: u32) -> Flaky {
        Flaky {
            conflicts_left: AtomicU32::new(conflicts),
            snapshots: AtomicU32::new(0),
            committed: Mutex::new(Vec::new()),
            fail_hard: false,
        }
    }

    fn one_change(attempt: u32) -> Result<Planned<u32>, PublishError> {
        let mut changes = ChangeSet::new("t");
        changes.push(Change {
            path: "a".into(),
            content: Content::Bytes(vec![1]),
            expected: Expected::Absent,
            message: format!("attempt {attempt}"),
        });
        Ok(Planned {
            changes,
            value: attempt,
        })
    }

    #[test]
    fn conflicts_replan_from_a_new_snapshot() {
        let store = flaky(2);
        let out = converge(&store, &Silent, false, one_change).unwrap();
        assert_eq!(out.attempts, 3);
        assert_eq!(out.value, 3);
        assert_eq!(
            store.snapshots.load(Ordering::SeqCst),
            3,
            "one snapshot per plan"
        );
        assert_eq!(out.snapshot.commit.as_deref(), Some(&*format!("{:040}", 3)));
        assert_eq!(store.committed.lock().unwrap().len(), 1);
        // What the failed attempts committed before their conflict is reported too.
        assert_eq!(
            out.done,
            [
                ("a.partial".to_string(), "landed".to_string()),
                ("a.partial".to_string(), "landed".to_string()),
                ("a".to_string(), "attempt 3".to_string())
            ]
        );
    }

    #[test]
    fn dry_runs_and_empty_plans_commit_nothing() {
        let store = flaky(0);
        let out = converge(&store, &Silent, true, one_change).unwrap();
        assert_eq!(out.changes.len(), 1);
        assert!(out.done.is_empty());
        let out = converge(&store, &Silent, false, |_| {
            Ok(Planned {
                changes: ChangeSet::new("nothing"),
                value: (),
            })
        })
        .unwrap();
        assert!(out.done.is_empty());
        assert!(store.committed.lock().unwrap().is_empty());
    }

    #[test]
    fn other_errors_end_the_run_and_endless_conflicts_give_up() {
        let mut store = flaky(0);
        store.fail_hard = true;
        let err = converge(&store, &Silent, false, one_change).unwrap_err();
        assert!(matches!(err, PublishError::Write { .. }), "{err}");
        assert_eq!(store.snapshots.load(Ordering::SeqCst), 1);

        let store = flaky(u32::MAX);
        let fast = Replan {
            max_attempts: 5,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let err = converge_with(&store, &Silent, false, fast, one_change).unwrap_err();
        assert!(
            matches!(err, PublishError::TooManyConflicts { attempts: 5, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("last conflict on `a`"), "{err}");
        assert_eq!(store.snapshots.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn planner_errors_stop_at_once() {
        let store = flaky(0);
        let err = converge(&store, &Silent, false, |_| -> Result<Planned<()>, _> {
            Err(PublishError::NoIndex {
                location: "x".into(),
            })
        })
        .unwrap_err();
        assert!(matches!(err, PublishError::NoIndex { .. }));
    }
}
