//! Real traffic, end to end: real HTTP servers for blue and green behind a real HAProxy, a client load
//! counting every response by color, and the real `albflip` binary moving the traffic
//! (`tests/traffic/haproxy.rs`); and the provider conformance suite against that HAProxy
//! (`conformance.rs`). The same against a real nginx (`nginx.rs`, `nginx_conformance.rs`). Needs
//! Debian's `haproxy` and `nginx` (`test.sh` installs them).

mod conformance;
mod haproxy;
mod harness;
mod nginx;
mod nginx_conformance;
