//! Wait states: seconds or a timestamp, literal or from a path.

use serde_json::Value;

use super::super::*;
use super::fields::Fields;

impl Fields<'_, '_> {
    pub(super) fn wait(&mut self) -> Option<WaitState> {
        let present: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
            .into_iter()
            .filter(|k| self.obj.contains_key(*k))
            .collect();
        if present.is_empty() && self.language == QueryLanguage::Jsonata {
            // The wait is a JSONata expression (validated with the state's JSONata fields).
            return Some(WaitState {
                wait: WaitSpec::Jsonata,
            });
        }
        if present.len() != 1 {
            let p = self.ptr.to_owned();
            self.cx.err(
                &p,
                ValidationErrorKind::InvalidValue,
                "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
            );
            return None;
        }
        let wait = match present[0] {
            "Seconds" => match self.obj.get("Seconds").and_then(Value::as_u64) {
                Some(s) => WaitSpec::Seconds(s),
                None => {
                    self.err(
                        "Seconds",
                        ValidationErrorKind::InvalidValue,
                        "Seconds must be a non-negative integer",
                    );
                    return None;
                }
            },
            "Timestamp" => match self.obj.get("Timestamp").and_then(Value::as_str) {
                Some(t) if crate::timestamp::parse(t).is_some() => {
                    WaitSpec::Timestamp(t.to_owned())
                }
                _ => {
                    self.err(
                        "Timestamp",
                        ValidationErrorKind::InvalidValue,
                        "Timestamp must be an ISO-8601 date-time with a zone",
                    );
                    return None;
                }
            },
            "SecondsPath" => WaitSpec::SecondsPath(self.path("SecondsPath")?),
            _ => WaitSpec::TimestampPath(self.path("TimestampPath")?),
        };
        Some(WaitState { wait })
    }
}
