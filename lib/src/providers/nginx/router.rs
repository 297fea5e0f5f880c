//! [`NginxRouter`]: an upstream's split between its blue and its green servers, read from and written to
//! the upstream file albflip owns. A write renders the new weights, puts the file in place atomically
//! (a temporary file in the same directory, then a rename), runs the configuration test, reloads nginx
//! and checks that nginx answered the reload (a new worker generation); a refused test or reload puts
//! the previous file back (and reloads it), so nothing changed, and the error quotes nginx. Then it
//! reads the file back.
//!
//! The test runs on the real configuration with the new file in place rather than on a copy: the
//! upstream file is meant to be `include`d by the user's nginx.conf, and only the real configuration
//! shows whether the new file fits it (the upstream's name used by `proxy_pass`, its directives allowed
//! there). While the test runs, the new file is on disk but not loaded; a reload by someone else in
//! that moment would have nginx test it too, and nginx keeps its running configuration when a reload's
//! fails.

use std::fmt;
use std::path::{Path, PathBuf};

use super::control::{self, Control, RELOAD_TIMEOUT};
use super::upstream::{self, ParseError, Upstream};
use crate::model::{Color, Split};
use crate::ports::{ApiError, ApiErrorKind, Preserved, RouteRead, Router, RouterError};
use crate::providers::haproxy::weights;
use crate::providers::haproxy::ServerColors;

/// An nginx route: an upstream block in the file albflip owns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NginxRoute {
    /// The upstream file.
    pub file: PathBuf,
    /// The upstream's name.
    pub upstream: String,
}

impl NginxRoute {
    /// The upstream `name` in `file`.
    pub fn new(file: impl Into<PathBuf>, name: impl Into<String>) -> NginxRoute {
        NginxRoute {
            file: file.into(),
            upstream: name.into(),
        }
    }
}

impl fmt::Display for NginxRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nginx upstream {} in {}",
            self.upstream,
            self.file.display()
        )
    }
}

/// The upstream and the file's text as read, kept in a [`RouteRead`].
#[derive(Debug, Clone)]
pub struct LiveUpstream {
    /// The upstream parsed.
    pub upstream: Upstream,
    /// The file's text.
    pub text: String,
}

/// Reads and writes the split of an upstream's blue and green servers in the file albflip owns.
#[derive(Debug, Clone)]
pub struct NginxRouter {
    control: Control,
    colors: ServerColors,
}

const READ: &str = "nginx:read upstream file";
const WRITE: &str = "nginx:write upstream file";
const TEST: &str = "nginx:test configuration";
const RELOAD: &str = "nginx:reload";

fn io(operation: &str, path: &Path, e: &std::io::Error) -> ApiError {
    let kind = if e.kind() == std::io::ErrorKind::NotFound {
        ApiErrorKind::NotFound
    } else {
        ApiErrorKind::Other
    };
    ApiError::new(operation, kind, format!("{}: {e}", path.display()))
}

/// Writes `text` to `path` atomically: a temporary file next to it, then a rename. A failure leaves
/// `path` as it was, so it is reported as a refusal (nothing changed), naming the file.
fn write_atomic(path: &Path, text: &str) -> Result<(), ApiError> {
    let tmp = temporary_path(path);
    let unchanged = |at: &Path, e: std::io::Error| {
        ApiError::new(
            WRITE,
            ApiErrorKind::Rejected {
                code: "UpstreamFileNotWritten".into(),
            },
            format!("{}: {e} ({} is unchanged)", at.display(), path.display()),
        )
    };
    std::fs::write(&tmp, text).map_err(|e| {
        if !tmp.is_dir() {
            let _ = std::fs::remove_file(&tmp);
        }
        unchanged(&tmp, e)
    })?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        unchanged(path, e)
    })
}

/// The temporary file a write of `path` by this process goes through (a test can block it).
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.albflip-{}", std::process::id()))
}

impl NginxRouter {
    /// A router that controls nginx with `control`, with the colors' servers (`HOST:PORT` as written
    /// in the upstream).
    pub fn new(control: Control, colors: ServerColors) -> NginxRouter {
        NginxRouter { control, colors }
    }

    /// The colors' servers.
    pub fn colors(&self) -> &ServerColors {
        &self.colors
    }

    /// How nginx is controlled.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// The file's text and its upstream.
    pub fn load(&self, route: &NginxRoute) -> Result<LiveUpstream, ApiError> {
        let text = std::fs::read_to_string(&route.file).map_err(|e| io(READ, &route.file, &e))?;
        match upstream::parse(&text, &route.upstream) {
            Ok(upstream) => Ok(LiveUpstream { upstream, text }),
            Err(ParseError::NoUpstream) => Err(ApiError::new(
                READ,
                ApiErrorKind::NotFound,
                format!(
                    "{} has no `upstream {} {{ ... }}` block",
                    route.file.display(),
                    route.upstream
                ),
            )),
            Err(ParseError::Malformed(why)) => Err(ApiError::new(
                READ,
                ApiErrorKind::Rejected {
                    code: "MalformedUpstreamFile".into(),
                },
                format!("{}: {why}", route.file.display()),
            )),
        }
    }

    /// The split the upstream's servers give, or why they are not a split of blue and green.
    pub fn split_of(&self, u: &Upstream) -> Result<Split, String> {
        for server in self.colors.blue.iter().chain(&self.colors.green) {
            if u.server(server).is_none() {
                return Err(format!("it has no server {server}"));
            }
        }
        if let Some(other) = u
            .servers()
            .find(|s| s.effective() > 0 && self.colors.color_of(&s.address).is_none())
        {
            return Err(format!(
                "its server {} is neither blue nor green and is not marked down: albflip would take its traffic away",
                other.address
            ));
        }
        let total = |color: Color| -> u64 {
            u.servers()
                .filter(|s| self.colors.color_of(&s.address) == Some(color))
                .map(|s| u64::from(s.effective()))
                .sum()
        };
        weights::split_of(total(Color::Blue), total(Color::Green))
            .ok_or_else(|| "every blue and green server is marked down".to_string())
    }

    fn route_read(&self, route: &NginxRoute, live: LiveUpstream) -> Result<RouteRead, RouterError> {
        let split = self
            .split_of(&live.upstream)
            .map_err(|reason| RouterError::Unshiftable {
                route: route.to_string(),
                reason,
            })?;
        Ok(RouteRead {
            name: route.to_string(),
            split,
            preserved: Preserved::new(live),
        })
    }

    /// Runs the configuration test.
    pub async fn test_config(&self) -> Result<(), ApiError> {
        let ran = control::run(TEST, &self.control.test).await?;
        if ran.ok {
            return Ok(());
        }
        Err(ApiError::new(
            TEST,
            ApiErrorKind::Rejected {
                code: "NginxConfigTest".into(),
            },
            format!("`{}` failed: {}", self.control.test, ran.said),
        ))
    }

    /// Reloads nginx and waits for its new worker generation.
    async fn reload(&self, master: u32) -> Result<(), ApiError> {
        let before = control::children(master);
        let ran = control::run(RELOAD, &self.control.reload).await?;
        if !ran.ok {
            return Err(ApiError::new(
                RELOAD,
                ApiErrorKind::Rejected {
                    code: "NginxReload".into(),
                },
                format!("`{}` failed: {}", self.control.reload, ran.said),
            ));
        }
        if control::new_generation(master, &before, RELOAD_TIMEOUT).await {
            return Ok(());
        }
        Err(ApiError::new(
            RELOAD,
            ApiErrorKind::Rejected {
                code: "NginxReload".into(),
            },
            format!(
                "nginx (master {master}) started no new workers within {}s of `{}`: it refused the new configuration (its error log says why)",
                RELOAD_TIMEOUT.as_secs(),
                self.control.reload
            ),
        ))
    }

    /// Puts `previous` back after a refused test or reload and says so in `e`; when the reload was
    /// sent, reloads the previous file too (nginx keeps its running configuration when it refuses one,
    /// so this only matters when it took the new one late).
    async fn put_back(
        &self,
        route: &NginxRoute,
        previous: &str,
        master: Option<u32>,
        e: ApiError,
    ) -> RouterError {
        let restored = write_atomic(&route.file, previous);
        if let (Ok(()), Some(_)) = (&restored, master) {
            let _ = control::run(RELOAD, &self.control.reload).await;
        }
        let message = match restored {
            Ok(()) => format!(
                "{}; the previous {} is back in place",
                e.message,
                route.file.display()
            ),
            Err(r) => {
                return ApiError::new(
                    e.operation,
                    ApiErrorKind::Other,
                    format!(
                        "{}; and the previous {} could not be put back ({}): the file now holds the refused split",
                        e.message,
                        route.file.display(),
                        r.message
                    ),
                )
                .into()
            }
        };
        ApiError::new(e.operation, e.kind, message).into()
    }
}

impl Router for NginxRouter {
    type Route = NginxRoute;

    async fn read(&self, route: &NginxRoute) -> Result<RouteRead, RouterError> {
        let live = self.load(route)?;
        self.route_read(route, live)
    }

    /// Writes the file, tests, reloads, checks nginx answered, reads the file back. Refuses a split
    /// that would mark every server down, and a write while nginx does not run.
    async fn write(
        &self,
        route: &NginxRoute,
        _current: &RouteRead,
        split: Split,
    ) -> Result<RouteRead, RouterError> {
        let live = self.load(route)?;
        let next = live
            .upstream
            .with_split(split, &self.colors.blue, &self.colors.green);
        if next.servers().all(|s| s.effective() == 0) {
            return Err(RouterError::Unshiftable {
                route: route.to_string(),
                reason: format!("{split} would mark every server down"),
            });
        }
        // Checked before anything is written: a refusal, nothing changed.
        let master = control::master(&self.control.pid_file).map_err(|why| {
            ApiError::new(
                RELOAD,
                ApiErrorKind::Rejected {
                    code: "NginxNotRunning".into(),
                },
                why,
            )
        })?;
        write_atomic(&route.file, &next.render())?;
        if let Err(e) = self.test_config().await {
            return Err(self.put_back(route, &live.text, None, e).await);
        }
        if let Err(e) = self.reload(master).await {
            return Err(self.put_back(route, &live.text, Some(master), e).await);
        }
        self.read(route).await
    }
}
