// The standard client-device set-up for tests against the classic emulator: the deployment a real gateway
// gets for downstream devices (Auth device group, broker, bridge mapping for Device Defender reports) and
// TLS devices with certificates the emulator issues. (Not a test file itself.)
import { parseTopicMapping, type TopicMapping } from '../../src/ipc/emulator/bridgeMapping.ts';
import { type ClientDeviceDeploymentOptions, clientDeviceDeployment } from '../../src/ipc/emulator/clientDeviceDeployment.ts';
import type { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { connectDevice, type Device, type DeviceTls, tlsOptions } from './mqttDevice.ts';

export { clientDeviceDeployment };

/** Apply the standard client-device deployment (options as clientDeviceDeployment); throws on failure. */
export async function deployClientDevices(emu: GreengrassEmulator, options: ClientDeviceDeploymentOptions = {}): Promise<void> {
  const r = await emu.deploy(clientDeviceDeployment(options));
  if (!r.ok) throw new Error(`client-device deployment failed: ${r.errors.join('; ')}`);
}

/** A certificate for `thing` issued by the emulator's CA, written into `dir`. */
export function deviceTls(emu: GreengrassEmulator, thing: string, dir: string): DeviceTls {
  const { caPath, certPath, keyPath } = emu.issueDeviceCertificate(thing, dir);
  return { caPath, certPath, keyPath };
}

/** A TLS device connected with its thing name as client id (certificate issued on the spot). */
export async function connectThing(emu: GreengrassEmulator, thing: string, dir: string): Promise<Device & { tls: DeviceTls }> {
  const tls = deviceTls(emu, thing, dir);
  const d = await connectDevice(emu.mqttUrl!, thing, tlsOptions(tls));
  return { ...d, tls };
}

/** A bridge `mqttTopicMapping` object parsed; throws on a mapping the bridge would refuse. */
export function topicMapping(raw: Record<string, unknown>): TopicMapping {
  const p = parseTopicMapping(raw);
  if (!p.ok) throw new Error(p.errors.join('; '));
  return p.mapping;
}

/** A mapping a deployment might carry: Defender reports and devices/# up to pub/sub, their answers and devices/# down. */
export const REPORTS_AND_DEVICES: TopicMapping = topicMapping({
  DeviceDefenderReportsToPubsub: { topic: '$aws/things/+/defender/metrics/+', source: 'LocalMqtt', target: 'Pubsub' },
  DevicesToPubsub: { topic: 'devices/#', source: 'LocalMqtt', target: 'Pubsub' },
  DeviceDefenderAcceptedToLocalMqtt: { topic: '$aws/things/+/defender/metrics/+/accepted', source: 'Pubsub', target: 'LocalMqtt' },
  DeviceDefenderRejectedToLocalMqtt: { topic: '$aws/things/+/defender/metrics/+/rejected', source: 'Pubsub', target: 'LocalMqtt' },
  DevicesToLocalMqtt: { topic: 'devices/#', source: 'Pubsub', target: 'LocalMqtt' },
});
