import { describe, expect, it } from 'vitest';
import type { DeviceSample, HostSample, ListeningPort } from '../../src/collector/sample.ts';
import { buildDeviceReport, buildHostReport } from '../../src/report/buildReport.ts';
import { checkReportMessage } from '../../src/report/checkMessage.ts';
import { encodeReport } from '../../src/report/encode.ts';

function hostSample(over: Partial<HostSample> = {}): HostSample {
  return {
    t: 1_700_000_300_000,
    intervalMs: 300_000,
    network: { bytesIn: 100, bytesOut: 200, packetsIn: 3, packetsOut: 4 },
    listening: [
      { protocol: 'tcp', address: '0.0.0.0', port: 22 },
      { protocol: 'tcp', address: '::', port: 22 }, // same port, wildcard on both families: one entry
      { protocol: 'tcp', address: '10.0.0.2', port: 8883, interface: 'eth0' },
      { protocol: 'udp', address: '0.0.0.0', port: 5353 },
    ],
    established: [
      { localAddress: '10.0.0.2', localPort: 51000, remoteAddress: '52.94.236.248', remotePort: 8883, localInterface: 'eth0' },
      { localAddress: '::ffff:10.0.0.2', localPort: 51001, remoteAddress: '::ffff:192.0.2.7', remotePort: 443 },
      { localAddress: '2001:db8::2', localPort: 51002, remoteAddress: '2001:db8::10', remotePort: 443 },
    ],
    processes: [],
    custom: { cpu_usage: { number: 12.5 }, allowed: { string_list: ['a', 'b'] } },
    degraded: [],
    ...over,
  };
}

/** What the service-side check says about a built report, in every encoding and naming style. */
function expectAcceptedEverywhere(report: Parameters<typeof encodeReport>[0]): void {
  for (const format of ['json', 'cbor'] as const) {
    for (const style of ['long', 'short'] as const) {
      const r = checkReportMessage({
        topic: `$aws/things/gw/defender/metrics/${format}`,
        payload: encodeReport(report, format, style),
        nowMs: 1,
      });
      expect(r.status === 'REJECTED' ? r.errors : r.status).toBe('ACCEPTED');
    }
  }
}

describe('buildHostReport', () => {
  it('maps a host sample into every standard block and custom metrics, and the result validates', () => {
    const { report, problems } = buildHostReport(hostSample(), { reportId: 1_700_000_300_001 });
    expect(problems).toEqual([]);
    expect(report).toEqual({
      header: { reportId: 1_700_000_300_001, version: '1.0' },
      metrics: {
        networkStats: { bytesIn: 100, bytesOut: 200, packetsIn: 3, packetsOut: 4 },
        tcpConnections: {
          establishedConnections: {
            connections: [
              { remoteAddr: '52.94.236.248:8883', localInterface: 'eth0', localPort: 51000 },
              { remoteAddr: '192.0.2.7:443', localPort: 51001 }, // IPv4-mapped written as IPv4
              { remoteAddr: '[2001:db8::10]:443', localPort: 51002 },
            ],
            total: 3,
          },
        },
        listeningTcpPorts: { ports: [{ port: 22 }, { port: 8883, interface: 'eth0' }], total: 2 },
        listeningUdpPorts: { ports: [{ port: 5353 }], total: 1 },
      },
      customMetrics: [
        { name: 'cpu_usage', value: { number: 12.5 } },
        { name: 'allowed', value: { string_list: ['a', 'b'] } },
      ],
    });
    expectAcceptedEverywhere(report!);
  });

  it('has no network_stats when the sample has no delta (never raw counters)', () => {
    const { network: _none, ...first } = hostSample();
    const { report } = buildHostReport({ ...first, intervalMs: 0 }, { reportId: 5 });
    expect(report!.metrics!.networkStats).toBeUndefined();
    expectAcceptedEverywhere(report!);
  });

  it('reports empty lists as zero, so an alarm on them can clear', () => {
    const { report } = buildHostReport(hostSample({ listening: [], established: [], custom: {} }), { reportId: 5 });
    expect(report!.metrics!.listeningTcpPorts).toEqual({ ports: [], total: 0 });
    expect(report!.metrics!.tcpConnections).toEqual({ establishedConnections: { connections: [], total: 0 } });
    expect(report!.customMetrics).toBeUndefined();
  });

  it('samples long lists to maxListSize (default 50) keeping the true total, differently per report_id', () => {
    const listening: ListeningPort[] = Array.from({ length: 120 }, (_, i) => ({ protocol: 'udp', address: '0.0.0.0', port: 10_000 + i }));
    const a = buildHostReport(hostSample({ listening }), { reportId: 1 }).report!;
    const b = buildHostReport(hostSample({ listening }), { reportId: 2 }).report!;
    expect(a.metrics!.listeningUdpPorts!.ports).toHaveLength(50);
    expect(a.metrics!.listeningUdpPorts!.total).toBe(120);
    expect(a.metrics!.listeningUdpPorts!.ports).not.toEqual(b.metrics!.listeningUdpPorts!.ports);
    const ports = a.metrics!.listeningUdpPorts!.ports.map((p) => p.port);
    expect(new Set(ports).size).toBe(50);
    expect([...ports].sort((x, y) => x - y)).toEqual(ports); // original order kept
    const small = buildHostReport(hostSample({ listening }), { reportId: 1, maxListSize: 7 }).report!;
    expect(small.metrics!.listeningUdpPorts).toMatchObject({ total: 120 });
    expect(small.metrics!.listeningUdpPorts!.ports).toHaveLength(7);
    expectAcceptedEverywhere(a);
  });

  it('leaves out what cannot be reported and names it as path: message', () => {
    const { report, problems } = buildHostReport(
      hostSample({
        network: { bytesIn: -5, bytesOut: 1, packetsIn: 1, packetsOut: 1 },
        listening: [
          { protocol: 'tcp', address: '0.0.0.0', port: 0 },
          { protocol: 'tcp', address: '0.0.0.0', port: 80 },
        ],
        established: [{ localAddress: 'x', localPort: 1, remoteAddress: 'not-an-ip', remotePort: 80 }],
        custom: { 'aws:cpu': { number: 1 }, 'bad name': { number: 1 }, nan: { number: Number.NaN }, ok: { number_list: [1] } },
      }),
      { reportId: 9 },
    );
    expect(problems).toEqual([
      'network: is not a set of non-negative integer deltas; network_stats left out',
      'established[0]: remote "not-an-ip" port 80 is not an IP address and port 1–65535',
      'listening[0].port: must be an integer 1–65535',
      'custom.aws:cpu: must not begin with "aws:" (reserved for AWS metrics)',
      'custom.bad name: must be 1–128 characters of letters, digits, ":", "_" or "-"',
      'custom.nan[0].number: must be a finite number',
    ]);
    expect(report!.metrics!.networkStats).toBeUndefined();
    expect(report!.metrics!.listeningTcpPorts).toEqual({ ports: [{ port: 80 }], total: 1 });
    expect(report!.customMetrics).toEqual([{ name: 'ok', value: { number_list: [1] } }]);
    expectAcceptedEverywhere(report!);
  });

  it('refuses a report_id that is not a positive integer (a caller bug)', () => {
    expect(() => buildHostReport(hostSample(), { reportId: 0 })).toThrow('reportId: must be a positive integer');
  });
});

describe('buildDeviceReport', () => {
  const device: DeviceSample = {
    thingName: 'sensor-1',
    t: 1_700_000_300_000,
    intervalMs: 300_000,
    traffic: { bytesIn: 10, bytesOut: 20, packetsIn: 1, packetsOut: 2 },
    destinations: ['10.0.0.1', '2001:db8::1'],
    messagesSent: 7,
    messagesReceived: 3,
    messageBytes: 900,
  };

  it('reports the traffic seen through the gateway as network_stats', () => {
    const { report, problems } = buildDeviceReport(device, { reportId: 3 });
    expect(problems).toEqual([]);
    expect(report).toEqual({
      header: { reportId: 3, version: '1.0' },
      metrics: { networkStats: { bytesIn: 10, bytesOut: 20, packetsIn: 1, packetsOut: 2 } },
    });
    expectAcceptedEverywhere(report!);
  });

  it('adds destinations and message counts as custom metrics only when named', () => {
    const { report } = buildDeviceReport(device, {
      reportId: 3,
      customMetricNames: {
        destinations: 'dest_ips',
        messagesSent: 'msgs_sent',
        messagesReceived: 'msgs_received',
        messageBytes: 'msg_bytes',
      },
    });
    expect(report!.customMetrics).toEqual([
      { name: 'dest_ips', value: { ip_list: ['10.0.0.1', '2001:db8::1'] } },
      { name: 'msgs_sent', value: { number: 7 } },
      { name: 'msgs_received', value: { number: 3 } },
      { name: 'msg_bytes', value: { number: 900 } },
    ]);
    expectAcceptedEverywhere(report!);
  });

  it('has nothing to report without a delta or named custom metrics', () => {
    const { traffic: _t, ...noTraffic } = device;
    expect(buildDeviceReport(noTraffic, { reportId: 3 })).toEqual({ report: undefined, problems: [] });
    const bad = buildDeviceReport(noTraffic, { reportId: 3, customMetricNames: { messagesSent: 'aws:x' } });
    expect(bad).toEqual({ report: undefined, problems: ['custom.aws:x: must not begin with "aws:" (reserved for AWS metrics)'] });
  });
});
