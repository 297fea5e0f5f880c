//! Real traffic, end to end: real HTTP servers for blue and green behind a real HAProxy or nginx, a
//! client load counting every response by color, and the real `albflip` binary moving the traffic. The
//! scenarios both routers run are written once (`scenarios.rs`, over the harness's `Stack`);
//! `haproxy.rs` and `nginx.rs` run each for their router and hold what only that router has. And the
//! provider conformance suite against each (`conformance.rs`, `nginx_conformance.rs`). Needs Debian's
//! `haproxy` and `nginx` (`test.sh` installs them).

mod conformance;
mod haproxy;
mod harness;
mod nginx;
mod nginx_conformance;
mod scenarios;
