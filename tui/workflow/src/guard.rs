//! The guard: automatic control of decisions when drift says the model is seeing traffic it
//! was not validated on. While it holds, FilterLowConfidence refuses every decision it would
//! have accepted with `DriftHold`, so the image goes to a person instead.
//!
//! - [`GuardMode`]: `hold` (the default: hold decisions on ALERT), `warn` (only say so) or
//!   `off`;
//! - [`GuardState`]: what is in force, written where the filter reads it (`guard/state.json`
//!   in the bucket, locally and on S3; the same JSON both sides);
//! - [`Guard::observe`]: the rules, applied to each drift verdict of the served model:
//!   ALERT trips it (naming the statistics and when); it releases itself once the verdict
//!   has been OK for [`RELEASE_AFTER`] windows in a row; an operator can release it (it then
//!   trips again only on a new ALERT episode, after a non-ALERT verdict) or engage it by
//!   hand (then only an operator releases it). A new served model starts a new episode.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::drift::Verdict;

/// Where the guard state lives in the bucket.
pub const STATE_KEY: &str = "guard/state.json";

/// Windows in a row whose verdict is OK before a drift hold releases itself.
pub const RELEASE_AFTER: u32 = 3;

/// What the guard does on ALERT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardMode {
    /// Hold decisions for review while drift is ALERT.
    #[default]
    Hold,
    /// Keep accepting; only say so (header, status).
    Warn,
    /// Ignore drift.
    Off,
}

impl GuardMode {
    /// Its name in settings, Terraform and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GuardMode::Hold => "hold",
            GuardMode::Warn => "warn",
            GuardMode::Off => "off",
        }
    }
}

impl fmt::Display for GuardMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Not a guard mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a guard mode: use hold, warn or off")]
pub struct UnknownMode(pub String);

impl FromStr for GuardMode {
    type Err = UnknownMode;

    fn from_str(text: &str) -> Result<GuardMode, UnknownMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "hold" => Ok(GuardMode::Hold),
            "warn" => Ok(GuardMode::Warn),
            "off" => Ok(GuardMode::Off),
            _ => Err(UnknownMode(text.to_owned())),
        }
    }
}

/// Who put the guard where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// The drift verdicts.
    Drift,
    /// A person.
    Operator,
}

/// A hold in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// Since when.
    pub since: DateTime<Utc>,
    /// Who engaged it.
    pub by: By,
    /// The statistics that were ALERT (empty for an operator's hold).
    pub statistics: Vec<String>,
    /// Windows in a row judged OK since (a drift hold releases at [`RELEASE_AFTER`]).
    #[serde(default)]
    pub ok_windows: u32,
}

/// The guard's state, as the filter reads it and the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardState {
    /// The format (1).
    pub format: u32,
    /// What the guard does on ALERT.
    pub mode: GuardMode,
    /// The hold in force, if any (only `hold` mode refuses decisions; `warn` records it).
    pub hold: Option<Hold>,
    /// The served model the drift verdicts were about.
    pub model: Option<String>,
    /// The last drift verdict seen.
    pub verdict: Option<Verdict>,
    /// An operator released the hold: no new drift hold until a verdict below ALERT
    /// (the next episode).
    #[serde(default)]
    pub released: Option<DateTime<Utc>>,
    /// When the state last changed.
    pub updated: DateTime<Utc>,
}

impl GuardState {
    /// The format this build writes.
    pub const FORMAT: u32 = 1;

    /// A guard in `mode`, not holding.
    pub fn new(mode: GuardMode, now: DateTime<Utc>) -> GuardState {
        GuardState {
            format: GuardState::FORMAT,
            mode,
            hold: None,
            model: None,
            verdict: None,
            released: None,
            updated: now,
        }
    }

    /// The hold the filter must apply: `Some` only in `hold` mode while holding.
    pub fn holding(&self) -> Option<&Hold> {
        self.hold.as_ref().filter(|_| self.mode == GuardMode::Hold)
    }
}

/// What changed when the guard looked at a verdict or a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing.
    None,
    /// It started holding.
    Tripped,
    /// It stopped holding.
    Released,
    /// Something else (a count, the verdict, the mode).
    Updated,
}

/// An operator's order to the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardCommand {
    /// Accept decisions again (until a new ALERT episode).
    Release,
    /// Hold decisions now, whatever drift says (until an operator releases).
    Engage,
    /// Set the mode.
    Mode(GuardMode),
}

/// The guard's rules over its state.
pub struct Guard;

impl Guard {
    /// Applies one drift verdict of a complete window of the served `model` (the statistics
    /// named are those at ALERT).
    pub fn observe(
        state: &mut GuardState,
        model: &str,
        verdict: Verdict,
        alert_statistics: &[String],
        now: DateTime<Utc>,
    ) -> Change {
        let mut change = Change::None;
        if state.model.as_deref() != Some(model) {
            // A new served model: its drift is judged against its own baseline; an earlier
            // operator release does not carry over.
            state.model = Some(model.to_owned());
            state.released = None;
            change = Change::Updated;
        }
        if state.verdict != Some(verdict) {
            state.verdict = Some(verdict);
            change = Change::Updated;
        }
        if verdict < Verdict::Alert {
            // A new episode may begin after this.
            if state.released.take().is_some() {
                change = Change::Updated;
            }
        }
        if state.mode == GuardMode::Off {
            if change != Change::None {
                state.updated = now;
            }
            return change;
        }
        match &mut state.hold {
            None if verdict == Verdict::Alert && state.released.is_none() => {
                state.hold = Some(Hold {
                    since: now,
                    by: By::Drift,
                    statistics: alert_statistics.to_vec(),
                    ok_windows: 0,
                });
                change = Change::Tripped;
            }
            Some(hold) if hold.by == By::Drift => match verdict {
                Verdict::Ok => {
                    hold.ok_windows += 1;
                    if hold.ok_windows >= RELEASE_AFTER {
                        state.hold = None;
                        change = Change::Released;
                    } else {
                        change = Change::Updated;
                    }
                }
                Verdict::Alert => {
                    if hold.ok_windows != 0 {
                        hold.ok_windows = 0;
                        change = Change::Updated;
                    }
                    for s in alert_statistics {
                        if !hold.statistics.contains(s) {
                            hold.statistics.push(s.clone());
                            change = Change::Updated;
                        }
                    }
                }
                // WARN or too little data: neither clears nor deepens the hold.
                Verdict::Warn | Verdict::NotEnoughData => {}
            },
            _ => {}
        }
        if change != Change::None {
            state.updated = now;
        }
        change
    }

    /// Applies an operator's command.
    pub fn command(state: &mut GuardState, command: GuardCommand, now: DateTime<Utc>) -> Change {
        let change = match command {
            GuardCommand::Release => match state.hold.take() {
                Some(_) => {
                    // Drift still ALERT: do not trip again on the same episode.
                    if state.verdict == Some(Verdict::Alert) {
                        state.released = Some(now);
                    }
                    Change::Released
                }
                None => Change::None,
            },
            GuardCommand::Engage => {
                state.hold = Some(Hold {
                    since: now,
                    by: By::Operator,
                    statistics: Vec::new(),
                    ok_windows: 0,
                });
                Change::Tripped
            }
            GuardCommand::Mode(mode) if mode != state.mode => {
                state.mode = mode;
                if mode == GuardMode::Off {
                    state.hold = None;
                }
                Change::Updated
            }
            GuardCommand::Mode(_) => Change::None,
        };
        if change != Change::None {
            state.updated = now;
        }
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Terraform grants the functions this one key; a rename on either side must show.
    #[test]
    fn terraform_names_the_same_state_key() {
        for (module, text) in [
            (
                "lambdas",
                include_str!("../../../terraform/modules/lambdas/main.tf"),
            ),
            (
                "drift",
                include_str!("../../../terraform/modules/drift/main.tf"),
            ),
        ] {
            assert!(
                text.contains(&format!("guard_key = \"{STATE_KEY}\"")),
                "terraform/modules/{module}/main.tf does not name {STATE_KEY}"
            );
        }
    }
    use chrono::Duration;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1_700_000_000 + s)
    }

    fn alert() -> Vec<String> {
        vec!["contrast".to_owned()]
    }

    #[test]
    fn alert_trips_and_ok_windows_release() {
        let mut s = GuardState::new(GuardMode::Hold, t(0));
        assert_eq!(
            Guard::observe(&mut s, "m1", Verdict::Ok, &[], t(1)),
            Change::Updated
        );
        assert!(s.holding().is_none());
        assert_eq!(
            Guard::observe(&mut s, "m1", Verdict::Alert, &alert(), t(2)),
            Change::Tripped
        );
        let hold = s.holding().unwrap();
        assert_eq!((hold.since, hold.by), (t(2), By::Drift));
        assert_eq!(hold.statistics, alert());
        // WARN and a new ALERT keep it; only OK windows in a row count.
        Guard::observe(&mut s, "m1", Verdict::Ok, &[], t(3));
        Guard::observe(&mut s, "m1", Verdict::Alert, &alert(), t(4));
        assert_eq!(s.holding().unwrap().ok_windows, 0);
        for i in 0..RELEASE_AFTER - 1 {
            Guard::observe(&mut s, "m1", Verdict::Ok, &[], t(5 + i64::from(i)));
            assert!(s.holding().is_some());
        }
        assert_eq!(
            Guard::observe(&mut s, "m1", Verdict::Ok, &[], t(9)),
            Change::Released
        );
        assert!(s.hold.is_none());
    }

    #[test]
    fn an_operator_release_lasts_until_the_next_episode() {
        let mut s = GuardState::new(GuardMode::Hold, t(0));
        Guard::observe(&mut s, "m1", Verdict::Alert, &alert(), t(1));
        assert_eq!(
            Guard::command(&mut s, GuardCommand::Release, t(2)),
            Change::Released
        );
        // Still ALERT: the same episode does not trip it again.
        assert_eq!(
            Guard::observe(&mut s, "m1", Verdict::Alert, &alert(), t(3)),
            Change::None
        );
        assert!(s.hold.is_none());
        // Back below ALERT, then ALERT again: a new episode.
        Guard::observe(&mut s, "m1", Verdict::Warn, &[], t(4));
        assert_eq!(
            Guard::observe(&mut s, "m1", Verdict::Alert, &alert(), t(5)),
            Change::Tripped
        );
    }

    #[test]
    fn an_operators_hold_waits_for_an_operator() {
        let mut s = GuardState::new(GuardMode::Hold, t(0));
        Guard::command(&mut s, GuardCommand::Engage, t(1));
        for i in 0..10 {
            Guard::observe(&mut s, "m1", Verdict::Ok, &[], t(2 + i));
        }
        assert_eq!(s.holding().unwrap().by, By::Operator);
        Guard::command(&mut s, GuardCommand::Release, t(20));
        assert!(s.holding().is_none());
    }

    #[test]
    fn warn_records_without_holding_and_off_ignores() {
        let mut s = GuardState::new(GuardMode::Warn, t(0));
        Guard::observe(&mut s, "m1", Verdict::Alert, &alert(), t(1));
        assert!(s.hold.is_some(), "recorded");
        assert!(s.holding().is_none(), "but decisions are accepted");
        Guard::command(&mut s, GuardCommand::Mode(GuardMode::Off), t(2));
        assert!(s.hold.is_none());
        Guard::observe(&mut s, "m1", Verdict::Alert, &alert(), t(3));
        assert!(s.hold.is_none());
        assert_eq!("warn".parse::<GuardMode>(), Ok(GuardMode::Warn));
        assert!("block".parse::<GuardMode>().is_err());
    }

    #[test]
    fn a_new_model_forgets_an_operator_release() {
        let mut s = GuardState::new(GuardMode::Hold, t(0));
        Guard::observe(&mut s, "m1", Verdict::Alert, &alert(), t(1));
        Guard::command(&mut s, GuardCommand::Release, t(2));
        assert_eq!(
            Guard::observe(&mut s, "m2", Verdict::Alert, &alert(), t(3)),
            Change::Tripped
        );
    }
}
