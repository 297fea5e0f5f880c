//! `albflip completions SHELL`: a completion script, from the clap definition.

use crate::exit;

/// Prints the completion script for `shell`. A reader that stops early (`| head -1`) is not an error.
pub fn run(shell: clap_complete::Shell) -> u8 {
    let mut cmd = crate::usage::for_completions();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "albflip", &mut script);
    write_out(&script, "the completion script")
}

/// Writes `bytes` to stdout: a closed pipe ends the output quietly (exit 0), any other failure is a
/// runtime error naming `what`.
pub fn write_out(bytes: &[u8], what: &str) -> u8 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => exit::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::SUCCESS,
        Err(e) => {
            eprintln!("albflip: error: cannot write {what}: {e}");
            exit::RUNTIME
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn every_shell_gets_a_script() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh] {
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut crate::usage::for_completions(),
                "albflip",
                &mut script,
            );
            assert!(String::from_utf8_lossy(&script).contains("albflip"));
        }
    }

    /// Issue 21: the colors, strategies and output formats are completed, not only the flag names.
    #[test]
    fn value_flags_complete_their_values() {
        let mut script = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Fish,
            &mut crate::usage::for_completions(),
            "albflip",
            &mut script,
        );
        let script = String::from_utf8_lossy(&script);
        for (flag, values) in [
            // Fish lists one value a line: the flag's line holds the first.
            ("-l target", ["\"blue"]),
            ("-l to", ["\"blue"]),
            ("-l strategy", ["\"gradual"]),
            ("-l output", ["\"text"]),
        ] {
            let completes = script
                .lines()
                .any(|l| l.contains(flag) && values.iter().all(|v| l.contains(v)));
            assert!(completes, "{flag} does not complete {values:?}");
        }
    }
}
