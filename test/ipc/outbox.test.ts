import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox, type PublishFn } from '../../src/ipc/outbox.ts';
import { silentLogger } from '../../src/log.ts';
import { until } from '../support/until.ts';

let dir: string;
let boxes: Outbox[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-ob-'));
});
afterEach(() => {
  for (const b of boxes) b.stop();
  boxes = [];
  rmSync(dir, { recursive: true, force: true });
});

function make(publish: PublishFn, maxEntries = 1000, replayBytes?: number, inflight?: number) {
  const box = new Outbox({
    dir,
    maxEntries,
    maxBytes: 1 << 20,
    publish,
    logger: silentLogger(),
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    random: () => 0.5,
    ...(replayBytes !== undefined ? { replayBytes } : {}),
    ...(inflight !== undefined ? { inflight } : {}),
  });
  boxes.push(box);
  return box;
}

const msg = (n: number) => ({
  kind: 'report' as const,
  topic: `t/${n}`,
  payload: JSON.stringify({ n }),
  encoding: 'utf8' as const,
  reportId: n,
});

describe('Outbox', () => {
  it('publishes in order at QoS 1 and empties the queue', async () => {
    const seen: Array<[string, string, number]> = [];
    const box = make(async (topic, payload, qos) => {
      seen.push([topic, payload.toString(), qos]);
    });
    box.start();
    for (let n = 1; n <= 5; n++) box.enqueue(msg(n));
    expect(await box.drained(2000)).toBe(true);
    expect(seen.map((s) => s[0])).toEqual(['t/1', 't/2', 't/3', 't/4', 't/5']);
    expect(seen.every((s) => s[2] === 1)).toBe(true);
    expect(box.stats()).toMatchObject({ depth: 0, published: 5 });
  });

  it('with one in flight, keeps a failed message at the head and retries it before anything newer', async () => {
    const seen: string[] = [];
    let failuresLeft = 3;
    const box = make(
      async (topic) => {
        if (topic === 't/2' && failuresLeft-- > 0) throw new Error('Publish to topic t/2 failed: Message spool is full.');
        seen.push(topic);
      },
      1000,
      undefined,
      1,
    );
    box.start();
    for (let n = 1; n <= 4; n++) box.enqueue(msg(n));
    expect(await box.drained(3000)).toBe(true);
    expect(seen).toEqual(['t/1', 't/2', 't/3', 't/4']);
    expect(box.stats().failures).toBe(3);
    expect(box.stats().lastError).toMatch(/spool is full/);
  });

  it('survives a restart with everything not yet published, in order', async () => {
    const first = make(async () => {
      throw new Error('offline');
    });
    first.start();
    for (let n = 1; n <= 3; n++) first.enqueue(msg(n));
    first.stop();
    const seen: string[] = [];
    const second = make(async (topic, payload) => {
      seen.push(`${topic}=${payload.toString()}`);
    });
    const info = second.start();
    expect(info.entries).toBe(3);
    expect(await second.drained(2000)).toBe(true);
    expect(seen).toEqual(['t/1={"n":1}', 't/2={"n":2}', 't/3={"n":3}']);
  });

  it('drops the oldest when full and reports the count once', async () => {
    const box = make(async () => {
      throw new Error('offline');
    }, 2);
    box.start();
    for (let n = 1; n <= 5; n++) box.enqueue(msg(n));
    expect(box.stats()).toMatchObject({ depth: 2, droppedTotal: 3 });
    expect(box.takeDropped()).toBe(3);
    expect(box.takeDropped()).toBe(0);
  });

  it('carries binary payloads (CBOR reports) byte for byte', async () => {
    const got: Buffer[] = [];
    const box = make(async (_t, payload) => {
      got.push(payload);
    });
    box.start();
    const bytes = Buffer.from([0xa1, 0x63, 0x68, 0x65, 0x64, 0xff, 0x00]);
    box.enqueue({ kind: 'report', topic: 'x/cbor', payload: bytes.toString('base64'), encoding: 'base64' });
    expect(await box.drained(2000)).toBe(true);
    expect(got[0]!.equals(bytes)).toBe(true);
  });

  it('retryNow abandons a publish that never answers (connection died under it) and sends the head again', async () => {
    const calls: string[] = [];
    const box = make(
      (topic) => {
        calls.push(topic);
        // The first attempt hangs like a call on a dead connection; later ones succeed.
        return calls.length === 1 ? new Promise<void>(() => undefined) : Promise.resolve();
      },
      1000,
      undefined,
      1,
    );
    box.start();
    box.enqueue(msg(1));
    box.enqueue(msg(2));
    await new Promise((res) => setTimeout(res, 20));
    expect(calls).toEqual(['t/1']);
    expect(box.stats().depth).toBe(2);
    box.retryNow();
    expect(await box.drained(2000)).toBe(true);
    expect(calls).toEqual(['t/1', 't/1', 't/2']);
  });

  describe('not relying on the nucleus spool (sent ≠ in the cloud)', () => {
    it('keeps sent messages unconfirmed and sends them again, in order, after a reconnect', async () => {
      const seen: string[] = [];
      const box = make(async (topic) => {
        seen.push(topic);
      });
      box.start();
      for (let n = 1; n <= 3; n++) box.enqueue(msg(n));
      expect(await box.drained(2000)).toBe(true);
      expect(box.stats()).toMatchObject({ depth: 0, unconfirmed: 3, published: 3 });
      box.retryNow(); // the IPC connection came back: the nucleus may have restarted and lost its spool
      box.enqueue(msg(4));
      expect(await box.drained(2000)).toBe(true);
      expect(seen).toEqual(['t/1', 't/2', 't/3', 't/1', 't/2', 't/3', 't/4']);
      expect(box.stats().replayed).toBe(3);
    });

    it('report_ids are per thing: an answer confirms only the report sent on its own topic', async () => {
      const box = make(async () => undefined);
      box.start();
      const report = (thing: string, reportId: number) => ({
        kind: 'report' as const,
        topic: `$aws/things/${thing}/defender/metrics/json`,
        payload: '{}',
        encoding: 'utf8' as const,
        reportId,
      });
      box.enqueue(report('devA', 7));
      box.enqueue(report('devB', 1));
      box.enqueue(report('devB', 7));
      box.enqueue(report('devC', 2));
      expect(await box.drained(2000)).toBe(true);
      // devB's report 7 is the third message: the answer for it must not stop at devA's report 7.
      expect(box.confirmReport('$aws/things/devB/defender/metrics/json', 7)).toBe(3);
      expect(box.stats().unconfirmed).toBe(1);
      expect(box.confirmReport('$aws/things/devA/defender/metrics/json', 7)).toBe(0);
      expect(box.confirmReport('$aws/things/devC/defender/metrics/cbor', 2)).toBe(0);
      expect(box.stats().unconfirmed).toBe(1);
    });

    it('an answer for a report confirms it and everything before it', async () => {
      const seen: string[] = [];
      const box = make(async (topic) => {
        seen.push(topic);
      });
      box.start();
      for (let n = 1; n <= 5; n++) box.enqueue(msg(n));
      expect(await box.drained(2000)).toBe(true);
      expect(box.confirmReport('t/3', 3)).toBe(3);
      expect(box.confirmReport('t/4', 99)).toBe(0);
      expect(box.stats().unconfirmed).toBe(2);
      box.retryNow();
      expect(await box.drained(2000)).toBe(true);
      expect(seen.slice(5)).toEqual(['t/4', 't/5']);
    });

    it('keeps no more than the spool size of sent payload: older ones cannot still be in the spool', async () => {
      const box = make(async () => undefined, 1000, 3 * Buffer.byteLength(JSON.stringify({ n: 1 })));
      box.start();
      for (let n = 1; n <= 9; n++) box.enqueue(msg(n));
      expect(await box.drained(2000)).toBe(true);
      expect(box.stats().unconfirmed).toBe(3);
      expect(make(async () => undefined, 1000, 0).stats().unconfirmed).toBe(0);
    });

    it('sends unconfirmed messages again after a restart of our own process', async () => {
      const first = make(async () => undefined);
      first.start();
      first.enqueue(msg(1));
      first.enqueue(msg(2));
      expect(await first.drained(2000)).toBe(true);
      first.stop();
      const seen: string[] = [];
      const second = make(async (topic) => {
        seen.push(topic);
      });
      expect(second.start().entries).toBe(2);
      expect(await second.drained(2000)).toBe(true);
      expect(seen).toEqual(['t/1', 't/2']);
    });

    describe('the nucleus run (nucleusId): nothing the same nucleus took is sent twice', () => {
      const withNucleus = (publish: PublishFn, nucleusId: () => string | undefined) => {
        const box = new Outbox({
          dir,
          maxEntries: 1000,
          maxBytes: 1 << 20,
          publish,
          logger: silentLogger(),
          initialBackoffMs: 5,
          maxBackoffMs: 20,
          random: () => 0.5,
          nucleusId,
        });
        boxes.push(box);
        return box;
      };
      const recorder = () => {
        const seen: string[] = [];
        return { seen, publish: (async (topic) => void seen.push(topic)) as PublishFn };
      };

      it('a restart of our own process under the same nucleus run sends nothing again', async () => {
        const first = withNucleus(
          async () => undefined,
          () => 'run-1',
        );
        first.start();
        first.enqueue(msg(1));
        first.enqueue(msg(2));
        expect(await first.drained(2000)).toBe(true);
        first.stop();
        const r = recorder();
        const second = withNucleus(r.publish, () => 'run-1');
        expect(second.start().entries).toBe(2);
        second.enqueue(msg(3));
        expect(await second.drained(2000)).toBe(true);
        expect(r.seen).toEqual(['t/3']);
        // Still unconfirmed, so still kept: a later reconnect to a new nucleus run sends them again, in order.
        expect(second.stats().unconfirmed).toBe(3);
      });

      it('a restart under another nucleus run (it may have lost its spool) sends the unconfirmed ones again, in order', async () => {
        const first = withNucleus(
          async () => undefined,
          () => 'run-1',
        );
        first.start();
        first.enqueue(msg(1));
        first.enqueue(msg(2));
        expect(await first.drained(2000)).toBe(true);
        first.stop();
        const r = recorder();
        const second = withNucleus(r.publish, () => 'run-2');
        second.start();
        second.enqueue(msg(3));
        expect(await second.drained(2000)).toBe(true);
        expect(r.seen).toEqual(['t/1', 't/2', 't/3']);
        expect(second.stats().replayed).toBe(2);
      });

      it('not connected at start: nothing goes until the nucleus is known, then the old messages first', async () => {
        const first = withNucleus(
          async () => undefined,
          () => 'run-1',
        );
        first.start();
        first.enqueue(msg(1));
        expect(await first.drained(2000)).toBe(true);
        first.stop();
        const r = recorder();
        let nucleus: string | undefined;
        const second = withNucleus(r.publish, () => nucleus);
        second.start();
        second.enqueue(msg(2));
        await new Promise((res) => setTimeout(res, 50));
        expect(r.seen).toEqual([]);
        nucleus = 'run-2';
        second.retryNow();
        expect(await second.drained(2000)).toBe(true);
        expect(r.seen).toEqual(['t/1', 't/2']);
      });

      it('a reconnect to the same nucleus run sends nothing again; to a new run, everything unconfirmed', async () => {
        const r = recorder();
        let nucleus = 'run-1';
        const box = withNucleus(r.publish, () => nucleus);
        box.start();
        box.enqueue(msg(1));
        box.enqueue(msg(2));
        expect(await box.drained(2000)).toBe(true);
        box.retryNow(); // the connection dropped, the nucleus kept running
        box.enqueue(msg(3));
        expect(await box.drained(2000)).toBe(true);
        expect(r.seen).toEqual(['t/1', 't/2', 't/3']);
        nucleus = 'run-2';
        box.retryNow();
        expect(await box.drained(2000)).toBe(true);
        expect(r.seen.slice(3)).toEqual(['t/1', 't/2', 't/3']);
      });

      it('the handover mark is written by the periodic sync, without a stop (what a SIGKILLed agent leaves)', async () => {
        const box = new Outbox({
          dir,
          maxEntries: 1000,
          maxBytes: 1 << 20,
          publish: async () => undefined,
          logger: silentLogger(),
          syncIntervalMs: 20,
          nucleusId: () => 'run-1',
        });
        boxes.push(box);
        box.start();
        for (let n = 1; n <= 3; n++) box.enqueue(msg(n));
        expect(await box.drained(2000)).toBe(true);
        const mark = () => {
          try {
            return JSON.parse(readFileSync(join(dir, 'handover.json'), 'utf8')) as { through: number; nucleus: string };
          } catch {
            return undefined;
          }
        };
        await until(() => mark()?.through === 3, 2000, 'the mark of the three answered messages');
        expect(mark()).toEqual({ through: 3, nucleus: 'run-1' });
      });

      it('settle() waits for the answers in flight, so a graceful stop covers them and a restart sends none', async () => {
        let started = 0;
        const slow: PublishFn = () => {
          started++;
          return new Promise<void>((res) => setTimeout(res, 100));
        };
        const first = withNucleus(slow, () => 'run-1');
        first.start();
        for (let n = 1; n <= 3; n++) first.enqueue(msg(n));
        await until(() => started === 3, 2000, 'three publishes in flight');
        await first.settle(2000);
        first.enqueue(msg(4)); // after settle: kept for the next run, not started
        first.stop();
        const r = recorder();
        const second = withNucleus(r.publish, () => 'run-1');
        second.start();
        expect(await second.drained(2000)).toBe(true);
        expect(r.seen).toEqual(['t/4']);
      });

      it('an unreadable handover mark means "unknown": the unconfirmed messages go again', async () => {
        const first = withNucleus(
          async () => undefined,
          () => 'run-1',
        );
        first.start();
        first.enqueue(msg(1));
        expect(await first.drained(2000)).toBe(true);
        first.stop();
        writeFileSync(join(dir, 'handover.json'), '{"through": 1, "nucl');
        const r = recorder();
        const second = withNucleus(r.publish, () => 'run-1');
        second.start();
        expect(await second.drained(2000)).toBe(true);
        expect(r.seen).toEqual(['t/1']);
      });
    });

    it('makes room from unconfirmed messages before dropping (and counting) anything', async () => {
      const box = make(async () => undefined, 3);
      box.start();
      for (let n = 1; n <= 3; n++) box.enqueue(msg(n));
      expect(await box.drained(2000)).toBe(true);
      box.enqueue(msg(4));
      expect(box.stats()).toMatchObject({ droppedTotal: 0 });
      expect(box.takeDropped()).toBe(0);
    });
  });

  it('hands several publishes to the nucleus at once and applies their outcomes in order', async () => {
    let inflight = 0;
    let maxInflight = 0;
    const seen: string[] = [];
    let failT3 = 1;
    const box = make(async (topic) => {
      inflight++;
      maxInflight = Math.max(maxInflight, inflight);
      await new Promise((r) => setTimeout(r, 5));
      inflight--;
      if (topic === 't/3' && failT3-- > 0) throw new Error('offline');
      seen.push(topic);
    });
    box.start();
    for (let n = 1; n <= 12; n++) box.enqueue(msg(n));
    expect(await box.drained(5000)).toBe(true);
    expect(maxInflight).toBeGreaterThan(1);
    // Every message got through; those after the failed one were sent again after it (QoS 1 duplicates).
    const firstAfterRetry = seen.lastIndexOf('t/3');
    expect(seen.slice(firstAfterRetry)).toEqual(Array.from({ length: 10 }, (_, i) => `t/${i + 3}`));
    expect(box.stats()).toMatchObject({ depth: 0, failures: 1 });
  });

  it('slides its window: a new publish starts as soon as the oldest settles, not when a whole batch is done', async () => {
    const started: string[] = [];
    const release = new Map<string, () => void>();
    const box = make(
      (topic) => {
        started.push(topic);
        return new Promise<void>((r) => release.set(topic, r));
      },
      1000,
      undefined,
      2,
    );
    box.start();
    for (let n = 1; n <= 4; n++) box.enqueue(msg(n));
    await until(() => started.length === 2, 2000, 'two publishes', 2);
    expect(started).toEqual(['t/1', 't/2']);
    release.get('t/1')!();
    // t/2 is still with the nucleus; a batch-at-a-time outbox would wait for it before starting t/3.
    await until(() => started.length === 3, 2000, 'the third publish', 2);
    expect(started[2]).toBe('t/3');
    expect(box.stats()).toMatchObject({ published: 1 });
    // A settled publish behind a slow head keeps its place: no room is made until the head settles.
    release.get('t/3')!();
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toEqual(['t/1', 't/2', 't/3']);
    expect(box.stats()).toMatchObject({ published: 1 });
    release.get('t/2')!();
    await until(() => started.length === 4, 2000, 'the fourth publish', 2);
    release.get('t/4')!();
    expect(await box.drained(2000)).toBe(true);
    expect(box.stats()).toMatchObject({ published: 4, depth: 0 });
  });

  it('drops a message IoT Core refuses for good (too large, unauthorized) instead of blocking the queue', async () => {
    const { IpcError } = await import('../../src/ipc/ipcError.ts');
    const seen: string[] = [];
    const box = make(async (topic) => {
      if (topic === 't/2')
        throw new IpcError(
          'PublishToIoTCore',
          'service',
          'Publish to topic t/2 failed: The publishing message size 200000 bytes exceeds the configured limit of 131072 bytes',
          'ServiceError',
        );
      if (topic === 't/3') throw new IpcError('PublishToIoTCore', 'service', 'Not Authorized', 'UnauthorizedError');
      seen.push(topic);
    });
    box.start();
    for (let n = 1; n <= 4; n++) box.enqueue(msg(n));
    expect(await box.drained(3000)).toBe(true);
    expect(seen).toEqual(['t/1', 't/4']);
    expect(box.stats()).toMatchObject({ depth: 0, rejected: 2, failures: 0 });
  });
});
