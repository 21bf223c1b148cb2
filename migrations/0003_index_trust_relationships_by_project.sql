-- Trust routing reads one project's relationships only: the audience's, or the one project
-- whose relationships name the job's identity. Both lookups, and the question asked before
-- a cold key fetch from a per-tenant issuer, are served by indexes, so the rows an exchange
-- reads stay bounded by one project's relationships however many other projects name the
-- same repository.
--
-- `issuer_tenant`: the per-tenant issuer a relationship names, in lower case: the GitHub
-- enterprise slug, the CircleCI organization UUID; '' for none.
ALTER TABLE trust_relationships ADD COLUMN issuer_tenant TEXT NOT NULL DEFAULT '';

UPDATE trust_relationships
SET issuer_tenant = lower(json_extract(subject, '$.enterprise'))
WHERE provider = 'github' AND json_extract(subject, '$.enterprise') IS NOT NULL;

UPDATE trust_relationships
SET issuer_tenant = json_extract(subject, '$.organization_uuid')
WHERE provider = 'circleci';

-- (provider, lookup_key) is a prefix of both indexes below.
DROP INDEX trust_by_lookup;
-- Candidates of one project; the lowest and highest project naming an identity; the
-- pre-fetch question with an audience.
CREATE INDEX trust_by_lookup_project ON trust_relationships(provider, lookup_key, project_id, issuer_tenant);
-- The pre-fetch question without an audience.
CREATE INDEX trust_by_lookup_tenant ON trust_relationships(provider, lookup_key, issuer_tenant);
