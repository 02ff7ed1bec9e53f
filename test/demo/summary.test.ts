import { describe, expect, it } from 'vitest';
import { type CloudLine, classifyCloud, renderSummary, type ScenarioObservation, summarize } from '../../src/demo/summary.ts';
import type { ActionRecord } from '../../src/enforce/actionModel.ts';
import type { ViolationEvent } from '../../src/localrules/contracts.ts';

const T0 = 1_800_000_000_000;
const ROGUE = 4242;
const INNOCENT = 4243;

function violation(pid: number, comm: string, behavior: string, t: number, count = 10_500): ViolationEvent {
  return {
    violationId: `v-${pid}-${behavior}`,
    thingName: 'GW',
    behavior,
    metric: behavior === 'bytesOut' ? 'aws:all-bytes-out' : 'aws:num-messages-received',
    event: 'in-alarm',
    value: { count },
    threshold: { count: 10_000 },
    comparisonOperator: 'less-than',
    t,
    offender: { kind: 'process', pid, comm, startTime: 99 },
    action: { type: 'process-terminate' },
  };
}

function action(ev: ViolationEvent, t: number, outcome: ActionRecord['outcome'] = 'applied', dryRun = false): ActionRecord {
  const o = ev.offender as { pid: number; comm: string };
  return {
    t,
    outcome,
    type: 'process-terminate',
    dryRun,
    target: { kind: 'process', pid: o.pid, startTime: 99, comm: o.comm },
    violation: {
      violationId: ev.violationId,
      thingName: ev.thingName,
      behavior: ev.behavior,
      metric: ev.metric,
      event: ev.event,
      t: ev.t,
      offender: ev.offender,
    },
  };
}

const cloudLine = (ts: number, topic: string, doc: unknown): CloudLine => ({
  ts,
  topic,
  qos: 1,
  payload: JSON.stringify(doc),
  payloadEncoding: 'utf8',
});

function observation(over: Partial<ScenarioObservation> = {}): ScenarioObservation {
  const v = violation(ROGUE, 'rogue-agent', 'bytesOut', T0 + 4000);
  return {
    mode: 'enforce',
    samplingMs: 1000,
    reportEverySeconds: 5,
    gatewayThing: 'GW',
    deviceThing: 'Dev',
    behaviors: ['msgReceive', 'bytesOut'],
    actors: [
      { role: 'rogue-agent', pid: ROGUE, comm: 'rogue-agent', stoppedAt: T0 + 4180, stoppedHow: 'exited', runningAtEnd: false },
      { role: 'innocent', pid: INNOCENT, comm: 'innocent', runningAtEnd: true },
    ],
    violations: [v],
    actions: [action(v, T0 + 4060)],
    cloud: [
      cloudLine(T0 + 3000, '$aws/things/Dev/defender/metrics/json', { header: { report_id: 1 } }),
      cloudLine(T0 + 4100, 'defender-edge/GW/violations', { record: 'violation' }),
      cloudLine(T0 + 4110, 'defender-edge/GW/violations', { record: 'action' }),
      cloudLine(T0 + 5000, '$aws/things/GW/defender/metrics/json', { header: { report_id: 2 } }),
    ],
    perProcessMessages: false,
    degraded: [],
    deviceAnswers: { accepted: 1, rejected: 0 },
    startedAt: T0,
    endedAt: T0 + 6000,
    requireReport: true,
    problems: [],
    ...over,
  };
}

describe('summarize', () => {
  it('measures crossing → stop, names the offender, counts what reached the cloud and says why msgReceive did not fire', () => {
    const s = summarize(observation());
    expect(s.problems).toEqual([]);
    expect(s.ok).toBe(true);
    expect(s.detectedAfterMs).toBe(180);
    expect(s.offender).toEqual({ pid: ROGUE, comm: 'rogue-agent' });
    expect(s.offenders[0]).toMatchObject({ actedAfterMs: 60, stoppedHow: 'exited', value: { count: 10_500 }, behaviors: ['bytesOut'] });
    expect(s.innocentSurvived).toBe(true);
    expect(s.behaviorsFired).toEqual(['bytesOut']);
    expect(s.behaviorsNotFired.msgReceive).toMatch(/no per-process message counts/);
    expect(s.cloud).toEqual({ gatewayReports: 1, deviceReports: 1, violations: 1, actions: 1, reportAfterViolation: true });
    expect(s.cast).toEqual([
      { role: 'rogue-agent', pid: ROGUE },
      { role: 'innocent', pid: INNOCENT },
    ]);
    expect(s.contrast).toMatch(/closed to new customers since 2026-08-31.*180 ms/);
    expect(s.durationMs).toBe(6000);
  });

  it('with per-process message counts, a quiet msgReceive is explained by its threshold, not by missing data', () => {
    expect(summarize(observation({ perProcessMessages: true })).behaviorsNotFired.msgReceive).toMatch(/threshold was not crossed/);
  });

  it('prefers the applied action over a later skipped one from the second behavior', () => {
    const v1 = violation(ROGUE, 'rogue-agent', 'bytesOut', T0 + 4000);
    const v2 = violation(ROGUE, 'rogue-agent', 'msgReceive', T0 + 4000, 120);
    const s = summarize(
      observation({ violations: [v2, v1], actions: [action(v2, T0 + 4050, 'skipped'), action(v1, T0 + 4060)], perProcessMessages: true }),
    );
    expect(s.offenders[0]).toMatchObject({ outcome: 'applied', behaviors: ['msgReceive', 'bytesOut'] });
    expect(s.behaviorsFired).toEqual(['msgReceive', 'bytesOut']);
  });

  it('fails loudly when the innocent is touched, the rogue survives enforcement, or nothing reached the cloud', () => {
    const v = violation(ROGUE, 'rogue-agent', 'bytesOut', T0 + 4000);
    const vi = violation(INNOCENT, 'innocent', 'bytesOut', T0 + 4000);
    const s = summarize(
      observation({
        actors: [
          { role: 'rogue-agent', pid: ROGUE, comm: 'rogue-agent', runningAtEnd: true },
          { role: 'innocent', pid: INNOCENT, comm: 'innocent', runningAtEnd: true },
        ],
        violations: [v, vi],
        actions: [action(v, T0 + 4060), action(vi, T0 + 4060)],
        cloud: [],
      }),
    );
    expect(s.ok).toBe(false);
    expect(s.innocentSurvived).toBe(false);
    expect(s.detectedAfterMs).toBeNull();
    expect(s.problems).toEqual([
      `rogue-agent (pid ${ROGUE}): still running after process-terminate (applied)`,
      'the innocent process was touched',
      'no violation reached the cloud record',
      'no gateway report after the violations reached the cloud record',
    ]);
    expect(renderSummary(s)).toContain('PROBLEMS:');
  });

  it('a rogue without violation is a problem too; timeouts pass through', () => {
    const s = summarize(observation({ violations: [], actions: [], problems: ['timed out after 100 ms waiting for: x'] }));
    expect(s.problems).toContain(`rogue-agent (pid ${ROGUE}): no violation`);
    expect(s.problems[0]).toMatch(/^timed out/);
  });

  it('a missing violation names the failed collector source that explains it', () => {
    const s = summarize(observation({ violations: [], actions: [], degraded: ['tcp-bytes: spawn ss ENOENT', 'custom:disk: EACCES'] }));
    expect(s.problems).toContain(`rogue-agent (pid ${ROGUE}): no violation (per-process traffic unavailable: tcp-bytes: spawn ss ENOENT)`);
    expect(s.degradedCollectors).toEqual(['tcp-bytes: spawn ss ENOENT', 'custom:disk: EACCES']);
    expect(renderSummary(s)).toContain('degraded collectors: tcp-bytes: spawn ss ENOENT; custom:disk: EACCES');
  });

  it('dry-run: nothing stopped, the decision time is reported and the contrast says nothing changed', () => {
    const v = violation(ROGUE, 'rogue-agent', 'bytesOut', T0 + 4000);
    const s = summarize(
      observation({
        mode: 'dry-run',
        actors: [{ role: 'rogue-agent', pid: ROGUE, comm: 'rogue-agent', runningAtEnd: true }],
        actions: [action(v, T0 + 4030, 'would-apply', true)],
      }),
    );
    expect(s.problems).toEqual([]);
    expect(s.detectedAfterMs).toBeNull();
    expect(s.offenders[0]).toMatchObject({ dryRun: true, actedAfterMs: 30, stillRunning: true });
    expect(s.innocentSurvived).toBeNull();
    expect(s.contrast).toMatch(/dry-run.*30 ms.*changed nothing/);
    expect(s.offenders[0]!.outcome).toBe('would-apply');
    expect(renderSummary(s)).toMatch(/process-terminate\s+would-apply\s+still running/);
  });
});

describe('classifyCloud', () => {
  it('sorts reports by thing, violations and actions by record, ignores binary and foreign lines', () => {
    const lines: CloudLine[] = [
      cloudLine(10, '$aws/things/GW/defender/metrics/json', {}),
      { ts: 11, topic: '$aws/things/GW/defender/metrics/cbor', qos: 1, payload: 'oGE=', payloadEncoding: 'base64' },
      cloudLine(12, '$aws/things/Dev/defender/metrics/json', {}),
      cloudLine(13, '$aws/things/Other/defender/metrics/json', {}),
      cloudLine(14, 'defender-edge/GW/violations', { record: 'violation' }),
      { ts: 15, topic: 'defender-edge/GW/violations', qos: 1, payload: 'not json' },
      cloudLine(16, 'defender-edge/GW/heartbeat', { rssBytes: 1 }),
    ];
    expect(classifyCloud(lines, 'GW', 'Dev', 10)).toEqual({
      gatewayReports: 2,
      deviceReports: 1,
      violations: 1,
      actions: 0,
      reportAfterViolation: true,
    });
    expect(classifyCloud(lines, 'GW', 'Dev', 11).reportAfterViolation).toBe(false);
    expect(classifyCloud(lines, 'GW', 'Dev', undefined).reportAfterViolation).toBe(false);
  });
});
