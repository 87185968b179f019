//! What can happen to the dashboard: the messages [`crate::dashboard::app::App::update`]
//! consumes, and the commands it hands back for the run loop to carry out.
//!
//! Input events become actions in [`crate::dashboard::keymap`]; backend answers arrive as
//! [`Action::Completed`]. `update` never does I/O: it returns [`Command`]s instead, so the
//! whole dashboard can be driven and checked without a terminal.

use chrono::{DateTime, Utc};

use scones_workflow::port::Request;
use scones_workflow::review::Verdict;

use crate::dashboard::keymap::KeyAction;
use crate::dashboard::worker::{Completion, RequestId, Slot};

/// A tab, by the name its panel gives it (`crate::dashboard::panels` lists them in tab
/// order). The key table's `GoView` actions name the tabs this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct View(pub &'static str);

/// A user intent or an outside event, after key mapping.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Time passed: run the refresh schedule, expire toasts, advance the spinner.
    Tick(DateTime<Utc>),
    /// The terminal was resized.
    Resize(u16, u16),
    /// Leave the dashboard.
    Quit,
    /// A signal ended the dashboard (SIGINT, SIGTERM...): leave, exiting with this status
    /// (128 + the signal number, as a shell reports it).
    Terminated(u8),
    /// Move the selection by this many rows (negative: up).
    Move(i32),
    /// Select the first row.
    First,
    /// Select the last row.
    Last,
    /// Move one page up.
    PageUp,
    /// Move one page down.
    PageDown,
    /// Open the selection (execution detail).
    Open,
    /// Close the innermost thing open (help, filter, detail).
    Back,
    /// Next tab.
    NextView,
    /// Previous tab.
    PrevView,
    /// Go to a tab.
    GoView(View),
    /// Next pane inside a view (detail: states -> payload -> events).
    NextFocus,
    /// Next payload tab (Input -> Output -> Error).
    NextTab,
    /// Previous payload tab.
    PrevTab,
    /// Start editing the filter.
    FilterStart,
    /// A character typed into the filter.
    FilterInput(char),
    /// Backspace in the filter.
    FilterBackspace,
    /// Keep the filter and stop editing.
    FilterAccept,
    /// Drop the filter edit.
    FilterCancel,
    /// Next sort order of the executions list.
    CycleSort,
    /// Show or hide the key help.
    ToggleHelp,
    /// Start one test execution on a random test image.
    StartTest,
    /// Start a burst of test executions.
    StartBurst,
    /// Stop the selected execution.
    Stop,
    /// Redrive the selected execution.
    Redrive,
    /// Copy the JSON in view to the clipboard.
    Copy,
    /// Show where the selected execution's full record lives.
    OpenRecord,
    /// Wider metrics window.
    WindowWider,
    /// Narrower metrics window.
    WindowNarrower,
    /// Left click at (column, row).
    Click(u16, u16),
    /// Mouse wheel at (column, row): negative up, positive down.
    Scroll(u16, u16, i32),
    /// Release the guard's hold, or engage one.
    ToggleGuard,
    /// Label the image under review.
    Label(Verdict),
    /// Take the last label back.
    UndoLabel,
    /// Serve the selected model version.
    Promote,
    /// Serve the version served before.
    Rollback,
    /// A backend call finished.
    Completed(Box<Completion>),
}

impl Action {
    /// Actions that change the deployment (refused with `--readonly`).
    pub fn is_mutating(&self) -> bool {
        KeyAction::MUTATING
            .iter()
            .any(|k| k.binding().does == *self)
    }
}

/// Side effects `update` asks the run loop to perform.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run a backend call for `slot` in the background; its answer comes back as
    /// [`Action::Completed`] with the same id.
    Fetch {
        /// The request's id.
        id: RequestId,
        /// The feed (or [`Slot::Mutation`]) it belongs to.
        slot: Slot,
        /// The call.
        request: Request,
    },
    /// Put text on the terminal's clipboard (OSC 52).
    Copy(String),
}
