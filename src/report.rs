//! Progress and diagnostics. The core logic reports through the small [`Reporter`] trait and
//! never prints, so the same run can drive a terminal (indicatif bars), a CI log (plain lines),
//! or a test that records what happened.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How much the user wants to hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Warnings and errors only.
    Quiet,
    /// One line per step that changes something.
    Normal,
    /// Also every read, request and retry.
    Verbose,
}

/// Something that happened during a run.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A step the user normally sees ("validated dist/x.whl", "wrote dace/index.html").
    Step(&'a str),
    /// A detail for `--verbose` (requests, reads, plans).
    Detail(&'a str),
    /// Something the user should act on that does not stop the run.
    Warning(&'a str),
    /// The run is waiting (for a lock held by another run, a rate limit, a retry backoff).
    Waiting {
        reason: &'a str,
        delay: Option<Duration>,
    },
    /// Work on one distribution file begins; CI reporters open a log group.
    FileStarted(&'a str),
    /// Work on one distribution file ends.
    FileFinished(&'a str),
}

/// Where progress goes.
pub trait Reporter: Sync {
    fn event(&self, event: Event<'_>);

    /// Starts a byte-counted transfer (hashing, uploading); it ends when the handle is dropped.
    fn transfer(&self, label: &str, total: u64) -> Box<dyn Transfer + '_>;
}

/// A running byte count, as a progress bar on a terminal.
pub trait Transfer {
    fn advance(&self, bytes: u64);
}

/// A reporter that drops everything (library callers that want silence).
pub struct NullReporter;

impl Reporter for NullReporter {
    fn event(&self, _: Event<'_>) {}
    fn transfer(&self, _: &str, _: u64) -> Box<dyn Transfer + '_> {
        Box::new(NoTransfer)
    }
}

struct NoTransfer;

impl Transfer for NoTransfer {
    fn advance(&self, _: u64) {}
}

/// The reporter for people and CI logs: indicatif bars when stderr is a terminal, otherwise
/// plain lines (bars would be invisible in a CI log, and their redraws would be noise).
pub struct ConsoleReporter {
    verbosity: Verbosity,
    bars: Option<MultiProgress>,
    // Plain lines from several threads (the local target hashes in parallel) must not interleave.
    plain: Mutex<()>,
}

/// Transfers smaller than this finish too fast for a bar to help.
const MIN_BAR_BYTES: u64 = 4 * 1024 * 1024;

impl ConsoleReporter {
    pub fn new(verbosity: Verbosity) -> Self {
        let interactive = std::io::stderr().is_terminal() && verbosity != Verbosity::Quiet;
        Self::with_bars(verbosity, interactive)
    }

    /// `interactive` forces bars on or off (tests, `--no-progress`).
    pub fn with_bars(verbosity: Verbosity, interactive: bool) -> Self {
        let bars = interactive
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)));
        Self {
            verbosity,
            bars,
            plain: Mutex::new(()),
        }
    }

    fn line(&self, text: &str) {
        match &self.bars {
            Some(multi) => {
                // println fails only when stderr is gone; there is nobody left to tell.
                let _ = multi.println(text);
            }
            None => {
                let _guard = self.plain.lock();
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }
}

impl Reporter for ConsoleReporter {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Step(text) if self.verbosity >= Verbosity::Normal => self.line(text),
            Event::Detail(text) if self.verbosity >= Verbosity::Verbose => self.line(text),
            Event::Warning(text) => self.line(&format!("warning: {text}")),
            Event::Waiting { reason, delay } if self.verbosity >= Verbosity::Normal => {
                match delay {
                    Some(d) => self.line(&format!("waiting {:.1}s: {reason}", d.as_secs_f64())),
                    None => self.line(&format!("waiting: {reason}")),
                }
            }
            _ => {}
        }
    }

    fn transfer(&self, label: &str, total: u64) -> Box<dyn Transfer + '_> {
        match &self.bars {
            Some(multi) if total >= MIN_BAR_BYTES => {
                let bar = multi.add(ProgressBar::new(total));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_message(label.to_string());
                Box::new(BarTransfer { bar })
            }
            _ => Box::new(NoTransfer),
        }
    }
}

struct BarTransfer {
    bar: ProgressBar,
}

impl Transfer for BarTransfer {
    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
    }
}

impl Drop for BarTransfer {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The reporter for GitHub Actions logs (`GITHUB_ACTIONS=true`): plain lines, a collapsible
/// `::group::` per file, and warnings as `::warning::` annotations that show on the run's page.
/// No progress bars: the log is not a terminal.
pub struct ActionsReporter {
    verbosity: Verbosity,
    out: Mutex<Box<dyn Write + Send>>,
}

impl ActionsReporter {
    pub fn new(verbosity: Verbosity) -> Self {
        Self::with_output(verbosity, Box::new(std::io::stderr()))
    }

    pub fn with_output(verbosity: Verbosity, out: Box<dyn Write + Send>) -> Self {
        Self {
            verbosity,
            out: Mutex::new(out),
        }
    }

    fn line(&self, text: &str) {
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{text}");
        }
    }
}

/// Escapes a workflow-command message (`%`, CR and LF would end or corrupt the command).
pub fn escape_workflow_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value (also `:` and `,`, which separate properties).
pub fn escape_workflow_property(text: &str) -> String {
    escape_workflow_data(text)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

impl Reporter for ActionsReporter {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Step(text) if self.verbosity >= Verbosity::Normal => self.line(text),
            Event::Detail(text) if self.verbosity >= Verbosity::Verbose => self.line(text),
            Event::Warning(text) => {
                self.line(&format!("::warning::{}", escape_workflow_data(text)))
            }
            Event::Waiting { reason, delay } => match delay {
                Some(d) => self.line(&format!("waiting {:.1}s: {reason}", d.as_secs_f64())),
                None => self.line(&format!("waiting: {reason}")),
            },
            Event::FileStarted(name) => {
                self.line(&format!("::group::{}", escape_workflow_data(name)))
            }
            Event::FileFinished(_) => self.line("::endgroup::"),
            _ => {}
        }
    }

    fn transfer(&self, _: &str, _: u64) -> Box<dyn Transfer + '_> {
        Box::new(NoTransfer)
    }
}

/// A reporter that keeps every event, for tests.
#[derive(Default)]
pub struct RecordingReporter {
    events: Mutex<Vec<String>>,
}

impl RecordingReporter {
    pub fn events(&self) -> Vec<String> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Reporter for RecordingReporter {
    fn event(&self, event: Event<'_>) {
        let text = match event {
            Event::Step(t) => format!("step: {t}"),
            Event::Detail(t) => format!("detail: {t}"),
            Event::Warning(t) => format!("warning: {t}"),
            Event::Waiting { reason, .. } => format!("waiting: {reason}"),
            Event::FileStarted(f) => format!("start: {f}"),
            Event::FileFinished(f) => format!("finish: {f}"),
        };
        if let Ok(mut events) = self.events.lock() {
            events.push(text);
        }
    }

    fn transfer(&self, _: &str, _: u64) -> Box<dyn Transfer + '_> {
        Box::new(NoTransfer)
    }
}
