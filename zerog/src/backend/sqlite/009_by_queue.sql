-- Listing one queue's jobs, newest first (`GET /jobs?queue=`).
CREATE INDEX zerog_jobs_by_queue ON zerog_jobs (queue, seq);
