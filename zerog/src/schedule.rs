//! Recurring jobs, as data: a [`Schedule`] is a name, a job type, fixed parameters, a
//! cron expression, a time zone and what to do about ticks that no scheduler saw in
//! time ([`Missed`]). [`Timetable`] reads the expression, and [`next_step`] decides,
//! as a pure function of the schedule's cursor and the time, what a scheduler does
//! next. The loop that acts on it is [`scheduler`](crate::scheduler).
//!
//! ```
//! use serde_json::json;
//! use zerog::schedule::{Missed, Schedule};
//!
//! let nightly = Schedule::new("nightly-report", "waste_time", "0 30 2 * * *")
//!     .params(json!({ "delay": 5 }))
//!     .timezone("Europe/Paris")
//!     .missed(Missed::Skip);
//! let table = nightly.timetable().unwrap();
//! let now = chrono::Utc::now();
//! assert!(table.next_after(now).unwrap() > now);
//! ```
//!
//! Expressions have 5 fields (minute first), or 6 with seconds first, or are one of
//! the macros `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily` and `@hourly`;
//! they are read in the schedule's IANA time zone (default `UTC`), so `0 9 * * *` in
//! `Europe/Paris` fires at nine in Paris, summer and winter.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The time zone of a schedule that names none.
pub const DEFAULT_TIMEZONE: &str = "UTC";

/// The longest schedule name.
pub const MAX_NAME_LEN: usize = 100;

/// What a scheduler does about ticks that passed while no scheduler ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Missed {
    /// One job for the whole missed stretch, for its latest tick (the default).
    #[default]
    Once,
    /// No job for missed ticks: the schedule goes on from the next one.
    Skip,
}

/// Where a schedule was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleSource {
    /// In the binary's code, declared again at each start of a process.
    Code,
    /// Through `POST /schedules` or `PUT /schedules/{name}`.
    Api,
}

impl ScheduleSource {
    /// `code` or `api`, as served and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleSource::Code => "code",
            ScheduleSource::Api => "api",
        }
    }

    /// The source stored or served as `text`: anything but `code` is from the API.
    pub fn from_stored(text: &str) -> Self {
        if text == "code" {
            ScheduleSource::Code
        } else {
            ScheduleSource::Api
        }
    }
}

/// A recurring job: what to submit, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// Unique among schedules: `[A-Za-z0-9_.-]`, 1 to 100 characters.
    pub name: String,
    /// The job type of the jobs it creates.
    pub job_type: String,
    /// The cron expression.
    pub cron: String,
    /// The IANA time zone the expression is read in.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// The parameters of every job it creates, validated against the job type's schema.
    #[serde(default = "empty_object")]
    pub params: Value,
    /// What to do about ticks missed while no scheduler ran.
    #[serde(default)]
    pub missed: Missed,
}

fn default_timezone() -> String {
    DEFAULT_TIMEZONE.to_owned()
}

fn empty_object() -> Value {
    json!({})
}

impl Schedule {
    /// A schedule of `job_type` jobs at the times of `cron`, with parameters `{}`, in
    /// UTC, creating one job for a missed stretch.
    pub fn new(
        name: impl Into<String>,
        job_type: impl Into<String>,
        cron: impl Into<String>,
    ) -> Self {
        Schedule {
            name: name.into(),
            job_type: job_type.into(),
            cron: cron.into(),
            timezone: default_timezone(),
            params: empty_object(),
            missed: Missed::Once,
        }
    }

    /// A schedule of jobs like `job`, whose fields are the parameters.
    ///
    /// # Panics
    ///
    /// If `job` does not serialize, which a derived `Serialize` always does.
    pub fn of<T: crate::Job>(name: impl Into<String>, cron: impl Into<String>, job: &T) -> Self {
        let params = serde_json::to_value(job).expect("a job's parameters serialize");
        Schedule::new(name, T::SPEC.job_type, cron).params(params)
    }

    /// The parameters of every job.
    pub fn params(mut self, params: Value) -> Self {
        self.params = params;
        self
    }

    /// The IANA time zone the expression is read in, like `Europe/Paris`.
    pub fn timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = timezone.into();
        self
    }

    /// What to do about missed ticks.
    pub fn missed(mut self, missed: Missed) -> Self {
        self.missed = missed;
        self
    }

    /// The schedule's times, once its name, expression and time zone are checked.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::BadName`], [`ScheduleError::BadCron`] or
    /// [`ScheduleError::BadTimezone`].
    pub fn timetable(&self) -> Result<Timetable, ScheduleError> {
        check_name(&self.name)?;
        Timetable::new(&self.cron, &self.timezone)
    }
}

/// A schedule as stored, with where it came from and how far it has fired.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleState {
    /// The definition.
    pub schedule: Schedule,
    /// Declared in code or through the API.
    pub source: ScheduleSource,
    /// A paused schedule creates no job; when resumed, it goes on from then.
    pub paused: bool,
    /// The cursor: every tick up to this one has been fired or skipped. A new schedule
    /// starts at its creation, so it does not fire for times before it existed.
    pub last_tick: DateTime<Utc>,
    /// The tick of the latest job it created, if any.
    pub last_run_at: Option<DateTime<Utc>>,
}

/// A schedule's definition refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The name is empty, too long, or holds a character other than `[A-Za-z0-9_.-]`.
    #[error(
        "`{0}` is not a schedule name: expected 1 to 100 characters of A-Z, a-z, 0-9, `_`, `.` and `-`"
    )]
    BadName(String),
    /// The cron expression does not parse.
    #[error(
        "`{cron}` is not a cron expression ({reason}): expected 5 fields, 6 with seconds first, or a macro such as @hourly"
    )]
    BadCron {
        /// The expression.
        cron: String,
        /// What the parser found wrong.
        reason: String,
    },
    /// The time zone is not an IANA name.
    #[error("`{0}` is not an IANA time zone, such as UTC or Europe/Paris")]
    BadTimezone(String),
}

fn check_name(name: &str) -> Result<(), ScheduleError> {
    let fits = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if fits {
        Ok(())
    } else {
        Err(ScheduleError::BadName(name.to_owned()))
    }
}

/// The times of a cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Timetable {
    cron: Cron,
    timezone: Tz,
}

impl Timetable {
    /// Reads `cron` in `timezone`.
    ///
    /// # Errors
    ///
    /// [`ScheduleError::BadCron`] or [`ScheduleError::BadTimezone`].
    pub fn new(cron: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let timezone =
            Tz::from_str(timezone).map_err(|_| ScheduleError::BadTimezone(timezone.to_owned()))?;
        let parsed = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(cron)
            .map_err(|error| ScheduleError::BadCron {
                cron: cron.to_owned(),
                reason: error.to_string(),
            })?;
        Ok(Timetable {
            cron: parsed,
            timezone,
        })
    }

    /// The first tick strictly after `time`, if the expression has one.
    pub fn next_after(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = time.with_timezone(&self.timezone);
        let next = self.cron.find_next_occurrence(&local, false).ok()?;
        let next = next.with_timezone(&Utc);
        // Ticks fall on whole seconds; a time between two is past the earlier one.
        (next > time).then_some(next).or_else(|| {
            let later = time + chrono::Duration::seconds(1);
            self.cron
                .find_next_occurrence(&later.with_timezone(&self.timezone), true)
                .ok()
                .map(|next| next.with_timezone(&Utc))
        })
    }

    /// The latest tick at or before `time`, if the expression has one.
    pub fn latest_at_or_before(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = time.with_timezone(&self.timezone);
        let latest = self.cron.find_previous_occurrence(&local, true).ok()?;
        let latest = latest.with_timezone(&Utc);
        (latest <= time).then_some(latest)
    }
}

/// What a scheduler does next for one schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Create the job of this tick, and move the cursor to it.
    Fire(DateTime<Utc>),
    /// Move the cursor to this tick without a job: the missed stretch up to it is
    /// skipped.
    Skip(DateTime<Utc>),
    /// Nothing is due before this tick.
    WaitUntil(DateTime<Utc>),
    /// The expression has no tick left.
    Never,
}

/// What comes next for a schedule whose cursor is at `last_tick`, at `now`.
///
/// A tick seen within `grace` of its time is on time and fires, each one on its own, so
/// a scheduler that was slow for a moment loses none. Ticks older than that were
/// missed (no scheduler ran): with [`Missed::Once`] the latest of them fires, once for
/// the whole stretch; with [`Missed::Skip`] the cursor moves past them with no job.
pub fn next_step(
    table: &Timetable,
    missed: Missed,
    last_tick: DateTime<Utc>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Step {
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let horizon = now
        .checked_sub_signed(grace)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    if let Some(latest_missed) = table.latest_at_or_before(horizon)
        && latest_missed > last_tick
    {
        return match missed {
            Missed::Once => Step::Fire(latest_missed),
            Missed::Skip => Step::Skip(latest_missed),
        };
    }
    match table.next_after(last_tick) {
        Some(next) if next <= now => Step::Fire(next),
        Some(next) => Step::WaitUntil(next),
        None => Step::Never,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    const GRACE: Duration = Duration::from_secs(10);

    #[test]
    fn five_and_six_fields_and_macros_parse_and_the_rest_is_refused() {
        for cron in [
            "*/5 * * * *",
            "*/2 * * * * *",
            "@hourly",
            "@daily",
            "0 0 1 1 *",
        ] {
            Timetable::new(cron, "UTC").unwrap_or_else(|e| panic!("{cron}: {e}"));
        }
        for cron in ["", "* * * *", "* * * * * * *", "61 * * * *", "every minute"] {
            let error = Timetable::new(cron, "UTC").unwrap_err();
            assert!(matches!(error, ScheduleError::BadCron { .. }), "{cron}");
        }
        assert_eq!(
            Timetable::new("* * * * *", "Mars/Olympus").unwrap_err(),
            ScheduleError::BadTimezone("Mars/Olympus".to_owned())
        );
    }

    #[test]
    fn names_are_checked() {
        for name in ["nightly", "a.b-c_D9"] {
            Schedule::new(name, "t", "@hourly").timetable().unwrap();
        }
        for name in ["", "has space", "slash/", &"x".repeat(101)] {
            let error = Schedule::new(name, "t", "@hourly").timetable().unwrap_err();
            assert!(matches!(error, ScheduleError::BadName(_)), "{name}");
        }
    }

    #[test]
    fn ticks_are_read_in_the_time_zone() {
        let table = Timetable::new("0 9 * * *", "Europe/Paris").unwrap();
        // Winter: Paris is UTC+1; summer: UTC+2.
        assert_eq!(
            table.next_after(at("2026-01-10T00:00:00Z")),
            Some(at("2026-01-10T08:00:00Z"))
        );
        assert_eq!(
            table.next_after(at("2026-07-10T00:00:00Z")),
            Some(at("2026-07-10T07:00:00Z"))
        );
    }

    #[test]
    fn next_after_is_strictly_after_even_between_seconds() {
        let table = Timetable::new("* * * * * *", "UTC").unwrap();
        assert_eq!(
            table.next_after(at("2026-01-10T00:00:00Z")),
            Some(at("2026-01-10T00:00:01Z"))
        );
        assert_eq!(
            table.next_after(at("2026-01-10T00:00:00.500Z")),
            Some(at("2026-01-10T00:00:01Z"))
        );
        assert_eq!(
            table.latest_at_or_before(at("2026-01-10T00:00:00.500Z")),
            Some(at("2026-01-10T00:00:00Z"))
        );
    }

    #[test]
    fn an_on_time_tick_fires_and_a_future_one_is_waited_for() {
        let table = Timetable::new("* * * * *", "UTC").unwrap();
        let cursor = at("2026-01-10T10:00:00Z");
        assert_eq!(
            next_step(
                &table,
                Missed::Once,
                cursor,
                at("2026-01-10T10:00:30Z"),
                GRACE
            ),
            Step::WaitUntil(at("2026-01-10T10:01:00Z"))
        );
        assert_eq!(
            next_step(
                &table,
                Missed::Skip,
                cursor,
                at("2026-01-10T10:01:03Z"),
                GRACE
            ),
            Step::Fire(at("2026-01-10T10:01:00Z"))
        );
    }

    #[test]
    fn a_slow_scheduler_fires_each_tick_within_the_grace() {
        let table = Timetable::new("* * * * * *", "UTC").unwrap();
        let now = at("2026-01-10T10:00:05Z");
        let mut cursor = at("2026-01-10T10:00:00Z");
        let mut fired = Vec::new();
        while let Step::Fire(tick) = next_step(&table, Missed::Skip, cursor, now, GRACE) {
            fired.push(tick);
            cursor = tick;
        }
        assert_eq!(fired.len(), 5, "{fired:?}");
        assert_eq!(fired[0], at("2026-01-10T10:00:01Z"));
    }

    #[test]
    fn a_missed_stretch_fires_once_or_not_at_all() {
        let table = Timetable::new("* * * * *", "UTC").unwrap();
        let cursor = at("2026-01-10T10:00:00Z");
        let now = at("2026-01-10T12:30:30Z");
        assert_eq!(
            next_step(&table, Missed::Once, cursor, now, GRACE),
            Step::Fire(at("2026-01-10T12:30:00Z"))
        );
        assert_eq!(
            next_step(&table, Missed::Skip, cursor, now, GRACE),
            Step::Skip(at("2026-01-10T12:30:00Z"))
        );
        // After the stretch, the schedule waits for its next tick.
        let cursor = at("2026-01-10T12:30:00Z");
        for missed in [Missed::Once, Missed::Skip] {
            assert_eq!(
                next_step(&table, missed, cursor, now, GRACE),
                Step::WaitUntil(at("2026-01-10T12:31:00Z"))
            );
        }
    }

    #[test]
    fn the_definition_keeps_its_camel_case_keys_and_defaults() {
        let schedule: Schedule = serde_json::from_value(json!({
            "name": "n", "jobType": "t", "cron": "@daily",
        }))
        .unwrap();
        assert_eq!(schedule, Schedule::new("n", "t", "@daily"));
        let json = serde_json::to_value(schedule.missed(Missed::Skip)).unwrap();
        assert_eq!(json["missed"], "skip");
        assert_eq!(json["timezone"], "UTC");
    }
}
