-- Every change of a job advances its revision, so that a decision made on a record
-- read before (cancel, kill, an expired lease) is written only if the job is unchanged.
ALTER TABLE zerog_jobs ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
