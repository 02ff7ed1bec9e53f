import { describe, expect, it } from 'vitest';
import { checkReportMessage } from '../../src/report/checkMessage.ts';
import { encodeReport } from '../../src/report/encode.ts';
import { sampleList } from '../../src/report/listSampling.ts';
import { type DefenderReport, MAX_MESSAGE_BYTES } from '../../src/report/model.ts';
import { encodeWithinLimit } from '../../src/report/sizeLimit.ts';

describe('sampleList', () => {
  const items = Array.from({ length: 100 }, (_, i) => i);

  it('returns short lists unchanged and samples long ones uniformly without repeats, in order', () => {
    expect(sampleList(items, 100, 1)).toBe(items);
    const s = sampleList(items, 10, 42);
    expect(s).toHaveLength(10);
    expect(new Set(s).size).toBe(10);
    expect([...s].sort((a, b) => a - b)).toEqual(s);
    expect(sampleList(items, 10, 42)).toEqual(s); // pure: same seed, same sample
    expect(sampleList(items, 0, 1)).toEqual([]);
  });

  it('reaches every element over successive seeds', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) for (const x of sampleList(items, 10, 1_700_000_000_000 + seed)) seen.add(x);
    expect(seen.size).toBe(100);
  });
});

function bigReport(ports: number, connections: number, customIps = 0): DefenderReport {
  return {
    header: { reportId: 99, version: '1.0' },
    metrics: {
      listeningTcpPorts: {
        ports: Array.from({ length: ports }, (_, i) => ({ port: 1 + (i % 65535), interface: `veth${i}` })),
        total: ports,
      },
      tcpConnections: {
        establishedConnections: {
          connections: Array.from({ length: connections }, (_, i) => ({
            remoteAddr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:443`,
            localPort: 40000 + (i % 20000),
            localInterface: 'eth0',
          })),
          total: connections,
        },
      },
    },
    ...(customIps > 0
      ? {
          customMetrics: [
            { name: 'ips', value: { ip_list: Array.from({ length: customIps }, (_, i) => `192.168.${(i >> 8) & 255}.${i & 255}`) } },
          ],
        }
      : {}),
  };
}

describe('encodeWithinLimit (128 KiB, the AWS IoT Core payload limit)', () => {
  it('returns a report that fits unchanged', () => {
    const r = bigReport(10, 10);
    const out = encodeWithinLimit(r, { format: 'json', style: 'long' });
    expect(out).toMatchObject({ ok: true, report: r, sampled: [] });
  });

  for (const format of ['json', 'cbor'] as const) {
    it(`samples the longest lists until the ${format} payload fits, keeping the true totals`, () => {
      const r = bigReport(3000, 4000);
      expect(encodeReport(r, format, 'long').length).toBeGreaterThan(MAX_MESSAGE_BYTES);
      const out = encodeWithinLimit(r, { format, style: 'long' });
      if (!out.ok) throw new Error(out.error);
      expect(out.payload.length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(out.report.metrics!.listeningTcpPorts!.total).toBe(3000);
      expect(out.report.metrics!.tcpConnections!.establishedConnections!.total).toBe(4000);
      expect(out.report.metrics!.tcpConnections!.establishedConnections!.connections.length).toBeLessThan(4000);
      expect(out.sampled[0]).toBe('established_connections: 4000 → 2000');
      expect(r.metrics!.listeningTcpPorts!.ports).toHaveLength(3000); // the caller's report is untouched
      const check = checkReportMessage({ topic: `$aws/things/gw/defender/metrics/${format}`, payload: out.payload, nowMs: 1 });
      expect(check.status).toBe('ACCEPTED');
    });
  }

  it('honours a smaller maxBytes and shortens custom lists only after ports and connections', () => {
    const out = encodeWithinLimit(bigReport(40, 40, 500), { format: 'json', style: 'short', maxBytes: 4096 });
    if (!out.ok) throw new Error(out.error);
    expect(out.payload.length).toBeLessThanOrEqual(4096);
    const firstCustom = out.sampled.findIndex((s) => s.startsWith('custom_metrics.'));
    const lastStandard = out.sampled.map((s) => !s.startsWith('custom_metrics.')).lastIndexOf(true);
    expect(firstCustom).toBeGreaterThan(lastStandard);
    expect(out.report.metrics!.listeningTcpPorts!.ports).toEqual([]);
    expect(out.report.metrics!.listeningTcpPorts!.total).toBe(40);
  });

  it('says so when even an empty-listed report does not fit', () => {
    const many: DefenderReport = {
      header: { reportId: 1, version: '1.0' },
      customMetrics: Array.from({ length: 300 }, (_, i) => ({ name: `m${i}`, value: { number: i } })),
    };
    expect(encodeWithinLimit(many, { format: 'json', style: 'long', maxBytes: 1000 })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^report: is \d+ bytes without any list element, over the 1000-byte limit$/),
    });
  });
});
