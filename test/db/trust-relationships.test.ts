/** D1 verbs of trust relationships, at the boundary: what one statement wrote or removed. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deleteTrustRelationship, findTrustRelationship } from "../../src/db/trust-relationships";
import { createProject, createRelationship } from "../support/api";

describe("deleteTrustRelationship", () => {
  it("returns the row it removed, with its project's organization, and null once it is gone", async () => {
    const { orgId, projectId } = await createProject();
    const { id } = await createRelationship(projectId, { provider: "rwx", subject: "mint:db:vault", conditions: { sub: "mint:*" } });
    const stored = await findTrustRelationship(env.DB, projectId, String(id));
    expect(stored).toMatchObject({ orgId, projectId });

    expect(await deleteTrustRelationship(env.DB, projectId, String(id))).toEqual(stored);
    expect(await findTrustRelationship(env.DB, projectId, String(id))).toBeNull();
    expect(await deleteTrustRelationship(env.DB, projectId, String(id))).toBeNull();
  });

  it("removes nothing of another project", async () => {
    const mine = await createProject();
    const theirs = await createProject();
    const { id } = await createRelationship(theirs.projectId, { provider: "rwx", subject: "mint:other:vault" });
    expect(await deleteTrustRelationship(env.DB, mine.projectId, String(id))).toBeNull();
    expect(await findTrustRelationship(env.DB, theirs.projectId, String(id))).not.toBeNull();
  });
});
