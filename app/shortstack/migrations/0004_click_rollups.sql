-- Stats cost O(buckets), not O(clicks): the click worker adds every new click to these counters in
-- the transaction that stores it, so they stay exact (a redelivered click is neither stored nor
-- counted twice). Hours are UTC; days are summed from hours.
CREATE TABLE clicks_hourly (
    code   text NOT NULL,
    hour   timestamptz NOT NULL,
    clicks bigint NOT NULL,
    PRIMARY KEY (code, hour)
);

-- '' stands for "no referrer" (a primary key column cannot be NULL).
CREATE TABLE referrer_counts (
    code          text NOT NULL,
    referrer_host text NOT NULL,
    clicks        bigint NOT NULL,
    PRIMARY KEY (code, referrer_host)
);

ALTER TABLE links ADD COLUMN bot_click_count bigint NOT NULL DEFAULT 0;

-- The clicks stored before this migration.
INSERT INTO clicks_hourly (code, hour, clicks)
SELECT code, date_trunc('hour', clicked_at, 'UTC'), count(*) FROM clicks GROUP BY 1, 2;
INSERT INTO referrer_counts (code, referrer_host, clicks)
SELECT code, coalesce(referrer_host, ''), count(*) FROM clicks GROUP BY 1, 2;
UPDATE links SET bot_click_count = bots.n
FROM (SELECT code, count(*) AS n FROM clicks WHERE is_bot GROUP BY code) AS bots
WHERE links.code = bots.code;
