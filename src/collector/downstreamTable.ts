// The nftables table the component owns for downstream-device traffic accounting, as pure functions:
// the script that creates it and the parser of `nft -j list table`.
// The kernel keeps the counters; we read them once per sample.
//
//   counter d<i>_out / d<i>_in        one pair per device (out = sent BY the device, in = sent TO it)
//   map out4/in4/out6/in6             address → counter name: one rule per direction and family, however
//                                     many devices (a lookup, not a linear rule list)
//   map outmac                        MAC → counter, for devices configured with a MAC and no address
//                                     (outbound only: a destination MAC is not known at these hooks)
//   set dst4/dst6                     dynamic (device address . destination) elements with a counter
//                                     and a timeout: the destinations each device talked to
//   chains on forward, input, output  "as the gateway sees it": traffic routed through it and traffic
//                                     between a device and the gateway itself
import ipaddr from 'ipaddr.js';
import type { DownstreamDevice } from '../config/schema.ts';

export const TABLE_NAME = /^[a-zA-Z0-9_]{1,32}$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** How long a destination stays in the dynamic set without traffic (kernel expires it). */
export const DESTINATION_TIMEOUT_SECONDS = 600;
export const DESTINATION_SET_SIZE = 65_536;

export interface DevicePlan {
  thingName: string;
  counterOut: string;
  counterIn: string;
  v4: string[];
  v6: string[];
  mac?: string;
}

/** Validated devices with their counter names; throws on an invalid address (config checks run first). */
export function planDevices(devices: readonly DownstreamDevice[]): DevicePlan[] {
  return devices.map((d, i) => {
    const plan: DevicePlan = { thingName: d.thingName, counterOut: `d${i}_out`, counterIn: `d${i}_in`, v4: [], v6: [] };
    for (const a of d.addresses ?? []) {
      if (!ipaddr.isValid(a)) throw new Error(`downstream.devices[${i}].addresses: '${a}' is not an IP address`);
      const p = ipaddr.parse(a);
      if (p.kind() === 'ipv4') plan.v4.push(p.toString());
      else plan.v6.push(p.toString());
    }
    if (d.mac != null && (d.addresses ?? []).length === 0) {
      if (!MAC.test(d.mac)) throw new Error(`downstream.devices[${i}].mac: '${d.mac}' is not a MAC address`);
      plan.mac = d.mac.toLowerCase();
    }
    return plan;
  });
}

function mapDecl(name: string, keyType: string, entries: Array<[string, string]>): string {
  const elements = entries.length > 0 ? ` elements = { ${entries.map(([k, v]) => `${k} : "${v}"`).join(', ')} };` : '';
  return `  map ${name} { type ${keyType} : counter;${elements} }`;
}

function setDecl(name: string, keyType: string, entries: string[]): string {
  const elements = entries.length > 0 ? ` elements = { ${entries.join(', ')} };` : '';
  return `  set ${name} { type ${keyType};${elements} }`;
}

/**
 * The nft script (for `nft -f -`) that atomically (re)creates the table: declaring then deleting the
 * table first makes the batch work whether or not it exists, and the whole file is one transaction.
 * Every name and address in it was validated above; nothing else reaches the script.
 */
export function buildDownstreamScript(table: string, plans: readonly DevicePlan[]): string {
  if (!TABLE_NAME.test(table)) throw new Error(`table name '${table}' must match ${TABLE_NAME.source}`);
  const out4: Array<[string, string]> = [];
  const in4: Array<[string, string]> = [];
  const out6: Array<[string, string]> = [];
  const in6: Array<[string, string]> = [];
  const outMac: Array<[string, string]> = [];
  const counters: string[] = [];
  for (const p of plans) {
    counters.push(`  counter ${p.counterOut} {}`, `  counter ${p.counterIn} {}`);
    for (const a of p.v4) {
      out4.push([a, p.counterOut]);
      in4.push([a, p.counterIn]);
    }
    for (const a of p.v6) {
      out6.push([a, p.counterOut]);
      in6.push([a, p.counterIn]);
    }
    if (p.mac) outMac.push([p.mac, p.counterOut]);
  }
  const rules = (hook: 'forward' | 'input' | 'output') => [
    `    counter name ip saddr map @out4`,
    `    counter name ip daddr map @in4`,
    `    counter name ip6 saddr map @out6`,
    `    counter name ip6 daddr map @in6`,
    // link-layer source exists only on received packets
    ...(hook !== 'output' && outMac.length > 0 ? [`    counter name ether saddr map @outmac`] : []),
    `    ip saddr @dev4 update @dst4 { ip saddr . ip daddr }`,
    `    ip6 saddr @dev6 update @dst6 { ip6 saddr . ip6 daddr }`,
  ];
  const dyn = `flags dynamic,timeout; timeout ${DESTINATION_TIMEOUT_SECONDS}s; size ${DESTINATION_SET_SIZE}; counter;`;
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    ...counters,
    mapDecl('out4', 'ipv4_addr', out4),
    mapDecl('in4', 'ipv4_addr', in4),
    mapDecl('out6', 'ipv6_addr', out6),
    mapDecl('in6', 'ipv6_addr', in6),
    ...(outMac.length > 0 ? [mapDecl('outmac', 'ether_addr', outMac)] : []),
    setDecl(
      'dev4',
      'ipv4_addr',
      out4.map(([a]) => a),
    ),
    setDecl(
      'dev6',
      'ipv6_addr',
      out6.map(([a]) => a),
    ),
    `  set dst4 { type ipv4_addr . ipv4_addr; ${dyn} }`,
    `  set dst6 { type ipv6_addr . ipv6_addr; ${dyn} }`,
    // priority -300: before any filtering table (filter is 0, conntrack -200), so dropped packets count too
    ...(['forward', 'input', 'output'] as const).flatMap((hook) => [
      `  chain count_${hook} {`,
      `    type filter hook ${hook} priority -300; policy accept;`,
      ...rules(hook),
      `  }`,
    ]),
    `}`,
    '',
  ].join('\n');
}

export interface CounterValue {
  packets: number;
  bytes: number;
}

export interface DownstreamReading {
  /** named counters by name */
  counters: Map<string, CounterValue>;
  /** "deviceAddress destination" → counter of the dynamic set element */
  destinations: Map<string, CounterValue>;
}

function counterOf(v: unknown): CounterValue | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const { packets, bytes } = v as { packets?: unknown; bytes?: unknown };
  return typeof packets === 'number' && typeof bytes === 'number' ? { packets, bytes } : undefined;
}

/** Parse `nft -j list table inet NAME`; ignores objects it does not use, throws on non-JSON. */
export function parseDownstreamJson(json: string): DownstreamReading {
  const doc = JSON.parse(json) as { nftables?: unknown };
  if (!Array.isArray(doc.nftables)) throw new Error('nft -j: no nftables array');
  const counters = new Map<string, CounterValue>();
  const destinations = new Map<string, CounterValue>();
  for (const item of doc.nftables as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const o = item as { counter?: { name?: unknown }; set?: { name?: unknown; elem?: unknown } };
    if (o.counter && typeof o.counter.name === 'string') {
      const c = counterOf(o.counter);
      if (c) counters.set(o.counter.name, c);
    } else if (o.set && (o.set.name === 'dst4' || o.set.name === 'dst6') && Array.isArray(o.set.elem)) {
      for (const e of o.set.elem as unknown[]) {
        const inner = (e as { elem?: { val?: { concat?: unknown }; counter?: unknown } } | null)?.elem;
        const concat = inner?.val?.concat;
        if (!Array.isArray(concat) || concat.length !== 2 || typeof concat[0] !== 'string' || typeof concat[1] !== 'string') continue;
        destinations.set(`${concat[0]} ${concat[1]}`, counterOf(inner?.counter) ?? { packets: 0, bytes: 0 });
      }
    }
  }
  return { counters, destinations };
}
