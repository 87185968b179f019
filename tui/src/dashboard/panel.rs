//! A panel is one tab of the dashboard: its state, how it takes input, what it draws, what
//! it copies, which images it shows, and the feeds that keep its data fresh. The app knows
//! panels only through this trait; the tabs are the list in [`crate::dashboard::panels`].
//!
//! A feed ([`Feed`]) is one descriptor: its name, how often it refreshes, its scope (what
//! makes it due again at once), when it is wanted, what to ask, where the answer goes and
//! how its errors show. The schedule ([`crate::dashboard::schedule`]) and the worker do the
//! rest (back-off, cancellation, fault injection, call counting) for every feed alike.

use std::any::Any;
use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;

use scones_workflow::port::{BackendError, BackendResult, Request, Response};

use crate::dashboard::action::{Action, View};
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::schedule::Schedule;
use crate::dashboard::shared::Shared;

/// Whether a panel took an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// It did.
    Yes,
    /// It did not: the keys common to every tab get it ([`crate::dashboard::shell`]).
    No,
}

/// What makes a feed due again at once, besides its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only its interval (and explicit refreshes).
    Global,
    /// The time window changed.
    Window,
    /// What it is about is selected (an execution, an image): a new selection makes it due,
    /// and a request still in flight for the old one is replaced.
    Selection,
}

/// How a feed's failed answer is shown.
pub enum OnError<O> {
    /// As a toast (throttling as "backing off").
    Toast,
    /// By the owner, in its place (an image's failure where the image goes, a missing
    /// baseline in the drift view): no toast on every refresh. It gets the request that
    /// failed.
    InPlace(fn(&mut O, &Request, &BackendError, &mut Shared)),
}

/// One stream of data: what to ask, when, and where the answer goes.
pub struct Feed<O> {
    /// Its name, unique among all feeds (the worker's slot, the health record).
    pub name: &'static str,
    /// How often it refreshes while wanted, given what is on screen and the configured
    /// refresh interval (asked again once each answer is stored).
    pub interval: fn(&Shared, Duration) -> Duration,
    /// What else makes it due.
    pub scope: Scope,
    /// True when its data is needed; the flag says whether the owner's tab is on screen.
    pub wanted: fn(&O, &Shared, bool) -> bool,
    /// The call to make now; `None` when there is nothing to ask (no selection).
    pub request: fn(&O, &Shared) -> Option<Request>,
    /// Stores the answer.
    pub accept: fn(&mut O, Response, &mut Shared),
    /// How an error shows.
    pub on_error: OnError<O>,
}

/// The schedule-facing facts of a feed, without its owner's type.
#[derive(Debug, Clone, Copy)]
pub struct FeedMeta {
    /// Its name.
    pub name: &'static str,
    /// Its interval rule.
    pub interval: fn(&Shared, Duration) -> Duration,
    /// Its scope.
    pub scope: Scope,
}

impl<O> Feed<O> {
    /// Its schedule-facing facts.
    pub fn meta(&self) -> FeedMeta {
        FeedMeta {
            name: self.name,
            interval: self.interval,
            scope: self.scope,
        }
    }
}

/// The twice-the-base refresh of the panels' feeds, at least 2 s.
pub fn panel_interval(_: &Shared, base: Duration) -> Duration {
    (base * 2).max(Duration::from_secs(2))
}

/// Anything that owns feeds: every panel, and the shell (the header's and the list's data).
pub trait FeedOwner: Sized + 'static {
    /// Its feeds, in the order their requests are sent when several are due.
    const FEEDS: &'static [Feed<Self>];
}

/// One tab. Implement this (and [`FeedOwner`]), then add one line to
/// [`crate::dashboard::panels::all`] and its key to the key table.
pub trait Panel: FeedOwner {
    /// Which tab it is (what `GoView` in the key table names).
    fn view(&self) -> View;

    /// Its tab title.
    fn title(&self) -> &'static str;

    /// Its title where the full ones do not fit.
    fn short_title(&self) -> &'static str {
        self.title()
    }

    /// An action while this tab is on screen; [`Handled::No`] passes it to the keys common
    /// to every tab.
    fn handle(&mut self, _action: &Action, _shared: &mut Shared) -> Handled {
        Handled::No
    }

    /// Draws the tab into the body `area`.
    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared);

    /// The footer's key hints for this tab (help, test, burst and quit are added).
    fn hints(&self, _shared: &Shared) -> Vec<(KeyAction, &'static str)> {
        Vec::new()
    }

    /// What `y` copies here.
    fn copy(&self, _shared: &Shared) -> Option<String> {
        None
    }

    /// Keys of the images this tab shows in a body `area`: the one on screen first, then
    /// any worth fetching ahead.
    fn images(&self, _area: Rect, _shared: &Shared) -> Vec<String> {
        Vec::new()
    }

    /// A left click inside the body `area`.
    fn click(&mut self, _x: u16, _y: u16, _area: Rect, _shared: &mut Shared) {}

    /// Something a scope names changed (the window, the selected execution).
    fn scope_changed(&mut self, _scope: Scope, _shared: &mut Shared) {}

    /// A mutation this tab asked for finished (start, stop... are answered with a toast by
    /// default).
    fn mutation_done(
        &mut self,
        _request: &Request,
        _result: &BackendResult<Response>,
        _shared: &mut Shared,
    ) -> Handled {
        Handled::No
    }
}

/// A feed of some owner that is due, with the request to send.
#[derive(Debug, Clone)]
pub struct Due {
    /// The feed.
    pub meta: FeedMeta,
    /// The call.
    pub request: Request,
}

/// The feeds of `owner` due now. A wanted feed is due when nothing is in flight and its
/// time has come, or (selection scope) when what is in flight asks about something no
/// longer selected.
pub fn due<O: FeedOwner>(
    owner: &O,
    shared: &Shared,
    visible: bool,
    schedule: &Schedule,
) -> Vec<Due> {
    let mut out = Vec::new();
    for feed in O::FEEDS {
        if !(feed.wanted)(owner, shared, visible) {
            continue;
        }
        let request = match schedule.in_flight(feed.name) {
            Some(sent) if feed.scope == Scope::Selection => match (feed.request)(owner, shared) {
                Some(fresh) if &fresh != sent => fresh,
                _ => continue,
            },
            Some(_) => continue,
            None if schedule.is_due(feed.name, shared.now) => match (feed.request)(owner, shared) {
                Some(r) => r,
                None => continue,
            },
            None => continue,
        };
        out.push(Due {
            meta: feed.meta(),
            request,
        });
    }
    out
}

/// The descriptor of `name` among `O`'s feeds.
pub fn feed_of<O: FeedOwner>(name: &str) -> Option<&'static Feed<O>> {
    O::FEEDS.iter().find(|f| f.name == name)
}

/// Hands an answer to the feed `name` of `owner`; false when it has no such feed.
pub fn accept<O: FeedOwner>(
    owner: &mut O,
    name: &str,
    response: Response,
    shared: &mut Shared,
) -> bool {
    match feed_of::<O>(name) {
        Some(feed) => {
            (feed.accept)(owner, response, shared);
            true
        }
        None => false,
    }
}

/// Shows a failed answer of the feed `name` of `owner` to `request` as its descriptor says.
pub fn failed<O: FeedOwner>(
    owner: &mut O,
    name: &str,
    request: &Request,
    error: &BackendError,
    shared: &mut Shared,
) {
    match feed_of::<O>(name).map(|f| &f.on_error) {
        Some(OnError::InPlace(show)) => show(owner, request, error, shared),
        Some(OnError::Toast) | None => shared.toast_backend_error(error),
    }
}

/// A panel without its type: what the app holds in its tab list.
pub trait Tab {
    /// [`Panel::view`].
    fn view(&self) -> View;
    /// [`Panel::title`].
    fn title(&self) -> &'static str;
    /// [`Panel::short_title`].
    fn short_title(&self) -> &'static str;
    /// [`Panel::handle`].
    fn handle(&mut self, action: &Action, shared: &mut Shared) -> Handled;
    /// [`Panel::draw`].
    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared);
    /// [`Panel::hints`].
    fn hints(&self, shared: &Shared) -> Vec<(KeyAction, &'static str)>;
    /// [`Panel::copy`].
    fn copy(&self, shared: &Shared) -> Option<String>;
    /// [`Panel::images`].
    fn images(&self, area: Rect, shared: &Shared) -> Vec<String>;
    /// [`Panel::click`].
    fn click(&mut self, x: u16, y: u16, area: Rect, shared: &mut Shared);
    /// [`Panel::scope_changed`].
    fn scope_changed(&mut self, scope: Scope, shared: &mut Shared);
    /// [`Panel::mutation_done`].
    fn mutation_done(
        &mut self,
        request: &Request,
        result: &BackendResult<Response>,
        shared: &mut Shared,
    ) -> Handled;
    /// Its feeds due now ([`due`]).
    fn due(&self, shared: &Shared, visible: bool, schedule: &Schedule) -> Vec<Due>;
    /// True when it owns the feed `name`.
    fn owns(&self, name: &str) -> bool;
    /// [`accept`].
    fn accept(&mut self, name: &str, response: Response, shared: &mut Shared);
    /// [`failed`].
    fn failed(&mut self, name: &str, request: &Request, error: &BackendError, shared: &mut Shared);
    /// The panel itself, for tests and benchmarks that look inside one.
    fn as_any(&self) -> &dyn Any;
}

impl<P: Panel> Tab for P {
    fn view(&self) -> View {
        Panel::view(self)
    }

    fn title(&self) -> &'static str {
        Panel::title(self)
    }

    fn short_title(&self) -> &'static str {
        Panel::short_title(self)
    }

    fn handle(&mut self, action: &Action, shared: &mut Shared) -> Handled {
        Panel::handle(self, action, shared)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        Panel::draw(self, frame, area, shared);
    }

    fn hints(&self, shared: &Shared) -> Vec<(KeyAction, &'static str)> {
        Panel::hints(self, shared)
    }

    fn copy(&self, shared: &Shared) -> Option<String> {
        Panel::copy(self, shared)
    }

    fn images(&self, area: Rect, shared: &Shared) -> Vec<String> {
        Panel::images(self, area, shared)
    }

    fn click(&mut self, x: u16, y: u16, area: Rect, shared: &mut Shared) {
        Panel::click(self, x, y, area, shared);
    }

    fn scope_changed(&mut self, scope: Scope, shared: &mut Shared) {
        Panel::scope_changed(self, scope, shared);
    }

    fn mutation_done(
        &mut self,
        request: &Request,
        result: &BackendResult<Response>,
        shared: &mut Shared,
    ) -> Handled {
        Panel::mutation_done(self, request, result, shared)
    }

    fn due(&self, shared: &Shared, visible: bool, schedule: &Schedule) -> Vec<Due> {
        due(self, shared, visible, schedule)
    }

    fn owns(&self, name: &str) -> bool {
        feed_of::<P>(name).is_some()
    }

    fn accept(&mut self, name: &str, response: Response, shared: &mut Shared) {
        accept(self, name, response, shared);
    }

    fn failed(&mut self, name: &str, request: &Request, error: &BackendError, shared: &mut Shared) {
        failed(self, name, request, error, shared);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
