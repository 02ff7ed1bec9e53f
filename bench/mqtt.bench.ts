// Downstream device messages through the emulator's client-device broker and MQTT bridge: latency of
// device → component (mqtt.js publish QoS 0 → SubscribeToTopic event at a GreengrassIpcClient) and of a
// full report/answer round trip (device → component → device), against the same-run baseline of
// device → device through the broker alone. Everything shares one process, so numbers include both sides.
// The broker speaks TLS with client certificates and authorizes every packet, as on a real core; the
// bench deploys the client-device configuration it needs first.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { clientDeviceDeployment } from '../src/ipc/emulator/clientDeviceDeployment.ts';
import { GreengrassEmulator } from '../src/ipc/emulator/emulator.ts';
import { GreengrassIpcClient } from '../src/ipc/ipcClient.ts';
import { until } from '../test/support/until.ts';
import type { BenchSuite } from './run.ts';
import { median, percentile, round } from './stats.ts';

const TOKEN = 'BENCHMQTTTOKEN01';

interface Timing {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** One message in flight at a time: `send` starts it, the promise from `next()` marks its arrival. */
async function sequential(n: number, send: (i: number) => void, arrival: () => Promise<void>): Promise<Timing> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const arrived = arrival();
    send(i);
    await arrived;
    lat.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  return { perSecond: round((n / total) * 1000, 0), p50Ms: round(median(lat)), p99Ms: round(percentile(lat, 99)) };
}

/** A queue of waiters resolved one per received message. */
function arrivals(): { arrival: () => Promise<void>; arrived: () => void } {
  const waiters: (() => void)[] = [];
  return {
    arrival: () => new Promise<void>((r) => waiters.push(r)),
    arrived: () => waiters.shift()?.(),
  };
}

export const suite: BenchSuite = {
  name: 'mqtt',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'dedge-bench-mqtt-'));
    const emu = new GreengrassEmulator({ socketPath: join(dir, 'ipc.sock'), token: TOKEN, mqttPort: 0, certDir: join(dir, 'ca') });
    await emu.start();
    const deployed = await emu.deploy(
      clientDeviceDeployment({
        selectionRule: 'thingName: bench-*',
        extraStatements: {
          Bench: {
            operations: ['mqtt:publish', 'mqtt:subscribe'],
            resources: ['mqtt:topic:bench/direct', 'mqtt:topicfilter:bench/direct'],
          },
          Telemetry: { operations: ['mqtt:publish'], resources: ['mqtt:topic:devices/${iot:Connection.Thing.ThingName}/telemetry'] },
        },
        extraMappings: { Telemetry: { topic: 'devices/+/telemetry', source: 'LocalMqtt', target: 'Pubsub' } },
      }),
    );
    if (!deployed.ok) throw new Error(deployed.errors.join('; '));
    const tls = (thing: string): IClientOptions => {
      const c = emu.issueDeviceCertificate(thing, join(dir, 'devices'));
      return { ca: readFileSync(c.caPath), cert: readFileSync(c.certPath), key: readFileSync(c.keyPath) };
    };
    const ipc = new GreengrassIpcClient({ socketPath: emu.socketPath, authToken: TOKEN });
    const devices: MqttClient[] = [];
    try {
      ipc.start();
      await ipc.whenConnected(5000);
      const url = emu.mqttUrl!;
      const sender = await connectAsync(url, { clientId: 'bench-sender', reconnectPeriod: 0, ...tls('bench-sender') });
      const receiver = await connectAsync(url, { clientId: 'bench-receiver', reconnectPeriod: 0, ...tls('bench-receiver') });
      devices.push(sender, receiver);
      const report = Buffer.from(
        JSON.stringify({ header: { report_id: 1, version: '1.0' }, metrics: { listening_tcp_ports: { ports: [{ port: 22 }], total: 1 } } }),
      );

      // Baseline: device → device through the broker, no bridge involved (unmapped topic).
      const direct = arrivals();
      await receiver.subscribeAsync('bench/direct', { qos: 0 });
      receiver.on('message', (topic) => {
        if (topic === 'bench/direct') direct.arrived();
        else if (topic.endsWith('/accepted')) answer.arrived();
      });

      // Device → component through LocalMqtt → Pubsub.
      const up = arrivals();
      const upSub = ipc.subscribeToTopic('devices/+/telemetry', () => up.arrived());
      // Report → component → answer on local pub/sub → device.
      const answer = arrivals();
      const reportSub = ipc.subscribeToTopic('$aws/things/+/defender/metrics/json', async (m) => {
        await ipc.publishToTopic(`${m.topic}/accepted`, { status: 'ACCEPTED' });
      });
      await receiver.subscribeAsync('$aws/things/bench-receiver/defender/metrics/json/accepted', { qos: 0 });
      await until(() => upSub.status === 'active' && reportSub.status === 'active', 10_000, 'both subscriptions active');

      const sendDirect = (): void => void sender.publish('bench/direct', report, { qos: 0 });
      const sendUp = (): void => void sender.publish('devices/bench-sender/telemetry', report, { qos: 0 });
      const sendReport = (): void => void receiver.publish('$aws/things/bench-receiver/defender/metrics/json', report, { qos: 0 });
      for (let i = 0; i < 200; i++) {
        // warm-up (JIT, CRT buffers, socket paths)
        await sequential(1, sendDirect, direct.arrival);
        await sequential(1, sendUp, up.arrival);
        await sequential(1, sendReport, answer.arrival);
      }
      const N = 1000;
      const baseline = await sequential(N, sendDirect, direct.arrival);
      const deviceToComponent = await sequential(N, sendUp, up.arrival);
      const roundTrip = await sequential(N, sendReport, answer.arrival);
      return {
        payloadBytes: report.length,
        baselineDeviceToDevice: baseline,
        deviceToComponent,
        reportAnswerRoundTrip: roundTrip,
        ratioDeviceToComponentVsBaselineP50: round(deviceToComponent.p50Ms / baseline.p50Ms, 2),
        ratioRoundTripVsBaselineP50: round(roundTrip.p50Ms / baseline.p50Ms, 2),
        bridge: emu.status().mqtt?.bridge,
      };
    } finally {
      for (const d of devices) await d.endAsync(true).catch(() => undefined);
      await ipc.stop();
      await emu.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
