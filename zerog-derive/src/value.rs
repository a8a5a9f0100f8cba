//! The rules for what attribute values may say: job type and queue names, branch paths,
//! durations, and the defaults derived from other text.
//!
//! Plain functions on strings, so that each rule is unit-tested without tokens;
//! `attr.rs` puts their messages on the right span. Durations follow the runtime's
//! grammar, compiled in from the same file (`duration_grammar`); only the messages are
//! the derive's own, written in attribute syntax.

use std::time::Duration;

use crate::duration_grammar::{self, DurationError, EXPECTED};

/// The shape of a job type or queue name, as the messages describe it.
const NAME_RULE: &str = "use lowercase letters, digits and `_`, starting with a letter";

/// Checks a job type or queue name against `[a-z][a-z0-9_]*`.
///
/// `what` names the value in the message ("job type"), `example` is a valid one.
pub fn check_name(what: &str, example: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!(
            "{what} must not be empty: {NAME_RULE}, like `{example}`"
        ));
    }
    if is_name(value) {
        return Ok(());
    }
    let hint = match snake_case(value) {
        Some(suggestion) => format!(" (try `{suggestion}`)"),
        None => String::new(),
    };
    Err(format!("invalid {what} `{value}`: {NAME_RULE}{hint}"))
}

fn is_name(value: &str) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `WasteTime` or `waste-time` as `waste_time`, when that is a valid name.
fn snake_case(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len() + 4);
    let mut previous: Option<char> = None;
    for c in value.chars() {
        if c.is_ascii_uppercase() {
            if previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' || c == ' ' {
            out.push('_');
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    is_name(&out).then_some(out)
}

/// Checks a branch path: `/`-separated segments, each `[a-z][a-z0-9_-]*`. The empty
/// path is the root.
pub fn check_path(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    if value.starts_with('/') || value.ends_with('/') {
        return Err(format!(
            "invalid path `{value}`: leave out the leading and trailing `/`, like `path = \"reports/daily\"`"
        ));
    }
    for segment in value.split('/') {
        if segment.is_empty() {
            return Err(format!("invalid path `{value}`: it has an empty segment"));
        }
        let mut chars = segment.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "invalid path `{value}`: segment `{segment}` must use lowercase letters, digits, `_` and `-`, starting with a letter"
            ));
        }
    }
    Ok(())
}

/// Parses a duration that must be longer than zero, such as `500ms`, `30s`, `5m`, `2h`
/// or `1d`. `example` is the key with a valid value, like `timeout = "30s"`.
pub fn parse_duration(example: &str, value: &str) -> Result<Duration, String> {
    duration_grammar::parse_nonzero(value).map_err(|error| match error {
        DurationError::Invalid(text) => {
            format!("invalid duration `{text}`: expected {EXPECTED}, like `{example}`")
        }
        DurationError::Zero(text) => {
            format!("invalid duration `{text}`: it must be longer than zero, like `{example}`")
        }
    })
}

/// The default human title of a job type: `waste_time` becomes `Waste time`.
pub fn title_from_type(job_type: &str) -> String {
    let spaced = job_type.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The default description: the doc comment, one `#[doc]` per line, without the space
/// that `/// ` leaves in front of each line.
pub fn description_from_doc<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let lines: Vec<&str> = lines
        .into_iter()
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect();
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_type_rule() {
        for valid in ["a", "waste_time", "v2", "a_1_b", "x_"] {
            assert_eq!(
                check_name("job type", "send_email", valid),
                Ok(()),
                "{valid}"
            );
        }
        for invalid in ["", "WasteTime", "2fast", "waste-time", "_x", "wäste", "a b"] {
            assert!(
                check_name("job type", "send_email", invalid).is_err(),
                "{invalid}"
            );
        }
    }

    #[test]
    fn bad_names_suggest_snake_case_when_it_fits() {
        let message = check_name("job type", "send_email", "WasteTime").unwrap_err();
        assert!(message.ends_with("(try `waste_time`)"), "{message}");
        let message = check_name("queue", "emails", "send-email").unwrap_err();
        assert!(message.contains("(try `send_email`)"), "{message}");
        let message = check_name("job type", "send_email", "2fast").unwrap_err();
        assert!(!message.contains("try"), "{message}");
        let message = check_name("job type", "send_email", "").unwrap_err();
        assert!(
            message.starts_with("job type must not be empty"),
            "{message}"
        );
    }

    #[test]
    fn paths_are_slash_separated_segments() {
        for valid in ["", "examples", "reports/daily", "a-b/c_d/e2"] {
            assert_eq!(check_path(valid), Ok(()), "{valid}");
        }
        for invalid in ["/a", "a/", "a//b", "A/b", "a/2b", "a/-b", "/"] {
            assert!(check_path(invalid).is_err(), "{invalid}");
        }
        assert!(check_path("a/B").unwrap_err().contains("segment `B`"));
    }

    #[test]
    fn durations_follow_the_shared_grammar() {
        let example = "timeout = \"30s\"";
        assert_eq!(
            parse_duration(example, "500ms"),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(
            parse_duration(example, "1d"),
            Ok(Duration::from_secs(86_400))
        );
        for invalid in [
            "",
            "30",
            " 30s",
            "30 s",
            "1.5s",
            "-1s",
            "30S",
            "1000000000s",
        ] {
            assert!(parse_duration(example, invalid).is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn duration_messages_quote_the_attribute() {
        let example = "timeout = \"30s\"";
        assert_eq!(
            parse_duration(example, "3 parsecs").unwrap_err(),
            "invalid duration `3 parsecs`: expected a whole number of at most 9 digits and a \
             unit (ms, s, m, h, d), like `timeout = \"30s\"`"
        );
        assert_eq!(
            parse_duration(example, "0s").unwrap_err(),
            "invalid duration `0s`: it must be longer than zero, like `timeout = \"30s\"`"
        );
    }

    #[test]
    fn titles_come_from_the_type() {
        assert_eq!(title_from_type("waste_time"), "Waste time");
        assert_eq!(title_from_type("noop"), "Noop");
        assert_eq!(title_from_type("v2_sync_all"), "V2 sync all");
    }

    #[test]
    fn descriptions_join_doc_lines() {
        let doc = [" Wastes time.", "", " Second paragraph.", "  Indented."];
        assert_eq!(
            description_from_doc(doc),
            "Wastes time.\n\nSecond paragraph.\n Indented."
        );
        assert_eq!(description_from_doc([" ", ""]), "");
        assert_eq!(description_from_doc(["No space"]), "No space");
        assert_eq!(description_from_doc([]), "");
    }
}
