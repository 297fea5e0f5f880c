//! The routers the CLI drives besides the ALB: which one a command runs on (`--router`,
//! `ALBFLIP_ROUTER`, albflip.toml `[target] router`), and the commands on a router that runs on this
//! host ([`local`]), which every such router shares: HAProxy ([`haproxy`]) builds its provider from
//! its flags and `[haproxy]`, and the rest is the same. Nothing here decides about traffic: it builds
//! the library's objects, calls the library and renders.

pub mod haproxy;
pub mod local;

use albflip::config::FileConfig;
use albflip::Error;

use crate::args::{GlobalArgs, RouterArg};

/// The router a command runs on: the flag (or `ALBFLIP_ROUTER`), else the file's `[target] router`,
/// else the ALB.
pub fn choose(g: &GlobalArgs, cwd: &std::path::Path) -> Result<RouterArg, Error> {
    if let Some(r) = g.router {
        return Ok(r);
    }
    let (file, _) = FileConfig::load(g.config.as_deref(), cwd)?;
    match file.target.router.as_deref().map(str::trim) {
        None | Some("aws") => Ok(RouterArg::Aws),
        Some("haproxy") => Ok(RouterArg::Haproxy),
        Some(other) => Err(Error::InvalidInput {
            what: format!("albflip.toml [target] router = {other:?}"),
            why: "not a router albflip knows".into(),
            fix: "Use \"aws\" or \"haproxy\"".into(),
        }),
    }
}
