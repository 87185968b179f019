//! The dashboard's state and its one entry point, [`App::update`].
//!
//! `update` takes an [`Action`], hands it to the tab on screen (or to the keys common to
//! every tab, [`Shell`]), then asks every feed owner which of its feeds are due and returns
//! the calls as [`Command`]s. It never blocks and never does I/O, which is what lets tests
//! drive the real dashboard with a fixed clock and lets the UI stay responsive whatever the
//! backend does. It knows panels only through [`Tab`]: it never looks at which tab is which.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use rand::Rng;
use ratatui::layout::Rect;
use ratatui_image::picker::Picker;

use scones_workflow::port::BackendInfo;

use crate::dashboard::action::{Action, Command, View};
use crate::dashboard::components::image::ImageMode;
use crate::dashboard::components::{self, Areas};
use crate::dashboard::config::Config;
use crate::dashboard::keymap::{InputMode, KeyAction};
use crate::dashboard::panel::{self, Due, Handled, Scope, Tab};
use crate::dashboard::panels;
use crate::dashboard::schedule::{Owner, Routed, Schedule};
use crate::dashboard::shared::Shared;
use crate::dashboard::shell::Shell;
use crate::dashboard::theme::Theme;
use crate::dashboard::worker::Completion;

/// How the app was started.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Settings.
    pub config: Config,
    /// Mutating keys off.
    pub readonly: bool,
    /// `NO_COLOR` in effect.
    pub no_color: bool,
    /// Time zone for displayed times.
    pub tz: FixedOffset,
    /// Seed of the jitter RNG (fixed in tests).
    pub seed: u64,
    /// How images are encoded for this terminal (`None`: images off).
    pub picker: Option<Picker>,
}

impl AppOptions {
    /// Options with `config`, colours per `NO_COLOR`, the local time zone and a random seed.
    pub fn new(config: Config, readonly: bool) -> Self {
        let config_images = config.images;
        let no_color = Theme::no_color_from_env();
        AppOptions {
            config,
            readonly,
            no_color,
            tz: *chrono::Local::now().offset(),
            seed: rand::rng().random(),
            picker: ImageMode::picker(config_images, no_color),
        }
    }
}

/// The whole dashboard state.
pub struct App {
    /// What the tabs share.
    pub shared: Shared,
    shell: Shell,
    tabs: Vec<Box<dyn Tab>>,
    active: usize,
    schedule: Schedule,
    /// Set by [`Action::Quit`] and [`Action::Terminated`].
    pub should_quit: bool,
    /// The exit status a signal asked for (`None`: a normal quit).
    pub exit_status: Option<u8>,
    /// Something visible changed since the last draw.
    pub dirty: bool,
}

impl App {
    /// A fresh dashboard at time `now` in a terminal of `size`.
    pub fn new(info: BackendInfo, options: AppOptions, now: DateTime<Utc>, size: Rect) -> App {
        let theme = Theme::new(options.config.theme, options.no_color);
        App {
            shared: Shared::new(
                info,
                options.config,
                theme,
                options.readonly,
                options.tz,
                options.picker,
                now,
                size,
            ),
            shell: Shell::default(),
            tabs: panels::all(),
            active: 0,
            schedule: Schedule::new(options.seed),
            should_quit: false,
            exit_status: None,
            dirty: true,
        }
    }

    /// Applies one action and returns the work it makes due.
    pub fn update(&mut self, action: Action) -> Vec<Command> {
        let mut out = Vec::new();
        let selection = self.shared.selection();
        let owner = self.apply(action, &mut out);
        self.settle(owner, selection, &mut out);
        out
    }

    /// The tab on screen.
    pub fn view(&self) -> View {
        self.tabs[self.active].view()
    }

    /// The tab on screen.
    pub fn active(&self) -> &dyn Tab {
        self.tabs[self.active].as_ref()
    }

    /// The tabs, in order.
    pub fn tabs(&self) -> impl Iterator<Item = &dyn Tab> {
        self.tabs.iter().map(|t| t.as_ref())
    }

    /// The panel of type `P` (tests and benchmarks look inside panels this way).
    pub fn panel<P: 'static>(&self) -> Option<&P> {
        self.tabs
            .iter()
            .find_map(|t| t.as_any().downcast_ref::<P>())
    }

    /// True if a request of the feed `name` is in flight.
    pub fn is_pending(&self, name: &str) -> bool {
        self.schedule.is_pending(name)
    }

    /// Calls in flight.
    pub fn pending(&self) -> usize {
        self.schedule.pending()
    }

    /// The current layout.
    pub fn areas(&self) -> Areas {
        components::areas(self.shared.size)
    }

    fn apply(&mut self, action: Action, out: &mut Vec<Command>) -> Owner {
        if !matches!(action, Action::Tick(_)) {
            self.dirty = true;
        }
        if action.is_mutating() && components::is_too_small(self.shared.size) {
            // The screen shows only the size notice: nothing the key did could be seen.
            return Owner::Shell;
        }
        if action.is_mutating() && self.shared.readonly {
            let keys = self.shared.config.keymap.hints(&KeyAction::MUTATING);
            self.shared
                .toast_info(format!("read-only (--readonly): {keys} are turned off"));
            return Owner::Shell;
        }
        match action {
            Action::Tick(now) => self.on_tick(now),
            Action::Resize(w, h) => {
                self.shared.size = Rect::new(0, 0, w, h);
                let height = panels::executions::list_height(self.shared.size);
                self.shared.executions.keep_visible(height);
            }
            Action::Quit => self.should_quit = true,
            Action::Terminated(status) => {
                self.should_quit = true;
                self.exit_status = Some(status);
            }
            Action::ToggleHelp => {
                self.shared.mode = if self.shared.mode == InputMode::Help {
                    InputMode::Normal
                } else {
                    InputMode::Help
                };
            }
            Action::NextView => self.go_to((self.active + 1) % self.tabs.len()),
            Action::PrevView => self.go_to((self.active + self.tabs.len() - 1) % self.tabs.len()),
            Action::GoView(view) => self.go(view),
            Action::Copy => match self.tabs[self.active].copy(&self.shared) {
                Some(text) => self.shared.copy(text),
                None => self.shared.toast_info("nothing to copy here"),
            },
            Action::Click(x, y) => {
                let areas = self.areas();
                let inside = |r: Rect| x >= r.x && x < r.right() && y >= r.y && y < r.bottom();
                if inside(areas.tabs) {
                    if let Some(i) = components::tab_at(areas.tabs, self, x) {
                        self.go_to(i);
                    }
                } else if inside(areas.body) {
                    self.tabs[self.active].click(x, y, areas.body, &mut self.shared);
                }
            }
            Action::Completed(c) => return self.complete(*c, out),
            other => {
                let tab = &mut self.tabs[self.active];
                let mut handled = tab.handle(&other, &mut self.shared);
                if let (Handled::No, Action::Scroll(_, _, notches)) = (handled, &other) {
                    // The wheel moves what the tab lists, three rows a notch.
                    handled =
                        tab.handle(&Action::Move(notches.saturating_mul(3)), &mut self.shared);
                }
                if handled == Handled::No {
                    self.shell.handle(&other, &mut self.shared);
                    return Owner::Shell;
                }
            }
        }
        Owner::Panel(self.active)
    }

    /// After an action: what the panels asked for, the effects of a new selection or window,
    /// the images on screen, and the feeds now due.
    fn settle(
        &mut self,
        owner: Owner,
        selection_before: Option<(
            scones_workflow::port::ExecutionId,
            scones_workflow::ExecutionStatus,
        )>,
        out: &mut Vec<Command>,
    ) {
        let outbox = std::mem::take(&mut self.shared.outbox);
        for request in outbox.mutations {
            out.push(self.schedule.mutate(owner, request));
        }
        out.extend(outbox.copies.into_iter().map(Command::Copy));
        for name in outbox.refresh {
            self.schedule.refresh(name);
        }
        if outbox.window_changed {
            self.scope_changed(Scope::Window);
        }
        if self.shared.selection() != selection_before {
            self.scope_changed(Scope::Selection);
        }
        if let Some((view, then)) = outbox.go {
            self.go(view);
            if let Some(action) = then {
                let before = self.shared.selection();
                self.tabs[self.active].handle(&action, &mut self.shared);
                if self.shared.selection() != before {
                    self.scope_changed(Scope::Selection);
                }
            }
        }
        let body = self.areas().body;
        self.shared.images_wanted = self.tabs[self.active].images(body, &self.shared);
        self.schedule(out);
        self.shared.pending = self.schedule.pending();
    }

    fn scope_changed(&mut self, scope: Scope) {
        self.schedule.refresh_scope(scope);
        self.shell.scope_changed(scope, &mut self.shared);
        for tab in &mut self.tabs {
            tab.scope_changed(scope, &mut self.shared);
        }
    }

    fn schedule(&mut self, out: &mut Vec<Command>) {
        let mut due: Vec<Due> = panel::due(&self.shell, &self.shared, true, &self.schedule);
        for (i, tab) in self.tabs.iter().enumerate() {
            due.extend(tab.due(&self.shared, i == self.active, &self.schedule));
        }
        if !due.is_empty() {
            self.dirty = true;
        }
        for d in due {
            out.push(self.schedule.send(d));
        }
    }

    fn on_tick(&mut self, now: DateTime<Utc>) {
        let shared = &mut self.shared;
        let second_changed = now.timestamp() != shared.now.timestamp();
        shared.now = now;
        shared.ticks += 1;
        if shared.toasts.expire(now) || second_changed || self.schedule.pending() > 0 {
            self.dirty = true;
        }
    }

    fn go(&mut self, view: View) {
        if let Some(i) = self.tabs.iter().position(|t| t.view() == view) {
            self.go_to(i);
        }
    }

    fn go_to(&mut self, i: usize) {
        self.active = i.min(self.tabs.len() - 1);
        self.shared.mode = InputMode::Normal;
    }

    fn complete(&mut self, c: Completion, out: &mut Vec<Command>) -> Owner {
        let Some(routed) = self.schedule.complete(c, &mut self.shared) else {
            // Superseded by a newer request of the same feed: ignore.
            return Owner::Shell;
        };
        let _ = out;
        match routed {
            Routed::Feed {
                name,
                request,
                result,
            } => {
                let owner = self.feed_owner(name);
                match (owner, result) {
                    (Owner::Shell, Ok(r)) => {
                        panel::accept(&mut self.shell, name, r, &mut self.shared);
                    }
                    (Owner::Shell, Err(e)) => {
                        panel::failed(&mut self.shell, name, &request, &e, &mut self.shared);
                    }
                    (Owner::Panel(i), Ok(r)) => self.tabs[i].accept(name, r, &mut self.shared),
                    (Owner::Panel(i), Err(e)) => {
                        self.tabs[i].failed(name, &request, &e, &mut self.shared);
                    }
                }
                self.schedule.answer_stored(name, &self.shared);
                owner
            }
            Routed::Mutation {
                owner,
                request,
                result,
            } => {
                let handled = match owner {
                    Owner::Panel(i) => {
                        self.tabs[i].mutation_done(&request, &result, &mut self.shared)
                    }
                    Owner::Shell => Handled::No,
                };
                if handled == Handled::No {
                    self.shell.mutation_done(&request, result, &mut self.shared);
                }
                owner
            }
        }
    }

    fn feed_owner(&self, name: &str) -> Owner {
        self.tabs
            .iter()
            .position(|t| t.owns(name))
            .map_or(Owner::Shell, Owner::Panel)
    }

    /// How long ago the executions list was refreshed.
    pub fn refresh_age(&self) -> Option<Duration> {
        self.shared.refresh_age()
    }

    /// The executions list is not being refreshed.
    pub fn is_stale(&self) -> bool {
        self.shared.is_stale()
    }
}
