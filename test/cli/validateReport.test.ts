// The real command in a real process: argument parsing, file and stdin reading, stdout/stderr, exit codes.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode as cborEncode } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/defender-edge.js', import.meta.url));
const fixture = fileURLToPath(new URL('../fixtures/python-agent-report.json', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-validate-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], stdin?: Uint8Array): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'validate-report', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {
      /* the command may stop reading early (oversize input) */
    });
    child.stdin.end(stdin);
  });
}

describe('defender-edge validate-report', () => {
  it('accepts the official agent fixture: exit 0 and the service-style accepted JSON', async () => {
    const r = await run(['--topic', '$aws/things/gw-1/defender/metrics/json', fixture]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      thingName: 'gw-1',
      reportId: 1719403200,
      status: 'ACCEPTED',
      timestamp: expect.any(Number),
    });
  });

  it('rejects a bad report from stdin: exit 1 and the rejected JSON naming the field', async () => {
    const r = await run(['-'], Buffer.from('{"hed":{"rid":-1,"v":"1.0"},"met":{}}'));
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { status: string; statusDetails: { ErrorCode: string; ErrorMessage: string } };
    expect(out.status).toBe('REJECTED');
    expect(out.statusDetails).toEqual({
      ErrorCode: 'InvalidPayload',
      ErrorMessage: 'Malformed metrics report: hed.rid: must be a positive integer',
    });
  });

  it('reads CBOR, format from the topic or from the content', async () => {
    const file = join(dir, 'report.cbor');
    writeFileSync(file, cborEncode({ hed: { rid: 3, v: '1.0' }, cmet: { temp: [{ number: 20 }] } }));
    const withTopic = await run(['--topic', '$aws/things/d/defender/metrics/cbor', file]);
    expect(withTopic.code).toBe(0);
    expect(JSON.parse(withTopic.stdout)).toMatchObject({ thingName: 'd', reportId: 3, status: 'ACCEPTED' });
    expect((await run([file])).code).toBe(0);
    // The same CBOR on the json topic does not parse.
    expect((await run(['--topic', '$aws/things/d/defender/metrics/json', file])).code).toBe(1);
  });

  it('prints warnings for data the service does not retain on stderr, still accepting', async () => {
    const r = await run(['-'], Buffer.from('{"header":{"report_id":1,"version":"1.0"},"custom_metrics":{"s":[{"string_list":["a b"]}]}}'));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: custom_metrics.s[0].string_list[0]: has characters other than');
  });

  it('rejects an oversize input without reading all of it', async () => {
    const r = await run(['-'], Buffer.alloc(2 * 1024 * 1024, 0x20));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('payload: is over the 131072-byte AWS IoT message limit');
  });

  it('exits 2 on usage errors: no file, missing file, two files, unknown option, a non-report topic', async () => {
    for (const args of [
      [],
      [join(dir, 'missing.json')],
      [fixture, fixture],
      ['--nope', fixture],
      ['--topic', 'a/b', fixture],
      ['--topic', '$aws/things/x/defender/metrics/json/accepted', fixture],
    ]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^defender-edge validate-report: /);
    }
  }, 90_000); // six process starts on a shared 2-core machine

  it('prints help and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: defender-edge validate-report [--topic TOPIC] FILE|-');
  });
});
