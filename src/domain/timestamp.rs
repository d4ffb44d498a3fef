//! Times as the API shows them: RFC 3339 in UTC with a `Z` and millisecond precision.

use std::fmt;

use time::{OffsetDateTime, format_description::FormatItem, macros::format_description};

const WIRE_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// A UTC instant kept to the millisecond, so every backend stores and returns the same value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Timestamp((nanos / 1_000_000) as i64)
    }

    pub fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub fn unix_millis(self) -> i64 {
        self.0
    }

    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus_millis(self, millis: i64) -> Self {
        Timestamp(self.0.saturating_add(millis))
    }

    fn to_datetime(self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000).ok()
    }

    /// The wire text for years 0000–9999, written digit by digit: every response carries two
    /// or more times, and the general formatter cost more than the rest of the JSON.
    fn wire_digits(self) -> Option<[u8; WIRE_LEN]> {
        let at = self.to_datetime()?;
        let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
        let mut text = *b"0000-00-00T00:00:00.000Z";
        put_digits(&mut text[0..4], year);
        put_digits(&mut text[5..7], u32::from(u8::from(at.month())));
        put_digits(&mut text[8..10], u32::from(at.day()));
        put_digits(&mut text[11..13], u32::from(at.hour()));
        put_digits(&mut text[14..16], u32::from(at.minute()));
        put_digits(&mut text[17..19], u32::from(at.second()));
        put_digits(&mut text[20..23], u32::from(at.millisecond()));
        Some(text)
    }

    /// Hands the wire text to `write` without allocating.
    fn with_wire_text<R>(self, write: impl FnOnce(&str) -> R) -> R {
        if let Some(digits) = self.wire_digits()
            && let Ok(text) = std::str::from_utf8(&digits)
        {
            return write(text);
        }
        let text = self
            .to_datetime()
            .and_then(|at| at.format(WIRE_FORMAT).ok());
        write(text.as_deref().unwrap_or("1970-01-01T00:00:00.000Z"))
    }
}

const WIRE_LEN: usize = 24;

/// Writes `value` in decimal, zero-padded to fill `out`.
fn put_digits(out: &mut [u8], mut value: u32) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_wire_text(|text| f.write_str(text))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_wire_text(|text| s.serialize_str(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_rfc3339_utc_with_milliseconds() {
        let at = Timestamp::from_unix_millis(1_796_396_494_123);
        assert_eq!(at.to_string(), "2026-12-04T15:01:34.123Z");
        assert_eq!(at.unix_seconds(), 1_796_396_494);
    }

    proptest::proptest! {
        #[test]
        fn the_digit_writer_matches_the_general_formatter(
            millis in -62_167_219_200_000_i64..253_402_300_800_000_i64
        ) {
            let at = Timestamp::from_unix_millis(millis);
            let general = at.to_datetime().unwrap().format(WIRE_FORMAT).unwrap();
            proptest::prop_assert_eq!(at.to_string(), general);
        }
    }

    #[test]
    fn whole_seconds_keep_three_digits() {
        assert_eq!(
            Timestamp::from_unix_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
    }
}
