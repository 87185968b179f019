//! Time as the engine sees it: "now" for event timestamps and `$$` times, and `sleep` for
//! Wait states, Retry intervals and timeouts.
//!
//! The engine never calls the system clock directly, so tests can run Wait/Retry/timeouts
//! on a [`VirtualClock`] and cost no real time, while production uses [`SystemClock`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

/// The clock an execution runs on.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> DateTime<Utc>;
    /// A future that completes once `duration` has elapsed on this clock.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Real time: `chrono::Utc::now()` and `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that starts at a fixed instant and advances with tokio's timer.
///
/// Run it inside a tokio runtime whose time is paused (`#[tokio::test(start_paused = true)]`
/// or `tokio::time::pause()`): tokio then jumps straight to the next timer whenever every
/// task is idle, which is exactly a discrete-event simulation. Sleeps and timeouts keep their
/// relative order (a 5 s task timeout still beats a 60 s Lambda) but take no real time.
/// Without a paused runtime it simply runs in real time from `epoch`.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    epoch: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl VirtualClock {
    /// A clock whose `now()` starts at `epoch`. Must be created inside a tokio runtime.
    pub fn starting_at(epoch: DateTime<Utc>) -> Self {
        Self {
            epoch,
            origin: tokio::time::Instant::now(),
        }
    }

    /// Virtual time elapsed since the clock was created.
    pub fn elapsed(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.origin)
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(self.elapsed()).unwrap_or(chrono::Duration::MAX);
        self.epoch
            .checked_add_signed(elapsed)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn virtual_clock_advances_without_real_time() {
        let epoch = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap();
        let clock = VirtualClock::starting_at(epoch);
        let real = std::time::Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert!(real.elapsed() < Duration::from_secs(5));
        assert_eq!(clock.now(), epoch + chrono::Duration::hours(1));
    }

    #[tokio::test(start_paused = true)]
    async fn shorter_sleep_wins_a_race() {
        let clock = VirtualClock::starting_at(Utc::now());
        let short = clock.sleep(Duration::from_secs(5));
        let long = clock.sleep(Duration::from_secs(60));
        let winner = tokio::select! {
            _ = short => "short",
            _ = long => "long",
        };
        assert_eq!(winner, "short");
        assert_eq!(clock.elapsed(), Duration::from_secs(5));
    }
}
