// `defender-edge collect` as a real process: what it prints matches ground truth this test creates (a port
// it listens on, owned by this process), the report built from a sample validates like the service, and
// usage errors exit 2.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkReportMessage } from '../../src/report/checkMessage.ts';

const CLI = fileURLToPath(new URL('../../bin/defender-edge.js', import.meta.url));
let server: Server;
let port = 0;
const dir = mkdtempSync(join(tmpdir(), 'dedge-cli-collect-'));
let files = 0;
function cfgFile(text: string): string {
  const p = join(dir, `config-${files++}.json`);
  writeFileSync(p, text);
  return p;
}

beforeAll(async () => {
  server = createServer(() => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await new Promise<void>((r) => server.close(() => r()));
});

function collect(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'collect', ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({
        code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0,
        stdout,
        stderr,
      });
    });
  });
}

describe('defender-edge collect', () => {
  it('--once --json --report: one sample naming this process as the owner of its port, then a valid report', async () => {
    const r = await collect(['--once', '--json', '--report', '--interval', '200']);
    expect(r.code, r.stderr).toBe(0);
    const [sampleLine, reportLine, ...rest] = r.stdout.trim().split('\n');
    expect(rest).toEqual([]);
    const sample = JSON.parse(sampleLine!) as {
      host: { intervalMs: number; network?: unknown; listening: Array<{ port: number; protocol: string; pid?: number }> };
    };
    expect(sample.host.intervalMs).toBeGreaterThan(0);
    expect(sample.host.network).toBeDefined(); // the second sample: deltas exist
    expect(sample.host.listening).toContainEqual(expect.objectContaining({ protocol: 'tcp', port, pid: process.pid }));
    const check = checkReportMessage({
      topic: '$aws/things/Gw/defender/metrics/json',
      payload: Buffer.from(reportLine!),
      nowMs: Date.now(),
    });
    expect(check.status, JSON.stringify(check)).toBe('ACCEPTED');
    expect(reportLine).toContain(`{"port":${port}`);
  });

  it('says where per-process traffic comes from, and why not eBPF when it is not', async () => {
    const r = await collect(['--once', '--interval', '200', '--config', cfgFile('{"collector": {"ebpf": false}}')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^ {2}per-process traffic: sockdiag \(disabled by configuration \(collector\.ebpf is false\)\) — sock_diag: .*no UDP.*; unattributed \d+ B$/m,
    );
    const json = await collect(['--once', '--json', '--interval', '200', '--config', cfgFile('{"collector": {"ebpf": false}}')]);
    const host = (JSON.parse(json.stdout) as { host: { processTraffic: unknown; custom: Record<string, unknown> } }).host;
    expect(host.processTraffic).toMatchObject({ mode: 'sockdiag', polled: false, unattributedBytes: expect.any(Number) });
    expect(host.custom.unattributed_bytes).toEqual({ number: expect.any(Number) });
  });

  it('--count 2: the first sample at once (no deltas yet), the second with deltas', async () => {
    const r = await collect(['--json', '--count', '2', '--interval', '200']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { host: { intervalMs: number; network?: unknown } });
    expect(lines).toHaveLength(2);
    expect(lines[0]!.host).toMatchObject({ intervalMs: 0 });
    expect(lines[0]!.host.network).toBeUndefined();
    expect(lines[1]!.host.network).toBeDefined();
  });

  it('a configuration it cannot read or that is invalid exits 1 with path: message, never a stack trace', async () => {
    const missing = await collect(['--once', '--config', '/nonexistent/dedge-missing.json']);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr.trim()).toBe('/nonexistent/dedge-missing.json: cannot read: ENOENT');
    const bad = await collect(['--once', '--config', cfgFile('{"sampling": {"intervalMs": 1e400}}')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^sampling\.intervalMs: /);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it('usage errors exit 2 and name the option', async () => {
    const r = await collect(['--interval', '5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--interval/);
  });
});
