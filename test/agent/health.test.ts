import { describe, expect, it } from 'vitest';
import { HealthMonitor, type HealthRecord, type HealthSources } from '../../src/agent/health.ts';
import { defaultConfig } from '../../src/config/validate.ts';

function sources(): HealthSources {
  const config = { ...defaultConfig(), selfLimit: { maxRssBytes: 100, maxCpuPercent: 50, sustainSeconds: 2 } };
  return {
    thingName: 'Gw',
    config: () => config,
    outbox: () => ({ depth: 3, droppedTotal: 1 }),
    violations: () => ({ violations: 5, actions: 2 }),
    rejectedInputs: () => 4,
    configSource: () => 'nucleus',
    configValidation: () => 'on-apply',
    configErrors: () => ['a: 1', 'b: 2', 'c: 3', 'd: 4', 'e: 5', 'f: 6'],
    traffic: () => ({
      mode: 'sockdiag',
      reason: 'load: Operation not permitted',
      unattributedBytes: 4096,
      outsideBytes: 0,
      lostProcesses: 0,
      polls: 0,
    }),
  };
}

const offlineIpc = {
  isConnected: () => false,
  publishToTopic: async () => undefined,
  publishToIoTCore: async () => undefined,
};

function monitor(rss: () => number) {
  const calls: Array<[boolean, string]> = [];
  const m = new HealthMonitor({
    sources: sources(),
    ipc: offlineIpc,
    now: () => 0,
    onShed: (shed, why) => calls.push([shed, why]),
    readRss: rss,
  });
  return { m, calls };
}

describe('self-limit', () => {
  it('sheds only after the bound is exceeded for sustainSeconds, and resumes only after as long within it', () => {
    let rss = 50;
    const { m, calls } = monitor(() => rss);
    m.checkSelfLimit(0, 10);
    rss = 500;
    m.checkSelfLimit(1000, 10);
    m.checkSelfLimit(2000, 10);
    expect(calls).toEqual([]);
    m.checkSelfLimit(3000, 10);
    expect(calls.map((c) => c[0])).toEqual([true]);
    expect(calls[0]![1]).toMatch(/rss 500 bytes \(bound 100\)/);
    rss = 50;
    m.checkSelfLimit(4000, 10);
    m.checkSelfLimit(5000, 10);
    rss = 500; // a blip resets the quiet period
    m.checkSelfLimit(5500, 10);
    rss = 50;
    m.checkSelfLimit(6000, 10);
    m.checkSelfLimit(7000, 10);
    expect(calls.map((c) => c[0])).toEqual([true]);
    m.checkSelfLimit(8000, 10);
    expect(calls.map((c) => c[0])).toEqual([true, false]);
    expect(m.shedding).toBe(false);
  });

  it('counts CPU above its bound the same way', () => {
    const { m, calls } = monitor(() => 10);
    m.checkSelfLimit(0, 80);
    m.checkSelfLimit(2500, 80);
    expect(calls.map((c) => c[0])).toEqual([true]);
    expect(calls[0]![1]).toMatch(/cpu 80\.0 % \(bound 50\)/);
  });
});

describe('health record', () => {
  it('is made of the counters the sources hand in', () => {
    const { m } = monitor(() => 10);
    m.recordSample(12, ['tcp-bytes: ss: not found']);
    const r: HealthRecord = m.record();
    expect(r).toMatchObject({
      thingName: 'Gw',
      samples: 1,
      sampleMs: { last: 12, max: 12, p50: 12 },
      degraded: ['tcp-bytes: ss: not found'],
      ipcConnected: false,
      outboxDepth: 3,
      outboxDroppedTotal: 1,
      violations: 5,
      actions: 2,
      rejectedInputs: 4,
      configSource: 'nucleus',
      configValidation: 'on-apply',
      configErrors: ['a: 1', 'b: 2', 'c: 3', 'd: 4', 'e: 5'], // the first five: the record stays small
      mode: 'dry-run',
      shedding: false,
      // coverage said out loud: where per-process traffic comes from, why not eBPF, what nobody could be named for
      traffic: { mode: 'sockdiag', reason: 'load: Operation not permitted', unattributedBytes: 4096, outsideBytes: 0, lostProcesses: 0 },
    });
    expect(m.reportMetrics(7)).toMatchObject({
      'defender-edge:outbox-dropped': 7,
      'defender-edge:rejected-inputs': 4,
      'defender-edge:unattributed-bytes': 4096,
    });
  });
});
