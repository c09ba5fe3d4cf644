-- Where a permanent redirect (301/308) moved a feed: fetched instead of feeds.url
-- until the configured URL changes.
ALTER TABLE feeds ADD COLUMN fetch_url TEXT;
