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

  it('exits 2 with line-numbered path: message errors and prints no events for a bad line', () => {
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
    expect(r.code).toBe(2);
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
    ]);
  });

  it('exits 2 with behaviors[i] errors for a bad profile, and for usage errors', () => {
    const bad = {
      behaviors: [
        profile.behaviors[0],
        { name: 'ml', metric: 'aws:all-bytes-out', criteria: { mlDetectionConfig: { confidenceLevel: 'LOW' } } },
      ],
    };
    const d = file('ok.jsonl', line(1, 'a', 'aws:all-bytes-out', { count: 1 }));
    const r = run(['--profile', file('bad.json', JSON.stringify(bad)), '--datapoints', d]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^behaviors\[1\]\.criteria\.mlDetectionConfig: ML Detect is not supported on the edge/);
    expect(run(['--profile', file('notjson.json', '{'), '--datapoints', d])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/notjson\.json: not valid JSON/),
    });
    expect(run(['--profile', join(dir, 'nope.json'), '--datapoints', d])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/nope\.json: cannot read: ENOENT/),
    });
    expect(run(['--datapoints', d])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--profile and --datapoints are required/) });
    expect(run(['--profile', d, '--datapoints', d, '--bogus'])).toMatchObject({ code: 2 });
  });
});
