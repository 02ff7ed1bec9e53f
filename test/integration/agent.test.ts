// The agent end to end against the emulator over a real socket, in one process: configuration lifecycle
// (refused / applied / survives a restart offline) on both cores — the Java nucleus refuses a bad one in its
// validation step, nucleus lite has none and the agent refuses it on apply —, reports reaching the cloud
// record, downstream reports (valid, invalid, spoofed, CBOR) answered and forwarded.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode as decodeCbor, encode as encodeCbor } from 'cbor-x';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.ts';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { NUCLEUS_FLAVORS, type NucleusFlavor } from '../../src/ipc/emulator/flavor.ts';
import type { LocalMessage } from '../../src/ipc/emulator/localPubSub.ts';
import { silentLogger } from '../../src/log.ts';
import { connectThing, deployClientDevices } from '../support/clientDevices.ts';
import type { Device } from '../support/mqttDevice.ts';
import { callsBeyondBudget, ONE_CONNECTION_BUDGET } from '../support/nucleusCalls.ts';
import { until } from '../support/until.ts';

const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const TOKEN = 'AGENTTESTTOKEN01';
const GW = 'GatewayThing';

interface Rig {
  dir: string;
  socket: string;
  record: string;
  emulator: GreengrassEmulator;
  agent?: Agent;
}
const rigs: Rig[] = [];

afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.agent?.stop();
    await r.emulator.stop().catch(() => undefined);
    rmSync(r.dir, { recursive: true, force: true });
  }
});

const baseOverrides = (dir: string) => ({
  stateDir: join(dir, 'state'),
  sampling: { intervalMs: 200 },
  heartbeat: { enabled: false },
  downstream: { devices: [{ thingName: 'Dev1', addresses: ['192.0.2.10'] }], thingNamePattern: 'sensor-[0-9]+' },
});

function makeEmulator(dir: string, overrides: Record<string, unknown>, mqtt: boolean, nucleus: NucleusFlavor): GreengrassEmulator {
  return new GreengrassEmulator({
    nucleus,
    socketPath: join(dir, 'ipc.sock'),
    recipe: RECIPE,
    overrides,
    thingName: GW,
    token: TOKEN,
    recordFile: join(dir, 'cloud.jsonl'),
    validationTimeoutMs: 3000,
    ...(mqtt ? { mqttPort: 0, certDir: join(dir, 'ca') } : {}),
  });
}

async function rig(extra: Record<string, unknown> = {}, mqtt = false, nucleus: NucleusFlavor = 'classic'): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'dedge-agent-'));
  const emulator = makeEmulator(dir, { ...baseOverrides(dir), ...extra }, mqtt, nucleus);
  await emulator.start();
  const r: Rig = { dir, socket: join(dir, 'ipc.sock'), record: join(dir, 'cloud.jsonl'), emulator };
  rigs.push(r);
  return r;
}

function startAgent(r: Rig, reportEvery = 1): Agent {
  const agent = new Agent({
    socketPath: r.socket,
    authToken: TOKEN,
    thingName: GW,
    bootstrapStateDir: join(r.dir, 'boot'),
    logger: silentLogger(),
    reportIntervalOverrideSeconds: reportEvery,
    connectWaitMs: 2000,
  });
  r.agent = agent;
  return agent;
}

function cloud(r: Rig): Array<{ topic: string; qos: number; payload: string }> {
  if (!existsSync(r.record)) return [];
  return readFileSync(r.record, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { topic: string; qos: number; payload: string });
}

const deviceReport = (rid: number) => ({
  header: { report_id: rid, version: '1.0' },
  metrics: {
    network_stats: { bytes_in: 100, bytes_out: 200, packets_in: 1, packets_out: 2 },
    listening_tcp_ports: { ports: [{ port: 22 }], total: 1 },
  },
});

describe('agent against the emulator', () => {
  it('starts RUNNING, sends a host report at QoS 1 that the endpoint accepts', async () => {
    const r = await rig();
    const agent = startAgent(r);
    await agent.start();
    expect(r.emulator.componentState()).toBe('RUNNING');
    const report = await until(() => cloud(r).find((m) => m.topic === `$aws/things/${GW}/defender/metrics/json`), 10_000, 'a host report');
    expect(report.qos).toBe(1);
    const doc = JSON.parse(report.payload) as { header: { report_id: number; version: string }; metrics: Record<string, unknown> };
    expect(doc.header.version).toBe('1.0');
    expect(doc.header.report_id).toBeGreaterThan(0);
    await until(() => agent.snapshot().reports.accepted > 0, 5000, 'the accepted answer');
    expect(agent.snapshot().reports.rejected).toBe(0);
  });

  it('answers downstream reports like the service and forwards only valid reports from known devices', async () => {
    const r = await rig();
    const answers: Array<{ topic: string; body: unknown }> = [];
    r.emulator.subscribeLocal('$aws/things/+/defender/metrics/+/+', (topic: string, m: LocalMessage) => {
      const raw = m.kind === 'binary' ? m.value : Buffer.from(JSON.stringify(m.value));
      answers.push({ topic, body: topic.includes('/cbor/') ? decodeCbor(raw) : JSON.parse(raw.toString()) });
    });
    const agent = startAgent(r, 3600);
    await agent.start();
    await until(() => agent.snapshot().downstream !== undefined && r.emulator.status().openStreams > 3, 5000, 'subscriptions');

    r.emulator.publishLocal('$aws/things/Dev1/defender/metrics/json', Buffer.from(JSON.stringify(deviceReport(1001))));
    r.emulator.publishLocal('$aws/things/sensor-7/defender/metrics/cbor', Buffer.from(encodeCbor(deviceReport(1002))));
    r.emulator.publishLocal(
      '$aws/things/Dev1/defender/metrics/json',
      Buffer.from('{"header":{"report_id":-3,"version":"1.0"},"metrics":{}}'),
    );
    r.emulator.publishLocal('$aws/things/Intruder/defender/metrics/json', Buffer.from(JSON.stringify(deviceReport(1003))));

    await until(() => answers.length >= 4, 5000, 'four answers');
    const byTopic = (t: string) => answers.filter((a) => a.topic === t).map((a) => a.body as Record<string, unknown>);
    expect(byTopic('$aws/things/Dev1/defender/metrics/json/accepted')[0]).toMatchObject({
      thingName: 'Dev1',
      reportId: 1001,
      status: 'ACCEPTED',
    });
    expect(byTopic('$aws/things/sensor-7/defender/metrics/cbor/accepted')[0]).toMatchObject({
      thingName: 'sensor-7',
      reportId: 1002,
      status: 'ACCEPTED',
    });
    const invalid = byTopic('$aws/things/Dev1/defender/metrics/json/rejected')[0]!;
    expect(invalid).toMatchObject({ status: 'REJECTED', statusDetails: { ErrorCode: 'InvalidPayload' } });
    expect(JSON.stringify(invalid)).toContain('report_id');
    expect(byTopic('$aws/things/Intruder/defender/metrics/json/rejected')[0]).toMatchObject({ status: 'REJECTED', reportId: 1003 });

    const forwarded = await until(
      () => {
        const c = cloud(r).filter((m) => m.topic.includes('/defender/metrics/') && !m.topic.includes(GW));
        return c.length >= 2 ? c : undefined;
      },
      5000,
      'forwarded reports',
    );
    expect(forwarded.map((m) => m.topic).sort()).toEqual([
      '$aws/things/Dev1/defender/metrics/json',
      '$aws/things/sensor-7/defender/metrics/cbor',
    ]);
    expect(JSON.parse(forwarded.find((m) => m.topic.endsWith('json'))!.payload)).toEqual(deviceReport(1001));
    expect(cloud(r).some((m) => m.topic.includes('Intruder'))).toBe(false);
    expect(agent.snapshot().downstream).toMatchObject({ accepted: 2, rejected: 1, spoofed: 1 });
  });

  it("hears the cloud's rejections for every thing, its acceptances only for the gateway's own reports", async () => {
    const r = await rig();
    const agent = startAgent(r, 3600);
    await agent.start();
    await until(() => r.emulator.status().openStreams > 3, 5000, 'subscriptions');
    r.emulator.publishLocal('$aws/things/Dev1/defender/metrics/json', Buffer.from(JSON.stringify(deviceReport(4001))));
    await until(() => cloud(r).find((m) => m.topic === '$aws/things/Dev1/defender/metrics/json'), 5000, 'the forwarded report');
    const answer = (thingName: string, reportId: number, status: 'ACCEPTED' | 'REJECTED') =>
      JSON.stringify({
        thingName,
        reportId,
        timestamp: Date.now(),
        status,
        ...(status === 'REJECTED' ? { statusDetails: { ErrorCode: 'InvalidPayload', ErrorMessage: 'cloud says no' } } : {}),
      });
    // Nobody is subscribed to a downstream thing's acceptances: the endpoint's own answer to the forwarded
    // report and this one reach no one.
    expect(r.emulator.cloudPublish('$aws/things/Dev1/defender/metrics/json/accepted', answer('Dev1', 4001, 'ACCEPTED'))).toBe(0);
    expect(r.emulator.cloudPublish('$aws/things/Dev1/defender/metrics/json/rejected', answer('Dev1', 4002, 'REJECTED'))).toBe(1);
    expect(r.emulator.cloudPublish(`$aws/things/${GW}/defender/metrics/json/accepted`, answer(GW, 7, 'ACCEPTED'))).toBe(1);
    await until(() => agent.snapshot().reports.rejected === 1 && agent.snapshot().reports.accepted === 1, 5000, 'the answers counted');
    expect(agent.snapshot().reports).toMatchObject({
      accepted: 1,
      rejected: 1,
      lastRejection: { thingName: 'Dev1', reportId: 4002, errorCode: 'InvalidPayload' },
    });
    // Neither answer was for the forwarded report: it stays kept for replay until one is.
    expect(agent.snapshot().outbox.unconfirmed).toBe(1);
    r.emulator.cloudPublish('$aws/things/Dev1/defender/metrics/json/rejected', answer('Dev1', 4001, 'REJECTED'));
    await until(() => agent.snapshot().outbox.unconfirmed === 0, 5000, 'the forwarded report confirmed');
    expect(agent.snapshot().reports.rejected).toBe(2);
  });

  it('with downstream.forwardMinIntervalSeconds, forwards one report per device per interval and still answers every one', async () => {
    const r = await rig({ downstream: { ...baseOverrides('').downstream, forwardMinIntervalSeconds: 60 } });
    const answers: string[] = [];
    r.emulator.subscribeLocal('$aws/things/+/defender/metrics/+/+', (topic: string) => answers.push(topic));
    const agent = startAgent(r, 3600);
    await agent.start();
    await until(() => r.emulator.status().openStreams > 3, 5000, 'subscriptions');
    for (const rid of [6001, 6002, 6003])
      r.emulator.publishLocal('$aws/things/Dev1/defender/metrics/json', Buffer.from(JSON.stringify(deviceReport(rid))));
    r.emulator.publishLocal('$aws/things/sensor-9/defender/metrics/json', Buffer.from(JSON.stringify(deviceReport(6004))));
    await until(() => answers.length === 4, 5000, 'four answers');
    expect(answers.every((t) => t.endsWith('/json/accepted'))).toBe(true);
    await until(() => agent.snapshot().outbox.depth === 0 && cloud(r).some((m) => m.topic.includes('sensor-9')), 5000, 'forwarding done');
    const forwarded = cloud(r).filter((m) => /^\$aws\/things\/(Dev1|sensor-9)\/defender\/metrics\/json$/.test(m.topic));
    expect(forwarded.map((m) => (JSON.parse(m.payload) as { header: { report_id: number } }).header.report_id).sort()).toEqual([
      6001, 6004,
    ]);
    expect(agent.snapshot().downstream).toMatchObject({ accepted: 4, notForwarded: 2 });
  });

  it('raises a violation from a downstream report, publishes it locally and to the cloud violations topic', async () => {
    const r = await rig({
      behaviors: [
        { name: 'noSsh', metric: 'aws:listening-tcp-ports', criteria: { comparisonOperator: 'not-in-port-set', value: { ports: [22] } } },
      ],
    });
    const local: unknown[] = [];
    r.emulator.subscribeLocal('defender-edge/violations', (_topic: string, m: LocalMessage) =>
      local.push(m.kind === 'json' ? m.value : null),
    );
    const agent = startAgent(r, 3600);
    await agent.start();
    await until(() => r.emulator.status().openStreams > 3, 5000, 'subscriptions');
    r.emulator.publishLocal('$aws/things/Dev1/defender/metrics/json', Buffer.from(JSON.stringify(deviceReport(2001))));
    const v = await until(() => cloud(r).find((m) => m.topic === 'defender-edge/Dev1/violations'), 5000, 'the cloud violation');
    expect(JSON.parse(v.payload)).toMatchObject({
      record: 'violation',
      thingName: 'Dev1',
      behavior: 'noSsh',
      event: 'in-alarm',
      offender: { kind: 'device', thingName: 'Dev1', addresses: ['192.0.2.10'] },
    });
    await until(() => local.length > 0, 5000, 'the local violation');
    expect(local[0]).toMatchObject({ record: 'violation', behavior: 'noSsh' });
  });

  it('publishes the action records of the start-up restore (persisted active actions) to the cloud', async () => {
    const r = await rig();
    // A simulated (dry-run) block of Dev1's address that ran out while the agent was down: the start-up
    // restore ends it with a would-revert record (a simulated action still in force is restored silently).
    const now = Date.now();
    const violation = {
      violationId: 'restore-violation-1',
      thingName: 'Dev1',
      behavior: 'noSsh',
      metric: 'aws:listening-tcp-ports',
      event: 'in-alarm',
      t: now - 5000,
      offender: { kind: 'device', thingName: 'Dev1', addresses: ['192.0.2.10'] },
    };
    const action = {
      id: 'restore-action-1',
      type: 'address-block',
      target: { kind: 'addresses', addresses: ['192.0.2.10'] },
      backend: 'dry-run',
      appliedAt: now - 65_000,
      expiresAt: now - 5000,
      escalationLevel: 0,
      revertOnClear: false,
      offenceKey: 'device:Dev1',
      violation,
    };
    mkdirSync(join(r.dir, 'state', 'enforcement'), { recursive: true });
    writeFileSync(join(r.dir, 'state', 'enforcement', 'active.json'), JSON.stringify({ version: 1, actions: [action], offences: {} }));
    const agent = startAgent(r, 3600);
    await agent.start();
    const m = await until(() => cloud(r).find((x) => x.topic === 'defender-edge/Dev1/violations'), 5000, 'the restore action record');
    expect(m.qos).toBe(1);
    expect(JSON.parse(m.payload)).toMatchObject({
      record: 'action',
      gateway: GW,
      outcome: 'would-revert',
      reason: 'expired',
      type: 'address-block',
      actionId: 'restore-action-1',
      dryRun: true,
      violation: { violationId: 'restore-violation-1', thingName: 'Dev1' },
    });
    expect(agent.snapshot().violations.actions).toBe(1);
  });

  it('serves real MQTT devices through the client-device broker and bridge: answers on MQTT, valid reports forwarded', async () => {
    const r = await rig({}, true);
    // What a real deployment adds for downstream devices: Auth device group, broker, bridge mapping.
    await deployClientDevices(r.emulator);
    const agent = startAgent(r, 3600);
    await agent.start();
    await until(() => r.emulator.status().openStreams > 3, 5000, 'subscriptions');
    const devices: Device[] = [];
    try {
      const dev1 = await connectThing(r.emulator, 'Dev1', join(r.dir, 'devices'));
      const intruder = await connectThing(r.emulator, 'Intruder', join(r.dir, 'devices'));
      devices.push(dev1, intruder);
      await dev1.client.subscribeAsync('$aws/things/Dev1/defender/metrics/+/+', { qos: 1 });
      await intruder.client.subscribeAsync('$aws/things/Intruder/defender/metrics/+/+', { qos: 1 });
      await dev1.client.publishAsync('$aws/things/Dev1/defender/metrics/json', JSON.stringify(deviceReport(3001)), { qos: 1 });
      await dev1.client.publishAsync('$aws/things/Dev1/defender/metrics/cbor', Buffer.from(encodeCbor(deviceReport(3002))), { qos: 1 });
      await dev1.client.publishAsync('$aws/things/Dev1/defender/metrics/json', '{"header":{"report_id":3003}}', { qos: 1 });
      await intruder.client.publishAsync('$aws/things/Intruder/defender/metrics/json', JSON.stringify(deviceReport(3004)), { qos: 1 });

      await until(() => dev1.received.length >= 3 && intruder.received.length >= 1, 5000, 'answers over MQTT');
      const told = (d: Device) =>
        d.received.map((m) => ({
          topic: m.topic,
          body: (m.topic.includes('/cbor/') ? decodeCbor(m.payload) : JSON.parse(m.payload.toString())) as Record<string, unknown>,
        }));
      const d1 = told(dev1);
      expect(d1.find((m) => m.topic.endsWith('json/accepted'))!.body).toMatchObject({ reportId: 3001, status: 'ACCEPTED' });
      expect(d1.find((m) => m.topic.endsWith('cbor/accepted'))!.body).toMatchObject({ reportId: 3002, status: 'ACCEPTED' });
      expect(d1.find((m) => m.topic.endsWith('json/rejected'))!.body).toMatchObject({
        reportId: 3003,
        status: 'REJECTED',
        statusDetails: { ErrorCode: 'InvalidPayload' },
      });
      expect(told(intruder)[0]).toMatchObject({
        topic: '$aws/things/Intruder/defender/metrics/json/rejected',
        body: { status: 'REJECTED' },
      });

      const forwarded = await until(
        () => {
          const c = cloud(r).filter((m) => m.topic.startsWith('$aws/things/Dev1/'));
          return c.length >= 2 ? c : undefined;
        },
        5000,
        'forwarded reports',
      );
      expect(forwarded.map((m) => m.topic).sort()).toEqual([
        '$aws/things/Dev1/defender/metrics/cbor',
        '$aws/things/Dev1/defender/metrics/json',
      ]);
      expect(cloud(r).some((m) => m.topic.includes('Intruder'))).toBe(false);
    } finally {
      await Promise.all(devices.map((d) => d.client.endAsync(true)));
    }
  });

  it('self-limit: above its RSS bound for sustainSeconds, the agent says so and sheds per-process detail', async () => {
    const r = await rig({ heartbeat: { enabled: true, intervalSeconds: 1 }, selfLimit: { maxRssBytes: 16 * 2 ** 20, sustainSeconds: 1 } });
    const agent = startAgent(r, 3600);
    const health: Array<{ shedding: boolean; rssBytes: number }> = [];
    agent.on('health', (h) => health.push(h));
    const healthLocal: unknown[] = [];
    r.emulator.subscribeLocal('defender-edge/health', (_t: string, m: LocalMessage) =>
      healthLocal.push(m.kind === 'json' ? m.value : null),
    );
    await agent.start();
    const shed = await until(() => health.find((h) => h.shedding), 10_000, 'a health record saying it sheds');
    expect(shed.rssBytes).toBeGreaterThan(16 * 2 ** 20);
    await until(() => healthLocal.some((h) => (h as { shedding?: boolean }).shedding === true), 5000, 'the health record on local pub/sub');
  });
});

describe.each(NUCLEUS_FLAVORS)('configuration from the %s emulator', (nucleus) => {
  it('refuses a bad configuration with path: message errors, applies a good one without restart, and restarts offline on it', async () => {
    const r = await rig({}, false, nucleus);
    const agent = startAgent(r);
    const configured: string[] = [];
    agent.on('configured', (c, source) => configured.push(`${source}:${c.sampling.intervalMs}`));
    await agent.start();
    await until(() => agent.snapshot().config.validation === (nucleus === 'classic' ? 'nucleus' : 'on-apply'), 5000, 'the validation mode');

    const recipeProfile = agent.currentConfig().behaviors;
    // The Java nucleus asks the agent first and the deployment fails with its errors; lite applies it and
    // the agent refuses it on apply. Either way the last good configuration stays in force.
    const refusals = (): string[] => agent.snapshot().config.lastErrors;
    const bad = await r.emulator.changeConfig({ sampling: { intervalMs: 5 } });
    if (nucleus === 'classic') {
      expect(bad.applied).toBe(false);
      expect(JSON.stringify(bad)).toContain('sampling.intervalMs: must be >= 100');
    } else {
      expect(bad.applied).toBe(true);
      await until(() => agent.snapshot().config.rejected === 1, 5000, 'the refusal on apply');
      expect(refusals()).toEqual(['sampling.intervalMs: must be >= 100, got number 5']);
    }
    const badBehavior = await r.emulator.changeConfig({
      sampling: { intervalMs: 200 },
      behaviors: [{ name: 'x', metric: 'aws:all-bytes-out', criteria: { comparisonOperator: 'less-than' } }],
    });
    if (nucleus === 'classic') {
      expect(badBehavior.applied).toBe(false);
      expect(JSON.stringify(badBehavior)).toMatch(/behaviors\[0\]\.criteria/);
    } else {
      await until(() => agent.snapshot().config.rejected === 2, 5000, 'the second refusal on apply');
      expect(refusals().join('\n')).toMatch(/behaviors\[0\]\.criteria/);
    }
    expect(agent.currentConfig().sampling.intervalMs).toBe(200);
    expect(agent.currentConfig().behaviors).toEqual(recipeProfile); // the recipe's profile, still

    // Numbers as the core hands them (strings on lite) and a list replaced whole.
    const good = await r.emulator.changeConfig({
      sampling: { intervalMs: 300 },
      enforcement: { protectedProcesses: ['sshd', 'systemd'] },
      behaviors: [{ name: 'bytesOut', metric: 'aws:all-bytes-out', criteria: { comparisonOperator: 'less-than', value: { count: 5000 } } }],
    });
    expect(good.applied).toBe(true);
    await until(() => agent.currentConfig().sampling.intervalMs === 300, 5000, 'the good config applied');
    expect(agent.currentConfig().enforcement.protectedProcesses).toEqual(['sshd', 'systemd']);
    expect(agent.currentConfig().behaviors).toMatchObject([{ name: 'bytesOut', criteria: { value: { count: 5000 } } }]);
    expect(refusals()).toEqual([]);
    expect(configured.at(-1)).toBe('nucleus:300');
    // Set up once; at most two configuration reads per update the core announced (it notifies once per
    // changed key; notifications during a read fold into one more read): the Java nucleus announces only
    // the applied update, lite all three. One validity report per question (classic only).
    expect(
      callsBeyondBudget(r.emulator.requestCounts(), {
        ...ONE_CONNECTION_BUDGET[nucleus],
        GetConfiguration: 1 + 2 * (nucleus === 'classic' ? 1 : 3),
        ...(nucleus === 'classic' ? { SendConfigurationValidityReport: 3 } : {}),
      }),
    ).toEqual([]);
    await agent.stop();
    await r.emulator.stop();

    // Nucleus gone: a new agent starts on the last good configuration from disk.
    const offline = startAgent(r);
    const sources: string[] = [];
    offline.on('configured', (c, source) => sources.push(`${source}:${c.sampling.intervalMs}`));
    await offline.start();
    expect(sources[0]).toBe('last-good:300');
    expect(offline.currentConfig().enforcement.protectedProcesses).toEqual(['sshd', 'systemd']);
    expect(offline.currentConfig().behaviors).toMatchObject([{ name: 'bytesOut', criteria: { value: { count: 5000 } } }]);
  });

  it('a deployment that also changes the version is not validated: the agent refuses it on apply and again at its restart, on the last good configuration', async () => {
    const r = await rig({}, false, nucleus);
    const agent = startAgent(r);
    await agent.start();
    const component = r.emulator.componentName;
    const bad = { sampling: { intervalMs: 5 } };
    const deployed = await r.emulator.deploy({
      components: { [component]: { componentVersion: '9.0.0', configurationUpdate: { merge: JSON.stringify(bad) } } },
    });
    // The deployment succeeds: no core asks the component about a configuration that comes with a new version.
    expect(deployed).toMatchObject({ ok: true, components: { [component]: { version: '9.0.0', validated: false } } });
    expect(r.emulator.requestCount('SendConfigurationValidityReport')).toBe(0);
    await until(() => agent.snapshot().config.rejected === 1, 5000, 'the refusal on apply');
    expect(agent.currentConfig().sampling.intervalMs).toBe(200);
    expect(agent.snapshot().config.lastErrors.join('\n')).toMatch(/^sampling\.intervalMs: must be >= 100/);

    // A real core restarts the component for its new version: it refuses the configuration at start and runs
    // on the last good one, RUNNING (not ERRORED, which would end in BROKEN after three restarts).
    await agent.stop();
    const restarted = startAgent(r);
    await restarted.start();
    expect(restarted.snapshot().config).toMatchObject({ source: 'last-good', refusedAtStart: true, rejected: 1 });
    expect(restarted.snapshot().config.lastErrors.join('\n')).toMatch(/^sampling\.intervalMs: must be >= 100/);
    expect(restarted.currentConfig().sampling.intervalMs).toBe(200);
    expect(r.emulator.componentState()).toBe('RUNNING');
  });

  it('keeps all its state in the start-up stateDir when the configuration moves it (until the next start)', async () => {
    const r = await rig({}, false, nucleus);
    const agent = startAgent(r, 3600);
    await agent.start();
    const moved = join(r.dir, 'moved-state');
    const changed = await r.emulator.changeConfig({ stateDir: moved });
    expect(changed.applied).toBe(true);
    await until(() => agent.currentConfig().stateDir === moved, 5000, 'the new configuration');
    r.emulator.publishLocal('$aws/things/Dev1/defender/metrics/json', Buffer.from(JSON.stringify(deviceReport(5001))));
    await until(() => cloud(r).find((m) => m.topic === '$aws/things/Dev1/defender/metrics/json'), 5000, 'the forwarded report');
    expect(existsSync(moved)).toBe(false);
    expect(existsSync(join(r.dir, 'state', 'outbox'))).toBe(true);
  });
});
