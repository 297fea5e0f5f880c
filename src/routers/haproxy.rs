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
