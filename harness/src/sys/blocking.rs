//! The one tokio runtime of the process for the fixtures that block on async clients (Docker's
//! engine API, Kubernetes): two worker threads, built on first use.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

/// The process-wide runtime (testcontainers' blocking runner keeps its own).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("iogate-blocking")
            .enable_all()
            .build()
            .expect("a tokio runtime (threads and timers)")
    })
}

/// Runs `future` to completion on [`runtime`], giving up after `timeout` (a hung server).
pub fn block_on<T, E: std::fmt::Display>(
    future: impl Future<Output = std::result::Result<T, E>>,
    timeout: Duration,
) -> std::result::Result<T, String> {
    runtime().block_on(async {
        match tokio::time::timeout(timeout, future).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    })
}
