//! nginx's settings: the upstream file albflip owns, the upstream in it and each color's servers, the
//! access log, the test and reload commands, the pid file and the health path, from flags (and their
//! `ALBFLIP_*` variables) over albflip.toml `[nginx]`, and the state directory; validated here (usage
//! errors, exit 2) before anything is touched.

use std::path::{Path, PathBuf};

use albflip::config::FileConfig;
use albflip::haproxy::ServerColors;
use albflip::local::{StateDir, StateFile, DEFAULT_STATE_DIR};
use albflip::nginx::control::{DEFAULT_PID_FILE, DEFAULT_RELOAD, DEFAULT_TEST};
use albflip::nginx::{AccessLog, Control, Nginx, NginxTarget};
use albflip::Error;

use super::local::{LocalRouter, LocalSettings};
use crate::args::{GlobalArgs, TargetArgs};

/// The health path when none is given.
pub const DEFAULT_HEALTH_PATH: &str = "/";

/// nginx as the CLI drives it.
pub struct NginxRouter {
    provider: Nginx,
    target: NginxTarget,
    log: AccessLog,
    control: Control,
}

fn missing(flag: &str, key: &str, example: &str) -> Error {
    Error::InvalidInput {
        what: flag.into(),
        why: "is needed with --router nginx".into(),
        fix: format!("Pass {flag} {example} (or [nginx] {key} in albflip.toml)"),
    }
}

/// A comma-separated list of servers.
fn servers(text: &str) -> Vec<String> {
    text.split(',').map(|s| s.trim().to_string()).collect()
}

/// A path relative to the directory albflip runs in.
fn absolute(path: PathBuf, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        path
    } else {
        cwd.join(path)
    }
}

/// Flags over the file; the settings every local router shares and nginx's own.
pub fn resolve(
    g: &GlobalArgs,
    t: &TargetArgs,
    cwd: &Path,
) -> Result<(LocalSettings, NginxRouter), Error> {
    let (file, _) = FileConfig::load(g.config.as_deref(), cwd)?;
    let n = &file.nginx;
    let upstream_file = g
        .nginx_upstream_file
        .clone()
        .or(n.upstream_file.clone())
        .map(|p| absolute(p, cwd))
        .ok_or_else(|| {
            missing(
                "--nginx-upstream-file",
                "upstream-file",
                "/etc/nginx/albflip/app-upstream.conf",
            )
        })?;
    let upstream = g
        .nginx_upstream
        .clone()
        .or(n.upstream.clone())
        .ok_or_else(|| missing("--nginx-upstream", "upstream", "NAME"))?;
    let access_log = g
        .nginx_access_log
        .clone()
        .or(n.access_log.clone())
        .map(|p| absolute(p, cwd))
        .ok_or_else(|| {
            missing(
                "--nginx-access-log",
                "access-log",
                "/var/log/nginx/albflip.log",
            )
        })?;
    let blue = t
        .blue
        .as_deref()
        .map(servers)
        .or(n.blue.clone())
        .ok_or_else(|| missing("--blue", "blue", "HOST:PORT[,HOST:PORT...]"))?;
    let green = t
        .green
        .as_deref()
        .map(servers)
        .or(n.green.clone())
        .ok_or_else(|| missing("--green", "green", "HOST:PORT[,HOST:PORT...]"))?;
    let target = NginxTarget {
        file: upstream_file,
        upstream,
        colors: ServerColors { blue, green },
    };
    target.check()?;
    let control = Control {
        test: g
            .nginx_test_command
            .clone()
            .or(n.test_command.clone())
            .unwrap_or_else(|| DEFAULT_TEST.into()),
        reload: g
            .nginx_reload_command
            .clone()
            .or(n.reload_command.clone())
            .unwrap_or_else(|| DEFAULT_RELOAD.into()),
        pid_file: g
            .nginx_pid_file
            .clone()
            .or(n.pid_file.clone())
            .map(|p| absolute(p, cwd))
            .unwrap_or_else(|| DEFAULT_PID_FILE.into()),
    };
    for (flag, command) in [
        ("--nginx-test-command", &control.test),
        ("--nginx-reload-command", &control.reload),
    ] {
        if command.trim().is_empty() {
            return Err(Error::InvalidInput {
                what: flag.into(),
                why: "is empty".into(),
                fix: format!("Leave {flag} out for the default, or give the command to run"),
            });
        }
    }
    let health_path = g
        .health_path
        .clone()
        .or(n.health_path.clone())
        .unwrap_or_else(|| DEFAULT_HEALTH_PATH.into());
    if !health_path.starts_with('/') {
        return Err(Error::InvalidInput {
            what: format!("--health-path {health_path:?}"),
            why: "is not a path".into(),
            fix:
                "Give the path the servers answer health probes on, starting with / (e.g. /health)"
                    .into(),
        });
    }
    let state_dir = StateDir::new(
        g.state_dir
            .clone()
            .or(n.state_dir.clone())
            .unwrap_or_else(|| DEFAULT_STATE_DIR.into()),
    );
    let local = LocalSettings::resolve(g, file, state_dir)?;
    let servers: Vec<String> = target
        .colors
        .blue
        .iter()
        .chain(&target.colors.green)
        .cloned()
        .collect();
    let log = AccessLog::new(access_log).naming(&servers);
    let router = NginxRouter {
        provider: Nginx::new(
            control.clone(),
            health_path,
            StateFile::new(local.state_dir.clone()),
        ),
        target,
        log,
        control,
    };
    Ok((local, router))
}

impl LocalRouter for NginxRouter {
    type Provider = Nginx;
    type Counters = AccessLog;

    fn provider(&self) -> &Nginx {
        &self.provider
    }

    fn target(&self) -> &NginxTarget {
        &self.target
    }

    fn counters(&self) -> AccessLog {
        self.log.clone()
    }

    fn lock_key(&self) -> String {
        Nginx::route_key(&self.target.route())
    }

    fn hint(&self) -> String {
        format!(
            "check that nginx runs (pid file {}), that `{}` and `{}` work for this user, and that {} is the upstream file nginx.conf includes (--nginx-upstream-file, ALBFLIP_NGINX_UPSTREAM_FILE or albflip.toml [nginx] upstream-file)",
            self.control.pid_file.display(),
            self.control.test,
            self.control.reload,
            self.target.file.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolved(args: &[&str], file: &str) -> Result<(LocalSettings, NginxRouter), Error> {
        let dir = std::env::temp_dir().join(format!(
            "albflip-nginx-settings-{}-{}",
            std::process::id(),
            args.len() * 1000 + file.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("albflip.toml"), file).unwrap();
        let mut all = vec!["albflip", "--router", "nginx"];
        all.extend_from_slice(args);
        all.push("status");
        let cli = crate::args::Cli::parse_from(all);
        resolve(&cli.global, &cli.target, &dir)
    }

    const FILE: &str = "[nginx]\nupstream-file = \"/etc/nginx/app.conf\"\nupstream = \"app\"\naccess-log = \"/var/log/nginx/albflip.log\"\nblue = [\"127.0.0.1:8081\"]\ngreen = [\"127.0.0.1:8082\"]\n";

    #[test]
    fn flags_beat_the_file_and_defaults_fill_the_rest() {
        let (s, r) = resolved(
            &[
                "--green",
                "127.0.0.1:8082, 127.0.0.1:8083",
                "--nginx-reload-command",
                "systemctl reload nginx",
                "--health-path",
                "/health",
            ],
            FILE,
        )
        .unwrap();
        assert_eq!(r.target.upstream, "app");
        assert_eq!(
            r.target.colors.green,
            vec!["127.0.0.1:8082", "127.0.0.1:8083"]
        );
        assert_eq!(r.control.reload, "systemctl reload nginx");
        assert_eq!(r.control.test, "nginx -t");
        assert_eq!(r.control.pid_file, Path::new("/run/nginx.pid"));
        assert_eq!(s.state_dir.path(), Path::new(DEFAULT_STATE_DIR));
        assert_eq!(r.lock_key(), "nginx /etc/nginx/app.conf app");
    }

    #[test]
    fn a_missing_or_bad_setting_is_named_before_anything_is_touched() {
        let e = resolved(&[], "").err().unwrap();
        assert!(e.to_string().contains("--nginx-upstream-file"), "{e}");
        let e = resolved(&["--blue", "blue1"], FILE).err().unwrap();
        assert!(e.to_string().contains("HOST:PORT"), "{e}");
        assert_eq!(e.kind(), albflip::ErrorKind::InvalidInput);
        let e = resolved(&["--health-path", "health"], FILE).err().unwrap();
        assert!(e.to_string().contains("--health-path"), "{e}");
        let e = resolved(&["--green", "127.0.0.1:8081"], FILE)
            .err()
            .unwrap();
        assert!(e.to_string().contains("in both colors"), "{e}");
    }
}
