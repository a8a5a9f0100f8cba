//! Leases, recovery and fencing; cancel and kill; the worker directory; wake-ups.

use std::time::Duration;

use chrono::Utc;
use zerog::Status;
use zerog::backend::{
    CancelOutcome, Lease, Recovered, RunSignal, StoreError, WorkerCommand, WorkerInfo, WorkerState,
};
use zerog::lifecycle::{
    self, KILLED_ERROR, LEASE_EXPIRED_ERROR, WORKER_DIED_ERROR, WORKER_DIED_EVENT,
};
use zerog_tests::wait_for;

use super::{
    Ask, Ctx, done, enqueue, finish, get, record, requeue, reserve, reserve_within, timestamp,
};

/// A lease short enough to expire while the test waits.
const TINY_LEASE: Duration = Duration::from_millis(50);

/// Calls `recover_expired` until it takes `uuid` back.
async fn recover(ctx: &Ctx, uuid: uuid::Uuid) -> Recovered {
    wait_for(
        "the expired lease to be recovered",
        Duration::from_secs(10),
        || async {
            let recovered = ctx
                .backend
                .recover_expired(Utc::now())
                .await
                .expect("recover_expired");
            (recovered.requeued.contains(&uuid) || recovered.failed.contains(&uuid))
                .then_some(recovered)
        },
    )
    .await
}

fn lease_lost<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::LeaseLost(_)))
}

fn signal_lost(result: Result<RunSignal, StoreError>) -> bool {
    matches!(result, Ok(RunSignal::LeaseLost))
}

pub async fn expired_leases_are_recovered_with_an_attempt_counted(ctx: Ctx) {
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let short = Ask::new(&["alpha"], &["a"]).lease(TINY_LEASE);
    let dead = reserve(&ctx, &short).await.unwrap();
    // Its worker never writes again, as if killed.
    let recovered = recover(&ctx, job.uuid).await;
    assert_eq!(recovered.requeued, [job.uuid]);
    assert!(recovered.failed.is_empty());
    let stored = get(&ctx, &job).await;
    assert_eq!(stored.status, Status::Waiting);
    assert_eq!(stored.attempts, 1);
    assert!(stored.events.iter().any(|e| e.msg == WORKER_DIED_EVENT));
    assert!(stored.errors.iter().any(|e| e.msg == WORKER_DIED_ERROR));
    let nothing = ctx.backend.recover_expired(Utc::now()).await.unwrap();
    assert!(!nothing.requeued.contains(&job.uuid), "recovered once");

    let ask = Ask::new(&["alpha"], &["a"]);
    let again = reserve_within(&ctx, &ask, "the recovered job").await;
    assert_eq!(again.record.uuid, job.uuid);
    assert_eq!(again.record.attempts, 1);
    assert_ne!(again.lease.id, dead.lease.id);
    let finished = done(again.record.clone(), 200);
    ctx.backend
        .settle_run(&again.lease, &finish(finished.clone()))
        .await
        .unwrap();
    assert_eq!(get(&ctx, &job).await.status, Status::Done);
}

pub async fn a_job_whose_leases_keep_expiring_fails(ctx: Ctx) {
    let mut job = record("a", "alpha");
    job.max_attempts = 2;
    ctx.backend.enqueue(&job, 1, Utc::now()).await.unwrap();
    let short = Ask::new(&["alpha"], &["a"]).lease(TINY_LEASE);
    reserve(&ctx, &short).await.unwrap();
    assert_eq!(recover(&ctx, job.uuid).await.requeued, [job.uuid]);
    reserve_within(&ctx, &short, "the recovered job").await;
    let recovered = recover(&ctx, job.uuid).await;
    assert_eq!(recovered.failed, [job.uuid]);
    let stored = get(&ctx, &job).await;
    assert_eq!(
        (stored.status, stored.attempts, stored.result_code),
        (Status::Failed, 2, 500)
    );
    assert!(stored.errors.iter().any(|e| e.msg == LEASE_EXPIRED_ERROR));
    assert!(stored.finished_at.is_some());
    assert!(
        reserve(&ctx, &short).await.is_none(),
        "a failed job never runs again"
    );
}

pub async fn live_leases_are_not_recovered(ctx: Ctx) {
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    // Renewed about every 130 ms, a 2 s lease outlasts the stalls of a loaded machine.
    let lease = Duration::from_secs(2);
    let taken = reserve(&ctx, &Ask::new(&["alpha"], &["a"]).lease(lease))
        .await
        .unwrap();
    // Renewing by progress writes keeps the job its worker's, well past one lease.
    let until = tokio::time::Instant::now() + lease * 2;
    while tokio::time::Instant::now() < until {
        ctx.backend
            .save_progress(&taken.lease, &taken.record)
            .await
            .unwrap();
        let recovered = ctx.backend.recover_expired(Utc::now()).await.unwrap();
        assert!(
            !recovered.requeued.contains(&job.uuid),
            "a renewed lease expired"
        );
        tokio::time::sleep(lease / 15).await;
    }
    assert_eq!(get(&ctx, &job).await.status, Status::Running);
}

pub async fn a_stale_lease_cannot_write(ctx: Ctx) {
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let short = Ask::new(&["alpha"], &["a"]).lease(TINY_LEASE);
    let stale = reserve(&ctx, &short).await.unwrap();
    recover(&ctx, job.uuid).await;
    let ask = Ask::new(&["alpha"], &["a"]);
    let owner = reserve_within(&ctx, &ask, "the job for its new owner").await;
    let mut owners = owner.record.clone();
    owners.completeness = 0.3;
    ctx.backend
        .save_progress(&owner.lease, &owners)
        .await
        .unwrap();

    // The stalled first worker wakes up and tries every write it could make.
    let mut stalled = stale.record.clone();
    stalled.completeness = 0.9;
    let queue = &ctx.backend;
    let store = &ctx.backend;
    assert!(lease_lost(
        store.save_progress(&stale.lease, &stalled).await
    ));
    assert!(signal_lost(store.run_signal(&stale.lease).await));
    assert!(lease_lost(
        queue
            .settle_run(&stale.lease, &finish(done(stalled.clone(), 200)))
            .await
    ));
    let later = Utc::now() + chrono::Duration::seconds(60);
    assert!(lease_lost(
        queue
            .settle_run(&stale.lease, &requeue(stalled.clone(), later))
            .await
    ));
    let forged = Lease {
        id: uuid::Uuid::new_v4(),
        ..owner.lease.clone()
    };
    assert!(lease_lost(store.save_progress(&forged, &stalled).await));
    assert_eq!(
        get(&ctx, &job).await,
        owners,
        "the owner's record is untouched"
    );
    assert_eq!(
        store.run_signal(&owner.lease).await.unwrap(),
        RunSignal::Continue
    );
    let finished = done(owners, 200);
    queue
        .settle_run(&owner.lease, &finish(finished.clone()))
        .await
        .unwrap();
    assert_eq!(get(&ctx, &job).await, finished);
}

pub async fn cancel_a_queued_job(ctx: Ctx) {
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let store = &ctx.backend;
    let CancelOutcome::Cancelled(cancelled) = store.cancel(job.uuid, false).await.unwrap() else {
        panic!("a queued job is cancelled at once");
    };
    assert_eq!(
        (cancelled.status, cancelled.result_code),
        (Status::Cancelled, 410)
    );
    assert_eq!(get(&ctx, &job).await, cancelled);
    assert!(reserve(&ctx, &Ask::new(&["alpha"], &["a"])).await.is_none());
    let again = store.cancel(job.uuid, false).await;
    assert!(matches!(
        again,
        Err(StoreError::AlreadyFinished {
            status: Status::Cancelled,
            ..
        })
    ));
    let unknown = record("a", "alpha").uuid;
    assert!(
        matches!(store.cancel(unknown, false).await, Err(StoreError::NotFound(u)) if u == unknown)
    );

    // A waiting job (requeued for later) is cancelled at once too.
    let waiting = enqueue(&ctx, "a", "alpha", 1).await;
    let taken = reserve_within(&ctx, &Ask::new(&["alpha"], &["a"]), "the second job").await;
    let mut paused = taken.record.clone();
    let later = Utc::now() + chrono::Duration::hours(1);
    paused.status = Status::Waiting;
    paused.run_after = Some(timestamp(later));
    ctx.backend
        .settle_run(&taken.lease, &requeue(paused.clone(), later))
        .await
        .unwrap();
    let outcome = store.cancel(waiting.uuid, false).await.unwrap();
    assert!(matches!(outcome, CancelOutcome::Cancelled(r) if r.status == Status::Cancelled));
}

pub async fn cancel_a_running_job_signals_its_worker(ctx: Ctx) {
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let taken = reserve(&ctx, &Ask::new(&["alpha"], &["a"])).await.unwrap();
    let store = &ctx.backend;
    assert_eq!(
        store.run_signal(&taken.lease).await.unwrap(),
        RunSignal::Continue
    );
    let outcome = store.cancel(job.uuid, false).await.unwrap();
    assert!(matches!(&outcome, CancelOutcome::Signalled(r) if r.status == Status::Running));
    assert_eq!(
        store.run_signal(&taken.lease).await.unwrap(),
        RunSignal::Cancel
    );
    assert_eq!(
        get(&ctx, &job).await.status,
        Status::Running,
        "until the worker stops"
    );
    // The worker's writes still go through; it ends the run as cancelled.
    store
        .save_progress(&taken.lease, &taken.record)
        .await
        .unwrap();
    let end = lifecycle::RunEnd::Returned(Ok(zerog::Outcome::done(200)));
    let clock = lifecycle::Clock::at(Utc::now());
    let (cancelled, _) =
        lifecycle::run_ended(taken.record.clone(), &super::SPEC.retry, end, true, clock);
    ctx.backend
        .settle_run(&taken.lease, &cancelled)
        .await
        .unwrap();
    let stored = get(&ctx, &job).await;
    assert_eq!(
        (stored.status, stored.result_code),
        (Status::Cancelled, 410)
    );
}

pub async fn kill_a_running_job_takes_its_lease(ctx: Ctx) {
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let ask = Ask::new(&["alpha"], &["a"]);
    let taken = reserve(&ctx, &ask).await.unwrap();
    let store = &ctx.backend;
    let CancelOutcome::Cancelled(killed) = store.cancel(job.uuid, true).await.unwrap() else {
        panic!("a kill cancels at once");
    };
    assert_eq!(
        (killed.status, killed.result_code),
        (Status::Cancelled, 410)
    );
    assert!(
        killed
            .errors
            .iter()
            .any(|e| e.msg == KILLED_ERROR && e.error_code == 410)
    );
    assert_eq!(get(&ctx, &job).await, killed);
    assert!(signal_lost(store.run_signal(&taken.lease).await));
    assert!(lease_lost(
        store.save_progress(&taken.lease, &taken.record).await
    ));
    let finished = done(taken.record.clone(), 200);
    assert!(lease_lost(
        ctx.backend
            .settle_run(&taken.lease, &finish(finished.clone()))
            .await
    ));
    assert_eq!(
        get(&ctx, &job).await,
        killed,
        "the dropped run writes nothing"
    );
    assert!(reserve(&ctx, &ask).await.is_none());
}

pub async fn cancel_a_finished_job_is_refused(ctx: Ctx) {
    let job = enqueue(&ctx, "a", "alpha", 1).await;
    let taken = reserve(&ctx, &Ask::new(&["alpha"], &["a"])).await.unwrap();
    let finished = done(taken.record.clone(), 200);
    ctx.backend
        .settle_run(&taken.lease, &finish(finished.clone()))
        .await
        .unwrap();
    for kill in [false, true] {
        let refused = ctx.backend.cancel(job.uuid, kill).await;
        assert!(
            matches!(refused, Err(StoreError::AlreadyFinished { status: Status::Done, uuid }) if uuid == job.uuid),
            "{refused:?}"
        );
    }
    assert_eq!(get(&ctx, &job).await, finished);
}

fn worker_info(name: &str) -> WorkerInfo {
    let now = timestamp(Utc::now());
    WorkerInfo {
        id: format!("host:7:{name}"),
        host: "host".to_owned(),
        pid: 7,
        name: name.to_owned(),
        state: WorkerState::Polling,
        running: Vec::new(),
        capacity_used: 0,
        capacity_total: 4,
        queues: vec!["alpha".to_owned()],
        queue_limits: [("alpha".to_owned(), 3)].into(),
        rss_bytes: Some(1 << 20),
        started_at: now.clone(),
        last_heartbeat: now,
    }
}

pub async fn worker_directory_with_heartbeats_and_commands(ctx: Ctx) {
    let store = ctx.backend.store();
    let ttl = Duration::from_secs(30);
    let mut alpha = worker_info("alpha");
    let beta = worker_info("beta");
    assert_eq!(
        store.heartbeat_worker(&beta, ttl).await.unwrap(),
        WorkerCommand::None
    );
    assert_eq!(
        store.heartbeat_worker(&alpha, ttl).await.unwrap(),
        WorkerCommand::None
    );
    assert_eq!(
        store.list_workers().await.unwrap(),
        [alpha.clone(), beta.clone()]
    );

    alpha.state = WorkerState::Running;
    alpha.capacity_used = 2;
    store.heartbeat_worker(&alpha, ttl).await.unwrap();
    assert_eq!(
        store.list_workers().await.unwrap()[0],
        alpha,
        "the latest beat is listed"
    );

    assert!(
        store
            .command_worker(&alpha.id, WorkerCommand::Drain)
            .await
            .unwrap()
    );
    assert!(
        !store
            .command_worker("host:7:nobody", WorkerCommand::Drain)
            .await
            .unwrap()
    );
    assert_eq!(
        store.heartbeat_worker(&alpha, ttl).await.unwrap(),
        WorkerCommand::Drain
    );
    assert_eq!(
        store.heartbeat_worker(&alpha, ttl).await.unwrap(),
        WorkerCommand::Drain,
        "a command stays until replaced"
    );
    assert!(
        store
            .command_worker(&alpha.id, WorkerCommand::DrainAndExit)
            .await
            .unwrap()
    );
    assert_eq!(
        store.heartbeat_worker(&alpha, ttl).await.unwrap(),
        WorkerCommand::DrainAndExit
    );

    store.remove_worker(&alpha.id).await.unwrap();
    assert_eq!(store.list_workers().await.unwrap(), [beta]);

    // A worker that stops beating drops off when its heartbeat expires.
    let gamma = worker_info("gamma");
    store
        .heartbeat_worker(&gamma, Duration::from_millis(100))
        .await
        .unwrap();
    wait_for(
        "gamma's heartbeat to expire",
        Duration::from_secs(10),
        || async {
            let listed = store.list_workers().await.unwrap();
            (!listed.iter().any(|w| w.id == gamma.id)).then_some(())
        },
    )
    .await;
    assert!(
        !store
            .command_worker(&gamma.id, WorkerCommand::Drain)
            .await
            .unwrap()
    );
}

pub async fn idle_workers_wake_on_enqueue(ctx: Ctx) {
    if !ctx.caps.wakes_on_enqueue {
        // Polling only: the default waits out its timeout.
        let started = tokio::time::Instant::now();
        ctx.backend.wait_for_jobs(Duration::from_millis(50)).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        return;
    }
    super::settle_waiter(&ctx.backend).await;
    let backend = ctx.backend.clone();
    let waiter = tokio::spawn(async move {
        backend.store().wait_for_jobs(Duration::from_secs(60)).await;
    });
    // The waiter may not be listening yet when the first job comes; it must wake on
    // one of them, long before its minute is up.
    wait_for(
        "an idle worker to wake on an enqueue",
        Duration::from_secs(10),
        || async {
            enqueue(&ctx, "a", "alpha", 1).await;
            waiter.is_finished().then_some(())
        },
    )
    .await;
}

/// A submit that comes while no worker waits (each is between two waits, reserving)
/// is kept for the next wait, which returns at once instead of sleeping its timeout.
pub async fn a_submit_between_two_waits_is_not_lost(ctx: Ctx) {
    enqueue(&ctx, "a", "alpha", 1).await;
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        ctx.backend.wait_for_jobs(Duration::from_secs(600)),
    )
    .await;
    assert!(
        waited.is_ok(),
        "the wait slept through a job submitted before it"
    );
}
