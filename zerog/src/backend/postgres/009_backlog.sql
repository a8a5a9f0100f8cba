-- Counts that stay fast on a table of millions of jobs (`/metrics`, `/queues`): each
-- is read from an index alone, never from the rows, by adding to the indexes that
-- already hold the jobs counted what is counted of them. Wider entries cost writes
-- next to nothing, where another index would add its own entry to every insert.
--
-- The due and waiting jobs, counted by queue, status and type.
DROP INDEX zerog_jobs_due;
CREATE INDEX zerog_jobs_due ON zerog_jobs (priority, run_at, seq)
    INCLUDE (queue, job_type, status) WHERE status IN ('queued', 'waiting');
-- The running jobs, counted by queue and type.
DROP INDEX zerog_jobs_running;
CREATE INDEX zerog_jobs_running ON zerog_jobs (queue) INCLUDE (job_type)
    WHERE status = 'running';
-- The newest jobs of a finished status, counted by type.
DROP INDEX zerog_jobs_by_status;
CREATE INDEX zerog_jobs_by_status ON zerog_jobs (status, seq) INCLUDE (job_type);
