//! HAProxy's settings: the runtime API socket, the backend and each color's servers, from flags (and
//! their `ALBFLIP_*` variables) over albflip.toml `[haproxy]`, and the state directory; validated here
//! (usage errors, exit 2) before anything is contacted.

use std::path::Path;

use albflip::config::FileConfig;
use albflip::haproxy::{Haproxy, HaproxyCounters, HaproxyTarget, RuntimeApi, ServerColors, Socket};
use albflip::local::{StateDir, StateFile, DEFAULT_STATE_DIR};
use albflip::Error;

use super::local::{LocalRouter, LocalSettings};
use crate::args::{GlobalArgs, TargetArgs};

/// HAProxy as the CLI drives it.
pub struct HaproxyRouter {
    provider: Haproxy,
    target: HaproxyTarget,
    counters: HaproxyCounters,
    socket: Socket,
}

fn missing(flag: &str, key: &str, example: &str) -> Error {
    Error::InvalidInput {
        what: flag.into(),
        why: "is needed with --router haproxy".into(),
        fix: format!("Pass {flag} {example} (or [haproxy] {key} in albflip.toml)"),
    }
}

/// A comma-separated list of servers.
fn servers(text: &str) -> Vec<String> {
    text.split(',').map(|s| s.trim().to_string()).collect()
}

/// Flags over the file; the settings every local router shares and HAProxy's own.
pub fn resolve(
    g: &GlobalArgs,
    t: &TargetArgs,
    cwd: &Path,
) -> Result<(LocalSettings, HaproxyRouter), Error> {
    let (file, _) = FileConfig::load(g.config.as_deref(), cwd)?;
    let h = &file.haproxy;
    let socket_text = g
        .haproxy_socket
        .clone()
        .or(h.socket.clone())
        .ok_or_else(|| missing("--haproxy-socket", "socket", "/run/haproxy/admin.sock"))?;
    let socket = Socket::parse(&socket_text).ok_or_else(|| Error::InvalidInput {
        what: format!("--haproxy-socket {socket_text:?}"),
        why: "not a unix socket path or tcp:HOST:PORT".into(),
        fix: "Give the path of HAProxy's `stats socket ... level admin`, or tcp:127.0.0.1:9999"
            .into(),
    })?;
    let backend = g
        .haproxy_backend
        .clone()
        .or(h.backend.clone())
        .ok_or_else(|| missing("--haproxy-backend", "backend", "NAME"))?;
    let blue = t
        .blue
        .as_deref()
        .map(servers)
        .or(h.blue.clone())
        .ok_or_else(|| missing("--blue", "blue", "SERVER[,SERVER...]"))?;
    let green = t
        .green
        .as_deref()
        .map(servers)
        .or(h.green.clone())
        .ok_or_else(|| missing("--green", "green", "SERVER[,SERVER...]"))?;
    let target = HaproxyTarget {
        backend,
        colors: ServerColors { blue, green },
    };
    // The library names the colors' servers by --blue/--green.
    target.check()?;
    let state_dir = StateDir::new(
        g.state_dir
            .clone()
            .or(h.state_dir.clone())
            .unwrap_or_else(|| DEFAULT_STATE_DIR.into()),
    );
    let local = LocalSettings::resolve(g, file, state_dir)?;
    let api = RuntimeApi::new(socket.clone());
    let router = HaproxyRouter {
        provider: Haproxy::new(api.clone(), StateFile::new(local.state_dir.clone())),
        target,
        counters: HaproxyCounters::new(api),
        socket,
    };
    Ok((local, router))
}

impl LocalRouter for HaproxyRouter {
    type Provider = Haproxy;
    type Counters = HaproxyCounters;

    fn provider(&self) -> &Haproxy {
        &self.provider
    }

    fn target(&self) -> &HaproxyTarget {
        &self.target
    }

    fn counters(&self) -> HaproxyCounters {
        self.counters.clone()
    }

    fn lock_key(&self) -> String {
        self.provider.route_key(&self.target.backend)
    }

    fn hint(&self) -> String {
        format!(
            "check that HAProxy runs and that {} is its runtime API socket (`stats socket {} level admin` in haproxy.cfg), readable by this user; it comes from --haproxy-socket, ALBFLIP_HAPROXY_SOCKET or albflip.toml [haproxy] socket",
            self.socket, self.socket
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn resolved(args: &[&str], file: &str) -> Result<(LocalSettings, HaproxyRouter), Error> {
        let dir = std::env::temp_dir().join(format!(
            "albflip-haproxy-settings-{}-{}",
            std::process::id(),
            args.len() + file.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("albflip.toml"), file).unwrap();
        let mut all = vec!["albflip", "--router", "haproxy"];
        all.extend_from_slice(args);
        all.push("status");
        let cli = crate::args::Cli::parse_from(all);
        resolve(&cli.global, &cli.target, &dir)
    }

    #[test]
    fn flags_beat_the_file_and_servers_are_comma_separated() {
        let file = "[haproxy]\nsocket = \"/run/a.sock\"\nbackend = \"app\"\nblue = [\"b1\"]\ngreen = [\"g1\"]\n";
        let (s, r) = resolved(&["--green", "g1, g2", "--state-dir", "/tmp/x"], file).unwrap();
        assert_eq!(r.target.backend, "app");
        assert_eq!(r.target.colors.blue, vec!["b1"]);
        assert_eq!(r.target.colors.green, vec!["g1", "g2"]);
        assert_eq!(s.state_dir.path(), Path::new("/tmp/x"));
        assert_eq!(r.lock_key(), "haproxy /run/a.sock app");
        let (s, _) = resolved(&[], file).unwrap();
        assert_eq!(s.state_dir.path(), Path::new(DEFAULT_STATE_DIR));
    }

    #[test]
    fn a_missing_or_bad_setting_is_named_before_anything_is_contacted() {
        let e = resolved(&[], "").err().unwrap();
        assert!(e.to_string().contains("--haproxy-socket"), "{e}");
        let e = resolved(&["--haproxy-socket", "tcp:nohost"], "")
            .err()
            .unwrap();
        assert!(e.to_string().contains("tcp:HOST:PORT"), "{e}");
        let e = resolved(
            &[
                "--haproxy-socket",
                "/s",
                "--haproxy-backend",
                "app",
                "--blue",
                "a",
                "--green",
                "a",
            ],
            "",
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("in both colors"), "{e}");
        assert_eq!(e.kind(), albflip::ErrorKind::InvalidInput);
    }
}
