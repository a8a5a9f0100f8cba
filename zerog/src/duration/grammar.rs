//! The one grammar of durations: 1 to 9 ASCII digits, then one unit of `ms`, `s`, `m`,
//! `h` or `d`, and nothing else. As a regular expression, `^[0-9]{1,9}(ms|s|m|h|d)$`.
//!
//! The derive reads `#[job(timeout = "...")]` with this same file, so that a duration
//! means the same in an attribute, a flag, an environment variable and a query
//! parameter. It is compiled into both crates, which is why it uses nothing but `std`.

use std::fmt;
use std::time::Duration;

/// What a duration looks like, for the messages about one that does not.
pub const EXPECTED: &str = "a whole number of at most 9 digits and a unit (ms, s, m, h, d)";

/// The most digits a duration has; nine digits of days still fit in a `u64` of
/// milliseconds, so no duration overflows.
const MAX_DIGITS: usize = 9;

/// A text that is not a duration, or not one that the setting takes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// The text, quoted here, is not 1 to 9 digits and a unit.
    Invalid(String),
    /// The text, quoted here, is a duration of zero where zero makes no sense.
    Zero(String),
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Invalid(text) => {
                write!(
                    f,
                    "invalid duration `{text}`: expected {EXPECTED}, like `30s`"
                )
            }
            DurationError::Zero(text) => {
                write!(f, "invalid duration `{text}`: it must be longer than zero")
            }
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses 1 to 9 digits and a unit, such as `250ms`, `30s`, `5m`, `2h` or `7d`. Zero,
/// as `0s`, is a duration.
///
/// # Errors
///
/// [`DurationError::Invalid`] for anything else: spaces around or inside, a sign, a
/// fraction, ten digits or more, an unknown or capitalized unit.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=MAX_DIGITS).contains(&digits) {
        return Err(invalid());
    }
    let (number, unit) = text.split_at(digits);
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(invalid()),
    };
    let number = number
        .bytes()
        .fold(0, |number, digit| number * 10 + u64::from(digit - b'0'));
    Ok(Duration::from_millis(number * millis_per_unit))
}

/// Parses as [`parse`] does, for a setting where a duration of zero makes no sense.
///
/// # Errors
///
/// [`DurationError::Invalid`] as [`parse`], and [`DurationError::Zero`] for a zero such
/// as `0s` or `000ms`.
pub fn parse_nonzero(text: &str) -> Result<Duration, DurationError> {
    match parse(text)? {
        Duration::ZERO => Err(DurationError::Zero(text.to_owned())),
        duration => Ok(duration),
    }
}
