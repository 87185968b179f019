//! The dashboard's config file: `$XDG_CONFIG_HOME/scones/dashboard.toml` (usually
//! `~/.config/scones/dashboard.toml`), or the file given with `--config`.
//!
//! ```toml
//! refresh_ms = 1000      # how often the executions list is refreshed (200..=600000)
//! burst = 10             # executions started by the burst key (1..=1000)
//! theme = "dark"         # "dark" or "mono"; NO_COLOR forces mono
//! mouse = true           # capture the mouse (click to select, wheel to scroll)
//! images = "halfblocks"  # the execution's image: "halfblocks" (the default, off under
//!                        # NO_COLOR), "sixel", "kitty", "iterm2" (the terminal's graphics)
//!                        # or "off"
//!
//! [keys]                 # action = key or [keys]; replaces that action's default keys
//! test = "x"
//! quit = ["q", "ctrl-q"]
//! ```
//!
//! A missing default file means defaults; a missing `--config` file, bad TOML, an unknown
//! setting, a value out of range or an unknown key/action is an error naming the file and
//! what to change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::dashboard::components::image::ImageMode;
use crate::dashboard::keymap::{KeyMap, KeyMapError};
use crate::dashboard::theme::ThemeName;

/// Settings in force.
#[derive(Debug, Clone)]
pub struct Config {
    /// Executions refresh interval.
    pub refresh: Duration,
    /// Size of a burst.
    pub burst: usize,
    /// Palette.
    pub theme: ThemeName,
    /// Mouse capture.
    pub mouse: bool,
    /// Key bindings.
    pub keymap: KeyMap,
    /// How the classified image is drawn (`None`: not set, half blocks unless NO_COLOR).
    pub images: Option<ImageMode>,
    /// The file these came from (`None`: defaults only).
    pub source: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            refresh: Duration::from_millis(1000),
            burst: 10,
            theme: ThemeName::Dark,
            mouse: true,
            keymap: KeyMap::default(),
            images: None,
            source: None,
        }
    }
}

/// Why the config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read dashboard config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML, or a setting of the wrong type or unknown.
    #[error("dashboard config {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A number outside its range.
    #[error("dashboard config {path}: {field} = {value} is out of range ({allowed})")]
    OutOfRange {
        /// The file.
        path: PathBuf,
        /// The setting.
        field: &'static str,
        /// The value found.
        value: String,
        /// The allowed range.
        allowed: &'static str,
    },
    /// An unknown theme name.
    #[error("dashboard config {path}: theme = \"{value}\" is unknown (use \"dark\" or \"mono\")")]
    Theme {
        /// The file.
        path: PathBuf,
        /// The value found.
        value: String,
    },
    /// An unknown image mode.
    #[error(
        "dashboard config {path}: images = \"{value}\" is unknown (use \"halfblocks\", \"sixel\", \"kitty\", \"iterm2\" or \"off\")"
    )]
    Images {
        /// The file.
        path: PathBuf,
        /// The value found.
        value: String,
    },
    /// A bad `[keys]` entry.
    #[error("dashboard config {path}: {source}")]
    Keys {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: KeyMapError,
    },
}

impl ConfigError {
    /// Stable name of the variant.
    pub fn name(&self) -> &'static str {
        match self {
            ConfigError::Read { .. } => "Read",
            ConfigError::Parse { .. } => "Parse",
            ConfigError::OutOfRange { .. } => "OutOfRange",
            ConfigError::Theme { .. } => "Theme",
            ConfigError::Images { .. } => "Images",
            ConfigError::Keys { .. } => "Keys",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    refresh_ms: Option<u64>,
    burst: Option<u64>,
    theme: Option<String>,
    mouse: Option<bool>,
    images: Option<String>,
    #[serde(default)]
    keys: BTreeMap<String, OneOrMany>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// The default location: `<XDG config dir>/scones/dashboard.toml`.
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("scones").join("dashboard.toml"))
}

/// A config is a few hundred bytes; this is far above any real one.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Loads `explicit` (must exist), else the default file if it exists, else defaults.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => match default_path() {
            Some(p) if p.exists() => p,
            _ => return Ok(Config::default()),
        },
    };
    // Bounded and regular files only: `--config /dev/zero` or a FIFO must be an error, not
    // a dashboard that grows without end or waits on a blank screen.
    let text = scones_workflow::input::read_text(&path, MAX_CONFIG_BYTES).map_err(|e| {
        ConfigError::Read {
            path: path.clone(),
            source: std::io::Error::other(e),
        }
    })?;
    parse(&text, &path)
}

/// Parses config text; `path` is only used in errors and [`Config::source`].
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().replace('\n', " "),
    })?;
    let mut config = Config {
        source: Some(path.to_path_buf()),
        ..Config::default()
    };
    let range = |field, value: u64, lo: u64, hi: u64, allowed| {
        if (lo..=hi).contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::OutOfRange {
                path: path.to_path_buf(),
                field,
                value: value.to_string(),
                allowed,
            })
        }
    };
    if let Some(ms) = raw.refresh_ms {
        config.refresh =
            Duration::from_millis(range("refresh_ms", ms, 200, 600_000, "200..=600000")?);
    }
    if let Some(n) = raw.burst {
        config.burst = range("burst", n, 1, 1000, "1..=1000")? as usize;
    }
    if let Some(theme) = raw.theme {
        config.theme = ThemeName::parse(&theme).ok_or_else(|| ConfigError::Theme {
            path: path.to_path_buf(),
            value: theme.clone(),
        })?;
    }
    if let Some(mouse) = raw.mouse {
        config.mouse = mouse;
    }
    if let Some(images) = raw.images {
        config.images = Some(
            ImageMode::parse(&images).ok_or_else(|| ConfigError::Images {
                path: path.to_path_buf(),
                value: images.clone(),
            })?,
        );
    }
    let overrides: BTreeMap<String, Vec<String>> = raw
        .keys
        .into_iter()
        .map(|(k, v)| {
            let keys = match v {
                OneOrMany::One(k) => vec![k],
                OneOrMany::Many(ks) => ks,
            };
            (k, keys)
        })
        .collect();
    config.keymap = KeyMap::with_overrides(&overrides).map_err(|source| ConfigError::Keys {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::keymap::KeyAction;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn p() -> &'static Path {
        Path::new("/cfg/dashboard.toml")
    }

    #[test]
    fn a_full_file_is_read() {
        let c = parse(
            "refresh_ms = 500\nburst = 25\ntheme = \"mono\"\nmouse = false\nimages = \"off\"\n[keys]\ntest = \"x\"\nquit = [\"q\", \"ctrl-q\"]\n",
            p(),
        )
        .unwrap();
        assert_eq!(c.refresh, Duration::from_millis(500));
        assert_eq!(c.burst, 25);
        assert_eq!(c.theme, ThemeName::Mono);
        assert!(!c.mouse);
        assert_eq!(c.images, Some(ImageMode::Off));
        let x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(c.keymap.action_for(&x), Some(KeyAction::Test));
        let cq = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(c.keymap.action_for(&cq), Some(KeyAction::Quit));
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let c = parse("", p()).unwrap();
        assert_eq!(c.refresh, Config::default().refresh);
        assert_eq!(c.burst, 10);
    }

    #[test]
    fn bad_files_are_typed_errors_naming_the_file() {
        let cases: [(&str, &str); 7] = [
            ("images = \"sixel-please\"", "Images"),
            ("refresh_ms = ", "Parse"),
            ("refresh = 5", "Parse"),
            ("refresh_ms = \"fast\"", "Parse"),
            ("refresh_ms = 10", "OutOfRange"),
            ("theme = \"neon\"", "Theme"),
            ("[keys]\nlaunch = \"x\"", "Keys"),
        ];
        for (text, name) in cases {
            let err = parse(text, p()).unwrap_err();
            assert_eq!(err.name(), name, "{text}: {err}");
            assert!(err.to_string().contains("/cfg/dashboard.toml"), "{err}");
        }
        let err = parse("refresh_ms = ", p()).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn an_explicit_missing_file_is_an_error() {
        let err = load(Some(Path::new("/nonexistent/scones.toml"))).unwrap_err();
        assert_eq!(err.name(), "Read");
    }
}
