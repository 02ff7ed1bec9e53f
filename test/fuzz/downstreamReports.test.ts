// Fuzz, hostile input: downstream Device Defender reports, ≥ 10,000 seeded cases per part.
// Part 1 feeds the one report check (checkReportMessage) mutated JSON and CBOR, deep nesting, huge arrays,
// wrong types, invalid UTF-8, NaN/Infinity, oversized payloads and hostile topics: it never throws, every
// rejection is `path: message`, every answer decodes, and the heap does not grow.
// Part 2 drives the agent's DownstreamIntake, connected over a real socket to the emulator, with the same
// mix plus spoofed thing names: only known devices are forwarded, byte for byte, every other report is
// answered `rejected`, and the counters add up.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode as decodeCbor, encode as encodeCbor } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownstreamIntake, MAX_ANSWERS_IN_FLIGHT, MAX_ANSWERS_QUEUED } from '../../src/agent/downstreamIntake.ts';
import { defaultConfig } from '../../src/config/validate.ts';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import type { LocalMessage } from '../../src/ipc/emulator/localPubSub.ts';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import { silentLogger } from '../../src/log.ts';
import { checkReportMessage } from '../../src/report/checkMessage.ts';
import { encodeReport } from '../../src/report/encode.ts';
import { thingNameProblem } from '../../src/report/thingName.ts';
import { validateReportDocument } from '../../src/report/validate.ts';
import { deepText, hostileString, hostileValue, mutateBytes, mutateDocument } from '../support/mutate.ts';
import { assertPathMessage, forEachCase, type Prng, runSeed, settledHeap } from '../support/prng.ts';
import { until } from '../support/until.ts';

// FUZZ_CASES only for quick local iterations; the suite runs the 10,000.
const CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const LONG = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/python-agent-report.json', import.meta.url)), 'utf8')) as Record<
  string,
  unknown
>;
const parsed = validateReportDocument(LONG);
if (!parsed.ok) throw new Error('fixture report must be valid');
const SHORT = JSON.parse(Buffer.from(encodeReport(parsed.report, 'json', 'short')).toString('utf8')) as Record<string, unknown>;
const KNOWN = ['Dev1', 'sensor-7', 'sensor-12345'];
const SPOOFED = [
  'Dev2',
  'dev1',
  'Dev1 ',
  ' Dev1',
  'Dev1\u200b',
  'Dеv1' /* Cyrillic е */,
  'sensor-',
  'sensor-7a',
  'sensor-7/x',
  'sensor-+',
  'xsensor-7',
  'sensor-٣' /* Arabic-Indic digit */,
  'GatewayThing',
];

interface Case {
  topic: string;
  payload: Buffer;
  thing: string;
  format: 'json' | 'cbor';
}

function encodeDoc(doc: unknown, format: 'json' | 'cbor'): Buffer {
  try {
    if (format === 'cbor') return Buffer.from(encodeCbor(doc));
    return Buffer.from(JSON.stringify(doc) ?? 'undefined', 'utf8');
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    // The encoders recurse; a document nested too deep for them is sent as the equivalent raw bytes.
    return format === 'cbor'
      ? Buffer.concat([Buffer.alloc(20_000, 0x81), Buffer.from([0x01])])
      : Buffer.from('['.repeat(20_000) + ']'.repeat(20_000));
  }
}

/** One hostile report message. Mostly well-shaped topics (so the payload is what gets tested). */
function makeCase(r: Prng, things: readonly string[]): Case {
  const format = r.bool() ? 'json' : 'cbor';
  let thing = r.pick(things);
  const base = r.bool() ? LONG : SHORT;
  let payload: Buffer;
  switch (r.int(10)) {
    case 0:
    case 1:
    case 2:
    case 3:
      payload = encodeDoc(mutateDocument(r, base), format);
      break;
    case 4:
      payload = mutateBytes(r, encodeDoc(base, format));
      break;
    case 5:
      payload = format === 'json' ? deepText(r) : Buffer.concat([Buffer.alloc(r.range(100, 5000), 0x81), Buffer.from([0x01])]);
      break;
    case 6:
      payload = encodeDoc(
        {
          header: { report_id: 1, version: '1.0' },
          metrics: { listening_tcp_ports: { ports: Array.from({ length: r.range(11_000, 14_000) }, (_, i) => ({ port: i })) } },
        },
        format,
      );
      break;
    case 7:
      payload = r.bytes(r.range(0, 512));
      break;
    case 8:
      payload = mutateBytes(r, encodeDoc(mutateDocument(r, base), format));
      break;
    default:
      payload = encodeDoc(r.bool() ? base : hostileValue(r), format);
      thing = hostileString(r);
      break;
  }
  // Now and then the payload is in the other format than the topic says.
  const topicFormat = r.bool(0.05) ? (format === 'json' ? 'cbor' : 'json') : format;
  const topic = r.bool(0.03)
    ? `$aws/things/${thing}/defender/metrics/${topicFormat}${r.pick(['/accepted', '/x', '/', '/#', ''])}`
    : `$aws/things/${thing}/defender/metrics/${topicFormat}`;
  return { topic, payload, thing, format: topicFormat };
}

function decodeAnswer(topic: string, bytes: Buffer): Record<string, unknown> {
  return (topic.includes('/cbor/') ? decodeCbor(bytes) : JSON.parse(bytes.toString('utf8'))) as Record<string, unknown>;
}

describe('fuzz: downstream reports through the report check', () => {
  it(`${CASES} hostile report messages: no throw, path: message rejections, answers decode, bounded heap`, async () => {
    const seed = runSeed();
    const heapBefore = await settledHeap();
    const outcomes = { ACCEPTED: 0, REJECTED: 0, NOT_A_REPORT_TOPIC: 0 };
    await forEachCase(
      'report check',
      CASES,
      (r, i) => {
        const c = makeCase(r, [...KNOWN, ...SPOOFED]);
        const result = checkReportMessage({ topic: c.topic, payload: c.payload, nowMs: 1_700_000_000_000 + i });
        outcomes[result.status]++;
        if (result.status === 'NOT_A_REPORT_TOPIC') {
          assertPathMessage([result.error], 'topic');
          return;
        }
        if (result.status === 'REJECTED') {
          assertPathMessage(result.errors, 'report');
          if (!result.reply) {
            // Only a topic nobody can publish to goes unanswered (checkMessage.ts).
            if (!/[+#*\u0000]/.test(c.topic) && !/\p{Cs}/u.test(c.topic))
              throw new Error('rejected without an answer on a publishable topic');
            return;
          }
          const answer = decodeAnswer(result.reply.topic, Buffer.from(result.reply.payload));
          if (answer.status !== 'REJECTED') throw new Error(`rejected report answered with ${String(answer.status)}`);
          const details = answer.statusDetails as { ErrorCode?: unknown; ErrorMessage?: unknown };
          if (typeof details.ErrorMessage !== 'string' || details.ErrorMessage.length === 0)
            throw new Error('rejection answer has no ErrorMessage');
          return;
        }
        // Accepted: a real report with a usable id, for a thing name that can be a topic segment.
        if (!Number.isSafeInteger(result.report.header.reportId) || result.report.header.reportId <= 0)
          throw new Error('accepted report without a positive report_id');
        if (thingNameProblem(result.thingName) !== null)
          throw new Error(`accepted a report for an invalid thing name ${JSON.stringify(result.thingName)}`);
      },
      seed,
    );
    const heapAfter = await settledHeap();
    // Every part of the mix was exercised, and nothing was kept.
    expect(outcomes.REJECTED).toBeGreaterThan(CASES / 2);
    expect(outcomes.ACCEPTED).toBeGreaterThan(0);
    expect(heapAfter - heapBefore, `heap grew from ${heapBefore} to ${heapAfter} (seed ${seed})`).toBeLessThan(16 * 2 ** 20);
  }, 120_000);
});

describe('fuzz: spoofed and hostile reports at the downstream intake (real IPC to the emulator)', () => {
  let dir: string;
  let emulator: GreengrassEmulator;
  let ipc: GreengrassIpcClient;
  const TOKEN = 'FUZZINTAKETOKEN1';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dedge-fuzz-'));
    emulator = new GreengrassEmulator({
      socketPath: join(dir, 'ipc.sock'),
      recipe: fileURLToPath(new URL('../../recipe.yaml', import.meta.url)),
      token: TOKEN,
      thingName: 'GatewayThing',
    });
    await emulator.start();
    ipc = new GreengrassIpcClient({ socketPath: join(dir, 'ipc.sock'), authToken: TOKEN });
    ipc.start();
    await ipc.whenConnected(5000);
  });

  afterAll(async () => {
    await ipc?.stop();
    await emulator?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${CASES} messages: only known devices forwarded unchanged, every other report answered rejected`, async () => {
    const seed = runSeed();
    const config = defaultConfig();
    config.downstream.devices = [{ thingName: 'Dev1', addresses: ['192.0.2.10'] }];
    config.downstream.thingNamePattern = 'sensor-[0-9]+';
    const forwarded: Array<{ thing: string; payload: Buffer }> = [];
    let datapointBatches = 0;
    const intake = new DownstreamIntake({
      ipc,
      logger: silentLogger(),
      onDatapoints: () => {
        datapointBatches++;
      },
      onForward: (thing, _format, payload) => {
        forwarded.push({ thing, payload });
      },
    });
    await intake.configure(config);
    const rejectedAnswers: string[] = [];
    let acceptedAnswers = 0;
    const answeredTopics: string[] = [];
    const off = emulator.subscribeLocal('$aws/things/+/defender/metrics/+/+', (topic: string, m: LocalMessage) => {
      answeredTopics.push(topic.replace(/\/(accepted|rejected)$/, ''));
      if (topic.endsWith('/accepted')) {
        acceptedAnswers++;
        return;
      }
      const bytes = m.kind === 'binary' ? m.value : Buffer.from(JSON.stringify(m.value));
      const body = decodeAnswer(topic, bytes);
      rejectedAnswers.push(String((body.statusDetails as { ErrorMessage?: unknown } | undefined)?.ErrorMessage));
    });
    const heapBefore = await settledHeap();
    const sentBy = new Map<string, Buffer[]>();
    let answerable = 0;
    const expectedTopics: string[] = [];
    await forEachCase(
      'downstream intake',
      CASES,
      async (r) => {
        // A device that waits for its answers (a flood is the next test).
        while (intake.answersQueued > 0) await new Promise((res) => setImmediate(res));
        const c = makeCase(r, r.bool(0.5) ? KNOWN : SPOOFED);
        const before = { ...intake.stats };
        intake.onMessage({ topic: c.topic, kind: 'binary', value: c.payload });
        const s = intake.stats;
        const moved =
          s.accepted - before.accepted + s.rejected - before.rejected + s.spoofed - before.spoofed + s.notReports - before.notReports;
        if (moved !== 1) throw new Error(`one message moved ${moved} counters`);
        // Answered unless it is not a report topic or its topic cannot be published to (checkMessage.ts).
        if (s.notReports === before.notReports && !/[+#*\u0000]/.test(c.topic) && !/\p{Cs}/u.test(c.topic)) {
          answerable++;
          expectedTopics.push(c.topic);
        }
        if (s.accepted > before.accepted) {
          if (!KNOWN.includes(c.thing)) throw new Error(`accepted a report for ${JSON.stringify(c.thing)}, not a known device`);
          const list = sentBy.get(c.thing) ?? [];
          list.push(c.payload);
          sentBy.set(c.thing, list);
        }
      },
      seed,
    );
    // Every answer arrives (per-subscriber ordered delivery over the real socket).
    // On a timeout the assertions below say which answers are missing.
    await until(() => acceptedAnswers + rejectedAnswers.length >= answerable, 20_000, 'every answer', 50).catch(() => undefined);
    off();
    const heapAfter = await settledHeap();
    const missing = expectedTopics.filter((t) => !answeredTopics.includes(t));
    expect(missing.slice(0, 5).map((t) => JSON.stringify(t).slice(0, 200))).toEqual([]);
    expect(acceptedAnswers + rejectedAnswers.length).toBe(answerable);
    expect(intake.stats.answerFailures).toBe(0);
    expect(intake.stats.answersShed).toBe(0);
    expect(acceptedAnswers).toBe(intake.stats.accepted);
    expect(rejectedAnswers.length).toBeLessThanOrEqual(intake.stats.rejected + intake.stats.spoofed);
    expect(intake.stats.spoofed).toBeGreaterThan(0);
    for (const m of rejectedAnswers) expect(m).toMatch(/\S: \S/);
    // Forwarded = accepted, only known things, each payload byte for byte as the device sent it.
    expect(forwarded.length).toBe(intake.stats.accepted);
    expect(datapointBatches).toBe(intake.stats.accepted);
    for (const f of forwarded) expect(KNOWN).toContain(f.thing);
    for (const [thing, payloads] of sentBy) {
      const got = forwarded.filter((f) => f.thing === thing).map((f) => f.payload);
      expect(got.length).toBe(payloads.length);
      got.forEach((p, i) => {
        expect(p.equals(payloads[i]!)).toBe(true);
      });
    }
    await intake.close();
    expect(heapAfter - heapBefore, `heap grew from ${heapBefore} to ${heapAfter} (seed ${seed})`).toBeLessThan(32 * 2 ** 20);
  }, 120_000);

  it('a flood of 5,000 reports at once sheds answers instead of piling up IPC calls; nothing rejects unhandled', async () => {
    const config = defaultConfig();
    config.downstream.devices = [{ thingName: 'Dev1', addresses: [] }];
    let answered = 0;
    const off = emulator.subscribeLocal('$aws/things/+/defender/metrics/+/+', () => {
      answered++;
    });
    let forwardedCount = 0;
    const intake = new DownstreamIntake({
      ipc,
      logger: silentLogger(),
      onDatapoints: () => undefined,
      onForward: () => {
        forwardedCount++;
      },
    });
    await intake.configure(config);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const good = encodeDoc(LONG, 'json');
      for (let i = 0; i < 5000; i++)
        intake.onMessage({ topic: `$aws/things/${i % 2 ? 'Dev1' : 'Evil'}/defender/metrics/json`, kind: 'binary', value: good });
      expect(intake.answersInFlight).toBe(MAX_ANSWERS_IN_FLIGHT);
      expect(intake.answersQueued).toBe(MAX_ANSWERS_QUEUED);
      await until(() => intake.answersInFlight === 0, 20_000, 'the answers in flight sent', 20);
      expect(intake.answersInFlight).toBe(0);
      expect(intake.answersQueued).toBe(0);
      expect(intake.stats).toMatchObject({
        received: 5000,
        accepted: 2500,
        spoofed: 2500,
        answerFailures: 0,
        answersShed: 5000 - MAX_ANSWERS_IN_FLIGHT - MAX_ANSWERS_QUEUED,
      });
      // What was queued was answered, not dropped.
      await until(() => answered === MAX_ANSWERS_IN_FLIGHT + MAX_ANSWERS_QUEUED, 5000, 'the queued answers');
      // Shedding answers never sheds the work: every known device's report was still forwarded.
      expect(forwardedCount).toBe(2500);
      await new Promise((res) => setTimeout(res, 100));
      expect(unhandled).toEqual([]);
    } finally {
      off();
      process.off('unhandledRejection', onUnhandled);
      await intake.close();
    }
  }, 60_000);
});
