-- Trust relationships gain `mode`: 'enforce' (they admit tokens, as every relationship did
-- before this migration, so existing ones keep doing so) or 'shadow' (evaluated on every
-- exchange that names their identity and recorded as "would admit" / "would refuse", but
-- never minting, pinning or routing: a tighter relationship is rolled out in shadow first).
--
-- A column rather than a member of `subject`: routing without audience must skip shadow
-- relationships inside an index, and an index cannot look into JSON it does not store.
ALTER TABLE trust_relationships ADD COLUMN mode TEXT NOT NULL DEFAULT 'enforce' CHECK (mode IN ('enforce', 'shadow'));

-- Routing without audience: the lowest and highest project whose *enforce* relationships
-- name the job's identity, still two index probes however many shadow relationships (of
-- any project) name it. Partial, so shadow rows are not in it at all. The candidates of one
-- project (enforce and shadow) and the pre-fetch questions keep using
-- trust_by_lookup_project and trust_by_lookup_tenant (migration 0003).
CREATE INDEX trust_routing_enforced ON trust_relationships(provider, lookup_key, project_id) WHERE mode = 'enforce';
