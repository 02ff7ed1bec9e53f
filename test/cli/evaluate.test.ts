import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '../../bin/defender-edge.js');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-cli-eval-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [bin, 'evaluate', ...args], { encoding: 'utf8', timeout: 20_000, input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const profile = {
  securityProfileName: 'CheckRogueDevices',
  behaviors: [
    {
      name: 'bytesOut',
      metric: 'aws:all-bytes-out',
      criteria: { comparisonOperator: 'less-than', value: { count: 10000 }, durationSeconds: 300 },
    },
    {
      name: 'dst',
      metric: 'aws:destination-ip-addresses',
      criteria: {
        comparisonOperator: 'in-cidr-set',
        value: { cidrs: ['10.0.0.0/8', 'fd00::/8'] },
        consecutiveDatapointsToAlarm: 2,
        consecutiveDatapointsToClear: 2,
      },
    },
  ],
};

const line = (t: number, thing: string, metric: string, value: unknown) => JSON.stringify({ t, thing, metric, value });

describe('defender-edge evaluate', () => {
  it('prints one JSON line per event and exits 0', () => {
    const lines = [
      ...Array.from({ length: 5 }, (_, i) => line((i + 1) * 60, 'MyDevice', 'aws:all-bytes-out', { count: 2500 })),
      line(400, 'MyDevice', 'aws:destination-ip-addresses', { cidrs: ['10.1.1.1', '8.8.8.8'] }),
      line(401, 'MyDevice', 'aws:destination-ip-addresses', { cidrs: ['fd00::1', '2001:db8::1'] }),
      line(402, 'MyDevice', 'aws:destination-ip-addresses', { cidrs: ['10.1.1.1'] }),
      '',
      line(403, 'MyDevice', 'aws:destination-ip-addresses', { cidrs: [] }),
      line(404, 'Other', 'aws:all-bytes-out', { count: 1 }),
    ];
    const r = run(['--profile', file('p.json', JSON.stringify(profile)), '--datapoints', file('d.jsonl', lines.join('\n'))]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { t: 240, thing: 'MyDevice', behavior: 'bytesOut', event: 'in-alarm', value: { count: 10000 } },
      { t: 401, thing: 'MyDevice', behavior: 'dst', event: 'in-alarm', value: { cidrs: ['fd00::1', '2001:db8::1'] } },
      { t: 403, thing: 'MyDevice', behavior: 'dst', event: 'alarm-cleared', value: { cidrs: [] } },
    ]);
  });

  it('reports alarm-invalidated when a thing falls silent, from stdin', () => {
    const lines = [line(0, 'a', 'aws:all-bytes-out', { count: 20000 }), line(100, 'b', 'aws:all-bytes-out', { count: 1 })].join('\n');
    const r = run(['--profile', file('p2.json', JSON.stringify(profile)), '--datapoints', '-', '--invalidate-after', '60'], lines);
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { t: 0, thing: 'a', behavior: 'bytesOut', event: 'in-alarm', value: { count: 20000 } },
      { t: 100, thing: 'a', behavior: 'bytesOut', event: 'alarm-invalidated' },
    ]);
  });

  it('exits 1 with line-numbered path: message errors and prints no events for a bad line', () => {
    const lines = [
      line(1, 'a', 'aws:all-bytes-out', { count: 20000 }),
      '',
      line(3, 'a', 'aws:all-bytes-out', { count: -4 }),
      '{"t": 4, "thing": "a"',
      line(5, 'a', 'aws:all-bytes-out', { number: 4 }),
      line(6, 'a', 'aws:destination-ip-addresses', { cidrs: ['10.0.0.0/8'] }),
      JSON.stringify({ t: -1, thing: '', metric: 'm', value: { count: 1 }, extra: true }),
    ];
    const r = run(['--profile', file('p3.json', JSON.stringify(profile)), '--datapoints', file('bad.jsonl', lines.join('\n'))]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const errors = r.stderr.trim().split('\n');
    expect(errors[0]).toBe('line 3: value.count: must be a non-negative integer, got number -4');
    expect(errors[1]).toMatch(/^line 4: \(line\): not valid JSON: /);
    expect(errors.slice(2)).toEqual([
      'line 5: value: aws:all-bytes-out takes value.count, got value.number',
      'line 6: value.cidrs[0]: "10.0.0.0/8" must be an IP address, not a range',
      'line 7: extra: is not a known field (t, thing, metric, value)',
      'line 7: t: must be a time in seconds (a non-negative number), got number -1',
      'line 7: thing: must be a thing name of 1–128 characters, got string ""',
      'line 7: metric: "m" is neither a Device Defender metric nor a custom metric of the profile',
    ]);
  });

  it('exits 1 with behaviors[i] errors for a bad profile, 2 for usage errors', () => {
    const bad = {
      behaviors: [
        profile.behaviors[0],
        { name: 'ml', metric: 'aws:all-bytes-out', criteria: { mlDetectionConfig: { confidenceLevel: 'LOW' } } },
      ],
    };
    const d = file('ok.jsonl', line(1, 'a', 'aws:all-bytes-out', { count: 1 }));
    const r = run(['--profile', file('bad.json', JSON.stringify(bad)), '--datapoints', d]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^behaviors\[1\]\.criteria\.mlDetectionConfig: ML Detect is not supported on the edge/);
    expect(run(['--profile', file('notjson.json', '{'), '--datapoints', d])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/notjson\.json: not valid JSON/),
    });
    expect(run(['--profile', join(dir, 'nope.json'), '--datapoints', d])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/nope\.json: cannot read: ENOENT/),
    });
    expect(run(['--datapoints', d])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--profile and --datapoints are required/) });
    expect(run(['--profile', d, '--datapoints', d, '--bogus'])).toMatchObject({ code: 2 });
  });
});

describe('defender-edge evaluate with recorded samples and configurations', () => {
  // Lines as `defender-edge collect --json` prints them: one process sends 4 KB a second.
  const recorded = (i: number, bytesOut: number) =>
    JSON.stringify({
      host: {
        t: 1_700_000_000_000 + i * 1000,
        intervalMs: i === 0 ? 0 : 1000,
        ...(i === 0 ? {} : { network: { bytesIn: 10, bytesOut: bytesOut + 100, packetsIn: 1, packetsOut: 3 } }),
        listening: [{ protocol: 'tcp', address: '0.0.0.0', port: 22 }],
        established: [{ localAddress: '10.0.0.5', localPort: 40000, remoteAddress: '203.0.113.9', remotePort: 443, pid: 4242 }],
        processes: [
          {
            pid: 4242,
            comm: 'rogue',
            startTime: 99,
            traffic: { bytesIn: 0, bytesOut, packetsIn: 0, packetsOut: 3 },
            listeningTcpPorts: [],
            listeningUdpPorts: [],
            establishedConnections: 1,
            remoteAddresses: ['203.0.113.9'],
          },
        ],
        custom: {},
        degraded: [],
      },
      devices: [],
    });
  const perProcess = {
    name: 'procBytesOut',
    metric: 'aws:all-bytes-out',
    criteria: { comparisonOperator: 'less-than', value: { count: 10000 }, durationSeconds: 300 },
    edge: { scope: { processes: true } },
  };
  const session = () => file('session.jsonl', [0, 1, 2, 3, 4].map((i) => recorded(i, i === 0 ? 0 : 4000)).join('\n'));

  it('replays collect --json output through per-process behaviors, naming the process', () => {
    const r = run(['--profile', file('pp.json', JSON.stringify({ behaviors: [perProcess] })), '--datapoints', session(), '--thing', 'Gw']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // 4000 + 4000 + 4000 > 10000 at the third delta (t = +3 s).
    expect(events).toEqual([
      {
        t: 1_700_000_003,
        thing: 'Gw',
        behavior: 'procBytesOut',
        event: 'in-alarm',
        value: { count: 12000 },
        offender: { kind: 'process', pid: 4242, comm: 'rogue', startTime: 99 },
      },
    ]);
  });

  it('takes a component configuration or a recipe as the profile (its perProcess setting decides)', () => {
    const config = { collector: { perProcess: false }, behaviors: [perProcess] };
    const off = run(['--profile', file('cfg.json', JSON.stringify(config)), '--datapoints', session()]);
    expect(off).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const recipe = [
      'RecipeFormatVersion: "2020-01-25"',
      'ComponentName: com.example.Test',
      'ComponentConfiguration:',
      '  DefaultConfiguration:',
      `    behaviors: ${JSON.stringify([perProcess])}`,
    ].join('\n');
    const on = run(['--profile', file('recipe.yaml', recipe), '--datapoints', session()]);
    expect(on.stderr).toBe('');
    expect(on.stdout).toContain('"behavior":"procBytesOut","event":"in-alarm"');
    const badConfig = run([
      '--profile',
      file('bad-cfg.json', JSON.stringify({ sampling: { intervalMs: 5 }, behaviors: [] })),
      '--datapoints',
      session(),
    ]);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toMatch(/^sampling\.intervalMs: /);
  });

  it('refuses a malformed recorded sample with the field and the value', () => {
    const bad = JSON.parse(recorded(1, 4000)) as { host: { processes: { traffic: { bytesOut: unknown } }[]; listening: unknown } };
    bad.host.processes[0]!.traffic.bytesOut = -1;
    bad.host.listening = 'none';
    const r = run([
      '--profile',
      file('pp2.json', JSON.stringify({ behaviors: [perProcess] })),
      '--datapoints',
      file('bad-session.jsonl', JSON.stringify(bad)),
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      'line 1: host.listening: must be an array, got string "none"',
      'line 1: host.processes[0].traffic.bytesOut: must be a non-negative integer, got number -1',
    ]);
  });
});
