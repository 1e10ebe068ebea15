//! The server's clock. Every handler and service reads "now" from the [`Clock`] in the server's
//! state and sleeps through it, so tests can start a server on a [`Clock::manual`] clock and move
//! time forward instead of waiting for it.

use std::sync::Arc;
use std::time::Duration;

use flowgate_core::Micros;
use tokio::sync::watch;

/// The time source handlers and services use: the system clock, or a manual one tests move.
#[derive(Clone, Debug)]
pub struct Clock(Source);

#[derive(Clone, Debug)]
enum Source {
    System,
    /// The current time, and a wake-up for sleepers whenever it moves.
    Manual(Arc<watch::Sender<Micros>>),
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock(Source::System)
    }

    /// A clock that stands at `start` until [`Clock::advance`] moves it.
    pub fn manual(start: Micros) -> Clock {
        Clock(Source::Manual(Arc::new(watch::Sender::new(start))))
    }

    /// The current time.
    pub fn now(&self) -> Micros {
        match &self.0 {
            Source::System => Micros::from_timestamp(jiff::Timestamp::now()),
            Source::Manual(time) => *time.borrow(),
        }
    }

    /// Moves a manual clock forward by `by`, waking every sleeper whose time has come.
    ///
    /// # Panics
    /// On the system clock, which only time moves.
    pub fn advance(&self, by: Duration) {
        match &self.0 {
            Source::System => panic!("the system clock cannot be advanced; use Clock::manual"),
            Source::Manual(time) => {
                time.send_modify(|t| *t = t.plus_seconds(by.as_secs_f64()));
            }
        }
    }

    /// Waits until `by` has passed on this clock.
    pub async fn sleep(&self, by: Duration) {
        match &self.0 {
            Source::System => tokio::time::sleep(by).await,
            Source::Manual(time) => {
                let until = self.now().plus_seconds(by.as_secs_f64());
                let mut moves = time.subscribe();
                let _ = moves.wait_for(|t| *t >= until).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_it_is_moved() {
        let clock = Clock::manual(Micros(0));
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep(Duration::from_secs(10)).await }
        });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(4));
        assert_eq!(clock.now(), Micros(4_000_000));
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(6));
        sleeper.await.unwrap();
        assert_eq!(clock.now(), Micros(10_000_000));
    }
}
