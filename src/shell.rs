//! Shell integration: completions and the man page, from the clap definition.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::args::Cli;
use crate::exit;

pub fn print_completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "albflip", &mut std::io::stdout());
    ExitCode::from(exit::SUCCESS)
}

pub fn print_man() -> ExitCode {
    match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(e) => {
            eprintln!("albflip: error: cannot write the man page: {e}");
            ExitCode::from(exit::RUNTIME)
        }
    }
}
