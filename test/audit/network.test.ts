/**
 * The client network the audit log keeps (pure): an IPv4 /24 or an IPv6 /48, whatever the
 * spelling, never the address; Cloudflare's pseudo-IPv4 resolved to the real IPv6 client;
 * junk and a missing header are `unknown`.
 */
import { describe, expect, it } from "vitest";
import { auditNetwork } from "../../src/access/client-network";

describe("auditNetwork", () => {
  it.each([
    ["203.0.113.77", "203.0.113.0/24"],
    ["203.0.113.0", "203.0.113.0/24"],
    ["::ffff:203.0.113.77", "203.0.113.0/24"],
    ["2001:db8:abcd:12::7", "2001:db8:abcd::/48"],
    ["2001:0DB8:ABCD:0012:0000:0000:0000:0007", "2001:db8:abcd::/48"],
    ["[2001:db8:abcd:ffff:1:2:3:4]", "2001:db8:abcd::/48"],
    ["2001:db8::1", "2001:db8::/48"],
    ["::1", "::/48"],
    [undefined, "unknown"],
    ["", "unknown"],
    ["203.0.113", "unknown"],
    ["not an address", "unknown"],
  ])("keeps %j as %j", (header, network) => {
    expect(auditNetwork(header)).toBe(network);
  });

  it("reads Cloudflare's pseudo-IPv4 as the IPv6 client's /48", () => {
    expect(auditNetwork("240.16.0.1", "2001:db8:77:1::9")).toBe("2001:db8:77::/48");
    expect(auditNetwork("240.16.0.1")).toBe("240.16.0.0/24");
  });
});
