-- Owners, API keys and takedowns. A key is shown once when created; only its SHA-256 is stored
-- (keys are 256 random bits, so a fast hash loses nothing to guessing).
CREATE TABLE api_keys (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    key_hash   text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Links made before owners existed were public to everyone, and stay so.
ALTER TABLE links
    ADD COLUMN owner_key_id  bigint REFERENCES api_keys (id),
    ADD COLUMN owner_session text,
    ADD COLUMN public_stats  boolean NOT NULL DEFAULT true,
    ADD COLUMN target_host   text,
    ADD COLUMN disabled_at   timestamptz;
ALTER TABLE links ALTER COLUMN public_stats SET DEFAULT false;

-- The host of every existing target, for listing links by host (new links store the host the
-- app's URL parser gives).
UPDATE links SET target_host = lower(rtrim(substring(url FROM '^[A-Za-z]+://(?:[^/?#@]*@)?(\[[^]]*\]|[^/:?#]*)'), '.'));
CREATE INDEX links_target_host ON links (target_host);
