-- Which Telegram user created which link, for the bot's /mylinks.
CREATE TABLE telegram_links (
    user_id    bigint NOT NULL,
    code       text NOT NULL REFERENCES links (code),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, code)
);
