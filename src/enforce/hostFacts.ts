// Facts the address and interface rails need, read with `ip -j` in the namespace the backends act in:
// the gateway's own addresses and the interfaces that carry a default route.
import type { CommandRunner } from '../system/commandRunner.ts';
import { type ParsedAddress, parseAddress } from './targetValidation.ts';

function parseJsonArray(text: string, what: string): unknown[] {
  const v: unknown = JSON.parse(text === '' ? '[]' : text);
  if (!Array.isArray(v)) throw new Error(`${what}: expected a JSON array from ip -j`);
  return v;
}

/** Pure: `ip -j addr show` output → every local address (IPv4 and IPv6, scope included). */
export function parseIpAddrJson(text: string): ParsedAddress[] {
  const out: ParsedAddress[] = [];
  for (const link of parseJsonArray(text, 'ip addr')) {
    const infos = (link as { addr_info?: unknown }).addr_info;
    if (!Array.isArray(infos)) continue;
    for (const info of infos) {
      const local = (info as { local?: unknown }).local;
      try {
        out.push(parseAddress(local));
      } catch {
        /* ip prints only valid addresses; ignore anything odd rather than fail the rail */
      }
    }
  }
  return out;
}

/** Pure: `ip -j route show default` output → the interfaces named by default routes. */
export function parseDefaultRouteJson(text: string): string[] {
  const out: string[] = [];
  for (const route of parseJsonArray(text, 'ip route')) {
    const r = route as { dev?: unknown; nexthops?: unknown };
    if (typeof r.dev === 'string') out.push(r.dev);
    // multipath default routes list their devices per nexthop
    if (Array.isArray(r.nexthops))
      for (const nh of r.nexthops) if (typeof (nh as { dev?: unknown }).dev === 'string') out.push((nh as { dev: string }).dev);
  }
  return out;
}

export interface HostFacts {
  localAddresses(): Promise<ParsedAddress[]>;
  defaultRouteInterfaces(): Promise<Set<string>>;
  interfaceExists(ifname: string): Promise<boolean>;
}

export function createHostFacts(runner: CommandRunner): HostFacts {
  return {
    async localAddresses() {
      return parseIpAddrJson(await runner.run('ip', ['-j', 'addr', 'show']));
    },
    async defaultRouteInterfaces() {
      const [v4, v6] = await Promise.all([
        runner.run('ip', ['-j', '-4', 'route', 'show', 'default']),
        runner.run('ip', ['-j', '-6', 'route', 'show', 'default']),
      ]);
      return new Set([...parseDefaultRouteJson(v4), ...parseDefaultRouteJson(v6)]);
    },
    async interfaceExists(ifname) {
      try {
        await runner.run('ip', ['-j', 'link', 'show', 'dev', ifname]);
        return true;
      } catch {
        return false;
      }
    },
  };
}
