// Per-process deltas from cumulative eBPF counters: per (tgid, first-seen) so a reused pid never mixes two
// processes, an exited process's last delta delivered once, a new helper counting from zero again.
import { describe, expect, it } from 'vitest';
import { ProcessCounterDeltas } from '../../src/collector/processCounters.ts';
import type { ProcessCounters } from '../../src/collector/sockDiagTraffic.ts';

const rec = (tgid: number, firstSeenNs: bigint, bytesOut: number, o: Partial<ProcessCounters> = {}): ProcessCounters => ({
  tgid,
  ppid: 1,
  ppidAtFork: false,
  uid: 0,
  bytesOut,
  bytesIn: 0,
  packetsOut: bytesOut > 0 ? 1 : 0,
  packetsIn: 0,
  comm: `p${tgid}`,
  exited: false,
  firstSeenNs,
  ...o,
});

describe('ProcessCounterDeltas', () => {
  it('deltas per process since the previous reading; a quiet process is left out', () => {
    const d = new ProcessCounterDeltas();
    const a = d.take({ generation: 1, processes: [rec(10, 1n, 500), rec(11, 2n, 0)] });
    expect(a.processes.map((p) => [p.process.tgid, p.delta.bytesOut])).toEqual([[10, 500]]);
    const b = d.take({ generation: 1, processes: [rec(10, 1n, 800), rec(11, 2n, 0)] });
    expect(b.processes.map((p) => [p.process.tgid, p.delta.bytesOut])).toEqual([[10, 300]]);
    expect(d.take({ generation: 1, processes: [rec(10, 1n, 800)] }).processes).toEqual([]);
  });

  it('a reused tgid is another process: counted from zero, never subtracted from the old one', () => {
    const d = new ProcessCounterDeltas();
    d.take({ generation: 1, processes: [rec(10, 1n, 5000)] });
    // the first one exited (delivered once, with its last 100 bytes) and the number came back
    const r = d.take({ generation: 1, processes: [rec(10, 1n, 5100, { exited: true }), rec(10, 9n, 70)] });
    expect(r.processes.map((p) => [p.process.firstSeenNs, p.delta.bytesOut, p.process.exited])).toEqual([
      [1n, 100, true],
      [9n, 70, false],
    ]);
    // the exited one is forgotten: were it delivered again, it would count from zero
    expect(d.size).toBe(1);
  });

  it('an exited process is returned even when its last reading moved nothing', () => {
    const d = new ProcessCounterDeltas();
    d.take({ generation: 1, processes: [rec(10, 1n, 5000)] });
    const r = d.take({ generation: 1, processes: [rec(10, 1n, 5000, { exited: true })] });
    expect(r.processes).toHaveLength(1);
    expect(r.processes[0]!.delta.bytesOut).toBe(0);
  });

  it('a new helper (generation) counts from zero: its first values are deltas', () => {
    const d = new ProcessCounterDeltas();
    d.take({ generation: 1, processes: [rec(10, 1n, 5000)] });
    const r = d.take({ generation: 2, processes: [rec(10, 4n, 40)] });
    expect(r.processes.map((p) => p.delta.bytesOut)).toEqual([40]);
  });

  it('tgid 0 (processes outside the pid namespace) is the outside aggregate, not a process', () => {
    const d = new ProcessCounterDeltas();
    d.take({ generation: 1, processes: [rec(0, 1n, 100, { comm: '' })] });
    const r = d.take({ generation: 1, processes: [rec(0, 1n, 350, { comm: '' })] });
    expect(r.processes).toEqual([]);
    expect(r.outside.bytesOut).toBe(250);
  });
});
