// The downstream-device deployment of docs/packaging.md, for real: docs/examples/deployment.json (shown byte
// for byte in the docs, and the same as what the cloud app deploys) fed unchanged to `defender-edge emulator
// --deployment`, the agent as `defender-edge run`, and mqtt.js devices over TLS with certificates from the
// emulator's core device CA. On the Java nucleus: a report answered and forwarded, a device publishing on
// another thing's topic dropped by the broker, a thing outside the device group refused, and the same
// deployment with `+` in the publish resources denying the device's own report. On nucleus lite the four
// client-device components do not exist: the deployment is refused and the device path is skipped.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { deploymentComponents } from '../../cloud/lib/componentConfigs.ts';
import { fleetSettings } from '../../cloud/lib/fleetConfig.ts';
import { CLIENT_DEVICE_COMPONENT_VERSIONS } from '../../src/ipc/emulator/clientDeviceDeployment.ts';
import { parseDeployment } from '../../src/ipc/emulator/deployment.ts';
import { NUCLEUS_FLAVORS } from '../../src/ipc/emulator/flavor.ts';
import { CLI, CliTestResources, type EmulatorProcess, spawnEmulator } from '../support/ipc.ts';
import { closeDevices, connectDevice, type Device, type DeviceTls, refusedConnect, tlsOptions } from '../support/mqttDevice.ts';
import { requirement, requires } from '../support/requirements.ts';
import { until } from '../support/until.ts';

const EXAMPLE = fileURLToPath(new URL('../../docs/examples/deployment.json', import.meta.url));
const PACKAGING = fileURLToPath(new URL('../../docs/packaging.md', import.meta.url));
const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const COMPONENT = 'com.defender-edge.DefenderEdge';
const AUTH = 'aws.greengrass.clientdevices.Auth';
const PLUGINS = [
  AUTH,
  'aws.greengrass.clientdevices.mqtt.Moquette',
  'aws.greengrass.clientdevices.IPDetector',
  'aws.greengrass.clientdevices.mqtt.Bridge',
];
const GW = 'gw-1';
const TOKEN = 'DOWNSTREAMTOKEN1';
const LITE_SKIP =
  'nucleus lite has no client-device broker, client device auth or MQTT bridge (Java nucleus plugins): no downstream device can reach a lite gateway';

interface Component {
  componentVersion: string;
  configurationUpdate?: { merge?: string; reset?: string[] };
}
interface DeploymentJson {
  targetArn: string;
  deploymentName: string;
  components: Record<string, Component>;
  deploymentPolicies: unknown;
}

const exampleText = (): string => readFileSync(EXAMPLE, 'utf8');
const example = (): DeploymentJson => JSON.parse(exampleText()) as DeploymentJson;
const mergeOf = (c: Component | undefined): Record<string, unknown> =>
  JSON.parse(c?.configurationUpdate?.merge ?? '{}') as Record<string, unknown>;

/** `p`, or a failure naming `what` after `ms` (a denied QoS 1 publish is never acknowledged). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const res = new CliTestResources();
const agents: ChildProcess[] = [];
const devices: Device[] = [];
afterEach(async () => {
  await closeDevices(devices);
  for (const a of agents.splice(0)) {
    if (a.exitCode !== null || a.signalCode !== null) continue;
    const exited = new Promise((r) => a.once('exit', r));
    a.kill('SIGKILL');
    await exited;
  }
  await res.teardown();
});

describe('docs/examples/deployment.json', () => {
  it('is the JSON docs/packaging.md shows, a valid create-deployment document, and the deployment the cloud app builds', () => {
    const docs = readFileSync(PACKAGING, 'utf8');
    const shown = /<!-- deployment-example:[^\n]*-->\n```json\n([\s\S]*?)\n```/.exec(docs)?.[1];
    expect(shown, 'docs/packaging.md: the ```json block after <!-- deployment-example: … --> (paste docs/examples/deployment.json)').toBe(
      exampleText().trimEnd(),
    );
    const doc = example();
    expect(parseDeployment(doc)).toMatchObject({ ok: true });
    expect(Object.keys(doc.components)).toEqual([COMPONENT, ...PLUGINS]);

    // cloud/ deploys the same components, versions and merges for the same fleet (gateways gw-…, devices sensor-…).
    const cloud = deploymentComponents(
      fleetSettings({
        gateways: { thingGroupName: 'defender-edge-gateways', thingNamePrefix: 'gw-' },
        downstream: { thingNamePrefix: 'sensor-' },
        component: { version: '1.0.0', configuration: { downstream: { forwardMinIntervalSeconds: 300 } } },
        alerts: { emails: ['security-team@example.com'] },
      }),
    );
    expect(Object.keys(cloud)).toEqual(Object.keys(doc.components));
    for (const [name, c] of Object.entries(cloud)) {
      expect(doc.components[name]?.componentVersion, name).toBe(c.version);
      expect(mergeOf(doc.components[name]), name).toEqual(c.merge);
    }
    // …and the emulator's standard client-device deployment names the same versions.
    for (const name of PLUGINS) {
      expect(doc.components[name]!.componentVersion, name).toBe(
        CLIENT_DEVICE_COMPONENT_VERSIONS[name as keyof typeof CLIENT_DEVICE_COMPONENT_VERSIONS],
      );
    }
    // The agent and client device auth agree on who the downstream devices are.
    const agent = mergeOf(doc.components[COMPONENT]) as { downstream: { thingNamePattern: string } };
    const groups = mergeOf(doc.components[AUTH]) as { deviceGroups: { definitions: Record<string, { selectionRule: string }> } };
    expect(Object.values(groups.deviceGroups.definitions).map((d) => d.selectionRule)).toEqual(['thingName: sensor-*']);
    expect(new RegExp(`^(?:${agent.downstream.thingNamePattern})$`).test('sensor-1')).toBe(true);
  });
});

interface Recorded {
  topic: string;
  payload: string;
}

const report = (rid: number) =>
  JSON.stringify({
    header: { report_id: rid, version: '1.0' },
    metrics: { listening_tcp_ports: { ports: [{ port: 443 }], total: 1 }, network_stats: { bytes_in: 10, bytes_out: 20 } },
  });

/** The Auth merge with its publish resources written with `+`, as an older policy had them. */
function plusPolicy(doc: DeploymentJson): Record<string, unknown> {
  const merge = mergeOf(doc.components[AUTH]) as {
    deviceGroups: { policies: Record<string, Record<string, { operations: string[]; resources: string[] }>> };
  };
  for (const policy of Object.values(merge.deviceGroups.policies)) {
    for (const statement of Object.values(policy)) {
      if (statement.operations.includes('mqtt:publish')) {
        statement.resources = ['mqtt:topic:$aws/things/${iot:Connection.Thing.ThingName}/defender/metrics/+'];
      }
    }
  }
  return merge;
}

/** The gateway's machine settings (not part of the deployment): fast samples, a heartbeat every second, no per-process collection. */
function writeOverrides(dir: string): string {
  const path = join(dir, 'overrides.json');
  writeFileSync(
    path,
    JSON.stringify({
      sampling: { intervalMs: 200 },
      heartbeat: { intervalSeconds: 1 },
      collector: { perProcess: false, customMetrics: false, tcpBytes: false },
    }),
  );
  return path;
}

/** `defender-edge run` as the nucleus starts a component: socket, SVCUID and thing name in the environment. */
function startAgentProcess(dir: string, socket: string, reportEverySeconds: number): { agent: ChildProcess; stderr: () => string } {
  const agent = spawn(
    process.execPath,
    [CLI, 'run', '--state-dir', join(dir, 'state'), '--report-interval-seconds', String(reportEverySeconds), '--log-level', 'warn'],
    {
      env: { ...process.env, AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: socket, SVCUID: TOKEN, AWS_IOT_THING_NAME: GW },
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: dir,
    },
  );
  agents.push(agent);
  let err = '';
  agent.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { agent, stderr: () => err };
}

/** What reached the simulated cloud so far. */
function cloudRecord(record: string): Recorded[] {
  return existsSync(record)
    ? readFileSync(record, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Recorded)
    : [];
}

describe('the deployment on the lite emulator', () => {
  it('is refused by nucleus lite, naming each client-device component; the component alone deploys and runs', async () => {
    const dir = res.dir();
    const refused = spawnEmulator(
      ['--nucleus', 'lite', '--socket', join(dir, 'a.sock'), '--recipe', RECIPE, '--token', TOKEN, '--deployment', EXAMPLE],
      dir,
    );
    res.procs.push(refused);
    await expect(refused.ready).rejects.toThrow(/exited/);
    expect((await refused.exited).code).toBe(1);
    for (const name of PLUGINS) {
      expect(refused.stderr()).toContain(`components.${name}: nucleus lite runs generic components only; ${name} is a Java nucleus plugin`);
    }

    // What docs/packaging.md says to deploy to a lite gateway: only the component, with the same merge.
    const doc = example();
    writeFileSync(join(dir, 'lite.json'), JSON.stringify({ ...doc, components: { [COMPONENT]: doc.components[COMPONENT] } }));
    const socket = join(dir, 'b.sock');
    const record = join(dir, 'cloud.jsonl');
    const accepted = spawnEmulator(
      [
        ...['--nucleus', 'lite', '--socket', socket, '--recipe', RECIPE, '--token', TOKEN, '--thing', GW, '--record', record],
        ...['--config', writeOverrides(dir), '--deployment', join(dir, 'lite.json')],
      ],
      dir,
    );
    res.procs.push(accepted);
    expect(await accepted.ready).toMatchObject({ ready: true, nucleus: 'lite', components: { [COMPONENT]: TOKEN } });
    expect(await accepted.send('status')).toMatchObject({ deployments: { applied: 1, failed: 0 } });

    // `defender-edge run` on it: reports reach IoT Core, and the deployed configuration is in force — a report
    // for sensor-1 on local pub/sub (from some other component: lite has no bridge) is taken as a known
    // device's (downstream.thingNamePattern from the merge) and forwarded.
    const { stderr } = startAgentProcess(dir, socket, 1);
    await until(
      () => cloudRecord(record).some((m) => m.topic === `$aws/things/${GW}/defender/metrics/json`),
      20_000,
      `a gateway report (${stderr()})`,
    );
    const heartbeat = await until(
      () => cloudRecord(record).find((m) => m.topic === `defender-edge/${GW}/heartbeat`),
      10_000,
      'a heartbeat',
    );
    expect(JSON.parse(heartbeat.payload)).toMatchObject({ configSource: 'nucleus', configValidation: 'on-apply', configErrors: [] });
    const body = JSON.parse(report(7101)) as Record<string, unknown>;
    // The agent's local subscription may still be on its way: publish until it is heard.
    const forwarded = await until(
      async () => {
        await accepted.send(`local-publish $aws/things/sensor-1/defender/metrics/json ${JSON.stringify(body)}`);
        return cloudRecord(record).find((m) => m.topic === '$aws/things/sensor-1/defender/metrics/json');
      },
      10_000,
      'the sensor-1 report forwarded',
      200,
    );
    expect(JSON.parse(forwarded.payload)).toEqual(body);
  });
});

describe.each(NUCLEUS_FLAVORS)('downstream devices through the deployment on the %s emulator', (nucleus) => {
  it('a report answered and forwarded, another thing’s topic dropped by the broker, `+` policies deny', {
    ...requires(requirement(nucleus === 'classic', LITE_SKIP)),
    timeout: 60_000,
  }, async () => {
    const dir = res.dir();
    const record = join(dir, 'cloud.jsonl');
    const socket = join(dir, 'ipc.sock');
    const emu: EmulatorProcess = spawnEmulator(
      [
        '--nucleus',
        'classic',
        '--socket',
        socket,
        '--recipe',
        RECIPE,
        '--config',
        writeOverrides(dir),
        '--deployment',
        EXAMPLE,
        '--thing',
        GW,
        '--token',
        TOKEN,
        '--record',
        record,
        '--mqtt',
        '0',
        '--cert-dir',
        join(dir, 'certs'),
        '--issue-cert',
        'sensor-1',
        '--issue-cert',
        'sensor-2',
        '--issue-cert',
        'intruder',
      ],
      dir,
    );
    res.procs.push(emu);
    const ready = await emu.ready;
    expect(ready.components[COMPONENT]).toBe(TOKEN);
    expect(await emu.send('status')).toMatchObject({
      deployments: { applied: 1, failed: 0 },
      mqtt: { deviceGroups: ['DefenderEdgeDownstreamDevices'], bridge: { mappings: 3 } },
    });

    const { agent, stderr: agentErr } = startAgentProcess(dir, socket, 3600);
    const cloud = (): Recorded[] => cloudRecord(record);
    const reportIds = (topic: string): number[] =>
      cloud()
        .filter((m) => m.topic === topic)
        .map((m) => (JSON.parse(m.payload) as { header: { report_id: number } }).header.report_id);
    // Validation, configuration updates, two IoT Core and one local subscription: the agent listens.
    await until(async () => ((await emu.send('status')).openStreams as number) >= 5, 20_000, `the agent's subscriptions (${agentErr()})`);

    const tls = (thing: string): DeviceTls => ({ caPath: ready.ca!, ...ready.deviceCerts![thing]! });
    const device = async (thing: string): Promise<Device> => {
      const d = await connectDevice(ready.mqtt!, thing, tlsOptions(tls(thing)));
      devices.push(d);
      const granted = await d.client.subscribeAsync(
        [`$aws/things/${thing}/defender/metrics/+/accepted`, `$aws/things/${thing}/defender/metrics/+/rejected`],
        { qos: 1 },
      );
      expect(granted.map((g) => g.qos)).toEqual([1, 1]);
      return d;
    };
    const answers = (d: Device) =>
      d.received.map((m) => ({ topic: m.topic, ...(JSON.parse(m.payload.toString()) as { reportId: number; status: string }) }));
    const sensor1 = await device('sensor-1');
    const sensor2 = await device('sensor-2');

    // A report in: answered on accepted over local MQTT, forwarded unchanged to the device's reserved topic.
    await within(
      sensor1.client.publishAsync('$aws/things/sensor-1/defender/metrics/json', report(7001), { qos: 1 }),
      5000,
      'PUBACK for 7001',
    );
    await until(() => answers(sensor1).some((a) => a.reportId === 7001), 10_000, 'the answer to 7001');
    expect(answers(sensor1)).toEqual([
      expect.objectContaining({ topic: '$aws/things/sensor-1/defender/metrics/json/accepted', reportId: 7001, status: 'ACCEPTED' }),
    ]);
    const forwarded = await until(
      () => cloud().find((m) => m.topic === '$aws/things/sensor-1/defender/metrics/json'),
      10_000,
      'the forwarded report',
    );
    expect(forwarded.payload).toBe(report(7001));

    // sensor-1 on sensor-2's topic: client device auth denies the publish at the broker, nothing goes on.
    sensor1.client.publish('$aws/things/sensor-2/defender/metrics/json', report(7002), { qos: 0 });
    const clientStats = async (id: string) =>
      ((await emu.send('status')) as { mqtt: { clients: Array<{ clientId: string; deniedPublishes: number }> } }).mqtt.clients.find(
        (c) => c.clientId === id,
      );
    await until(async () => (await clientStats('sensor-1'))?.deniedPublishes === 1, 10_000, 'the spoofed publish denied');
    // sensor-2's own report after it goes through the same broker, bridge and agent: the spoof is not behind it.
    await within(
      sensor2.client.publishAsync('$aws/things/sensor-2/defender/metrics/json', report(7003), { qos: 1 }),
      5000,
      'PUBACK for 7003',
    );
    await until(() => reportIds('$aws/things/sensor-2/defender/metrics/json').includes(7003), 10_000, 'sensor-2 forwarded');
    expect(reportIds('$aws/things/sensor-2/defender/metrics/json')).toEqual([7003]);
    expect(answers(sensor2).map((a) => a.reportId)).toEqual([7003]);

    // Outside the device group, or someone else's thing name as client id: no connection at all.
    expect((await refusedConnect(ready.mqtt!, 'intruder', tlsOptions(tls('intruder')))).code).toBe(4);
    expect((await refusedConnect(ready.mqtt!, 'sensor-2', tlsOptions(tls('sensor-1')))).code).toBe(4);

    // The same deployment with the publish resources written `…/defender/metrics/+` (literal there): the
    // deployment applies, and the device's own report is denied, as on a real core.
    const doc = example();
    const auth = doc.components[AUTH]!;
    const replay = {
      components: {
        [AUTH]: {
          componentVersion: auth.componentVersion,
          configurationUpdate: { reset: ['/deviceGroups'], merge: JSON.stringify(plusPolicy(doc)) },
        },
      },
    };
    expect(await emu.send(`deploy ${JSON.stringify(replay)}`)).toMatchObject({ ok: true });
    const heartbeats = () => cloud().filter((m) => m.topic === `defender-edge/${GW}/heartbeat`).length;
    await sensor1.client.publishAsync('$aws/things/sensor-1/defender/metrics/json', report(7004), { qos: 0 });
    await until(async () => (await clientStats('sensor-1'))?.deniedPublishes === 2, 10_000, 'the report denied under the + policy');
    const before = heartbeats();
    await until(() => heartbeats() >= before + 2, 10_000, 'two more heartbeats'); // the agent ran on meanwhile
    expect(reportIds('$aws/things/sensor-1/defender/metrics/json')).toEqual([7001]);
    expect(answers(sensor1).map((a) => a.reportId)).toEqual([7001]);
    const last = JSON.parse(
      cloud()
        .filter((m) => m.topic === `defender-edge/${GW}/heartbeat`)
        .at(-1)!.payload,
    ) as { rejectedInputs: number };
    expect(last.rejectedInputs).toBe(0); // nothing spoofed or invalid ever reached the agent
    expect(agent.exitCode).toBeNull();
  });
});
