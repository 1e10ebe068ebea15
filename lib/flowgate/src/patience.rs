//! How long the SDK keeps trying a server it cannot reach. A server never reached (a wrong
//! URL, nothing started) is reported after about a second; a server that answered before is
//! restarting or crashed and coming back, so requests and event deliveries keep trying for a
//! minute, as the `prefect` client does (it retries a refused connection once it has
//! connected, for about 60 s), and a flow, or a pause waiting for its resume, carries on across
//! the restart. A harness whose server was stopped on purpose gives up at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Quick attempts: the first three waits of 100, 300 and 900 ms.
const QUICK_ATTEMPTS: u32 = 4;
/// The wait between attempts once the quick ones failed, for a server reached before.
const SLOW_STEP: Duration = Duration::from_secs(2);
/// How long to keep trying a server reached before.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the SDK knows of its server's reachability; shared by the API client and the event
/// sender of one engine.
#[derive(Debug, Default)]
pub(crate) struct Patience {
    reached: AtomicBool,
    stopped: AtomicBool,
}

impl Patience {
    /// The server answered (an HTTP response of any status, or a websocket handshake).
    pub fn reached(&self) {
        self.reached.store(true, Ordering::Relaxed);
    }

    /// The engine's own server was stopped on purpose: nothing will come back.
    pub fn stopped(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// The wait before attempt `attempt + 1` after `attempt` attempts failed to reach the
    /// server in `waited`, or `None` to give up.
    pub fn retry_after(&self, attempt: u32, waited: Duration) -> Option<Duration> {
        if attempt < QUICK_ATTEMPTS {
            return Some(Duration::from_millis(100) * 3u32.pow(attempt - 1));
        }
        let patient = self.reached.load(Ordering::Relaxed) && !self.stopped.load(Ordering::Relaxed);
        (patient && waited < PATIENCE).then_some(SLOW_STEP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(p: &Patience) -> Vec<Duration> {
        let (mut waited, mut waits) = (Duration::ZERO, Vec::new());
        for attempt in 1.. {
            match p.retry_after(attempt, waited) {
                Some(wait) => {
                    waited += wait;
                    waits.push(wait);
                }
                None => return waits,
            }
        }
        unreachable!()
    }

    #[test]
    fn a_server_never_reached_is_given_up_on_after_about_a_second() {
        let total: Duration = waits(&Patience::default()).iter().sum();
        assert_eq!(total, Duration::from_millis(1300));
    }

    #[test]
    fn a_server_reached_before_is_waited_for_a_minute() {
        let p = Patience::default();
        p.reached();
        let total: Duration = waits(&p).iter().sum();
        assert!(total >= PATIENCE && total <= PATIENCE + SLOW_STEP + Duration::from_secs(2));
        p.stopped();
        let total: Duration = waits(&p).iter().sum();
        assert_eq!(
            total,
            Duration::from_millis(1300),
            "unless stopped on purpose"
        );
    }
}
