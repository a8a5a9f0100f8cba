-- One row that `/health` rewrites: a read alone would pass on a database that can no
-- longer be written (a read-only standby, a read-only transaction default, a full disk).
CREATE TABLE zerog_health (
    id         INTEGER     PRIMARY KEY CHECK (id = 1),
    checked_at TIMESTAMPTZ NOT NULL
);
