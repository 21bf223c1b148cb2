/** The CI providers edge-sts accepts. Adding one means a file beside this and an entry here. */
import type { ProviderName } from "../config";
import { buildkite } from "./buildkite";
import { circleci } from "./circleci";
import { github } from "./github";
import type { Provider } from "./provider";
import { rwx } from "./rwx";

export const PROVIDERS: Record<ProviderName, Provider> = {
  github: github as unknown as Provider,
  circleci: circleci as unknown as Provider,
  buildkite: buildkite as unknown as Provider,
  rwx: rwx as unknown as Provider,
};

export const PROVIDER_NAMES = Object.keys(PROVIDERS) as ProviderName[];

/** Finds the provider whose configured issuer `iss` names exactly, with the tenant it names. */
export function providerForIssuer(
  iss: string,
  issuers: Record<ProviderName, string>,
): { provider: Provider; tenant: string } | null {
  for (const name of PROVIDER_NAMES) {
    const tenant = PROVIDERS[name].matchIssuer(iss, issuers[name]);
    if (tenant !== null) return { provider: PROVIDERS[name], tenant };
  }
  return null;
}
