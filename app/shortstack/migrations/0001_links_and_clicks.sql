-- Links and their clicks. A click's primary key is its Redis stream entry id, so a redelivered
-- entry can never be stored (or counted) twice.
CREATE TABLE links (
    code        text PRIMARY KEY,
    url         text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    click_count bigint NOT NULL DEFAULT 0
);

CREATE TABLE clicks (
    stream_id     text PRIMARY KEY,
    code          text NOT NULL,
    clicked_at    timestamptz NOT NULL,
    referrer_host text,
    ua_family     text NOT NULL,
    is_bot        boolean NOT NULL
);

CREATE INDEX clicks_code_clicked_at ON clicks (code, clicked_at);
