// Network namespaces for integration tests: named `dedge` + a per-run suffix (other engineers run tests
// concurrently on this machine), created and deleted by the test that uses them. ip via execFile only.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** `dedge` + 6 hex chars: short enough for interface names (15 chars) with a 2–4 char role suffix. */
export function uniquePrefix(): string {
  return `dedge${randomBytes(3).toString('hex')}`;
}

export function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function inNs(ns: string, program: string, args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, program, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function createNetns(name: string): void {
  if (!name.startsWith('dedge')) throw new Error('test namespaces must start with dedge');
  ip(['netns', 'add', name]);
  inNs(name, 'ip', ['link', 'set', 'lo', 'up']);
}

/** Delete namespaces (their veths go with them); never throws, so it is safe in afterAll. */
export function deleteNetns(...names: string[]): void {
  for (const n of names) {
    if (!n.startsWith('dedge')) continue;
    try {
      ip(['netns', 'del', n]);
    } catch {
      // already gone
    }
  }
}

/** A veth pair with one end in each namespace, up, with the given addresses (nodad: usable at once). */
export function vethBetween(a: { ns: string; dev: string; addrs: string[] }, b: { ns: string; dev: string; addrs: string[] }): void {
  ip(['link', 'add', a.dev, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.dev, 'netns', b.ns]);
  for (const side of [a, b]) {
    for (const addr of side.addrs) inNs(side.ns, 'ip', ['addr', 'add', addr, 'dev', side.dev, ...(addr.includes(':') ? ['nodad'] : [])]);
    inNs(side.ns, 'ip', ['link', 'set', side.dev, 'up']);
  }
}
