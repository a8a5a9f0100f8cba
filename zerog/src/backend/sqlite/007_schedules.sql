-- Recurring jobs. `last_tick` is the cursor that makes each tick fire once: a tick's
-- job is inserted in the transaction that moves it, and only if it was before the tick.
CREATE TABLE zerog_schedules (
    name        TEXT    PRIMARY KEY,
    definition  TEXT    NOT NULL,           -- the Schedule as JSON
    source      TEXT    NOT NULL,           -- 'code' or 'api'
    paused      INTEGER NOT NULL DEFAULT 0,
    last_tick   INTEGER NOT NULL,           -- ms: every tick up to it is fired or skipped
    last_run_at INTEGER                     -- ms: the tick of the latest job
);
