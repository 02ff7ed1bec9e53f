import { decode as cborDecode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { encodeReport } from '../../src/report/encode.ts';
import type { DefenderReport } from '../../src/report/model.ts';
import { toWireDocument } from '../../src/report/wireDocument.ts';

const report: DefenderReport = {
  header: { reportId: 1530305228, version: '1.0' },
  metrics: {
    listeningTcpPorts: { ports: [{ port: 22, interface: 'eth0' }], total: 1 },
    listeningUdpPorts: { ports: [{ port: 5353 }], total: 1 },
    networkStats: { bytesIn: 10, bytesOut: 20, packetsIn: 1, packetsOut: 2 },
    tcpConnections: {
      establishedConnections: { connections: [{ remoteAddr: '192.168.0.1:8000', localPort: 80, localInterface: 'eth0' }], total: 1 },
    },
  },
  customMetrics: [
    { name: 'cpu_usage', value: { number: 1.5 } },
    { name: 'ips', value: { ip_list: ['10.0.0.1'] } },
  ],
};

describe('wire document (docs/reports.md)', () => {
  it('writes long names in the Python agent SDK field order (_v1_metrics)', () => {
    expect(JSON.stringify(toWireDocument(report, 'long'))).toBe(
      '{"header":{"report_id":1530305228,"version":"1.0"},' +
        '"metrics":{"network_stats":{"bytes_in":10,"bytes_out":20,"packets_in":1,"packets_out":2},' +
        '"tcp_connections":{"established_connections":' +
        '{"connections":[{"remote_addr":"192.168.0.1:8000","local_interface":"eth0","local_port":80}],"total":1}},' +
        '"listening_tcp_ports":{"ports":[{"port":22,"interface":"eth0"}],"total":1},"listening_udp_ports":{"ports":[{"port":5353}],"total":1}},' +
        '"custom_metrics":{"cpu_usage":[{"number":1.5}],"ips":[{"ip_list":["10.0.0.1"]}]}}',
    );
  });

  it('writes short names, custom metric names and value keys unshortened', () => {
    expect(toWireDocument(report, 'short')).toEqual({
      hed: { rid: 1530305228, v: '1.0' },
      met: {
        ns: { bi: 10, bo: 20, pi: 1, po: 2 },
        tc: { ec: { cs: [{ rad: '192.168.0.1:8000', li: 'eth0', lp: 80 }], t: 1 } },
        tp: { pts: [{ pt: 22, if: 'eth0' }], t: 1 },
        up: { pts: [{ pt: 5353 }], t: 1 },
      },
      cmet: { cpu_usage: [{ number: 1.5 }], ips: [{ ip_list: ['10.0.0.1'] }] },
    });
  });

  it('leaves out absent optional parts instead of writing null', () => {
    const minimal: DefenderReport = { header: { reportId: 1, version: '1.0' }, customMetrics: [{ name: 'n', value: { number: 0 } }] };
    expect(JSON.stringify(toWireDocument(minimal, 'long'))).toBe(
      '{"header":{"report_id":1,"version":"1.0"},"custom_metrics":{"n":[{"number":0}]}}',
    );
  });

  it('writes a custom metric key such as __proto__ as data, not as a prototype', () => {
    const odd: DefenderReport = { header: { reportId: 1, version: '1.0' }, customMetrics: [{ name: '__proto__', value: { number: 1 } }] };
    const doc = toWireDocument(odd, 'long');
    expect(JSON.stringify(doc)).toBe('{"header":{"report_id":1,"version":"1.0"},"custom_metrics":{"__proto__":[{"number":1}]}}');
  });

  it('encodes the same document as compact JSON and as CBOR with text keys', () => {
    const j = encodeReport(report, 'json', 'short');
    expect(JSON.parse(Buffer.from(j).toString('utf8'))).toEqual(toWireDocument(report, 'short'));
    expect(Buffer.from(j).toString('utf8')).not.toMatch(/\s/);
    const c = encodeReport(report, 'cbor', 'long');
    expect(cborDecode(c)).toEqual(toWireDocument(report, 'long'));
    expect(c[0]).toBe(0xa3); // a definite map of 3 entries: plain CBOR, no cbor-x record tag
    expect(c.length).toBeLessThan(j.length * 1.5);
  });

  it('returns independent buffers for successive CBOR encodings', () => {
    const a = encodeReport(report, 'cbor', 'long');
    const copy = Buffer.from(a);
    encodeReport({ header: { reportId: 2, version: '1.0' }, metrics: {} }, 'cbor', 'short');
    expect(Buffer.from(a).equals(copy)).toBe(true);
  });
});
