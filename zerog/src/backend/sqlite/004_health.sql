-- One row that `/health` rewrites: a read alone would pass on a database that can no
-- longer be written (a read-only file, a full disk).
CREATE TABLE zerog_health (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL -- Unix milliseconds of the last check
);
