//! The guard's state as the filter reads it: `s3://<GUARD_BUCKET>/guard/state.json`, which
//! monitor-drift writes after every run (the same `GuardState` JSON as the local stack's).
//!
//! - A state read within [`FRESH_FOR`] is reused (one GetObject per environment per 30 s,
//!   whatever the traffic), so a hold takes effect at most that long after it is written.
//! - No object yet (404: the monitor has not run) means no hold.
//! - An unreadable state (S3 error, or not a guard state) fails safe: the last state read is
//!   used while it is younger than [`STALE_FOR`] (a blip of S3 changes nothing); after that,
//!   in `hold` mode (`GUARD_MODE`, Terraform's `guard`) decisions are held for review, since
//!   accepting them would trust a model whose drift nobody can see; in `warn` and `off` they
//!   pass, as those modes never hold.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use scones_workflow::guard::{By, GuardMode, GuardState, Hold, STATE_KEY};

/// How long a state read is reused.
pub const FRESH_FOR: Duration = Duration::from_secs(30);
/// How long the last state read stands in for one that cannot be read.
pub const STALE_FOR: Duration = Duration::from_secs(15 * 60);
/// The statistic a fail-safe hold names (the cause reads "drift ALERT on <this>").
pub const UNREADABLE: &str = "guard state unreadable";

/// One read of the state object.
#[derive(Debug)]
pub enum Read {
    /// The state.
    State(GuardState),
    /// No object yet.
    Missing,
    /// It could not be read or is not a guard state: why.
    Failed(String),
}

/// The cache of one function environment.
#[derive(Debug, Default)]
pub struct Cache {
    /// When the object was last asked for, and the last state read successfully (`None`:
    /// there was no object) with when.
    asked: Option<Instant>,
    good: Option<(Instant, Option<GuardState>)>,
    /// The fail-safe hold in force until a read succeeds.
    failsafe: Option<Hold>,
}

impl Cache {
    /// Whether the object should be read again now.
    pub fn due(&self, now: Instant) -> bool {
        self.asked
            .is_none_or(|at| now.duration_since(at) >= FRESH_FOR)
    }

    /// Takes a read made at `now`; the hold in force for decisions (see the module docs).
    pub fn accept(
        &mut self,
        read: Read,
        now: Instant,
        mode: GuardMode,
        wall: DateTime<Utc>,
    ) -> Option<Hold> {
        self.asked = Some(now);
        match read {
            Read::State(state) => {
                self.good = Some((now, Some(state)));
                self.failsafe = None;
            }
            Read::Missing => {
                self.good = Some((now, None));
                self.failsafe = None;
            }
            Read::Failed(why) => {
                if let Some((at, _)) = &self.good
                    && now.duration_since(*at) < STALE_FOR
                {
                    tracing::warn!(error = %why, "guard state unreadable: using the last one read");
                } else {
                    tracing::error!(error = %why, mode = %mode, "guard state unreadable: failing safe");
                    self.good = None;
                    if self.failsafe.is_none() {
                        self.failsafe = (mode == GuardMode::Hold).then(|| Hold {
                            since: wall,
                            by: By::Drift,
                            statistics: vec![UNREADABLE.to_owned()],
                            ok_windows: 0,
                        });
                    }
                }
            }
        }
        self.current()
    }

    /// The hold in force: the fail-safe one, or the last state read's.
    pub fn current(&self) -> Option<Hold> {
        self.failsafe.clone().or_else(|| {
            self.good
                .as_ref()
                .and_then(|(_, state)| state.as_ref())
                .and_then(GuardState::holding)
                .cloned()
        })
    }
}

/// The state object in S3, cached.
pub struct GuardSource {
    s3: aws_sdk_s3::Client,
    bucket: String,
    mode: GuardMode,
    cache: Mutex<Cache>,
}

impl GuardSource {
    /// Reads `guard/state.json` of `bucket`.
    pub fn new(s3: aws_sdk_s3::Client, bucket: String, mode: GuardMode) -> GuardSource {
        GuardSource {
            s3,
            bucket,
            mode,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The hold the filter must apply to a decision now. (A poisoned lock, which only a
    /// panic elsewhere leaves, reads as a failed read: the fail-safe answer.)
    pub async fn hold(&self) -> Option<Hold> {
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock()
            && !cache.due(now)
        {
            return cache.current();
        }
        let read = self.read().await;
        match self.cache.lock() {
            Ok(mut cache) => cache.accept(read, now, self.mode, Utc::now()),
            Err(_) => Cache::default().accept(
                Read::Failed("the cache lock is poisoned".into()),
                now,
                self.mode,
                Utc::now(),
            ),
        }
    }

    async fn read(&self) -> Read {
        let answer = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(STATE_KEY)
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) => {
                if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                    return Read::Missing;
                }
                return Read::Failed(format!(
                    "GetObject s3://{}/{STATE_KEY}: {}",
                    self.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ));
            }
        };
        match out.body.collect().await {
            Ok(bytes) => match serde_json::from_slice(&bytes.into_bytes()) {
                Ok(state) => Read::State(state),
                Err(e) => Read::Failed(format!(
                    "s3://{}/{STATE_KEY} is not a guard state: {e}",
                    self.bucket
                )),
            },
            Err(e) => Read::Failed(format!("reading s3://{}/{STATE_KEY}: {e}", self.bucket)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scones_workflow::guard::{Guard, GuardCommand};

    fn holding_state() -> GuardState {
        let mut state = GuardState::new(GuardMode::Hold, Utc::now());
        Guard::command(&mut state, GuardCommand::Engage, Utc::now());
        state
    }

    #[test]
    fn a_state_is_reused_while_fresh_and_read_again_after() {
        let t0 = Instant::now();
        let mut cache = Cache::default();
        assert!(cache.due(t0));
        let hold = cache.accept(
            Read::State(holding_state()),
            t0,
            GuardMode::Hold,
            Utc::now(),
        );
        assert!(hold.is_some());
        assert!(!cache.due(t0 + FRESH_FOR / 2));
        assert!(cache.current().is_some());
        assert!(cache.due(t0 + FRESH_FOR));
    }

    #[test]
    fn no_state_yet_is_no_hold_and_warn_mode_never_holds() {
        let t0 = Instant::now();
        let mut cache = Cache::default();
        assert!(
            cache
                .accept(Read::Missing, t0, GuardMode::Hold, Utc::now())
                .is_none()
        );
        let mut warn = holding_state();
        Guard::command(&mut warn, GuardCommand::Mode(GuardMode::Warn), Utc::now());
        assert!(
            cache
                .accept(Read::State(warn), t0, GuardMode::Hold, Utc::now())
                .is_none()
        );
    }

    /// An S3 blip keeps the last state; a state unreadable for longer than STALE_FOR holds
    /// decisions in hold mode (never in warn or off), naming why.
    #[test]
    fn an_unreadable_state_fails_safe_after_the_last_one_goes_stale() {
        let t0 = Instant::now();
        let mut cache = Cache::default();
        cache.accept(Read::Missing, t0, GuardMode::Hold, Utc::now());
        let blip = cache.accept(
            Read::Failed("503".into()),
            t0 + FRESH_FOR,
            GuardMode::Hold,
            Utc::now(),
        );
        assert!(blip.is_none(), "the last state read (no hold) stands in");

        let late = t0 + STALE_FOR + FRESH_FOR;
        let held = cache
            .accept(
                Read::Failed("AccessDenied".into()),
                late,
                GuardMode::Hold,
                Utc::now(),
            )
            .expect("held");
        assert_eq!(held.statistics, vec![UNREADABLE.to_owned()]);
        assert!(
            Cache::default()
                .accept(
                    Read::Failed("AccessDenied".into()),
                    late,
                    GuardMode::Warn,
                    Utc::now()
                )
                .is_none()
        );
        // Readable again: the state read decides.
        assert!(
            cache
                .accept(Read::Missing, late + FRESH_FOR, GuardMode::Hold, Utc::now())
                .is_none()
        );
    }
}
