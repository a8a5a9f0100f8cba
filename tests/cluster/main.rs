//! A zerog cluster of child processes for the multi-process and outage tests: one
//! `serve` process and several `work` processes of the test service binary, sharing a
//! store (and maybe a queue), all killed when the cluster is dropped. The tests are
//! this binary's modules: `multiprocess` and `outage`.

#![allow(dead_code)]

mod multiprocess;
mod outage;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;
use zerog::backend::{Backend, ListQuery};
use zerog::lifecycle::WORKER_DIED_EVENT;
use zerog::{JobRecord, Status};
use zerog_tests::process::ChildProcess;
use zerog_tests::wait_for;

const SERVICE: &str = env!("CARGO_BIN_EXE_zerog-test-service");

/// How a cluster is set up.
pub struct Settings<'a> {
    /// `ZEROG_STORE`.
    pub store: &'a str,
    /// `ZEROG_QUEUE`, if the queue is apart from the store.
    pub queue: Option<&'a str>,
    /// How many `work` processes.
    pub workers: usize,
    /// `ZEROG_CAPACITY` of each.
    pub capacity: u32,
    /// `ZEROG_LEASE`, like `2s`.
    pub lease: &'a str,
}

/// The running processes.
pub struct Cluster {
    /// The HTTP API's base URL.
    pub base: String,
    /// The `serve` process.
    pub server: ChildProcess,
    /// The `work` processes.
    pub workers: Vec<ChildProcess>,
    /// The file each `mark` job appends its uuid to when it completes.
    pub mark_file: PathBuf,
    client: awc::Client,
    _dir: tempfile::TempDir,
}

/// What a batch of submissions came to.
#[derive(Debug, Default)]
pub struct Submitted {
    /// The uuids of the jobs answered with 201.
    pub accepted: Vec<Uuid>,
    /// How many were answered otherwise, or not at all.
    pub refused: usize,
}

/// The environment that the server and the workers share.
fn shared_env<'a>(settings: &Settings<'a>, mark_file: &'a Path) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![
        ("ZEROG_STORE", settings.store),
        (
            "ZEROG_TEST_MARK_FILE",
            mark_file.to_str().expect("a UTF-8 path"),
        ),
    ];
    if let Some(queue) = settings.queue {
        env.push(("ZEROG_QUEUE", queue));
    }
    env
}

impl Cluster {
    /// Starts the server and the workers, and waits until the server answers.
    pub async fn start(settings: &Settings<'_>) -> Cluster {
        let mut cluster = Cluster::start_server(settings).await;
        cluster.start_workers(settings);
        cluster
    }

    /// Starts the server alone, and waits until it answers; `start_workers` adds the
    /// workers.
    pub async fn start_server(settings: &Settings<'_>) -> Cluster {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mark_file = dir.path().join("marks");
        let (server, base) = ChildProcess::spawn_server(
            "serve",
            Path::new(SERVICE),
            &["serve"],
            &shared_env(settings, &mark_file),
        )
        .await;
        let cluster = Cluster {
            base,
            server,
            workers: Vec::new(),
            mark_file,
            client: awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .finish(),
            _dir: dir,
        };
        wait_for("the server to answer", Duration::from_secs(60), || async {
            (cluster.health().await == Some(200)).then_some(())
        })
        .await;
        cluster
    }

    /// Starts `settings.workers` more `work` processes, named on from the ones there.
    pub fn start_workers(&mut self, settings: &Settings<'_>) {
        let env = shared_env(settings, &self.mark_file);
        let capacity = settings.capacity.to_string();
        let first = self.workers.len();
        for i in first..first + settings.workers {
            let name = format!("w{i}");
            let mut env = env.clone();
            env.extend_from_slice(&[
                ("ZEROG_CAPACITY", capacity.as_str()),
                ("ZEROG_LEASE", settings.lease),
                ("ZEROG_WORKER_NAME", name.as_str()),
            ]);
            self.workers.push(ChildProcess::spawn(
                &name,
                Path::new(SERVICE),
                &["work"],
                &env,
            ));
        }
    }

    /// The status of `GET /health`, or `None` if the server does not answer.
    pub async fn health(&self) -> Option<u16> {
        let response = self
            .client
            .get(format!("{}/health", self.base))
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .ok()?;
        Some(response.status().as_u16())
    }

    /// Submits `count` `mark` jobs with `params` over HTTP, `concurrency` at a time.
    pub async fn submit(&self, count: usize, params: &Value, concurrency: usize) -> Submitted {
        let mut submitted = Submitted::default();
        let mut left = count;
        while left > 0 {
            let batch = left.min(concurrency);
            left -= batch;
            let posts: Vec<_> = (0..batch)
                .map(|_| {
                    let request = self.client.post(format!("{}/job/mark", self.base));
                    let params = params.clone();
                    actix_web::rt::spawn(async move {
                        let mut response = request.send_json(&params).await.ok()?;
                        if response.status().as_u16() != 201 {
                            return None;
                        }
                        let body: Value = response.json().await.ok()?;
                        body["uuid"].as_str()?.parse::<Uuid>().ok()
                    })
                })
                .collect();
            for post in posts {
                match post.await.expect("the submitting task") {
                    Some(uuid) => submitted.accepted.push(uuid),
                    None => submitted.refused += 1,
                }
            }
        }
        submitted
    }

    /// Asserts that every process is still running.
    pub fn assert_all_running(&mut self) {
        assert!(self.server.is_running(), "the server died");
        for worker in &mut self.workers {
            assert!(worker.is_running(), "worker {} died", worker.name);
        }
    }

    /// How many times each job completed its side effect.
    pub fn completions(&self) -> HashMap<Uuid, usize> {
        let marks = std::fs::read_to_string(&self.mark_file).unwrap_or_default();
        let mut completions = HashMap::new();
        for line in marks.lines() {
            let uuid: Uuid = line.parse().expect("a uuid per line");
            *completions.entry(uuid).or_default() += 1;
        }
        completions
    }
}

/// How many `mark` jobs are done, by the store's counts.
pub async fn done_count(backend: &Backend) -> u64 {
    let stats = backend.stats().await.expect("stats");
    stats
        .jobs
        .get(&(Status::Done, "mark".to_owned()))
        .copied()
        .unwrap_or(0)
}

/// Waits until `expected` `mark` jobs are done.
pub async fn wait_done(backend: &Backend, expected: usize, deadline: Duration) {
    wait_for(&format!("{expected} jobs to be done"), deadline, || async {
        (done_count(backend).await as usize >= expected).then_some(())
    })
    .await;
}

/// Every record in the store, by uuid.
pub async fn all_records(backend: &Backend) -> HashMap<Uuid, JobRecord> {
    let mut records = HashMap::new();
    let mut after = None;
    loop {
        let page = backend
            .list(&ListQuery {
                limit: 500,
                after,
                ..ListQuery::default()
            })
            .await
            .expect("list");
        for record in page.jobs {
            records.insert(record.uuid, record);
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return records,
        }
    }
}

/// What the records and the side effects of `accepted` jobs show.
#[derive(Debug, Default)]
pub struct Tally {
    /// Jobs accepted.
    pub jobs: usize,
    /// Jobs whose side effect happened more than once (each after a recorded restart).
    pub doubled: usize,
    /// Jobs taken back from a worker that died or lost its lease.
    pub restarted: usize,
}

/// Checks that every accepted job is done, completed its side effect at least once,
/// and more than once only where its record shows that a worker died while running it.
pub async fn check_every_job(cluster: &Cluster, backend: &Backend, accepted: &[Uuid]) -> Tally {
    let records = all_records(backend).await;
    let completions = cluster.completions();
    let mut tally = Tally {
        jobs: accepted.len(),
        ..Tally::default()
    };
    for uuid in accepted {
        let record = records
            .get(uuid)
            .unwrap_or_else(|| panic!("accepted job {uuid} was lost"));
        assert_eq!(record.status, Status::Done, "{uuid}: {record:?}");
        assert_eq!(record.result_code, 200);
        let restarted = record.events.iter().any(|e| e.msg == WORKER_DIED_EVENT);
        tally.restarted += usize::from(restarted);
        let runs = completions.get(uuid).copied().unwrap_or(0);
        assert!(
            runs >= 1,
            "job {uuid} is done but its side effect never happened"
        );
        if runs > 1 {
            tally.doubled += 1;
            assert!(
                restarted,
                "job {uuid} completed {runs} times with no recorded restart: {record:?}"
            );
        }
    }
    tally
}
