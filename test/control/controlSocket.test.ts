// The control socket over a real Unix socket: root-only file mode from the first moment it has its name,
// JSON lines in order on one connection, a bounded request size, a stale file replaced, a second agent
// on the same work folder refused; the client tells "not running" from other failures.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentNotRunning, sendControlRequest, whoAmI } from '../../src/control/controlClient.ts';
import { ControlSocketServer, controlSocketPath } from '../../src/control/controlSocket.ts';
import { MAX_REQUEST_BYTES } from '../../src/control/protocol.ts';
import { silentLogger } from '../../src/log.ts';

let dir: string;
const servers: ControlSocketServer[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-ctl-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function server(handle: (line: string) => Promise<string> = async (l) => JSON.stringify({ ok: true, echo: JSON.parse(l) })) {
  const s = new ControlSocketServer({ path: controlSocketPath(dir), handle, logger: silentLogger() });
  servers.push(s);
  await s.start();
  return s;
}

function converse(lines: string[], expect: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = createConnection(controlSocketPath(dir));
    const got: string[] = [];
    let buf = '';
    c.setEncoding('utf8');
    c.on('connect', () => c.write(lines.join('')));
    c.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        got.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      if (got.length >= expect) {
        c.destroy();
        resolve(got);
      }
    });
    c.on('close', () => resolve(got));
    c.on('error', reject);
  });
}

describe('control socket', () => {
  it('is a socket of mode 0600 in the work folder, and is removed on stop', async () => {
    const s = await server();
    const st = statSync(s.path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await s.stop();
    expect(() => statSync(s.path)).toThrow(/ENOENT/);
  });

  it('answers each line in order on one connection', async () => {
    let n = 0;
    await server(async (l) => {
      const mine = ++n;
      await new Promise((r) => setTimeout(r, mine === 1 ? 50 : 0)); // the first is slower: order must hold anyway
      return JSON.stringify({ n: mine, line: l });
    });
    const got = await converse(['{"a":1}\n', '\n', '{"a":2}\n'], 2);
    expect(got.map((g) => JSON.parse(g))).toEqual([
      { n: 1, line: '{"a":1}' },
      { n: 2, line: '{"a":2}' },
    ]);
  });

  it('refuses a request longer than the bound and closes the connection', async () => {
    const s = await server();
    const got = await converse([`{"pad":"${'x'.repeat(MAX_REQUEST_BYTES)}"}\n`], 1);
    expect(got).toEqual([JSON.stringify({ ok: false, error: `(request): longer than ${MAX_REQUEST_BYTES} bytes` })]);
    expect(s.refused).toBe(1);
    // still serving others
    expect(await sendControlRequest(s.path, { command: 'status' })).toMatchObject({ ok: true });
  });

  it('replaces a stale socket file, refuses to start where another agent answers', async () => {
    writeFileSync(controlSocketPath(dir), ''); // left behind by an agent that was killed
    const s = await server();
    expect(statSync(s.path).isSocket()).toBe(true);
    const second = new ControlSocketServer({ path: s.path, handle: async () => '{}', logger: silentLogger() });
    await expect(second.start()).rejects.toThrow(/another agent answers there/);
    expect(await sendControlRequest(s.path, { command: 'status' })).toMatchObject({ ok: true }); // the first is untouched
  });

  it('the client reports a missing agent as AgentNotRunning, and who it is', async () => {
    await expect(sendControlRequest(controlSocketPath(dir), { command: 'status' })).rejects.toBeInstanceOf(AgentNotRunning);
    expect(whoAmI({ SUDO_USER: 'alice' })).toEqual({ user: 'alice', uid: process.getuid!() });
    expect(whoAmI({}).uid).toBe(process.getuid!());
  });
});
