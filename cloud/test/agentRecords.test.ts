// The rules against the records our agent really publishes, under the configuration the deployment really
// gives it. From the synthesized template: the Greengrass deployment (our component's merge, client device
// auth's device group, the MQTT bridge's topic mapping). Then the project's own pieces, as processes:
// `check-config` on our merge, the Greengrass IPC emulator (the deployment applied as a core applies it,
// with its TLS client-device broker authorizing every packet by that device group and bridging by that
// mapping), and the agent (`defender-edge run`). A downstream device (a real MQTT client over TLS, with a
// certificate from the emulator's core device CA and its thing name as client id) sends a
// Defender report that breaks two behaviors (one with alerts suppressed, one with an enforcement action in
// dry run), then a clean one. Whatever reached the simulated IoT Core is run through every rule's SQL
// (test/iotSql.ts), checked against the core device's IoT policy, and the alert e-mail is built from the
// item the alerts rule would put in the dedupe table.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, COMPONENT } from '../lib/componentConfigs.ts';
import { fleetSettings } from '../lib/fleetConfig.ts';
import { corePolicy } from '../lib/iotPolicyDocuments.ts';
import { METRICS, metricNamespace } from '../lib/rules.ts';
import { NOTIFY_SOURCE } from '../lib/violationAlerts.ts';
import { runRule, substitute } from './iotSql.ts';
import { clientDeviceAllows, iotPolicyAllows } from './policyMatch.ts';
import { CLI, RECIPE, resourcesOf, rootNode, synth, testFleet } from './support.ts';

const GATEWAY = 'gw-test1';
const DEVICE = 'sensor-7';
const TOKEN = 'CLOUDRECORDS0001';
const COMMANDS = `defender-edge/${GATEWAY}/commands`;

const fleetConfig = testFleet((f) => {
  f.component.configuration = {
    heartbeat: { intervalSeconds: 1 },
    enforcement: { mode: 'dry-run' },
    downstream: { devices: [{ thingName: DEVICE, addresses: ['192.0.2.7'] }] },
    behaviors: [
      {
        name: 'noTelnet',
        metric: 'aws:listening-tcp-ports',
        criteria: { comparisonOperator: 'not-in-port-set', value: { ports: [23] } },
        edge: { scope: { devices: true }, action: { type: 'address-block' } },
      },
      {
        name: 'quietSsh',
        metric: 'aws:listening-tcp-ports',
        criteria: { comparisonOperator: 'not-in-port-set', value: { ports: [22] } },
        suppressAlerts: true,
        edge: { scope: { devices: true } },
      },
    ],
  };
});

interface CloudLine {
  topic: string;
  qos: number;
  payload: string;
}
/** The emulator's ready line with --mqtt and --issue-cert. */
interface Ready {
  mqtt: string;
  ca: string;
  deviceCerts: Record<string, { certPath: string; keyPath: string }>;
}
interface Rec {
  topic: string;
  doc: Record<string, unknown>;
}

const notify = createRequire(import.meta.url)(NOTIFY_SOURCE.pathname) as {
  formatAlert(v: Record<string, unknown>): { subject: string; message: string };
  unmarshall(image: Record<string, unknown>): Record<string, unknown>;
};

let dir: string;
const children: ChildProcess[] = [];
let device: MqttClient | undefined;
let rules: Array<{ name: string; sql: string; actions: Array<Record<string, Record<string, string>>> }>;
let merges: Record<string, Record<string, unknown>>;
let records: Rec[];
const answers: Array<{ topic: string; body: Record<string, unknown> }> = [];

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function cloud(): Rec[] {
  const file = join(dir, 'cloud.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as CloudLine)
    .map((l) => ({ topic: l.topic, doc: l.payload.startsWith('{') ? (JSON.parse(l.payload) as Record<string, unknown>) : {} }));
}

const report = (id: number, ports: number[]) =>
  JSON.stringify({
    header: { report_id: id, version: '1.0' },
    metrics: {
      listening_tcp_ports: { ports: ports.map((port) => ({ port })), total: ports.length },
      network_stats: { bytes_in: 100, bytes_out: 200, packets_in: 1, packets_out: 2 },
    },
  });

beforeAll(async () => {
  const { template } = synth(fleetConfig);
  rules = Object.values(resourcesOf(template, 'AWS::IoT::TopicRule')).map((r) => {
    const p = r.Properties.TopicRulePayload as { Sql: string; Actions: Array<Record<string, Record<string, string>>> };
    return { name: (r.Properties.RuleName as string).replace(/^TestFleet_/, ''), sql: p.Sql, actions: p.Actions };
  });
  const deployment = Object.values(resourcesOf(template, 'AWS::GreengrassV2::Deployment'))[0]!;
  const components = deployment.Properties.Components as Record<
    string,
    { ComponentVersion: string; ConfigurationUpdate: { Merge: string } }
  >;
  merges = Object.fromEntries(Object.entries(components).map(([k, v]) => [k, JSON.parse(v.ConfigurationUpdate.Merge)]));
  // The same deployment in the form `aws greengrassv2 create-deployment` takes, which the emulator applies.
  const document = {
    deploymentName: deployment.Properties.DeploymentName,
    components: Object.fromEntries(
      Object.entries(components).map(([k, v]) => [
        k,
        { componentVersion: v.ComponentVersion, configurationUpdate: { merge: v.ConfigurationUpdate.Merge } },
      ]),
    ),
  };

  dir = mkdtempSync(join(tmpdir(), 'dedge-cloud-'));
  writeFileSync(join(dir, 'merge.json'), JSON.stringify(merges[COMPONENT]));
  writeFileSync(join(dir, 'deployment.json'), JSON.stringify(document));
  const node = rootNode();

  const emulator = spawn(
    node,
    [
      CLI,
      'emulator',
      ...['--socket', join(dir, 'ipc.sock'), '--recipe', RECIPE, '--deployment', join(dir, 'deployment.json'), '--thing', GATEWAY],
      ...['--record', join(dir, 'cloud.jsonl'), '--token', TOKEN, '--log-level', 'warn'],
      ...['--mqtt', '0', '--cert-dir', join(dir, 'ca'), '--issue-cert', DEVICE],
    ],
    { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(emulator);
  const ready = await new Promise<Ready>((resolve, reject) => {
    createInterface({ input: emulator.stdout! }).once('line', (line) => resolve(JSON.parse(line) as Ready));
    emulator.once('exit', (code) => reject(new Error(`emulator exited (${code}) before it was ready`)));
  });

  const agent = spawn(node, [CLI, 'run', '--log-level', 'error'], {
    cwd: dir,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: join(dir, 'ipc.sock'),
      SVCUID: TOKEN,
      AWS_IOT_THING_NAME: GATEWAY,
    },
  });
  children.push(agent);
  // The agent is up and connected once its heartbeat reaches the cloud.
  await until('a heartbeat', () => cloud().some((r) => r.topic === `defender-edge/${GATEWAY}/heartbeat`));

  const cert = ready.deviceCerts[DEVICE]!;
  device = await connectAsync(ready.mqtt, {
    clientId: DEVICE,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ca: readFileSync(ready.ca),
    cert: readFileSync(cert.certPath),
    key: readFileSync(cert.keyPath),
  });
  device.on('message', (topic, payload) => answers.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }));
  await device.subscribeAsync(`$aws/things/${DEVICE}/defender/metrics/+/accepted`, { qos: 1 });
  await device.subscribeAsync(`$aws/things/${DEVICE}/defender/metrics/+/rejected`, { qos: 1 });

  await device.publishAsync(`$aws/things/${DEVICE}/defender/metrics/json`, report(1001, [22, 23, 443]), { qos: 1 });
  await until('two in-alarm violations', () => cloud().filter((r) => r.doc.event === 'in-alarm').length >= 2 && true);
  await until('the action record', () => cloud().some((r) => r.doc.record === 'action'));
  await device.publishAsync(`$aws/things/${DEVICE}/defender/metrics/json`, report(1002, [443]), { qos: 1 });
  await until('two alarm-cleared violations', () => cloud().filter((r) => r.doc.event === 'alarm-cleared').length >= 2 && true);
  await until('the answers to both reports', () => answers.length >= 2);
  // An operator's command from the cloud (README "Operating it"), answered on …/commands/accepted.
  const command = { commandId: 'c-cloud-1', command: 'status', requestedBy: 'cloud-test' };
  emulator.stdin!.write(`cloud-publish ${COMMANDS} ${JSON.stringify(command)}\n`);
  await until('the answer to the command', () => cloud().some((r) => r.topic === `${COMMANDS}/accepted`));
  records = cloud();
});

afterAll(async () => {
  await device?.endAsync(true).catch(() => undefined);
  for (const c of children.reverse()) {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const selectedBy = (rule: string) => records.filter((r) => runRule(rules.find((x) => x.name === rule)!.sql, r.topic, r.doc).selected);
const violations = (event: string) => records.filter((r) => r.doc.record === 'violation' && r.doc.event === event);

describe("the deployment's configuration runs on the real agent", () => {
  it('check-config accepts our component merge', async () => {
    const { stdout } = await promisify(execFile)(rootNode(), [CLI, 'check-config', join(dir, 'merge.json')], { cwd: dir });
    expect(stdout).toBe(`${join(dir, 'merge.json')}: ok\n`);
  });

  it("the device's reports reach the agent through the bridge mapping and its answers come back, as client device auth allows", () => {
    expect(answers.map((a) => [a.topic, a.body.reportId, a.body.status])).toEqual([
      [`$aws/things/${DEVICE}/defender/metrics/json/accepted`, 1001, 'ACCEPTED'],
      [`$aws/things/${DEVICE}/defender/metrics/json/accepted`, 1002, 'ACCEPTED'],
    ]);
    const auth = merges[AUTH] as unknown as Parameters<typeof clientDeviceAllows>[0];
    expect(clientDeviceAllows(auth, DEVICE, 'mqtt:connect', `mqtt:clientId:${DEVICE}`)).toBe(true);
    expect(clientDeviceAllows(auth, DEVICE, 'mqtt:publish', `mqtt:topic:$aws/things/${DEVICE}/defender/metrics/json`)).toBe(true);
    for (const filter of [`$aws/things/${DEVICE}/defender/metrics/+/accepted`, `$aws/things/${DEVICE}/defender/metrics/+/rejected`]) {
      expect(clientDeviceAllows(auth, DEVICE, 'mqtt:subscribe', `mqtt:topicfilter:${filter}`)).toBe(true);
    }
  });
});

describe('the rules select the records the agent publishes', () => {
  it('the agent published what the rules expect: violations, an action, heartbeats, forwarded reports', () => {
    const inAlarm = violations('in-alarm');
    expect(inAlarm.map((r) => [r.topic, r.doc.behavior, r.doc.suppressAlerts]).sort()).toEqual([
      [`defender-edge/${DEVICE}/violations`, 'noTelnet', false],
      [`defender-edge/${DEVICE}/violations`, 'quietSsh', true],
    ]);
    expect(violations('alarm-cleared')).toHaveLength(2);
    const actions = records.filter((r) => r.doc.record === 'action');
    expect(actions.length).toBeGreaterThanOrEqual(1);
    expect(actions[0]!.doc).toMatchObject({ type: 'address-block', dryRun: true, violation: { thingName: DEVICE, behavior: 'noTelnet' } });
    expect(records.some((r) => r.topic === `$aws/things/${DEVICE}/defender/metrics/json`)).toBe(true);
  });

  it('alerts: exactly the unsuppressed in-alarm violation, with its violation id and a TTL 30 days ahead', () => {
    const selected = selectedBy('alerts');
    expect(selected.map((r) => r.doc.behavior)).toEqual(['noTelnet']);
    const now = Date.now();
    const item = runRule(rules.find((x) => x.name === 'alerts')!.sql, selected[0]!.topic, selected[0]!.doc, now).output!;
    expect(item.violationId).toBe(selected[0]!.doc.violationId);
    expect(typeof item.violationId).toBe('string');
    // The dedupe key agrees with the agent's own de-duplication key: an in-alarm record's recordId is its
    // violation id and event, so one item per violation id is one item per record.
    expect(item.recordId).toBe(`${String(item.violationId)}:in-alarm`);
    expect(item.expiresAt).toBe(Math.floor(now / 1000) + 30 * 86_400);
  });

  it('the alert e-mail, built from the dedupe-table item as the stream delivers it', () => {
    const r = selectedBy('alerts')[0]!;
    const item = runRule(rules.find((x) => x.name === 'alerts')!.sql, r.topic, r.doc).output!;
    const { subject, message } = notify.formatAlert(notify.unmarshall(dynamoImage(item)));
    expect(subject).toBe(`defender-edge: noTelnet in alarm on ${DEVICE}`);
    expect(message).toContain(`Thing:       ${DEVICE} (gateway ${GATEWAY})`);
    expect(message).toContain('Behavior:    noTelnet (aws:listening-tcp-ports)');
    expect(message).toContain(`Offender:    device ${DEVICE}`);
    expect(message).toContain('Action:      address-block');
    expect(message).toContain(`Violation:   ${String(r.doc.violationId)}`);
  });

  it('metric rules: violation events, new violations, actions and heartbeats, each metric name defined for the record', () => {
    expect(selectedBy('violation_events')).toHaveLength(4);
    expect(
      selectedBy('new_violations')
        .map((r) => r.doc.behavior)
        .sort(),
    ).toEqual(['noTelnet', 'quietSsh']);
    expect(selectedBy('actions').length).toBe(records.filter((r) => r.doc.record === 'action').length);
    const heartbeats = selectedBy('heartbeats');
    expect(heartbeats.length).toBeGreaterThanOrEqual(1);
    expect(heartbeats.every((r) => r.topic === `defender-edge/${GATEWAY}/heartbeat`)).toBe(true);
    // Nothing else is picked up: forwarded Defender reports match no rule.
    const reports = records.filter((r) => r.topic.startsWith('$aws/'));
    expect(reports.length).toBeGreaterThan(0);
    for (const rule of rules)
      expect(
        reports.filter((r) => runRule(rule.sql, r.topic, r.doc).selected),
        rule.name,
      ).toEqual([]);

    const names = (templates: typeof METRICS.actions, recs: Rec[]) =>
      recs.flatMap((r) => templates.map((m) => `${metricNamespace('DefenderEdge', m)} ${substitute(m.name, r.topic, r.doc)}`));
    expect(new Set(names(METRICS.violationEvents, selectedBy('violation_events')))).toEqual(
      new Set(['DefenderEdge/Violations in-alarm', 'DefenderEdge/Violations alarm-cleared']),
    );
    expect(new Set(names(METRICS.newViolations, selectedBy('new_violations')))).toEqual(
      new Set([
        `DefenderEdge/NewViolationsByThing ${DEVICE}`,
        'DefenderEdge/NewViolationsByBehavior noTelnet',
        'DefenderEdge/NewViolationsByBehavior quietSsh',
      ]),
    );
    const actionMetrics = names(METRICS.actions, selectedBy('actions'));
    expect(actionMetrics).toContain(`DefenderEdge/ActionsByThing ${DEVICE}`);
    expect(actionMetrics).toContain('DefenderEdge/ActionsByType address-block');
    expect(actionMetrics.every((m) => !m.endsWith('undefined'))).toBe(true);
    expect(new Set(names(METRICS.heartbeats, heartbeats))).toEqual(new Set(['DefenderEdge Heartbeats']));
    // Per-gateway heartbeat metrics only for the watched gateway (gw-critical), with the gateway as metric name.
    expect(selectedBy('watched_heartbeats')).toEqual([]);
    const watched = { topic: 'defender-edge/gw-critical/heartbeat', doc: heartbeats[0]!.doc };
    expect(runRule(rules.find((x) => x.name === 'watched_heartbeats')!.sql, watched.topic, watched.doc).selected).toBe(true);
    expect(names(METRICS.watchedHeartbeats, [watched])).toEqual(['DefenderEdge/Heartbeats gw-critical']);

    // The templates in the synthesized rules are the ones evaluated here.
    const synthesized = rules.flatMap((r) => r.actions.filter((a) => a.CloudwatchMetric).map((a) => a.CloudwatchMetric!.MetricName));
    expect(new Set(synthesized)).toEqual(new Set(Object.values(METRICS).flatMap((ms) => ms.map((m) => m.name))));
  });

  it("every topic the agent published to is allowed by the core device's IoT policy", () => {
    const s = fleetSettings(fleetConfig);
    const doc = corePolicy(
      {
        gatewayPrefix: s.gateways.thingNamePrefix,
        devicePrefix: s.downstream.thingNamePrefix,
        roleAliasName: s.tokenExchange.roleAliasName,
      },
      (service, resource) => `arn:aws:${service}:eu-west-1:123456789012:${resource}`,
    );
    // The gateway's own report goes out every reporting.intervalSeconds (≥ 300 s), after this test.
    const topics = [...new Set([...records.map((r) => r.topic), `$aws/things/${GATEWAY}/defender/metrics/json`])];
    expect(topics).toEqual(
      expect.arrayContaining([
        `defender-edge/${DEVICE}/violations`,
        `defender-edge/${GATEWAY}/heartbeat`,
        `$aws/things/${DEVICE}/defender/metrics/json`,
        `${COMMANDS}/accepted`,
      ]),
    );
    expect(records.find((r) => r.topic === `${COMMANDS}/accepted`)!.doc).toMatchObject({ commandId: 'c-cloud-1', command: 'status' });
    for (const t of topics) expect(iotPolicyAllows(doc, 'iot:Publish', `arn:aws:iot:eu-west-1:123456789012:topic/${t}`), t).toBe(true);
    // The agent's subscriptions (src/agent/agent.ts, src/control/cloudCommands.ts), by their exact filters,
    // and the messages they bring.
    for (const f of [`$aws/things/${GATEWAY}/defender/metrics/+/accepted`, '$aws/things/+/defender/metrics/+/rejected', COMMANDS]) {
      expect(iotPolicyAllows(doc, 'iot:Subscribe', `arn:aws:iot:eu-west-1:123456789012:topicfilter/${f}`), f).toBe(true);
    }
    expect(iotPolicyAllows(doc, 'iot:Receive', `arn:aws:iot:eu-west-1:123456789012:topic/${COMMANDS}`)).toBe(true);
    // Commands come from operators (IAM), never from the core's own connection.
    expect(iotPolicyAllows(doc, 'iot:Publish', `arn:aws:iot:eu-west-1:123456789012:topic/${COMMANDS}`)).toBe(false);
  });
});

/** The DynamoDBv2 rule action writes each top-level field of the SELECT result as an attribute. */
function dynamoImage(item: Record<string, unknown>): Record<string, unknown> {
  const av = (v: unknown): unknown => {
    if (v === null) return { NULL: true };
    if (typeof v === 'string') return { S: v };
    if (typeof v === 'number') return { N: String(v) };
    if (typeof v === 'boolean') return { BOOL: v };
    if (Array.isArray(v)) return { L: v.map(av) };
    return { M: Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, av(x)])) };
  };
  return Object.fromEntries(Object.entries(item).map(([k, v]) => [k, av(v)]));
}
