// The process backend against real child processes (and a real cgroup v2 when the host has one).
import { accessSync, constants, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActionTarget } from '../../src/enforce/actionModel.ts';
import { ProcessBackend, ProcessIdentityError } from '../../src/enforce/processBackend.ts';
import { silentLogger } from '../../src/log.ts';
import { findCgroup2Mount } from '../../src/system/procfs.ts';
import { Children, procState, startTimeOf } from '../support/children.ts';
import { requirement, requires } from '../support/requirements.ts';
import { uniqueId } from '../support/uniqueId.ts';
import { until } from '../support/until.ts';

const children = new Children();
const cleanups: Array<() => void> = [];
afterEach(async () => {
  await children.killAll();
  for (const c of cleanups.splice(0)) {
    try {
      c();
    } catch {
      /* best effort */
    }
  }
});

const backend = (opts: { stopGraceMs?: number; onTerminateDone?: (t: ActionTarget, o: 'exited' | 'killed') => void } = {}) =>
  new ProcessBackend({
    logger: silentLogger(),
    stopGraceMs: opts.stopGraceMs ?? 300,
    cgroupRoot: findCgroup2Mount(),
    ...(opts.onTerminateDone ? { onTerminateDone: opts.onTerminateDone } : {}),
  });

const target = (pid: number, cgroup?: string) => ({
  kind: 'process' as const,
  pid,
  startTime: startTimeOf(pid),
  comm: 'node',
  ...(cgroup ? { cgroup } : {}),
});

describe('process backend', () => {
  it('suspends with SIGSTOP (state T) and continues with SIGCONT', async () => {
    const c = await children.start();
    const b = backend();
    const t = target(c.pid);
    await b.apply({ type: 'process-suspend', target: t, ttlMs: 1000 });
    await until(() => procState(c.pid) === 'T', 10_000, 'the child stopped (T)');
    await b.revert({ type: 'process-suspend', target: t, ttlMs: 1000 });
    await until(() => procState(c.pid) === 'S' || procState(c.pid) === 'R', 10_000, 'the child running again');
    expect(b.metrics()).toEqual({ applied: 1, reverted: 1, failed: 0 });
  });

  it('terminates with SIGTERM; a process that exits is not killed', async () => {
    const c = await children.start();
    const outcomes: string[] = [];
    const b = backend({ onTerminateDone: (_t, o) => outcomes.push(o) });
    await b.apply({ type: 'process-terminate', target: target(c.pid), ttlMs: 1000 });
    expect((await c.exited).signal).toBe('SIGTERM');
    await b.settled();
    expect(outcomes).toEqual(['exited']);
  });

  it('sends SIGKILL after stopGraceMs to a process that ignores SIGTERM', async () => {
    const c = await children.start({ ignoreTerm: true });
    const outcomes: string[] = [];
    const b = backend({ stopGraceMs: 300, onTerminateDone: (_t, o) => outcomes.push(o) });
    await b.apply({ type: 'process-terminate', target: target(c.pid), ttlMs: 1000 });
    expect((await c.exited).signal).toBe('SIGKILL');
    await b.settled();
    expect(outcomes).toEqual(['killed']);
  });

  it('refuses to signal a pid whose start time changed (pid reuse) and leaves it running', async () => {
    const c = await children.start();
    const b = backend();
    const stale = { ...target(c.pid), startTime: startTimeOf(c.pid) - 1 };
    await expect(b.apply({ type: 'process-suspend', target: stale, ttlMs: 1000 })).rejects.toBeInstanceOf(ProcessIdentityError);
    expect(procState(c.pid)).not.toBe('T');
    expect(b.metrics().failed).toBe(1);
  });

  it('never signals PID 1 or itself, even if asked directly', async () => {
    const b = backend();
    await expect(
      b.apply({ type: 'process-suspend', target: { kind: 'process', pid: 1, startTime: startTimeOf(1), comm: 'init' }, ttlMs: 1 }),
    ).rejects.toThrow(/refusing to signal pid 1/);
    await expect(
      b.apply({
        type: 'process-suspend',
        target: { kind: 'process', pid: process.pid, startTime: startTimeOf(process.pid), comm: 'node' },
        ttlMs: 1,
      }),
    ).rejects.toThrow(/refusing/);
    expect(procState(1)).not.toBe('T');
  });

  it('reverting a suspended process that is gone is not an error', async () => {
    const c = await children.start();
    const t = target(c.pid);
    process.kill(c.pid, 'SIGKILL');
    await c.exited;
    await expect(backend().revert({ type: 'process-suspend', target: t, ttlMs: 1 })).resolves.toMatch(/nothing to continue/);
  });

  const cgroupRoot = findCgroup2Mount();
  const writable = (dir: string) => {
    try {
      accessSync(dir, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  const cgroup2 = requirement(
    cgroupRoot !== null && writable(cgroupRoot),
    'no cgroup v2 hierarchy this process may create a cgroup in (mounted, writable: run npm test as root)',
  );
  it('freezes and thaws the process cgroup (cgroup v2)', requires(cgroup2), async () => {
    const name = uniqueId();
    const dir = join(cgroupRoot!, name);
    mkdirSync(dir);
    const c = await children.start();
    cleanups.push(() => rmdirSync(dir));
    // move the child back out before the cgroup is removed (rmdir needs it empty)
    cleanups.unshift(() => {
      try {
        writeFileSync(join(cgroupRoot!, 'cgroup.procs'), String(c.pid));
      } catch {
        /* exited */
      }
    });
    writeFileSync(join(dir, 'cgroup.procs'), String(c.pid));
    const b = backend();
    const t = target(c.pid, `/${name}`);
    await b.apply({ type: 'process-freeze', target: t, ttlMs: 1000 });
    await until(() => readFileSync(join(dir, 'cgroup.events'), 'utf8').includes('frozen 1'), 10_000, 'frozen 1 in cgroup.events');
    await b.revert({ type: 'process-freeze', target: t, ttlMs: 1000 });
    await until(() => readFileSync(join(dir, 'cgroup.events'), 'utf8').includes('frozen 0'), 10_000, 'frozen 0 in cgroup.events');
  });
});
