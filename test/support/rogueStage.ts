// The stage for the no-hiding tests and the latency bench: the whole agent (`defender-edge run`, enforcing)
// in a private pid namespace inside a network namespace ("gateway"), against the emulator over a real
// socket; rogues and an innocent neighbour run beside it — all children of the namespace's PID 1, a keeper
// (nsKeeper.ts) — and send to a peer in a second network namespace ("device", over a veth pair). The
// agent sees — and can stop — only the namespace's processes; when the keeper ends, the kernel ends them
// all. Each rogue prints its cumulative bytes with timestamps (rogue.ts), so crossing → stopped is
// measured on the rogue's own clock.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GreengrassEmulator } from '../../src/ipc/emulator/emulator.ts';
import { HELPERS, type Helper, startHelper } from './childProcess.ts';
import { createTopology, destroyTopology, type Topology } from './netns.ts';
import { type PidNs, startInPidNs } from './pidns.ts';
import { uniqueId } from './uniqueId.ts';
import { until } from './until.ts';

const CLI = fileURLToPath(new URL('../../bin/defender-edge.js', import.meta.url));
export const THRESHOLD = 10_000;
const THING = 'NoHideGateway';

export type RogueStyle = 'stream' | 'reconnect' | 'udp' | 'fork' | 'innocent';

export interface RogueLine {
  t: number;
  pid: number;
  sent?: number;
  signal?: string;
}

export interface Rogue {
  style: RogueStyle;
  /** its pid as the agent's namespace numbers it */
  pid: () => number | undefined;
  lines: RogueLine[];
  exited: Promise<void>;
  /** when the keeper saw it end (our clock) */
  readonly exitedAt: number | undefined;
  /** when its cumulative bytes (its own and its children's, by their own clocks) first reached `threshold` */
  crossedAt(threshold?: number): number | undefined;
  /** when it got SIGTERM, by its own clock */
  stoppedAt(): number | undefined;
}

export interface CloudDoc {
  ts: number;
  topic: string;
  doc: Record<string, unknown>;
}

export interface Stage {
  topo: Topology;
  dir: string;
  /** the namespace's PID 1 (nsKeeper.ts): the agent, the rogues and the innocent are its children */
  keeper: PidNs;
  /** the agent's log lines (JSON) */
  logs: Array<Record<string, unknown>>;
  cloud(): CloudDoc[];
  /** the latest heartbeat the agent published */
  health(): Record<string, unknown> | undefined;
  rogue(style: RogueStyle, o?: { bytes?: number; intervalMs?: number }): Promise<Rogue>;
  /** another program beside the agent (a child of the keeper); resolves with its first output line */
  run(argv: string[], o?: { keepStdin?: boolean }): Promise<{ pid: number; first: string }>;
  stop(): Promise<void>;
}

export interface StageOptions {
  ebpf: boolean;
  /** heartbeat interval (default 1 s: the tests read the health record); the default configuration's is 60 s */
  heartbeatSeconds?: number;
}

/** The agent's configuration: one per-process behavior, bytes out below 10,000 per 300 s, terminate. */
export function stageConfig(id: string, o: StageOptions): Record<string, unknown> {
  return {
    sampling: { intervalMs: 1000 },
    heartbeat: { intervalSeconds: o.heartbeatSeconds ?? 1 },
    collector: { perProcess: true, ebpf: o.ebpf, downstreamNftTable: `${id}_ds` },
    enforcement: { mode: 'enforce', nftTable: `${id}_t`, stopGraceMs: 2000, maxActionsPerMinute: 120 },
    behaviors: [
      {
        name: 'bytesOut',
        metric: 'aws:all-bytes-out',
        criteria: { comparisonOperator: 'less-than', value: { count: THRESHOLD }, durationSeconds: 300 },
        edge: { scope: { host: false, processes: true, devices: false }, action: { type: 'process-terminate' } },
      },
    ],
  };
}

/** A program the keeper started: its pid in the namespace, its output lines, its end. */
class Program {
  pid: number | undefined;
  done = false;
  exitedAt: number | undefined;
  onLine: (line: string) => void = () => {};
  private resolve!: () => void;
  readonly exited = new Promise<void>((r) => {
    this.resolve = r;
  });
  end(): void {
    if (this.done) return;
    this.done = true;
    this.exitedAt = Date.now();
    this.resolve();
  }
}

function readCloud(recordFile: string): CloudDoc[] {
  if (!existsSync(recordFile)) return [];
  const out: CloudDoc[] = [];
  for (const line of readFileSync(recordFile, 'utf8').split('\n')) {
    try {
      const l = JSON.parse(line) as { ts: number; topic: string; payload: string };
      out.push({ ts: l.ts, topic: l.topic, doc: JSON.parse(l.payload) as Record<string, unknown> });
    } catch {
      // a partial last line, or a binary payload
    }
  }
  return out;
}

export async function startStage(o: StageOptions): Promise<Stage> {
  const id = uniqueId();
  const dir = mkdtempSync(join(tmpdir(), 'dedge-nohide-'));
  const topo = createTopology(id);
  let emulator: GreengrassEmulator | undefined;
  let keeper: PidNs | undefined;
  const sinks: Helper[] = [];
  const programs = new Map<string, Program>();
  const send = (o: Record<string, unknown>) => keeper?.child.stdin?.write(`${JSON.stringify(o)}\n`);
  const cleanup = async () => {
    const agent = programs.get('agent');
    if (agent && !agent.done) {
      send({ kill: 'agent', signal: 'SIGTERM' });
      await Promise.race([agent.exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    keeper?.child.stdin?.end(); // PID 1 leaves: the kernel ends every process left in the namespace
    await keeper?.stop(5000);
    await Promise.all(sinks.map((h) => h.stop()));
    await emulator?.stop();
    destroyTopology(topo);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // the peer: a TCP sink and a UDP sink in the "device" namespace
    const tcp = startHelper('traffic.ts', ['sink', topo.devAddr, '0'], { netns: topo.dev });
    sinks.push(tcp);
    const tcpPort = Number((await tcp.next()).port);
    const udp = startHelper('udpSink.ts', [topo.devAddr], { netns: topo.dev });
    sinks.push(udp);
    const udpPort = Number((await udp.next()).port);

    const token = `NOHIDE${String(process.pid).padStart(10, '0')}`;
    const recordFile = join(dir, 'cloud.jsonl');
    emulator = new GreengrassEmulator({
      socketPath: join(dir, 'ipc.sock'),
      overrides: stageConfig(id, o),
      thingName: THING,
      token,
      recordFile,
    });
    await emulator.start();

    keeper = await startInPidNs([process.execPath, `${HELPERS}nsKeeper.ts`], { netns: topo.gw, stdio: ['pipe', 'pipe', 'inherit'] });
    readline.createInterface({ input: keeper.child.stdout! }).on('line', (text) => {
      let m: { id: string; pid?: number; line?: string; exit?: number | null; error?: string };
      try {
        m = JSON.parse(text) as typeof m;
      } catch {
        return;
      }
      const p = programs.get(m.id);
      if (!p) return;
      if (m.pid !== undefined) p.pid = m.pid;
      if (m.line !== undefined) p.onLine(m.line);
      if (m.exit !== undefined || m.error !== undefined) p.end();
    });
    const run = (name: string, argv: string[], extra: { env?: NodeJS.ProcessEnv; cwd?: string; keepStdin?: boolean } = {}): Program => {
      const program = new Program();
      programs.set(name, program);
      send({ id: name, argv, ...extra });
      return program;
    };

    const logs: Array<Record<string, unknown>> = [];
    const agent = run('agent', [process.execPath, CLI, 'run', '--state-dir', join(dir, 'state')], {
      cwd: dir,
      env: {
        ...process.env,
        AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT: join(dir, 'ipc.sock'),
        SVCUID: token,
        AWS_IOT_THING_NAME: THING,
      },
    });
    agent.onLine = (l) => {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        logs.push({ raw: l });
      }
    };
    const cloud = () => readCloud(recordFile);
    const health = () => cloud().findLast((c) => c.topic === `defender-edge/${THING}/heartbeat`)?.doc;
    await until(() => logs.some((l) => l.msg === 'agent running'), 30_000, 'the agent running');
    // past its first sample: the heartbeat says where per-process traffic comes from
    if ((o.heartbeatSeconds ?? 1) <= 5)
      await until(() => ((health()?.samples as number | undefined) ?? 0) > 0, 30_000, 'the agent heartbeat after a sample');
    let n = 0;
    const rogue = async (style: RogueStyle, r: { bytes?: number; intervalMs?: number } = {}): Promise<Rogue> => {
      const args = [style, topo.devAddr, String(tcpPort), String(udpPort), String(r.bytes ?? 2048), String(r.intervalMs ?? 100)];
      const program = run(`${style}-${++n}`, [process.execPath, `${HELPERS}rogue.ts`, ...args]);
      const lines: RogueLine[] = [];
      program.onLine = (l) => {
        try {
          lines.push(JSON.parse(l) as RogueLine);
        } catch {
          // not ours
        }
      };
      await until(() => program.pid, 10_000, `the ${style} rogue started`);
      return {
        style,
        pid: () => program.pid,
        lines,
        exited: program.exited,
        get exitedAt() {
          return program.exitedAt;
        },
        crossedAt: (threshold = THRESHOLD) => {
          let sum = 0;
          for (const l of lines.filter((x) => x.sent !== undefined).sort((a, b) => a.t - b.t)) {
            sum += l.sent!;
            if (sum >= threshold) return l.t;
          }
          return undefined;
        },
        stoppedAt: () => lines.find((l) => l.signal !== undefined && l.pid === program.pid)?.t,
      };
    };
    const other = async (argv: string[], x: { keepStdin?: boolean } = {}) => {
      const program = run(`other-${++n}`, argv, x);
      let first: string | undefined;
      program.onLine = (l) => {
        first ??= l;
      };
      await until(() => program.pid !== undefined && first !== undefined, 30_000, `${argv.join(' ')} started`);
      return { pid: program.pid!, first: first! };
    };
    return { topo, dir, keeper, logs, cloud, health, rogue, run: other, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Violations and actions in the cloud record that name a process (by its pid in the agent's namespace). */
export function recordsFor(stage: Stage, pid: number): { violations: Record<string, unknown>[]; actions: Record<string, unknown>[] } {
  const docs = stage.cloud().map((c) => c.doc);
  const offenderPid = (d: Record<string, unknown>) => (d.offender as { pid?: number } | undefined)?.pid;
  const violationPid = (d: Record<string, unknown>) => (d.violation as { offender?: { pid?: number } } | undefined)?.offender?.pid;
  return {
    violations: docs.filter((d) => d.record === 'violation' && offenderPid(d) === pid),
    actions: docs.filter((d) => d.record === 'action' && violationPid(d) === pid),
  };
}
