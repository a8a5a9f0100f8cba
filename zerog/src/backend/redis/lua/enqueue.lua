-- ARGV: prefix, now (ms), then per job: uuid, record, job type, queue, status, cost,
-- run_at (ms). All or nothing: returns '' when every job is in, or the uuid that is
-- taken (by a stored job, or twice in the batch), with nothing written.
return insert_jobs(3, tonumber(ARGV[2]))
