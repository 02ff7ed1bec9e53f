// SockDiagSource with real processes: the helper restarted after it is killed, and every way it can be
// unavailable — missing binary, a program that exits at once, one that writes garbage (`yes`), one that
// never answers (`cat`), the kernel refusing sock_diag (the arm64 helper under qemu-user) — ending in
// undefined (the caller's /proc + ss fallback), logged once per episode, bounded by a back-off on the
// caller's clock. Also a helper inside a network namespace this test creates.

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilerFor, compilerPackages } from '../../scripts/buildSockDiag.ts';
import { SockDiagSource } from '../../src/collector/sockDiagSource.ts';
import { type Helper, startHelper } from '../support/childProcess.ts';
import { createNetns, deleteNetns } from '../support/netns.ts';
import { program, QEMU_ARM64, requires, root } from '../support/requirements.ts';
import { ensureHelper } from '../support/sockDiagHelper.ts';
import { uniqueId } from '../support/uniqueId.ts';
import { until } from '../support/until.ts';

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
}

function capture() {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines, warnings: () => lines.filter((l) => l.level === 40).map((l) => l.msg) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number): Promise<void> {
  await until(() => !alive(pid), 10_000, `pid ${pid} gone`, 10);
}

describe('SockDiagSource', () => {
  let helperPath = '';
  let scratch = '';
  const server = net.createServer();
  let port = 0;
  const sources: SockDiagSource[] = [];
  const source = (
    o: Omit<ConstructorParameters<typeof SockDiagSource>[0], 'logger'> & { logger?: ReturnType<typeof capture>['logger'] },
  ) => {
    const s = new SockDiagSource({ logger: capture().logger, ...o });
    sources.push(s);
    return s;
  };

  beforeAll(async () => {
    helperPath = await ensureHelper();
    scratch = await mkdtemp(path.join(tmpdir(), 'dedge-sockdiag-'));
    await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    for (const s of sources) await s.stop();
    server.close();
    if (scratch !== '') await rm(scratch, { recursive: true, force: true });
  });

  it('keeps one helper across dumps, and restarts it after it is killed', async () => {
    const log = capture();
    const s = source({ helperPath, logger: log.logger });
    const first = await s.dump(1000);
    expect(first?.sockets.some((x) => x.localPort === port && x.state === 10)).toBe(true);
    const pid = s.pid!;
    expect(pid).toBeGreaterThan(0);
    await s.dump(2000);
    expect(s.pid).toBe(pid);
    expect(s.stats).toMatchObject({ spawns: 1, dumps: 2, failures: 0 });

    process.kill(pid, 'SIGKILL'); // our own child
    await waitGone(pid);
    await new Promise((r) => setImmediate(r)); // let the exit event through
    const again = await s.dump(3000);
    expect(again?.sockets.some((x) => x.localPort === port)).toBe(true);
    expect(s.pid).not.toBe(pid);
    expect(s.stats).toMatchObject({ spawns: 2, dumps: 3, failures: 1 });
    expect(s.stats.lastError).toBe('helper killed by SIGKILL');
    expect(log.warnings()).toEqual(['dedge-sockdiag helper died; restarting it at the next sample']);
    expect(log.lines.some((l) => l.msg === 'dedge-sockdiag helper serving again')).toBe(true);
  });

  it('stop() ends the helper; later dumps return undefined', async () => {
    const s = source({ helperPath });
    await s.dump(0);
    const pid = s.pid!;
    await s.stop();
    expect(alive(pid)).toBe(false);
    expect(s.pid).toBeUndefined();
    expect(await s.dump(1)).toBeUndefined();
  });

  it('missing binary: undefined, warned once at the first failure and once on giving up, then backs off on the caller clock', async () => {
    const log = capture();
    const s = source({
      helperPath: path.join(scratch, 'no-such', 'dedge-sockdiag'),
      logger: log.logger,
      maxConsecutiveFailures: 3,
      retryAfterMs: 60_000,
    });
    for (const t of [0, 1000, 2000]) expect(await s.dump(t)).toBeUndefined();
    expect(s.stats).toMatchObject({ spawns: 0, failures: 3, retryAt: 62_000 });
    expect(s.stats.lastError).toMatch(/no-such\/dedge-sockdiag: not found \(npm run build:sockdiag builds it\)$/);
    expect(log.warnings()).toEqual([
      'dedge-sockdiag helper failed; this sample reads /proc/net and ss instead, the next restarts it',
      'dedge-sockdiag helper unavailable; collecting sockets from /proc/net and ss until the next attempt',
    ]);
    // within the back-off: no attempt at all
    expect(await s.dump(61_999)).toBeUndefined();
    expect(s.stats.failures).toBe(3);
    // after it: one attempt; the next give-up doubles the wait and is not warned again
    for (const t of [62_000, 63_000, 64_000]) expect(await s.dump(t)).toBeUndefined();
    expect(s.stats).toMatchObject({ failures: 6, retryAt: 64_000 + 120_000 });
    expect(log.warnings()).toHaveLength(3); // + the new episode's first failure
  });

  it('relative helper path is refused', async () => {
    const s = source({ helperPath: 'dedge-sockdiag' });
    expect(await s.dump(0)).toBeUndefined();
    expect(s.stats.lastError).toBe("helper path must be absolute, got 'dedge-sockdiag'");
  });

  it('a program that exits at once, one that writes garbage, one that never answers: each a failure, each killed', async () => {
    const exits = source({ helperPath: '/bin/false' });
    expect(await exits.dump(0)).toBeUndefined();
    expect(exits.stats.lastError).toBe('helper exited with code 1');

    const garbage = source({ helperPath: '/usr/bin/yes' });
    expect(await garbage.dump(0)).toBeUndefined();
    expect(garbage.stats.lastError).toBe('record at byte 0: unknown type 0x79');
    expect(garbage.pid).toBeUndefined();

    const silent = source({ helperPath: '/bin/cat', requestTimeoutMs: 300 });
    const attempt = silent.dump(0);
    const catPid = silent.pid!;
    expect(await attempt).toBeUndefined();
    expect(silent.stats.lastError).toBe('no answer within 300 ms');
    await waitGone(catPid);
  });

  it('not executable: a clear reason', async () => {
    const file = path.join(scratch, 'not-executable');
    await writeFile(file, 'x');
    await chmod(file, 0o644);
    const s = source({ helperPath: file });
    // root may execute any file with an x bit; this one has none
    expect(await s.dump(0)).toBeUndefined();
    expect(s.stats.lastError).toMatch(/not-executable: (not executable \(EACCES\)|cannot start \(EACCES\))/);
  });

  it('inside a network namespace: dumps that namespace, not the host', requires(root), async () => {
    const ns = `${uniqueId()}sd`;
    createNetns(ns);
    let sink: Helper | undefined;
    try {
      sink = startHelper('traffic.ts', ['sink', '127.0.0.1', '0'], { netns: ns });
      const { port: nsPort } = (await sink.next()) as { port: number };
      const s = source({ helperPath, netns: ns });
      const r = await s.dump(0);
      expect(r?.sockets.some((x) => x.localPort === nsPort && x.state === 10)).toBe(true);
      expect(r?.sockets.some((x) => x.localPort === port)).toBe(false);
      await s.stop();
    } finally {
      await sink?.stop();
      deleteNetns(ns);
    }
  });
});

const armCompiler = await program(compilerFor('arm64'), compilerPackages('arm64'));
const qemu = await program(QEMU_ARM64, 'qemu-user-static');

describe('SockDiagSource with a kernel that refuses sock_diag (arm64 helper under qemu-user)', requires(armCompiler, qemu), () => {
  it('counts the refusal as a failure (EPROTONOSUPPORT) so the collector falls back', async () => {
    const arm = await ensureHelper('arm64');
    const dir = await mkdtemp(path.join(tmpdir(), 'dedge-sockdiag-qemu-'));
    const wrapper = path.join(dir, 'dedge-sockdiag');
    try {
      // A real executable that runs the arm64 helper under qemu (binfmt_misc is not assumed).
      await writeFile(wrapper, `#!/bin/sh\nexec ${QEMU_ARM64} ${arm}\n`);
      await chmod(wrapper, 0o755);
      const s = new SockDiagSource({ helperPath: wrapper, logger: capture().logger });
      try {
        expect(await s.dump(0)).toBeUndefined();
        expect(s.stats.lastError).toBe('sock_diag dump refused: EPROTONOSUPPORT');
      } finally {
        await s.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
