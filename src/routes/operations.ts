/**
 * Every route of the app, documented: the operations each route file declares beside its
 * handlers, and the OpenAPI document they make (`npm run openapi` writes it to
 * `public/openapi.json`, a static asset that `GET /openapi.json` serves).
 *
 * The worker never imports this file, so neither zod's JSON Schema conversion nor the
 * route descriptions weigh on its bundle; test/openapi proves the served document is what
 * these operations make now, and that every route the app serves is here.
 */
import * as z from "../schema";
import { OrganizationView } from "../admin/organizations";
import { ProjectView } from "../admin/projects";
import { IssuedPullToken } from "../admin/pull-tokens";
import { IssuedStaticToken, StaticTokenView } from "../admin/static-tokens";
import { RelationshipBody, TrustRelationshipResponse } from "../admin/trust-relationships";
import { MembershipView, UserView } from "../admin/users";
import { Jwks } from "../tokens/signing-keys";
import { Explanation } from "../trust/explain";
import { Suggestion } from "../trust/suggest";
import { settingsOperations } from "../ui/settings";
import { adminOperations } from "./admin";
import { auditOperations } from "./audit";
import { credentialOperations } from "./credentials";
import { explainOperations } from "./explain";
import { openApiDocument, type Operations } from "./document";
import { introspectionOperations } from "./introspection";
import { tokenOperations } from "./token";
import { wellKnownOperations } from "./well-known";

/** The document's own shape, as far as clients rely on it. */
const OpenApiDocument = z.looseObject({
  openapi: z.string(),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

const openApiOperations: Operations = {
  "GET /openapi.json": {
    tag: "discovery",
    summary: "This document: OpenAPI 3.1, generated from the schemas the routes validate with",
    security: "none",
    responses: { 200: { description: "The OpenAPI document (`Cache-Control: public, max-age=300`)", schema: OpenApiDocument } },
    errors: [500],
  },
};

/** Every route the app serves; a route file that adds routes adds its operations here. */
export const OPERATIONS: Operations = {
  ...tokenOperations(),
  ...introspectionOperations(),
  ...wellKnownOperations(),
  ...openApiOperations,
  ...adminOperations(),
  ...credentialOperations(),
  ...auditOperations(),
  ...explainOperations(),
  ...settingsOperations(),
};

/** Schemas shown once under these names in `components.schemas`, and referred to wherever used. */
const NAMED = {
  Organization: OrganizationView,
  Project: ProjectView,
  TrustRelationshipBody: RelationshipBody,
  TrustRelationship: TrustRelationshipResponse,
  User: UserView,
  Membership: MembershipView,
  StaticToken: StaticTokenView,
  IssuedStaticToken,
  IssuedPullToken,
  Jwks,
  Explanation,
  Suggestion,
};

/** The document as these operations make it now. */
export function buildDocument() {
  return openApiDocument(OPERATIONS, {
    title: "edge-sts",
    version: "1",
    description:
      "The security token service of the build platform: CI jobs exchange their OIDC ID tokens for short-lived project tokens (`POST /token`); the admin API (`/v1`) manages organizations, projects, trust relationships, users and static tokens. Every refusal is `{ error, error_description }` (RFC 6749 §5.2) with `Cache-Control: no-store`; every response carries `X-Request-Id`, the ID its log line has.",
  }, NAMED);
}
