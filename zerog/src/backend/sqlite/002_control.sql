-- Cancel requests for running jobs, finish times for retention, and the worker directory.
ALTER TABLE zerog_jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE zerog_jobs ADD COLUMN finished_at INTEGER; -- ms since the epoch

CREATE INDEX zerog_jobs_finished ON zerog_jobs (status, finished_at)
    WHERE status IN ('done', 'failed', 'cancelled');
CREATE INDEX zerog_jobs_by_type ON zerog_jobs (job_type, seq);

CREATE TABLE zerog_workers (
    id         TEXT    PRIMARY KEY,
    info       TEXT    NOT NULL,  -- WorkerInfo as JSON
    command    TEXT    NOT NULL DEFAULT 'none',
    expires_at INTEGER NOT NULL   -- ms since the epoch
);
