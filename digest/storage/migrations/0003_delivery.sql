-- Subscribers, their status history, the per-issue send log and the per-install secret.
CREATE TABLE subscribers (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL,              -- as validated (domain normalized), shown and mailed
    email_key   TEXT NOT NULL UNIQUE,       -- casefolded: one subscriber per address, whatever the case
    first_name  TEXT,
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unsubscribed', 'bounced')),
    status_at   TEXT NOT NULL,              -- ISO 8601 UTC of the last status change
    status_reason TEXT NOT NULL DEFAULT '',
    failures    INTEGER NOT NULL DEFAULT 0, -- permanent (5xx) failures since the last success
    created_at  TEXT NOT NULL
);
CREATE INDEX subscribers_status ON subscribers(status);

-- Every status change, with its time and reason (the subscribers row keeps only the last).
CREATE TABLE subscriber_events (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    at            TEXT NOT NULL,
    status        TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX subscriber_events_subscriber ON subscriber_events(subscriber_id);

-- One row per (issue, subscriber): written before the SMTP transaction and after it.
-- queued   -> nothing handed to the relay yet (safe to send)
-- handed   -> written just before the final "." of DATA: the relay may hold the message
-- sent     -> the relay answered 250 to the final "."
-- failed   -> 5xx, or 4xx after the last retry
-- uncertain-> a restart found the row "handed": never resent automatically (at most once)
-- skipped  -> the subscriber stopped being active before their turn came
CREATE TABLE send_log (
    issue_key     TEXT NOT NULL,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'handed', 'sent', 'failed', 'uncertain', 'skipped')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    message_id    TEXT,
    error         TEXT NOT NULL DEFAULT '',
    queued_at     TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (issue_key, subscriber_id)
);
-- No index on status: the primary key finds an issue's rows, and each index costs a page write per update.

-- Per-install values generated once (the unsubscribe-token secret when no env var is set).
CREATE TABLE install_secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at TEXT NOT NULL
);
