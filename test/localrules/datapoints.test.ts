import { describe, expect, it } from 'vitest';
import type { DeviceSample, HostSample } from '../../src/collector/sample.ts';
import {
  datapointsFromDeviceSample,
  datapointsFromHostSample,
  datapointsFromSample,
  deviceInfoOf,
} from '../../src/localrules/datapoints.ts';

const traffic = { bytesIn: 1, bytesOut: 2, packetsIn: 3, packetsOut: 4 };

const hostSample: HostSample = {
  t: 5000,
  intervalMs: 1000,
  network: traffic,
  listening: [
    { protocol: 'tcp', address: '0.0.0.0', port: 22 },
    { protocol: 'tcp', address: '::', port: 22 },
    { protocol: 'tcp', address: '127.0.0.1', port: 4444, pid: 42 },
    { protocol: 'udp', address: '0.0.0.0', port: 5353 },
  ],
  established: [
    { localAddress: '10.0.0.1', localPort: 50000, remoteAddress: '52.1.2.3', remotePort: 8883 },
    { localAddress: '10.0.0.1', localPort: 50001, remoteAddress: '52.1.2.3', remotePort: 443 },
  ],
  processes: [
    {
      pid: 42,
      comm: 'rogue',
      exe: '/tmp/rogue',
      startTime: 999,
      traffic: { bytesIn: 10, bytesOut: 20, packetsIn: 1, packetsOut: 2 },
      listeningTcpPorts: [4444],
      listeningUdpPorts: [],
      establishedConnections: 1,
      remoteAddresses: ['1.2.3.4'],
      messagesSent: 3,
      messagesReceived: 1,
      messageBytes: 400,
    },
  ],
  custom: { cpu_usage: { number: 12.5 }, peers: { ip_list: ['10.0.0.9'] }, tags: { string_list: ['a'] }, ids: { number_list: [1, 2] } },
  degraded: [],
};

function byMetric(points: { metric: string; value: unknown; subject: { kind: string } }[], kind: string) {
  return Object.fromEntries(points.filter((p) => p.subject.kind === kind).map((p) => [p.metric, p.value]));
}

describe('datapoints from samples', () => {
  it('maps a host sample to every device-side metric and custom metric', () => {
    const points = datapointsFromHostSample(hostSample, 'gw');
    expect(points.every((p) => p.thing === 'gw' && p.t === 5000 && p.intervalMs === 1000)).toBe(true);
    expect(byMetric(points, 'host')).toEqual({
      'aws:all-bytes-in': { count: 1 },
      'aws:all-bytes-out': { count: 2 },
      'aws:all-packets-in': { count: 3 },
      'aws:all-packets-out': { count: 4 },
      'aws:listening-tcp-ports': { ports: [22, 4444] },
      'aws:num-listening-tcp-ports': { count: 2 },
      'aws:listening-udp-ports': { ports: [5353] },
      'aws:num-listening-udp-ports': { count: 1 },
      'aws:num-established-tcp-connections': { count: 2 },
      'aws:destination-ip-addresses': { cidrs: ['52.1.2.3'] },
      cpu_usage: { number: 12.5 },
      peers: { cidrs: ['10.0.0.9'] },
      tags: { strings: ['a'] },
      ids: { numbers: [1, 2] },
    });
    expect(points.some((p) => p.subject.kind === 'process')).toBe(false);
  });

  it('adds per-process datapoints naming the process when asked', () => {
    const points = datapointsFromHostSample(hostSample, 'gw', { perProcess: true });
    const proc = points.filter((p) => p.subject.kind === 'process');
    expect(proc[0]!.subject).toEqual({ kind: 'process', pid: 42, comm: 'rogue', exe: '/tmp/rogue', startTime: 999 });
    expect(byMetric(points, 'process')).toMatchObject({
      'aws:all-bytes-out': { count: 20 },
      'aws:listening-tcp-ports': { ports: [4444] },
      'aws:num-established-tcp-connections': { count: 1 },
      'aws:destination-ip-addresses': { cidrs: ['1.2.3.4'] },
      'aws:num-messages-sent': { count: 3 },
      'aws:num-messages-received': { count: 1 },
      'aws:message-byte-size': { count: 100 },
    });
  });

  it('omits network deltas on the first sample', () => {
    const { network: _n, ...first } = hostSample;
    const points = datapointsFromHostSample({ ...first, intervalMs: 0 }, 'gw', { perProcess: true });
    expect(points.filter((p) => p.metric === 'aws:all-bytes-out')).toEqual([]);
  });

  it('maps a device sample with its addresses as the offender', () => {
    const s: DeviceSample = {
      thingName: 'cam-1',
      t: 9000,
      intervalMs: 1000,
      traffic,
      destinations: ['8.8.8.8', '1.1.1.1', '8.8.8.8'],
      messagesSent: 2,
      messagesReceived: 0,
      messageBytes: 0,
    };
    const points = datapointsFromDeviceSample(s, { addresses: ['10.0.0.7'], interface: 'eth1' });
    expect(points.every((p) => p.thing === 'cam-1')).toBe(true);
    expect(points[0]!.subject).toEqual({ kind: 'device', thingName: 'cam-1', addresses: ['10.0.0.7'], interface: 'eth1' });
    expect(byMetric(points, 'device')).toEqual({
      'aws:all-bytes-in': { count: 1 },
      'aws:all-bytes-out': { count: 2 },
      'aws:all-packets-in': { count: 3 },
      'aws:all-packets-out': { count: 4 },
      'aws:destination-ip-addresses': { cidrs: ['1.1.1.1', '8.8.8.8'] },
      'aws:num-messages-sent': { count: 2 },
      'aws:num-messages-received': { count: 0 },
      'aws:message-byte-size': { count: 0 },
    });
    const silent = datapointsFromDeviceSample({ ...s, messagesSent: 0, messageBytes: 0 });
    expect(silent.some((p) => p.metric === 'aws:message-byte-size')).toBe(false);
  });

  it('builds only the metrics asked for (the profile metrics), for the host, its processes and each device', () => {
    const device: DeviceSample = {
      thingName: 'cam-1',
      t: 5000,
      intervalMs: 1000,
      traffic,
      destinations: ['8.8.8.8'],
      messagesSent: 2,
      messagesReceived: 0,
      messageBytes: 10,
    };
    const sample = { host: hostSample, devices: [device] };
    const info = deviceInfoOf([{ thingName: 'cam-1', addresses: ['10.0.0.7'] }]);
    const all = datapointsFromSample(sample, 'gw', { perProcess: true, deviceInfo: info });
    const wanted = new Set(['aws:all-bytes-out', 'aws:num-listening-tcp-ports', 'cpu_usage']);
    const some = datapointsFromSample(sample, 'gw', { perProcess: true, deviceInfo: info, metrics: wanted });
    expect(some).toEqual(all.filter((p) => wanted.has(p.metric)));
    expect(some.map((p) => `${p.subject.kind}:${p.metric}`).sort()).toEqual([
      'device:aws:all-bytes-out',
      'host:aws:all-bytes-out',
      'host:aws:num-listening-tcp-ports',
      'host:cpu_usage',
      'process:aws:all-bytes-out',
      'process:aws:num-listening-tcp-ports',
    ]);
    expect(some.find((p) => p.subject.kind === 'device')!.subject).toEqual({ kind: 'device', thingName: 'cam-1', addresses: ['10.0.0.7'] });
    expect(info('unknown')).toEqual({});
  });

  /** A device sample between two readings of the accounting table: no traffic, no messages. */
  const quietDevice = (): DeviceSample => ({
    thingName: 'cam-1',
    t: 5000,
    intervalMs: 1000,
    destinations: [],
    messagesSent: 0,
    messagesReceived: 0,
    messageBytes: 0,
  });

  it('leaves devices without message datapoints when their messages are not counted (no message topics)', () => {
    const device = quietDevice();
    const info = deviceInfoOf([]);
    const counted = datapointsFromSample({ host: hostSample, devices: [device] }, 'gw', { perProcess: true, deviceInfo: info });
    const uncounted = datapointsFromSample({ host: hostSample, devices: [device] }, 'gw', {
      perProcess: true,
      deviceInfo: info,
      deviceMessages: false,
    });
    expect(counted.filter((p) => p.subject.kind === 'device').map((p) => p.metric)).toContain('aws:num-messages-received');
    expect(uncounted.filter((p) => p.subject.kind === 'device').map((p) => p.metric)).toEqual(['aws:destination-ip-addresses']);
    // processes' message estimates (from MQTT ports) are measurements and stay
    expect(uncounted.filter((p) => p.subject.kind === 'process').map((p) => p.metric)).toContain('aws:num-messages-received');
  });

  it('builds nothing for a device sample without traffic when only traffic metrics are wanted, and its destinations when they are', () => {
    const between = quietDevice();
    const read: DeviceSample = { ...between, thingName: 'cam-2', traffic, destinations: ['8.8.8.8'] };
    const info = deviceInfoOf([]);
    const deviceMetrics = (metrics: Set<string>) =>
      datapointsFromSample({ host: hostSample, devices: [between, read] }, 'gw', {
        perProcess: false,
        deviceInfo: info,
        metrics,
        deviceMessages: false,
      })
        .filter((p) => p.subject.kind === 'device')
        .map((p) => `${p.thing}:${p.metric}`);
    expect(deviceMetrics(new Set(['aws:all-bytes-out']))).toEqual(['cam-2:aws:all-bytes-out']);
    expect(deviceMetrics(new Set(['aws:all-bytes-out', 'aws:destination-ip-addresses']))).toEqual([
      'cam-1:aws:destination-ip-addresses',
      'cam-2:aws:all-bytes-out',
      'cam-2:aws:destination-ip-addresses',
    ]);
  });
});
