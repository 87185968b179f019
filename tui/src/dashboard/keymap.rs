//! Keys to actions: the default bindings (vim keys and arrows), overrides from the config
//! file, and the mode-dependent translation of terminal events into [`Action`]s.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use crate::dashboard::action::Action;
use crate::dashboard::panels::{
    capture, drift, executions, logs, low_confidence, metrics, models, quality, review,
};
use scones_workflow::review::Verdict;

/// A bindable command, named for the config file's `[keys]` table. What each one is called,
/// says, does and is bound to by default is its row of [`BINDINGS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyAction {
    /// Leave.
    Quit,
    /// Key help.
    Help,
    /// Selection up.
    Up,
    /// Selection down.
    Down,
    /// First row.
    First,
    /// Last row.
    Last,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Open detail.
    Open,
    /// Back / close.
    Back,
    /// Next tab.
    NextView,
    /// Previous tab.
    PrevView,
    /// Tab 1.
    Executions,
    /// Tab 2.
    Metrics,
    /// Tab 3.
    LowConfidence,
    /// Tab 4.
    Capture,
    /// Tab 5.
    Logs,
    /// Tab 6.
    Quality,
    /// Tab 7.
    Drift,
    /// Tab 8.
    Review,
    /// Tab 9.
    Models,
    /// Next pane.
    NextFocus,
    /// Next payload tab.
    NextTab,
    /// Previous payload tab.
    PrevTab,
    /// Edit filter.
    Filter,
    /// Cycle sort.
    Sort,
    /// One test execution.
    Test,
    /// A burst of test executions.
    Burst,
    /// Stop the selected execution.
    Stop,
    /// Redrive the selected execution.
    Redrive,
    /// Copy JSON.
    Copy,
    /// Console URL / local record.
    OpenRecord,
    /// Wider metrics window.
    WindowWider,
    /// Narrower metrics window.
    WindowNarrower,
    /// Release the guard's hold, or engage one.
    Guard,
    /// Review: it is a bicycle.
    LabelBicycle,
    /// Review: it is a motorcycle.
    LabelMotorcycle,
    /// Review: cannot tell.
    LabelUnsure,
    /// Review: take the last label back.
    UndoLabel,
    /// Models: serve the selected version (through the gate).
    Promote,
    /// Models: serve the version served before.
    Rollback,
}

/// One row of the key table.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The command.
    pub action: KeyAction,
    /// Its name in the config file's `[keys]` table.
    pub name: &'static str,
    /// Its line in the help overlay.
    pub description: &'static str,
    /// What it does.
    pub does: Action,
    /// Its default keys.
    pub keys: &'static [&'static str],
}

const fn bind(
    action: KeyAction,
    name: &'static str,
    description: &'static str,
    does: Action,
    keys: &'static [&'static str],
) -> Binding {
    Binding {
        action,
        name,
        description,
        does,
        keys,
    }
}

/// Every command, in help order: the one definition of names, descriptions, actions and
/// default keys.
pub static BINDINGS: [Binding; 41] = {
    use KeyAction as K;
    [
        bind(
            K::Help,
            "help",
            "this help",
            Action::ToggleHelp,
            &["?", "f1"],
        ),
        bind(K::Quit, "quit", "quit", Action::Quit, &["q", "ctrl-c"]),
        bind(K::Up, "up", "move up", Action::Move(-1), &["k", "up"]),
        bind(
            K::Down,
            "down",
            "move down",
            Action::Move(1),
            &["j", "down"],
        ),
        bind(
            K::First,
            "first",
            "first row",
            Action::First,
            &["g", "home"],
        ),
        bind(K::Last, "last", "last row", Action::Last, &["G", "end"]),
        bind(
            K::PageUp,
            "page_up",
            "page up",
            Action::PageUp,
            &["ctrl-u", "pageup"],
        ),
        bind(
            K::PageDown,
            "page_down",
            "page down",
            Action::PageDown,
            &["ctrl-d", "pagedown"],
        ),
        bind(
            K::Open,
            "open",
            "open execution detail",
            Action::Open,
            &["enter"],
        ),
        bind(
            K::Back,
            "back",
            "back/close/clear filter",
            Action::Back,
            &["esc"],
        ),
        bind(
            K::NextView,
            "next_view",
            "next tab",
            Action::NextView,
            &["tab"],
        ),
        bind(
            K::PrevView,
            "prev_view",
            "previous tab",
            Action::PrevView,
            &["backtab"],
        ),
        bind(
            K::Executions,
            "view_executions",
            "executions tab",
            Action::GoView(executions::VIEW),
            &["1"],
        ),
        bind(
            K::Metrics,
            "view_metrics",
            "endpoint metrics tab",
            Action::GoView(metrics::VIEW),
            &["2"],
        ),
        bind(
            K::LowConfidence,
            "view_low_confidence",
            "low-confidence tab",
            Action::GoView(low_confidence::VIEW),
            &["3"],
        ),
        bind(
            K::Capture,
            "view_capture",
            "data-capture tab",
            Action::GoView(capture::VIEW),
            &["4"],
        ),
        bind(
            K::Logs,
            "view_logs",
            "logs tab",
            Action::GoView(logs::VIEW),
            &["5"],
        ),
        bind(
            K::Quality,
            "view_quality",
            "decision-quality tab",
            Action::GoView(quality::VIEW),
            &["6"],
        ),
        bind(
            K::Drift,
            "view_drift",
            "drift tab",
            Action::GoView(drift::VIEW),
            &["7"],
        ),
        bind(
            K::Review,
            "view_review",
            "review tab (label images)",
            Action::GoView(review::VIEW),
            &["8"],
        ),
        bind(
            K::Models,
            "view_models",
            "models tab (versions)",
            Action::GoView(models::VIEW),
            &["9"],
        ),
        bind(
            K::NextFocus,
            "next_pane",
            "detail: next pane",
            Action::NextFocus,
            &["space"],
        ),
        bind(
            K::NextTab,
            "next_tab",
            "detail: next payload tab",
            Action::NextTab,
            &["l", "right"],
        ),
        bind(
            K::PrevTab,
            "prev_tab",
            "detail: prev payload tab",
            Action::PrevTab,
            &["h", "left"],
        ),
        bind(
            K::Filter,
            "filter",
            "filter executions",
            Action::FilterStart,
            &["/"],
        ),
        bind(
            K::Sort,
            "sort",
            "cycle sort order",
            Action::CycleSort,
            &["S"],
        ),
        bind(
            K::Test,
            "test",
            "start a test execution",
            Action::StartTest,
            &["t"],
        ),
        bind(
            K::Burst,
            "burst",
            "burst of test executions",
            Action::StartBurst,
            &["T"],
        ),
        bind(
            K::Stop,
            "stop",
            "stop selected execution",
            Action::Stop,
            &["s"],
        ),
        bind(
            K::Redrive,
            "redrive",
            "redrive selected (AWS)",
            Action::Redrive,
            &["r"],
        ),
        bind(K::Copy, "copy", "copy JSON (OSC 52)", Action::Copy, &["y"]),
        bind(
            K::OpenRecord,
            "open_record",
            "console URL/local record",
            Action::OpenRecord,
            &["o"],
        ),
        bind(
            K::WindowWider,
            "window_wider",
            "metrics window wider",
            Action::WindowWider,
            &["+", "="],
        ),
        bind(
            K::WindowNarrower,
            "window_narrower",
            "metrics window narrower",
            Action::WindowNarrower,
            &["-"],
        ),
        bind(
            K::Guard,
            "guard",
            "guard: release its hold / hold now",
            Action::ToggleGuard,
            &["H"],
        ),
        bind(
            K::LabelBicycle,
            "label_bicycle",
            "review: it is a bicycle",
            Action::Label(Verdict::Bicycle),
            &["b"],
        ),
        bind(
            K::LabelMotorcycle,
            "label_motorcycle",
            "review: it is a motorcycle",
            Action::Label(Verdict::Motorcycle),
            &["m"],
        ),
        bind(
            K::LabelUnsure,
            "label_unsure",
            "review: cannot tell",
            Action::Label(Verdict::Unsure),
            &["u"],
        ),
        bind(
            K::UndoLabel,
            "undo_label",
            "review: undo the last label",
            Action::UndoLabel,
            &["z"],
        ),
        bind(
            K::Promote,
            "promote",
            "models: promote the selected version",
            Action::Promote,
            &["P"],
        ),
        bind(
            K::Rollback,
            "rollback",
            "models: roll back to the previous version",
            Action::Rollback,
            &["R"],
        ),
    ]
};

impl KeyAction {
    /// The actions that change the deployment (off with `--readonly`).
    pub const MUTATING: [KeyAction; 11] = [
        KeyAction::Test,
        KeyAction::Burst,
        KeyAction::Stop,
        KeyAction::Redrive,
        KeyAction::Guard,
        KeyAction::LabelBicycle,
        KeyAction::LabelMotorcycle,
        KeyAction::LabelUnsure,
        KeyAction::UndoLabel,
        KeyAction::Promote,
        KeyAction::Rollback,
    ];

    /// Every action, in help order.
    pub fn all() -> impl Iterator<Item = KeyAction> {
        BINDINGS.iter().map(|b| b.action)
    }

    /// Its row of [`BINDINGS`].
    pub fn binding(self) -> &'static Binding {
        // Every action has a row (the test `every_action_has_one_row` checks it).
        BINDINGS
            .iter()
            .find(|b| b.action == self)
            .unwrap_or(&BINDINGS[0])
    }

    /// Name in the config file.
    pub fn name(self) -> &'static str {
        self.binding().name
    }

    /// One line for the help overlay.
    pub fn description(self) -> &'static str {
        self.binding().description
    }

    /// Looks an action up by its config name.
    pub fn from_name(name: &str) -> Option<KeyAction> {
        BINDINGS.iter().find(|b| b.name == name).map(|b| b.action)
    }

    /// The action it triggers.
    pub fn to_action(self) -> Action {
        self.binding().does.clone()
    }

    /// Its default keys.
    fn default_keys(self) -> &'static [&'static str] {
        self.binding().keys
    }
}

/// One key with modifiers, as written in the config (`q`, `G`, `ctrl-d`, `enter`, `f1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    code: KeyCode,
    ctrl: bool,
    alt: bool,
}

/// A key the config file names but this build cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySpecError {
    /// Empty text.
    #[error("an empty key")]
    Empty,
    /// A modifier other than ctrl/alt/shift.
    #[error("unknown modifier `{0}` (use ctrl-, alt- or shift-)")]
    Modifier(String),
    /// A key name that is neither one character nor a known name.
    #[error(
        "unknown key `{0}` (one character, or enter, esc, tab, backtab, space, up, down, left, right, home, end, pageup, pagedown, backspace, delete, f1..f12)"
    )]
    Key(String),
}

impl KeySpec {
    /// Parses `ctrl-d`, `G`, `enter`, `shift-tab`, `f5`...
    pub fn parse(text: &str) -> Result<KeySpec, KeySpecError> {
        if text.is_empty() {
            return Err(KeySpecError::Empty);
        }
        let (mut ctrl, mut alt, mut shift) = (false, false, false);
        let mut rest = text;
        // A lone "-" is the minus key, not a modifier separator.
        while let Some((modifier, tail)) = rest.split_once('-').filter(|(_, t)| !t.is_empty()) {
            match modifier.to_ascii_lowercase().as_str() {
                "ctrl" | "c" => ctrl = true,
                "alt" | "a" | "m" => alt = true,
                "shift" | "s" => shift = true,
                other => return Err(KeySpecError::Modifier(other.to_owned())),
            }
            rest = tail;
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCode::Char(if shift { c.to_ascii_uppercase() } else { c }),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" if shift => KeyCode::BackTab,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                name => match name.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    Some(n @ 1..=12) => KeyCode::F(n),
                    _ => return Err(KeySpecError::Key(rest.to_owned())),
                },
            },
        };
        Ok(KeySpec { code, ctrl, alt })
    }

    /// The spec a terminal key event matches. Shift is carried by the character's case.
    pub fn from_event(key: &KeyEvent) -> KeySpec {
        KeySpec {
            code: key.code,
            ctrl: key.modifiers.contains(KeyModifiers::CONTROL),
            alt: key.modifiers.contains(KeyModifiers::ALT),
        }
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("del"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// A bad `[keys]` entry in the config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyMapError {
    /// The action name is not one of [`KeyAction::name`].
    #[error("[keys] `{0}` is not an action; known actions: {known}", known = known_actions())]
    UnknownAction(String),
    /// A key of the action cannot be read.
    #[error("[keys] {action} = \"{key}\": {source}")]
    BadKey {
        /// The action.
        action: String,
        /// The key as written.
        key: String,
        /// Why.
        #[source]
        source: KeySpecError,
    },
}

fn known_actions() -> String {
    KeyAction::all()
        .map(KeyAction::name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The bindings in force.
#[derive(Debug, Clone)]
pub struct KeyMap {
    lookup: HashMap<KeySpec, KeyAction>,
    keys: BTreeMap<KeyAction, Vec<KeySpec>>,
}

impl Default for KeyMap {
    fn default() -> Self {
        let mut keys = BTreeMap::new();
        for action in KeyAction::all() {
            let specs = action
                .default_keys()
                .iter()
                .filter_map(|k| KeySpec::parse(k).ok())
                .collect();
            keys.insert(action, specs);
        }
        KeyMap::from_keys(keys)
    }
}

impl KeyMap {
    fn from_keys(keys: BTreeMap<KeyAction, Vec<KeySpec>>) -> KeyMap {
        let mut lookup = HashMap::new();
        for (action, specs) in &keys {
            for spec in specs {
                lookup.insert(*spec, *action);
            }
        }
        KeyMap { lookup, keys }
    }

    /// The defaults with `overrides` (action name -> keys) replacing the keys of the actions
    /// they name. A key taken by an override is removed from the action that had it.
    pub fn with_overrides(
        overrides: &BTreeMap<String, Vec<String>>,
    ) -> Result<KeyMap, KeyMapError> {
        let mut keys = KeyMap::default().keys;
        let mut taken = Vec::new();
        for (name, texts) in overrides {
            let action = KeyAction::from_name(name)
                .ok_or_else(|| KeyMapError::UnknownAction(name.clone()))?;
            let specs = texts
                .iter()
                .map(|t| {
                    KeySpec::parse(t).map_err(|source| KeyMapError::BadKey {
                        action: name.clone(),
                        key: t.clone(),
                        source,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            taken.extend(specs.iter().map(|s| (*s, action)));
            keys.insert(action, specs);
        }
        for (spec, owner) in taken {
            for (action, specs) in keys.iter_mut() {
                if *action != owner {
                    specs.retain(|s| *s != spec);
                }
            }
        }
        Ok(KeyMap::from_keys(keys))
    }

    /// The action bound to a key, if any.
    pub fn action_for(&self, key: &KeyEvent) -> Option<KeyAction> {
        self.lookup.get(&KeySpec::from_event(key)).copied()
    }

    /// The keys bound to an action, e.g. for help and hints.
    pub fn keys_for(&self, action: KeyAction) -> &[KeySpec] {
        self.keys.get(&action).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first key of each of `actions`, joined with `sep` (e.g. "t, T, s and r"-style
    /// lists for messages).
    pub fn hints(&self, actions: &[KeyAction]) -> String {
        let keys: Vec<String> = actions.iter().map(|a| self.hint(*a)).collect();
        match keys.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }

    /// The first key of an action as text (`unbound` when it has none): what any text that
    /// names a key shows, so it follows the user's bindings.
    pub fn hint(&self, action: KeyAction) -> String {
        self.keys_for(action)
            .first()
            .map(ToString::to_string)
            .unwrap_or_else(|| "unbound".to_owned())
    }
}

/// Which keys mean what right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// Bindings from the key map.
    Normal,
    /// Typing into the filter.
    Filter,
    /// The help overlay is open.
    Help,
}

/// Translates a key press in `mode`.
pub fn map_key(keymap: &KeyMap, mode: InputMode, key: &KeyEvent) -> Option<Action> {
    let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
    match mode {
        InputMode::Filter => Some(match key.code {
            _ if ctrl_c => Action::Quit,
            KeyCode::Enter => Action::FilterAccept,
            KeyCode::Esc => Action::FilterCancel,
            KeyCode::Backspace => Action::FilterBackspace,
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                Action::FilterInput(c)
            }
            _ => return None,
        }),
        InputMode::Help => match keymap.action_for(key) {
            _ if ctrl_c => Some(Action::Quit),
            Some(KeyAction::Help | KeyAction::Back | KeyAction::Quit) => Some(Action::ToggleHelp),
            _ => None,
        },
        InputMode::Normal => keymap.action_for(key).map(KeyAction::to_action),
    }
}

/// Translates a mouse event: left click selects, the wheel scrolls.
pub fn map_mouse(mouse: &MouseEvent) -> Option<Action> {
    match mouse.kind {
        MouseEventKind::Down(MouseButton::Left) => Some(Action::Click(mouse.column, mouse.row)),
        MouseEventKind::ScrollUp => Some(Action::Scroll(mouse.column, mouse.row, -1)),
        MouseEventKind::ScrollDown => Some(Action::Scroll(mouse.column, mouse.row, 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_cover_vim_keys_arrows_and_shifted_letters() {
        let km = KeyMap::default();
        let none = KeyModifiers::NONE;
        assert_eq!(
            km.action_for(&key(KeyCode::Char('j'), none)),
            Some(KeyAction::Down)
        );
        assert_eq!(
            km.action_for(&key(KeyCode::Down, none)),
            Some(KeyAction::Down)
        );
        // Terminals report uppercase letters with SHIFT set.
        assert_eq!(
            km.action_for(&key(KeyCode::Char('T'), KeyModifiers::SHIFT)),
            Some(KeyAction::Burst)
        );
        assert_eq!(
            km.action_for(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(KeyAction::Quit)
        );
        assert_eq!(km.action_for(&key(KeyCode::Char('c'), none)), None);
    }

    #[test]
    fn every_action_has_one_row() {
        for action in KeyAction::all() {
            let rows = BINDINGS.iter().filter(|b| b.action == action).count();
            assert_eq!(rows, 1, "{action:?}");
            assert_eq!(KeyAction::from_name(action.name()), Some(action));
        }
        let mut names: Vec<_> = BINDINGS.iter().map(|b| b.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), BINDINGS.len());
    }

    #[test]
    fn every_default_key_parses_and_no_key_is_bound_twice() {
        let mut seen = HashMap::new();
        for action in KeyAction::all() {
            for text in action.default_keys() {
                let spec = KeySpec::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
                if let Some(other) = seen.insert(spec, action) {
                    panic!("{text} bound to {other:?} and {action:?}");
                }
            }
        }
    }

    #[test]
    fn overrides_replace_and_steal_keys() {
        let overrides = BTreeMap::from([("test".to_owned(), vec!["x".to_owned(), "j".to_owned()])]);
        let km = KeyMap::with_overrides(&overrides).unwrap();
        let none = KeyModifiers::NONE;
        assert_eq!(
            km.action_for(&key(KeyCode::Char('x'), none)),
            Some(KeyAction::Test)
        );
        assert_eq!(km.action_for(&key(KeyCode::Char('t'), none)), None);
        assert_eq!(
            km.action_for(&key(KeyCode::Char('j'), none)),
            Some(KeyAction::Test)
        );
        // down keeps its other key
        assert_eq!(
            km.action_for(&key(KeyCode::Down, none)),
            Some(KeyAction::Down)
        );
    }

    #[test]
    fn bad_overrides_are_typed_errors() {
        let bad_action = BTreeMap::from([("launch".to_owned(), vec!["x".to_owned()])]);
        assert!(matches!(
            KeyMap::with_overrides(&bad_action),
            Err(KeyMapError::UnknownAction(name)) if name == "launch"
        ));
        let bad_key = BTreeMap::from([("quit".to_owned(), vec!["hyper-x".to_owned()])]);
        assert!(matches!(
            KeyMap::with_overrides(&bad_key),
            Err(KeyMapError::BadKey {
                source: KeySpecError::Modifier(_),
                ..
            })
        ));
        assert_eq!(
            KeySpec::parse("f13"),
            Err(KeySpecError::Key("f13".to_owned()))
        );
        assert_eq!(KeySpec::parse(""), Err(KeySpecError::Empty));
        assert_eq!(KeySpec::parse("-").unwrap().to_string(), "-");
        assert_eq!(KeySpec::parse("ctrl-d").unwrap().to_string(), "ctrl-d");
        assert_eq!(
            KeySpec::parse("shift-tab").unwrap().to_string(),
            "shift-tab"
        );
    }

    #[test]
    fn filter_mode_types_text_and_help_mode_only_closes() {
        let km = KeyMap::default();
        let q = key(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(
            map_key(&km, InputMode::Filter, &q),
            Some(Action::FilterInput('q'))
        );
        assert_eq!(map_key(&km, InputMode::Normal, &q), Some(Action::Quit));
        assert_eq!(map_key(&km, InputMode::Help, &q), Some(Action::ToggleHelp));
        let t = key(KeyCode::Char('t'), KeyModifiers::NONE);
        assert_eq!(map_key(&km, InputMode::Help, &t), None);
    }
}
