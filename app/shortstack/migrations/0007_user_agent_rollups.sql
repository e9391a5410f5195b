-- Who clicked: browser family, operating system and device type, as the click worker parses them
-- from the User-Agent. Expand-only: the replicas and workers of the previous version keep working
-- during a deploy (their clicks leave os_family and device_type NULL and are not added to
-- user_agent_counts).
-- device_type: 'desktop', 'mobile', 'tablet' or 'bot' (bots and link previews).
ALTER TABLE clicks ADD COLUMN os_family text;
ALTER TABLE clicks ADD COLUMN device_type text;

-- Added to in the worker's transaction that stores the clicks, as clicks_hourly and
-- referrer_counts are. '' stands for "not recorded" (a primary key column cannot be NULL).
CREATE TABLE user_agent_counts (
    code        text NOT NULL,
    browser     text NOT NULL,
    os          text NOT NULL,
    device_type text NOT NULL,
    clicks      bigint NOT NULL,
    PRIMARY KEY (code, browser, os, device_type)
);

-- The clicks stored before this migration: their browser family is known, the rest was not kept.
INSERT INTO user_agent_counts (code, browser, os, device_type, clicks)
SELECT code, ua_family, '', '', count(*) FROM clicks GROUP BY 1, 2;
