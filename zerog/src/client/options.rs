//! [`EnqueueOptions`]: when an enqueued job may start, and how urgent it is.
//!
//! A job for a time still ahead is stored `waiting`, with `runAfter` set to that time,
//! and no worker starts it before then; a time that has come (or passed) queues it
//! now. A start more than [`MAX_DELAY`] ahead is refused
//! ([`ClientError::BadRunAt`](super::ClientError::BadRunAt)), so that every backend
//! can store it.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How far ahead a job may be set to start: 100 years (of 365.25 days), well inside
/// the range of every backend's timestamps.
pub const MAX_DELAY: Duration = Duration::from_secs(36_525 * 24 * 60 * 60);

/// When an enqueued job may start: now (the default), at a time, or after a delay;
/// and how urgent it is, if not as its type says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnqueueOptions {
    start: Start,
    pub(super) priority: Option<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Start {
    #[default]
    Now,
    At(DateTime<Utc>),
    After(Duration),
}

impl EnqueueOptions {
    /// Start now.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start no earlier than `at`; a time that has come means now. Replaces a
    /// [`run_after`](Self::run_after).
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.start = Start::At(at);
        self
    }

    /// Start no earlier than `delay` from the enqueue. Replaces a
    /// [`run_at`](Self::run_at).
    pub fn run_after(mut self, delay: Duration) -> Self {
        self.start = Start::After(delay);
        self
    }

    /// Gives the jobs `priority`, from 0, the most urgent, to
    /// [`LOWEST_PRIORITY`](crate::spec::LOWEST_PRIORITY), in place of their type's;
    /// an enqueue with a priority beyond that is refused
    /// ([`ClientError::BadPriority`](super::ClientError::BadPriority)).
    pub fn priority(mut self, priority: u8) -> Self {
        self.priority = Some(priority);
        self
    }

    /// When a job enqueued at `now` with these options becomes due: never before
    /// `now`.
    ///
    /// # Errors
    ///
    /// [`TooFarAhead`] for a start more than [`MAX_DELAY`] after `now`.
    pub fn due_at(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, TooFarAhead> {
        let latest = chrono::Duration::from_std(MAX_DELAY)
            .ok()
            .and_then(|max| now.checked_add_signed(max))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let at = match self.start {
            Start::Now => return Ok(now),
            Start::At(at) => at,
            Start::After(delay) => chrono::Duration::from_std(delay)
                .ok()
                .and_then(|delay| now.checked_add_signed(delay))
                .ok_or(TooFarAhead)?,
        };
        if at > latest {
            return Err(TooFarAhead);
        }
        Ok(at.max(now))
    }
}

/// A start further ahead than [`MAX_DELAY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a job may start at most 100 years ahead")]
pub struct TooFarAhead;

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_start_is_never_before_now() {
        let options = EnqueueOptions::new();
        assert_eq!(options.due_at(now()), Ok(now()));
        let past = now() - chrono::Duration::days(3);
        assert_eq!(options.run_at(past).due_at(now()), Ok(now()));
        let later = now() + chrono::Duration::seconds(90);
        assert_eq!(options.run_at(later).due_at(now()), Ok(later));
        let delay = options.run_after(Duration::from_millis(1500));
        assert_eq!(
            delay.due_at(now()),
            Ok(now() + chrono::Duration::milliseconds(1500))
        );
    }

    #[test]
    fn the_last_start_given_wins() {
        let later = now() + chrono::Duration::seconds(90);
        let options = EnqueueOptions::new()
            .run_after(Duration::from_secs(5))
            .run_at(later);
        assert_eq!(options.due_at(now()), Ok(later));
    }

    #[test]
    fn a_start_beyond_a_hundred_years_is_refused() {
        let options = EnqueueOptions::new();
        assert_eq!(
            options.run_after(MAX_DELAY).due_at(now()).map(|_| ()),
            Ok(())
        );
        let beyond = MAX_DELAY + Duration::from_secs(1);
        assert_eq!(options.run_after(beyond).due_at(now()), Err(TooFarAhead));
        assert_eq!(
            options.run_after(Duration::MAX).due_at(now()),
            Err(TooFarAhead)
        );
        let far = now() + chrono::Duration::days(36_600);
        assert_eq!(options.run_at(far).due_at(now()), Err(TooFarAhead));
    }
}
