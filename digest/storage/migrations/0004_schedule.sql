-- Issue slots (one per date in the configured time zone) and the runs that worked on them.
-- A slot row is written BEFORE anything is built: it is what makes a second trigger a no-op.
CREATE TABLE slots (
    key           TEXT PRIMARY KEY,     -- the issue key, e.g. "2025-01-29"
    status        TEXT NOT NULL CHECK (status IN ('claimed', 'built', 'sent', 'skipped', 'failed')),
    reason        TEXT,                 -- why it was skipped or failed, or where a stop left it
    scheduled_for TEXT,                 -- the fire time (ISO 8601 UTC); NULL for a manual run
    claimed_at    TEXT NOT NULL,
    built_at      TEXT,                 -- set once the issue is built: a retry only sends
    finished_at   TEXT,                 -- when it became sent, skipped or failed
    updated_at    TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 0,  -- 1 while a process works on it
    owner_host    TEXT,
    owner_pid     INTEGER
);
CREATE INDEX slots_status ON slots(status);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    slot_key    TEXT NOT NULL,
    trigger     TEXT NOT NULL,          -- "schedule", "manual" or "catch-up"
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT,                   -- sent, skipped, done, busy, interrupted, failed
    reason      TEXT,
    stages      TEXT NOT NULL DEFAULT '[]',  -- JSON: one object per stage (name, ok, seconds, counts, error)
    pid         INTEGER
);
CREATE INDEX runs_slot ON runs(slot_key);
