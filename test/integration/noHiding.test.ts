// No hiding (docs/traffic.md): the whole enforcing agent in a private pid namespace (test/support/rogueStage.ts),
// per-process bytes out < 10,000 per 300 s with process-terminate, and rogues that try not to be seen —
// streaming over one TCP connection, a new TCP connection per 2 KB, UDP datagrams, a new child process per
// send — beside an innocent neighbour, all sending to a peer in another network namespace. With eBPF each
// rogue is named (its pid and comm; for fork-per-send the parent program) and stopped with its family, the
// innocent untouched. The sock_diag fallback (collector.ebpf false) still catches the streamer and says
// out loud what it cannot see: the other rogues' traffic is reported as unattributed, UDP is not counted.
// Crossing → stopped is measured on the rogue's own clock and printed (bench/noHiding.bench.ts measures it).
import { afterEach, describe, expect, it } from 'vitest';
import { procsRequest } from '../../src/collector/sockDiagProtocol.ts';
import { decodeTrafficResponse } from '../../src/collector/sockDiagTraffic.ts';
import { program, requirement, requires, root } from '../support/requirements.ts';
import { type Rogue, recordsFor, type Stage, startStage } from '../support/rogueStage.ts';
import { ensureHelper, RawHelper } from '../support/sockDiagHelper.ts';
import { until } from '../support/until.ts';

const unshare = await program('unshare', 'util-linux');
const ip = await program('ip', 'iproute2', ['-V']);
const tools = root.met && unshare.met && ip.met;

/** Can this machine load the helper's BPF programs? (the answer's mode, and why not) */
async function probeEbpf(): Promise<{ mode: string; reason: string }> {
  if (!root.met) return { mode: 'sockdiag', reason: 'not root' };
  const h = new RawHelper(await ensureHelper(), ['--traffic']);
  try {
    const r = decodeTrafficResponse(await h.request(procsRequest(1)));
    return { mode: r.mode, reason: r.reason };
  } finally {
    await h.stop();
  }
}
const ebpf = tools ? await probeEbpf() : { mode: 'sockdiag', reason: 'needs root, unshare and ip' };
const ebpfLoads = requirement(ebpf.mode === 'ebpf', `BPF cannot load here (${ebpf.reason})`);

const stages: Stage[] = [];
afterEach(async () => {
  for (const s of stages.splice(0)) await s.stop();
});

const STYLES = ['stream', 'reconnect', 'udp', 'fork'] as const;

function latencies(rogues: Rogue[]): string {
  return rogues.map((r) => `${r.style} ${(r.stoppedAt() ?? Number.NaN) - (r.crossedAt() ?? Number.NaN)} ms`).join(', ');
}

describe('no hiding with eBPF (the agent in a private pid namespace)', requires(root, unshare, ip, ebpfLoads), () => {
  it('names and stops a streamer, a reconnector, a UDP sender and a fork-per-send rogue; the innocent neighbour is untouched', async () => {
    const stage = await startStage({ ebpf: true });
    stages.push(stage);
    expect(stage.health()?.traffic).toMatchObject({ mode: 'ebpf' });
    const innocent = await stage.rogue('innocent', { bytes: 100, intervalMs: 1000 });
    const rogues: Rogue[] = [];
    for (const style of STYLES) rogues.push(await stage.rogue(style, style === 'fork' ? { intervalMs: 150 } : {}));
    await until(
      async () => {
        await Promise.race([Promise.all(rogues.map((r) => r.exited)), new Promise((r) => setTimeout(r, 200))]);
        return rogues.every((r) => r.exitedAt !== undefined);
      },
      60_000,
      'every rogue stopped',
    );
    for (const r of rogues) {
      const pid = r.pid()!;
      const { violations, actions } = await until(
        () => {
          const rec = recordsFor(stage, pid);
          return rec.violations.length > 0 && rec.actions.length > 0 ? rec : undefined;
        },
        15_000,
        `the ${r.style} rogue's violation and action in the cloud record`,
      );
      // named by its own pid and comm — for fork-per-send, the parent program, not a child
      expect(violations[0]).toMatchObject({
        event: 'in-alarm',
        behavior: 'bytesOut',
        offender: { kind: 'process', pid, comm: `rogue-${r.style}` },
      });
      expect(actions[0]).toMatchObject({ outcome: 'applied', type: 'process-terminate', dryRun: false, target: { pid } });
      // it crossed by its own count, and got SIGTERM from the agent
      expect(r.crossedAt(), `${r.style} crossed`).toBeDefined();
      expect(r.stoppedAt(), `${r.style} got SIGTERM`).toBeDefined();
    }
    // the fork rogue's children sent every byte: none of them was ever named on its own
    const forkChildren = new Set(
      rogues
        .find((r) => r.style === 'fork')!
        .lines.filter((l) => l.sent !== undefined)
        .map((l) => l.pid),
    );
    expect(forkChildren.size).toBeGreaterThanOrEqual(5);
    const named = stage
      .cloud()
      .filter((c) => c.doc.record === 'violation')
      .map((c) => (c.doc.offender as { pid: number }).pid);
    expect(named.filter((p) => forkChildren.has(p))).toEqual([]);
    // the innocent sent all along and was never named
    expect(innocent.exitedAt).toBeUndefined();
    expect(innocent.lines.filter((l) => l.sent !== undefined).length).toBeGreaterThan(0);
    expect(recordsFor(stage, innocent.pid()!).violations).toEqual([]);
    console.log(`eBPF crossing → SIGTERM by the rogues' own clocks: ${latencies(rogues)}`);
  }, 120_000);
});

describe('the sock_diag fallback (collector.ebpf false) says what it cannot see', requires(root, unshare, ip), () => {
  it('stops the streamer; the reconnector and fork-per-send rogue are unattributed, UDP is not counted; said in the health record', async () => {
    const stage = await startStage({ ebpf: false });
    stages.push(stage);
    expect(stage.health()?.traffic).toMatchObject({ mode: 'sockdiag', reason: 'disabled by configuration (collector.ebpf is false)' });
    const innocent = await stage.rogue('innocent', { bytes: 100, intervalMs: 1000 });
    const stream = await stage.rogue('stream');
    const hiders = [await stage.rogue('reconnect'), await stage.rogue('fork', { intervalMs: 150 })];
    const udp = await stage.rogue('udp');
    await until(() => stream.exitedAt !== undefined, 30_000, 'the streamer stopped');
    expect(recordsFor(stage, stream.pid()!).violations[0]).toMatchObject({ offender: { pid: stream.pid(), comm: 'rogue-stream' } });
    // the hiders' connections live between two dumps: known to the kernel (destroyed sockets), named for nobody
    await until(
      () => ((stage.health()?.traffic as { unattributedBytes?: number } | undefined)?.unattributedBytes ?? 0) >= 20_000,
      30_000,
      'unattributed bytes in the health record',
    );
    // UDP has no per-socket byte counters in sock_diag: the UDP rogue is not seen at all in this mode
    expect(udp.exitedAt).toBeUndefined();
    expect(recordsFor(stage, udp.pid()!).violations).toEqual([]);
    expect(innocent.exitedAt).toBeUndefined();
    expect(recordsFor(stage, innocent.pid()!).violations).toEqual([]);
    console.log(
      `sock_diag crossing → SIGTERM: ${latencies([stream])}; hiders still running: ${hiders.filter((h) => h.exitedAt === undefined).map((h) => h.style)}`,
    );
  }, 120_000);
});
