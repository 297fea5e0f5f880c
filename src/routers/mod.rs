//! The routers the CLI drives besides the ALB: which one a command runs on (`--router`,
//! `ALBFLIP_ROUTER`, albflip.toml `[target] router`), and the commands on a router that runs on this
//! host ([`local`]), which every such router shares: HAProxy ([`haproxy`]) builds its provider from
//! its flags and `[haproxy]`, and the rest is the same. Nothing here decides about traffic: it builds
//! the library's objects, calls the library and renders.

pub mod haproxy;
pub mod local;
pub mod nginx;

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
        Some("nginx") => Ok(RouterArg::Nginx),
        Some(other) => Err(Error::InvalidInput {
            what: format!("albflip.toml [target] router = {other:?}"),
            why: "not a router albflip knows".into(),
            fix: "Use \"aws\", \"haproxy\" or \"nginx\"".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn global(args: &[&str]) -> GlobalArgs {
        let mut all = vec!["albflip"];
        all.extend_from_slice(args);
        all.push("status");
        crate::args::Cli::parse_from(all).global
    }

    #[test]
    fn the_router_comes_from_the_flag_then_the_file_and_an_unknown_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("albflip-router-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(choose(&global(&[]), &dir).unwrap(), RouterArg::Aws);
        std::fs::write(dir.join("albflip.toml"), "[target]\nrouter = \"haproxy\"\n").unwrap();
        assert_eq!(choose(&global(&[]), &dir).unwrap(), RouterArg::Haproxy);
        assert_eq!(
            choose(&global(&["--router", "aws"]), &dir).unwrap(),
            RouterArg::Aws
        );
        std::fs::write(dir.join("albflip.toml"), "[target]\nrouter = \"nginx\"\n").unwrap();
        assert_eq!(choose(&global(&[]), &dir).unwrap(), RouterArg::Nginx);
        std::fs::write(dir.join("albflip.toml"), "[target]\nrouter = \"envoy\"\n").unwrap();
        let e = choose(&global(&[]), &dir).unwrap_err();
        assert_eq!(e.kind(), albflip::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("router = \"envoy\""), "{e}");
    }

    #[test]
    fn the_haproxy_example_file_parses_and_names_the_route() {
        let text = include_str!("../../examples/haproxy/albflip.toml");
        let c = FileConfig::parse(text, std::path::Path::new("albflip.toml")).unwrap();
        assert_eq!(c.target.router.as_deref(), Some("haproxy"));
        assert_eq!(c.haproxy.backend.as_deref(), Some("app"));
        assert_eq!(
            c.haproxy.green,
            Some(vec!["green1".to_string(), "green2".to_string()])
        );
    }

    #[test]
    fn the_nginx_example_file_parses_and_names_the_route() {
        let text = include_str!("../../examples/nginx/albflip.toml");
        let c = FileConfig::parse(text, std::path::Path::new("albflip.toml")).unwrap();
        assert_eq!(c.target.router.as_deref(), Some("nginx"));
        assert_eq!(c.nginx.upstream.as_deref(), Some("app"));
        assert_eq!(c.nginx.health_path.as_deref(), Some("/health"));
        assert_eq!(
            c.nginx.green,
            Some(vec![
                "10.0.2.11:8080".to_string(),
                "10.0.2.12:8080".to_string()
            ])
        );
    }
}
