//! `schedules`: list the schedules as a table, `schedules add NAME CRON TYPE JSON`
//! and `schedules remove NAME`, through `/schedules`.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::{ApiClient, ClientError, Exit, encode};
use super::commands::{ClientArgs, parse_params, print_json, text};

#[derive(Debug, Args)]
pub(super) struct SchedulesArgs {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Store a schedule that submits a job of TYPE with JSON at every tick of CRON.
    Add(AddArgs),
    /// Remove a schedule; the jobs it created stay.
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
struct AddArgs {
    /// The schedule's name: letters, digits, `_`, `.` and `-`.
    name: String,
    /// A cron expression: 5 fields, 6 with seconds first, or a macro like `@hourly`.
    cron: String,
    /// The job type of the jobs it creates.
    #[arg(value_name = "TYPE")]
    job_type: String,
    /// The jobs' parameters, a JSON object like '{"delay": 3}'.
    #[arg(value_name = "JSON")]
    params: String,
    /// The IANA time zone the expression is read in (default UTC).
    #[arg(long)]
    timezone: Option<String>,
    /// What ticks missed while no scheduler ran become: `once` (the default) or `skip`.
    #[arg(long, value_parser = ["once", "skip"])]
    missed: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
struct RemoveArgs {
    /// The schedule's name.
    name: String,
    #[command(flatten)]
    client: ClientArgs,
}

impl SchedulesArgs {
    /// Where the API is and how to print: the action's, or the list's.
    pub(super) fn client(&self) -> &ClientArgs {
        match &self.action {
            Some(Action::Add(args)) => &args.client,
            Some(Action::Remove(args)) => &args.client,
            None => &self.client,
        }
    }

    pub(super) async fn run(self, api: &ApiClient, json: bool) -> Result<Exit, ClientError> {
        match self.action {
            None => {
                let list = api.get("/schedules").await?;
                if json {
                    print_json(&list, true);
                } else {
                    say!("{}", render(&list));
                }
            }
            Some(Action::Add(args)) => {
                let mut body = json!({
                    "name": args.name,
                    "cron": args.cron,
                    "jobType": args.job_type,
                    "params": parse_params(&args.params)?,
                });
                if let Some(timezone) = args.timezone {
                    body["timezone"] = Value::from(timezone);
                }
                if let Some(missed) = args.missed {
                    body["missed"] = Value::from(missed);
                }
                let stored = api.post("/schedules", Some(&body)).await?;
                if json {
                    print_json(&stored, true);
                } else {
                    say!(
                        "{}: next run at {}",
                        text(&stored, "name"),
                        text(&stored, "nextRunAt")
                    );
                }
            }
            Some(Action::Remove(args)) => {
                let removed = api
                    .delete(&format!("/schedules/{}", encode(&args.name)))
                    .await?;
                if json {
                    print_json(&removed, true);
                } else {
                    say!("{} removed", args.name);
                }
            }
        }
        Ok(Exit::Success)
    }
}

/// The schedules of `GET /schedules` as an aligned table.
fn render(list: &Value) -> String {
    let headers = [
        "NAME", "TYPE", "CRON", "TIMEZONE", "PAUSED", "NEXT RUN", "LAST RUN",
    ];
    let rows: Vec<[String; 7]> = list["schedules"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|schedule| {
            let or_dash = |key: &str| match schedule[key].as_str() {
                Some(value) => value.to_owned(),
                None => "-".to_owned(),
            };
            [
                or_dash("name"),
                or_dash("jobType"),
                or_dash("cron"),
                or_dash("timezone"),
                if schedule["paused"] == true {
                    "yes"
                } else {
                    "no"
                }
                .to_owned(),
                or_dash("nextRunAt"),
                or_dash("lastRunAt"),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(headers.to_vec())];
    for row in &rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        out.push("(no schedules)".to_owned());
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_an_aligned_table() {
        let list = json!({"schedules": [
            {"name": "nightly", "jobType": "waste_time", "cron": "0 30 2 * * *",
             "timezone": "Europe/Paris", "paused": false,
             "nextRunAt": "2026-12-02T01:30:00.000Z", "lastRunAt": null},
            {"name": "s", "jobType": "mark", "cron": "* * * * * *", "timezone": "UTC",
             "paused": true, "nextRunAt": null, "lastRunAt": "2026-12-01T10:00:00.000Z"},
        ]});
        let table = render(&list);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        let column = |line: &str, word: &str| line.find(word).unwrap();
        assert_eq!(column(lines[0], "TYPE"), column(lines[1], "waste_time"));
        assert_eq!(column(lines[0], "PAUSED"), column(lines[2], "yes"));
        assert!(lines[1].ends_with('-'), "no last run: {}", lines[1]);
        assert!(render(&json!({"schedules": []})).contains("(no schedules)"));
    }
}
