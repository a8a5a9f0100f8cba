//! The query of the submit routes: `?runAt=RFC3339` or `?runAfter=SECONDS`, read into
//! the [`EnqueueOptions`] that the Rust client takes too, and `?priority=N`.
//!
//! - `runAt`: an RFC 3339 time with its offset (`2026-12-01T10:00:00Z`); a `+` in the
//!   offset must be sent as `%2B`, though a `+` decoded as a space is read back;
//! - `runAfter`: seconds from now, a whole or decimal number (`90`, `1.5`);
//! - a time that has come, or `runAfter=0`, queues the job now; one more than 100
//!   years ahead, a negative delay, an unparsable value or both at once answer 400
//!   `bad_run_at`;
//! - `priority`: 0, the most urgent, to 9, in place of the job type's; anything else
//!   answers 400 `bad_priority`;
//! - any other parameter answers 400 `bad_query`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::ApiError;
use crate::client::EnqueueOptions;
use crate::spec::LOWEST_PRIORITY;

/// The query parameters of `POST /job/{jobType}`, its batch and its hierarchy twin.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct SubmitQuery {
    run_at: Option<String>,
    run_after: Option<String>,
    priority: Option<String>,
}

impl SubmitQuery {
    /// Reads a request's query string.
    pub(super) fn parse(query: &str) -> Result<Self, ApiError> {
        actix_web::web::Query::<Self>::from_query(query)
            .map(actix_web::web::Query::into_inner)
            .map_err(|error| ApiError::BadQuery(error.to_string()))
    }

    /// The priority the submit gives its jobs, or `default`, the job type's.
    pub(super) fn priority(&self, default: u8) -> Result<u8, ApiError> {
        match &self.priority {
            None => Ok(default),
            Some(text) => text
                .parse::<u8>()
                .ok()
                .filter(|&priority| priority <= LOWEST_PRIORITY)
                .ok_or_else(|| ApiError::BadPriority(text.clone())),
        }
    }

    /// When the job is to start, and the time it becomes due if it was accepted at `now`.
    pub(super) fn due_at(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
        let options = match (&self.run_at, &self.run_after) {
            (Some(_), Some(_)) => {
                return Err(ApiError::BadRunAt(
                    "give `runAt` or `runAfter`, not both".to_owned(),
                ));
            }
            (Some(at), None) => EnqueueOptions::new().run_at(parse_time(at)?),
            (None, Some(after)) => EnqueueOptions::new().run_after(parse_seconds(after)?),
            (None, None) => EnqueueOptions::new(),
        };
        options
            .due_at(now)
            .map_err(|error| ApiError::BadRunAt(error.to_string()))
    }
}

/// An RFC 3339 time. A query string decodes `+` to a space, so a time whose offset
/// lost its `+` that way is read with it put back.
fn parse_time(text: &str) -> Result<DateTime<Utc>, ApiError> {
    let parsed = DateTime::parse_from_rfc3339(text).or_else(|error| match text.rsplit_once(' ') {
        Some((time, offset)) if offset.contains(':') && !offset.is_empty() => {
            DateTime::parse_from_rfc3339(&format!("{time}+{offset}"))
        }
        _ => Err(error),
    });
    parsed.map(|at| at.with_timezone(&Utc)).map_err(|_| {
        ApiError::BadRunAt(format!(
            "`runAt={text}` is not an RFC 3339 time such as 2026-12-01T10:00:00Z"
        ))
    })
}

/// A non-negative number of seconds, whole or decimal: `90`, `1.5`. Digits past the
/// nanosecond are dropped.
fn parse_seconds(text: &str) -> Result<Duration, ApiError> {
    let bad = |why: &str| ApiError::BadRunAt(format!("`runAfter={text}` {why}"));
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if let Some(magnitude) = text.strip_prefix('-')
        && !magnitude.is_empty()
        && magnitude
            .split_once('.')
            .map_or(digits(magnitude), |(w, f)| {
                !w.is_empty() && digits(w) && digits(f)
            })
    {
        return Err(bad("is negative: a delay is zero or more seconds"));
    }
    let well_formed = !whole.is_empty()
        && digits(whole)
        && digits(fraction)
        && (!text.contains('.') || !fraction.is_empty());
    if !well_formed {
        return Err(bad("is not a number of seconds, such as 90 or 1.5"));
    }
    let too_far = || bad("is too far ahead: a job may start at most 100 years ahead");
    let seconds: u64 = whole.parse().map_err(|_| too_far())?;
    let mut nanos = String::from(&fraction[..fraction.len().min(9)]);
    while nanos.len() < 9 {
        nanos.push('0');
    }
    let nanos: u32 = nanos.parse().unwrap_or(0);
    Ok(Duration::new(seconds, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn due(query: &str) -> Result<DateTime<Utc>, String> {
        SubmitQuery::parse(query)
            .and_then(|query| query.due_at(now()))
            .map_err(|error| error.kind().to_owned())
    }

    #[test]
    fn seconds_are_whole_or_decimal() {
        assert_eq!(parse_seconds("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_seconds("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(
            parse_seconds("0.0000000019").unwrap(),
            Duration::from_nanos(1)
        );
        for bad in [
            "", ".", "1.", ".5", "+1", "1e3", "inf", "NaN", "1,5", " 1", "-", "-x",
        ] {
            assert!(parse_seconds(bad).is_err(), "{bad:?}");
        }
        let negative = parse_seconds("-1.5").unwrap_err().to_string();
        assert!(negative.contains("negative"), "{negative}");
        let huge = parse_seconds("99999999999999999999999")
            .unwrap_err()
            .to_string();
        assert!(huge.contains("too far"), "{huge}");
    }

    #[test]
    fn the_query_gives_the_due_time() {
        assert_eq!(due(""), Ok(now()));
        assert_eq!(due("runAfter=2"), Ok(now() + chrono::Duration::seconds(2)));
        assert_eq!(
            due("runAt=2026-12-01T11%3A00%3A00%2B01%3A00"),
            Ok(now()),
            "a time that has come queues now"
        );
        assert_eq!(
            due("runAt=2026-12-01T12:00:00+01:00"),
            Ok(now() + chrono::Duration::hours(1)),
            "a `+` decoded as a space is put back"
        );
        assert_eq!(
            due("runAt=2026-12-02T10:00:00.250Z"),
            Ok(now() + chrono::Duration::milliseconds(86_400_250))
        );
        for bad in [
            "runAt=tomorrow",
            "runAt=2026-12-01",
            "runAfter=-1",
            "runAfter=soon",
            "runAfter=3155760001",
            "runAt=2200-01-01T00:00:00Z",
            "runAt=2026-12-01T12:00:00Z&runAfter=1",
        ] {
            assert_eq!(due(bad), Err("bad_run_at".to_owned()), "{bad}");
        }
        assert_eq!(due("runAfter=3155760000").map(|_| ()), Ok(()));
        for bad in ["prio=1", "runafter=1", "runAfter=1&runAfter=2"] {
            assert_eq!(due(bad), Err("bad_query".to_owned()), "{bad}");
        }
    }
}
