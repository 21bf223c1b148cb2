-- Sessions of the settings page (/settings). The browser holds a random session ID in a
-- __Host- cookie; only SHA-256 of it is kept here, so a read of this table cannot be
-- replayed as a cookie. The credential that signed in is kept as its identity, never as
-- the token: a static token's ID (re-checked against static_tokens on every request, so
-- deleting the token ends the session) and an HMAC keyed by the secret it depends on
-- (ADMIN_TOKEN for the operator, TOKEN_HASH_SALT for static tokens), so that rotating
-- that secret ends the sessions made with it. Rows past expires_at are swept hourly.
CREATE TABLE ui_sessions (
  id_hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('operator', 'user', 'organization')),
  credential_id TEXT,
  secret_mac TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX ui_sessions_by_expiry ON ui_sessions(expires_at);
