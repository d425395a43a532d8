//! The seam to the SSH transport: quorum sources and command probes that run on a member host.

use crate::checks::Observed;
use crate::inventory::Host;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, sendable future (the trait stays object-safe without an async-trait crate).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs one script on one host; the SSH transport implements it.
pub trait RemoteRunner: Send + Sync {
    /// Runs `script` on `host` within `timeout`. `Err` means the host could not be asked
    /// (connect, auth, timeout), not that the script failed: that is `Observed.exit`.
    fn run<'a>(
        &'a self,
        host: &'a Host,
        script: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Observed, String>>;
}
