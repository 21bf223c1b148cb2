/**
 * The client network as rate limits count it (pure): every spelling of one IPv4 address
 * or one IPv6 /64 is one key, and junk is one shared key, never a key of its own.
 */
import { describe, expect, it } from "vitest";
import { clientNetwork, UNKNOWN_NETWORK } from "../../src/access/client-network";

describe("clientNetwork", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    [" 203.0.113.7 ", "203.0.113.7"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
  ])("keeps IPv4 address %j as %j", (header, network) => {
    expect(clientNetwork(header)).toBe(network);
  });

  it.each([
    "::ffff:203.0.113.7",
    "::FFFF:203.0.113.7",
    "::ffff:cb00:7107",
    "0:0:0:0:0:ffff:cb00:7107",
    "0000:0000:0000:0000:0000:ffff:203.0.113.7",
    "[::ffff:203.0.113.7]",
  ])("reads IPv4-mapped IPv6 %j as the IPv4 address it is", (header) => {
    expect(clientNetwork(header)).toBe("203.0.113.7");
  });

  it("puts every address of one /64, in every spelling, in one network", () => {
    const spellings = [
      "2001:db8:1:2::1",
      "2001:db8:1:2:ffff:ffff:ffff:ffff",
      "2001:0db8:0001:0002:0000:0000:0000:0001",
      "2001:DB8:1:2:0:0:0:1",
      "2001:db8:1:2:a:b:c:d",
      "2001:db8:1:2::203.0.113.7",
      "[2001:db8:1:2::1]",
      "2001:db8:1:2::1%eth0",
    ];
    expect(new Set(spellings.map((s) => clientNetwork(s)))).toEqual(new Set(["2001:db8:1:2::/64"]));
  });

  it.each([
    ["2001:db8:1:3::1", "2001:db8:1:3::/64"],
    ["2001:db8::1", "2001:db8::/64"],
    ["2001:0:0:1::1", "2001:0:0:1::/64"],
    ["::1", "::/64"],
    ["::", "::/64"],
    ["1:2:3:4:5:6:7::", "1:2:3:4::/64"],
    ["fe80::1%eth0", "fe80::/64"],
  ])("spells the /64 of %j as %j", (header, network) => {
    expect(clientNetwork(header)).toBe(network);
  });

  it.each([
    undefined,
    "",
    " ",
    "unknown",
    "local",
    "203.0.113",
    "203.0.113.7.1",
    "203.0.113.256",
    "203.0.113.07",
    "203.0.113.7:443",
    "203.0.113.7, 198.51.100.1",
    "0x7f.0.0.1",
    "2001:db8::1::2",
    "2001:db8:1:2:3:4:5:6:7",
    "2001:db8:1:2:3:4:5",
    "12345::1",
    "2001:db8::g",
    ":2001:db8::1",
    "2001:db8::1:",
    "1.2.3.4::",
    "::ffff:203.0.113.256",
    "2001:db8::1%",
    "2001:db8::1%eth 0",
    "[2001:db8::1",
    "a".repeat(200),
    "2001:db8::1".padEnd(150, "0"),
  ])("counts junk %j as the one unknown network", (header) => {
    expect(clientNetwork(header)).toBe(UNKNOWN_NETWORK);
  });

  it("takes the /64 from cf-connecting-ipv6 when Pseudo IPv4 replaced the address with a Class E one", () => {
    expect(clientNetwork("240.16.3.9", "2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(clientNetwork("255.1.2.3", "2001:db8:1:2:ffff::9")).toBe("2001:db8:1:2::/64");
    // A Class E address without a usable IPv6 header counts as itself.
    expect(clientNetwork("240.16.3.9")).toBe("240.16.3.9");
    expect(clientNetwork("240.16.3.9", "junk")).toBe("240.16.3.9");
  });

  it("ignores cf-connecting-ipv6 next to a real client address, so it cannot be used to pick a budget", () => {
    expect(clientNetwork("203.0.113.7", "2001:db8:1:2::1")).toBe("203.0.113.7");
    expect(clientNetwork("2001:db8:1:2::1", "2001:db8:9:9::1")).toBe("2001:db8:1:2::/64");
  });
});
