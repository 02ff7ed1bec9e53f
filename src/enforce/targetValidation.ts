// Validation of everything that ends up in an argument to nft/ip or in a kill(2): pids, interface names,
// IP addresses, CIDRs (namespace names: src/system/netnsName.ts). Bad values throw TargetValidationError
// naming the field.
import ipaddr from 'ipaddr.js';

export class TargetValidationError extends Error {
  override name = 'TargetValidationError';
}

/** Linux PID_MAX_LIMIT (2^22). */
const PID_MAX = 4_194_304;

/** A refused value, short and safe to print (a hostile one can be huge or nested too deep to stringify). */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

export function validatePid(pid: unknown, field = 'pid'): number {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1 || pid > PID_MAX) {
    throw new TargetValidationError(`${field}: must be an integer in 1..${PID_MAX}, got ${shown(pid)}`);
  }
  return pid;
}

// IFNAMSIZ is 16 incl. NUL; `/`, whitespace and `:` are not allowed by the kernel (dev_valid_name), we
// keep to the conservative set the config schema uses for downstream interfaces.
// Never a leading `-`: after `dev`/`netns exec` a tool could still read it as an option.
const IFNAME = /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]{0,14}$/;

export function validateInterfaceName(name: unknown, field = 'interface'): string {
  if (typeof name !== 'string' || !IFNAME.test(name) || name === '.' || name === '..') {
    throw new TargetValidationError(
      `${field}: must be an interface name of 1-15 characters [a-zA-Z0-9_.-], not starting with '-', got ${shown(name)}`,
    );
  }
  return name;
}

export interface ParsedAddress {
  family: 4 | 6;
  /** canonical text form (dotted quad / RFC 5952): the form nft prints and our state stores */
  text: string;
  ip: ipaddr.IPv4 | ipaddr.IPv6;
}

/**
 * One host address. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes IPv4, because that is how the packet
 * appears to the `ip` family rules. Zone ids are refused (nft sets hold no scope).
 */
export function parseAddress(text: unknown, field = 'address'): ParsedAddress {
  if (typeof text !== 'string' || text.length < 2 || text.length > 45) {
    throw new TargetValidationError(`${field}: must be an IPv4 or IPv6 address, got ${shown(text)}`);
  }
  if (text.includes('.') && !text.includes(':')) {
    // ipaddr.js also accepts `1.2.3` or octal forms; only the four-part decimal form is unambiguous.
    if (!ipaddr.IPv4.isValidFourPartDecimal(text))
      throw new TargetValidationError(`${field}: must be a dotted-quad IPv4 address, got ${shown(text)}`);
    const ip = ipaddr.IPv4.parse(text);
    return { family: 4, text: ip.toString(), ip };
  }
  if (!ipaddr.IPv6.isValid(text) || text.includes('%')) {
    throw new TargetValidationError(`${field}: must be an IPv4 or IPv6 address without zone, got ${shown(text)}`);
  }
  const ip6 = ipaddr.IPv6.parse(text);
  if (ip6.isIPv4MappedAddress()) {
    const ip = ip6.toIPv4Address();
    return { family: 4, text: ip.toString(), ip };
  }
  return { family: 6, text: ip6.toRFC5952String(), ip: ip6 };
}

export type ParsedCidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** `a.b.c.d/n` or `x::/n`; a bare address means the single host. */
export function parseCidr(text: unknown, field = 'cidr'): ParsedCidr {
  if (typeof text !== 'string') throw new TargetValidationError(`${field}: must be a CIDR string, got ${shown(text)}`);
  if (!text.includes('/')) {
    const a = parseAddress(text, field);
    return [a.ip, a.family === 4 ? 32 : 128];
  }
  const [addr = '', bits = ''] = text.split('/', 2);
  if (!/^\d{1,3}$/.test(bits)) throw new TargetValidationError(`${field}: prefix length must be a number, got ${shown(text)}`);
  const a = parseAddress(addr, field);
  const n = Number(bits);
  const max = a.family === 4 ? 32 : 128;
  if (n > max) throw new TargetValidationError(`${field}: prefix length must be at most ${max}, got ${shown(text)}`);
  return [a.ip, n];
}

/** Does `addr` fall inside `cidr`? Families must match (mapped IPv6 was already folded to IPv4). */
export function cidrContains(cidr: ParsedCidr, addr: ParsedAddress): boolean {
  return cidr[0].kind() === addr.ip.kind() && addr.ip.match(cidr);
}
