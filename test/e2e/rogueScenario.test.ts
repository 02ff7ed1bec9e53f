// The reference scenario (docs/demo.md#the-scenario), end to end, through the scenario runner in-process: the
// rogue MQTT agent and a second rogue streaming bytes to a TCP sink, real processes, the seed profile
// per process with a stop/kill action. Each rogue is named (pid, comm) and stopped; the audit log and the
// cloud record hold the violation and the action; a later report still reaches the cloud. A noisy process
// the scenario did not start is never judged (the demo must never act on anything but its own cast).
// Both cores: on nucleus lite (configuration numbers as strings, no validation step, its own operations)
// the agent must judge and act the same, with every IPC set-up call made once (nucleusCalls.ts); lite has
// no client-device broker, so its round has no downstream device.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Actor, isRunning, procState, spawnActor, stopActor } from '../../src/demo/cast.ts';
import { RogueScenario } from '../../src/demo/scenario.ts';
import { NUCLEUS_FLAVORS } from '../../src/ipc/emulator/flavor.ts';
import { callsBeyondBudget, ONE_CONNECTION_BUDGET } from '../support/nucleusCalls.ts';

const scenarios: RogueScenario[] = [];
const outsiders: Actor[] = [];
afterEach(async () => {
  await Promise.all(outsiders.splice(0).map((a) => stopActor(a)));
  await Promise.all(scenarios.splice(0).map((s) => s.stop()));
});

function audit(s: RogueScenario): Array<{
  outcome: string;
  type: string;
  dryRun: boolean;
  target?: { pid?: number; comm?: string };
  violation: { behavior: string; offender: { pid?: number } };
}> {
  return readFileSync(s.auditPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as never);
}

describe.each(NUCLEUS_FLAVORS)('rogue-agent scenario end to end on %s', (nucleus) => {
  it('names and terminates both rogues, leaves the innocent and an outside process alone (and, on classic, runs again on the same agent)', async () => {
    const s = new RogueScenario({ samplingMs: 1000, nucleus });
    scenarios.push(s);
    await s.start();
    // Not part of the cast: streams like a rogue, but the demo must not judge it.
    const outsider = await spawnActor('tcp-streamer', ['--port', String(s.sinkPort), '--chunk', '1024', '--interval-ms', '50']);
    outsiders.push(outsider);

    const summary = await s.round({ streamer: true, timeoutMs: 40_000 });
    expect(summary.problems).toEqual([]);
    const byRole = Object.fromEntries(summary.offenders.map((o) => [o.role, o]));
    for (const role of ['rogue-agent', 'tcp-streamer'] as const) {
      const o = byRole[role]!;
      expect(o.comm).toBe(role);
      // The MQTT rogue may be stopped by msgReceive (per-process MQTT estimate) before bytesOut; the streamer
      // speaks no MQTT, so only bytesOut can stop it.
      expect(role === 'tcp-streamer' ? ['bytesOut'] : ['msgReceive', 'bytesOut']).toContain(o.behaviors[0]);
      expect(o).toMatchObject({
        action: 'process-terminate',
        outcome: 'applied',
        dryRun: false,
        stillRunning: false,
        stoppedHow: 'exited',
      });
      expect(o.detectedAfterMs).toBeGreaterThanOrEqual(0);
      expect(o.stoppedAt).toBeGreaterThanOrEqual(o.crossedAt!);
    }
    expect(summary.innocentSurvived).toBe(true);

    const lines = audit(s);
    for (const role of ['rogue-agent', 'tcp-streamer'] as const) {
      const pid = byRole[role]!.pid;
      const a = lines.find((l) => l.outcome === 'applied' && l.target?.pid === pid)!;
      expect(a, `audit line for ${role}`).toBeDefined();
      expect(a).toMatchObject({
        type: 'process-terminate',
        dryRun: false,
        target: { comm: role },
        violation: { behavior: byRole[role]!.behaviors[0], offender: { pid } },
      });
    }
    const innocentPid = summary.cast.find((c) => c.role === 'innocent')!.pid;
    expect(lines.some((l) => l.target?.pid === innocentPid || l.violation.offender.pid === innocentPid)).toBe(false);
    expect(lines.some((l) => l.target?.pid === outsider.pid || l.violation.offender.pid === outsider.pid)).toBe(false);

    const cloud = s.cloudRecord().map((l) => ({
      ...l,
      doc: JSON.parse(l.payload) as { record?: string; offender?: { pid?: number }; violation?: { offender?: { pid?: number } } },
    }));
    for (const role of ['rogue-agent', 'tcp-streamer'] as const) {
      const pid = byRole[role]!.pid;
      const v = cloud.find((l) => l.doc.record === 'violation' && l.doc.offender?.pid === pid)!;
      expect(v.topic).toBe('defender-edge/DemoGateway/violations');
      expect(cloud.some((l) => l.doc.record === 'action' && l.doc.violation?.offender?.pid === pid)).toBe(true);
      expect(cloud.some((l) => l.topic === '$aws/things/DemoGateway/defender/metrics/json' && l.ts > v.ts)).toBe(true);
    }
    expect(cloud.some((l) => l.doc.offender?.pid === outsider.pid)).toBe(false);
    expect(isRunning(outsider)).toBe(true);

    // The bench reuses one emulator and agent across rounds: a second round starts a fresh cast and works the
    // same. (Whether rounds can repeat does not depend on the core: checked on classic only, to save CI time.)
    if (nucleus === 'classic') {
      const again = await s.round({ innocent: false, device: false, waitForReport: false, timeoutMs: 40_000 });
      expect(again.problems).toEqual([]);
      expect(again.offenders).toHaveLength(1);
      expect(again.offenders[0]).toMatchObject({ role: 'rogue-agent', outcome: 'applied', stillRunning: false });
      expect(again.offenders[0]!.pid).not.toBe(byRole['rogue-agent']!.pid);
      expect(isRunning(outsider)).toBe(true);
    }

    // The agent took the scenario's configuration as the core handed it (lite: numbers as strings) and set
    // itself up once: no IPC operation repeated beyond one call per subscription.
    expect(summary.cloud.gatewayReports).toBeGreaterThan(0);
    if (nucleus === 'lite') expect(summary.cast.some((c) => c.role === 'device')).toBe(false);
    expect(callsBeyondBudget(s.nucleusRequests(), ONE_CONNECTION_BUDGET[nucleus])).toEqual([]);
  }, 90_000);
});

describe('rogue-agent scenario, process-suspend (classic; the action does not depend on the core)', () => {
  it('process-suspend: the rogue is seen stopped (state T) while alive, with its TTL in the audit log', async () => {
    const s = new RogueScenario({ samplingMs: 1000, action: 'process-suspend' });
    scenarios.push(s);
    await s.start();
    const summary = await s.round({ innocent: true, device: false, waitForReport: false, timeoutMs: 40_000 });
    expect(summary.problems).toEqual([]);
    const rogue = summary.offenders[0]!;
    // stoppedHow 'suspended': /proc showed state T while the process was alive (cast.ts polls it).
    expect(rogue).toMatchObject({
      role: 'rogue-agent',
      action: 'process-suspend',
      outcome: 'applied',
      stillRunning: false,
      stoppedHow: 'suspended',
    });
    expect(rogue.detectedAfterMs).toBeGreaterThanOrEqual(0);
    const applied = audit(s).find((l) => l.outcome === 'applied' && l.target?.pid === rogue.pid) as
      | { ttlSeconds?: number; type: string }
      | undefined;
    expect(applied).toMatchObject({ type: 'process-suspend', ttlSeconds: 600 });
    expect(summary.innocentSurvived).toBe(true);
    // The round's cleanup continued and ended it.
    const st = procState(rogue.pid);
    expect(st === null || st === 'Z').toBe(true);
  }, 60_000);
});
