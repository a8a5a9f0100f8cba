-- Recurring jobs. `last_tick` is the cursor that makes each tick fire once: a tick's
-- job is inserted in the transaction that moves it, and only if it was before the tick.
CREATE TABLE zerog_schedules (
    name        TEXT        PRIMARY KEY,
    definition  JSONB       NOT NULL,           -- the Schedule
    source      TEXT        NOT NULL,           -- 'code' or 'api'
    paused      BOOLEAN     NOT NULL DEFAULT false,
    last_tick   TIMESTAMPTZ NOT NULL,           -- every tick up to it is fired or skipped
    last_run_at TIMESTAMPTZ                     -- the tick of the latest job
);
