-- Jobs start by priority (0 the most urgent, 9 the least), then by due time, then in
-- submit order; jobs stored before priorities have the default, 5.
ALTER TABLE zerog_jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 5;
DROP INDEX zerog_jobs_due;
CREATE INDEX zerog_jobs_due ON zerog_jobs (priority, run_at, seq) WHERE status IN ('queued', 'waiting');
