//! Ending every wait of a run at once. A run that is told to stop (Ctrl-C, SIGTERM) must
//! not sit out a server's long `Retry-After`, a backoff, a rate-limit slot or a
//! token fetch before it can record itself and exit: each of those waits is raced against
//! this signal and ends the moment it fires. A request already sent is not cut off; one that
//! has not started is not started.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

/// A wait ended because the run is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

/// The stop signal of one run; cheap to clone, every clone sees the same signal.
#[derive(Debug, Clone)]
pub struct Stop {
    signal: Arc<watch::Sender<bool>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            signal: Arc::new(watch::Sender::new(false)),
        }
    }
}

impl Stop {
    /// Fire the signal: every wait in progress ends, and every later one ends at once.
    pub fn stop(&self) {
        self.signal.send_replace(true);
    }

    /// Whether the signal fired.
    pub fn is_stopped(&self) -> bool {
        *self.signal.borrow()
    }

    /// Resolves once the signal fires.
    pub async fn stopped(&self) {
        let mut seen = self.signal.subscribe();
        // An Err means the sender is gone, which cannot happen while `self` holds it.
        let _ = seen.wait_for(|stopped| *stopped).await;
    }

    /// `wait`, unless the signal fires first (or has fired already).
    pub async fn wait<F: Future>(&self, wait: F) -> Result<F::Output, Stopped> {
        tokio::select! {
            biased;
            () = self.stopped() => Err(Stopped),
            out = wait => Ok(out),
        }
    }
}

/// Resolves at the first Ctrl-C or SIGTERM.
pub async fn interrupt_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_long_wait_ends_when_the_signal_fires() {
        let stop = Stop::default();
        let waiter = {
            let stop = stop.clone();
            tokio::spawn(async move {
                stop.wait(tokio::time::sleep(Duration::from_secs(600)))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.stop();
        let ended = tokio::time::timeout(Duration::from_secs(1), waiter).await;
        assert_eq!(ended.ok().and_then(Result::ok), Some(Err(Stopped)));
    }

    #[tokio::test]
    async fn after_the_signal_nothing_waits_and_before_it_waits_finish() {
        let stop = Stop::default();
        assert_eq!(stop.wait(async { 7 }).await, Ok(7));
        stop.stop();
        assert!(stop.is_stopped());
        assert_eq!(stop.wait(async { 7 }).await, Err(Stopped));
    }
}
