//! `<home>/settings.json`: what the operator chose for the local stack, so every command and
//! the dashboard use it without a flag: the confidence threshold (`scones threshold
//! --target-accuracy A --save`), the guard's default mode and the audit share.

use std::path::{Path, PathBuf};

use scones_workflow::Threshold;
use scones_workflow::guard::GuardMode;
use scones_workflow::review::DEFAULT_AUDIT_RATE;
use serde::{Deserialize, Serialize};

/// File name inside the home.
pub const SETTINGS_FILE: &str = "settings.json";

/// The saved settings; absent fields take the defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The FilterLowConfidence threshold of the local stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The guard's mode until `scones guard mode` sets one (`hold` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardMode>,
    /// The share of accepted decisions drawn for audit (0.02 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_rate: Option<f64>,
}

/// Why the settings cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid settings.
    #[error("{path} is not valid settings ({reason}); fix it or delete it to use the defaults")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Settings {
    /// Reads `dir/settings.json`; the defaults when there is none.
    pub fn load(dir: &Path) -> Result<Settings, SettingsError> {
        let path = dir.join(SETTINGS_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(source) => return Err(SettingsError::Io { path, source }),
        };
        let settings: Settings =
            serde_json::from_slice(&bytes).map_err(|e| SettingsError::Invalid {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        if let Some(t) = settings.threshold
            && let Err(e) = Threshold::new(t)
        {
            return Err(SettingsError::Invalid {
                path,
                reason: e.to_string(),
            });
        }
        if let Some(rate) = settings.audit_rate
            && !(0.0..=1.0).contains(&rate)
        {
            return Err(SettingsError::Invalid {
                path,
                reason: format!("audit_rate must be a share in [0, 1], got {rate}"),
            });
        }
        Ok(settings)
    }

    /// Writes `dir/settings.json` (atomically: a crash leaves the old file or the new one).
    pub fn save(&self, dir: &Path) -> Result<(), SettingsError> {
        let path = dir.join(SETTINGS_FILE);
        let io = |source| SettingsError::Io {
            path: path.clone(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        crate::files::write_atomically(&path, &json).map_err(io)
    }

    /// The guard's default mode.
    pub fn guard_mode(&self) -> GuardMode {
        self.guard.unwrap_or_default()
    }

    /// The audit share.
    pub fn audit_rate(&self) -> f64 {
        self.audit_rate.unwrap_or(DEFAULT_AUDIT_RATE)
    }

    /// The local backend's options from these settings (and the threshold `flag`).
    pub fn local_options(&self, flag: Option<Threshold>) -> crate::LocalOptions {
        crate::LocalOptions {
            threshold: self.threshold(flag),
            guard: self.guard_mode(),
            audit_rate: self.audit_rate(),
            ..crate::LocalOptions::default()
        }
    }

    /// The threshold in force: `flag` when given, else the saved one, else the default.
    pub fn threshold(&self, flag: Option<Threshold>) -> Threshold {
        flag.or_else(|| self.threshold.and_then(|t| Threshold::new(t).ok()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_the_flag_wins() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(Settings::load(tmp.path()).unwrap(), Settings::default());
        assert_eq!(Settings::default().threshold(None), Threshold::DEFAULT);
        let saved = Settings {
            threshold: Some(0.87),
            ..Settings::default()
        };
        saved.save(tmp.path()).unwrap();
        let loaded = Settings::load(tmp.path()).unwrap();
        assert_eq!(loaded, saved);
        assert_eq!(loaded.threshold(None).value(), 0.87);
        let flag = Threshold::new(0.5).unwrap();
        assert_eq!(loaded.threshold(Some(flag)), flag);
    }

    #[test]
    fn bad_settings_are_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(SETTINGS_FILE), br#"{"threshold": 7}"#).unwrap();
        let err = Settings::load(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("THRESHOLD must be"), "{err}");
        std::fs::write(tmp.path().join(SETTINGS_FILE), b"not json").unwrap();
        assert!(matches!(
            Settings::load(tmp.path()),
            Err(SettingsError::Invalid { .. })
        ));
    }
}
