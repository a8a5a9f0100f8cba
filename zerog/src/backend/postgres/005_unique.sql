-- Keys of unique jobs (`unique_for`): which job holds each, and until when. A key is
-- taken over by a new job once its holder's window has passed, or the holder failed,
-- was cancelled or was deleted.
CREATE TABLE zerog_unique (
    key   UUID        PRIMARY KEY, -- UUIDv5 of the job type and parameters
    uuid  UUID        NOT NULL,    -- the job that holds it
    until TIMESTAMPTZ NOT NULL
);
