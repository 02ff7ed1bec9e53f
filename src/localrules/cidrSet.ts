// Membership of IP addresses in a set of CIDRs, for in-cidr-set / not-in-cidr-set
// (docs/localrules.md#operators-on-lists-in-set--not-in-set). IPv4 is matched on 32-bit integers (the hot path:
// every destination address of every sample); IPv6 through ipaddr.js. IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d, as `ss` prints dual-stack sockets) are matched as the IPv4 address they carry.
import ipaddr from 'ipaddr.js';

interface V4Range {
  net: number;
  mask: number;
}

export class CidrSet {
  private readonly v4: V4Range[] = [];
  private readonly v6: [ipaddr.IPv6, number][] = [];

  /** `cidrs` must already be valid (metricValue.ts cidrProblem); a bare address means /32 or /128. */
  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const [addr, bits] = c.includes('/') ? ipaddr.parseCIDR(c) : ((a) => [a, a.kind() === 'ipv4' ? 32 : 128] as const)(ipaddr.parse(c));
      if (addr.kind() === 'ipv4') this.addV4(addr as ipaddr.IPv4, bits);
      else {
        const v6 = addr as ipaddr.IPv6;
        // ::ffff:0:0/96 and longer prefixes inside it describe IPv4 space.
        if (v6.isIPv4MappedAddress() && bits >= 96) this.addV4(v6.toIPv4Address(), bits - 96);
        else this.v6.push([v6, bits]);
      }
    }
  }

  private addV4(addr: ipaddr.IPv4, bits: number): void {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    this.v4.push({ net: (v4ToInt(addr.octets) & mask) >>> 0, mask });
  }

  /** True if `address` lies in some CIDR of the set; false for anything that is not an address. */
  has(address: string): boolean {
    const n = parseDottedQuad(address);
    if (n !== undefined) return this.hasV4(n);
    let parsed: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      parsed = ipaddr.parse(address);
    } catch {
      return false;
    }
    if (parsed.kind() === 'ipv4') return this.hasV4(v4ToInt((parsed as ipaddr.IPv4).octets));
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return this.hasV4(v4ToInt(v6.toIPv4Address().octets));
    for (const range of this.v6) if (v6.match(range)) return true;
    return false;
  }

  private hasV4(n: number): boolean {
    for (const r of this.v4) if ((n & r.mask) >>> 0 === r.net) return true;
    return false;
  }
}

function v4ToInt(o: readonly number[]): number {
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

/** Strict a.b.c.d parse without allocation; undefined for anything else (ipaddr.js handles the rest). */
export function parseDottedQuad(s: string): number | undefined {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return undefined;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits === 3) return undefined;
      part = part * 10 + (c - 48);
      if (part > 255) return undefined;
      digits++;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return n * 256 + part;
}
