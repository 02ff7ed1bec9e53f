import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type ReportValidation, validateReportDocument } from '../../src/report/validate.ts';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));

/** A minimal valid long-name report with the given metrics / custom metrics merged in. */
function longReport(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { header: { report_id: 1000, version: '1.0' }, metrics: {}, ...extra };
}

function errorsOf(doc: unknown): string[] {
  const r = validateReportDocument(doc);
  if (r.ok) throw new Error(`expected a rejection, got ${JSON.stringify(r.report)}`);
  return r.errors;
}

function accepted(doc: unknown): Extract<ReportValidation, { ok: true }> {
  const r = validateReportDocument(doc);
  if (!r.ok) throw new Error(`expected acceptance, got ${r.errors.join('; ')}`);
  return r;
}

describe('official agent reports', () => {
  it('accepts the Python agent fixture unchanged: long names, sampled list with the true total, null interface', () => {
    const r = accepted(fixture('python-agent-report.json'));
    expect(r.style).toBe('long');
    expect(r.report.header).toEqual({ reportId: 1719403200, version: '1.0' });
    const udp = r.report.metrics!.listeningUdpPorts!;
    expect(udp.ports).toHaveLength(50);
    expect(udp.total).toBe(63);
    const conns = r.report.metrics!.tcpConnections!.establishedConnections!.connections;
    expect(conns[2]).toEqual({ remoteAddr: '[::ffff:192.0.2.7]:8883', localPort: 43890 }); // null interface = absent
    expect(r.report.metrics!.listeningTcpPorts!.ports).toContainEqual({ port: 22, interface: '::' });
    expect(r.report.customMetrics).toEqual([{ name: 'cpu_usage', value: { number: 12.7 } }]);
    expect(r.warnings).toEqual([]);
  });

  it('accepts the short-name example of the specification and reads it into the same model shape', () => {
    const r = accepted({
      hed: { rid: 1530305228, v: '1.0' },
      met: {
        tp: { pts: [{ if: 'eth0', pt: 22 }], t: 1 },
        up: { pts: [{ if: 'eth0', pt: 5353 }], t: 1 },
        ns: { bi: 29359307173, bo: 26490711, pi: 10014614051, po: 11387620 },
        tc: { ec: { cs: [{ li: 'eth0', lp: 80, rad: '192.168.0.1:8000' }], t: 1 } },
      },
      cmet: { MyMetricOfType_Number: [{ number: 1 }] },
    });
    expect(r.style).toBe('short');
    expect(r.report.metrics).toEqual({
      networkStats: { bytesIn: 29359307173, bytesOut: 26490711, packetsIn: 10014614051, packetsOut: 11387620 },
      tcpConnections: {
        establishedConnections: { connections: [{ remoteAddr: '192.168.0.1:8000', localPort: 80, localInterface: 'eth0' }], total: 1 },
      },
      listeningTcpPorts: { ports: [{ port: 22, interface: 'eth0' }], total: 1 },
      listeningUdpPorts: { ports: [{ port: 5353, interface: 'eth0' }], total: 1 },
    });
  });

  it('accepts a cumulative-counter first report from the pinned Greengrass component (valid format)', () => {
    accepted(longReport({ metrics: { network_stats: { bytes_in: 8_123_456_789_012, bytes_out: 1, packets_in: 2, packets_out: 3 } } }));
  });
});

describe('header', () => {
  it('requires the header, report_id and version, in the style of the report', () => {
    expect(errorsOf({ metrics: {} })).toEqual(['header: is required']);
    expect(errorsOf({ met: {} })).toEqual(['hed: is required']);
    expect(errorsOf({ header: { version: '1.0' }, metrics: {} })).toEqual(['header.report_id: is required']);
    expect(errorsOf({ hed: { rid: 5 }, met: {} })).toEqual(['hed.v: is required']);
    expect(errorsOf({ header: 'x', metrics: {} })).toEqual(['header: must be an object']);
  });

  it('requires a positive integer report_id', () => {
    for (const [rid, message] of [
      [0, 'must be a positive integer'],
      [-5, 'must be a positive integer'],
      [1.5, 'must be an integer'],
      ['12', 'must be a number'],
      [2 ** 53, `must be <= ${Number.MAX_SAFE_INTEGER}`],
      [true, 'must be a number'],
    ] as const) {
      expect(errorsOf({ header: { report_id: rid, version: '1.0' }, metrics: {} })).toEqual([`header.report_id: ${message}`]);
    }
    expect(errorsOf({ header: { report_id: null, version: '1.0' }, metrics: {} })).toEqual(['header.report_id: is required']);
    expect(accepted(longReport({ header: { report_id: Number.MAX_SAFE_INTEGER, version: '1.0' } })).report.header.reportId).toBe(
      Number.MAX_SAFE_INTEGER,
    );
  });

  it('requires version "1.0" exactly', () => {
    for (const v of ['1.1', '2.0', 1, 1.0, '1', ' 1.0']) {
      expect(errorsOf({ header: { report_id: 1, version: v }, metrics: {} })).toEqual(['header.version: must be "1.0"']);
    }
  });

  it('keeps a valid report_id on rejection, so the answer can name the report', () => {
    const r = validateReportDocument({ header: { report_id: 77, version: '9' }, metrics: {} });
    expect(r).toMatchObject({ ok: false, reportId: 77 });
  });
});

describe('document structure', () => {
  it('requires metrics or custom_metrics (or both)', () => {
    expect(errorsOf({ header: { report_id: 1, version: '1.0' } })).toEqual(['(root): must have metrics or custom_metrics (or both)']);
    expect(errorsOf({ hed: { rid: 1, v: '1.0' } })).toEqual(['(root): must have met or cmet (or both)']);
    expect(errorsOf({ header: { report_id: 1, version: '1.0' }, metrics: null })).toEqual([
      '(root): must have metrics or custom_metrics (or both)',
    ]);
    accepted({ header: { report_id: 1, version: '1.0' }, custom_metrics: { a: [{ number: 1 }] } });
    accepted({ header: { report_id: 1, version: '1.0' }, metrics: {}, custom_metrics: {} });
  });

  it('rejects a root that is not an object', () => {
    for (const doc of [null, [], 'x', 3, undefined, new Date()]) expect(errorsOf(doc)).toEqual(['(root): must be an object']);
  });

  it('rejects unknown fields anywhere (a typo must not vanish)', () => {
    expect(errorsOf(longReport({ extra: 1 }))).toEqual(['extra: is not a known field']);
    expect(errorsOf(longReport({ metrics: { network_stats: { byte_in: 1 } } }))).toEqual([
      'metrics.network_stats.byte_in: is not a known field',
    ]);
    expect(errorsOf(longReport({ metrics: { listening_tcp_ports: { ports: [{ port: 1, iface: 'x' }] } } }))).toEqual([
      'metrics.listening_tcp_ports.ports[0].iface: is not a known field',
    ]);
  });

  it('rejects a report that mixes long and short names, at the root and inside blocks (our choice)', () => {
    expect(errorsOf({ header: { report_id: 1, version: '1.0' }, met: {} })).toEqual([
      '(root): mixes long names (header) and short names (met); a report must use one style',
    ]);
    expect(errorsOf({ hed: { rid: 1, version: '1.0' }, met: {} })).toEqual([
      'hed.version: is a long name in a short-name report; a report must not mix long and short names',
      'hed.v: is required',
    ]);
    expect(errorsOf(longReport({ metrics: { ns: { bi: 1 } } }))).toEqual([
      'metrics.ns: is a short name in a long-name report; a report must not mix long and short names',
    ]);
  });

  it('treats null as absent for optional fields (the Python agent SDK writes None as null)', () => {
    const r = accepted(longReport({ metrics: { network_stats: { bytes_in: 5, bytes_out: null } } }));
    expect(r.report.metrics!.networkStats).toEqual({ bytesIn: 5 });
  });

  it('rejects prototype keys instead of following them', () => {
    const doc = JSON.parse(
      '{"header":{"report_id":1,"version":"1.0"},"metrics":{"__proto__":{"network_stats":{"bytes_in":1}}},"custom_metrics":{"__proto__":[{"number":1}]}}',
    ) as unknown;
    expect(errorsOf(doc)).toEqual(['metrics.__proto__: is not a known field', 'custom_metrics.__proto__: is a reserved name']);
    expect(({} as Record<string, unknown>).network_stats).toBeUndefined();
  });

  it('reads custom metrics named like Object members as data, never as inherited properties', () => {
    const r = accepted({
      header: { report_id: 1, version: '1.0' },
      custom_metrics: { constructor: [{ number: 1 }], toString: [{ string_list: ['a'] }] },
    });
    expect(r.report.customMetrics).toEqual([
      { name: 'constructor', value: { number: 1 } },
      { name: 'toString', value: { string_list: ['a'] } },
    ]);
  });
});

describe('listening ports', () => {
  for (const [block, short] of [
    ['listening_tcp_ports', 'tp'],
    ['listening_udp_ports', 'up'],
  ] as const) {
    it(`${block}: port 1–65535, interface a string, total >= 0 and >= the listed count, both styles`, () => {
      expect(
        accepted(longReport({ metrics: { [block]: { ports: [{ port: 1 }, { port: 65535, interface: 'eth0' }], total: 5 } } })).report
          .metrics,
      ).toBeDefined();
      expect(errorsOf(longReport({ metrics: { [block]: { ports: [{ port: 0 }] } } }))).toEqual([
        `metrics.${block}.ports[0].port: must be a positive integer`,
      ]);
      expect(errorsOf(longReport({ metrics: { [block]: { ports: [{ port: 65536 }] } } }))).toEqual([
        `metrics.${block}.ports[0].port: must be <= 65535`,
      ]);
      expect(errorsOf(longReport({ metrics: { [block]: { ports: [{ port: '22' }] } } }))).toEqual([
        `metrics.${block}.ports[0].port: must be a number`,
      ]);
      expect(errorsOf(longReport({ metrics: { [block]: { ports: [{ interface: 'eth0' }] } } }))).toEqual([
        `metrics.${block}.ports[0].port: is required`,
      ]);
      expect(errorsOf(longReport({ metrics: { [block]: { ports: [{ port: 2, interface: 7 }] } } }))).toEqual([
        `metrics.${block}.ports[0].interface: must be a string`,
      ]);
      expect(errorsOf(longReport({ metrics: { [block]: { ports: [5] } } }))).toEqual([`metrics.${block}.ports[0]: must be an object`]);
      expect(errorsOf(longReport({ metrics: { [block]: { ports: {} } } }))).toEqual([`metrics.${block}.ports: must be an array`]);
      expect(errorsOf(longReport({ metrics: { [block]: { total: -1 } } }))).toEqual([`metrics.${block}.total: must be >= 0`]);
      expect(errorsOf(longReport({ metrics: { [block]: { ports: [{ port: 1 }, { port: 2 }], total: 1 } } }))).toEqual([
        `metrics.${block}.total: must be >= the number of listed elements (2)`,
      ]);
      expect(errorsOf({ hed: { rid: 1, v: '1.0' }, met: { [short]: { pts: [{ pt: 0, if: 3 }], t: 0.5 } } })).toEqual([
        `met.${short}.pts[0].pt: must be a positive integer`,
        `met.${short}.pts[0].if: must be a string`,
        `met.${short}.t: must be an integer`,
      ]);
    });
  }

  it('accepts empty port lists and a block without ports (empty means conforming)', () => {
    const r = accepted(longReport({ metrics: { listening_tcp_ports: { ports: [], total: 0 }, listening_udp_ports: { total: 0 } } }));
    expect(r.report.metrics!.listeningTcpPorts).toEqual({ ports: [], total: 0 });
    expect(r.report.metrics!.listeningUdpPorts).toEqual({ ports: [], total: 0 });
  });
});

describe('network stats ("Delta Metric, >= 0")', () => {
  it('accepts non-negative integers in either style and rejects anything else', () => {
    accepted(longReport({ metrics: { network_stats: { bytes_in: 0, bytes_out: 1, packets_in: 2, packets_out: 3 } } }));
    accepted({ hed: { rid: 1, v: '1.0' }, met: { ns: {} } });
    for (const field of ['bytes_in', 'bytes_out', 'packets_in', 'packets_out']) {
      expect(errorsOf(longReport({ metrics: { network_stats: { [field]: -1 } } }))).toEqual([
        `metrics.network_stats.${field}: must be >= 0`,
      ]);
      expect(errorsOf(longReport({ metrics: { network_stats: { [field]: 1.25 } } }))).toEqual([
        `metrics.network_stats.${field}: must be an integer`,
      ]);
      expect(errorsOf(longReport({ metrics: { network_stats: { [field]: '5' } } }))).toEqual([
        `metrics.network_stats.${field}: must be a number`,
      ]);
    }
    expect(errorsOf({ hed: { rid: 1, v: '1.0' }, met: { ns: { bi: Number.NaN, bo: Number.POSITIVE_INFINITY, pi: 10n, po: [] } } })).toEqual(
      ['met.ns.bi: must be a number', 'met.ns.bo: must be a number', 'met.ns.pi: must be a number', 'met.ns.po: must be a number'],
    );
    expect(errorsOf(longReport({ metrics: { network_stats: [] } }))).toEqual(['metrics.network_stats: must be an object']);
  });
});

describe('TCP connections', () => {
  const conn = (c: Record<string, unknown>) =>
    longReport({ metrics: { tcp_connections: { established_connections: { connections: [c], total: 1 } } } });

  it('accepts IPv4 and bracketed IPv6 remote_addr, and unbracketed IPv6 as older Python agents wrote it', () => {
    for (const rad of ['192.168.0.1:8000', '[2001:db8::1]:443', '[::ffff:10.0.0.1]:1', '2001:db8::1:443', '[::1]:65535'])
      accepted(conn({ remote_addr: rad }));
  });

  it('rejects a remote_addr that is missing, not a string or not ip:port', () => {
    expect(errorsOf(conn({ local_port: 5 }))).toEqual([
      'metrics.tcp_connections.established_connections.connections[0].remote_addr: is required',
    ]);
    expect(errorsOf(conn({ remote_addr: 19216801 }))).toEqual([
      'metrics.tcp_connections.established_connections.connections[0].remote_addr: must be a string "ip:port"',
    ]);
    for (const rad of [
      '192.168.0.1',
      '192.168.0.1:0',
      '192.168.0.1:70000',
      'host.example:80',
      '[192.168.0.1]:80',
      '300.1.1.1:80',
      '[2001:db8::1]',
      ':80',
      '1.2.3.4:+80',
      '',
    ]) {
      expect(errorsOf(conn({ remote_addr: rad }))[0]).toMatch(/remote_addr: must be "ip:port"/);
    }
  });

  it('checks local_port 0–65535, local_interface a string, total >= listed, short names too', () => {
    accepted(conn({ remote_addr: '1.2.3.4:5', local_port: 0, local_interface: 'eth0' }));
    expect(errorsOf(conn({ remote_addr: '1.2.3.4:5', local_port: 65536 }))).toEqual([
      'metrics.tcp_connections.established_connections.connections[0].local_port: must be <= 65535',
    ]);
    expect(errorsOf(conn({ remote_addr: '1.2.3.4:5', local_interface: ['eth0'] }))).toEqual([
      'metrics.tcp_connections.established_connections.connections[0].local_interface: must be a string',
    ]);
    expect(
      errorsOf({ hed: { rid: 1, v: '1.0' }, met: { tc: { ec: { cs: [{ rad: '1.2.3.4:5', lp: -1 }, { rad: '1.2.3.4:6' }], t: 1 } } } }),
    ).toEqual(['met.tc.ec.cs[0].lp: must be >= 0', 'met.tc.ec.t: must be >= the number of listed elements (2)']);
    expect(errorsOf(longReport({ metrics: { tcp_connections: { established_connections: 5 } } }))).toEqual([
      'metrics.tcp_connections.established_connections: must be an object',
    ]);
    expect(accepted(longReport({ metrics: { tcp_connections: {} } })).report.metrics!.tcpConnections).toEqual({});
  });
});

describe('custom metrics', () => {
  const custom = (cm: unknown) => ({ header: { report_id: 1, version: '1.0' }, custom_metrics: cm });

  it('accepts all four shapes, in a long- and a short-name report', () => {
    const cm = {
      n: [{ number: -1.5 }],
      nl: [{ number_list: [1, 2, 3] }],
      sl: [{ string_list: ['value_1', 'a/b.c'] }],
      ip: [{ ip_list: ['172.0.0.0', '2001:db8::1'] }],
    };
    const expected = [
      { name: 'n', value: { number: -1.5 } },
      { name: 'nl', value: { number_list: [1, 2, 3] } },
      { name: 'sl', value: { string_list: ['value_1', 'a/b.c'] } },
      { name: 'ip', value: { ip_list: ['172.0.0.0', '2001:db8::1'] } },
    ];
    expect(accepted(custom(cm)).report.customMetrics).toEqual(expected);
    expect(accepted({ hed: { rid: 1, v: '1.0' }, cmet: cm }).report.customMetrics).toEqual(expected);
    expect(accepted(custom({ e: [{ ip_list: [] }] })).report.customMetrics).toEqual([{ name: 'e', value: { ip_list: [] } }]);
  });

  it('rejects a bare object, an empty or longer array, and value objects with none or several fields', () => {
    expect(errorsOf(custom({ m: { number: 1 } }))).toEqual([
      'custom_metrics.m: must be an array holding one value object, e.g. [{"number": 1}]',
    ]);
    expect(errorsOf(custom({ m: [] }))).toEqual(['custom_metrics.m: must hold exactly one value object (has 0)']);
    expect(errorsOf(custom({ m: [{ number: 1 }, { number: 2 }] }))).toEqual([
      'custom_metrics.m: must hold exactly one value object (has 2)',
    ]);
    expect(errorsOf(custom({ m: [{}] }))).toEqual(['custom_metrics.m[0]: must have one of number, number_list, string_list, ip_list']);
    expect(errorsOf(custom({ m: [{ number: 1, number_list: [1] }] }))).toEqual([
      'custom_metrics.m[0]: must have exactly one value field (has number, number_list)',
    ]);
    expect(errorsOf(custom({ m: [{ count: 1 }] }))).toEqual([
      'custom_metrics.m[0].count: is not a custom metric value field (number, number_list, string_list, ip_list)',
    ]);
    expect(errorsOf(custom({ m: [5] }))).toEqual([
      'custom_metrics.m[0]: must be an object with one of number, number_list, string_list, ip_list',
    ]);
    expect(errorsOf(custom([]))).toEqual(['custom_metrics: must be an object keyed by custom metric name']);
  });

  it('rejects wrong value types', () => {
    expect(errorsOf(custom({ m: [{ number: '1' }] }))).toEqual(['custom_metrics.m[0].number: must be a finite number']);
    expect(errorsOf(custom({ m: [{ number: Number.NaN }] }))).toEqual(['custom_metrics.m[0].number: must be a finite number']);
    expect(errorsOf(custom({ m: [{ number: Number.NEGATIVE_INFINITY }] }))).toEqual([
      'custom_metrics.m[0].number: must be a finite number',
    ]);
    expect(errorsOf(custom({ m: [{ number_list: 1 }] }))).toEqual(['custom_metrics.m[0].number_list: must be an array']);
    expect(errorsOf(custom({ m: [{ number_list: [1, 'x', Number.NaN] }] }))).toEqual([
      'custom_metrics.m[0].number_list[1]: must be a finite number',
      'custom_metrics.m[0].number_list[2]: must be a finite number',
    ]);
    expect(errorsOf(custom({ m: [{ string_list: ['a', 2] }] }))).toEqual(['custom_metrics.m[0].string_list[1]: must be a string']);
    expect(errorsOf(custom({ m: [{ ip_list: [null] }] }))).toEqual(['custom_metrics.m[0].ip_list[0]: must be a string']);
    expect(errorsOf(custom({ m: [{ string_list: ['\ud800'] }] }))).toEqual(['custom_metrics.m[0].string_list[0]: must be a string']);
  });

  it('applies the name rules: 1–128 of [a-zA-Z0-9:_-], not aws:', () => {
    accepted(custom({ ['a'.repeat(128)]: [{ number: 1 }], 'x:y_z-0': [{ number: 1 }] }));
    expect(errorsOf(custom({ ['a'.repeat(129)]: [{ number: 1 }] }))[0]).toMatch(
      /: must be 1–128 characters of letters, digits, ":", "_" or "-"$/,
    );
    expect(errorsOf(custom({ '': [{ number: 1 }] }))).toEqual([
      'custom_metrics[""]: must be 1–128 characters of letters, digits, ":", "_" or "-"',
    ]);
    expect(errorsOf(custom({ 'my metric': [{ number: 1 }] }))).toEqual([
      'custom_metrics["my metric"]: must be 1–128 characters of letters, digits, ":", "_" or "-"',
    ]);
    // A hostile name cannot blur the path: it is quoted (found by fuzzing).
    expect(errorsOf(custom({ 'x: y\n': [{ number: 1 }] }))).toEqual([
      'custom_metrics["x: y\\n"]: must be 1–128 characters of letters, digits, ":", "_" or "-"',
    ]);
    expect(errorsOf(custom({ 'aws:cpu': [{ number: 1 }] }))).toEqual([
      'custom_metrics.aws:cpu: must not begin with "aws:" (reserved for AWS metrics)',
    ]);
  });

  it('accepts data the service takes but does not retain, with a warning (C++ v2 SDK sample data requirements)', () => {
    const r = accepted(
      custom({
        // biome-ignore lint/correctness/noPrecisionLoss: a number with more digits than a double keeps is the point
        n: [{ number: 0.12345678901234567 }],
        s: [{ string_list: ['ok', 'has space'] }],
        i: [{ ip_list: ['10.0.0.1', 'not-an-ip'] }],
      }),
    );
    expect(r.warnings).toEqual([
      'custom_metrics.n[0].number: has more than 15 significant digits; the service does not retain such values',
      'custom_metrics.s[0].string_list[1]: has characters other than letters, digits and ":_-/."; the service does not retain such values',
      'custom_metrics.i[0].ip_list[1]: is not an IPv4 or IPv6 address; the service does not retain such values',
    ]);
  });
});

describe('hostile documents', () => {
  it('caps the error list and stops early on a huge array of bad items', () => {
    const ports = Array.from({ length: 200_000 }, () => ({ port: -1 }));
    const errors = errorsOf(longReport({ metrics: { listening_tcp_ports: { ports } } }));
    expect(errors).toHaveLength(20);
    expect(errors[0]).toBe('metrics.listening_tcp_ports.ports[0].port: must be a positive integer');
  });

  it('shortens a huge unknown key in the error path', () => {
    const [error] = errorsOf(longReport({ ['k'.repeat(100_000)]: 1 }));
    expect(error).toBe(`${'k'.repeat(64)}…: is not a known field`);
  });

  it('never throws on exotic objects (a throwing getter, a Proxy)', () => {
    const trap = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('boom');
        },
      },
    );
    expect(validateReportDocument(trap)).toEqual({ ok: false, errors: ['(root): could not be read (boom)'] });
    const getter = {
      header: { report_id: 1, version: '1.0' },
      get metrics(): unknown {
        throw new Error('nope');
      },
    };
    expect(validateReportDocument(getter)).toMatchObject({ ok: false });
  });
});
