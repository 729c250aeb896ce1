//! Opaque keyset cursors for list endpoints (SPEC OPS-4a): the position after the last row of
//! a page, as "time|id", so the next page starts exactly there however rows are added.

use std::fmt::Display;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

use super::error::{ApiError, FieldError};

pub fn encode(at: DateTime<Utc>, id: impl Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.to_rfc3339()))
}

/// `None` for anything this module did not make.
pub fn decode<T: FromStr>(cursor: &str) -> Option<(DateTime<Utc>, T)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (time, id) = text.split_once('|')?;
    Some((
        DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc),
        id.parse().ok()?,
    ))
}

/// A position in a list sorted by any value: the value as text (as the database prints it,
/// which it reads back exactly) and the row's id.
pub fn encode_key(value: &str, id: impl Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{value}|{id}"))
}

/// `None` for anything `encode_key` did not make.
pub fn decode_key<T: FromStr>(cursor: &str) -> Option<(String, T)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (value, id) = text.rsplit_once('|')?;
    Some((value.to_owned(), id.parse().ok()?))
}

/// The page size asked for: 50 by default, 1 to 100, else a 422 naming `limit`.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(50),
        Some(n @ 1..=100) => Ok(n),
        Some(_) => Err(ApiError::Validation(vec![FieldError::new(
            "limit",
            "invalid",
            "between 1 and 100",
        )])),
    }
}

/// Where a page starts, from the `cursor` parameter; a 422 naming `cursor` for a foreign one.
pub fn start<T: FromStr>(cursor: Option<&str>) -> Result<Option<(DateTime<Utc>, T)>, ApiError> {
    cursor
        .map(|c| {
            decode(c).ok_or_else(|| {
                ApiError::Validation(vec![FieldError::new(
                    "cursor",
                    "invalid",
                    "not a cursor from this list",
                )])
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip(seconds in 0i64..4_000_000_000, nanos in 0u32..1_000_000_000, id in 1i64..i64::MAX) {
            let at = DateTime::from_timestamp(seconds, nanos).unwrap();
            prop_assert_eq!(decode::<i64>(&encode(at, id)), Some((at, id)));
        }

        #[test]
        fn garbage_is_not_a_cursor(text in "\\PC{0,40}") {
            let _ = decode::<i64>(&text);
        }
    }
}
