//! What every tab has in common: the feeds behind the header and the shared executions list
//! (the listing, the endpoint's status, the image on screen), and the keys that work on
//! every tab (start a test execution or a burst, stop or redrive the selected execution,
//! show its record, widen or narrow the window, go back to the first tab), with their
//! answers.

use std::time::Duration;

use scones_workflow::ExecutionStatus;
use scones_workflow::guard::GuardCommand;
use scones_workflow::port::{BackendError, BackendResult, Cursor, RecordLink, Request, Response};

use crate::dashboard::action::Action;
use crate::dashboard::keymap::KeyAction;
use crate::dashboard::panel::{Feed, FeedOwner, OnError, Scope};
use crate::dashboard::panels;
use crate::dashboard::shared::Shared;

/// The executions listing's feed name.
pub const EXECUTIONS: &str = "executions";
/// The image feed's name.
pub const IMAGE: &str = "image";
/// Executions asked for per listing call.
pub const PAGE_SIZE: usize = 5000;

/// The common part's own state.
#[derive(Debug, Default)]
pub struct Shell {
    /// Where the executions listing left off.
    cursor: Option<Cursor>,
}

impl Shell {
    /// Where the executions listing left off.
    pub fn cursor(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }

    /// The keys common to every tab (the tab on screen did not take `action`).
    pub fn handle(&mut self, action: &Action, shared: &mut Shared) {
        match action {
            Action::Back => {
                if shared.mode == crate::dashboard::keymap::InputMode::Help {
                    shared.mode = crate::dashboard::keymap::InputMode::Normal;
                } else {
                    shared.outbox.go = Some((panels::first(), None));
                }
            }
            Action::StartTest => shared.mutate(Request::StartRandom { count: 1 }),
            Action::StartBurst => {
                let count = shared.config.burst;
                let what = format!("start {count} executions");
                if shared.confirmed(action, None, KeyAction::Burst, &what) {
                    shared.mutate(Request::StartRandom { count });
                }
            }
            Action::Stop => match shared.executions.selected() {
                Some(e) if e.status == ExecutionStatus::Running => {
                    let id = e.id.clone();
                    let what = format!("stop {}", e.name);
                    if shared.confirmed(action, Some(id.as_str()), KeyAction::Stop, &what) {
                        shared.mutate(Request::Stop { id });
                    }
                }
                Some(e) => {
                    let text = format!(
                        "{} is {}: only running executions can be stopped",
                        e.name, e.status
                    );
                    shared.toast_info(text);
                }
                None => shared.toast_info("no execution selected"),
            },
            Action::Redrive => self.redrive(action, shared),
            Action::OpenRecord => match shared.executions.selected() {
                Some(e) => {
                    let id = e.id.clone();
                    shared.mutate(Request::RecordLink { id });
                }
                None => shared.toast_info("no execution selected"),
            },
            Action::WindowWider => shared.step_window(1),
            Action::WindowNarrower => shared.step_window(-1),
            Action::ToggleGuard => toggle_guard(action, shared),
            _ => {}
        }
    }

    fn redrive(&mut self, action: &Action, shared: &mut Shared) {
        if !shared.info.supports_redrive {
            let test = shared.config.keymap.hint(KeyAction::Test);
            shared.toast_info(format!(
                "redrive is an AWS feature (RedriveExecution); locally, press {test} to run a new execution"
            ));
            return;
        }
        match shared.executions.selected() {
            Some(e) if e.status.is_redrivable() => {
                let id = e.id.clone();
                let what = format!("redrive {}", e.name);
                if shared.confirmed(action, Some(id.as_str()), KeyAction::Redrive, &what) {
                    shared.mutate(Request::Redrive { id });
                }
            }
            Some(e) => {
                let text = format!(
                    "{} is {}: only failed, timed-out or aborted executions can be redriven",
                    e.name, e.status
                );
                shared.toast_info(text);
            }
            None => shared.toast_info("no execution selected"),
        }
    }

    /// A mutation's answer, when the tab that asked did not take it.
    pub fn mutation_done(
        &mut self,
        _request: &Request,
        result: BackendResult<Response>,
        shared: &mut Shared,
    ) {
        match result {
            Err(e) => shared.toast_error(e.to_string()),
            Ok(Response::Started(ids)) => {
                let text = match ids.as_slice() {
                    [one] => format!(
                        "started execution {}",
                        one.as_str().rsplit(':').next().unwrap_or(one.as_str())
                    ),
                    many => format!("started {} executions", many.len()),
                };
                shared.toast_info(text);
                shared.refresh(EXECUTIONS);
            }
            Ok(Response::Stopped(id)) => {
                shared.toast_info(format!("stopped {id}"));
                shared.refresh(EXECUTIONS);
            }
            Ok(Response::Redriven(id)) => {
                shared.toast_info(format!("redriven {id}"));
                // It runs again: its status (and so its history) is current no more.
                let now = shared.now;
                shared
                    .executions
                    .set_status(&id, ExecutionStatus::Running, now);
                shared.refresh(EXECUTIONS);
            }
            // A console URL is long (the execution's ARN is in it): it goes to the clipboard
            // whole, and the toast shows it wrapped.
            Ok(Response::Link(RecordLink::Url(url))) => {
                shared.toast_info(format!("console link copied to the clipboard: {url}"));
                shared.copy_quietly(url);
            }
            Ok(Response::Link(link)) => shared.toast_info(format!("record: {link}")),
            Ok(Response::Guard(state)) => {
                shared.toast_info(if state.holding().is_some() {
                    "the guard holds decisions: they fail with DriftHold and go to review"
                } else {
                    "the guard released: confident decisions are accepted again"
                });
                shared.guard = Some(state);
            }
            Ok(_) => {}
        }
    }

    /// A scope changed (nothing of the common part depends on one).
    pub fn scope_changed(&mut self, _scope: Scope, _shared: &mut Shared) {}
}

/// Releases the guard's hold, or engages one (confirmed by a second press on AWS).
fn toggle_guard(action: &Action, shared: &mut Shared) {
    let Some(state) = &shared.guard else {
        shared.toast_info("the guard's state is not known yet");
        return;
    };
    let (command, what) = if state.hold.is_some() {
        (
            GuardCommand::Release,
            "release the guard (accept decisions again)",
        )
    } else {
        (
            GuardCommand::Engage,
            "engage the guard (hold every decision for review)",
        )
    };
    if shared.confirmed(action, None, KeyAction::Guard, what) {
        shared.mutate(Request::CommandGuard(command));
    }
}

fn accept_listing(shell: &mut Shell, response: Response, shared: &mut Shared) {
    let Response::Executions(delta) = response else {
        return;
    };
    shell.cursor = Some(delta.cursor);
    let now = shared.now;
    let height = panels::executions::list_height(shared.size);
    let list = &mut shared.executions;
    let gone_selected = list.selected_id().filter(|id| delta.removed.contains(id));
    let removed = list.remove(&delta.removed, now);
    if list.merge(delta.changed, now) || removed {
        list.keep_visible(height);
    }
    if let Some(id) = gone_selected {
        // `scones gc` (or the service's retention) removed what was on screen: say so
        // rather than switch silently to another execution.
        let name = id
            .as_str()
            .rsplit(':')
            .next()
            .unwrap_or(id.as_str())
            .to_owned();
        shared.toast_info(format!(
            "execution {name} was removed from the store (scones gc or retention); showing the next one"
        ));
    }
}

fn show_image_failure(_: &mut Shell, request: &Request, error: &BackendError, shared: &mut Shared) {
    if let Request::Image { s3_key } = request {
        // Shown in the image's place, not as a toast, and asked again later.
        let now = shared.now;
        shared
            .images
            .insert_failure(s3_key.clone(), error.to_string(), now);
    }
}

/// The endpoint's status changes rarely once it serves; while it does not (the first model
/// training locally, an update or a rollback on AWS), the header's countdown and the moment
/// it serves are what the user waits for, so it is asked every couple of seconds.
fn endpoint_interval(shared: &Shared, base: Duration) -> Duration {
    match &shared.endpoint {
        Some(endpoint) if !endpoint.in_service() => (base * 2).max(Duration::from_secs(2)),
        _ => (base * 15).max(Duration::from_secs(10)),
    }
}

impl FeedOwner for Shell {
    const FEEDS: &'static [Feed<Shell>] = &[
        Feed {
            name: EXECUTIONS,
            interval: |_, base| base,
            scope: Scope::Global,
            wanted: |_, _, _| true,
            request: |shell, _| {
                Some(Request::Executions {
                    cursor: shell.cursor.clone(),
                    limit: PAGE_SIZE,
                })
            },
            accept: accept_listing,
            on_error: OnError::Toast,
        },
        Feed {
            name: "endpoint",
            interval: endpoint_interval,
            scope: Scope::Global,
            wanted: |_, _, _| true,
            request: |_, _| Some(Request::Endpoint),
            accept: |_, response, shared| {
                if let Response::Endpoint(info) = response {
                    shared.endpoint = Some(info);
                }
            },
            on_error: OnError::Toast,
        },
        Feed {
            name: "guard",
            interval: |_, base| (base * 2).max(Duration::from_secs(2)),
            scope: Scope::Global,
            wanted: |_, _, _| true,
            request: |_, _| Some(Request::Guard),
            accept: |_, response, shared| {
                if let Response::Guard(state) = response {
                    shared.guard = Some(state);
                }
            },
            // A backend without a guard (AWS, for now) says so once in the header's place:
            // no toast every refresh.
            on_error: OnError::InPlace(|_, _, _, shared| shared.guard = None),
        },
        Feed {
            name: IMAGE,
            interval: |_, base| base,
            // The image on screen first, then the ones fetched ahead (a failed fetch is shown
            // in its place and asked again after `image::RETRY_AFTER`). A request in flight
            // for an image no longer wanted is replaced.
            scope: Scope::Selection,
            wanted: |_, shared, _| shared.picker.is_some() && next_image(shared).is_some(),
            request: |_, shared| {
                Some(Request::Image {
                    s3_key: next_image(shared)?.to_owned(),
                })
            },
            accept: |_, response, shared| {
                if let Response::Image(key, bytes) = response {
                    let now = shared.now;
                    shared.images.insert_png(key, &bytes, now);
                    // The ones fetched ahead come one after another, not a refresh apart.
                    if next_image(shared).is_some() {
                        shared.refresh(IMAGE);
                    }
                }
            },
            on_error: OnError::InPlace(show_image_failure),
        },
    ];
}

/// The first wanted image not held yet.
fn next_image(shared: &Shared) -> Option<&str> {
    shared
        .images_wanted
        .iter()
        .map(String::as_str)
        .find(|key| shared.images.wants(key, shared.now))
}
