// One line of `defender-edge collect --json` output — {"host": HostSample, "devices": [DeviceSample]} — read
// back for `defender-edge evaluate`, so a recorded session replays through the same datapoint code as the
// agent. The file is user input: every field the datapoints are built from is checked, errors are
// `path: message` naming the value; fields the datapoints do not read are left alone (a newer collector
// may add some, see src/collector/sample.ts).
import type { DeviceSample, HostSample } from '../collector/sample.ts';
import { isPlainObject } from '../plainObject.ts';
import { describeValue, type Parsed } from './metricValue.ts';

/** What `collect --json` prints per sample (the collector's CollectorSample). */
export interface RecordedSample {
  host: HostSample;
  devices: DeviceSample[];
}

type Check = (x: unknown, path: string, errors: string[]) => void;

const isCount = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

const count: Check = (x, path, errors) => {
  if (!isCount(x)) errors.push(`${path}: must be a non-negative integer, got ${describeValue(x)}`);
};
const text: Check = (x, path, errors) => {
  if (typeof x !== 'string' || x.length === 0) errors.push(`${path}: must be a non-empty string, got ${describeValue(x)}`);
};
const optional =
  (check: Check): Check =>
  (x, path, errors) => {
    if (x !== undefined) check(x, path, errors);
  };
const listOf =
  (check: Check): Check =>
  (x, path, errors) => {
    if (!Array.isArray(x)) {
      errors.push(`${path}: must be an array, got ${describeValue(x)}`);
      return;
    }
    x.forEach((v, i) => {
      check(v, `${path}[${i}]`, errors);
    });
  };
const object =
  (fields: Record<string, Check>): Check =>
  (x, path, errors) => {
    if (!isPlainObject(x)) {
      errors.push(`${path}: must be an object, got ${describeValue(x)}`);
      return;
    }
    for (const [k, check] of Object.entries(fields)) check(x[k], `${path}.${k}`, errors);
  };
const port: Check = (x, path, errors) => {
  if (!isCount(x) || (x as number) > 65_535) errors.push(`${path}: must be a port 0–65535, got ${describeValue(x)}`);
};
const oneOf =
  (...allowed: string[]): Check =>
  (x, path, errors) => {
    if (typeof x !== 'string' || !allowed.includes(x))
      errors.push(`${path}: must be one of ${allowed.join(', ')}, got ${describeValue(x)}`);
  };

const traffic = object({ bytesIn: count, bytesOut: count, packetsIn: count, packetsOut: count });

const customValue: Check = (x, path, errors) => {
  if (!isPlainObject(x) || Object.keys(x).length !== 1) {
    errors.push(`${path}: must be one of {number}, {number_list}, {string_list}, {ip_list}, got ${describeValue(x)}`);
    return;
  }
  const [[kind, v]] = Object.entries(x) as [[string, unknown]];
  if (kind === 'number') {
    if (typeof v !== 'number' || !Number.isFinite(v)) errors.push(`${path}.number: must be a finite number, got ${describeValue(v)}`);
  } else if (kind === 'number_list') {
    listOf((n, p, e) => {
      if (typeof n !== 'number' || !Number.isFinite(n)) e.push(`${p}: must be a finite number, got ${describeValue(n)}`);
    })(v, `${path}.number_list`, errors);
  } else if (kind === 'string_list' || kind === 'ip_list') {
    listOf(text)(v, `${path}.${kind}`, errors);
  } else {
    errors.push(`${path}.${kind}: is not a custom metric value (number, number_list, string_list, ip_list)`);
  }
};

const hostSample = object({
  t: count,
  intervalMs: count,
  network: optional(traffic),
  listening: listOf(object({ protocol: oneOf('tcp', 'udp'), address: text, port })),
  established: listOf(object({ remoteAddress: text })),
  processes: listOf(
    object({
      pid: count,
      comm: text,
      exe: optional(text),
      cgroup: optional((x, p, e) => {
        if (typeof x !== 'string') e.push(`${p}: must be a string, got ${describeValue(x)}`);
      }),
      startTime: optional(count),
      traffic,
      family: optional(count),
      listeningTcpPorts: listOf(port),
      listeningUdpPorts: listOf(port),
      establishedConnections: count,
      remoteAddresses: listOf(text),
      messagesSent: optional(count),
      messagesReceived: optional(count),
      messageBytes: optional(count),
    }),
  ),
  custom: (x, path, errors) => {
    if (!isPlainObject(x)) errors.push(`${path}: must be an object of custom metrics, got ${describeValue(x)}`);
    else for (const [k, v] of Object.entries(x)) customValue(v, `${path}[${JSON.stringify(k)}]`, errors);
  },
});

const deviceSample = object({
  thingName: text,
  t: count,
  intervalMs: count,
  traffic: optional(traffic),
  destinations: listOf(text),
  messagesSent: count,
  messagesReceived: count,
  messageBytes: count,
});

/** True when a parsed input line looks like recorded collector output rather than a single datapoint. */
export function isRecordedSample(x: unknown): boolean {
  return isPlainObject(x) && ('host' in x || 'devices' in x);
}

/** A recorded `collect --json` line, checked field by field. */
export function parseRecordedSample(x: unknown): Parsed<RecordedSample> {
  const errors: string[] = [];
  if (!isPlainObject(x)) return { ok: false, errors: [`(line): must be an object {host, devices}, got ${describeValue(x)}`] };
  for (const k of Object.keys(x)) if (k !== 'host' && k !== 'devices') errors.push(`${k}: is not a known field (host, devices)`);
  hostSample(x.host, 'host', errors);
  listOf(deviceSample)(x.devices ?? [], 'devices', errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { host: x.host, devices: x.devices ?? [] } as RecordedSample };
}
