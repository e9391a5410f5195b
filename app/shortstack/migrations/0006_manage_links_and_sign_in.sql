-- Owners manage their links: list (newest first), edit, delete; and sign in in a browser with a key.
-- Expand-only: replicas of the previous version ignore both.

-- A deleted link keeps its row, so its code is never handed out again (a new link with the same
-- alias is refused as taken) and the operator still sees its target (admin links-by-host).
ALTER TABLE links ADD COLUMN deleted_at timestamptz;

-- "My links", newest first, for a key and for a browser session.
CREATE INDEX links_owner_key_created ON links (owner_key_id, created_at DESC) WHERE owner_key_id IS NOT NULL;
CREATE INDEX links_owner_session_created ON links (owner_session, created_at DESC) WHERE owner_session IS NOT NULL;

-- A browser signed in with an API key. The session cookie holds a random token; only its SHA-256
-- is stored (as for keys), and signing out or revoking the key ends it on every replica at once.
CREATE TABLE browser_sign_ins (
    token_hash text PRIMARY KEY,
    key_id     bigint NOT NULL REFERENCES api_keys (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    ended_at   timestamptz
);
