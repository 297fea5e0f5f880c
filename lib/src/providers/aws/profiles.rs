//! The AWS profile albflip was told to use must exist. The SDK's credentials chain reads the
//! environment's access keys before any profile, so a misspelt profile name would otherwise be ignored
//! silently whenever `AWS_ACCESS_KEY_ID` is set, and the run would act as whoever those keys belong to.
//!
//! The profiles are read with the SDK's own parser (`aws_config::profile::load`), from the files it
//! reads itself: `AWS_CONFIG_FILE` (default `~/.aws/config`) and `AWS_SHARED_CREDENTIALS_FILE` (default
//! `~/.aws/credentials`).

use aws_config::profile::ProfileSet;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

use crate::error::Error;
use crate::input::Input;
use crate::text;

/// How many profile names a message lists before it says how many more there are.
const LISTED: usize = 10;

/// Checks that `profile` is in the AWS config or credentials file, before any call is made.
pub async fn check_exists(profile: &str) -> Result<(), Error> {
    check_in(profile, &Fs::real(), &Env::real()).await
}

/// [`check_exists`] over the given file system and environment.
async fn check_in(profile: &str, fs: &Fs, env: &Env) -> Result<(), Error> {
    let files = files_named(env);
    match aws_config::profile::load(fs, env, &EnvConfigFiles::default(), None).await {
        Ok(set) if set.get_profile(profile).is_some() => Ok(()),
        Ok(set) => Err(not_found(profile, &set, &files)),
        Err(e) => Err(Error::invalid(
            Input::Profile,
            text!({given Input::Profile}, format!(" {profile:?}")),
            format!("the AWS profile files ({files}) cannot be read: {e}"),
            "Fix the file, or use the environment's credentials without naming a profile",
        )),
    }
}

/// The error for a profile that is not there: the files searched and the profiles they hold.
fn not_found(profile: &str, set: &ProfileSet, files: &str) -> Error {
    let mut names: Vec<&str> = set.profiles().collect();
    names.sort_unstable();
    let mut fix = match crate::suggest::closest(profile, &names).first() {
        Some(c) => format!("Did you mean {c:?}? "),
        None => String::new(),
    };
    let fix = if names.is_empty() {
        fix.push_str("Create it (`aws configure`), or leave ");
        text!(fix, {given Input::Profile}, " unset to use the environment's credentials")
    } else {
        let more = names.len().saturating_sub(LISTED);
        let listed = names
            .iter()
            .take(LISTED)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        fix.push_str(&format!("Use one of the profiles there: {listed}{tail}"));
        text!(fix)
    };
    Error::invalid(
        Input::Profile,
        text!({given Input::Profile}, format!(" {profile:?}")),
        format!("no such AWS profile in {files}"),
        fix,
    )
}

/// The two files as the SDK finds them, for the message.
fn files_named(env: &Env) -> String {
    let file = |var: &str, default: &str| {
        env.get(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    format!(
        "{} or {}",
        file("AWS_CONFIG_FILE", "~/.aws/config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(profile: &str, files: &[(&str, &str)]) -> Result<(), Error> {
        let env = Env::from_slice(&[
            ("HOME", "/home/u"),
            ("AWS_CONFIG_FILE", "/cfg"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/creds"),
        ]);
        let fs = Fs::from_slice(files);
        futures_util::FutureExt::now_or_never(check_in(profile, &fs, &env))
            .expect("the files are in memory: no waiting")
    }

    const CONFIG: &str = "[default]\nregion = us-east-1\n[profile staging]\nregion = eu-west-1\n";
    const CREDENTIALS: &str = "[production]\naws_access_key_id = A\naws_secret_access_key = B\n";

    #[test]
    fn a_profile_of_either_file_exists() {
        let files = [("/cfg", CONFIG), ("/creds", CREDENTIALS)];
        for p in ["default", "staging", "production"] {
            assert!(run(p, &files).is_ok(), "{p}");
        }
    }

    #[test]
    fn a_missing_profile_names_the_files_the_profiles_there_and_the_closest() {
        let files = [("/cfg", CONFIG), ("/creds", CREDENTIALS)];
        let e = run("stagign", &files).unwrap_err();
        assert!(matches!(e.kind(), crate::ErrorKind::InvalidInput));
        let m = e.to_string();
        assert!(m.contains("the AWS profile \"stagign\""), "{m}");
        assert!(m.contains("no such AWS profile in /cfg or /creds"), "{m}");
        assert!(m.contains("default, production, staging"), "{m}");
        assert!(m.contains("Did you mean \"staging\"?"), "{m}");
    }

    #[test]
    fn without_files_the_fix_is_to_create_it() {
        let m = run("nope", &[]).unwrap_err().to_string();
        assert!(m.contains("Create it (`aws configure`)"), "{m}");
    }
}
