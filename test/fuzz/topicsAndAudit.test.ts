// Fuzz, hostile input: thing names as topic segments and in the audit log, ≥ 10,000 seeded
// cases each. A thing name with `/ + #`, control characters, lone surrogates or over 128 bytes never
// becomes a topic segment (report topics, violation topics), and whatever a name or behavior holds
// (newlines, quotes, braces), the enforcer's audit log gets exactly one JSON line per record.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicSafeThing, ViolationPublisher } from '../../src/agent/violationPublisher.ts';
import { defaultConfig } from '../../src/config/validate.ts';
import type { ActionRecord } from '../../src/enforce/actionModel.ts';
import { AuditLog } from '../../src/enforce/auditLog.ts';
import { createEnforcer, enforcementPaths } from '../../src/enforce/createEnforcer.ts';
import { GreengrassIpcClient } from '../../src/ipc/ipcClient.ts';
import { Outbox } from '../../src/ipc/outbox.ts';
import type { ViolationEvent } from '../../src/localrules/contracts.ts';
import { silentLogger } from '../../src/log.ts';
import { MAX_THING_NAME_BYTES, thingNameProblem } from '../../src/report/thingName.ts';
import { parseReportTopic, ReportTopicError, reportTopic } from '../../src/report/topics.ts';
import { hostileString } from '../support/mutate.ts';
import { forEachCase, PATH_MESSAGE, type Prng, runSeed } from '../support/prng.ts';

const CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const GW = 'GatewayThing';

/** A name built from hostile pieces: separators, wildcards, controls, long runs, surrogates, plain text. */
function hostileName(r: Prng): string {
  const pieces = [
    'Dev',
    '1',
    '/',
    '+',
    '#',
    ' ',
    '\n',
    '"',
    '\u0000',
    '\u007f',
    '\u0085',
    '\ud800',
    '\udc00',
    '💥',
    'é',
    '{"x":1}',
    '$aws',
    '..',
  ];
  if (r.bool(0.2)) return hostileString(r);
  let s = '';
  for (let n = r.range(0, 12); n > 0; n--) s += r.bool(0.7) ? r.pick(pieces) : r.pick(pieces).repeat(r.range(1, 80));
  return s;
}

const CONTROL_OR_WILDCARD = /[\u0000-\u001f\u007f-\u009f/+#]/;
const LONE_SURROGATE = /\p{Cs}/u;

describe('fuzz: thing names as topic segments', () => {
  let dir: string;
  let publisher: ViolationPublisher;
  let outbox: Outbox;
  let ipc: GreengrassIpcClient;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dedge-fuzz-topic-'));
    // Real parts, never started: only the topic logic runs.
    ipc = new GreengrassIpcClient({ socketPath: join(dir, 'none.sock') });
    outbox = new Outbox({
      dir: join(dir, 'outbox'),
      maxEntries: 10,
      maxBytes: 1 << 20,
      publish: async () => undefined,
      logger: silentLogger(),
    });
    publisher = new ViolationPublisher({ ipc, outbox, gatewayThing: GW, logger: silentLogger() });
    publisher.configure(defaultConfig());
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`${CASES} hostile names: a topic segment only when valid, never a separator or wildcard`, async () => {
    let valid = 0;
    await forEachCase(
      'thing name topics',
      CASES,
      (r) => {
        const name = hostileName(r);
        const problem = thingNameProblem(name);
        const bytes = LONE_SURROGATE.test(name) ? Infinity : Buffer.byteLength(name, 'utf8');
        const shouldBeValid = name.length > 0 && bytes <= MAX_THING_NAME_BYTES && !CONTROL_OR_WILDCARD.test(name);
        if ((problem === null) !== shouldBeValid) throw new Error(`thingNameProblem(${JSON.stringify(name)}) = ${problem}`);
        const format = r.bool() ? 'json' : 'cbor';
        let topic: string | undefined;
        try {
          topic = reportTopic(name, format);
        } catch (err) {
          if (!(err instanceof ReportTopicError) || !/^thingName: /.test(err.message) || !PATH_MESSAGE.test(err.message)) throw err;
        }
        if (shouldBeValid) {
          valid++;
          if (topic === undefined) throw new Error('valid name refused');
          const parts = topic.split('/');
          if (parts.length !== 6 || parts[2] !== name)
            throw new Error(`topic ${JSON.stringify(topic)} does not have the name as its third segment`);
          const back = parseReportTopic(topic);
          if (!back.ok || back.thingName !== name || back.format !== format) throw new Error('topic does not parse back');
        } else if (topic !== undefined) {
          throw new Error(`invalid name became a topic: ${JSON.stringify(topic)}`);
        }
        // Violations: an unusable name falls back to the gateway's own segment (violationPublisher.ts).
        const vt = publisher.cloudTopicFor(name);
        const vparts = vt.split('/');
        if (vparts.length !== 3 || vparts[1] !== (topicSafeThing(name) ? name : GW))
          throw new Error(`violation topic ${JSON.stringify(vt)}`);
        if (/[+#\u0000]/.test(vt) || LONE_SURROGATE.test(vt)) throw new Error(`violation topic holds a wildcard: ${JSON.stringify(vt)}`);
      },
      runSeed(),
    );
    expect(valid).toBeGreaterThan(CASES / 20);
  });
});

describe('fuzz: the audit log cannot be forged through input', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dedge-fuzz-audit-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Through the whole enforcer: every action persists the active set atomically (fsync), so a few
  // hundred cases; the 10,000-case run below drives the audit log itself with the same names.
  const ENFORCER_CASES = Math.min(CASES, 150);
  it(`${ENFORCER_CASES} violations with hostile thing and behavior names through the enforcer (dry-run): one JSON line per record`, async () => {
    const config = { ...defaultConfig().enforcement, mode: 'dry-run' as const, maxActionsPerMinute: 1_000_000 };
    const records: ActionRecord[] = [];
    const enforcer = createEnforcer({ config, stateDir: dir, logger: silentLogger(), onAction: (r) => records.push(r), cgroupRoot: null });
    await enforcer.start();
    const sent: Array<{ thing: string; behavior: string }> = [];
    try {
      await forEachCase(
        'audit log',
        ENFORCER_CASES,
        async (r, i) => {
          const thing = hostileName(r).slice(0, 128) || 'x';
          const behavior = hostileName(r);
          const ev: ViolationEvent = {
            violationId: `v-${i}`,
            thingName: thing,
            behavior,
            metric: r.bool() ? 'aws:listening-tcp-ports' : hostileName(r),
            event: 'in-alarm',
            t: 1_700_000_000_000 + i,
            offender: { kind: 'device', thingName: thing, addresses: [`192.0.2.${1 + (i % 250)}`] },
            action: { type: 'address-block', ttlSeconds: 60 },
          };
          sent.push({ thing, behavior });
          await enforcer.handle(ev);
        },
        runSeed(),
      );
    } finally {
      await enforcer.stop();
    }
    const text = readFileSync(enforcementPaths(dir).auditPath, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    // Every record the enforcer produced is exactly one line, and each line is exactly one record.
    expect(lines.length).toBe(records.length);
    expect(records.length).toBeGreaterThanOrEqual(ENFORCER_CASES);
    const parsed = lines.map((l) => JSON.parse(l) as ActionRecord);
    parsed.forEach((p, i) => {
      expect(p).toEqual(JSON.parse(JSON.stringify(records[i])));
    });
    // The hostile names come back verbatim from their own line (no forged fields, no split).
    const byId = new Map(parsed.map((p) => [p.violation.violationId, p.violation]));
    sent.forEach((s, i) => {
      const v = byId.get(`v-${i}`);
      if (v === undefined) return; // refused before an action record (checkViolationEvent): nothing written for it
      expect(v.behavior).toBe(s.behavior);
      expect(v.thingName).toBe(s.thing);
    });
  }, 120_000);

  it(`${CASES} hostile records straight into the audit log: one line each, read back verbatim`, async () => {
    const path = join(dir, 'direct', 'audit.jsonl');
    const log = new AuditLog(path, 1 << 30);
    const written: ActionRecord[] = [];
    await forEachCase(
      'audit log direct',
      CASES,
      (r, i) => {
        const thing = hostileName(r);
        const rec: ActionRecord = {
          t: i,
          outcome: r.pick(['applied', 'refused', 'failed'] as const),
          type: 'address-block',
          dryRun: r.bool(),
          reason: hostileName(r),
          detail: hostileName(r),
          violation: {
            violationId: `v-${i}`,
            thingName: thing,
            behavior: hostileName(r),
            metric: hostileName(r),
            event: 'in-alarm',
            t: i,
            offender: { kind: 'process', pid: r.int(99999), comm: hostileName(r) },
          },
        };
        log.append(rec);
        written.push(rec);
      },
      runSeed(),
    );
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(written.length);
    lines.forEach((l, i) => {
      expect(JSON.parse(l)).toEqual(written[i]);
    });
  }, 120_000);
});
