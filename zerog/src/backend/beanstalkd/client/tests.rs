//! The protocol client against a real beanstalkd, found through `ZEROG_TEST_BEANSTALKD`
//! (default `127.0.0.1:11300`). Without one, each test says it skipped, unless
//! `ZEROG_REQUIRE_SERVICES=1`, which makes a missing server a failure.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{BeanstalkdError, Client, Peek};

fn address() -> String {
    let address =
        std::env::var("ZEROG_TEST_BEANSTALKD").unwrap_or_else(|_| "127.0.0.1:11300".to_owned());
    address
        .trim_start_matches("beanstalkd://")
        .trim_end_matches('/')
        .to_owned()
}

async fn connect(test: &str) -> Option<Client> {
    match Client::connect(&address()).await {
        Ok(client) => Some(client),
        Err(error) if std::env::var("ZEROG_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("{test}: beanstalkd at {} is required: {error}", address())
        }
        Err(error) => {
            eprintln!("SKIPPED {test}: no beanstalkd at {} ({error})", address());
            None
        }
    }
}

/// A tube no other test uses.
fn tube() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "zerog_unit_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    )
}

/// A client that puts into and reserves from a fresh tube only.
async fn on_fresh_tube(test: &str) -> Option<(Client, String)> {
    let mut client = connect(test).await?;
    let tube = tube();
    client.use_tube(&tube).await.unwrap();
    assert_eq!(client.watch(&tube).await.unwrap(), 2);
    assert!(client.ignore("default").await.unwrap());
    Some((client, tube))
}

async fn state(client: &mut Client, id: u64) -> String {
    let stats = client.stats_job(id).await.unwrap().expect("the job exists");
    stats["state"].clone()
}

/// Polls the state of job `id` until it is `want`, for up to ten seconds.
async fn wait_for_state(client: &mut Client, id: u64, want: &str) {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = state(client, id).await;
        if now == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "job {id} never became {want}; it is {now}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const TTR: Duration = Duration::from_secs(30);

#[tokio::test]
async fn put_reserve_delete() {
    let Some((mut client, tube)) = on_fresh_tube("put_reserve_delete").await else {
        return;
    };
    let id = client
        .put(10, Duration::ZERO, TTR, b"first\r\nline")
        .await
        .unwrap();
    let job = client
        .reserve(Duration::ZERO)
        .await
        .unwrap()
        .expect("a job");
    assert_eq!((job.id, job.body.as_slice()), (id, &b"first\r\nline"[..]));
    assert_eq!(state(&mut client, id).await, "reserved");
    let stats = client.stats_tube(&tube).await.unwrap().unwrap();
    assert_eq!(stats["current-jobs-reserved"], "1");
    assert!(client.delete(id).await.unwrap());
    assert!(
        !client.delete(id).await.unwrap(),
        "a second delete finds nothing"
    );
    assert_eq!(client.reserve(Duration::ZERO).await.unwrap(), None);
}

#[tokio::test]
async fn lower_priority_first_then_fifo() {
    let Some((mut client, _tube)) = on_fresh_tube("lower_priority_first_then_fifo").await else {
        return;
    };
    let late = client.put(100, Duration::ZERO, TTR, b"a").await.unwrap();
    let early = client.put(100, Duration::ZERO, TTR, b"b").await.unwrap();
    let urgent = client.put(1, Duration::ZERO, TTR, b"c").await.unwrap();
    let mut order = Vec::new();
    while let Some(job) = client.reserve(Duration::ZERO).await.unwrap() {
        order.push(job.id);
        client.delete(job.id).await.unwrap();
    }
    assert_eq!(order, [urgent, late, early]);
}

#[tokio::test]
async fn release_with_delay_then_ready() {
    let Some((mut client, _tube)) = on_fresh_tube("release_with_delay_then_ready").await else {
        return;
    };
    let id = client.put(10, Duration::ZERO, TTR, b"x").await.unwrap();
    client.reserve(Duration::ZERO).await.unwrap().unwrap();
    assert!(
        client
            .release(id, 10, Duration::from_secs(1))
            .await
            .unwrap()
    );
    assert_eq!(state(&mut client, id).await, "delayed");
    assert_eq!(
        client.reserve(Duration::ZERO).await.unwrap(),
        None,
        "not before its delay"
    );
    wait_for_state(&mut client, id, "ready").await;
    let again = client.reserve(Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(again.id, id);
    let stats = client.stats_job(id).await.unwrap().unwrap();
    assert_eq!(
        (stats["releases"].as_str(), stats["reserves"].as_str()),
        ("1", "2")
    );
    client.delete(id).await.unwrap();
}

#[tokio::test]
async fn bury_keeps_a_job_until_kicked() {
    let Some((mut client, tube)) = on_fresh_tube("bury_keeps_a_job_until_kicked").await else {
        return;
    };
    let id = client
        .put(10, Duration::ZERO, TTR, b"poison")
        .await
        .unwrap();
    client.reserve(Duration::ZERO).await.unwrap().unwrap();
    assert!(client.bury(id, 10).await.unwrap());
    assert_eq!(state(&mut client, id).await, "buried");
    assert_eq!(client.reserve(Duration::ZERO).await.unwrap(), None);
    assert_eq!(
        client.stats_tube(&tube).await.unwrap().unwrap()["current-jobs-buried"],
        "1"
    );
    assert_eq!(client.peek(id).await.unwrap().unwrap().body, b"poison");
    assert_eq!(
        client.peek_next(Peek::Buried).await.unwrap().unwrap().id,
        id
    );
    assert_eq!(client.peek_next(Peek::Ready).await.unwrap(), None);
    assert!(client.list_tubes().await.unwrap().contains(&tube));
    assert!(client.kick_job(id).await.unwrap());
    assert_eq!(
        client.reserve(Duration::ZERO).await.unwrap().unwrap().id,
        id
    );
    client.delete(id).await.unwrap();
    assert_eq!(client.peek(id).await.unwrap(), None);
}

#[tokio::test]
async fn ttr_hands_an_untouched_job_out_again_and_touch_holds_it() {
    let Some((mut client, _tube)) = on_fresh_tube("ttr").await else {
        return;
    };
    let ttr = Duration::from_secs(1);
    let id = client.put(10, Duration::ZERO, ttr, b"slow").await.unwrap();
    client.reserve(Duration::ZERO).await.unwrap().unwrap();
    assert!(client.touch(id).await.unwrap());
    // Untouched, the job goes back to ready once its TTR runs out.
    wait_for_state(&mut client, id, "ready").await;
    assert!(!client.touch(id).await.unwrap(), "no longer ours to touch");
    let again = client.reserve(Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(again.id, id);
    client.delete(id).await.unwrap();
}

#[tokio::test]
async fn a_closed_connection_gives_its_jobs_back() {
    let Some((mut first, tube)) = on_fresh_tube("a_closed_connection_gives_its_jobs_back").await
    else {
        return;
    };
    let id = first.put(10, Duration::ZERO, TTR, b"x").await.unwrap();
    first.reserve(Duration::ZERO).await.unwrap().unwrap();
    let mut second = connect("a_closed_connection_gives_its_jobs_back")
        .await
        .unwrap();
    second.watch(&tube).await.unwrap();
    assert!(
        !second.release(id, 10, Duration::ZERO).await.unwrap(),
        "only the holder may"
    );
    drop(first);
    wait_for_state(&mut second, id, "ready").await;
    let job = second
        .reserve(Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.id, id);
    second.delete(id).await.unwrap();
}

#[tokio::test]
async fn blocking_reserve_wakes_on_put() {
    let Some((mut waiter, tube)) = on_fresh_tube("blocking_reserve_wakes_on_put").await else {
        return;
    };
    let mut producer = connect("blocking_reserve_wakes_on_put").await.unwrap();
    producer.use_tube(&tube).await.unwrap();
    let waiting = tokio::spawn(async move { waiter.reserve(Duration::from_secs(10)).await });
    let id = producer
        .put(10, Duration::ZERO, TTR, b"wake")
        .await
        .unwrap();
    let job = waiting.await.unwrap().unwrap().expect("woken by the put");
    assert_eq!(job.id, id);
    producer.delete(id).await.unwrap_or_default();
}

#[tokio::test]
async fn an_interrupted_command_desynchronizes_the_connection() {
    let Some((mut client, _tube)) = on_fresh_tube("interrupted").await else {
        return;
    };
    let interrupted = tokio::time::timeout(
        Duration::from_millis(50),
        client.reserve(Duration::from_secs(2)),
    )
    .await;
    assert!(interrupted.is_err(), "the reserve was still waiting");
    assert!(matches!(
        client.ping().await,
        Err(BeanstalkdError::Desynchronized)
    ));
}

#[tokio::test]
async fn server_errors_are_reported_with_the_command() {
    let Some(mut client) = connect("server_errors_are_reported_with_the_command").await else {
        return;
    };
    let error = client.use_tube("-bad name").await.unwrap_err();
    assert!(
        matches!(&error, BeanstalkdError::Unexpected { reply, .. } if reply == "BAD_FORMAT"),
        "{error}"
    );
    assert!(
        !client.ignore("default").await.unwrap(),
        "the last watched tube stays"
    );
    assert_eq!(client.ping().await.unwrap(), "default");
}
