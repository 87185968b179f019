//! Large event payloads, stored once per execution.
//!
//! Step Functions records a state's input and output in several events (TaskStateEntered,
//! TaskScheduled, TaskSucceeded, TaskStateExited, the next state's TaskStateEntered...), and
//! in this workflow each of them carries the record with the base64 image (~4 KB), in
//! slightly different JSON each time (wrapped in the Lambda response, with and without
//! inferences). Stored inline, one execution took ~53 KB (1.14 GB for 21,600 executions).
//!
//! So every run of at least [`MIN_RUN`] base64 characters inside a details string goes to the
//! `payloads` table once per execution, under its SHA-256, and the stored event replaces the
//! field with a sibling key `"$ref:<field>"`: an array alternating literal text and digests
//! (`["{\"image_data\":\"", "<sha256>", "\",\"s3_key\":...}"]`). Putting the text back
//! is plain concatenation, so a history reads back byte for byte as it was recorded. AWS
//! field names never start with `$`, so the marker cannot collide with a real field.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Base64 runs at least this long are stored once per execution.
pub(crate) const MIN_RUN: usize = 1024;

/// Prefix of the key that replaces a field with extracted runs.
const REF_PREFIX: &str = "$ref:";

/// A run taken out of an event: its digest (hex SHA-256) and text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Payload {
    pub digest: String,
    pub body: String,
}

/// The `...EventDetails` objects of an AWS-shaped history event.
fn details_mut(event: &mut Value) -> impl Iterator<Item = &mut Map<String, Value>> {
    event
        .as_object_mut()
        .into_iter()
        .flat_map(|o| o.iter_mut())
        .filter(|(key, _)| key.ends_with("EventDetails"))
        .filter_map(|(_, value)| value.as_object_mut())
}

/// Which bytes are base64 characters: every event's details go through [`long_runs`], which
/// walks whole images byte by byte, and one table load beats the range checks (~4% of
/// `scones run --local` CPU went to that walk).
const BASE64: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=');
        b += 1;
    }
    table
};

fn is_base64(b: u8) -> bool {
    BASE64[usize::from(b)]
}

/// Byte ranges of the base64 runs of at least [`MIN_RUN`] characters in `text`.
///
/// Every event passes through here, so it probes one byte in every `MIN_RUN / 2` and only
/// walks the bytes around a probe that lands in base64: a run of `MIN_RUN` or more always
/// covers a probe, and text outside runs costs one read per probe.
fn long_runs(text: &str) -> Vec<std::ops::Range<usize>> {
    const STRIDE: usize = MIN_RUN / 2;
    let bytes = text.as_bytes();
    let mut runs = Vec::new();
    // Bytes before `scanned` belong to a run already measured (or precede one).
    let (mut probe, mut scanned) = (0, 0);
    while probe < bytes.len() {
        if !is_base64(bytes[probe]) {
            probe += STRIDE;
            continue;
        }
        let mut start = probe;
        while start > scanned && is_base64(bytes[start - 1]) {
            start -= 1;
        }
        let end = bytes[probe..]
            .iter()
            .position(|&b| !is_base64(b))
            .map_or(bytes.len(), |n| probe + n);
        if end - start >= MIN_RUN {
            runs.push(start..end);
        }
        scanned = end;
        probe = (end / STRIDE + 1) * STRIDE;
    }
    runs
}

/// Splits `text` around its long runs: the template (literal, digest, literal, ...) and the
/// runs themselves. `None` when there is no long run.
fn split(text: &str) -> Option<(Vec<Value>, Vec<Payload>)> {
    let runs = long_runs(text);
    if runs.is_empty() {
        return None;
    }
    let mut template = Vec::with_capacity(2 * runs.len() + 1);
    let mut payloads = Vec::with_capacity(runs.len());
    let mut last = 0;
    for run in runs {
        let body = &text[run.clone()];
        let digest = hex::encode(Sha256::digest(body.as_bytes()));
        template.push(Value::String(text[last..run.start].to_owned()));
        template.push(Value::String(digest.clone()));
        payloads.push(Payload {
            digest,
            body: body.to_owned(),
        });
        last = run.end;
    }
    template.push(Value::String(text[last..].to_owned()));
    Some((template, payloads))
}

/// Moves the long base64 runs of `event`'s details strings out, leaving `$ref:` templates.
pub(crate) fn extract(event: &mut Value) -> Vec<Payload> {
    let mut payloads = Vec::new();
    for details in details_mut(event) {
        let mut replaced = Vec::new();
        for (field, value) in details.iter() {
            if let Some((template, runs)) = value
                .as_str()
                .filter(|s| s.len() >= MIN_RUN)
                .and_then(split)
            {
                replaced.push((field.clone(), template));
                payloads.extend(runs);
            }
        }
        for (field, template) in replaced {
            details.remove(&field);
            details.insert(format!("{REF_PREFIX}{field}"), Value::Array(template));
        }
    }
    payloads
}

/// Why an event's `$ref:` template could not be put back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RestoreError {
    /// The template is not an array of strings.
    Malformed(String),
    /// No stored payload has this digest.
    Missing(String),
}

/// Puts extracted runs back, looking each digest up with `body_of`. Events without `$ref:`
/// keys (all of them in stores written before payloads were split out) are left as they are.
pub(crate) fn restore<E>(
    event: &mut Value,
    mut body_of: impl FnMut(&str) -> Result<Option<String>, E>,
) -> Result<Result<(), RestoreError>, E> {
    for details in details_mut(event) {
        let refs: Vec<String> = details
            .keys()
            .filter(|k| k.starts_with(REF_PREFIX))
            .cloned()
            .collect();
        for key in refs {
            let Some(Value::Array(template)) = details.remove(&key) else {
                return Ok(Err(RestoreError::Malformed(key)));
            };
            let text = match assemble(&template, &key, &mut body_of)? {
                Ok(text) => text,
                Err(problem) => return Ok(Err(problem)),
            };
            details.insert(key[REF_PREFIX.len()..].to_owned(), Value::String(text));
        }
    }
    Ok(Ok(()))
}

/// The text of a template: its literals with each digest's body in between.
fn assemble<E>(
    template: &[Value],
    name: &str,
    body_of: &mut impl FnMut(&str) -> Result<Option<String>, E>,
) -> Result<Result<String, RestoreError>, E> {
    let mut text = String::new();
    for (i, part) in template.iter().enumerate() {
        let Some(part) = part.as_str() else {
            return Ok(Err(RestoreError::Malformed(name.to_owned())));
        };
        if i % 2 == 0 {
            text.push_str(part);
        } else {
            match body_of(part)? {
                Some(body) => text.push_str(&body),
                None => return Ok(Err(RestoreError::Missing(part.to_owned()))),
            }
        }
    }
    Ok(Ok(text))
}

/// The digests an event's `$ref:` templates name (digests sit at the odd places).
pub(crate) fn event_digests(event: &mut Value) -> Vec<String> {
    details_mut(event)
        .flat_map(|details| {
            details
                .iter()
                .filter(|(key, _)| key.starts_with(REF_PREFIX))
                .filter_map(|(_, template)| template.as_array())
                .flat_map(|parts| template_digests(parts))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The digests an output template (as [`extract_text`] wrote it) names.
pub(crate) fn output_digests(template: &str) -> Option<Vec<String>> {
    serde_json::from_str::<Vec<Value>>(template)
        .ok()
        .map(|parts| template_digests(&parts))
}

fn template_digests(parts: &[Value]) -> Vec<String> {
    parts
        .iter()
        .skip(1)
        .step_by(2)
        .filter_map(|d| d.as_str().map(str::to_owned))
        .collect()
}

/// An execution's output (the final record, with the image in it) split like an event's
/// details: the template as JSON text, and the runs. `None` when it has no long run.
pub(crate) fn extract_text(text: &str) -> Option<(String, Vec<Payload>)> {
    let (template, payloads) = split(text)?;
    Some((Value::Array(template).to_string(), payloads))
}

/// The text [`extract_text`] took apart.
pub(crate) fn restore_text<E>(
    template: &str,
    mut body_of: impl FnMut(&str) -> Result<Option<String>, E>,
) -> Result<Result<String, RestoreError>, E> {
    match serde_json::from_str::<Vec<Value>>(template) {
        Ok(parts) => assemble(&parts, "output", &mut body_of),
        Err(_) => Ok(Err(RestoreError::Malformed("output".to_owned()))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::{MIN_RUN, RestoreError, extract, restore};

    fn round_trip(original: &serde_json::Value) -> (serde_json::Value, usize) {
        let mut stored = original.clone();
        let payloads = extract(&mut stored);
        let count = payloads.len();
        let table: HashMap<String, String> =
            payloads.into_iter().map(|p| (p.digest, p.body)).collect();
        let mut read = stored;
        let found = restore(&mut read, |d| Ok::<_, ()>(table.get(d).cloned())).unwrap();
        assert_eq!(found, Ok(()));
        (read, count)
    }

    #[test]
    fn base64_runs_are_split_out_and_put_back_byte_for_byte() {
        let image = "iVBORw0KGgo+/=".repeat(MIN_RUN / 10);
        let input = format!(r#"{{"image_data":"{image}","s3_key":"test/a.png","inferences":[]}}"#);
        let original = json!({
            "id": 4, "previousEventId": 3, "type": "TaskStateEntered",
            "timestamp": "2026-11-23T01:00:00.000Z",
            "stateEnteredEventDetails": {
                "name": "Classify", "input": input,
                "inputDetails": {"truncated": false},
            },
        });
        let mut stored = original.clone();
        let payloads = extract(&mut stored);
        assert_eq!(payloads.len(), 1);
        assert_eq!(payloads[0].body, image);
        let details = &stored["stateEnteredEventDetails"];
        assert!(details.get("input").is_none(), "{stored}");
        assert_eq!(details["$ref:input"][0], r#"{"image_data":""#);
        assert_eq!(details["$ref:input"][1], payloads[0].digest.as_str());
        assert_eq!(details["name"], "Classify", "small fields stay inline");
        assert!(stored.to_string().len() < 400, "{stored}");

        assert_eq!(round_trip(&original), (original.clone(), 1));
    }

    #[test]
    fn an_output_text_round_trips_through_its_template() {
        let image = "Zm9vYmFy".repeat(MIN_RUN / 4);
        let output =
            format!(r#"{{"s3_key":"test/a.png","image_data":"{image}","inferences":[0.9,0.1]}}"#);
        let (template, payloads) = super::extract_text(&output).unwrap();
        assert!(template.len() < 200, "{template}");
        assert_eq!(payloads.len(), 1);
        let table: HashMap<String, String> =
            payloads.into_iter().map(|p| (p.digest, p.body)).collect();
        let back = super::restore_text(&template, |d| Ok::<_, ()>(table.get(d).cloned())).unwrap();
        assert_eq!(back, Ok(output));
        assert!(super::extract_text(r#"{"s3_key":"x"}"#).is_none());
        assert_eq!(
            super::restore_text("not json", |_| Ok::<_, ()>(None)).unwrap(),
            Err(RestoreError::Malformed("output".to_owned()))
        );
    }

    #[test]
    fn short_runs_and_small_events_are_untouched() {
        let short = "A".repeat(MIN_RUN - 1);
        let event = json!({"id": 1, "type": "ExecutionStarted",
            "executionStartedEventDetails": {"input": format!("{short}-{short}")}});
        let mut stored = event.clone();
        assert!(extract(&mut stored).is_empty());
        assert_eq!(stored, event);
    }

    #[test]
    fn two_runs_in_one_string_and_a_run_at_each_end() {
        let a = "a".repeat(MIN_RUN);
        let b = "b".repeat(MIN_RUN + 7);
        let event = json!({"id": 9, "type": "TaskSucceeded",
            "taskSucceededEventDetails": {"output": format!("{a}\",\"{b}"), "resource": "invoke"}});
        assert_eq!(round_trip(&event), (event.clone(), 2));
    }

    /// The probing scan finds exactly the runs a byte-by-byte scan finds.
    #[test]
    fn probing_finds_every_long_run() {
        fn naive(text: &str) -> Vec<std::ops::Range<usize>> {
            let mut runs = Vec::new();
            let mut start = None;
            for (i, b) in text.bytes().chain(std::iter::once(b'"')).enumerate() {
                match (super::is_base64(b), start) {
                    (true, None) => start = Some(i),
                    (false, Some(s)) => {
                        if i - s >= MIN_RUN {
                            runs.push(s..i);
                        }
                        start = None;
                    }
                    _ => {}
                }
            }
            runs
        }
        // Runs of every length around the limit, at every offset against the probe stride.
        let mut seed = 7u64;
        for _ in 0..300 {
            let mut text = String::new();
            for _ in 0..6 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let len = (seed >> 33) as usize % (2 * MIN_RUN + 3);
                text.push_str(&"Q".repeat(len));
                text.push_str(if seed & 1 == 0 { "\"," } else { "-" });
            }
            assert_eq!(super::long_runs(&text), naive(&text), "{}", text.len());
        }
    }

    #[test]
    fn a_missing_or_malformed_reference_is_named() {
        let mut dangling = json!({"id": 2, "type": "TaskStateExited",
            "stateExitedEventDetails": {"$ref:output": ["x", "abc", "y"]}});
        let found = restore(&mut dangling, |_| Ok::<_, ()>(None)).unwrap();
        assert_eq!(found, Err(RestoreError::Missing("abc".to_string())));
        let mut malformed = json!({"id": 2, "type": "TaskStateExited",
            "stateExitedEventDetails": {"$ref:output": "abc"}});
        let found = restore(&mut malformed, |_| Ok::<_, ()>(None)).unwrap();
        assert_eq!(
            found,
            Err(RestoreError::Malformed("$ref:output".to_string()))
        );
    }
}
