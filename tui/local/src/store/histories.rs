//! A finished execution's history, packed into one row.
//!
//! An execution of this workflow records 17 events, ~9 KB of JSON even with the images
//! stored apart ([`super::payloads`]): the same record, key and digest repeated in each
//! event, wrapped differently. One row per event made that ~10 KB per execution with the
//! index. Compressed together the events take ~1.4 KB (zstd level 1; higher levels gained
//! under 10% on real histories and cost more time in the single writer thread), and ~450
//! bytes with a dictionary trained on the store's own first histories, because what the
//! executions of one workflow share (event shapes, state names, the Lambda response
//! wrapper) is then stored once for the store.
//!
//! So once an execution ends, the writer stores its events, each as the JSON it would have
//! put in a `history_events` row, one per line, as one zstd frame in `histories`, naming the
//! dictionary it used (`history_dictionaries`; none before one is trained). A running
//! execution's events stay `history_events` rows, so a dashboard can watch it. Readers
//! understand both (stores written before version 4 have rows only).

use std::io;

/// zstd level of packed histories.
const LEVEL: i32 = 1;

/// Histories packed without a dictionary before one is trained from them.
pub(crate) const TRAIN_AFTER: usize = 100;

/// Largest dictionary trained (zstd's usual size; larger gained nothing on these histories).
const DICTIONARY_BYTES: usize = 16 * 1024;

/// Largest unpacked history accepted (a damaged length must not allocate without bound):
/// Step Functions caps a history at 25,000 events of at most 256 KB.
const MAX_UNPACKED: usize = 1 << 30;

/// The stored event JSON texts (in event order) as one text, one event per line (stored
/// JSON has no raw newline).
pub(crate) fn join<'a>(events: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = String::new();
    for event in events {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(event);
    }
    text
}

/// Compresses joined histories, with the store's dictionary once it has one.
pub(crate) struct Packer {
    compressor: zstd::bulk::Compressor<'static>,
    dictionary: Option<i64>,
}

impl Packer {
    /// Without a dictionary.
    pub(crate) fn plain() -> io::Result<Packer> {
        Ok(Packer {
            compressor: zstd::bulk::Compressor::new(LEVEL)?,
            dictionary: None,
        })
    }

    /// With the dictionary stored under `id`.
    pub(crate) fn with_dictionary(id: i64, dictionary: &[u8]) -> io::Result<Packer> {
        Ok(Packer {
            compressor: zstd::bulk::Compressor::with_dictionary(LEVEL, dictionary)?,
            dictionary: Some(id),
        })
    }

    /// The dictionary's id, `None` without one.
    pub(crate) fn dictionary(&self) -> Option<i64> {
        self.dictionary
    }

    /// One joined history as a zstd frame.
    pub(crate) fn pack(&mut self, text: &str) -> io::Result<Vec<u8>> {
        self.compressor.compress(text.as_bytes())
    }
}

/// A dictionary trained on joined histories.
pub(crate) fn train(samples: &[String]) -> io::Result<Vec<u8>> {
    zstd::dict::from_samples(samples, DICTIONARY_BYTES)
}

/// The event texts of a frame, in order; an error says what is wrong with it.
pub(crate) fn unpack(
    frame: &[u8],
    dictionary: Option<&[u8]>,
    unpacked_len: i64,
    events: i64,
) -> Result<Vec<String>, String> {
    let len = usize::try_from(unpacked_len)
        .ok()
        .filter(|&n| n <= MAX_UNPACKED)
        .ok_or_else(|| format!("packed history claims {unpacked_len} bytes"))?;
    let mut decompressor = match dictionary {
        Some(d) => zstd::bulk::Decompressor::with_dictionary(d),
        None => zstd::bulk::Decompressor::new(),
    }
    .map_err(|e| format!("history dictionary: {e}"))?;
    let bytes = decompressor
        .decompress(frame, len)
        .map_err(|e| format!("packed history: {e}"))?;
    if bytes.len() != len {
        return Err(format!(
            "packed history holds {} bytes, not {len}",
            bytes.len()
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| format!("packed history: {e}"))?;
    let lines: Vec<String> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').map(str::to_owned).collect()
    };
    if i64::try_from(lines.len()).ok() != Some(events) {
        return Err(format!(
            "packed history holds {} events, not {events}",
            lines.len()
        ));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::{Packer, join, train, unpack};

    fn history(i: usize) -> String {
        join(
            [
                format!(r#"{{"id":1,"type":"ExecutionStarted","executionStartedEventDetails":{{"input":"{{\"s3_key\":\"test/{i}.png\"}}"}}}}"#),
                format!(r#"{{"id":2,"type":"PassStateEntered","stateEnteredEventDetails":{{"name":"Copy","input":"{{\"n\":{i}}}"}}}}"#),
                format!(r#"{{"id":3,"type":"ExecutionSucceeded","executionSucceededEventDetails":{{"output":"{{\"n\":{}}}"}}}}"#, i * 7),
            ]
            .iter()
            .map(String::as_str),
        )
    }

    #[test]
    fn events_round_trip_and_damage_is_named() {
        let events = [
            r#"{"id":1,"type":"ExecutionStarted","executionStartedEventDetails":{"input":"{\"a\":\"b\\nc\"}"}}"#,
            r#"{"id":2,"type":"PassStateEntered"}"#,
        ];
        let text = join(events);
        let frame = Packer::plain().unwrap().pack(&text).unwrap();
        let len = text.len() as i64;
        assert_eq!(unpack(&frame, None, len, 2).unwrap(), events);

        assert!(
            unpack(&frame, None, len, 3)
                .unwrap_err()
                .contains("2 events")
        );
        assert!(unpack(&frame, None, len + 1, 2).is_err());
        assert!(unpack(&frame[..frame.len() / 2], None, len, 2).is_err());
        assert!(unpack(&frame, None, -1, 2).is_err());
        let empty = Packer::plain().unwrap().pack("").unwrap();
        assert_eq!(unpack(&empty, None, 0, 0).unwrap(), Vec::<String>::new());
    }

    /// A dictionary trained on a workflow's histories makes the next ones smaller, and a
    /// frame reads back only with the dictionary it was packed with.
    #[test]
    fn a_trained_dictionary_packs_smaller_and_is_needed_to_read() {
        let samples: Vec<String> = (0..200).map(history).collect();
        let dictionary = train(&samples).unwrap();
        let text = history(1000);
        let plain = Packer::plain().unwrap().pack(&text).unwrap();
        let mut packer = Packer::with_dictionary(7, &dictionary).unwrap();
        assert_eq!(packer.dictionary(), Some(7));
        let small = packer.pack(&text).unwrap();
        assert!(
            small.len() < plain.len() / 2,
            "{} vs {}",
            small.len(),
            plain.len()
        );
        let len = text.len() as i64;
        assert_eq!(
            unpack(&small, Some(&dictionary), len, 3)
                .unwrap()
                .join("\n"),
            text
        );
        assert!(unpack(&small, None, len, 3).is_err());
    }
}
