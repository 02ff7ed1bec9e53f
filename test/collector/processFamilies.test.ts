// Families: who a process's traffic counts for. The head climbs live non-boundary parents; a gone process
// counts for its parent's family when that parent is alive and older than it; boundaries (the rails'
// protected processes, launchers) never take their children's traffic. /proc is a fake tree written here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FamilyAttribution } from '../../src/collector/familyTraffic.ts';
import type { CounterDeltas } from '../../src/collector/processCounters.ts';
import { type FamilyNode, familyBoundary, familyHead, ProcessDirectory } from '../../src/collector/processFamilies.ts';
import type { ProcessCounters } from '../../src/collector/sockDiagTraffic.ts';
import type { ProcessInfo } from '../../src/system/procfs.ts';

const node = (pid: number, ppid: number, boundary = false): FamilyNode => ({ pid, ppid, comm: `p${pid}`, startTime: pid, boundary });

describe('familyHead', () => {
  const tree = new Map<number, FamilyNode>([
    [1, node(1, 0, true)],
    [10, node(10, 1)],
    [11, node(11, 10)],
    [12, node(12, 11)],
    [20, node(20, 1, true)], // e.g. sshd
    [21, node(21, 20)],
    [30, node(30, 0)], // parent outside our pid namespace
  ]);
  const lookup = (pid: number) => tree.get(pid);

  it('climbs to the highest ancestor below a boundary', () => {
    expect(familyHead(tree.get(12)!, lookup).pid).toBe(10);
    expect(familyHead(tree.get(10)!, lookup).pid).toBe(10);
    expect(familyHead(tree.get(21)!, lookup).pid).toBe(21); // a protected parent never takes its children's traffic
    expect(familyHead(tree.get(30)!, lookup).pid).toBe(30);
  });

  it('a boundary is a family of one', () => {
    expect(familyHead(tree.get(20)!, lookup).pid).toBe(20);
  });

  it('a parent that is gone ends the climb; a loop in a corrupt tree is bounded', () => {
    expect(familyHead(node(40, 39), lookup).pid).toBe(40);
    const loop = new Map([
      [50, node(50, 51)],
      [51, node(51, 50)],
    ]);
    expect([50, 51]).toContain(familyHead(loop.get(50)!, (p) => loop.get(p), 8).pid);
  });
});

describe('familyBoundary', () => {
  const info = (pid: number, comm: string, o: Partial<ProcessInfo> = {}): ProcessInfo => ({
    pid,
    comm,
    cmdline: comm,
    ppid: 1,
    state: 'S',
    startTime: 1,
    kernelThread: false,
    ...o,
  });
  const isBoundary = familyBoundary({ selfPid: 500, selfAncestors: new Set([400]), protectedProcesses: ['sshd', 'mosquitto'] });

  it('what the rails protect, plus launchers', () => {
    for (const i of [
      info(1, 'systemd'),
      info(500, 'node'), // the agent
      info(400, 'bash'), // its ancestor
      info(600, 'mosquitto'), // protected by configuration
      info(601, 'java', { cmdline: 'java -jar /greengrass/v2/alts/current/distro/lib/Greengrass.jar' }),
      info(602, 'kworker/0:1', { kernelThread: true, ppid: 2 }),
      info(603, 'cron'),
      info(604, 'sshd-session'),
    ])
      expect(isBoundary(i), `${i.pid} ${i.comm}`).toBe(true);
    for (const i of [info(700, 'python3'), info(701, 'sh'), info(702, 'curl')]) expect(isBoundary(i), i.comm).toBe(false);
  });
});

describe('FamilyAttribution over a /proc tree', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'dedge-fakeproc-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** /proc/PID/stat with `start` (clock ticks) in field 22 */
  const proc = (pid: number, comm: string, ppid: number, start: number): void => {
    mkdirSync(join(root, String(pid)), { recursive: true });
    const rest = ['S', ppid, pid, pid, 0, -1, 0x400000, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, start, 0, 0];
    writeFileSync(join(root, String(pid), 'stat'), `${pid} (${comm}) ${rest.join(' ')}\n`);
    writeFileSync(join(root, String(pid), 'cmdline'), `${comm}\0`);
    writeFileSync(join(root, String(pid), 'cgroup'), '0::/test\n');
  };
  const gone = (pid: number) => rmSync(join(root, String(pid)), { recursive: true, force: true });
  const rec = (tgid: number, ppid: number, firstSeenNs: bigint, exited = false): ProcessCounters => ({
    tgid,
    ppid,
    ppidAtFork: true,
    uid: 0,
    bytesOut: 0,
    bytesIn: 0,
    packetsOut: 0,
    packetsIn: 0,
    comm: `c${tgid}`,
    exited,
    firstSeenNs,
  });
  const deltas = (items: Array<[ProcessCounters, number]>, outside = 0): CounterDeltas => ({
    processes: items.map(([process, bytesOut]) => ({ process, delta: { bytesOut, bytesIn: 0, packetsOut: 1, packetsIn: 0 } })),
    outside: { bytesOut: outside, bytesIn: 0, packetsOut: 0, packetsIn: 0 },
  });
  const TICK = 10_000_000n;

  function attribution() {
    proc(1, 'systemd', 0, 1);
    const dir = new ProcessDirectory({ procRoot: root, isBoundary: (i) => i.pid === 1 });
    const a = new FamilyAttribution(dir);
    return (d: CounterDeltas) => {
      dir.beginRound();
      return a.attribute(d);
    };
  }

  it('fork-per-send: each exited child counts for the live program that forked it; the outside is not ours', () => {
    const round = attribution();
    proc(100, 'rogue', 1, 500);
    const r = round(
      deltas(
        [
          [rec(101, 100, 600n * TICK, true), 2048],
          [rec(102, 100, 601n * TICK, true), 2048],
        ],
        777,
      ),
    );
    expect([...r.families.values()].map((f) => [f.head.pid, f.head.comm, f.alive, f.delta.bytesOut])).toEqual([[100, 'rogue', true, 4096]]);
    expect(r.unattributed.bytesOut).toBe(0);
  });

  it('a live child climbs to its family head; a child of the boundary is its own head', () => {
    const round = attribution();
    proc(100, 'supervisor', 1, 500);
    proc(110, 'worker', 100, 510);
    proc(120, 'loner', 1, 520);
    const r = round(
      deltas([
        [rec(110, 100, 511n * TICK), 1000],
        [rec(120, 1, 521n * TICK), 10],
      ]),
    );
    expect([...r.families.values()].map((f) => [f.head.pid, f.delta.bytesOut])).toEqual([
      [100, 1000],
      [120, 10],
    ]);
  });

  it('a head that exited keeps its last delta under its own name once seen alive; never seen: unattributed', () => {
    const round = attribution();
    proc(130, 'oneshot', 1, 530);
    round(deltas([[rec(130, 1, 531n * TICK), 100]]));
    gone(130);
    const r = round(
      deltas([
        [rec(130, 1, 531n * TICK, true), 50],
        [rec(140, 1, 540n * TICK, true), 70], // lived and died between two polls, under init
      ]),
    );
    expect([...r.families.values()].map((f) => [f.head.pid, f.head.comm, f.alive, f.delta.bytesOut])).toEqual([
      [130, 'oneshot', false, 50],
    ]);
    expect(r.unattributed.bytesOut).toBe(70);
  });

  it('a busy live process costs no /proc read per poll: its head is looked up again after a second', () => {
    proc(1, 'systemd', 0, 1);
    const dir = new ProcessDirectory({ procRoot: root, isBoundary: (i) => i.pid === 1 });
    const a = new FamilyAttribution(dir);
    proc(100, 'supervisor', 1, 500);
    proc(110, 'worker', 100, 510);
    const poll = (now: number) => {
      dir.beginRound();
      const r = a.attribute(deltas([[rec(110, 100, 511n * TICK), 10]]), now);
      return { heads: [...r.families.values()].map((f) => f.head.pid), reads: dir.reads };
    };
    expect(poll(1000)).toEqual({ heads: [100], reads: 3 }); // worker, supervisor, init
    expect(poll(1100)).toEqual({ heads: [100], reads: 0 });
    gone(100); // the supervisor exits: the worker is re-parented to init and heads its own family
    proc(110, 'worker', 1, 510);
    expect(poll(2100)).toEqual({ heads: [110], reads: 2 });
  });

  it('a parent number reused by a younger process is not the parent', () => {
    const round = attribution();
    proc(100, 'newcomer', 1, 900); // started after the child was first counted
    const r = round(deltas([[rec(101, 100, 600n * TICK, true), 2048]]));
    expect(r.families.size).toBe(0);
    expect(r.unattributed.bytesOut).toBe(2048);
  });
});
