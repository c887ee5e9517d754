/**
 * @module lib/address — the client address as rate limits count it (SPEC §11).
 *
 * IPv4 addresses count one by one. An IPv6 client usually holds a whole /64 (one customer's
 * network, SLAAC privacy addresses rotating inside it), so counting single IPv6 addresses would
 * give one attacker 2^64 fresh counters: they are counted per /64 prefix. IPv4-mapped IPv6
 * (`::ffff:192.0.2.1`) counts as the IPv4 address it carries.
 */

/** `2001:db8:1:2::/64` for any address in that /64; the IPv4 address as is; `unknown` if absent. */
export function rateLimitAddress(raw: string | null | undefined): string {
  const ip = (raw ?? "").trim();
  if (ip === "") return "unknown";
  if (!ip.includes(":")) return ip;
  const h = ipv6Hextets(ip);
  if (!h) return ip.toLowerCase().slice(0, 64);
  if (h.slice(0, 5).every((x) => x === 0) && h[5] === 0xffff) {
    return `${h[6]! >> 8}.${h[6]! & 0xff}.${h[7]! >> 8}.${h[7]! & 0xff}`;
  }
  return `${h.slice(0, 4).map((x) => x.toString(16)).join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (`::` and a trailing dotted IPv4 expanded), or null. */
export function ipv6Hextets(text: string): number[] | null {
  let s = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) return null;
    s = `${s.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === "") return [];
    const groups = part.split(":");
    if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
    return groups.map((g) => parseInt(g, 16));
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}
