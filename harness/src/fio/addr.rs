//! Where a `fio --server` listens, and waiting until it accepts connections.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Where a `fio --server` listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddr {
    /// An IPv4 address and port (in a network namespace the harness made, or a lab host).
    Ip {
        /// Address, e.g. `198.18.1.2`.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A Unix socket (containers with `--network=none` and the socket's directory bind-mounted).
    Unix(PathBuf),
}

impl ServerAddr {
    /// The `--server=` / `--client=` argument.
    pub fn fio_arg(&self) -> String {
        match self {
            ServerAddr::Ip { host, port } => format!("ip:{host},{port}"),
            ServerAddr::Unix(path) => format!("sock:{}", path.display()),
        }
    }

    /// Waits until the server accepts connections, or `timeout` passes.
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let ok = match self {
                ServerAddr::Ip { host, port } => {
                    let addr = format!("{host}:{port}");
                    addr.parse()
                        .map(|a| {
                            std::net::TcpStream::connect_timeout(&a, Duration::from_millis(200))
                                .is_ok()
                        })
                        .unwrap_or(false)
                }
                ServerAddr::Unix(path) => std::os::unix::net::UnixStream::connect(path).is_ok(),
            };
            if ok {
                return Ok(());
            }
            crate::sys::interrupt::check()?;
            if Instant::now() >= deadline {
                return Err(Error::Fio {
                    message: format!(
                        "fio server {} did not accept connections within {timeout:?}",
                        self.fio_arg()
                    ),
                    tail: String::new(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
