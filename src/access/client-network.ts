/**
 * The client network a request came from, as rate limits count it: one IPv4 address, or
 * one IPv6 /64. A /64 is what one host or one customer line is given (RFC 6177, RFC 7421's
 * SLAAC boundary): keyed by full IPv6 address, one machine would hold 2^64 budgets. And,
 * coarser, as the audit log keeps it (`auditNetwork`).
 *
 * Pure: takes the header values Cloudflare sets, returns a canonical spelling, so every
 * spelling of one network (compressed or not, upper or lower case, zone ID, IPv4-mapped)
 * is one key. Anything unparseable, and a missing header (outside Cloudflare: tests,
 * `wrangler dev`), is the one network `unknown`: junk cannot mint budgets. It does not
 * decide whether a header can be trusted; on Cloudflare, `cf-connecting-ip` is set by the
 * edge and a client cannot supply it.
 *
 * It lives in access/ because it names the party a caller without a credential counts as
 * (beside `credentialIdentity` for one with): every door that limits the unauthenticated,
 * the admin API and the settings page's sign-in alike, keys their budget here.
 */

/** Longer than any spelling of an address with a reasonable zone ID. */
const MAX_ADDRESS_LENGTH = 100;

export const UNKNOWN_NETWORK = "unknown";

/**
 * `cf-connecting-ip`, and `cf-connecting-ipv6`, which Cloudflare adds when its Pseudo IPv4
 * setting replaces an IPv6 client's address with a Class E one (240.0.0.0/4, never a real
 * client) derived from the full IPv6 address: then the /64 comes from the IPv6 header.
 * A Class E address with no usable IPv6 header counts as itself.
 */
export function clientNetwork(connectingIp: string | undefined, connectingIpv6?: string): string {
  const address = clientAddress(connectingIp, connectingIpv6);
  if (!address) return UNKNOWN_NETWORK;
  return address.kind === "v4" ? address.octets.join(".") : ipv6Prefix(address.groups, 64);
}

/**
 * The client network as the audit log keeps it, coarser than a rate-limit key: an IPv4 /24
 * or an IPv6 /48 (a site's allocation, RFC 6177), so a record kept for months locates a
 * network, never a host or a customer line.
 */
export function auditNetwork(connectingIp: string | undefined, connectingIpv6?: string): string {
  const address = clientAddress(connectingIp, connectingIpv6);
  if (!address) return UNKNOWN_NETWORK;
  return address.kind === "v4" ? `${address.octets.slice(0, 3).join(".")}.0/24` : ipv6Prefix(address.groups, 48);
}

function clientAddress(connectingIp: string | undefined, connectingIpv6: string | undefined): Address | null {
  const address = parseAddress(connectingIp);
  if (address?.kind === "v4" && address.octets[0]! >= 240) {
    const real = parseAddress(connectingIpv6);
    if (real?.kind === "v6") return real;
  }
  return address;
}

type Address = { kind: "v4"; octets: number[] } | { kind: "v6"; groups: number[] };

function parseAddress(raw: string | undefined): Address | null {
  if (raw === undefined) return null;
  let text = raw.trim();
  if (text.length === 0 || text.length > MAX_ADDRESS_LENGTH) return null;
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const octets = parseIpv4(text);
  if (octets) return { kind: "v4", octets };
  const groups = parseIpv6(text);
  if (!groups) return null;
  // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is an IPv4 client seen through a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return { kind: "v4", octets: [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff] };
  }
  return { kind: "v6", groups };
}

/** Dotted decimal, four octets, no leading zeros (which some parsers read as octal). */
function parseIpv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const octets: number[] = [];
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    octets.push(value);
  }
  return octets;
}

/** RFC 4291 §2.2 text forms: `::` once at most, an embedded IPv4 tail, and an RFC 4007 zone ID. */
function parseIpv6(text: string): number[] | null {
  const zone = text.indexOf("%");
  if (zone !== -1) {
    if (!/^[0-9A-Za-z._~-]{1,32}$/.test(text.slice(zone + 1))) return null;
    text = text.slice(0, zone);
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1]!, true) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  if (head.length + tail.length > 7) return null;
  return [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** Colon-separated hex groups; the last may be dotted IPv4 when `mayEndWithIpv4` (it ends the address). */
function parseGroups(text: string, mayEndWithIpv4: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (i === parts.length - 1 && mayEndWithIpv4 && part.includes(".")) {
      const octets = parseIpv4(part);
      if (!octets) return null;
      groups.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!);
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return null;
    }
  }
  return groups;
}

/** RFC 5952 spelling of the /64 or /48 holding the address: `2001:db8:0:1::/64`, `2001:db8::/48`. */
function ipv6Prefix(groups: number[], bits: 48 | 64): string {
  const prefix = groups.slice(0, bits / 16);
  while (prefix.length > 0 && prefix[prefix.length - 1] === 0) prefix.pop();
  return `${prefix.map((g) => g.toString(16)).join(":")}::/${bits}`;
}
