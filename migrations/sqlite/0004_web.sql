-- The web side: API bearer tokens, admin passwords and admin sessions.
-- Secrets are stored only as hashes: a copy of the database grants no access.

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,           -- hex sha256 of the token
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);

CREATE TABLE admin_users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,               -- pbkdf2-sha256$iterations$salt$hash
    updated_at TEXT NOT NULL
);

CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY,                  -- hex sha256 of the cookie value
    user_name TEXT NOT NULL REFERENCES admin_users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
