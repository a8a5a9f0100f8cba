//! The table that `jobs` prints: one job a line, aligned, within 100 columns however
//! long a job type's name is.
//!
//! ```text
//! UUID                                  TYPE        STATUS   PROGRESS  RESULT  AGE
//! 0b6f3c1e-9a2d-4f4e-8c1a-5b7d2e9f0a13  waste_time  running       40%       -  12s
//! ```

use chrono::{DateTime, Utc};
use serde_json::Value;

/// The widest a job type is shown; a longer one is cut, ending in `…`. With it, the
/// widest line is 99 columns: 36 for the uuid, 9 for `cancelled`, 8 for the header
/// `PROGRESS`, 6 for `RESULT` and for an age of 100 years (`36525d`), and the gaps.
const TYPE_WIDTH: usize = 24;
/// Between two columns.
const GAP: &str = "  ";

/// One job of a `GET /jobs` answer, as the table shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) uuid: String,
    pub(crate) job_type: String,
    pub(crate) status: String,
    pub(crate) completeness: f64,
    pub(crate) result_code: i64,
    /// When the job was submitted, if the answer says.
    pub(crate) created_at: Option<DateTime<Utc>>,
}

impl Row {
    /// The rows of a `GET /jobs` answer, `{"jobs": [...], "next": ...}`.
    pub(crate) fn all_of(list: &Value) -> Vec<Row> {
        let Some(jobs) = list.get("jobs").and_then(Value::as_array) else {
            return Vec::new();
        };
        jobs.iter()
            .map(|job| {
                let text = |key: &str| job.get(key).and_then(Value::as_str).unwrap_or_default();
                Row {
                    uuid: text("uuid").to_owned(),
                    job_type: text("jobType").to_owned(),
                    status: text("status").to_owned(),
                    completeness: job
                        .get("completeness")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0),
                    result_code: job.get("resultCode").and_then(Value::as_i64).unwrap_or(-1),
                    created_at: DateTime::parse_from_rfc3339(text("createdAt"))
                        .ok()
                        .map(|at| at.with_timezone(&Utc)),
                }
            })
            .collect()
    }
}

/// The table of `rows`, with a header line, each line ending in a newline; ages are
/// counted to `now`.
pub(crate) fn render(rows: &[Row], now: DateTime<Utc>) -> String {
    const HEADERS: [&str; 6] = ["UUID", "TYPE", "STATUS", "PROGRESS", "RESULT", "AGE"];
    // Numbers read best right-aligned.
    const RIGHT: [bool; 6] = [false, false, false, true, true, true];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            [
                row.uuid.clone(),
                shorten(&row.job_type, TYPE_WIDTH),
                row.status.clone(),
                format!("{:.0}%", (row.completeness.clamp(0.0, 1.0) * 100.0).floor()),
                if row.result_code < 0 {
                    "-".to_owned()
                } else {
                    row.result_code.to_string()
                },
                row.created_at
                    .map_or_else(|| "-".to_owned(), |at| age(now - at)),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(|header| header.chars().count());
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = HEADERS.map(str::to_owned);
    let mut table = String::new();
    for line in std::iter::once(&header).chain(&cells) {
        let mut text = String::new();
        for (column, cell) in line.iter().enumerate() {
            if column > 0 {
                text.push_str(GAP);
            }
            let width = widths[column];
            if RIGHT[column] {
                text.push_str(&format!("{cell:>width$}"));
            } else {
                text.push_str(&format!("{cell:<width$}"));
            }
        }
        table.push_str(text.trim_end());
        table.push('\n');
    }
    table
}

/// `text` cut to at most `width` characters, ending in `…` when cut.
fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let kept: String = text.chars().take(width - 1).collect();
    format!("{kept}…")
}

/// An age in its largest whole unit: `42s`, `5m`, `3h`, `12d`; a time ahead (a clock
/// that differs from the server's) counts as `0s`.
pub(crate) fn age(elapsed: chrono::Duration) -> String {
    let seconds = elapsed.num_seconds().max(0);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3_600 => format!("{}m", seconds / 60),
        3_600..86_400 => format!("{}h", seconds / 3_600),
        _ => format!("{}d", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The widest a table may get, so that it fits a terminal of 100 columns.
    const MAX_WIDTH: usize = 100;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn rows_are_read_from_a_listing() {
        let list = json!({"jobs": [{
            "uuid": "0b6f3c1e-9a2d-4f4e-8c1a-5b7d2e9f0a13", "jobType": "waste_time",
            "status": "running", "resultCode": -1, "result": -1, "completeness": 0.4,
            "createdAt": "2026-12-01T09:59:48Z", "updatedAt": "2026-12-01T09:59:59Z"
        }], "next": null});
        let rows = Row::all_of(&list);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, "running");
        assert_eq!(
            rows[0].created_at,
            Some(now() - chrono::Duration::seconds(12))
        );
        assert_eq!(
            render(&rows, now()),
            "UUID                                  TYPE        STATUS   PROGRESS  RESULT  AGE\n\
             0b6f3c1e-9a2d-4f4e-8c1a-5b7d2e9f0a13  waste_time  running       40%       -  12s\n"
        );
        assert!(Row::all_of(&json!({"error": "x"})).is_empty());
    }

    #[test]
    fn the_widest_table_fits_100_columns() {
        let row = Row {
            uuid: "0b6f3c1e-9a2d-4f4e-8c1a-5b7d2e9f0a13".to_owned(),
            job_type: "a_job_type_with_a_name_far_too_long_for_any_table".to_owned(),
            status: "cancelled".to_owned(),
            completeness: 1.0,
            result_code: 410,
            created_at: Some(now() - chrono::Duration::days(36_525)),
        };
        let table = render(&[row], now());
        for line in table.lines() {
            assert!(
                line.chars().count() <= MAX_WIDTH,
                "{} columns: {line}",
                line.chars().count()
            );
        }
        assert!(table.contains("a_job_type_with_a_name_…"), "{table}");
        assert!(table.contains("36525d"), "{table}");
        assert!(table.contains("100%"), "{table}");
    }

    #[test]
    fn ages_use_their_largest_whole_unit() {
        let seconds = chrono::Duration::seconds;
        assert_eq!(age(seconds(-5)), "0s");
        assert_eq!(age(seconds(59)), "59s");
        assert_eq!(age(seconds(60)), "1m");
        assert_eq!(age(seconds(3_599)), "59m");
        assert_eq!(age(seconds(7_200)), "2h");
        assert_eq!(age(seconds(86_400 * 3 + 5)), "3d");
    }

    #[test]
    fn an_empty_listing_is_a_header_only() {
        assert_eq!(
            render(&[], now()),
            "UUID  TYPE  STATUS  PROGRESS  RESULT  AGE\n"
        );
    }
}
