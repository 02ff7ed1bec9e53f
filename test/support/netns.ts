// Network namespaces for integration tests, created and deleted by the test that uses them: names start
// with `dedge` (uniqueId.ts: a per-run suffix, other engineers run tests concurrently), nothing touches the
// host's interfaces, and traffic stays inside the namespaces. ip via execFile only. Not a test file.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

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

/** Delete namespaces (their veths and nft tables go with them); never throws, so it is safe in afterAll. */
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

/**
 * Two namespaces joined by a veth pair:
 *   <id>g (the "gateway": our nft table lives here) <id>a 10.231.0.1/24 ── <id>b 10.231.0.2/24 <id>d (a "device")
 * with fd00:dede::1/64 and ::2/64 on the same ends.
 */
export interface Topology {
  gw: string;
  dev: string;
  gwIf: string;
  devIf: string;
  gwAddr: string;
  devAddr: string;
  gwAddr6: string;
  devAddr6: string;
}

export function createTopology(id: string): Topology {
  const t: Topology = {
    gw: `${id}g`,
    dev: `${id}d`,
    gwIf: `${id}a`,
    devIf: `${id}b`,
    gwAddr: '10.231.0.1',
    devAddr: '10.231.0.2',
    gwAddr6: 'fd00:dede::1',
    devAddr6: 'fd00:dede::2',
  };
  try {
    createNetns(t.gw);
    createNetns(t.dev);
    vethBetween(
      { ns: t.gw, dev: t.gwIf, addrs: [`${t.gwAddr}/24`, `${t.gwAddr6}/64`] },
      { ns: t.dev, dev: t.devIf, addrs: [`${t.devAddr}/24`, `${t.devAddr6}/64`] },
    );
  } catch (err) {
    destroyTopology(t);
    throw err;
  }
  return t;
}

export function destroyTopology(t: Topology): void {
  deleteNetns(t.gw, t.dev);
}

/** A TCP server inside `ns` that answers every connection with `ok`. */
export async function startTcpServer(ns: string, host: string, port: number): Promise<ChildProcess> {
  const script = `require('net').createServer((s)=>s.end('ok')).listen(${port}, ${JSON.stringify(host)}, ()=>process.stdout.write('ready\\n'))`;
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    proc.once('error', reject);
    proc.stdout!.once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`tcp server in ${ns} exited with ${code}`)));
  });
  return proc;
}

/** Does a TCP connection from `ns` to host:port get an answer within timeoutMs? (a dropped SYN never does) */
export function canConnect(ns: string, host: string, port: number, timeoutMs = 700): Promise<boolean> {
  const script =
    `const s=require('net').connect(${port}, ${JSON.stringify(host)});` +
    `s.setTimeout(${timeoutMs},()=>process.exit(1));s.on('data',()=>process.exit(0));s.on('error',()=>process.exit(1))`;
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: 'ignore' });
    p.once('exit', (code) => resolve(code === 0));
    p.once('error', () => resolve(false));
  });
}

export function nftRuleset(ns: string): string {
  return inNs(ns, 'nft', ['list', 'ruleset']);
}

export function linkIsUp(ns: string, dev: string): boolean {
  const [link] = JSON.parse(inNs(ns, 'ip', ['-j', 'link', 'show', 'dev', dev])) as Array<{ flags: string[] }>;
  return link!.flags.includes('UP');
}
