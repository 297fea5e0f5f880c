//! What HAProxy's runtime API answers, parsed: `show stat` (CSV, one line per proxy and server, columns
//! named by its header) and `show servers state BACKEND` (each server's current and initial weight).
//! Pure: text in, values out.

use std::collections::BTreeMap;

/// One server's line of `show stat`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerStat {
    /// The backend (`pxname`).
    pub backend: String,
    /// The server (`svname`).
    pub server: String,
    /// `status`: `UP`, `DOWN`, `MAINT`, `DRAIN`, `no check`, `UP 1/3` (going down)...
    pub status: String,
    /// `check_status`, e.g. `L7OK`, `L4CON`; empty without checks.
    pub check_status: String,
    /// Responses by class, `hrsp_1xx` to `hrsp_5xx` and `hrsp_other`.
    pub responses: [u64; 6],
    /// `econ`: failed connections to the server.
    pub connection_errors: u64,
    /// `eresp`: response errors (the server closed or sent garbage).
    pub response_errors: u64,
    /// `rtime`: the average response time of the last 1024 requests, in milliseconds.
    pub rtime_ms: Option<u64>,
}

impl ServerStat {
    /// Every request sent to the server: its answered responses of every class and its failed
    /// connections.
    pub fn requests(&self) -> u64 {
        self.responses.iter().sum::<u64>() + self.connection_errors
    }

    /// The requests the server failed: its 5xx and its failed connections.
    pub fn errors(&self) -> u64 {
        self.responses[4] + self.connection_errors
    }

    /// Whether HAProxy's checks see the server up (a server without checks counts as up, as HAProxy
    /// counts it), whatever its weight.
    pub fn healthy(&self) -> bool {
        let s = self.status.as_str();
        s == "UP" || s == "no check" || s == "DRAIN" || s.starts_with("UP ")
    }

    /// Whether HAProxy's checks see the server down (or going up, not yet usable).
    pub fn unhealthy(&self) -> bool {
        let s = self.status.as_str();
        s == "DOWN" || s.starts_with("DOWN ") || s == "NOLB"
    }

    /// Whether the server is in maintenance (set by hand): neither healthy nor held against it.
    pub fn maintenance(&self) -> bool {
        self.status.starts_with("MAINT")
    }
}

/// `show stat`: every server line (the `FRONTEND` and `BACKEND` lines are left out), and each
/// backend's balancing algorithm (`algo` of its `BACKEND` line).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    /// The server lines.
    pub servers: Vec<ServerStat>,
    /// Each backend's `algo`.
    pub algorithms: BTreeMap<String, String>,
}

/// Parses `show stat`; `None` when the answer is not the CSV (no `# pxname,svname,...` header).
pub fn parse_stat(text: &str) -> Option<Stats> {
    let mut lines = text.lines();
    let header = lines.next()?.strip_prefix("# ")?;
    let columns: BTreeMap<&str, usize> = header
        .split(',')
        .enumerate()
        .map(|(i, name)| (name, i))
        .collect();
    let col = |name: &str| columns.get(name).copied();
    let (px, sv) = (col("pxname")?, col("svname")?);
    let mut stats = Stats::default();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let field = |name: &str| col(name).and_then(|i| fields.get(i)).copied().unwrap_or("");
        let number = |name: &str| field(name).parse::<u64>().unwrap_or(0);
        let (backend, server) = (fields.get(px)?, fields.get(sv)?);
        match *server {
            "FRONTEND" => {}
            "BACKEND" => {
                stats
                    .algorithms
                    .insert((*backend).to_string(), field("algo").to_string());
            }
            _ => stats.servers.push(ServerStat {
                backend: (*backend).to_string(),
                server: (*server).to_string(),
                status: field("status").to_string(),
                check_status: field("check_status").to_string(),
                responses: [
                    number("hrsp_1xx"),
                    number("hrsp_2xx"),
                    number("hrsp_3xx"),
                    number("hrsp_4xx"),
                    number("hrsp_5xx"),
                    number("hrsp_other"),
                ],
                connection_errors: number("econ"),
                response_errors: number("eresp"),
                rtime_ms: field("rtime").parse().ok(),
            }),
        }
    }
    Some(stats)
}

/// One server's line of `show servers state`: its weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerWeight {
    /// The server.
    pub server: String,
    /// Its weight now (`srv_uweight`), 0..=256.
    pub weight: u16,
    /// Its weight in the configuration (`srv_iweight`).
    pub initial: u16,
}

/// What `show servers state BACKEND` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServersState {
    /// The backend's servers, in configuration order.
    Servers(Vec<ServerWeight>),
    /// HAProxy knows no such backend.
    NoBackend,
    /// Anything else, as HAProxy said it.
    Unexpected(String),
}

/// Parses `show servers state BACKEND`.
pub fn parse_servers_state(text: &str) -> ServersState {
    if text.trim_start().starts_with("Can't find backend") {
        return ServersState::NoBackend;
    }
    let Some(header) = text.lines().find_map(|l| l.strip_prefix("# ")) else {
        return ServersState::Unexpected(text.trim().to_string());
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    let at = |name: &str| columns.iter().position(|c| *c == name);
    let (Some(name), Some(uweight), Some(iweight)) =
        (at("srv_name"), at("srv_uweight"), at("srv_iweight"))
    else {
        return ServersState::Unexpected(text.trim().to_string());
    };
    let servers = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() == columns.len())
        .filter_map(|f| {
            Some(ServerWeight {
                server: f[name].to_string(),
                weight: f[uweight].parse().ok()?,
                initial: f[iweight].parse().ok()?,
            })
        })
        .collect();
    ServersState::Servers(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `show stat` of HAProxy 2.6 (columns cut after the ones albflip reads are enough: it reads by
    /// name).
    const STAT: &str = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,
fe,FRONTEND,,,0,0,9985,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,0,,,,0,0,0,0,0,0,,0,0,0,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,
app,blue1,0,0,0,0,,120,0,0,,0,,0,0,0,0,UP,256,1,0,1,1,4,4,,1,3,1,,0,,2,0,,0,L7OK,200,1,0,118,0,2,0,0,,,,120,0,0,,,,,-1,,,0,0,3,4,,,,Layer7 check passed,,2,3,4,,,,127.0.0.1:18091,,http,,
app,green1,0,0,0,0,,40,0,0,,0,,5,1,0,0,DOWN,0,1,0,1,1,3,3,,1,3,2,,0,,2,0,,0,L4CON,,0,0,30,0,0,5,0,,,,35,0,0,,,,,-1,Connection refused,,0,0,0,12,,,,Layer4 connection problem,,2,3,0,,,,127.0.0.1:18092,,http,,
app,BACKEND,0,0,0,0,999,0,0,0,0,0,,0,0,0,0,UP,256,1,0,,1,4,4,,1,3,0,,0,,1,0,,0,,,,0,148,0,2,5,0,,,,0,0,0,0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,http,roundrobin,
";

    #[test]
    fn show_stat_gives_each_servers_counters_and_each_backends_algorithm() {
        let stats = parse_stat(STAT).unwrap();
        assert_eq!(stats.servers.len(), 2);
        let blue = &stats.servers[0];
        assert_eq!(
            (blue.backend.as_str(), blue.server.as_str()),
            ("app", "blue1")
        );
        assert_eq!((blue.requests(), blue.errors()), (120, 0));
        assert_eq!(blue.rtime_ms, Some(3));
        assert!(blue.healthy() && !blue.unhealthy());
        let green = &stats.servers[1];
        assert_eq!(green.responses[4], 5);
        assert_eq!(green.connection_errors, 5);
        assert_eq!((green.requests(), green.errors()), (40, 10));
        assert!(green.unhealthy() && !green.healthy());
        assert_eq!(green.check_status, "L4CON");
        assert_eq!(
            stats.algorithms.get("app").map(String::as_str),
            Some("roundrobin")
        );
        assert_eq!(parse_stat("Unknown command.\n"), None);
    }

    #[test]
    fn servers_state_gives_current_and_initial_weights() {
        let text = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n3 app 1 blue1 127.0.0.1 2 0 200 256 4 8 2 0 6 0 0 0 - 18091 - 0 0 - - 0\n3 app 2 green1 127.0.0.1 2 0 56 0 3 8 2 0 6 0 0 0 - 18092 - 0 0 - - 0\n\n";
        assert_eq!(
            parse_servers_state(text),
            ServersState::Servers(vec![
                ServerWeight {
                    server: "blue1".into(),
                    weight: 200,
                    initial: 256
                },
                ServerWeight {
                    server: "green1".into(),
                    weight: 56,
                    initial: 0
                },
            ])
        );
        assert_eq!(
            parse_servers_state("Can't find backend.\n\n"),
            ServersState::NoBackend
        );
        assert!(matches!(
            parse_servers_state("Unknown command\n"),
            ServersState::Unexpected(_)
        ));
    }
}
