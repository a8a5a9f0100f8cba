-- One row per job: the record as JSONB, beside the columns the queue works on. The
-- connection's search_path is the backend's schema, so names here are unqualified.
CREATE TABLE zerog_jobs (
    seq              BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order
    uuid             UUID        NOT NULL UNIQUE,
    job_type         TEXT        NOT NULL,
    queue            TEXT        NOT NULL,
    status           TEXT        NOT NULL,
    cost             INTEGER     NOT NULL,
    run_at           TIMESTAMPTZ,          -- due time while queued or waiting
    lease_id         UUID,                 -- fencing token of the current run
    worker_id        TEXT,
    lease_expires_at TIMESTAMPTZ,
    cancel_requested BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,
    record           JSONB       NOT NULL
);

CREATE INDEX zerog_jobs_due ON zerog_jobs (run_at, seq) WHERE status IN ('queued', 'waiting');
CREATE INDEX zerog_jobs_leased ON zerog_jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX zerog_jobs_running ON zerog_jobs (queue) WHERE status = 'running';
CREATE INDEX zerog_jobs_by_status ON zerog_jobs (status, seq);
CREATE INDEX zerog_jobs_by_type ON zerog_jobs (job_type, seq);
CREATE INDEX zerog_jobs_finished ON zerog_jobs (status, finished_at)
    WHERE status IN ('done', 'failed', 'cancelled');

CREATE TABLE zerog_workers (
    id         TEXT        PRIMARY KEY,
    info       JSONB       NOT NULL,  -- WorkerInfo
    command    TEXT        NOT NULL DEFAULT 'none',
    expires_at TIMESTAMPTZ NOT NULL
);
