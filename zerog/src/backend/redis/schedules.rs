//! Schedules in Redis: a hash per schedule under the prefix, and every operation,
//! `fire` above all, one Lua script, so a tick's check of the cursor, its job's insert
//! and the cursor's move happen together or not at all.

use chrono::{DateTime, Utc};

use super::{RedisBackend, millis, parse_uuid, redis_error};
use crate::backend::{Fire, PutSchedule, StoreError, from_millis, parse_schedule, schedule_json};
use crate::schedule::{Schedule, ScheduleSource, ScheduleState};

/// The fields of a schedule's hash that `get` and `list` answer, in their order.
const FIELDS: usize = 5;

impl RedisBackend {
    fn schedules_op(&self, op: &str, name: &str) -> ::redis::ScriptInvocation<'_> {
        let mut invocation = self.scripts.schedules.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(millis(Utc::now()))
            .arg(op)
            .arg(name);
        invocation
    }

    pub(super) async fn put_schedule_hash(
        &self,
        schedule: &Schedule,
        source: ScheduleSource,
        mode: PutSchedule,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mode = match mode {
            PutSchedule::Create => "create",
            PutSchedule::Replace => "replace",
            PutSchedule::Declare => "declare",
        };
        let mut invocation = self.scripts.schedules.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(millis(now))
            .arg("put")
            .arg(&schedule.name)
            .arg(mode)
            .arg(schedule_json(schedule))
            .arg(source.as_str());
        let written: i64 = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(written == 1)
    }

    pub(super) async fn list_schedule_hashes(&self) -> Result<Vec<ScheduleState>, StoreError> {
        let fields: Vec<Option<String>> = self
            .schedules_op("list", "")
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        let mut states = Vec::new();
        for chunk in fields.chunks(FIELDS + 1) {
            let name = chunk[0].clone().unwrap_or_default();
            if let Some(state) = state(&name, &chunk[1..])? {
                states.push(state);
            }
        }
        states.sort_by(|a, b| a.schedule.name.cmp(&b.schedule.name));
        Ok(states)
    }

    pub(super) async fn get_schedule_hash(
        &self,
        name: &str,
    ) -> Result<Option<ScheduleState>, StoreError> {
        let fields: Vec<Option<String>> = self
            .schedules_op("get", name)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        state(name, &fields)
    }

    pub(super) async fn delete_schedule_hash(&self, name: &str) -> Result<bool, StoreError> {
        let deleted: i64 = self
            .schedules_op("delete", name)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(deleted == 1)
    }

    pub(super) async fn pause_schedule_hash(
        &self,
        name: &str,
        paused: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.scripts.schedules.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(millis(now))
            .arg("pause")
            .arg(name)
            .arg(if paused { "1" } else { "0" });
        let written: i64 = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(written == 1)
    }

    pub(super) async fn fire_script(&self, fire: &Fire<'_>) -> Result<bool, StoreError> {
        let mut invocation = self.schedules_op("fire", fire.name);
        invocation.arg(millis(fire.tick));
        if let Some(job) = &fire.job {
            super::push_job_args(&mut invocation, job);
        }
        let answer: String = invocation
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        match answer.strip_prefix("taken:") {
            Some(uuid) => Err(StoreError::Duplicate(parse_uuid(uuid)?)),
            None => Ok(answer == "fired"),
        }
    }
}

/// The state from a schedule's hash fields, in [`FIELDS`] order; `None` if it is gone.
fn state(name: &str, fields: &[Option<String>]) -> Result<Option<ScheduleState>, StoreError> {
    let [Some(def), source, paused, last_tick, last_run_at] = fields else {
        return Ok(None);
    };
    let ms = |field: &Option<String>| field.as_deref().and_then(|ms| ms.parse::<i64>().ok());
    Ok(Some(ScheduleState {
        schedule: parse_schedule(name, def)?,
        source: ScheduleSource::from_stored(source.as_deref().unwrap_or_default()),
        paused: paused.as_deref() == Some("1"),
        last_tick: from_millis(ms(last_tick).unwrap_or_default()),
        last_run_at: ms(last_run_at).map(from_millis),
    }))
}
