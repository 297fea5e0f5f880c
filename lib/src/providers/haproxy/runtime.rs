//! HAProxy's runtime API (the stats socket at level `admin`): one command per connection, its answer
//! read to the end. The socket is a unix socket (`/run/haproxy/admin.sock`) or `tcp:HOST:PORT`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ports::{ApiError, ApiErrorKind};

/// How long one command may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where HAProxy's runtime API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socket {
    /// A unix socket (`stats socket /run/haproxy/admin.sock level admin`).
    Unix(PathBuf),
    /// A TCP address, `HOST:PORT` (`stats socket ipv4@127.0.0.1:9999 level admin`).
    Tcp(String),
}

impl Socket {
    /// `tcp:HOST:PORT`, or a path to a unix socket; `None` when empty or a `tcp:` without a port.
    pub fn parse(text: &str) -> Option<Socket> {
        let text = text.trim();
        if let Some(addr) = text.strip_prefix("tcp:") {
            let (host, port) = addr.rsplit_once(':')?;
            (!host.is_empty() && port.parse::<u16>().is_ok()).then(|| Socket::Tcp(addr.into()))
        } else {
            (!text.is_empty()).then(|| Socket::Unix(PathBuf::from(text)))
        }
    }
}

impl fmt::Display for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Socket::Unix(path) => write!(f, "{}", path.display()),
            Socket::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

/// A client of one HAProxy's runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeApi {
    socket: Socket,
}

impl RuntimeApi {
    /// A client of the runtime API at `socket`.
    pub fn new(socket: Socket) -> RuntimeApi {
        RuntimeApi { socket }
    }

    /// The socket it talks to.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Sends `command` and returns HAProxy's whole answer. `operation` names it in errors (e.g.
    /// `haproxy:set server`).
    pub async fn command(&self, operation: &str, command: &str) -> Result<String, ApiError> {
        let exchange = async {
            match &self.socket {
                Socket::Unix(path) => {
                    let stream = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(|e| self.unreachable(operation, &e))?;
                    self.exchange(operation, stream, command).await
                }
                Socket::Tcp(addr) => {
                    let stream = tokio::net::TcpStream::connect(addr.as_str())
                        .await
                        .map_err(|e| self.unreachable(operation, &e))?;
                    self.exchange(operation, stream, command).await
                }
            }
        };
        tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| {
            ApiError::new(
                operation,
                ApiErrorKind::Timeout,
                format!(
                    "no answer from HAProxy's runtime API at {} within {TIMEOUT:?}",
                    self.socket
                ),
            )
        })?
    }

    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        operation: &str,
        mut stream: S,
        command: &str,
    ) -> Result<String, ApiError> {
        let io = |e: std::io::Error| {
            ApiError::new(
                operation,
                ApiErrorKind::Other,
                format!("talking to HAProxy's runtime API at {}: {e}", self.socket),
            )
        };
        stream
            .write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(io)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.map_err(io)?;
        if answer.trim_start().starts_with("Permission denied") {
            return Err(ApiError::new(
                operation,
                ApiErrorKind::AccessDenied {
                    action: format!("{command:?} (the stats socket needs `level admin`)"),
                },
                answer.trim().to_string(),
            ));
        }
        Ok(answer)
    }

    fn unreachable(&self, operation: &str, e: &std::io::Error) -> ApiError {
        let kind = if e.kind() == std::io::ErrorKind::PermissionDenied {
            ApiErrorKind::AccessDenied {
                action: format!("connect to {}", self.socket),
            }
        } else {
            ApiErrorKind::Unreachable
        };
        ApiError::new(
            operation,
            kind,
            format!(
                "cannot connect to HAProxy's runtime API at {}: {e}",
                self.socket
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_is_a_path_or_tcp_host_and_port() {
        assert_eq!(
            Socket::parse("/run/haproxy/admin.sock"),
            Some(Socket::Unix("/run/haproxy/admin.sock".into()))
        );
        assert_eq!(
            Socket::parse("tcp:127.0.0.1:9999"),
            Some(Socket::Tcp("127.0.0.1:9999".into()))
        );
        assert_eq!(
            Socket::parse("tcp:[::1]:9999"),
            Some(Socket::Tcp("[::1]:9999".into()))
        );
        assert_eq!(Socket::parse("tcp:localhost"), None);
        assert_eq!(Socket::parse("tcp::80"), None);
        assert_eq!(Socket::parse("  "), None);
        assert_eq!(Socket::parse("tcp:h:9").unwrap().to_string(), "tcp:h:9");
    }

    #[tokio::test]
    async fn a_socket_nobody_listens_on_is_unreachable_and_named() {
        let api = RuntimeApi::new(Socket::Unix("/nonexistent/albflip/admin.sock".into()));
        let e = api
            .command("haproxy:show stat", "show stat")
            .await
            .unwrap_err();
        assert_eq!(e.kind, ApiErrorKind::Unreachable);
        assert!(e.message.contains("/nonexistent/albflip/admin.sock"), "{e}");
    }
}
