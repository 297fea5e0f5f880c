//! `albflip man`: the man page (roff), from the clap definition.

use clap::CommandFactory;

use crate::args::Cli;
use crate::exit;

/// Prints the man page (a reader that stops early is not an error).
pub fn run() -> u8 {
    let mut page = Vec::new();
    match clap_mangen::Man::new(Cli::command()).render(&mut page) {
        Ok(()) => super::completions::write_out(&page, "the man page"),
        Err(e) => {
            eprintln!("albflip: error: cannot write the man page: {e}");
            exit::RUNTIME
        }
    }
}
