//! `albflip completions SHELL`: a completion script, from the clap definition.

use clap::CommandFactory;

use crate::args::Cli;
use crate::exit;

/// Prints the completion script for `shell`.
pub fn run(shell: clap_complete::Shell) -> u8 {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "albflip", &mut std::io::stdout());
    exit::SUCCESS
}
