// SocketOwners against the real /proc: this process's own sockets are the ground truth, and the cache
// must make steady-state samples cheap (the readlink count is the cost driver, see socketOwners.ts).

import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProcNetSockets } from '../../src/collector/procNetSockets.ts';
import { SocketOwners } from '../../src/collector/socketOwners.ts';

const servers: net.Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

async function openListener(): Promise<{ port: number; inode: number }> {
  const s = net.createServer();
  servers.push(s);
  await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  const port = (s.address() as net.AddressInfo).port;
  const e = parseProcNetSockets(readFileSync('/proc/net/tcp', 'latin1'), 'tcp', os.endianness()).entries.find(
    (x) => x.localPort === port && x.state === 0x0a,
  )!;
  return { port, inode: e.inode };
}

describe('SocketOwners', () => {
  it('finds the owner, then answers from cache, and finds a new socket of a known owner cheaply', async () => {
    const owners = new SocketOwners();
    const a = await openListener();
    const first = owners.resolve(new Set([a.inode]), 0);
    expect(first.get(a.inode)).toMatchObject({ pid: process.pid, exe: process.execPath });
    expect(first.get(a.inode)!.startTime).toBeGreaterThan(0);

    owners.resolve(new Set([a.inode]), 1000);
    expect(owners.lastStats).toEqual({ readlinks: 0, fullWalk: false });

    const b = await openListener();
    const third = owners.resolve(new Set([a.inode, b.inode]), 2000);
    expect(third.get(b.inode)?.pid).toBe(process.pid);
    expect(owners.lastStats.fullWalk).toBe(false);
  });

  it('remembers inodes nobody holds and retries them only after orphanRetryMs', () => {
    const owners = new SocketOwners({ orphanRetryMs: 10_000 });
    const ghost = 2 ** 31 + 12345; // no such socket
    expect(owners.resolve(new Set([ghost]), 0).size).toBe(0);
    expect(owners.lastStats.fullWalk).toBe(true);
    owners.resolve(new Set([ghost]), 5000);
    expect(owners.lastStats).toEqual({ readlinks: 0, fullWalk: false });
    owners.resolve(new Set([ghost]), 10_001);
    expect(owners.lastStats.fullWalk).toBe(true);
  });
});
