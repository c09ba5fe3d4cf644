-- Articles and the per-source fetch state (conditional GET, last error).
CREATE TABLE articles (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    guid        TEXT,
    title       TEXT NOT NULL,
    source      TEXT NOT NULL,
    author      TEXT,
    published   TEXT,           -- ISO 8601 UTC, NULL when unknown
    text        TEXT NOT NULL,
    html        TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL, -- changes when title or text changes
    fetched_at  TEXT NOT NULL,  -- first time we saw it
    updated_at  TEXT NOT NULL   -- last time its content changed
);
CREATE INDEX articles_published ON articles(published);
CREATE INDEX articles_fetched ON articles(fetched_at);
CREATE INDEX articles_source ON articles(source);

CREATE TABLE feeds (
    source        TEXT PRIMARY KEY,
    url           TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    last_fetched  TEXT,
    last_status   TEXT,
    last_error    TEXT,
    item_count    INTEGER NOT NULL DEFAULT 0
);
