/**
 * `conditions`: claim name -> anchored pattern, where `*` matches any run of characters
 * except `/`. No regex, so a pattern can neither be slow nor surprising.
 * Pure: no I/O, no clock.
 */

export const MAX_CONDITIONS = 16;
export const MAX_PATTERN_LENGTH = 256;

/** Does `value` match the anchored glob `pattern`? Linear per `/`-separated segment. */
export function matchesPattern(pattern: string, value: string): boolean {
  const patternSegments = pattern.split("/");
  const valueSegments = value.split("/");
  if (patternSegments.length !== valueSegments.length) return false;
  return patternSegments.every((segment, i) => matchesSegment(segment, valueSegments[i]!));
}

/** Classic wildcard match with backtracking to the last star (O(n·m) worst case). */
function matchesSegment(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === value[v] && pattern[p] !== "*") {
      p++;
      v++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      resume = v;
    } else if (star >= 0) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

/**
 * A claim's value as the strings a pattern is compared with: strings as they are,
 * numbers and booleans spelled as JSON, arrays element by element. Anything else
 * (absent, null, objects) matches nothing.
 */
export function claimStrings(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (typeof value === "number" || typeof value === "boolean") return [String(value)];
  if (Array.isArray(value)) return value.flatMap((v) => (Array.isArray(v) ? [] : claimStrings(v)));
  return [];
}

/** Does the claim named `claim` hold under `pattern`? An absent claim holds under nothing. */
export function conditionHolds(pattern: string, claim: string, claims: Record<string, unknown>): boolean {
  const values = Object.hasOwn(claims, claim) ? claimStrings(claims[claim]) : [];
  return values.some((value) => matchesPattern(pattern, value));
}

/** The first condition (in the relationship's order) that the claims fail, or undefined when all hold. */
export function failedCondition(conditions: Record<string, string>, claims: Record<string, unknown>): string | undefined {
  for (const [claim, pattern] of Object.entries(conditions)) {
    if (!conditionHolds(pattern, claim, claims)) return claim;
  }
  return undefined;
}

export function conditionsHold(conditions: Record<string, string>, claims: Record<string, unknown>): boolean {
  return failedCondition(conditions, claims) === undefined;
}

/** Is `claim` one the provider issues? Entries ending in `*` are prefixes (`repo_property_*`). */
export function isKnownClaim(claim: string, known: readonly string[]): boolean {
  return known.some((k) => (k.endsWith("*") ? claim.startsWith(k.slice(0, -1)) && claim.length > k.length - 1 : claim === k));
}
