//! Durations as people write them: `500ms`, `30s`, `5m`, `2h`, `7d`.
//!
//! ```
//! use std::time::Duration;
//! assert_eq!(zerog::duration::parse("90s"), Ok(Duration::from_secs(90)));
//! assert_eq!(zerog::duration::parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
//! assert!(zerog::duration::parse("soon").is_err());
//! ```

use std::time::Duration;

/// Parses a whole number followed by one of the units `ms`, `s`, `m`, `h` or `d`.
///
/// # Errors
///
/// A message that quotes the text and says what is expected.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let invalid = || {
        format!(
            "invalid duration `{text}`: expected a number and a unit (ms, s, m, h, d), like `30s`"
        )
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("duration `{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse(" 1d "), Ok(Duration::from_secs(86_400)));
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for bad in ["", "s", "10", "1.5s", "-1s", "3 parsecs", "10S"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(
            parse("99999999999999999d")
                .unwrap_err()
                .contains("too long")
        );
    }
}
