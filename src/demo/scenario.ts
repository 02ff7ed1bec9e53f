// The rogue-agent scenario (docs/demo.md#the-scenario) on one machine, no AWS account: the Greengrass
// emulator in-process (IPC socket, client-device MQTT broker, cloud record), the agent in-process with the
// scenario's profile scoped per process and an enforcement action, a TCP sink, and the cast as real
// processes (cast.ts). One module for `defender-edge demo`, the end-to-end tests and the latency bench:
// start() once, round() as often as wanted (each round starts a fresh cast), stop() cleans up everything.
// On nucleus lite (`nucleus: 'lite'`) the emulator behaves like lite, which has no client-device broker:
// the MQTT actors talk to a plain loopback broker instead (plainBroker.ts) and there is no downstream device.
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../agent/agent.ts';
import type { CollectorSample } from '../collector/collector.ts';
import type { ActionRecord } from '../enforce/actionModel.ts';
import { enforcementPaths } from '../enforce/createEnforcer.ts';
import { clientDeviceDeployment } from '../ipc/emulator/clientDeviceDeployment.ts';
import type { DeviceCredentials } from '../ipc/emulator/coreDeviceCa.ts';
import { GreengrassEmulator } from '../ipc/emulator/emulator.ts';
import type { NucleusFlavor } from '../ipc/emulator/flavor.ts';
import type { ActionSpec, ViolationEvent } from '../localrules/contracts.ts';
import { type Logger, silentLogger } from '../log.ts';
import { type Actor, type ActorRole, isRunning, spawnActor, stopActor } from './cast.ts';
import { type PlainBroker, startPlainBroker } from './plainBroker.ts';
import { type CloudLine, type DemoSummary, summarize } from './summary.ts';

export type DemoAction = 'process-terminate' | 'process-suspend';

export interface ScenarioOptions {
  /** sampling interval of the agent (default 1000 ms, the product's default) */
  samplingMs?: number;
  mode?: 'enforce' | 'dry-run';
  action?: DemoAction;
  /**
   * Pause between the rogue agent's publishes. The scenario's rogue publishes once a second; at that
   * rate (~150 bytes/s on the wire) it crosses bytesOut < 10000 after ~67 s. The demo's rogue "floods"
   * at 25 messages/s (40 ms): ~3.5 KB/s crosses 10000 bytes in ~3 s — after a few quiet samples, so the
   * crossing is visible — and msgReceive's 100 messages in ~4 s, so the demo ends in seconds.
   */
  rogueIntervalMs?: number;
  /** the demo's compressed report cadence (default 5 s; deployments report every ≥ 300 s) */
  reportEverySeconds?: number;
  gatewayThing?: string;
  deviceThing?: string;
  /** the agent's and the emulator's logger (default silent) */
  logger?: Logger;
  /** leave the work dir (state, audit log, cloud record) in place on stop() instead of removing it */
  keepWorkDir?: boolean;
  /** which Greengrass core the emulator behaves like (default classic, the Java nucleus) */
  nucleus?: NucleusFlavor;
  now?: () => number;
}

export interface RoundSpec {
  rogue?: boolean;
  streamer?: boolean;
  innocent?: boolean;
  /** the downstream device reporting through the client-device broker (default: on classic only; lite has none) */
  device?: boolean;
  /** give up waiting after this long (the summary then lists what is missing) */
  timeoutMs?: number;
  /** also wait for a gateway report recorded after the violation (default true) */
  waitForReport?: boolean;
}

export interface CastProcessView {
  role: ActorRole;
  pid: number;
  comm: string;
  bytesOut: number;
  /** bytes out over the last 300 s (the bytesOut behavior's window) */
  windowBytesOut: number;
  messagesReceived?: number;
}

export interface ScenarioEvents {
  sample: [view: { t: number; durationMs: number; processes: CastProcessView[]; degraded: string[] }];
  violation: [event: ViolationEvent];
  action: [record: ActionRecord];
  actor: [what: { event: 'started' | 'stopped'; role: ActorRole; pid: number; t: number; detail?: string }];
  cloud: [line: CloudLine];
  device: [answer: { accepted: boolean; reportId?: number }];
}

const WINDOW_MS = 300_000;
const ROLE_TITLE: Record<ActorRole, string> = {
  'rogue-agent': 'rogue-agent',
  'tcp-streamer': 'tcp-streamer',
  innocent: 'innocent',
  device: 'device-sim',
};

/** The scenario's security profile (docs/demo.md: names, metrics, operators, values, durations) scoped per process with an action. */
export function seedBehaviors(action: ActionSpec): unknown[] {
  const edge = { scope: { host: false, processes: true, devices: false }, action };
  return [
    {
      name: 'msgReceive',
      metric: 'aws:num-messages-received',
      criteria: { comparisonOperator: 'less-than', value: { count: 100 }, durationSeconds: 300 },
      edge,
    },
    {
      name: 'bytesOut',
      metric: 'aws:all-bytes-out',
      criteria: { comparisonOperator: 'less-than', value: { count: 10000 }, durationSeconds: 300 },
      edge,
    },
  ];
}

/** The component configuration of the scenario (merged by the emulator over the recipe like a deployment). */
export function scenarioConfig(o: {
  stateDir: string;
  samplingMs: number;
  mode: 'enforce' | 'dry-run';
  action: DemoAction;
  deviceThing: string;
  mqttPort?: number;
}): Record<string, unknown> {
  return {
    stateDir: o.stateDir,
    sampling: { intervalMs: o.samplingMs },
    // The rogue talks to the broker on 127.0.0.1: without includeLoopback the collector's ss filter drops
    // loopback sockets and the rogue's bytes are not counted at all (hostCollector tcpCounters).
    // mqttPorts: the demo broker's port, so per-process message estimates (msgReceive) see the rogue's MQTT.
    collector: {
      includeLoopback: true,
      perProcess: true,
      tcpBytes: true,
      ...(o.mqttPort !== undefined ? { mqttPorts: [o.mqttPort] } : {}),
    },
    // Known by pattern, not by address: no nft accounting table is needed (and none is created).
    downstream: { thingNamePattern: `^${o.deviceThing}$` },
    behaviors: seedBehaviors({ type: o.action, ttlSeconds: 600 }),
    // Rounds of the bench stop two processes every few seconds: above the default 10 actions/minute.
    enforcement: { mode: o.mode, maxActionsPerMinute: 120, stopGraceMs: 2000 },
  };
}

/** Thing names of the MQTT actors (a client device connects with its thing name as client id). */
export const ROGUE_THING = 'RogueAgent';
export const INNOCENT_THING = 'InnocentNeighbour';

/**
 * The client-device part of the demo's deployment: the standard Device Defender set-up for the downstream
 * device, plus what the rogue agent and the innocent neighbour publish and subscribe on the local broker
 * (client device auth refuses everything a policy does not name).
 */
export function demoClientDeviceDeployment(deviceThing: string): Record<string, unknown> {
  return clientDeviceDeployment({
    selectionRule: `thingName: ${deviceThing} OR thingName: ${ROGUE_THING} OR thingName: ${INNOCENT_THING}`,
    extraStatements: {
      RogueTopic: { operations: ['mqtt:publish'], resources: ['mqtt:topic:/rogue/agent'] },
      RogueSubscription: { operations: ['mqtt:subscribe'], resources: ['mqtt:topicfilter:/rogue/agent'] },
      InnocentStatus: { operations: ['mqtt:publish'], resources: ['mqtt:topic:innocent/status'] },
    },
  });
}

/** A loopback port free right now (the kernel picks it; the broker binds it a moment later). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function readCloud(path: string): CloudLine[] {
  if (!existsSync(path)) return [];
  const out: CloudLine[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as CloudLine);
    } catch {
      // a line being written right now; the next read sees it whole
    }
  }
  return out;
}

export class RogueScenario extends EventEmitter<ScenarioEvents> {
  readonly samplingMs: number;
  readonly mode: 'enforce' | 'dry-run';
  readonly action: DemoAction;
  readonly rogueIntervalMs: number;
  readonly reportEverySeconds: number;
  readonly gatewayThing: string;
  readonly deviceThing: string;
  readonly nucleus: NucleusFlavor;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly keepWorkDir: boolean;
  private dir = '';
  private emulator: GreengrassEmulator | undefined;
  /** lite only: the broker the MQTT actors use instead of the client-device broker */
  private plainBroker: PlainBroker | undefined;
  /** Certificates of the MQTT actors, by thing name. */
  private readonly actorCerts = new Map<string, DeviceCredentials & { caPath: string }>();
  private agent: Agent | undefined;
  private sink: Server | undefined;
  private sinkSockets = new Set<Socket>();
  /** pids of the cast the agent evaluates per process (Agent processFilter): nothing else on the machine is judged */
  private readonly judged = new Set<number>();
  private readonly actors = new Map<number, Actor>();
  private readonly windows = new Map<number, Array<{ t: number; bytes: number }>>();
  private violations: ViolationEvent[] = [];
  private actions: ActionRecord[] = [];
  private perProcessMessages = false;
  private readonly degraded = new Set<string>();
  private cloudSeen = 0;
  private cloudTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private inRound = false;

  constructor(options: ScenarioOptions = {}) {
    super();
    this.samplingMs = options.samplingMs ?? 1000;
    this.mode = options.mode ?? 'enforce';
    this.action = options.action ?? 'process-terminate';
    this.rogueIntervalMs = options.rogueIntervalMs ?? 40;
    this.reportEverySeconds = options.reportEverySeconds ?? 5;
    this.gatewayThing = options.gatewayThing ?? 'DemoGateway';
    this.deviceThing = options.deviceThing ?? 'MyDevice';
    this.log = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.keepWorkDir = options.keepWorkDir ?? false;
    this.nucleus = options.nucleus ?? 'classic';
  }

  /** the TCP sink's port on 127.0.0.1 (what the streamer floods) */
  get sinkPort(): number {
    const a = this.sink?.address();
    if (a === undefined || a === null || typeof a === 'string') throw new Error('the scenario is not started');
    return a.port;
  }

  get stateDir(): string {
    return join(this.dir, 'state');
  }

  get auditPath(): string {
    return enforcementPaths(this.stateDir).auditPath;
  }

  get recordPath(): string {
    return join(this.dir, 'cloud.jsonl');
  }

  get mqttUrl(): string {
    const url = this.plainBroker?.url ?? this.emulator?.mqttUrl;
    if (url === undefined) throw new Error('the scenario is not started');
    return url;
  }

  get workDir(): string {
    return this.dir;
  }

  cloudRecord(): CloudLine[] {
    return readCloud(this.recordPath);
  }

  /** How often the agent called each IPC operation of the emulated nucleus so far. */
  nucleusRequests(): Record<string, number> {
    return this.emulator?.requestCounts() ?? {};
  }

  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'dedge-demo-'));
    this.starting = this.startParts();
    try {
      await this.starting;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startParts(): Promise<void> {
    this.sink = createServer((socket) => {
      this.sinkSockets.add(socket);
      socket.resume(); // a sink: read and drop
      socket.on('error', () => undefined);
      socket.on('close', () => this.sinkSockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      this.sink!.once('error', reject);
      this.sink!.listen(0, '127.0.0.1', () => resolve());
    });
    // The broker's port is chosen up front: the collector must know it to estimate MQTT messages per process.
    const mqttPort = await freeLoopbackPort();
    const lite = this.nucleus === 'lite';
    this.emulator = new GreengrassEmulator({
      nucleus: this.nucleus,
      socketPath: join(this.dir, 'ipc.sock'),
      overrides: scenarioConfig({
        stateDir: this.stateDir,
        samplingMs: this.samplingMs,
        mode: this.mode,
        action: this.action,
        deviceThing: this.deviceThing,
        mqttPort,
      }),
      thingName: this.gatewayThing,
      recordFile: this.recordPath,
      ...(lite ? {} : { mqttPort, certDir: join(this.dir, 'ca') }),
      logger: this.log,
    });
    await this.emulator.start();
    if (lite) {
      this.plainBroker = await startPlainBroker(mqttPort, this.log);
    } else {
      const deployed = await this.emulator.deploy(demoClientDeviceDeployment(this.deviceThing));
      if (!deployed.ok) throw new Error(`the demo's client-device deployment failed: ${deployed.errors.join('; ')}`);
      for (const thing of [this.deviceThing, ROGUE_THING, INNOCENT_THING]) {
        this.actorCerts.set(thing, this.emulator.issueDeviceCertificate(thing, join(this.dir, 'devices')));
      }
    }
    this.agent = new Agent({
      socketPath: join(this.dir, 'ipc.sock'),
      // The SVCUID the emulated nucleus issued, as a real one hands it to the component.
      authToken: this.emulator.tokenOf(),
      thingName: this.gatewayThing,
      bootstrapStateDir: join(this.dir, 'boot'),
      logger: this.log,
      reportIntervalOverrideSeconds: this.reportEverySeconds,
      connectWaitMs: 5000,
      processFilter: (p) => this.judged.has(p.pid),
    });
    this.agent.on('sample', (s, ms) => this.onSample(s, ms));
    this.agent.on('violation', (ev) => {
      this.violations.push(ev);
      this.emit('violation', ev);
    });
    this.agent.on('action', (r) => {
      this.actions.push(r);
      this.emit('action', r);
    });
    await this.agent.start();
    if (this.agent.currentConfig().enforcement.mode !== this.mode) throw new Error('the agent did not take the scenario configuration');
    this.cloudTimer = setInterval(() => this.pollCloud(), 100);
  }

  private pollCloud(): void {
    const lines = this.cloudRecord();
    for (const line of lines.slice(this.cloudSeen)) this.emit('cloud', line);
    this.cloudSeen = lines.length;
  }

  private onSample(sample: CollectorSample, durationMs: number): void {
    const processes: CastProcessView[] = [];
    for (const p of sample.host.processes) {
      const actor = this.actors.get(p.pid);
      if (!actor || !this.judged.has(p.pid)) continue;
      if (p.messagesReceived !== undefined) this.perProcessMessages = true;
      const w = this.windows.get(p.pid) ?? [];
      w.push({ t: sample.host.t, bytes: p.traffic.bytesOut });
      while (w.length > 0 && w[0]!.t <= sample.host.t - WINDOW_MS) w.shift();
      this.windows.set(p.pid, w);
      const view: CastProcessView = {
        role: actor.role,
        pid: p.pid,
        comm: p.comm,
        bytesOut: p.traffic.bytesOut,
        windowBytesOut: w.reduce((a, x) => a + x.bytes, 0),
      };
      if (p.messagesReceived !== undefined) view.messagesReceived = p.messagesReceived;
      processes.push(view);
    }
    for (const d of sample.host.degraded) this.degraded.add(d);
    this.emit('sample', { t: sample.host.t, durationMs, processes, degraded: sample.host.degraded });
  }

  /** `readyTimeoutMs`: the round's own timeout; a slow machine (an emulated CPU) may need more than the usual 10 s to start one. */
  private async startActor(role: ActorRole, args: string[], judged: boolean, readyTimeoutMs: number): Promise<Actor> {
    const actor = await spawnActor(role, args, {
      now: this.now,
      readyTimeoutMs,
      ...(this.action === 'process-suspend' ? { stopPollMs: 10 } : {}),
      onSpawn: (a) => {
        this.actors.set(a.pid, a);
        if (judged) this.judged.add(a.pid);
      },
      onLine: (_a, line) => {
        if (line.answer === undefined) return;
        const body = line.body as { reportId?: unknown } | undefined;
        this.emit('device', {
          accepted: line.answer === 'accepted',
          ...(typeof body?.reportId === 'number' ? { reportId: body.reportId } : {}),
        });
      },
    });
    actor.child.once('exit', (code, signal) =>
      this.emit('actor', { event: 'stopped', role, pid: actor.pid, t: actor.exitedAt ?? this.now(), detail: signal ?? `exit ${code}` }),
    );
    this.emit('actor', { event: 'started', role, pid: actor.pid, t: actor.startedAt });
    return actor;
  }

  /**
   * One run of the story with a fresh cast: the device and the innocent neighbour, then the rogue(s).
   * Resolves when every rogue is stopped (dry-run: has its dry-run action), the violation and action are in
   * the cloud record and — with waitForReport — a gateway report after it; or at the timeout.
   */
  async round(spec: RoundSpec = {}): Promise<DemoSummary> {
    if (!this.agent || this.stopped) throw new Error('the scenario is not running');
    if (this.inRound) throw new Error('a round is already running');
    const s = {
      rogue: true,
      streamer: false,
      innocent: true,
      device: this.nucleus !== 'lite',
      timeoutMs: 45_000,
      waitForReport: true,
      ...spec,
    };
    if (s.device && this.nucleus === 'lite') {
      throw new Error('nucleus lite has no client-device broker: no downstream device can report through it (device: false)');
    }
    this.inRound = true;
    const startedAt = this.now();
    this.violations = [];
    this.actions = [];
    this.degraded.clear();
    const cast: Actor[] = [];
    const problems: string[] = [];
    try {
      const url = this.mqttUrl;
      const quiet = await Promise.all([
        s.device
          ? this.startActor(
              'device',
              ['--url', url, '--thing', this.deviceThing, '--interval-ms', '2000', ...this.tlsArgs(this.deviceThing)],
              false,
              s.timeoutMs,
            )
          : undefined,
        s.innocent
          ? this.startActor(
              'innocent',
              ['--url', url, '--interval-ms', '5000', '--client-id', INNOCENT_THING, ...this.tlsArgs(INNOCENT_THING)],
              true,
              s.timeoutMs,
            )
          : undefined,
      ]);
      for (const a of quiet) if (a) cast.push(a);
      const sinkPort = this.sinkPort;
      const rogues = await Promise.all([
        s.rogue
          ? this.startActor(
              'rogue-agent',
              ['--url', url, '--interval-ms', String(this.rogueIntervalMs), '--client-id', ROGUE_THING, ...this.tlsArgs(ROGUE_THING)],
              true,
              s.timeoutMs,
            )
          : undefined,
        s.streamer
          ? this.startActor('tcp-streamer', ['--port', String(sinkPort), '--chunk', '1024', '--interval-ms', '50'], true, s.timeoutMs)
          : undefined,
      ]);
      for (const a of rogues) if (a) cast.push(a);
      const rogueActors = rogues.filter((a): a is Actor => a !== undefined);
      const missing = () => this.missing(rogueActors, s.waitForReport);
      const deadline = startedAt + s.timeoutMs;
      let left = missing();
      while (left.length > 0 && this.now() < deadline && !this.stopped) {
        await new Promise((r) => setTimeout(r, 50));
        left = missing();
      }
      if (left.length > 0) problems.push(`timed out after ${s.timeoutMs} ms waiting for: ${left.join('; ')}`);
      this.pollCloud();
      const runningAtEnd = new Map(cast.map((a) => [a.pid, isRunning(a)]));
      const answers = cast.filter((a) => a.role === 'device').flatMap((a) => a.lines.filter((l) => l.answer !== undefined));
      return summarize({
        mode: this.mode,
        samplingMs: this.samplingMs,
        reportEverySeconds: this.reportEverySeconds,
        gatewayThing: this.gatewayThing,
        deviceThing: this.deviceThing,
        behaviors: ['msgReceive', 'bytesOut'],
        actors: cast.map((a) => ({
          role: a.role,
          pid: a.pid,
          comm: ROLE_TITLE[a.role],
          ...(a.stoppedAt !== undefined ? { stoppedAt: a.stoppedAt } : {}),
          ...(a.stoppedHow !== undefined ? { stoppedHow: a.stoppedHow } : {}),
          runningAtEnd: runningAtEnd.get(a.pid) ?? false,
        })),
        violations: this.violations,
        actions: this.actions,
        cloud: this.cloudRecord().filter((l) => l.ts >= startedAt),
        perProcessMessages: this.perProcessMessages,
        requireReport: s.waitForReport,
        degraded: [...this.degraded],
        deviceAnswers: {
          accepted: answers.filter((l) => l.answer === 'accepted').length,
          rejected: answers.filter((l) => l.answer === 'rejected').length,
        },
        startedAt,
        endedAt: this.now(),
        problems,
      });
    } finally {
      // Rounds do not overlap: every actor alive now is this round's, including one whose sibling failed to start.
      const all = [...this.actors.values()];
      await Promise.all(all.map((a) => stopActor(a)));
      this.judged.clear();
      this.actors.clear();
      this.windows.clear();
      this.inRound = false;
    }
  }

  /** --ca/--cert/--key of an MQTT actor's thing (none for lite's plain broker). */
  private tlsArgs(thing: string): string[] {
    if (this.plainBroker) return [];
    const c = this.actorCerts.get(thing);
    if (!c) throw new Error(`no certificate for ${thing}`);
    return ['--ca', c.caPath, '--cert', c.certPath, '--key', c.keyPath];
  }

  /** What a round still waits for (empty = done). */
  private missing(rogues: readonly Actor[], waitForReport: boolean): string[] {
    const left: string[] = [];
    const alarmOf = (pid: number) =>
      this.violations.find((v) => v.event === 'in-alarm' && v.offender.kind === 'process' && v.offender.pid === pid);
    for (const a of rogues) {
      const name = `${a.role} (pid ${a.pid})`;
      const alarm = alarmOf(a.pid);
      if (!alarm) {
        left.push(`${name}: a violation`);
        continue;
      }
      const acts = this.actions.filter((r) => r.violation.offender.kind === 'process' && r.violation.offender.pid === a.pid);
      if (acts.length === 0) {
        left.push(`${name}: an enforcement action`);
        continue;
      }
      // A refused or failed action will not stop it: nothing more to wait for.
      const acted = acts.some((r) => r.outcome === 'applied' || r.outcome === 'killed');
      if (this.mode === 'enforce' && acted && !acts.some((r) => r.dryRun) && a.stoppedAt === undefined)
        left.push(`${name}: the process to stop`);
    }
    const cloud = this.cloudRecord();
    const docs = cloud.map((l) => {
      try {
        return JSON.parse(l.payload) as { record?: string; offender?: { pid?: number }; violation?: { offender?: { pid?: number } } };
      } catch {
        return {};
      }
    });
    for (const a of rogues) {
      if (!docs.some((d) => d.record === 'violation' && d.offender?.pid === a.pid))
        left.push(`${a.role} (pid ${a.pid}): its violation in the cloud record`);
      if (!docs.some((d) => d.record === 'action' && d.violation?.offender?.pid === a.pid))
        left.push(`${a.role} (pid ${a.pid}): its action in the cloud record`);
    }
    if (waitForReport && rogues.length > 0) {
      // The next report after the last rogue's violation: reporting goes on while enforcement acts.
      const times = rogues.map((a) => alarmOf(a.pid)?.t);
      const last = times.some((t) => t === undefined) ? undefined : Math.max(...(times as number[]));
      const report = new RegExp(`^\\$aws/things/${this.gatewayThing}/defender/metrics/(json|cbor)$`);
      if (last === undefined || !cloud.some((l) => report.test(l.topic) && l.ts > last))
        left.push('a gateway report after the violations in the cloud record');
    }
    return left;
  }

  /** Stops every process we started, the agent, the emulator and the sink, and removes the temp dir. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    this.stopped = true;
    // Ctrl-C during start(): let it finish (or fail), then tear down whatever it built.
    await this.starting?.catch(() => undefined);
    if (this.cloudTimer) clearInterval(this.cloudTimer);
    await Promise.all([...this.actors.values()].map((a) => stopActor(a)));
    await this.agent?.stop().catch((err: unknown) => this.log.warn({ err }, 'agent stop failed'));
    await this.emulator?.stop().catch((err: unknown) => this.log.warn({ err }, 'emulator stop failed'));
    await this.plainBroker?.stop().catch((err: unknown) => this.log.warn({ err }, 'demo broker stop failed'));
    for (const s of this.sinkSockets) s.destroy();
    await new Promise<void>((resolve) => (this.sink ? this.sink.close(() => resolve()) : resolve()));
    if (this.dir !== '' && !this.keepWorkDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
