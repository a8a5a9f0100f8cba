-- Counts that stay fast on a file of millions of jobs (`/metrics`, `/queues`): each
-- is read from an index alone, never from the rows, which lie scattered over the
-- file, by adding to the indexes that already hold the jobs counted what is counted
-- of them. The columns added come after ones that are unique or ordered already, so
-- they change no order that a query walks.
--
-- The due and waiting jobs, counted by queue, status and type.
DROP INDEX zerog_jobs_due;
CREATE INDEX zerog_jobs_due ON zerog_jobs (priority, run_at, seq, queue, job_type, status)
    WHERE status IN ('queued', 'waiting');
-- The running jobs, counted by queue and type. SQLite reads a column from an index
-- only if it is in it, even one that the index's condition fixes.
DROP INDEX zerog_jobs_leased;
CREATE INDEX zerog_jobs_leased ON zerog_jobs (lease_expires_at, queue, job_type, status)
    WHERE status = 'running';
-- The newest jobs of a finished status, counted by type.
DROP INDEX zerog_jobs_by_status;
CREATE INDEX zerog_jobs_by_status ON zerog_jobs (status, seq, job_type);
