//! ISO-8601 timestamps as Step Functions accepts them (Wait `Timestamp`, Choice
//! `Timestamp*` operators): the RFC 3339 profile with an upper-case `T` between date and
//! time and a mandatory zone (`Z` or `±hh:mm`). `2016-03-14T01:59:00` (no zone) and
//! `2016-03-14 01:59:00Z` (space) are rejected, as on AWS; fractions of up to 9 digits are
//! accepted.

use chrono::{DateTime, FixedOffset, Utc};

/// Parse a Step Functions timestamp.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    // yyyy-mm-ddThh:mm:ss is 19 bytes; the zone adds at least 1.
    if bytes.len() < 20 || bytes.get(10) != Some(&b'T') {
        return None;
    }
    let zone_ok = text.ends_with('Z') || {
        let tail = &text[text.len().saturating_sub(6)..];
        let tb = tail.as_bytes();
        tb.len() == 6
            && (tb[0] == b'+' || tb[0] == b'-')
            && tb[1].is_ascii_digit()
            && tb[2].is_ascii_digit()
            && tb[3] == b':'
            && tb[4].is_ascii_digit()
            && tb[5].is_ascii_digit()
    };
    if !zone_ok {
        return None;
    }
    DateTime::<FixedOffset>::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_aws_profile() {
        for ok in [
            "2016-03-14T01:59:00Z",
            "2016-03-14T01:59:00.00Z",
            "2016-03-14T01:59:00.000000Z",
            "2016-03-14T01:59:00.123456789Z",
            "2016-03-14T01:59:00+01:00",
        ] {
            assert!(parse(ok).is_some(), "{ok}");
        }
    }

    #[test]
    fn rejects_what_aws_rejects() {
        for bad in [
            "",
            "2016-03-14T01:59:00",
            "2016-03-14T01:59:00.000000",
            "2016-03-14 01:59:00Z",
            "2016-13-05T21:29:29Z",
            "2016-12-05T25:29:29Z",
            "05-12-2016T21:29:29Z",
            "2016-03-14t01:59:00Z",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
