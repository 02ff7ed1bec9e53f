import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox, type PublishFn } from '../../src/ipc/outbox.ts';
import { silentLogger } from '../../src/log.ts';

let dir: string;
let boxes: Outbox[] = [];
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'dedge-ob-')); });
afterEach(() => { for (const b of boxes) b.stop(); boxes = []; rmSync(dir, { recursive: true, force: true }); });

function make(publish: PublishFn, maxEntries = 1000, window = 16) {
  const box = new Outbox({ dir, maxEntries, maxBytes: 1 << 20, publish, logger: silentLogger(), initialBackoffMs: 5, maxBackoffMs: 20, random: () => 0.5, window });
  boxes.push(box);
  return box;
}

const msg = (n: number) => ({ kind: 'report' as const, topic: `t/${n}`, payload: JSON.stringify({ n }), encoding: 'utf8' as const, reportId: n });

describe('Outbox', () => {
  it('publishes in order at QoS 1 and empties the queue', async () => {
    const seen: Array<[string, string, number]> = [];
    const box = make(async (topic, payload, qos) => { seen.push([topic, payload.toString(), qos]); });
    box.start();
    for (let n = 1; n <= 5; n++) box.enqueue(msg(n));
    expect(await box.drained(2000)).toBe(true);
    expect(seen.map((s) => s[0])).toEqual(['t/1', 't/2', 't/3', 't/4', 't/5']);
    expect(seen.every((s) => s[2] === 1)).toBe(true);
    expect(box.stats()).toMatchObject({ depth: 0, published: 5 });
  });

  it('with window 1, keeps a failed message at the head and retries it before anything newer', async () => {
    const seen: string[] = [];
    let failuresLeft = 3;
    const box = make(async (topic) => {
      if (topic === 't/2' && failuresLeft-- > 0) throw new Error('Publish to topic t/2 failed: Message spool is full.');
      seen.push(topic);
    }, 1000, 1);
    box.start();
    for (let n = 1; n <= 4; n++) box.enqueue(msg(n));
    expect(await box.drained(3000)).toBe(true);
    expect(seen).toEqual(['t/1', 't/2', 't/3', 't/4']);
    expect(box.stats().failures).toBe(3);
    expect(box.stats().lastError).toMatch(/spool is full/);
  });

  it('survives a restart with everything not yet published, in order', async () => {
    const first = make(async () => { throw new Error('offline'); });
    first.start();
    for (let n = 1; n <= 3; n++) first.enqueue(msg(n));
    first.stop();
    const seen: string[] = [];
    const second = make(async (topic, payload) => { seen.push(`${topic}=${payload.toString()}`); });
    const info = second.start();
    expect(info.entries).toBe(3);
    expect(await second.drained(2000)).toBe(true);
    expect(seen).toEqual(['t/1={"n":1}', 't/2={"n":2}', 't/3={"n":3}']);
  });

  it('drops the oldest when full and reports the count once', async () => {
    const box = make(async () => { throw new Error('offline'); }, 2);
    box.start();
    for (let n = 1; n <= 5; n++) box.enqueue(msg(n));
    expect(box.stats()).toMatchObject({ depth: 2, droppedTotal: 3 });
    expect(box.takeDropped()).toBe(3);
    expect(box.takeDropped()).toBe(0);
  });

  it('carries binary payloads (CBOR reports) byte for byte', async () => {
    const got: Buffer[] = [];
    const box = make(async (_t, payload) => { got.push(payload); });
    box.start();
    const bytes = Buffer.from([0xa1, 0x63, 0x68, 0x65, 0x64, 0xff, 0x00]);
    box.enqueue({ kind: 'report', topic: 'x/cbor', payload: bytes.toString('base64'), encoding: 'base64' });
    expect(await box.drained(2000)).toBe(true);
    expect(got[0]!.equals(bytes)).toBe(true);
  });

  it('keeps several publishes in flight, acks only the contiguous head, and delivers every message once', async () => {
    let inflight = 0;
    let maxInflight = 0;
    const seen: string[] = [];
    let failT3 = 2;
    const box = make(async (topic) => {
      inflight++;
      maxInflight = Math.max(maxInflight, inflight);
      await new Promise((r) => setTimeout(r, 5));
      inflight--;
      if (topic === 't/3' && failT3-- > 0) throw new Error('offline');
      seen.push(topic);
    }, 1000, 4);
    box.start();
    for (let n = 1; n <= 12; n++) box.enqueue(msg(n));
    expect(await box.drained(5000)).toBe(true);
    expect(maxInflight).toBe(4);
    expect([...seen].sort()).toEqual(Array.from({ length: 12 }, (_, i) => `t/${i + 1}`).sort());
    expect(new Set(seen).size).toBe(12);
    expect(seen.indexOf('t/1')).toBeLessThan(seen.indexOf('t/2'));
    expect(box.stats()).toMatchObject({ depth: 0, published: 12, failures: 2 });
  });

  it('drops a message IoT Core refuses for good (too large, unauthorized) instead of blocking the queue', async () => {
    const { IpcError } = await import('../../src/ipc/ipcError.ts');
    const seen: string[] = [];
    const box = make(async (topic) => {
      if (topic === 't/2') throw new IpcError('PublishToIoTCore', 'service', 'Publish to topic t/2 failed: The publishing message size 200000 bytes exceeds the configured limit of 131072 bytes', 'ServiceError');
      if (topic === 't/3') throw new IpcError('PublishToIoTCore', 'service', 'Not Authorized', 'UnauthorizedError');
      seen.push(topic);
    }, 1000, 1);
    box.start();
    for (let n = 1; n <= 4; n++) box.enqueue(msg(n));
    expect(await box.drained(3000)).toBe(true);
    expect(seen).toEqual(['t/1', 't/4']);
    expect(box.stats()).toMatchObject({ depth: 0, rejected: 2, failures: 0 });
  });
});
