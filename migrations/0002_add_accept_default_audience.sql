-- CircleCI relationships gain `accept_default_audience` (a member of `subject`): whether a
-- token whose `aud` is CircleCI's default, the organization UUID, is admitted. That token
-- ($CIRCLE_OIDC_TOKEN_V2) is handed to every service a job talks to, so new relationships
-- default to false; the relationships that existed before this migration admitted it, and
-- keep doing so.
UPDATE trust_relationships
SET subject = json_set(subject, '$.accept_default_audience', json('true'))
WHERE provider = 'circleci' AND json_extract(subject, '$.accept_default_audience') IS NULL;
