-- Built issues and the stories each one told, so later issues remember them
-- (dedup drops a story already sent, or brings it back as an update).
CREATE TABLE issues (
    key         TEXT PRIMARY KEY,       -- the slot, e.g. "2025-01-29"
    date        TEXT NOT NULL,          -- ISO date in the configured time zone
    status      TEXT NOT NULL DEFAULT 'built' CHECK (status IN ('built', 'sent')),
    title       TEXT NOT NULL,          -- the newsletter name
    headline    TEXT NOT NULL,
    subtitle    TEXT NOT NULL DEFAULT '',
    folder      TEXT NOT NULL,          -- out/<key>/ where its files are
    built_at    TEXT NOT NULL,          -- ISO 8601 UTC of the last build
    sent_at     TEXT                    -- ISO 8601 UTC, NULL until delivered
);
CREATE INDEX issues_status ON issues(status);

-- One row per story of an issue, full stories then quick hits, in rank order.
CREATE TABLE issue_stories (
    issue_key   TEXT NOT NULL REFERENCES issues(key) ON DELETE CASCADE,
    position    INTEGER NOT NULL,       -- 1 = top story
    story_id    TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('story', 'quick_hit')),
    headline    TEXT NOT NULL,
    article_ids TEXT NOT NULL,          -- JSON array: the story's articles, best first
    key_points  TEXT NOT NULL,          -- JSON array of the key point texts
    update_of   TEXT,                   -- the earlier story this one updates, if any
    PRIMARY KEY (issue_key, position)
);
CREATE INDEX issue_stories_story ON issue_stories(story_id);
