//! Keys to actions: the default bindings (vim keys and arrows), overrides from the config
//! file, and the mode-dependent translation of terminal events into [`Action`]s.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use crate::dashboard::action::{Action, View};

/// A bindable command, named for the config file's `[keys]` table.
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
    /// Tab 1..5.
    Executions,
    /// Tab 2.
    Metrics,
    /// Tab 3.
    LowConfidence,
    /// Tab 4.
    Capture,
    /// Tab 5.
    Logs,
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
}

impl KeyAction {
    /// Every action, in help order.
    pub const ALL: [KeyAction; 30] = [
        KeyAction::Help,
        KeyAction::Quit,
        KeyAction::Up,
        KeyAction::Down,
        KeyAction::First,
        KeyAction::Last,
        KeyAction::PageUp,
        KeyAction::PageDown,
        KeyAction::Open,
        KeyAction::Back,
        KeyAction::NextView,
        KeyAction::PrevView,
        KeyAction::Executions,
        KeyAction::Metrics,
        KeyAction::LowConfidence,
        KeyAction::Capture,
        KeyAction::Logs,
        KeyAction::NextFocus,
        KeyAction::NextTab,
        KeyAction::PrevTab,
        KeyAction::Filter,
        KeyAction::Sort,
        KeyAction::Test,
        KeyAction::Burst,
        KeyAction::Stop,
        KeyAction::Redrive,
        KeyAction::Copy,
        KeyAction::OpenRecord,
        KeyAction::WindowWider,
        KeyAction::WindowNarrower,
    ];

    /// Name in the config file.
    pub fn name(self) -> &'static str {
        match self {
            KeyAction::Quit => "quit",
            KeyAction::Help => "help",
            KeyAction::Up => "up",
            KeyAction::Down => "down",
            KeyAction::First => "first",
            KeyAction::Last => "last",
            KeyAction::PageUp => "page_up",
            KeyAction::PageDown => "page_down",
            KeyAction::Open => "open",
            KeyAction::Back => "back",
            KeyAction::NextView => "next_view",
            KeyAction::PrevView => "prev_view",
            KeyAction::Executions => "view_executions",
            KeyAction::Metrics => "view_metrics",
            KeyAction::LowConfidence => "view_low_confidence",
            KeyAction::Capture => "view_capture",
            KeyAction::Logs => "view_logs",
            KeyAction::NextFocus => "next_pane",
            KeyAction::NextTab => "next_tab",
            KeyAction::PrevTab => "prev_tab",
            KeyAction::Filter => "filter",
            KeyAction::Sort => "sort",
            KeyAction::Test => "test",
            KeyAction::Burst => "burst",
            KeyAction::Stop => "stop",
            KeyAction::Redrive => "redrive",
            KeyAction::Copy => "copy",
            KeyAction::OpenRecord => "open_record",
            KeyAction::WindowWider => "window_wider",
            KeyAction::WindowNarrower => "window_narrower",
        }
    }

    /// One line for the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            KeyAction::Quit => "quit",
            KeyAction::Help => "this help",
            KeyAction::Up => "move up",
            KeyAction::Down => "move down",
            KeyAction::First => "first row",
            KeyAction::Last => "last row",
            KeyAction::PageUp => "page up",
            KeyAction::PageDown => "page down",
            KeyAction::Open => "open execution detail",
            KeyAction::Back => "back/close/clear filter",
            KeyAction::NextView => "next tab",
            KeyAction::PrevView => "previous tab",
            KeyAction::Executions => "executions tab",
            KeyAction::Metrics => "endpoint metrics tab",
            KeyAction::LowConfidence => "low-confidence tab",
            KeyAction::Capture => "data-capture tab",
            KeyAction::Logs => "logs tab",
            KeyAction::NextFocus => "detail: next pane",
            KeyAction::NextTab => "detail: next payload tab",
            KeyAction::PrevTab => "detail: prev payload tab",
            KeyAction::Filter => "filter executions",
            KeyAction::Sort => "cycle sort order",
            KeyAction::Test => "start a test execution",
            KeyAction::Burst => "burst of test executions",
            KeyAction::Stop => "stop selected execution",
            KeyAction::Redrive => "redrive selected (AWS)",
            KeyAction::Copy => "copy JSON (OSC 52)",
            KeyAction::OpenRecord => "console URL/local record",
            KeyAction::WindowWider => "metrics window wider",
            KeyAction::WindowNarrower => "metrics window narrower",
        }
    }

    /// Looks an action up by its config name.
    pub fn from_name(name: &str) -> Option<KeyAction> {
        KeyAction::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The action it triggers.
    pub fn to_action(self) -> Action {
        match self {
            KeyAction::Quit => Action::Quit,
            KeyAction::Help => Action::ToggleHelp,
            KeyAction::Up => Action::Move(-1),
            KeyAction::Down => Action::Move(1),
            KeyAction::First => Action::First,
            KeyAction::Last => Action::Last,
            KeyAction::PageUp => Action::PageUp,
            KeyAction::PageDown => Action::PageDown,
            KeyAction::Open => Action::Open,
            KeyAction::Back => Action::Back,
            KeyAction::NextView => Action::NextView,
            KeyAction::PrevView => Action::PrevView,
            KeyAction::Executions => Action::GoView(View::Executions),
            KeyAction::Metrics => Action::GoView(View::Metrics),
            KeyAction::LowConfidence => Action::GoView(View::LowConfidence),
            KeyAction::Capture => Action::GoView(View::Capture),
            KeyAction::Logs => Action::GoView(View::Logs),
            KeyAction::NextFocus => Action::NextFocus,
            KeyAction::NextTab => Action::NextTab,
            KeyAction::PrevTab => Action::PrevTab,
            KeyAction::Filter => Action::FilterStart,
            KeyAction::Sort => Action::CycleSort,
            KeyAction::Test => Action::StartTest,
            KeyAction::Burst => Action::StartBurst,
            KeyAction::Stop => Action::Stop,
            KeyAction::Redrive => Action::Redrive,
            KeyAction::Copy => Action::Copy,
            KeyAction::OpenRecord => Action::OpenRecord,
            KeyAction::WindowWider => Action::WindowWider,
            KeyAction::WindowNarrower => Action::WindowNarrower,
        }
    }

    fn default_keys(self) -> &'static [&'static str] {
        match self {
            KeyAction::Quit => &["q", "ctrl-c"],
            KeyAction::Help => &["?", "f1"],
            KeyAction::Up => &["k", "up"],
            KeyAction::Down => &["j", "down"],
            KeyAction::First => &["g", "home"],
            KeyAction::Last => &["G", "end"],
            KeyAction::PageUp => &["ctrl-u", "pageup"],
            KeyAction::PageDown => &["ctrl-d", "pagedown"],
            KeyAction::Open => &["enter"],
            KeyAction::Back => &["esc"],
            KeyAction::NextView => &["tab"],
            KeyAction::PrevView => &["backtab"],
            KeyAction::Executions => &["1"],
            KeyAction::Metrics => &["2"],
            KeyAction::LowConfidence => &["3"],
            KeyAction::Capture => &["4"],
            KeyAction::Logs => &["5"],
            KeyAction::NextFocus => &["space"],
            KeyAction::NextTab => &["l", "right"],
            KeyAction::PrevTab => &["h", "left"],
            KeyAction::Filter => &["/"],
            KeyAction::Sort => &["S"],
            KeyAction::Test => &["t"],
            KeyAction::Burst => &["T"],
            KeyAction::Stop => &["s"],
            KeyAction::Redrive => &["r"],
            KeyAction::Copy => &["y"],
            KeyAction::OpenRecord => &["o"],
            KeyAction::WindowWider => &["+", "="],
            KeyAction::WindowNarrower => &["-"],
        }
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
    KeyAction::ALL.map(KeyAction::name).join(", ")
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
        for action in KeyAction::ALL {
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

    /// The first key of an action as text (`?` when unbound).
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
    fn every_default_key_parses_and_no_key_is_bound_twice() {
        let mut seen = HashMap::new();
        for action in KeyAction::ALL {
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
