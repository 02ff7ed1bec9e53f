// Fault test, the emulator (nucleus) killed and restarted: the emulator and the agent
// (`defender-edge run`) are both child processes. The emulator is SIGKILLed (stale socket left behind)
// while the agent keeps producing reports, then started again: the agent reconnects, resubscribes and
// carries on within 5 s of the socket being back, and every message its outbox held on disk during the
// outage reaches the cloud.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, type EmulatorProcess, killEmulator, spawnEmulator, tempDir } from '../support/ipc.ts';
import { until } from '../support/until.ts';

const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const TOKEN = 'NUCLEUSKILLTEST1';
const GW = 'GatewayThing';
const emulators: EmulatorProcess[] = [];
const agents: ChildProcess[] = [];
const cleanups: Array<() => void> = [];

afterEach(async () => {
  for (const a of agents.splice(0)) {
    if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
  }
  for (const e of emulators.splice(0)) await killEmulator(e);
  for (const c of cleanups.splice(0)) c();
});

interface Recorded {
  ts: number;
  topic: string;
  payload: string;
}

/** Poll the emulator's `status` control command until `ok` holds. */
async function statusUntil(e: EmulatorProcess, ok: (status: Record<string, unknown>) => boolean, ms: number, what: string): Promise<void> {
  let last: Record<string, unknown> = {};
  const check = async () => {
    last = await e.send('status');
    return ok(last);
  };
  await until(check, ms, what, 50).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)}`);
  });
}

describe('nucleus killed and restarted', () => {
  it(
    'the agent reconnects, resubscribes and delivers what it held, within 5 s of the socket coming back',
    () => killAndRestart(false),
    90_000,
  );

  // The nucleus answers PublishToIoTCore once a message is in its memory spool; SIGKILL loses the spool.
  // The outbox kept those messages (unconfirmed) and sends them again: nothing is lost.
  it('cloud offline: what the nucleus had spooled when it was killed still reaches the cloud', () => killAndRestart(true), 90_000);
});

async function killAndRestart(cloudOfflineFirst: boolean): Promise<void> {
  {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const socket = join(tmp.dir, 'ipc.sock');
    const record = join(tmp.dir, 'cloud.jsonl');
    // Only `run --state-dir` names this folder (the configuration leaves stateDir at its default): the
    // outbox checked below must be there.
    const stateDir = join(tmp.dir, 'agent-state');
    writeFileSync(
      join(tmp.dir, 'overrides.json'),
      JSON.stringify({
        sampling: { intervalMs: 200 },
        heartbeat: { enabled: false },
        collector: { perProcess: false, customMetrics: false, tcpBytes: false },
        downstream: { devices: [{ thingName: 'Dev1', addresses: ['192.0.2.10'] }] },
      }),
    );
    const emulatorArgs = [
      '--socket',
      socket,
      '--token',
      TOKEN,
      '--thing',
      GW,
      '--recipe',
      RECIPE,
      '--config',
      join(tmp.dir, 'overrides.json'),
      '--record',
      record,
    ];
    const first = spawnEmulator(emulatorArgs);
    emulators.push(first);
    await first.ready;

    const agent = spawn(process.execPath, [CLI, 'run', '--state-dir', stateDir, '--report-interval-seconds', '1', '--log-level', 'warn'], {
      env: { ...process.env, AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: socket, SVCUID: TOKEN, AWS_IOT_THING_NAME: GW },
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: tmp.dir, // a relative default state dir must never land in the source tree
    });
    agents.push(agent);
    let agentErr = '';
    agent.stderr!.on('data', (d: Buffer) => {
      agentErr += d.toString();
    });
    const cloud = (): Recorded[] =>
      existsSync(record)
        ? readFileSync(record, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Recorded)
        : [];
    await until(() => cloud().some((m) => m.topic === `$aws/things/${GW}/defender/metrics/json`), 20_000, 'a first report');
    const streamsBefore = (await first.send('status')).openStreams as number;
    expect(streamsBefore).toBeGreaterThan(2);

    if (cloudOfflineFirst) {
      expect(await first.send('offline')).toMatchObject({ ok: true, online: false });
      await statusUntil(first, (st) => (st.spoolDepth as number) >= 3, 15_000, 'messages in the nucleus spool');
    }
    first.child.kill('SIGKILL');
    await first.exited;
    const deliveredBefore = cloud().length;
    // The agent keeps sampling and reporting; with the nucleus gone its outbox keeps the reports on disk.
    const onDisk = (): Array<{ topic: string; payload: string }> => {
      const out: Array<{ topic: string; payload: string }> = [];
      const dir = join(stateDir, 'outbox');
      for (const f of existsSync(dir)
        ? readdirSync(dir)
            .filter((x) => x.startsWith('seg-'))
            .sort()
        : []) {
        for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
          try {
            const rec = JSON.parse(line) as { v: { topic: string; payload: string } };
            out.push({ topic: rec.v.topic, payload: rec.v.payload });
          } catch {
            // '' after the last newline, or a line being written right now
          }
        }
      }
      return out;
    };
    // A segment file also keeps lines already delivered (the cursor marks them): held = on disk, not in the cloud.
    const alreadyThere = new Set(cloud().map((m) => `${m.topic}\n${m.payload}`));
    const undelivered = () => onDisk().filter((h) => !alreadyThere.has(`${h.topic}\n${h.payload}`));
    await until(() => undelivered().length >= 3, 15_000, 'reports queued on disk while the nucleus is down');
    const held = undelivered();
    expect(agent.exitCode).toBeNull();

    const second = spawnEmulator(emulatorArgs);
    emulators.push(second);
    await second.ready;
    const socketBack = Date.now();
    await until(() => cloud().length > deliveredBefore, 10_000, 'the first publish after the restart');
    const firstAfter = cloud()[deliveredBefore]!;
    const recoveryMs = firstAfter.ts - socketBack;
    expect(recoveryMs, `first publish ${recoveryMs} ms after the socket came back`).toBeLessThanOrEqual(5000);

    // Every message held on disk during the outage reached the cloud.
    await until(
      () => {
        const arrived = new Set(
          cloud()
            .slice(deliveredBefore)
            .map((m) => `${m.topic}\n${m.payload}`),
        );
        return held.every((h) => arrived.has(`${h.topic}\n${h.payload}`));
      },
      10_000,
      'every held message delivered',
    );

    // Resubscribed: its subscriptions are open again, and a downstream report on local pub/sub is
    // answered and forwarded.
    await statusUntil(second, (st) => st.openStreams === streamsBefore, 5000, 'subscriptions re-established');
    const report = { header: { report_id: 4242, version: '1.0' }, metrics: { listening_tcp_ports: { ports: [], total: 0 } } };
    expect(await second.send(`local-publish $aws/things/Dev1/defender/metrics/json ${JSON.stringify(report)}`)).toMatchObject({
      ok: true,
      delivered: 1,
    });
    await until(
      () => cloud().some((m) => m.topic === '$aws/things/Dev1/defender/metrics/json' && m.payload.includes('"report_id":4242')),
      5000,
      'the forwarded device report',
    );
    expect(agent.exitCode, agentErr).toBeNull();
  }
}
