import { describe, expect, it } from "vitest";
import { ipv6Hextets, rateLimitAddress } from "../../src/lib/address";

describe("rateLimitAddress", () => {
  it("counts IPv4 addresses one by one", () => {
    expect(rateLimitAddress("192.0.2.1")).toBe("192.0.2.1");
    expect(rateLimitAddress(" 192.0.2.1 ")).toBe("192.0.2.1");
    expect(rateLimitAddress(undefined)).toBe("unknown");
    expect(rateLimitAddress("")).toBe("unknown");
  });

  it("counts IPv6 addresses per /64, however they are spelled", () => {
    const key = "2001:db8:1:2::/64";
    for (const ip of ["2001:db8:1:2::1", "2001:0db8:0001:0002:ffff:ffff:ffff:ffff", "2001:DB8:1:2:a:b:c:d", "[2001:db8:1:2::9]", "2001:db8:1:2::1%eth0", "2001:db8:1:2:0:0:1.2.3.4"]) {
      expect(rateLimitAddress(ip), ip).toBe(key);
    }
    expect(rateLimitAddress("2001:db8:1:3::1")).toBe("2001:db8:1:3::/64");
    expect(rateLimitAddress("::1")).toBe("0:0:0:0::/64");
    expect(rateLimitAddress("::ffff:192.0.2.7")).toBe("192.0.2.7");
  });

  it("keeps unparseable text as its own (bounded) key", () => {
    expect(rateLimitAddress("not:an:ip")).toBe("not:an:ip");
    expect(rateLimitAddress(`1:${"x".repeat(200)}`).length).toBeLessThanOrEqual(64);
  });

  it("parses IPv6 strictly", () => {
    expect(ipv6Hextets("1::")).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(ipv6Hextets("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const bad of ["1:2:3:4:5:6:7", "1::2::3", "1:2:3:4:5:6:7:8::", "12345::", "::1.2.3.256", "g::1"]) expect(ipv6Hextets(bad), bad).toBeNull();
  });
});
