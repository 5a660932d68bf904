//! The `gt4py-publish` binary: parse arguments, pick the reporter, run, render errors with their
//! causes (cargo style), and map the outcome to an exit code.

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use gt4py_publish::cli::{Cli, with_default_command};
use gt4py_publish::report::{
    ActionsReporter, ConsoleReporter, Reporter, Verbosity, escape_workflow_data,
    escape_workflow_property,
};
use gt4py_publish::run::{RunError, run};
use gt4py_publish::{actions, error_chain};

fn main() -> ExitCode {
    let cli = Cli::parse_from(with_default_command(std::env::args_os()));
    let verbosity = if cli.output.quiet {
        Verbosity::Quiet
    } else if cli.output.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let in_actions = actions::in_actions();
    let reporter: Box<dyn Reporter> = if in_actions {
        Box::new(ActionsReporter::new(verbosity))
    } else {
        Box::new(ConsoleReporter::new(verbosity))
    };
    let mut stdout = std::io::stdout().lock();
    match run(cli, reporter.as_ref(), &mut stdout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is_closed_pipe() => ExitCode::SUCCESS,
        Err(error) => {
            drop(stdout);
            render(&error, in_actions);
            ExitCode::FAILURE
        }
    }
}

/// cargo-style: `error: what failed`, then the chain of causes; in GitHub Actions also one
/// `::error` annotation per refused file, so the run's page shows which file and why.
fn render(error: &RunError, in_actions: bool) {
    if let RunError::Invalid { errors, .. } = error {
        for refused in errors {
            print_chain(refused);
            if in_actions {
                let _ = writeln!(
                    std::io::stderr(),
                    "::error file={}::{}",
                    escape_workflow_property(&refused.path.display().to_string()),
                    escape_workflow_data(&chain_text(refused))
                );
            }
        }
    } else if in_actions {
        let _ = writeln!(
            std::io::stderr(),
            "::error::{}",
            escape_workflow_data(&chain_text(error))
        );
    }
    print_chain(error);
}

fn chain_text(error: &dyn Error) -> String {
    error_chain::one_line(error)
}

fn print_chain(error: &dyn Error) {
    // Written, not `eprintln!`: a closed stderr must not turn an error into a panic.
    let _ = std::io::stderr().write_all(error_chain::report(error).as_bytes());
}
