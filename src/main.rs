//! The `gt4py-publish` binary: parse arguments, run, render errors with their causes.

use std::error::Error;
use std::process::ExitCode;

use clap::Parser;
use gt4py_publish::cli::{Cli, with_default_command};
use gt4py_publish::report::{ConsoleReporter, Verbosity};
use gt4py_publish::run::{RunError, run};

fn main() -> ExitCode {
    let cli = Cli::parse_from(with_default_command(std::env::args_os()));
    let verbosity = if cli.output.quiet {
        Verbosity::Quiet
    } else if cli.output.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let reporter = ConsoleReporter::new(verbosity);
    let mut stdout = std::io::stdout().lock();
    match run(cli, &reporter, &mut stdout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            drop(stdout);
            render(&error);
            ExitCode::FAILURE
        }
    }
}

/// cargo-style: `error: what failed`, then the chain of causes.
fn render(error: &RunError) {
    if let RunError::Invalid { errors, .. } = error {
        for refused in errors {
            print_chain(refused);
        }
    }
    print_chain(error);
}

fn print_chain(error: &dyn Error) {
    eprintln!("error: {error}");
    let mut source = error.source();
    if source.is_some() {
        eprintln!();
        eprintln!("Caused by:");
    }
    while let Some(cause) = source {
        eprintln!("  {cause}");
        source = cause.source();
    }
}
