// Fuzz, hostile input: raw frames at the emulator (the nucleus stand-in), ≥ 10,000 seeded
// cases over a real Unix socket. Each case is one connection: sometimes a valid Connect first, then
// mutated eventstream frames (random types, flags, stream ids, operations, hostile JSON bodies, bit
// flips, truncation, absurd lengths) or raw garbage. The emulator never crashes, every byte it answers
// decodes as a frame, every ProtocolError carries a JSON message, no connection or stream leaks, the heap
// stays flat, and a real SDK client connected before the storm still works afterwards.

import { createConnection } from 'node:net';
import { join } from 'node:path';
import { EventStreamCodec, type Message, type MessageHeaders } from '@smithy/eventstream-codec';
import type { greengrasscoreipc } from 'aws-iot-device-sdk-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { closeAll, QOS1, sdkClient, tempDir } from '../support/ipc.ts';
import { hostileString, hostileValue, mutateBytes } from '../support/mutate.ts';
import { forEachCase, type Prng, runSeed, settledHeap } from '../support/prng.ts';
import { until } from '../support/until.ts';

const CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const CONCURRENCY = 24;
const TOKEN = 'FRAMEFUZZTOKEN01';
const codec = new EventStreamCodec(
  (b) => new TextDecoder().decode(b),
  (s) => new TextEncoder().encode(s),
);
const OPERATIONS = [
  'aws.greengrass#PublishToIoTCore',
  'aws.greengrass#SubscribeToIoTCore',
  'aws.greengrass#PublishToTopic',
  'aws.greengrass#SubscribeToTopic',
  'aws.greengrass#GetConfiguration',
  'aws.greengrass#UpdateState',
  'aws.greengrass#SubscribeToConfigurationUpdate',
  'aws.greengrass#SubscribeToValidateConfigurationUpdates',
  'aws.greengrass#SendConfigurationValidityReport',
  'aws.greengrass#Nope',
];

type Header =
  | { type: 'integer'; value: number }
  | { type: 'string'; value: string }
  | { type: 'boolean'; value: boolean }
  | { type: 'binary'; value: Uint8Array };

function frame(r: Prng, type: number, flags: number, streamId: number, extra: Record<string, Header>, body: string | Uint8Array): Buffer {
  const headers: Record<string, Header> = {};
  // Now and then a mandatory header is missing or of the wrong type.
  if (!r.bool(0.03)) headers[':message-type'] = r.bool(0.03) ? { type: 'string', value: String(type) } : { type: 'integer', value: type };
  if (!r.bool(0.03)) headers[':message-flags'] = { type: 'integer', value: flags };
  if (!r.bool(0.03)) headers[':stream-id'] = { type: 'integer', value: streamId };
  Object.assign(headers, extra);
  return Buffer.from(
    codec.encode({ headers: headers as MessageHeaders, body: typeof body === 'string' ? new TextEncoder().encode(body) : body }),
  );
}

function jsonBody(r: Prng): string {
  const doc = r.bool(0.5)
    ? {
        topicName: r.bool() ? 'defender-edge/x' : hostileString(r).slice(0, 600),
        qos: r.pick(['0', '1', '2', 1, null]),
        payload: r.bool() ? 'aGk=' : hostileValue(r),
        topic: hostileString(r).slice(0, 300),
        keyPath: hostileValue(r),
        state: r.pick(['RUNNING', 'ERRORED', 'x', 5]),
      }
    : hostileValue(r);
  try {
    return JSON.stringify(doc) ?? 'null';
  } catch {
    return `{"deep":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  }
}

/** The bytes one hostile client sends. */
function makeCase(r: Prng): Buffer {
  const parts: Buffer[] = [];
  if (r.bool(0.7)) {
    const token = r.pick([TOKEN, TOKEN, 'WRONGTOKEN000000', '', hostileString(r).slice(0, 200)]);
    parts.push(
      frame(
        r,
        4,
        0,
        0,
        { ':version': { type: 'string', value: r.bool(0.9) ? '0.1.0' : hostileString(r).slice(0, 100) } },
        r.bool(0.9) ? JSON.stringify({ authToken: token }) : jsonBody(r),
      ),
    );
  }
  for (let n = r.range(1, 4); n > 0; n--) {
    const streamId = r.pick([0, 1, 1, 2, 3, -1, 2 ** 31 - 1, r.int(1000)]);
    const extra: Record<string, Header> = {};
    if (r.bool(0.8)) extra.operation = { type: 'string', value: r.bool(0.9) ? r.pick(OPERATIONS) : hostileString(r).slice(0, 300) };
    if (r.bool(0.5)) extra[':content-type'] = { type: 'string', value: r.pick(['application/json', 'text/plain', '']) };
    if (r.bool(0.1))
      extra[hostileString(r).slice(0, 100) || 'x'] = r.pick<Header>([
        { type: 'boolean', value: true },
        { type: 'binary', value: r.bytes(20) },
        { type: 'integer', value: -5 },
      ]);
    let f = frame(r, r.pick([0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, -1, 255]), r.pick([0, 0, 1, 2, 3, 0xffff]), streamId, extra, jsonBody(r));
    const damage = r.int(10);
    if (damage === 0) f = mutateBytes(r, f);
    else if (damage === 1) f = f.subarray(0, r.int(f.length));
    else if (damage === 2) {
      f = Buffer.from(f);
      f.writeUInt32BE(r.pick([0, 15, 16, 24 * 1024 * 1024 + 1, 0xffffffff, f.length + 7]), 0);
    }
    parts.push(f);
  }
  if (r.bool(0.05)) parts.push(r.bytes(r.range(1, 256)));
  return Buffer.concat(parts);
}

/** Send one case, half-close, collect what the server answers until it closes. */
function runCase(socketPath: string, bytes: Buffer, split: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socketPath);
    const got: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('server kept a half-closed connection open for 10 s'));
    }, 10_000);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => undefined); // EPIPE/ECONNRESET when the server closed first: expected
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
    s.on('connect', () => {
      // Split the bytes at a random point: frames must be reassembled across chunks.
      s.write(bytes.subarray(0, split));
      s.end(bytes.subarray(split));
    });
  });
}

/** Every answer must be whole, decodable frames; ProtocolErrors carry {message}. */
function checkAnswer(answer: Buffer): void {
  let at = 0;
  while (at < answer.length) {
    if (answer.length - at < 16) throw new Error(`trailing ${answer.length - at} bytes that are not a frame`);
    const n = answer.readUInt32BE(at);
    if (at + n > answer.length) break; // the server may be cut off mid-write by our close: not its fault
    const m: Message = codec.decode(answer.subarray(at, at + n));
    if (m.headers[':message-type']?.value === 6) {
      const body = JSON.parse(new TextDecoder().decode(m.body)) as { message?: unknown };
      if (typeof body.message !== 'string' || body.message.length === 0) throw new Error('ProtocolError without a message');
    }
    at += n;
  }
}

describe('fuzz: raw frames at the emulator', () => {
  let tmp: ReturnType<typeof tempDir>;
  let emu: GreengrassEmulator;
  const clients: greengrasscoreipc.Client[] = [];

  beforeAll(async () => {
    tmp = tempDir();
    emu = new GreengrassEmulator({ socketPath: join(tmp.dir, 'ipc.sock'), token: TOKEN });
    await emu.start();
    const good = sdkClient(emu.socketPath, TOKEN);
    clients.push(good);
    await good.connect();
  });

  afterAll(async () => {
    await closeAll(clients);
    await emu?.stop();
    tmp?.cleanup();
  });

  it(`${CASES} hostile connections: no crash, decodable answers, no leaks, the good client still works`, async () => {
    const seed = runSeed();
    const baseline = emu.status();
    const heapBefore = await settledHeap();
    const cases: Array<{ index: number; bytes: Buffer; split: number }> = [];
    await forEachCase(
      'frames (generate)',
      CASES,
      (r, index) => {
        const bytes = makeCase(r);
        cases.push({ index, bytes, split: r.int(bytes.length + 1) });
      },
      seed,
    );
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        try {
          checkAnswer(await runCase(emu.socketPath, c.bytes, c.split));
        } catch (err) {
          throw new Error(`frames: case ${c.index} failed (replay: FUZZ_SEED=${seed} FUZZ_CASE=${c.index}): ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    // Everything the storm opened is gone again; only the good client is left.
    await until(
      () => emu.status().clients === baseline.clients && emu.status().openStreams === baseline.openStreams,
      10_000,
      'connections and streams released',
    );
    const after = emu.status();
    expect(after.connectionsAccepted - baseline.connectionsAccepted).toBe(cases.length + 0);
    expect(after.protocolErrors).toBeGreaterThan(baseline.protocolErrors);
    await clients[0]!.publishToIoTCore({ topicName: 'defender-edge/still-alive', qos: QOS1, payload: 'ok' });
    cases.length = 0;
    const heapAfter = await settledHeap();
    expect(heapAfter - heapBefore, `heap grew from ${heapBefore} to ${heapAfter} (seed ${seed})`).toBeLessThan(32 * 2 ** 20);
  }, 180_000);
});
