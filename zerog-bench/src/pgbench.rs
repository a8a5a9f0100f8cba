//! The SQL ceiling on PostgreSQL: zerog's own reserve and completion statements run by
//! `pgbench`, with nothing of zerog around them, so that zerog's end-to-end figure can
//! be read as a fraction of what the database gives for that work.
//!
//! 1. A scratch database, `zbench_<pid>_pgbench`, migrated by zerog itself (a
//!    [`Backend`] connected with `?schema=zbench`) and filled, in batches, with enough
//!    queued no-op jobs for every transaction to find a full batch.
//! 2. A custom script whose transaction is one reserve of a batch (the statement of
//!    `zerog/src/backend/postgres/reserve.rs`, for the worker's free capacity: W jobs of
//!    cost 1) and one batched completion of what it reserved (the `unnest` UPDATE of the
//!    completer's `settle_runs`), each its own statement as zerog sends them, prepared.
//! 3. `pgbench -n -M prepared -c C -t T` for each C of `--pgbench-clients` (default
//!    2,8,16: two as zerog's worker has two connections at work, the reserving loop and
//!    the completer; more, because concurrent commits share a WAL flush and the
//!    database gives more that way, up to a point), each run on jobs of its own. The jobs per second are the transactions per second times the batch, and
//!    the ceiling is the best run.
//!
//! Afterwards every job must be `done`, or the figure is refused, and the database is
//! dropped. A missing `pgbench` only skips the ceiling.

use std::process::Command as Process;

use serde::Serialize;
use sqlx::Connection;
use tokio::runtime::Runtime;
use zerog::Job as _;
use zerog::backend::Backend;

use crate::args::{BackendKind, BenchArgs};
use crate::sandbox::{create_database, drop_database, with_database, with_query};
use crate::workload::{BoxError, batches};
use crate::zerog_system::{BenchNoop, ZerogSystem};

/// Jobs per insert while the table is filled.
const FILL_BATCH: u64 = 1000;

/// What pgbench measured: the best of its runs, and each run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ceiling {
    /// Jobs reserved and completed per transaction.
    pub batch: u64,
    /// pgbench clients of the best run.
    pub clients: u64,
    /// Transactions of the best run, over all clients.
    pub transactions: u64,
    /// Transactions per second of the best run, as pgbench reports them.
    pub transactions_per_s: f64,
    /// Jobs per second of the best run: transactions per second times the batch.
    pub jobs_per_s: f64,
    /// Each run, by client count.
    pub runs: Vec<ClientsRun>,
}

/// One pgbench run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientsRun {
    /// pgbench clients.
    pub clients: u64,
    /// Transactions, over all clients.
    pub transactions: u64,
    /// Transactions per second.
    pub transactions_per_s: f64,
    /// Jobs per second.
    pub jobs_per_s: f64,
}

/// Runs the ceiling on PostgreSQL: `None` on other backends, `Err` with the reason
/// when it was skipped or failed (never fatal to the run).
pub fn run(runtime: &Runtime, bench: &BenchArgs) -> Option<Result<Ceiling, String>> {
    match bench.backend {
        BackendKind::Postgres => {}
        BackendKind::PostgresBeanstalkd => {
            return Some(Err(
                "not run: on this backend beanstalkd, not zerog's SQL reserve, hands out jobs"
                    .to_owned(),
            ));
        }
        BackendKind::Sqlite | BackendKind::Redis => return None,
    }
    if let Err(error) = Process::new(&bench.pgbench).arg("--version").output() {
        return Some(Err(format!(
            "skipped: `{}` cannot be run ({error})",
            bench.pgbench
        )));
    }
    let name = format!("zbench_{}_pgbench", std::process::id());
    let result = runtime.block_on(measure(bench, &name));
    let dropped = runtime.block_on(drop_database(&bench.postgres_url, &name));
    Some(match (result, dropped) {
        (Ok(ceiling), Ok(())) => Ok(ceiling),
        (Err(error), _) => Err(format!("failed: {error}")),
        (Ok(_), Err(error)) => Err(format!("failed to drop {name}: {error}")),
    })
}

async fn measure(bench: &BenchArgs, name: &str) -> Result<Ceiling, BoxError> {
    create_database(&bench.postgres_url, name).await?;
    let database = with_database(&bench.postgres_url, name);
    let batch = u64::from(bench.workers);
    let plans: Vec<(u64, u64)> = bench
        .pgbench_clients
        .iter()
        .map(|&clients| {
            let clients = u64::from(clients);
            (clients, (2 * bench.jobs).div_ceil(batch * clients))
        })
        .collect();
    let jobs: u64 = plans.iter().map(|(c, t)| c * t * batch).sum();
    let backend = Backend::connect(&with_query(&database, "schema", "zbench")).await?;
    fill(&backend, jobs).await?;

    let dir = tempfile::Builder::new()
        .prefix("zbench-pgbench")
        .tempdir()?;
    let script = dir.path().join("reserve-and-complete.sql");
    std::fs::write(&script, script_text("\"zbench\".zerog_jobs", batch))?;
    let mut runs = Vec::new();
    let mut completed_before = 0;
    for (clients, per_client) in plans {
        let transactions_per_s = run_pgbench(bench, &database, &script, clients, per_client)?;
        let transactions = clients * per_client;
        // A completion that matched no job would still be a transaction: count the jobs.
        let completed: i64 =
            sqlx::query_scalar("SELECT count(*) FROM \"zbench\".zerog_jobs WHERE status = 'done'")
                .fetch_one(&mut sqlx::PgConnection::connect(&database).await?)
                .await?;
        let completed = u64::try_from(completed)? - completed_before;
        if completed != transactions * batch {
            let expected = transactions * batch;
            return Err(format!("the script completed {completed} of {expected} jobs").into());
        }
        completed_before += completed;
        runs.push(ClientsRun {
            clients,
            transactions,
            transactions_per_s,
            jobs_per_s: transactions_per_s * batch as f64,
        });
    }
    let best = runs
        .iter()
        .max_by(|a, b| a.jobs_per_s.total_cmp(&b.jobs_per_s))
        .ok_or("no pgbench client count")?
        .clone();
    Ok(Ceiling {
        batch,
        clients: best.clients,
        transactions: best.transactions,
        transactions_per_s: best.transactions_per_s,
        jobs_per_s: best.jobs_per_s,
        runs,
    })
}

/// Runs the script with `clients` clients, `per_client` transactions each; the
/// transactions per second.
fn run_pgbench(
    bench: &BenchArgs,
    database: &str,
    script: &std::path::Path,
    clients: u64,
    per_client: u64,
) -> Result<f64, BoxError> {
    let threads = clients.min(2).to_string();
    let output = Process::new(&bench.pgbench)
        .args(["-n", "-M", "prepared"])
        .args(["-c", &clients.to_string(), "-j", &threads])
        .args(["-t", &per_client.to_string()])
        .arg("-f")
        .arg(script)
        .arg(database)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("no output");
        return Err(format!("pgbench {}: {last}", output.status).into());
    }
    if let Some(failed) = parse_failed(&stdout).filter(|&failed| failed > 0) {
        return Err(format!("{failed} pgbench transactions failed").into());
    }
    Ok(parse_tps(&stdout).ok_or("pgbench printed no `tps = ` line")?)
}

/// Queues `jobs` no-op jobs through zerog, as the benchmark's batched enqueue does.
async fn fill(backend: &Backend, jobs: u64) -> Result<(), BoxError> {
    for seqs in batches(0..jobs, FILL_BATCH) {
        let batch = seqs
            .map(|seq| Ok((ZerogSystem::record(seq)?, BenchNoop::SPEC.cost)))
            .collect::<Result<Vec<_>, BoxError>>()?;
        backend.submit_many(&batch).await?;
    }
    Ok(())
}

/// The pgbench script: zerog's reserve of `batch` jobs from `jobs`, its result kept
/// in variables (`\gset`), then the batched completion of those jobs.
///
/// The reserve is `RESERVE` of `zerog/src/backend/postgres/reserve.rs` (the statement
/// for queues without limits) with its parameters written in, and with its final
/// UPDATE as a CTE so that one row of arrays comes back for `\gset`; the completion is
/// the UPDATE of `settle_runs` in `zerog/src/backend/postgres/mod.rs`, with the
/// records that the completer would write: the reserved one, done.
pub fn script_text(jobs: &str, batch: u64) -> String {
    let job_type = BenchNoop::SPEC.job_type;
    let queue = BenchNoop::SPEC.queue;
    format!(
        "\
WITH candidates AS (
    SELECT c.seq, c.cost, c.run_at, c.priority
    FROM {jobs} c
    WHERE c.status IN ('queued', 'waiting') AND c.run_at <= now() AND c.cost <= {batch}
      AND c.queue = ANY(ARRAY['{queue}']) AND c.job_type = ANY(ARRAY['{job_type}'])
      AND (NULL::uuid IS NULL OR c.uuid = NULL::uuid)
    ORDER BY c.priority, c.run_at, c.seq
    LIMIT {batch}
    FOR UPDATE SKIP LOCKED
),
picked AS (
    SELECT s.seq, s.run_at
    FROM (SELECT c.seq, c.run_at, sum(c.cost) OVER (ORDER BY c.priority, c.run_at, c.seq) AS cost_so_far
          FROM candidates c) s
    WHERE s.cost_so_far <= {batch}
),
reserved AS (
    UPDATE {jobs} j
    SET status = 'running', lease_id = gen_random_uuid(), worker_id = 'pgbench', lease_expires_at = now() + interval '30 seconds',
        run_at = NULL, updated_at = now(), revision = j.revision + 1,
        record = j.record || jsonb_build_object('status', 'running', 'startedAt', now()::text,
                                                'updatedAt', now()::text, 'runAfter', NULL)
    FROM picked
    WHERE j.seq = picked.seq
    RETURNING j.uuid, j.cost, j.lease_id, j.record, picked.run_at, j.seq
)
SELECT array_agg(uuid) AS uuids, array_agg(lease_id) AS leases,
       array_agg('done'::text) AS statuses,
       array_agg(record || jsonb_build_object('status', 'done', 'resultCode', 200,
                                              'finishedAt', now()::text)) AS records,
       array_agg(NULL::timestamptz) AS run_ats
FROM reserved
\\gset
UPDATE {jobs} j
SET status = b.status, record = b.record, run_at = b.run_at,
    finished_at = CASE WHEN b.run_at IS NULL THEN now() END,
    lease_id = NULL, worker_id = NULL, lease_expires_at = NULL,
    updated_at = now(), revision = j.revision + 1
FROM unnest(:uuids::uuid[], :leases::uuid[], :statuses::text[], :records::jsonb[], :run_ats::timestamptz[])
    AS b(uuid, lease, status, record, run_at)
WHERE j.uuid = b.uuid AND j.lease_id = b.lease
RETURNING j.uuid;
"
    )
}

/// The transactions per second of pgbench's report (its `tps = ` line; the first,
/// where an older pgbench prints two).
pub fn parse_tps(report: &str) -> Option<f64> {
    report.lines().find_map(|line| {
        line.trim()
            .strip_prefix("tps = ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// The failed transactions of pgbench's report, where it counts them (15 and later).
pub fn parse_failed(report: &str) -> Option<u64> {
    report.lines().find_map(|line| {
        line.trim()
            .strip_prefix("number of failed transactions: ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pgbench 15's report of a custom script.
    const REPORT: &str = "\
transaction type: /tmp/zbench-pgbench/reserve-and-complete.sql
scaling factor: 1
query mode: prepared
number of clients: 2
number of threads: 2
maximum number of tries: 1
number of transactions per client: 375
number of transactions actually processed: 750/750
number of failed transactions: 0 (0.000%)
latency average = 1.790 ms
initial connection time = 6.262 ms
tps = 1117.318450 (without initial connection time)
";

    #[test]
    fn the_tps_and_failures_are_read() {
        assert_eq!(parse_tps(REPORT), Some(1117.318450));
        assert_eq!(parse_failed(REPORT), Some(0));
        assert_eq!(parse_tps("pgbench: error: connection failed\n"), None);
    }

    #[test]
    fn an_older_report_gives_its_first_tps() {
        let report = "tps = 900.5 (including connections establishing)\n\
                      tps = 910.25 (excluding connections establishing)\n";
        assert_eq!(parse_tps(report), Some(900.5));
        assert_eq!(parse_failed(report), None);
    }

    #[test]
    fn the_script_reserves_a_batch_and_completes_what_it_reserved() {
        let script = script_text("\"s\".zerog_jobs", 8);
        assert!(script.contains("LIMIT 8"), "{script}");
        assert!(script.contains("FOR UPDATE SKIP LOCKED"), "{script}");
        assert!(script.contains("FROM \"s\".zerog_jobs c"), "{script}");
        assert!(script.contains("ARRAY['bench_noop']"), "{script}");
        // \gset ends the first statement, and the second reads its variables.
        let (reserve, complete) = script.split_once("\\gset\n").unwrap();
        assert!(!reserve.contains(';'), "one statement: {reserve}");
        assert!(complete.contains("unnest(:uuids::uuid[]"), "{complete}");
        assert!(complete.trim_end().ends_with(';'), "{complete}");
    }
}
