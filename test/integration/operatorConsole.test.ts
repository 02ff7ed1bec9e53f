// The operator's console end to end: the whole agent (`defender-edge run`, enforcing) in a network namespace
// and a private pid namespace, against the emulator over a real socket; the operator's commands as real
// child processes talking to its control socket; commands from the cloud through the emulator's IoT Core.
// A device's block deleted by hand is seen as lifted (not "already active") and its offender left alone;
// lifts, pauses and cloud commands are audited with who; `explain` draws the window against the threshold;
// with the agent stopped the commands read its persisted state.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../src/control/statusModel.ts';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { type AgentProcess, runCli, startAgentProcess } from '../support/agentProcess.ts';
import { createTopology, destroyTopology, inNs, startTcpServer, type Topology } from '../support/netns.ts';
import { requires, root } from '../support/requirements.ts';
import { uniqueId } from '../support/uniqueId.ts';
import { until } from '../support/until.ts';

const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const TOKEN = 'CONSOLETESTTOKEN1';
const GW = 'ConsoleGateway';
const id = uniqueId();
const table = `${id}_t`;
const SENSOR2 = '10.231.0.12'; // not on any interface: blocking it touches nothing but our table
const SENSOR3 = '10.231.0.13';

let topo: Topology;
let dir: string;
let emulator: GreengrassEmulator;
let agent: AgentProcess;
let reportId = 1000;
let server: ChildProcess | undefined;

const overrides = () => ({
  sampling: { intervalMs: 500 },
  heartbeat: { enabled: false },
  collector: { downstreamNftTable: `${id}_ds`, perProcess: true },
  downstream: {
    devices: [
      { thingName: 'sensor-1', addresses: [topo.devAddr] },
      { thingName: 'sensor-2', addresses: [SENSOR2] },
      { thingName: 'sensor-3', addresses: [SENSOR3] },
    ],
  },
  enforcement: { mode: 'enforce', nftTable: table, liftQuietSeconds: 600 },
  behaviors: [
    {
      name: 'onlySsh',
      metric: 'aws:listening-tcp-ports',
      criteria: { comparisonOperator: 'in-port-set', value: { ports: [22] } },
      edge: { scope: { host: false, devices: true }, action: { type: 'address-block', ttlSeconds: 600 } },
    },
    {
      name: 'bytesOut',
      metric: 'aws:all-bytes-out',
      criteria: { comparisonOperator: 'less-than', value: { count: 10000 }, durationSeconds: 300 },
      edge: { scope: { host: false, devices: true } },
    },
  ],
});

function report(thing: string, metrics: Record<string, unknown>): void {
  const body = { header: { report_id: ++reportId, version: '1.0' }, metrics };
  emulator.publishLocal(`$aws/things/${thing}/defender/metrics/json`, Buffer.from(JSON.stringify(body)));
}
const ports = (...p: number[]) => ({ listening_tcp_ports: { ports: p.map((port) => ({ port })) } });

const cli = async (...args: string[]) => runCli([...args, '--work-dir', dir]);
async function cliJson<T>(...args: string[]): Promise<T> {
  const r = await cli(...args, '--json');
  if (r.code !== 0 && r.code !== 3) throw new Error(`defender-edge ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface Action {
  id: string;
  type: string;
  target: { addresses?: string[] };
  readBack?: { state: string; observed: string };
  violation: { violationId: string; thingName: string };
}
interface AuditLine {
  outcome?: string;
  reason?: string;
  record?: string;
  command?: string;
  by?: { via: string; user?: string; uid?: number; commandId?: string };
  violation?: { violationId: string; thingName: string };
}
const audit = (): AuditLine[] => {
  const p = join(dir, 'state', 'enforcement', 'audit.jsonl');
  return existsSync(p)
    ? readFileSync(p, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditLine)
    : [];
};
const cloud = (): Array<{ topic: string; payload: string }> => {
  const p = join(dir, 'cloud.jsonl');
  return existsSync(p)
    ? readFileSync(p, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { topic: string; payload: string })
    : [];
};
const inSet = (addr: string) => inNs(topo.gw, 'nft', ['-j', 'list', 'set', 'inet', table, 'block4']).includes(`"${addr}"`);

async function actionFor(thing: string): Promise<Action> {
  let found: Action | undefined;
  await until(
    () => {
      void cliJson<{ actions: Action[] }>('actions', 'list').then((l) => {
        found = l.actions.find((a) => a.violation.thingName === thing);
      });
      return found;
    },
    20_000,
    `an action in force for ${thing}`,
    1000,
  );
  return found!;
}

/** One raw request line on the control socket, one answer. */
function rawRequest(line: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = createConnection(join(dir, 'control.sock'));
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${line}\n`));
    s.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) {
        s.destroy();
        resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))) as Record<string, unknown>);
      }
    });
    s.on('error', reject);
  });
}

beforeAll(async () => {
  topo = createTopology(id);
  // A listener in the gateway's namespace started from outside the agent's pid namespace: its socket is
  // in the sample, its owner is not visible to the agent — attribution coverage must say so.
  server = await startTcpServer(topo.gw, topo.gwAddr, 7211);
  dir = mkdtempSync(join(tmpdir(), 'dedge-con-'));
  emulator = new GreengrassEmulator({
    socketPath: join(dir, 'ipc.sock'),
    recipe: RECIPE,
    overrides: overrides(),
    thingName: GW,
    token: TOKEN,
    recordFile: join(dir, 'cloud.jsonl'),
    validationTimeoutMs: 5000,
  });
  await emulator.start();
  agent = await startAgentProcess({ netns: topo.gw, workDir: dir, ipcSocket: join(dir, 'ipc.sock'), token: TOKEN, thingName: GW });
  await until(() => existsSync(join(dir, 'control.sock')), 30_000, 'the control socket');
  // The commands subscription is up once the emulator counts its stream.
  await until(() => emulator.status().openStreams > 4, 20_000, 'subscriptions');
}, 90_000);

afterAll(async () => {
  await agent?.stop();
  server?.kill('SIGKILL');
  await emulator?.stop().catch(() => undefined);
  try {
    inNs(topo.gw, 'nft', ['delete', 'table', 'inet', table]);
  } catch {
    /* gone with the namespace anyway */
  }
  if (topo) destroyTopology(topo);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the operator console against a running, enforcing agent', requires(root), () => {
  it('is visible on the host: process title, a root-only socket, log levels as words', async () => {
    const pid = agent.agentPid()!;
    expect(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()).toBe('defender-edge');
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe('defender-edge');
    const st = statSync(join(dir, 'control.sock'));
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    await until(() => agent.logs.some((l) => l.msg === 'agent running'), 20_000, 'agent running');
    const levels = new Set(agent.logs.map((l) => l.level).filter((x) => x !== undefined));
    expect([...levels].every((l) => typeof l === 'string' && ['info', 'warn', 'error', 'debug'].includes(l))).toBe(true);
  });

  it('status: connection, outbox, last sample with attribution, enforcement mode, self-limit', async () => {
    let s: AgentStatus | undefined;
    await until(
      () => {
        void cliJson<AgentStatus>('status').then((x) => {
          s = x;
        });
        return s?.lastSample !== undefined && s.ipc?.connected === true && s.cloudCommands?.subscription === 'active';
      },
      20_000,
      'a status with a sample',
      1000,
    );
    expect(s).toMatchObject({
      running: true,
      thingName: GW,
      enforcement: { mode: 'enforce', active: [] },
      cloudCommands: { topic: `defender-edge/${GW}/commands` },
      selfLimit: { shedding: false },
    });
    expect(s!.outbox!.depth).toBeGreaterThanOrEqual(0);
    expect(s!.lastSample).toMatchObject({ perProcess: true, attributedSockets: 0 });
    expect(s!.lastSample!.sockets).toBeGreaterThanOrEqual(1);
    const text = await cli('status');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^agent: running on ConsoleGateway, pid \d+/m);
    expect(text.stdout).toMatch(/^enforcement: enforce$/m);
    expect(text.stdout).toMatch(/^attribution: 0 of [1-9]\d* sockets attributed to a process \(0 %\)$/m);
    expect(text.stdout).toMatch(/^self-limit: rss .* of 256\.0 MiB/m);
  });

  it('a block deleted by hand is seen as lifted, and the device offending again is left alone, not "already active"', async () => {
    report('sensor-1', ports(22, 23));
    const action = await actionFor('sensor-1');
    expect(action).toMatchObject({ type: 'address-block', target: { addresses: [topo.devAddr] }, readBack: { state: 'in-force' } });
    expect(inSet(topo.devAddr)).toBe(true);

    inNs(topo.gw, 'nft', ['delete', 'element', 'inet', table, 'block4', `{ ${topo.devAddr} }`]);
    const list = await cliJson<{ actions: Action[]; quiet: Array<{ offenceKey: string }> }>('actions', 'list');
    expect(list.actions.filter((a) => a.violation.thingName === 'sensor-1')).toEqual([]);
    expect(list.quiet.map((q) => q.offenceKey)).toContain('device:sensor-1');

    report('sensor-1', ports(22)); // cleared
    report('sensor-1', ports(22, 23)); // offends again: a new violation
    await until(
      () => audit().find((l) => l.reason === 'quiet-after-lift' && l.violation?.thingName === 'sensor-1'),
      10_000,
      'the quiet skip',
    );
    const mine = audit().filter((l) => l.violation?.thingName === 'sensor-1');
    expect(mine.map((l) => `${l.outcome}:${l.reason ?? ''}`)).toEqual(['applied:', 'lifted:drift', 'skipped:quiet-after-lift']);
    expect(mine.some((l) => l.reason === 'already-active')).toBe(false);
    expect(inSet(topo.devAddr)).toBe(false);

    // explain tells the first violation whole: rails, action, kernel read-back, the lift.
    const first = action.violation.violationId;
    const ex = await cli('explain', first.slice(0, 10));
    expect(ex.code).toBe(0);
    expect(ex.stdout).toContain(`violation ${first}: alarm-cleared`);
    expect(ex.stdout).toMatch(/behavior: {2}onlySsh — aws:listening-tcp-ports: normal while in-port-set ports \[22\]/);
    expect(ex.stdout).toMatch(/✓ not loopback, multicast or an address of this gateway/);
    expect(ex.stdout).toMatch(/applied: address-block on 10\.231\.0\.2, ttl 10m 00s/);
    expect(ex.stdout).toMatch(/kernel: in-force — 10\.231\.0\.2 in inet \S+ block4/);
    expect(ex.stdout).toMatch(/lifted \(drift\): address-block on 10\.231\.0\.2/);
    expect(ex.stdout).toContain('by someone on the host, outside the agent; quiet until');
  });

  it('explain draws the window that crossed the threshold, datapoint by datapoint', async () => {
    for (const bytes of [3000, 4000, 5000])
      report('sensor-2', { network_stats: { bytes_in: 10, bytes_out: bytes, packets_in: 1, packets_out: 1 } });
    let v: { violationId: string } | undefined;
    await until(
      () => {
        void cliJson<{ violations: Array<{ violationId: string; behavior: string; thingName: string }> }>('violations', 'list').then(
          (l) => {
            v = l.violations.find((x) => x.behavior === 'bytesOut' && x.thingName === 'sensor-2');
          },
        );
        return v;
      },
      15_000,
      'the bytesOut violation',
      1000,
    );
    const ex = await cli('explain', v!.violationId, '--width', '40', '--rows', '1000');
    expect(ex.code).toBe(0);
    const rows = ex.stdout.split('\n');
    expect(ex.stdout).toMatch(/window when it went in-alarm over 5m 00s: \d+ datapoints/);
    expect(ex.stdout).toContain('┃ = threshold 10,000');
    const crossing = rows.find((r) => r.includes('◀ crosses'))!;
    expect(crossing).toMatch(/\+5,000\s+12,000\s+█+┃?█*/);
    // Every datapoint of the window: the three reports and the gateway's own zero-traffic samples of the device.
    expect(
      rows.filter((r) => /\+3,000\s+3,000 /.test(r)),
      ex.stdout,
    ).toHaveLength(1);
    expect(
      rows.filter((r) => /\+4,000\s+7,000 /.test(r)),
      ex.stdout,
    ).toHaveLength(1);
    expect(ex.stdout).toContain('judged: 12,000 is not less-than 10,000 → violating');
    expect(ex.stdout).toContain('action:    none (alert only');
    const ascii = await cli('explain', v!.violationId, '--ascii');
    expect(ascii.stdout).toMatch(/#+\|?#*\s+<- crosses/);
  });

  it('actions lift: removes the block at once, audited with who; the offender stays unblocked for the quiet window', async () => {
    report('sensor-2', ports(23));
    const a = await actionFor('sensor-2');
    expect(inSet(SENSOR2)).toBe(true);
    const r = await cli('actions', 'lift', a.id.slice(0, 8), '--quiet-for', '10m');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^lifted ${a.id} \\(address-block on ${SENSOR2.replaceAll('.', '\\.')}\\): lifted by \\S+ \\(uid 0\\) on the gateway`),
    );
    expect(inSet(SENSOR2)).toBe(false);
    const lifted = audit().find((l) => l.outcome === 'lifted' && l.reason === 'operator')!;
    expect(lifted.by).toMatchObject({ via: 'socket', uid: 0 });
    expect(typeof lifted.by!.user).toBe('string');

    const again = await cli('actions', 'lift', a.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`defender-edge actions lift: actionId: no action in force with id "${a.id}"\n`);
    expect(audit().at(-1)).toMatchObject({ record: 'command', command: 'lift', outcome: 'rejected' });
    // The device offends again (clear, then violate): left alone for the quiet window.
    report('sensor-2', ports(22));
    report('sensor-2', ports(22, 23));
    await until(
      () => audit().find((l) => l.reason === 'quiet-after-lift' && l.violation?.thingName === 'sensor-2'),
      10_000,
      'the quiet skip',
    );
    expect(inSet(SENSOR2)).toBe(false);
    const bad = await cli('actions', 'lift', a.id, '--quiet-for', 'forever');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--quiet-for: must be a duration/);
  });

  it('pause and resume from the gateway', async () => {
    const p = await cli('pause', '90');
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^enforcement paused until .*: decisions are dry-run/);
    expect((await cliJson<{ enforcement: { mode: string; paused?: unknown } }>('status')).enforcement).toMatchObject({
      mode: 'dry-run',
      paused: { by: { via: 'socket' } },
    });
    expect((await cli('resume')).stdout).toBe('enforcement resumed\n');
    expect(
      audit()
        .filter((l) => l.record === 'command')
        .map((l) => `${l.command}:${l.outcome}`),
    ).toEqual(expect.arrayContaining(['pause:accepted', 'resume:accepted']));
  });

  it('refuses malformed requests on the socket with path: message, and keeps serving', async () => {
    expect(await rawRequest('not json')).toMatchObject({ ok: false, error: expect.stringMatching(/^\(request\): not JSON/) });
    expect(await rawRequest('{"id":7,"command":"reboot"}')).toEqual({
      id: 7,
      ok: false,
      error:
        'command: must be one of status, actions.list, actions.lift, violations.list, violations.get, pause, resume, reconcile, got "reboot"',
    });
    expect(await rawRequest('{"id":8,"command":"pause","seconds":-1}')).toMatchObject({
      ok: false,
      error: 'seconds: must be an integer from 1 to 2592000, got -1',
    });
    expect(await rawRequest('{"id":9,"command":"status","extra":1}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^extra: unknown field/),
    });
    const big = await rawRequest(`{"command":"status","pad":"${'x'.repeat(70_000)}"}`);
    expect(big).toMatchObject({ ok: false, error: '(request): longer than 65536 bytes' });
    expect(await rawRequest('{"id":10,"command":"status"}')).toMatchObject({ id: 10, ok: true });
  });

  it('takes lift, pause, resume and status from the cloud, answers each on accepted/rejected, audits them', async () => {
    report('sensor-3', ports(23));
    const a = await actionFor('sensor-3');
    const topic = `defender-edge/${GW}/commands`;
    const send = (doc: unknown) => expect(emulator.cloudPublish(topic, typeof doc === 'string' ? doc : JSON.stringify(doc))).toBe(1);
    const answer = (commandId: string) =>
      until(
        () => {
          const m = cloud().find(
            (x) => x.topic.startsWith(`${topic}/`) && (JSON.parse(x.payload) as { commandId?: string }).commandId === commandId,
          );
          return m === undefined ? undefined : { topic: m.topic, doc: JSON.parse(m.payload) as Record<string, unknown> };
        },
        10_000,
        `the answer to ${commandId}`,
      );

    send({ commandId: 'c-status', command: 'status', requestedBy: 'ops@example.com' });
    const st = await answer('c-status');
    expect(st.topic).toBe(`${topic}/accepted`);
    expect(st.doc).toMatchObject({ command: 'status', result: { running: true, thingName: GW } });

    send({ commandId: 'c-lift', command: 'lift', actionId: a.id, quietForSeconds: 300, requestedBy: 'ops@example.com' });
    const lift = await answer('c-lift');
    expect(lift).toMatchObject({
      topic: `${topic}/accepted`,
      doc: { command: 'lift', result: { record: { outcome: 'lifted', reason: 'operator' } } },
    });
    expect(inSet(SENSOR3)).toBe(false);
    expect(audit().find((l) => l.outcome === 'lifted' && l.by?.commandId === 'c-lift')).toMatchObject({
      by: { via: 'cloud', user: 'ops@example.com', commandId: 'c-lift' },
    });

    send({ commandId: 'c-bad', command: 'reboot' });
    expect(await answer('c-bad')).toMatchObject({
      topic: `${topic}/rejected`,
      doc: { command: 'reboot', error: 'command: must be one of lift, pause, resume, status, got "reboot"' },
    });
    send({ commandId: 'c-bad2', command: 'pause', seconds: 'soon' });
    expect(await answer('c-bad2')).toMatchObject({
      topic: `${topic}/rejected`,
      doc: { error: 'seconds: must be an integer from 1 to 2592000, got "soon"' },
    });
    send({ commandId: 'c-bad3', command: 'lift', actionId: 'deadbeef' });
    expect(await answer('c-bad3')).toMatchObject({
      topic: `${topic}/rejected`,
      doc: { error: 'actionId: no action in force with id "deadbeef"' },
    });

    send({ commandId: 'c-pause', command: 'pause', seconds: 60 });
    expect(await answer('c-pause')).toMatchObject({
      topic: `${topic}/accepted`,
      doc: { result: { pause: { by: { via: 'cloud', commandId: 'c-pause' } } } },
    });
    send({ commandId: 'c-resume', command: 'resume' });
    expect(await answer('c-resume')).toMatchObject({ topic: `${topic}/accepted`, doc: { result: { wasPaused: true } } });

    const commands = audit().filter((l) => l.record === 'command' && l.by?.via === 'cloud');
    expect(commands.map((l) => `${l.command}:${l.outcome}:${l.by?.commandId}`)).toEqual([
      'status:accepted:c-status',
      'reboot:rejected:c-bad',
      'pause:rejected:c-bad2',
      'lift:rejected:c-bad3',
      'pause:accepted:c-pause',
      'resume:accepted:c-resume',
    ]);
  });

  it('with the agent stopped, the commands read its persisted state', async () => {
    await agent.stop();
    expect(existsSync(join(dir, 'control.sock'))).toBe(false);
    const s = await cli('status');
    expect(s.code).toBe(3);
    expect(s.stdout).toMatch(/^agent: not running \(no answer on its control socket\); from its persisted state in /);
    expect(s.stdout).toMatch(/quiet after a lift: device:sensor-1 until/);
    const v = await cliJson<{ running: boolean; violations: Array<{ behavior: string }> }>('violations', 'list');
    expect(v.running).toBe(false);
    expect(v.violations.map((x) => x.behavior)).toEqual(expect.arrayContaining(['onlySsh', 'bytesOut']));
    const lift = await cli('actions', 'lift', 'abcd1234');
    expect(lift.code).toBe(1);
    expect(lift.stderr).toMatch(/no agent answers on .*control\.sock: start it to lift an action/);
  });
});
