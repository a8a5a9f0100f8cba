//! Claim ahead: jobs reserved before a run slot frees, so that no slot waits on a round
//! trip to the backend.
//!
//! A worker whose runs end quickly spends most of its time asking for the next ones:
//! each end frees a slot, and the slot stays empty while a reserve goes to the backend
//! and back. So the worker holds jobs ahead, leased like running ones, starts one the
//! moment a slot frees, and meanwhile a reserve in the background fills the holding up
//! again (Graphile Worker's local queue does the same).
//!
//! How much it holds follows the runs: enough for two reserve round trips at the rate
//! runs have been ending, up to the worker's prefetch limit ([`Worker::prefetch`]).
//! Runs that last longer than a round trip keep nothing ahead, so a worker busy with
//! long jobs never sits on jobs another worker could start. A held job starts within
//! its hold limit ([`hold_limit`]) or goes back to the queue unstarted, with no attempt
//! used, as does every held job when the worker drains or stops.
//!
//! [`Worker::prefetch`]: super::Worker::prefetch

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::backend::Reservation;

/// How long a held job may wait for a slot, at most, before it goes back unstarted.
pub(super) const HOLD_LIMIT: Duration = Duration::from_millis(250);

/// The span over which the rate of ends is measured.
const WINDOW: Duration = Duration::from_millis(100);

/// How long a held job may wait for a slot with a lease of `lease`: [`HOLD_LIMIT`], or
/// a quarter of a shorter lease, so that it always starts with most of its lease left.
pub(super) fn hold_limit(lease: Duration) -> Duration {
    HOLD_LIMIT.min(lease / 4)
}

/// The jobs a worker holds ahead, and the pace that sizes them.
#[derive(Debug)]
pub(super) struct Ahead {
    held: VecDeque<(Reservation, Instant)>,
    /// The units the held jobs cost together.
    cost: u32,
    /// The most units held: the worker's prefetch limit.
    limit: u32,
    hold_limit: Duration,
    pace: Pace,
}

impl Ahead {
    /// Nothing held, holding at most `limit` units, each job for at most `hold_limit`.
    pub(super) fn new(limit: u32, hold_limit: Duration) -> Self {
        Ahead {
            held: VecDeque::new(),
            cost: 0,
            limit,
            hold_limit,
            pace: Pace::new(Instant::now()),
        }
    }

    /// The units the held jobs cost together.
    pub(super) fn cost(&self) -> u32 {
        self.cost
    }

    /// The units to hold now: two reserve round trips' worth of ends at the recent
    /// rate, within the limit.
    pub(super) fn target(&self, now: Instant) -> u32 {
        let wanted = self.pace.rate(now) * self.pace.round_trip.as_secs_f64() * 2.0;
        // A float beyond u32 saturates; the limit caps it anyway.
        (wanted.round() as u32).min(self.limit)
    }

    /// Holds `reservations`, in the order the backend gave them.
    pub(super) fn hold(&mut self, reservations: Vec<Reservation>, now: Instant) {
        for reservation in reservations {
            self.cost += reservation.cost;
            self.held.push_back((reservation, now));
        }
    }

    /// The oldest held job, if it costs at most `free` units. A job that does not fit
    /// keeps the ones behind it waiting, so that jobs start in the order reserved and a
    /// costly one is not passed over for ever.
    pub(super) fn take_fitting(&mut self, free: u32) -> Option<Reservation> {
        if self.held.front()?.0.cost > free {
            return None;
        }
        let (reservation, _) = self.held.pop_front()?;
        self.cost -= reservation.cost;
        Some(reservation)
    }

    /// When the oldest held job reaches its hold limit.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.held.front().map(|(_, since)| *since + self.hold_limit)
    }

    /// The held jobs that have waited their hold limit by `now`.
    pub(super) fn take_expired(&mut self, now: Instant) -> Vec<Reservation> {
        let mut expired = Vec::new();
        while let Some((_, since)) = self.held.front() {
            if now < *since + self.hold_limit {
                break;
            }
            if let Some((reservation, _)) = self.held.pop_front() {
                self.cost -= reservation.cost;
                expired.push(reservation);
            }
        }
        expired
    }

    /// Every held job.
    pub(super) fn take_all(&mut self) -> Vec<Reservation> {
        self.cost = 0;
        self.held
            .drain(..)
            .map(|(reservation, _)| reservation)
            .collect()
    }

    /// Counts `runs` that ended at `now`.
    pub(super) fn ended(&mut self, runs: u32, now: Instant) {
        self.pace.ended(runs, now);
    }

    /// Notes that a reserve took `took`, there and back.
    pub(super) fn reserved_in(&mut self, took: Duration) {
        self.pace.reserved_in(took);
    }
}

/// How fast runs end, and how long a reserve takes.
#[derive(Debug)]
struct Pace {
    window_start: Instant,
    /// Ends since the window started.
    in_window: u32,
    /// Ends per second, smoothed over the last windows.
    rate: f64,
    /// A reserve's time there and back, smoothed.
    round_trip: Duration,
}

impl Pace {
    fn new(now: Instant) -> Self {
        Pace {
            window_start: now,
            in_window: 0,
            rate: 0.0,
            round_trip: Duration::ZERO,
        }
    }

    fn ended(&mut self, runs: u32, now: Instant) {
        self.in_window += runs;
        let elapsed = now - self.window_start;
        if elapsed >= WINDOW {
            let measured = f64::from(self.in_window) / elapsed.as_secs_f64();
            self.rate = (self.rate + measured) / 2.0;
            self.window_start = now;
            self.in_window = 0;
        }
    }

    /// The rate of ends, falling as soon as ends stop coming: a window that has run
    /// long without closing counts for what it holds.
    fn rate(&self, now: Instant) -> f64 {
        let elapsed = now - self.window_start;
        if elapsed > WINDOW * 2 {
            self.rate
                .min(f64::from(self.in_window) / elapsed.as_secs_f64())
        } else {
            self.rate
        }
    }

    fn reserved_in(&mut self, took: Duration) {
        self.round_trip = if self.round_trip.is_zero() {
            took
        } else {
            (self.round_trip * 3 + took) / 4
        };
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::backend::Lease;
    use crate::record::JobRecord;
    use crate::spec::tests::SPEC;

    fn reservation(cost: u32) -> Reservation {
        let record = JobRecord::new(&SPEC, serde_json::Value::Null);
        Reservation {
            lease: Lease {
                uuid: record.uuid,
                id: Uuid::new_v4(),
                worker: "w".to_owned(),
                duration: Duration::from_secs(30),
            },
            record,
            cost,
        }
    }

    #[test]
    fn held_jobs_start_in_order_and_a_costly_one_is_not_passed_over() {
        let now = Instant::now();
        let mut ahead = Ahead::new(100, HOLD_LIMIT);
        let (first, big, last) = (reservation(1), reservation(3), reservation(1));
        let uuids = [first.record.uuid, big.record.uuid, last.record.uuid];
        ahead.hold(vec![first, big, last], now);
        assert_eq!(ahead.cost(), 5);
        assert_eq!(ahead.take_fitting(2).map(|r| r.record.uuid), Some(uuids[0]));
        assert!(
            ahead.take_fitting(2).is_none(),
            "three units do not fit in two"
        );
        assert_eq!(ahead.take_fitting(3).map(|r| r.record.uuid), Some(uuids[1]));
        assert_eq!(ahead.take_all().len(), 1);
        assert_eq!(ahead.cost(), 0);
        assert!(ahead.next_expiry().is_none());
    }

    #[test]
    fn a_job_held_past_its_limit_goes_back() {
        let now = Instant::now();
        let mut ahead = Ahead::new(100, HOLD_LIMIT);
        ahead.hold(vec![reservation(1)], now);
        ahead.hold(vec![reservation(2)], now + HOLD_LIMIT / 2);
        assert_eq!(ahead.next_expiry(), Some(now + HOLD_LIMIT));
        assert!(ahead.take_expired(now + HOLD_LIMIT / 2).is_empty());
        let expired = ahead.take_expired(now + HOLD_LIMIT);
        assert_eq!((expired.len(), ahead.cost()), (1, 2));
        assert_eq!(ahead.next_expiry(), Some(now + HOLD_LIMIT * 3 / 2));
    }

    #[test]
    fn fast_ends_hold_more_and_slow_ends_hold_nothing() {
        let start = Instant::now();
        let mut ahead = Ahead::new(50, HOLD_LIMIT);
        assert_eq!(ahead.target(start), 0, "no pace measured yet");
        ahead.reserved_in(Duration::from_millis(2));
        // 1,000 ends a second, for a second.
        for ms in 1..=1000 {
            ahead.ended(1, start + Duration::from_millis(ms));
        }
        let now = start + Duration::from_secs(1);
        // 1,000/s over two round trips of 2 ms: four jobs' worth.
        assert_eq!(ahead.target(now), 4);
        ahead.reserved_in(Duration::from_millis(200));
        assert_eq!(ahead.target(now), 50, "capped by the limit");
        // Ends stop: the target falls within a few windows.
        assert_eq!(ahead.target(now + Duration::from_secs(100)), 0);
        // Runs of a second each hold nothing.
        let mut slow = Ahead::new(50, HOLD_LIMIT);
        slow.reserved_in(Duration::from_millis(2));
        for s in 1..=5 {
            slow.ended(1, start + Duration::from_secs(s));
        }
        assert_eq!(slow.target(start + Duration::from_secs(5)), 0);
    }

    #[test]
    fn the_hold_limit_leaves_most_of_a_short_lease() {
        assert_eq!(hold_limit(Duration::from_secs(30)), HOLD_LIMIT);
        assert_eq!(
            hold_limit(Duration::from_millis(400)),
            Duration::from_millis(100)
        );
    }
}
