// The downstream half of the reference scenario, end to end through the agent: a downstream
// device in a network namespace this test creates floods traffic through a gateway namespace; the agent
// (collector + local rules + enforcement, commands run in the gateway namespace) counts it per device,
// raises the violation and blocks the device's address in its nft table — the traffic measurably stops —
// and the kernel lifts the block after its TTL. The interface variant (quarantine) too.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.ts';
import type { ActionRecord } from '../../src/enforce/actionModel.ts';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import type { ViolationEvent } from '../../src/localrules/contracts.ts';
import { silentLogger } from '../../src/log.ts';
import { createNetns, deleteNetns, inNs, vethBetween } from '../support/netns.ts';
import { requires, root } from '../support/requirements.ts';
import { uniqueId } from '../support/uniqueId.ts';
import { until } from '../support/until.ts';

const RECIPE = fileURLToPath(new URL('../../recipe.yaml', import.meta.url));
const TOKEN = 'FLOODTESTTOKEN01';
const prefix = uniqueId();
const gw = `${prefix}fg`;
const dev = `${prefix}fd`;
const up = `${prefix}fu`;
const GW_DEV_IF = `${prefix}g0`;
const DEV_ADDR = '10.88.1.2';
const SINK_ADDR = '10.88.2.2';

const children: ChildProcess[] = [];
const dirs: string[] = [];
let emulator: GreengrassEmulator | undefined;
let agent: Agent | undefined;

beforeAll(() => {
  for (const ns of [gw, dev, up]) createNetns(ns);
  vethBetween({ ns: gw, dev: GW_DEV_IF, addrs: ['10.88.1.1/24'] }, { ns: dev, dev: `${prefix}d0`, addrs: [`${DEV_ADDR}/24`] });
  vethBetween({ ns: gw, dev: `${prefix}g1`, addrs: ['10.88.2.1/24'] }, { ns: up, dev: `${prefix}u0`, addrs: [`${SINK_ADDR}/24`] });
  inNs(gw, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  inNs(dev, 'ip', ['route', 'add', 'default', 'via', '10.88.1.1']);
  inNs(up, 'ip', ['route', 'add', '10.88.1.0/24', 'via', '10.88.2.1']);
});

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await agent?.stop();
  agent = undefined;
  await emulator?.stop().catch(() => undefined);
  emulator = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

afterAll(() => deleteNetns(gw, dev, up)); // the agent's nft tables live in the gateway namespace and go with it

/** A sink in the upstream namespace that prints its running byte count every 100 ms. */
function startSink(): { received: () => number; ready: Promise<void> } {
  const script = [
    'let n=0;',
    "require('net').createServer(s=>{s.on('data',d=>n+=d.length);s.on('error',()=>{})})",
    `.listen(9000,'${SINK_ADDR}',()=>console.log('ready'));`,
    'setInterval(()=>console.log(n),100)',
  ].join('');
  const p = spawn('ip', ['netns', 'exec', up, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  let last = 0;
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => {
    resolveReady = r;
  });
  createInterface({ input: p.stdout! }).on('line', (l) => {
    if (l === 'ready') resolveReady();
    else last = Number(l);
  });
  return { received: () => last, ready };
}

/** The flooding device: streams to the sink as fast as TCP lets it, reconnecting if the connection dies. */
function startFlood(): void {
  const script = [
    "const net=require('net');const b=Buffer.alloc(16384,97);",
    `function go(){const s=net.connect(9000,'${SINK_ADDR}');const w=()=>{while(s.write(b));};`,
    "s.on('connect',w);s.on('drain',w);s.on('error',()=>{});s.on('close',()=>setTimeout(go,200));}",
    'go();',
  ].join('');
  children.push(spawn('ip', ['netns', 'exec', dev, process.execPath, '-e', script], { stdio: 'ignore' }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startAgent(
  action: Record<string, unknown>,
): Promise<{ violations: ViolationEvent[]; actions: ActionRecord[]; record: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dedge-flood-'));
  dirs.push(dir);
  const record = join(dir, 'cloud.jsonl');
  emulator = new GreengrassEmulator({
    socketPath: join(dir, 'ipc.sock'),
    recipe: RECIPE,
    thingName: 'FloodGw',
    token: TOKEN,
    recordFile: record,
    overrides: {
      stateDir: join(dir, 'state'),
      sampling: { intervalMs: 500 },
      heartbeat: { enabled: false },
      collector: { perProcess: false, customMetrics: false, tcpBytes: false },
      downstream: { devices: [{ thingName: 'flooder', addresses: [DEV_ADDR], interface: GW_DEV_IF }] },
      enforcement: { mode: 'enforce' },
      behaviors: [
        {
          name: 'deviceBytesOut',
          metric: 'aws:all-bytes-out',
          criteria: { comparisonOperator: 'less-than', value: { count: 2_000_000 }, durationSeconds: 300 },
          edge: { scope: { devices: true, host: false }, action },
        },
      ],
    },
  });
  await emulator.start();
  agent = new Agent({
    socketPath: join(dir, 'ipc.sock'),
    authToken: TOKEN,
    thingName: 'FloodGw',
    bootstrapStateDir: join(dir, 'boot'),
    logger: silentLogger(),
    netns: gw,
    reportIntervalOverrideSeconds: 3600,
  });
  const violations: ViolationEvent[] = [];
  const actions: ActionRecord[] = [];
  agent.on('violation', (v) => violations.push(v));
  agent.on('action', (a) => actions.push(a));
  await agent.start();
  return { violations, actions, record };
}

function cloudTopics(record: string): string[] {
  return existsSync(record)
    ? readFileSync(record, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { topic: string }).topic)
    : [];
}

/** Bytes the sink got over `ms` of waiting. */
async function flowOver(sink: { received: () => number }, ms: number): Promise<number> {
  const a = sink.received();
  await sleep(ms);
  return sink.received() - a;
}

describe('a flooding downstream device, through the agent', requires(root), () => {
  it('is counted, blocked by address (traffic stops), reported, and let through again after the TTL', async () => {
    const sink = startSink();
    await sink.ready;
    const { violations, actions, record } = await startAgent({ type: 'address-block', ttlSeconds: 4 });
    startFlood();
    const v = await until(() => violations.find((e) => e.event === 'in-alarm'), 20_000, 'the in-alarm violation');
    expect(v).toMatchObject({
      thingName: 'flooder',
      behavior: 'deviceBytesOut',
      offender: { kind: 'device', thingName: 'flooder', addresses: [DEV_ADDR] },
    });
    const applied = await until(() => actions.find((a) => a.outcome === 'applied'), 5000, 'the block');
    expect(applied).toMatchObject({ type: 'address-block', dryRun: false, target: { kind: 'addresses', addresses: [DEV_ADDR] } });
    // Packets already queued may trickle in; after that the flow is zero while the device keeps sending.
    await sleep(500);
    expect(await flowOver(sink, 1500)).toBe(0);
    expect(inNs(gw, 'nft', ['list', 'table', 'inet', 'defender_edge'])).toContain(DEV_ADDR);
    // The kernel lifts the block after its 4 s TTL: the device's (reconnecting) flood gets through again.
    await sleep(4000);
    const before = sink.received();
    expect(await until(() => sink.received() > before, 8000, 'traffic again')).toBe(true);
    await until(
      () => cloudTopics(record).includes('defender-edge/flooder/violations'),
      5000,
      'the violation and action in the cloud record',
    );
  }, 60_000);

  it('quarantines the device interface instead when the behavior says so', async () => {
    const sink = startSink();
    await sink.ready;
    const { actions } = await startAgent({ type: 'interface-quarantine', ttlSeconds: 30 });
    startFlood();
    const applied = await until(() => actions.find((a) => a.outcome === 'applied'), 20_000, 'the quarantine');
    expect(applied).toMatchObject({ type: 'interface-quarantine', target: { kind: 'interface', ifname: GW_DEV_IF } });
    await sleep(500);
    expect(await flowOver(sink, 1500)).toBe(0);
  }, 60_000);
});
