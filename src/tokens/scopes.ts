/**
 * The scope table (SPEC §4): which services each kind of token may use, and how far it
 * reaches. Every authorization decision reads this table; nothing else lists scopes.
 */

export const SCOPES = ["builds", "registry:pull", "registry:push", "ci", "cache", "agents", "api"] as const;
export type Scope = (typeof SCOPES)[number];

export type TokenKind = "user" | "organization" | "project" | "pull" | "oidc";

/** How far a token reaches: the user's memberships, one organization, or one project. */
export type Reach = "memberships" | "organization" | "project";

export const TOKEN_KINDS: Record<TokenKind, { scopes: readonly Scope[]; reach: Reach }> = {
  user: { scopes: SCOPES, reach: "memberships" },
  organization: { scopes: SCOPES, reach: "organization" },
  project: { scopes: ["builds", "registry:pull", "registry:push"], reach: "project" },
  pull: { scopes: ["registry:pull"], reach: "project" },
  oidc: { scopes: ["builds", "registry:pull", "registry:push"], reach: "project" },
};

export function scopesOf(kind: TokenKind): readonly Scope[] {
  return TOKEN_KINDS[kind].scopes;
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
