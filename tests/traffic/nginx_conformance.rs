//! The provider conformance suite (`tests/conformance/`) against a real nginx: [`NginxRouter`] on an
//! upstream of one blue and one green server and on one with two of each, refusing an upstream with a
//! third server that takes traffic, one without a server it was told about, and reporting an upstream
//! that is not in the file (and a file that does not exist) as missing, putting a group of upstream files
//! back when the last cannot be written; and putting the previous file back when nginx refuses the test
//! or the reload, and the example's files.

use albflip::haproxy::ServerColors;
use albflip::nginx::{Control, NginxRoute, NginxRouter};

use crate::harness::nginx::upstream_text;
use crate::harness::*;

use crate::conformance::{contract, rt};

/// nginx over closed ports (the router's contracts need no traffic), blue1/green1 in `app`.
fn nginx() -> (Nginx, u16, u16) {
    let (b, g) = (free_port(), free_port());
    let n = Nginx::start(&[
        Upstreamed::new("blue1", b, 256),
        Upstreamed::new("green1", g, 0),
    ]);
    (n, b, g)
}

fn addr(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

fn router(n: &Nginx, blue: &[String], green: &[String]) -> NginxRouter {
    NginxRouter::new(
        Control {
            test: n.test_command(),
            reload: n.reload_command(),
            pid_file: n.pid_file(),
        },
        ServerColors {
            blue: blue.to_vec(),
            green: green.to_vec(),
        },
    )
}

#[test]
fn nginx_router_reads_and_writes_a_split() {
    let (n, b, g) = nginx();
    let one = router(&n, &[addr(b)], &[addr(g)]);
    let route = NginxRoute::new(&n.upstream_file, "app");
    rt().block_on(contract::router_reads_and_writes_a_split(&one, &route));
    let all = Upstreamed::new("", b, 0);
    let green = Upstreamed::new("", g, 0);
    assert_eq!(n.weights(&[&all, &green]), vec![256, 0], "back on blue");

    // Two servers a color: the same upstream file with four servers.
    let (b2, g2) = (free_port(), free_port());
    std::fs::write(
        &n.upstream_file,
        upstream_text(
            "app",
            &[
                Upstreamed::new("blue1", b, 256),
                Upstreamed::new("blue2", b2, 256),
                Upstreamed::new("green1", g, 0),
                Upstreamed::new("green2", g2, 0),
            ],
        ),
    )
    .expect("write");
    let two = router(&n, &[addr(b), addr(b2)], &[addr(g), addr(g2)]);
    rt().block_on(contract::router_reads_and_writes_a_split(&two, &route));
}

#[test]
fn nginx_router_refuses_an_upstream_it_cannot_shift() {
    let (n, b, g) = nginx();
    let red = free_port();
    let text = upstream_text(
        "app",
        &[
            Upstreamed::new("blue1", b, 100),
            Upstreamed::new("green1", g, 0),
            Upstreamed::new("red1", red, 10),
        ],
    );
    std::fs::write(&n.upstream_file, &text).expect("write");
    let route = NginxRoute::new(&n.upstream_file, "app");
    let r = router(&n, &[addr(b)], &[addr(g)]);
    rt().block_on(contract::router_refuses_a_route_it_cannot_shift(&r, &route));
    assert_eq!(
        std::fs::read_to_string(&n.upstream_file).unwrap(),
        text,
        "nothing was written"
    );
    let r = router(&n, &[addr(b)], &[addr(free_port())]);
    rt().block_on(contract::router_refuses_a_route_it_cannot_shift(&r, &route));
}

#[test]
fn nginx_router_reports_a_missing_upstream() {
    let (n, b, g) = nginx();
    let r = router(&n, &[addr(b)], &[addr(g)]);
    rt().block_on(contract::router_reports_a_missing_route(
        &r,
        &NginxRoute::new(&n.upstream_file, "nowhere"),
    ));
    rt().block_on(contract::router_reports_a_missing_route(
        &r,
        &NginxRoute::new(n.dir.join("no-such-file.conf"), "app"),
    ));
}

/// A write whose configuration test or reload nginx refuses puts the previous file back, byte for
/// byte, and says what nginx said; a reload command that exits 0 without reloading (no new worker
/// generation) is caught the same way.
#[test]
fn nginx_router_puts_the_previous_file_back_when_nginx_refuses() {
    use albflip::ports::{ApiErrorKind, Router, RouterError};
    let (n, b, g) = nginx();
    let route = NginxRoute::new(&n.upstream_file, "app");
    let before = n.upstream_text();
    let with = |test: &str, reload: &str| {
        NginxRouter::new(
            Control {
                test: test.into(),
                reload: reload.into(),
                pid_file: n.pid_file(),
            },
            ServerColors {
                blue: vec![addr(b)],
                green: vec![addr(g)],
            },
        )
    };
    let cases = [
        (
            with(
                "echo 'nginx: [emerg] host not found in upstream' >&2; exit 1",
                &n.reload_command(),
            ),
            "host not found in upstream",
        ),
        (with(&n.test_command(), "true"), "started no new workers"),
    ];
    for (r, said) in cases {
        let current = rt().block_on(r.read(&route)).expect("read");
        match rt().block_on(r.write(&route, &current, contract::green(50))) {
            Err(RouterError::Api(e)) => {
                assert!(e.message.contains(said), "{e}");
                assert!(e.message.contains("back in place"), "{e}");
                assert!(matches!(e.kind, ApiErrorKind::Rejected { .. }), "{e}");
            }
            other => panic!("the write must be refused, got {other:?}"),
        }
        assert_eq!(n.upstream_text(), before, "the previous file is back");
    }
    // With nginx's own commands the same write goes through.
    let r = with(&n.test_command(), &n.reload_command());
    let current = rt().block_on(r.read(&route)).expect("read");
    let written = rt()
        .block_on(r.write(&route, &current, contract::green(50)))
        .expect("written");
    assert_eq!(written.split, contract::green(50));
}

/// `examples/nginx/` works: its nginx.conf (with the include pointed at the example's upstream file)
/// passes `nginx -t`, its log format is the one the harness runs with, and albflip reads its upstream
/// file as all on blue.
#[test]
fn nginx_the_example_passes_nginx_t_and_albflip_reads_its_upstream() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/nginx");
    let conf = std::fs::read_to_string(root.join("nginx.conf")).expect("nginx.conf");
    assert!(
        conf.contains(crate::harness::nginx::LOG_FORMAT),
        "the example's log_format is the harness's"
    );
    let dir = temp_dir("nginx-example");
    let upstream = root.join("app-upstream.conf");
    let conf = conf
        .replace(
            "/etc/nginx/albflip/app-upstream.conf",
            &upstream.display().to_string(),
        )
        .replace("/var/log/nginx/", &format!("{}/", dir.display()))
        .replace(
            "/run/nginx.pid",
            &dir.join("nginx.pid").display().to_string(),
        );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("write");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "nginx -p {d} -c {c} -e {d}/error.log -t || /usr/sbin/nginx -p {d} -c {c} -e {d}/error.log -t",
            d = dir.display(),
            c = path.display()
        ))
        .output()
        .expect("nginx -t");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = NginxRouter::new(
        Control::default(),
        ServerColors {
            blue: vec!["10.0.1.11:8080".into(), "10.0.1.12:8080".into()],
            green: vec!["10.0.2.11:8080".into(), "10.0.2.12:8080".into()],
        },
    );
    let read = rt()
        .block_on(albflip::ports::Router::read(
            &r,
            &NginxRoute::new(&upstream, "app"),
        ))
        .expect("the example's upstream reads");
    assert_eq!(read.split, contract::green(0));
}

/// A group of three upstream files nginx includes: the last one's write is refused (its temporary file
/// cannot be created: a directory stands in its way), and the two written before are put back (each
/// written, tested and reloaded again).
#[test]
fn nginx_router_puts_a_group_back_when_the_last_file_cannot_be_written() {
    let (n, b, g) = nginx();
    let extra = n.dir.join("extra");
    let servers = |blue: u32, green: u32| {
        [
            Upstreamed::new("blue1", b, blue),
            Upstreamed::new("green1", g, green),
        ]
    };
    std::fs::write(
        extra.join("app2.conf"),
        upstream_text("app2", &servers(100, 100)),
    )
    .unwrap();
    std::fs::write(
        extra.join("app3.conf"),
        upstream_text("app3", &servers(256, 0)),
    )
    .unwrap();
    let routes = [
        NginxRoute::new(&n.upstream_file, "app"),
        NginxRoute::new(extra.join("app2.conf"), "app2"),
        NginxRoute::new(extra.join("app3.conf"), "app3"),
    ];
    let r = router(&n, &[addr(b)], &[addr(g)]);
    let blocked = albflip::nginx::router::temporary_path(&routes[2].file);
    let texts: Vec<String> = routes
        .iter()
        .map(|r| std::fs::read_to_string(&r.file).unwrap())
        .collect();
    rt().block_on(contract::group_write_puts_back_on_failure(
        &r,
        &routes,
        || std::fs::create_dir_all(&blocked).expect("block the temporary file"),
    ));
    assert_eq!(
        std::fs::read_to_string(&routes[2].file).unwrap(),
        texts[2],
        "the refused file is untouched"
    );
    std::fs::remove_dir(&blocked).unwrap();
}
