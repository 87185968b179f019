//! The refresh schedule of every feed: when each is due, which request of each is the
//! latest (an older answer is ignored), exponential back-off with full jitter after
//! throttling, feed health for the panels, and the mutations in flight with the owner each
//! answer goes back to. Pure bookkeeping: it hands out [`Command`]s and reads completions.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use scones_workflow::port::{BackendError, BackendResult, Request, Response};

use crate::dashboard::action::Command;
use crate::dashboard::panel::{Due, FeedMeta, Scope};
use crate::dashboard::shared::Shared;
use crate::dashboard::worker::{Completion, RequestId, Slot};

/// Longest pause between retries of a throttled feed.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Who asked for a mutation, and so gets its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The keys common to every tab.
    Shell,
    /// The tab at this position.
    Panel(usize),
}

/// A completion that is current, for its owner.
#[derive(Debug)]
pub enum Routed {
    /// The answer of the feed `name`.
    Feed {
        /// The feed.
        name: &'static str,
        /// What it asked.
        request: Request,
        /// The answer.
        result: BackendResult<Response>,
    },
    /// The answer of a mutation.
    Mutation {
        /// Who asked.
        owner: Owner,
        /// What was asked.
        request: Request,
        /// The answer.
        result: BackendResult<Response>,
    },
}

#[derive(Debug, Clone, Default)]
struct FeedState {
    /// When to ask next (`None`: now).
    next_due: Option<DateTime<Utc>>,
    /// Consecutive throttled answers.
    throttled: u32,
    /// The jittered back-off added to the interval after a throttled answer (zero otherwise).
    backoff: Duration,
}

/// The schedule.
pub struct Schedule {
    feeds: HashMap<&'static str, FeedState>,
    metas: HashMap<&'static str, FeedMeta>,
    in_flight: HashMap<&'static str, (RequestId, Request)>,
    mutations: HashMap<RequestId, (Owner, Request)>,
    next_id: RequestId,
    rng: StdRng,
}

impl Schedule {
    /// A schedule whose jitter comes from `seed` (fixed in tests).
    pub fn new(seed: u64) -> Schedule {
        Schedule {
            feeds: HashMap::new(),
            metas: HashMap::new(),
            in_flight: HashMap::new(),
            mutations: HashMap::new(),
            next_id: 1,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Calls in flight.
    pub fn pending(&self) -> usize {
        self.in_flight.len() + self.mutations.len()
    }

    /// True if a request of the feed `name` is in flight.
    pub fn is_pending(&self, name: &str) -> bool {
        self.in_flight.contains_key(name)
    }

    /// Sends a due feed's request (replacing any still in flight, which the worker aborts).
    pub fn send(&mut self, due: Due) -> Command {
        let id = self.fresh_id();
        self.metas.insert(due.meta.name, due.meta);
        self.in_flight
            .insert(due.meta.name, (id, due.request.clone()));
        Command::Fetch {
            id,
            slot: Slot::Feed(due.meta.name),
            request: due.request,
        }
    }

    /// Sends a mutation whose answer goes to `owner`.
    pub fn mutate(&mut self, owner: Owner, request: Request) -> Command {
        let id = self.fresh_id();
        self.mutations.insert(id, (owner, request.clone()));
        Command::Fetch {
            id,
            slot: Slot::Mutation,
            request,
        }
    }

    /// Makes the feed `name` due at once.
    pub fn refresh(&mut self, name: &'static str) {
        self.feeds.entry(name).or_default().next_due = None;
    }

    /// Makes every feed of `scope` due at once.
    pub fn refresh_scope(&mut self, scope: Scope) {
        let names: Vec<&'static str> = self
            .metas
            .values()
            .filter(|m| m.scope == scope)
            .map(|m| m.name)
            .collect();
        for name in names {
            self.refresh(name);
        }
    }

    /// Reads a completion: `None` when it was superseded (a newer request of its feed was
    /// sent) or unknown. Updates the feed's next time and its health in `shared`.
    pub fn complete(&mut self, c: Completion, shared: &mut Shared) -> Option<Routed> {
        let name = match c.slot {
            Slot::Mutation => {
                let (owner, request) = self.mutations.remove(&c.id)?;
                return Some(Routed::Mutation {
                    owner,
                    request,
                    result: c.result,
                });
            }
            Slot::Feed(name) => name,
        };
        if self.in_flight.get(name).map(|(id, _)| *id) != Some(c.id) {
            return None;
        }
        let (_, request) = self.in_flight.remove(name)?;
        let more = matches!(&c.result, Ok(Response::Executions(d)) if d.more);
        self.reschedule(name, c.result.as_ref().map(|_| ()), shared);
        if more {
            // A full page: the rest is waiting.
            self.refresh(name);
        }
        Some(Routed::Feed {
            name,
            request,
            result: c.result,
        })
    }

    /// Next time a feed is due after an answer: the interval after success or an error;
    /// after throttling, exponential backoff with full jitter on top of the interval.
    fn reschedule(
        &mut self,
        name: &'static str,
        result: Result<(), &BackendError>,
        shared: &mut Shared,
    ) {
        let interval = self.interval(name, shared);
        let now = shared.now;
        let health = shared.health.entry(name).or_default();
        let feed = self.feeds.entry(name).or_default();
        let throttled = match result {
            Ok(()) => {
                feed.throttled = 0;
                health.failing = false;
                health.last_error = None;
                health.last_ok = Some(now);
                None
            }
            Err(e) => {
                health.failing = true;
                health.last_error = Some(e.to_string());
                e.is_throttling().then(|| {
                    feed.throttled = feed.throttled.saturating_add(1);
                    feed.throttled
                })
            }
        };
        health.throttled = feed.throttled;
        let backoff = match throttled {
            Some(n) => {
                let cap = interval
                    .saturating_mul(1u32 << n.min(16))
                    .min(MAX_BACKOFF)
                    .as_millis() as u64;
                Duration::from_millis(self.rng.random_range(0..=cap))
            }
            None => Duration::ZERO,
        };
        self.feeds.entry(name).or_default().backoff = backoff;
        self.set_due(name, shared);
    }

    /// The feed's interval rule applied now (the configured refresh for a feed never sent).
    fn interval(&self, name: &str, shared: &Shared) -> Duration {
        self.metas.get(name).map_or(shared.config.refresh, |m| {
            (m.interval)(shared, shared.config.refresh)
        })
    }

    /// The feed's next time: its interval rule (which may look at `shared`) plus any back-off.
    fn set_due(&mut self, name: &'static str, shared: &Shared) {
        let interval = self.interval(name, shared);
        let feed = self.feeds.entry(name).or_default();
        let delay = interval + feed.backoff;
        let due =
            shared.now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero());
        feed.next_due = Some(due);
    }

    /// Called once the owner has stored a feed's answer: its next time is decided again, so
    /// an interval rule that looks at what is on screen sees this answer (the endpoint's
    /// status, say, asked often only while it does not serve). A refresh asked meanwhile (a
    /// full page, more images) stays.
    pub fn answer_stored(&mut self, name: &'static str, shared: &Shared) {
        if self.feeds.get(name).is_some_and(|f| f.next_due.is_some()) {
            self.set_due(name, shared);
        }
    }

    fn fresh_id(&mut self) -> RequestId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

impl Schedule {
    /// The request in flight for the feed `name`, if any.
    pub fn in_flight(&self, name: &str) -> Option<&Request> {
        self.in_flight.get(name).map(|(_, r)| r)
    }

    /// True when the feed `name` is due at `now` (never asked, or its next time has come).
    pub fn is_due(&self, name: &str, now: DateTime<Utc>) -> bool {
        self.feeds
            .get(name)
            .and_then(|f| f.next_due)
            .is_none_or(|due| now >= due)
    }
}
