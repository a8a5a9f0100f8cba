-- Queues paused for every worker of the store: a row per paused queue.
CREATE TABLE zerog_paused_queues (
    queue     TEXT        PRIMARY KEY,
    paused_at TIMESTAMPTZ NOT NULL
);
