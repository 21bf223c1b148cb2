-- edge-sts schema. Times are Unix seconds. IDs carry a type prefix (org_, prj_, trl_, tok_, usr_).

CREATE TABLE organizations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES organizations(id),
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX projects_by_org ON projects(org_id);

-- One row per trust relationship. `lookup_key` is the provider's exact identity of a job
-- (GitHub "owner/repo" lowercased, CircleCI "org-uuid/project-uuid", Buildkite
-- "org-slug/pipeline-slug", RWX the subject) so the exchange finds candidates with one
-- indexed equality lookup, also used to ask "does a relationship name this issuer?"
-- before contacting a per-tenant issuer (a CircleCI organization, a GitHub enterprise).
CREATE TABLE trust_relationships (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id),
  provider TEXT NOT NULL,
  lookup_key TEXT NOT NULL,
  subject TEXT NOT NULL,           -- JSON: the provider-specific identity fields and pinned IDs
  conditions TEXT NOT NULL,        -- JSON object: claim name -> anchored glob
  description TEXT NOT NULL DEFAULT '',
  token_ttl_seconds INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX trust_by_lookup ON trust_relationships(provider, lookup_key);
CREATE INDEX trust_by_project ON trust_relationships(project_id);

-- Replay protection: a subject token's (issuer, jti) is exchanged once. Rows are swept
-- by the scheduled handler after `expires_at`.
CREATE TABLE used_subject_tokens (
  token_key TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX used_subject_tokens_by_expiry ON used_subject_tokens(expires_at);

-- Provider signing keys, persisted so that a fresh isolate does not refetch them.
CREATE TABLE issuer_keys (
  issuer TEXT PRIMARY KEY,
  jwks TEXT NOT NULL,
  fetched_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
  org_id TEXT NOT NULL REFERENCES organizations(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_user ON memberships(user_id);

-- Static credentials. Only HMAC-SHA-256(TOKEN_HASH_SALT, token) is kept, never the token.
CREATE TABLE static_tokens (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'organization', 'project')),
  token_hash TEXT NOT NULL UNIQUE,
  preview TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  user_id TEXT,
  org_id TEXT,
  project_id TEXT,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX static_tokens_by_user ON static_tokens(user_id);
CREATE INDEX static_tokens_by_org ON static_tokens(org_id);
CREATE INDEX static_tokens_by_project ON static_tokens(project_id);

-- Revoked minted tokens (by jti), kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
  jti TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens(expires_at);
