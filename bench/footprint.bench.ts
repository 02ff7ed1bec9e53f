// Memory and CPU of the standalone binary running the agent (`defender-edge run`, the shipped SEA for this
// machine's architecture) with the default configuration, against the emulator in its own process, in a
// network namespace of its own (its nft tables stay there). Three phases:
//   idle          no devices, measured 60 s in;
//   devices       1,000 configured downstream devices (an address each, so the nft accounting table holds
//                 1,000 counter pairs), each publishing its own ~800-byte Defender report every 300 s — the
//                 interval Device Defender documents as the minimum ("You should set the time interval to
//                 a minimum of 300 seconds", https://docs.aws.amazon.com/iot-device-defender/latest/devguide/detect-device-side-metrics.html;
//                 docs/reports.md#limits-and-cadence), 3.3 reports/s in all, spread evenly. CPU is averaged
//                 over one whole reporting interval (300 s, 20–320 s after the agent started): every device's
//                 own report, and the agent's own report for each device built from the traffic it saw (the
//                 default reporting.intervalSeconds, 300: a thousand reports at once, once per interval);
//                 memory at its end, every device having reported. BENCH_FOOTPRINT_REPORT_PERIOD_S=60 has
//                 each device report five times as often;
//   churn         then 9,000 more devices (known by thingNamePattern) each report once within 90 s while the
//                 1,000 continue: 10,000 devices seen; memory should stay flat.
// Floors measured in the same run: idle beside the agent, Node alone and Node with aws-iot-device-sdk-v2
// loaded and connected to the same emulator; under the 1,000 devices' load, after the agent, Node with the
// SDK doing only the IPC each report needs (subscribe, answer on local pub/sub, PublishToIoTCore).
// Memory: RSS, its anonymous part, PSS (/proc), and V8's heap committed/used and external memory from a
// diagnostic report (what of the anonymous part is JavaScript). CPU: agent plus its helper processes
// (dedge-sockdiag, nft, ip), percent of one core over the last 30 s of each phase, and the agent's by thread.
// Targets (README, Benchmarks): idle RSS ≤ 75 MiB and anonymous ≤ 25 MiB, CPU ≤ 1 %; 1,000 devices RSS ≤ 90 MiB,
// CPU ≤ 3 %; 10,000 seen within 5 % of 1,000. Skips when the binary is not built or without root (netns).
// BENCH_FOOTPRINT_RUNS (default 1) repeats the whole measurement and reports medians;
// BENCH_FOOTPRINT_PHASES=idle,devices (default both; devices includes churn unless BENCH_FOOTPRINT_CHURN_S=0) picks phases;
// BENCH_FOOTPRINT_NODE_OPTIONS is given to the agent only (a profile: --cpu-prof --cpu-prof-dir=DIR).
// The emulator runs from a copy of the binary and the agent's files are dropped from the page cache
// before it starts, so its RSS counts only the pages it touched itself (the kernel maps cached
// neighbours of a faulting page too, which would make RSS depend on what ran before).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import type { SourceMapPayload } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { BINARY_NAME } from '../scripts/buildTargets.ts';
import { bundleOptions, coreOnlyPlugin } from '../scripts/bundle.ts';
import { SEA_MAIN } from '../scripts/seaExecutables.ts';
import { type HeapSummary, type MappedBundle, summarizeHeapSnapshot } from './heapSnapshot.ts';
import { type CpuReading, cpuOf, cpuPercent, type MemoryReading, memoryOf } from './procStats.ts';
import type { BenchSuite } from './run.ts';
import { median, round } from './stats.ts';

const root = path.resolve(new URL('..', import.meta.url).pathname);
/** BENCH_FOOTPRINT_BINARY: another build of the binary to measure (its folder must hold the addon and helper too). */
const binary =
  process.env.BENCH_FOOTPRINT_BINARY ?? path.join(root, 'artifacts', process.arch === 'arm64' ? 'aarch64' : 'amd64', BINARY_NAME);
const RECIPE = path.join(root, 'recipe.yaml');
const TOKEN = 'FOOTPRINTTOKEN01';
const THING = 'FootprintGateway';
const PHASE_SECONDS = Number(process.env.BENCH_FOOTPRINT_PHASE_S ?? 60);
const CPU_WINDOW_SECONDS = Math.min(30, PHASE_SECONDS / 2);
const RUNS = Number(process.env.BENCH_FOOTPRINT_RUNS ?? 1);
const DEVICES = 1000;
const SEEN = 10_000;
/** BENCH_FOOTPRINT_REPORT_PERIOD_S: how often each of the 1,000 devices reports (0: never; the cost of the devices alone) */
const REPORT_PERIOD_SECONDS = Number(process.env.BENCH_FOOTPRINT_REPORT_PERIOD_S ?? 300);
/**
 * The agent's reporting interval (reporting.intervalSeconds, default and floor 300): CPU under the device load
 * is averaged over one whole interval, which holds each device's own report and the agent's per-device reports.
 */
const DEVICES_CPU_WINDOW_SECONDS = 300;
/** The devices phase from the agent's start: the load starts at 5 s, the CPU window at 20 s. */
const DEVICES_PHASE_SECONDS = 20 + DEVICES_CPU_WINDOW_SECONDS;
/** The SDK forwarding floor has no per-interval work: its CPU over a minute of the same device load. */
const FLOOR_CPU_WINDOW_SECONDS = 60;
const CHURN_SECONDS = Number(process.env.BENCH_FOOTPRINT_CHURN_S ?? 90);
const PHASES = new Set((process.env.BENCH_FOOTPRINT_PHASES ?? 'idle,devices').split(','));
/** BENCH_FOOTPRINT_CONFIG: a JSON object merged over each phase's configuration (an experiment; the figures are for none) */
const CONFIG_OVERRIDES = JSON.parse(process.env.BENCH_FOOTPRINT_CONFIG ?? '{}') as Record<string, unknown>;
/** BENCH_FOOTPRINT_SNAPSHOT_DIR: a V8 heap snapshot of the agent at the end of each phase, written there */
const SNAPSHOT_DIR = process.env.BENCH_FOOTPRINT_SNAPSHOT_DIR;
const AGENT_NODE_OPTIONS =
  [process.env.BENCH_FOOTPRINT_NODE_OPTIONS, SNAPSHOT_DIR ? `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${SNAPSHOT_DIR}` : undefined]
    .filter(Boolean)
    .join(' ') || undefined;

/**
 * With BENCH_FOOTPRINT_SNAPSHOT_DIR: asks the agent for a heap snapshot, gives it time to write it and
 * summarizes it (bench/heapSnapshot.ts). A snapshot costs the agent memory and time: the figures of the
 * phases after one are not comparable with a run without.
 */
async function snapshot(agent: ChildProcess, bundle: MappedBundle | undefined): Promise<HeapSummary | undefined> {
  if (!SNAPSHOT_DIR) return undefined;
  const before = new Set(readdirSync(SNAPSHOT_DIR));
  agent.kill('SIGUSR2');
  await sleep(15_000);
  const file = readdirSync(SNAPSHOT_DIR).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
  return file === undefined ? undefined : summarizeHeapSnapshot(path.join(SNAPSHOT_DIR, file), SEA_MAIN, bundle);
}

/** The binary's main script rebuilt with a source map, to attribute its code in heap snapshots to modules. */
async function mappedMainScript(): Promise<MappedBundle> {
  const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const outfile = path.join(tmpdir(), SEA_MAIN);
  const options = bundleOptions({ root, entry: 'scripts/binaryEntry.ts', outfile, version, plugins: [coreOnlyPlugin(root)] });
  const result = await build({ ...options, sourcemap: 'external', write: false });
  const text = (suffix: string) => result.outputFiles.find((f) => f.path.endsWith(suffix))!.text;
  return { code: text('.cjs').replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n'), map: JSON.parse(text('.cjs.map')) as SourceMapPayload };
}

const TARGETS = { idleRssMiB: 75, idleAnonMiB: 25, devicesRssMiB: 90, churnGrowthPercent: 5, idleCpuPercent: 1, devicesCpuPercent: 3 };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A device's own Defender report (~800 bytes), report_id increasing per device. Normal traffic: within the
 * default profile's bytesOut (< 10,000 bytes per 300 s at one report a minute), so nothing is in alarm.
 */
function deviceReport(reportId: number): string {
  return JSON.stringify({
    header: { report_id: reportId, version: '1.0' },
    metrics: {
      network_stats: { bytes_in: 2048 + (reportId % 97), bytes_out: 1200, packets_in: 30, packets_out: 24 },
      listening_tcp_ports: { ports: [{ port: 22, interface: 'eth0' }, { port: 443, interface: 'eth0' }, { port: 8883 }], total: 3 },
      listening_udp_ports: { ports: [{ port: 5353, interface: 'eth0' }, { port: 123 }], total: 2 },
      tcp_connections: {
        established_connections: {
          connections: [
            { remote_addr: '203.0.113.7:443', local_port: 50_000, local_interface: 'eth0' },
            { remote_addr: '198.51.100.23:8883', local_port: 50_001, local_interface: 'eth0' },
            { remote_addr: '192.0.2.10:443', local_port: 50_002, local_interface: 'eth0' },
          ],
          total: 3,
        },
      },
    },
    custom_metrics: { cpu_usage: [{ number: 12.5 }], temperature_c: [{ number: 41 }] },
  });
}

interface Emulator {
  child: ChildProcess;
  socket: string;
  send(lines: string): void;
}

async function startEmulator(exe: string, dir: string, overrides: Record<string, unknown>): Promise<Emulator> {
  const configFile = path.join(dir, 'overrides.json');
  writeFileSync(configFile, JSON.stringify(overrides));
  const socket = path.join(dir, 'ipc.sock');
  const child = spawn(
    exe,
    [
      'emulator',
      '--socket',
      socket,
      '--recipe',
      RECIPE,
      '--config',
      configFile,
      '--thing',
      THING,
      '--token',
      TOKEN,
      '--log-level',
      'error',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`emulator exited (${code}) before it was ready`)));
    lines.once('line', () => resolve()); // the ready line; later lines answer local-publish and are ignored
  });
  lines.on('line', () => {});
  return { child, socket, send: (text) => child.stdin!.write(text) };
}

/** The agent's last lines of stderr, for the error when it exits before it was measured. */
const stderrTails = new WeakMap<ChildProcess, string>();

/**
 * Node's diagnostic report on a signal (https://nodejs.org/api/report.html): V8's heap committed and used at
 * the end of a phase, without the full GC a heap snapshot costs. SIGXCPU: a signal nothing else here uses.
 */
const REPORT_SIGNAL = 'SIGXCPU';

function startAgent(exe: string, ns: string, emu: Emulator, stateDir: string, reportDir: string): ChildProcess {
  mkdirSync(reportDir, { recursive: true });
  const report = `--report-on-signal --report-signal=${REPORT_SIGNAL} --report-compact --report-directory=${reportDir}`;
  const agent = spawn('ip', ['netns', 'exec', ns, exe, 'run', '--state-dir', stateDir], {
    env: {
      ...process.env,
      NODE_OPTIONS: [AGENT_NODE_OPTIONS, report].filter(Boolean).join(' '),
      AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: emu.socket,
      SVCUID: TOKEN,
      AWS_IOT_THING_NAME: THING,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // drained, not kept: the agent's info logs are not part of what is measured (BENCH_FOOTPRINT_AGENT_LOG=FILE keeps them)
  const keep = process.env.BENCH_FOOTPRINT_AGENT_LOG;
  if (keep) {
    const out = createWriteStream(keep, { flags: 'a' });
    agent.stdout!.pipe(out);
    agent.stderr!.pipe(out);
  } else {
    agent.stdout!.resume();
  }
  stderrTails.set(agent, '');
  agent.stderr!.setEncoding('utf8');
  agent.stderr!.on('data', (chunk: string) => stderrTails.set(agent, `${stderrTails.get(agent) ?? ''}${chunk}`.slice(-2000)));
  return agent;
}

export interface V8Heap {
  /** V8's heap committed (what the agent's anonymous memory holds for JavaScript objects and code) */
  heapCommittedMiB: number;
  heapUsedMiB: number;
  /** ArrayBuffers and other memory outside the heap that V8 is told about (Buffers) */
  externalMiB: number;
}

/** Asks the agent for a diagnostic report and reads V8's heap figures from it. */
async function v8HeapOf(agent: ChildProcess, reportDir: string): Promise<V8Heap> {
  const before = new Set(readdirSync(reportDir));
  agent.kill(REPORT_SIGNAL);
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    const file = readdirSync(reportDir).find((f) => !before.has(f) && f.endsWith('.json'));
    if (file === undefined) continue;
    try {
      const h = (JSON.parse(readFileSync(path.join(reportDir, file), 'utf8')) as { javascriptHeap: Record<string, number> }).javascriptHeap;
      const mib = (b: number | undefined) => (b ?? 0) / 2 ** 20;
      return { heapCommittedMiB: mib(h.totalCommittedMemory), heapUsedMiB: mib(h.usedMemory), externalMiB: mib(h.externalMemory) };
    } catch {
      // still being written
    }
  }
  throw new Error('the agent wrote no diagnostic report within 5 s');
}

/** Fails when the agent is gone (a bad NODE_OPTIONS, a crash): nothing left to measure. */
function assertRunning(agent: ChildProcess): void {
  if (agent.exitCode === null && agent.signalCode === null) return;
  throw new Error(`the agent exited (${agent.signalCode ?? `code ${agent.exitCode}`}): ${stderrTails.get(agent)?.trim() ?? ''}`);
}

/** Plain JS (no type stripping) creating an SDK IPC client of the emulator and connecting it. */
function sdkClientJs(emu: Emulator): string {
  return `
const { greengrasscoreipc } = require('aws-iot-device-sdk-v2');
const { io } = require('aws-crt');
const client = greengrasscoreipc.createClient({
  hostName: ${JSON.stringify(emu.socket)}, port: 0,
  socketOptions: new io.SocketOptions(io.SocketType.STREAM, io.SocketDomain.LOCAL),
  connectTransform: async (o) => { o.message.payload = JSON.stringify({ authToken: ${JSON.stringify(TOKEN)} }); return o.message; },
});
const connected = client.connect().catch((e) => { console.error(e); process.exit(1); });
setInterval(() => {}, 1000);`;
}

/** The two idle floors: Node alone, and Node with the SDK connected to the emulator. */
function startFloors(emu: Emulator): ChildProcess[] {
  return [
    spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', cwd: root }),
    spawn(process.execPath, ['-e', sdkClientJs(emu)], { stdio: ['ignore', 'ignore', 'inherit'], cwd: root }),
  ];
}

/**
 * The CPU floor of the device load: Node with the SDK doing only the IPC every accepted device report needs
 * (the agent's docs/reports.md flow) — subscribed to the report topic, answering each report on local
 * pub/sub and publishing it to IoT Core at QoS 1 — with no validation, evaluation, outbox or sampling.
 */
function startForwarderFloor(emu: Emulator): ChildProcess {
  const js = `${sdkClientJs(emu)}
connected.then(() => {
  const op = client.subscribeToTopic({ topic: '$aws/things/+/defender/metrics/+' });
  op.on('message', (e) => {
    const m = e.jsonMessage ?? e.binaryMessage;
    if (!m) return;
    const topic = m.context.topic;
    const payload = e.jsonMessage ? Buffer.from(JSON.stringify(m.message)) : Buffer.from(m.message);
    const answer = Buffer.from(JSON.stringify({ thingName: topic.split('/')[2], status: 'ACCEPTED', timestamp: Date.now() }));
    client.publishToTopic({ topic: topic + '/accepted', publishMessage: { binaryMessage: { message: answer } } }).catch(() => {});
    client.publishToIoTCore({ topicName: topic, qos: '1', payload }).catch(() => {});
  });
  return op.activate();
}).then(() => process.stdout.write('subscribed\\n'), (e) => { console.error(e); process.exit(1); });`;
  return spawn(process.execPath, ['-e', js], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
}

/** Sends each device's report once per REPORT_PERIOD_SECONDS, spread evenly; `extra` devices report once each over `extraSeconds`. */
class DeviceLoad {
  private timer: NodeJS.Timeout | undefined;
  private readonly reportIds = new Map<number, number>();
  private cursor = 0;
  private owed = 0;
  private extraNext = DEVICES;
  private extraOwed = 0;
  private extraPerTick = 0;
  sent = 0;
  private readonly emu: Emulator;

  constructor(emu: Emulator) {
    this.emu = emu;
  }

  start(): void {
    const tickMs = 100;
    const perTick = REPORT_PERIOD_SECONDS > 0 ? (DEVICES / REPORT_PERIOD_SECONDS) * (tickMs / 1000) : 0;
    this.timer = setInterval(() => {
      let text = '';
      this.owed += perTick;
      while (this.owed >= 1) {
        text += this.line(this.cursor);
        this.cursor = (this.cursor + 1) % DEVICES;
        this.owed--;
      }
      this.extraOwed += this.extraPerTick;
      while (this.extraOwed >= 1 && this.extraNext < SEEN) {
        text += this.line(this.extraNext++);
        this.extraOwed--;
      }
      if (text !== '') this.emu.send(text);
    }, tickMs);
  }

  /** Devices DEVICES..SEEN-1 each report once, spread over `seconds`. */
  churn(seconds: number): void {
    this.extraPerTick = ((SEEN - DEVICES) / seconds) * 0.1;
  }

  get churned(): number {
    return this.extraNext - DEVICES;
  }

  private line(device: number): string {
    const id = (this.reportIds.get(device) ?? 1_000) + 1;
    this.reportIds.set(device, id);
    this.sent++;
    return `local-publish $aws/things/dev-${device}/defender/metrics/json ${deviceReport(id)}\n`;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

interface PhaseResult extends MemoryReading, Partial<V8Heap> {
  cpuPercent: number;
  agentCpuPercent: number;
  helperCpuPercent: number;
  /** the agent's CPU by thread name */
  threads: Record<string, number>;
}

/** Waits `seconds` from `startedAt`, measuring CPU over the last `windowSeconds`, then memory. */
async function measurePhase(
  agent: ChildProcess,
  startedAt: number,
  seconds: number,
  windowSeconds: number,
  reportDir?: string,
): Promise<PhaseResult> {
  const pid = agent.pid!;
  await sleep(Math.max(0, startedAt + (seconds - windowSeconds) * 1000 - Date.now()));
  assertRunning(agent);
  const a: CpuReading = cpuOf(pid);
  await sleep(Math.max(0, startedAt + seconds * 1000 - Date.now()));
  assertRunning(agent);
  const b = cpuOf(pid);
  const cpu = cpuPercent(a, b);
  const memory = memoryOf(pid);
  const heap = reportDir === undefined ? undefined : await v8HeapOf(agent, reportDir);
  return { ...memory, ...heap, cpuPercent: cpu.total, agentCpuPercent: cpu.self, helperCpuPercent: cpu.children, threads: cpu.threads };
}

function devicesConfig(): Array<{ thingName: string; addresses: string[] }> {
  return Array.from({ length: DEVICES }, (_, i) => ({ thingName: `dev-${i}`, addresses: [`10.77.${i >> 8}.${i & 255}`] }));
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

interface RunResult {
  idle?: PhaseResult;
  floors?: { node: MemoryReading; nodeSdk: MemoryReading };
  devices?: PhaseResult;
  churn?: PhaseResult & { seen: number };
  /** the SDK forwarding floor under the 1,000 devices' load */
  sdkForwarder?: PhaseResult;
  /** heap snapshot summaries at the end of each phase (BENCH_FOOTPRINT_SNAPSHOT_DIR) */
  heap?: { idle?: HeapSummary; devices?: HeapSummary; churn?: HeapSummary };
  reportsSent?: number;
}

/** A private copy of the binary's folder (executable, addon, helper). */
function copyBinary(to: string): string {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(path.dirname(binary))) copyFileSync(path.join(path.dirname(binary), f), path.join(to, f));
  return path.join(to, BINARY_NAME);
}

/** Drops a copy's files from the page cache (GNU dd: nocache with no data asks the kernel to drop the whole file). */
function dropFromPageCache(exe: string): void {
  for (const f of readdirSync(path.dirname(exe)))
    execFileSync('dd', [`if=${path.join(path.dirname(exe), f)}`, 'iflag=nocache', 'count=0'], { stdio: 'ignore' });
}

async function oneRun(bundle: MappedBundle | undefined): Promise<RunResult> {
  const ns = `dedgefp${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'dedge-footprint-'));
  const children: ChildProcess[] = [];
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const emuExe = copyBinary(path.join(dir, 'emulator-bin'));
    const agentExe = copyBinary(path.join(dir, 'agent-bin'));
    const result: RunResult = {};
    if (PHASES.has('idle')) {
      // the default configuration (the recipe's); floors idle beside the agent
      const emu = await startEmulator(emuExe, mkdtempSync(path.join(dir, 'idle-')), { ...CONFIG_OVERRIDES });
      children.push(emu.child);
      const floors = startFloors(emu);
      children.push(...floors);
      dropFromPageCache(agentExe);
      const t0 = Date.now();
      const reports = path.join(dir, 'reports-idle');
      const agent = startAgent(agentExe, ns, emu, path.join(dir, 'state-idle'), reports);
      children.push(agent);
      result.idle = await measurePhase(agent, t0, PHASE_SECONDS, CPU_WINDOW_SECONDS, reports);
      result.heap = { idle: await snapshot(agent, bundle) };
      result.floors = { node: memoryOf(floors[0]!.pid!), nodeSdk: memoryOf(floors[1]!.pid!) };
      for (const c of [agent, ...floors, emu.child]) await stopChild(c);
    }
    if (PHASES.has('devices')) {
      // 1,000 configured devices reporting, then 10,000 seen
      const emu = await startEmulator(emuExe, mkdtempSync(path.join(dir, 'devices-')), {
        ...CONFIG_OVERRIDES,
        downstream: { devices: devicesConfig(), thingNamePattern: 'dev-[0-9]+' },
      });
      children.push(emu.child);
      dropFromPageCache(agentExe);
      const t1 = Date.now();
      const reports = path.join(dir, 'reports-devices');
      const agent = startAgent(agentExe, ns, emu, path.join(dir, 'state-devices'), reports);
      children.push(agent);
      await sleep(5000); // started and subscribed before devices report
      const load = new DeviceLoad(emu);
      load.start();
      result.devices = await measurePhase(agent, t1, DEVICES_PHASE_SECONDS, DEVICES_CPU_WINDOW_SECONDS, reports);
      result.heap = { ...result.heap, devices: await snapshot(agent, bundle) };
      if (CHURN_SECONDS > 0) {
        const t2 = Date.now();
        load.churn(CHURN_SECONDS);
        const churn = await measurePhase(agent, t2, CHURN_SECONDS + 15, CPU_WINDOW_SECONDS, reports);
        result.churn = { ...churn, seen: DEVICES + load.churned };
        result.heap = { ...result.heap, churn: await snapshot(agent, bundle) };
      }
      load.stop();
      result.reportsSent = load.sent;
      await stopChild(agent);
      if (REPORT_PERIOD_SECONDS > 0) {
        // the same device load against the SDK forwarding floor, same emulator
        const floor = startForwarderFloor(emu);
        children.push(floor);
        await new Promise<void>((resolve, reject) => {
          floor.once('exit', (code) => reject(new Error(`the forwarding floor exited (${code}) before it subscribed`)));
          floor.stdout!.once('data', () => resolve());
        });
        const t3 = Date.now();
        const floorLoad = new DeviceLoad(emu);
        floorLoad.start();
        result.sdkForwarder = await measurePhase(floor, t3, 2 * FLOOR_CPU_WINDOW_SECONDS, FLOOR_CPU_WINDOW_SECONDS);
        floorLoad.stop();
        await stopChild(floor);
      }
      await stopChild(emu.child);
    }
    return result;
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const mib = (x: number) => round(x, 1);
const pct = (x: number) => round(x, 2);

interface PhaseSummary {
  rssMiB: number;
  anonMiB: number;
  pssMiB: number;
  /** V8's heap committed and used, and external memory (absent for the floors) */
  heapCommittedMiB?: number;
  heapUsedMiB?: number;
  externalMiB?: number;
  cpuPercent: number;
  agentCpuPercent: number;
  helperCpuPercent: number;
  /** agentCpuPercent by thread name, those above 0.01 % */
  agentThreads: Record<string, number>;
}

/** Medians over runs of one phase's readings. */
function phaseSummary(phases: PhaseResult[]): PhaseSummary {
  const m = (pick: (p: PhaseResult) => number) => median(phases.map(pick));
  const names = new Set(phases.flatMap((p) => Object.keys(p.threads)));
  const agentThreads: Record<string, number> = {};
  for (const name of [...names].sort()) {
    const v = pct(m((p) => p.threads[name] ?? 0));
    if (v > 0.01) agentThreads[name] = v;
  }
  return {
    rssMiB: mib(m((p) => p.rssMiB)),
    anonMiB: mib(m((p) => p.anonMiB)),
    pssMiB: mib(m((p) => p.pssMiB)),
    ...(phases.every((p) => p.heapCommittedMiB !== undefined)
      ? {
          heapCommittedMiB: mib(m((p) => p.heapCommittedMiB!)),
          heapUsedMiB: mib(m((p) => p.heapUsedMiB!)),
          externalMiB: mib(m((p) => p.externalMiB!)),
        }
      : {}),
    cpuPercent: pct(m((p) => p.cpuPercent)),
    agentCpuPercent: pct(m((p) => p.agentCpuPercent)),
    helperCpuPercent: pct(m((p) => p.helperCpuPercent)),
    agentThreads,
  };
}

function memorySummary(readings: MemoryReading[]): Record<string, number> {
  const m = (pick: (p: MemoryReading) => number) => mib(median(readings.map(pick)));
  return { rssMiB: m((r) => r.rssMiB), anonMiB: m((r) => r.anonMiB), pssMiB: m((r) => r.pssMiB) };
}

export const suite: BenchSuite = {
  name: 'footprint',
  async run() {
    if (!existsSync(binary)) return { skipped: `${path.relative(root, binary)} not built: run \`npm run build:binaries\`` };
    if (process.getuid?.() !== 0) return { skipped: 'needs root (the agent runs in a network namespace of its own)' };
    const runs: RunResult[] = [];
    const bundle = SNAPSHOT_DIR ? await mappedMainScript() : undefined;
    for (let i = 0; i < RUNS; i++) runs.push(await oneRun(bundle));
    const out: Record<string, unknown> = {
      binary: path.relative(root, binary),
      runs: RUNS,
      phaseSeconds: PHASE_SECONDS,
      cpuWindowSeconds: CPU_WINDOW_SECONDS,
      reportPeriodSeconds: REPORT_PERIOD_SECONDS,
      devicesPhaseSeconds: DEVICES_PHASE_SECONDS,
      devicesCpuWindowSeconds: DEVICES_CPU_WINDOW_SECONDS,
      floorCpuWindowSeconds: FLOOR_CPU_WINDOW_SECONDS,
      agentNodeOptions: AGENT_NODE_OPTIONS ?? null,
      configOverrides: CONFIG_OVERRIDES,
      targets: TARGETS,
    };
    const within: Record<string, boolean> = {};
    if (PHASES.has('idle')) {
      const idle = phaseSummary(runs.map((r) => r.idle!));
      const node = memorySummary(runs.map((r) => r.floors!.node));
      const nodeSdk = memorySummary(runs.map((r) => r.floors!.nodeSdk));
      out.idle = idle;
      out.floors = {
        node,
        nodeSdk,
        idleRssToNode: round(idle.rssMiB! / node.rssMiB!, 2),
        idleRssToNodeSdk: round(idle.rssMiB! / nodeSdk.rssMiB!, 2),
        idleAnonToNodeSdk: round(idle.anonMiB! / nodeSdk.anonMiB!, 2),
      };
      within.idleRss = idle.rssMiB! <= TARGETS.idleRssMiB;
      within.idleAnon = idle.anonMiB! <= TARGETS.idleAnonMiB;
      within.idleCpu = idle.cpuPercent! <= TARGETS.idleCpuPercent;
    }
    if (PHASES.has('devices')) {
      const devices = phaseSummary(runs.map((r) => r.devices!));
      out.devices1000 = devices;
      out.reportsSent = median(runs.map((r) => r.reportsSent!));
      if (runs.every((r) => r.sdkForwarder)) {
        const floor = phaseSummary(runs.map((r) => r.sdkForwarder!));
        out.devicesFloor = {
          sdkForwarder: floor,
          cpuToSdkForwarder: round(devices.cpuPercent / floor.cpuPercent, 2),
          rssToSdkForwarder: round(devices.rssMiB / floor.rssMiB, 2),
        };
      }
      within.devicesRss = devices.rssMiB! <= TARGETS.devicesRssMiB;
      within.devicesCpu = devices.cpuPercent! <= TARGETS.devicesCpuPercent;
      if (CHURN_SECONDS > 0) {
        const churn = phaseSummary(runs.map((r) => r.churn!));
        const growth = ((churn.rssMiB! - devices.rssMiB!) / devices.rssMiB!) * 100;
        out.seen10000 = { seen: Math.min(...runs.map((r) => r.churn!.seen)), ...churn, rssGrowthPercentFrom1000: round(growth, 1) };
        within.churnFlat = Math.abs(growth) <= TARGETS.churnGrowthPercent;
      }
    }
    if (SNAPSHOT_DIR) out.heapSnapshots = runs.map((r) => r.heap ?? {});
    out.withinTargets = within;
    return out;
  },
};
