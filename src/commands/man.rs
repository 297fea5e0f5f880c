//! `albflip man`: the man page (roff), from the clap definition.

use clap::CommandFactory;

use crate::args::Cli;
use crate::exit;

/// Prints the man page.
pub fn run() -> u8 {
    match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
        Ok(()) => exit::SUCCESS,
        Err(e) => {
            eprintln!("albflip: error: cannot write the man page: {e}");
            exit::RUNTIME
        }
    }
}
