//! Durations as people write them: `500ms`, `30s`, `5m`, `2h`, `7d`.
//!
//! One grammar serves every place a duration is written: `#[job(timeout = "30s")]`,
//! the flags and environment variables of [`crate::cli`] (`--lease 30s`,
//! `ZEROG_PRUNE_AFTER=7d`) and `DELETE /jobs?olderThan=7d`. A duration is 1 to 9 ASCII
//! digits and one unit of `ms`, `s`, `m`, `h` or `d`, with nothing around or between
//! them: no spaces, no sign, no fraction. That is exactly the pattern
//! `^[0-9]{1,9}(ms|s|m|h|d)$` that the OpenAPI document publishes for `olderThan`.
//!
//! [`parse`] takes zero (`0s`); [`parse_nonzero`] is for settings where zero makes no
//! sense, such as a lease or a job's timeout.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use zerog::duration::{self, DurationError};
//!
//! assert_eq!(duration::parse("90s"), Ok(Duration::from_secs(90)));
//! assert_eq!(duration::parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
//! assert_eq!(duration::parse("0s"), Ok(Duration::ZERO));
//! assert!(duration::parse(" 30s").is_err());
//! assert_eq!(
//!     duration::parse("1.5s").unwrap_err().to_string(),
//!     "invalid duration `1.5s`: expected a whole number of at most 9 digits and a unit \
//!      (ms, s, m, h, d), like `30s`",
//! );
//! assert_eq!(
//!     duration::parse_nonzero("0s"),
//!     Err(DurationError::Zero("0s".to_owned())),
//! );
//! ```

mod grammar;

pub use grammar::{DurationError, parse, parse_nonzero};

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
    }

    #[test]
    fn takes_one_to_nine_digits() {
        assert_eq!(parse("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse("007s"), Ok(Duration::from_secs(7)));
        assert_eq!(parse("999999999ms"), Ok(Duration::from_millis(999_999_999)));
        assert_eq!(
            parse("999999999d"),
            Ok(Duration::from_secs(999_999_999 * 86_400))
        );
        assert_eq!(parse("000000000d"), Ok(Duration::ZERO));
        for too_long in ["1000000000s", "0000000001s", "99999999999999999999d"] {
            assert_eq!(
                parse(too_long),
                Err(DurationError::Invalid(too_long.to_owned()))
            );
        }
    }

    #[test]
    fn refuses_every_other_form() {
        for bad in [
            "",
            "s",
            "ms",
            "10",
            "1.5s",
            ".5s",
            "1e3ms",
            "-1s",
            "+1s",
            " 30s",
            "30s ",
            " 30s ",
            "30 s",
            "3 0s",
            "30s\n",
            "\t30s",
            "10S",
            "10Ms",
            "7D",
            "5w",
            "5sec",
            "5mss",
            "5s5",
            "5s m",
            "٣s",
            "7٧",
            "3 parsecs",
            "soon",
            "1_000ms",
            "0x10s",
        ] {
            assert_eq!(
                parse(bad),
                Err(DurationError::Invalid(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn nonzero_refuses_zero_in_any_unit() {
        for zero in ["0ms", "0s", "0m", "0h", "0d", "000s"] {
            assert_eq!(
                parse_nonzero(zero),
                Err(DurationError::Zero(zero.to_owned()))
            );
        }
        assert_eq!(parse_nonzero("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_nonzero("30s"), parse("30s"));
        assert_eq!(
            parse_nonzero("-0s"),
            Err(DurationError::Invalid("-0s".to_owned()))
        );
    }

    #[test]
    fn messages_quote_the_text_and_say_what_is_expected() {
        assert_eq!(
            parse("1.5s").unwrap_err().to_string(),
            "invalid duration `1.5s`: expected a whole number of at most 9 digits and a unit \
             (ms, s, m, h, d), like `30s`"
        );
        assert_eq!(
            parse_nonzero("0s").unwrap_err().to_string(),
            "invalid duration `0s`: it must be longer than zero"
        );
    }
}
