-- One row per job: the record as JSON, beside the columns the queue works on.
CREATE TABLE zerog_jobs (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT, -- insertion order, for FIFO and keyset paging
    uuid             TEXT    NOT NULL UNIQUE,
    job_type         TEXT    NOT NULL,
    queue            TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    cost             INTEGER NOT NULL,
    run_at           INTEGER,          -- ms since the epoch; due time while queued or waiting
    lease_id         TEXT,             -- fencing token of the current run
    worker_id        TEXT,
    lease_expires_at INTEGER,          -- ms since the epoch
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    record           TEXT    NOT NULL
);

CREATE INDEX zerog_jobs_due ON zerog_jobs (run_at, seq) WHERE status IN ('queued', 'waiting');
CREATE INDEX zerog_jobs_leased ON zerog_jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX zerog_jobs_by_status ON zerog_jobs (status, seq);
