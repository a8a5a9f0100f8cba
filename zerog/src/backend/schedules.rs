//! The schedules' side of [`Backend`]: writing, reading and pausing schedules, and
//! firing a tick, each one primitive of the [`Store`](super::Store).

use chrono::{DateTime, Utc};

use super::{Backend, Fire, NewJob, PutSchedule, StoreError};
use crate::lifecycle;
use crate::record::JobRecord;
use crate::schedule::{Schedule, ScheduleSource, ScheduleState};

impl Backend {
    /// Stores a schedule declared in code: a new one starts from now, and one already
    /// stored takes the new definition and keeps its cursor and pause.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::put_schedule`](super::Store::put_schedule).
    pub async fn declare_schedule(&self, schedule: &Schedule) -> Result<(), StoreError> {
        self.store()
            .put_schedule(
                schedule,
                ScheduleSource::Code,
                PutSchedule::Declare,
                Utc::now(),
            )
            .await
            .map(drop)
    }

    /// Stores a new schedule from the API, starting from now; `false` if the name is
    /// taken.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::put_schedule`](super::Store::put_schedule).
    pub async fn create_schedule(&self, schedule: &Schedule) -> Result<bool, StoreError> {
        self.store()
            .put_schedule(
                schedule,
                ScheduleSource::Api,
                PutSchedule::Create,
                Utc::now(),
            )
            .await
    }

    /// Replaces the definition of a stored schedule, which keeps its cursor and pause
    /// and is from the API from now on; `false` if there is no such schedule.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::put_schedule`](super::Store::put_schedule).
    pub async fn replace_schedule(&self, schedule: &Schedule) -> Result<bool, StoreError> {
        self.store()
            .put_schedule(
                schedule,
                ScheduleSource::Api,
                PutSchedule::Replace,
                Utc::now(),
            )
            .await
    }

    /// Every schedule, sorted by name.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn schedules(&self) -> Result<Vec<ScheduleState>, StoreError> {
        self.store().list_schedules().await
    }

    /// The schedule called `name`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only reads.
    pub async fn schedule(&self, name: &str) -> Result<Option<ScheduleState>, StoreError> {
        self.store().get_schedule(name).await
    }

    /// Removes the schedule called `name`; whether there was one.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::delete_schedule`](super::Store::delete_schedule).
    pub async fn delete_schedule(&self, name: &str) -> Result<bool, StoreError> {
        self.store().delete_schedule(name).await
    }

    /// Pauses or resumes the schedule called `name`; whether there is one.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::pause_schedule`](super::Store::pause_schedule).
    pub async fn pause_schedule(&self, name: &str, paused: bool) -> Result<bool, StoreError> {
        self.store().pause_schedule(name, paused, Utc::now()).await
    }

    /// Fires `tick` of the schedule `name`: stores and queues `job` (a new record and
    /// its cost, due now) and moves the schedule's cursor to the tick, if no process
    /// fired that tick or a later one yet. With no job, only the cursor moves (a
    /// skipped stretch). Whether this call fired it.
    ///
    /// # Cancel safety
    ///
    /// As [`Store::fire`](super::Store::fire): whole or not at all.
    pub async fn fire(
        &self,
        name: &str,
        tick: DateTime<Utc>,
        job: Option<(&JobRecord, u32)>,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        let accepted = job.map(|(record, cost)| (lifecycle::accepted(record, now, now), cost));
        let fire = Fire {
            name,
            tick,
            job: accepted.as_ref().map(|(record, cost)| NewJob {
                record,
                cost: *cost,
                run_at: now,
            }),
        };
        let fired = self.store().fire(&fire).await?;
        if fired && fire.job.is_some() {
            self.notify_submitted();
        }
        Ok(fired)
    }
}
