//! `albflip man`: the man page (roff), from the clap definition; with `--dir`, a page per subcommand.

use crate::exit;

/// Prints the main man page (a reader that stops early is not an error), or writes every page into
/// `dir`.
pub fn run(dir: Option<&std::path::Path>) -> u8 {
    if let Some(dir) = dir {
        return write_all(dir);
    }
    let mut page = Vec::new();
    match clap_mangen::Man::new(crate::usage::command()).render(&mut page) {
        Ok(()) => super::completions::write_out(&page, "the man page"),
        Err(e) => {
            eprintln!("albflip: error: cannot write the man page: {e}");
            exit::RUNTIME
        }
    }
}

/// albflip.1 and albflip-SUBCOMMAND.1 for every subcommand, into `dir`.
fn write_all(dir: &std::path::Path) -> u8 {
    match clap_mangen::generate_to(crate::usage::command(), dir) {
        Ok(()) => {
            println!("man pages written to {}", dir.display());
            exit::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "albflip: error: cannot write the man pages into {}: {e}. Nothing else was changed; create the folder or name another with --dir",
                dir.display()
            );
            exit::RUNTIME
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 21: every page the main page names exists.
    #[test]
    fn every_subcommand_gets_the_page_the_main_one_names() {
        let dir = std::env::temp_dir().join(format!("albflip-man-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(write_all(&dir), exit::SUCCESS);
        let mut main = Vec::new();
        clap_mangen::Man::new(crate::usage::command())
            .render(&mut main)
            .unwrap();
        let main = String::from_utf8_lossy(&main);
        for sub in crate::usage::command().get_subcommands() {
            let page = dir.join(format!("albflip-{}.1", sub.get_name()));
            assert!(page.exists(), "{} missing", page.display());
            let named = format!("albflip-{}(1)", sub.get_name()).replace('-', "\\-");
            assert!(main.contains(&named), "main page names {named}");
        }
        assert!(dir.join("albflip.1").exists());
        // Each page lists the options of its subcommand only.
        let page =
            |sub: &str| std::fs::read_to_string(dir.join(format!("albflip-{sub}.1"))).unwrap();
        assert!(page("rollback").contains("keep\\-stickiness"));
        assert!(!page("status").contains("keep\\-stickiness"));
        assert!(!page("completions").contains("listener\\-arn"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
