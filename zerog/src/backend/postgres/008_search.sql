-- Searching jobs by their parameters (`GET /jobs?params=`) is `record->'params' @>`,
-- which this index answers; jsonb_path_ops is the smaller kind, and supports `@>` only.
CREATE INDEX zerog_jobs_params ON zerog_jobs USING GIN ((record->'params') jsonb_path_ops);
-- Listing one queue's jobs, newest first.
CREATE INDEX zerog_jobs_by_queue ON zerog_jobs (queue, seq);
