// The address → interface map, built ONCE per sample (the Python agent SDK's collector looks interfaces up
// once per connection, AWSIoTDeviceDefenderAgentSDK/collector.py). Pure builders over either
// os.networkInterfaces() output (host namespace) or `ip -j addr` JSON (a namespace given by name).
import type { NetworkInterfaceInfo } from 'node:os';
import ipaddr from 'ipaddr.js';

export interface InterfaceMap {
  /** address text (canonical form) → interface name */
  byAddress: Map<string, string>;
  /** every interface name seen, with or without addresses */
  names: Set<string>;
}

/** Canonical text so that lookups match /proc's formatting: RFC 5952 for IPv6, no zone id. */
export function canonicalAddress(text: string): string | undefined {
  const bare = text.split('%')[0]!;
  if (!ipaddr.isValid(bare)) return undefined;
  const a = ipaddr.parse(bare);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) return (a as ipaddr.IPv6).toIPv4Address().toString();
  return a.toString();
}

export function interfaceMapFromOs(ifaces: NodeJS.Dict<NetworkInterfaceInfo[]>): InterfaceMap {
  const byAddress = new Map<string, string>();
  const names = new Set<string>();
  for (const [name, addrs] of Object.entries(ifaces)) {
    names.add(name);
    for (const a of addrs ?? []) {
      const c = canonicalAddress(a.address);
      if (c !== undefined && !byAddress.has(c)) byAddress.set(c, name);
    }
  }
  return { byAddress, names };
}

/** `ip -j addr show` output: [{ifname, addr_info: [{local}]}]. Malformed entries are skipped. */
export function interfaceMapFromIpJson(json: string): InterfaceMap {
  const byAddress = new Map<string, string>();
  const names = new Set<string>();
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) throw new Error('ip -j addr: expected a JSON array');
  for (const link of parsed) {
    if (typeof link !== 'object' || link === null) continue;
    const { ifname, addr_info } = link as { ifname?: unknown; addr_info?: unknown };
    if (typeof ifname !== 'string') continue;
    names.add(ifname);
    if (!Array.isArray(addr_info)) continue;
    for (const ai of addr_info) {
      const local = (ai as { local?: unknown } | null)?.local;
      if (typeof local !== 'string') continue;
      const c = canonicalAddress(local);
      if (c !== undefined && !byAddress.has(c)) byAddress.set(c, ifname);
    }
  }
  return { byAddress, names };
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/**
 * Interface of a local address: undefined for wildcard binds (the contract in sample.ts), 'lo' for any
 * 127/8 address (only 127.0.0.1 is usually configured, but the whole block is loopback).
 */
export function interfaceOf(map: InterfaceMap, address: string): string | undefined {
  if (WILDCARDS.has(address)) return undefined;
  const hit = map.byAddress.get(address);
  if (hit !== undefined) return hit;
  if (address.startsWith('127.')) return map.names.has('lo') ? 'lo' : undefined;
  return undefined;
}
