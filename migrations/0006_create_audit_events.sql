-- The audit log: one row per exchange of a verified token and per admin change, written by
-- the queue consumer (src/audit/consumer.ts), never on a response path.
--
-- `id` is `evt_` + 12 hex digits of Unix milliseconds + 20 random hex digits, made when the
-- event happened: ordering by `id` is ordering by time, and a time range is an `id` range,
-- so every query below is one range read of one index. It is also what makes the consumer
-- idempotent: queue delivery is at least once, and a redelivered event is the same `id`
-- (INSERT … ON CONFLICT DO NOTHING).
--
-- `org_id` is the organization the event belongs to: the project's that the job named in
-- `audience` or was routed to, or the changed resource's. NULL only for changes to a user's
-- own resources (a new user, a user's tokens), which belong to no organization.
-- `outcome` is 'minted' or 'refused' for exchanges, NULL for admin changes.
-- `body` is the event as the API renders it (JSON); the columns beside it are what is
-- filtered on. No token, secret or hash is ever in it.
CREATE TABLE audit_events (
  id TEXT PRIMARY KEY,
  org_id TEXT,
  project_id TEXT,
  kind TEXT NOT NULL CHECK (kind IN ('exchange', 'admin')),
  outcome TEXT CHECK (outcome IN ('minted', 'refused')),
  body TEXT NOT NULL
);
-- An organization's log, newest first, optionally within `since`/`until` (an id range).
CREATE INDEX audit_events_by_org ON audit_events(org_id, id);
-- … of one project.
CREATE INDEX audit_events_by_project ON audit_events(org_id, project_id, id);
-- … of one kind.
CREATE INDEX audit_events_by_kind ON audit_events(org_id, kind, id);
-- … with one outcome (an outcome is an exchange's: admin changes have none).
CREATE INDEX audit_events_by_outcome ON audit_events(org_id, outcome, id);
-- The retention sweep walks the primary key's index from its oldest `id`.
