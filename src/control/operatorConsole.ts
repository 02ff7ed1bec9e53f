// The operator's console inside the agent: the violation journal, the control socket in the work folder
// and the cloud commands topic, all answering through one ControlService. Built and started by the
// agent's composition root; nothing here changes how the agent samples, evaluates or enforces.
import type { CollectorSample } from '../collector/collector.ts';
import type { ComponentConfig } from '../config/schema.ts';
import type { Operator } from '../enforce/actionModel.ts';
import { enforcementPaths } from '../enforce/createEnforcer.ts';
import type { Enforcer } from '../enforce/enforcer.ts';
import type { GreengrassIpcClient } from '../ipc/ipcClient.ts';
import type { Outbox } from '../ipc/outbox.ts';
import type { ViolationEvent } from '../localrules/contracts.ts';
import type { ViolationEvidence } from '../localrules/evaluator.ts';
import type { Logger } from '../log.ts';
import { version } from '../version.ts';
import { CloudCommands } from './cloudCommands.ts';
import { ControlService, isRequestProblem } from './controlService.ts';
import { ControlSocketServer, controlSocketPath } from './controlSocket.ts';
import { parseSocketRequest } from './protocol.ts';
import { type SampleSummary, summarizeSample } from './statusModel.ts';
import { journalPath, ViolationJournal } from './violationJournal.ts';

/** What the console needs from the agent (the Agent class provides it). */
export interface ConsoleAgent {
  readonly thingName: string;
  readonly ipc: GreengrassIpcClient;
  enforcement(): Enforcer;
  evidenceFor(ev: ViolationEvent): ViolationEvidence | undefined;
  currentConfig(): ComponentConfig;
  snapshot(): {
    ipc: { connected: boolean };
    outbox: { depth: number; bytes: number; droppedTotal: number; lastError?: string };
    config: { source: string; rejected: number };
  };
  isShedding(): boolean;
  on(event: 'sample', listener: (sample: CollectorSample, durationMs: number) => void): unknown;
  on(event: 'violation', listener: (ev: ViolationEvent) => void): unknown;
}

export interface OperatorConsoleOptions {
  agent: ConsoleAgent;
  outbox: Outbox;
  /** the component's work folder (its cwd under Greengrass): the control socket lives there; absent: no socket */
  workDir?: string;
  stateDir: string;
  logger: Logger;
  now: () => number;
}

export class OperatorConsole {
  readonly journal: ViolationJournal;
  readonly service: ControlService;
  readonly socket: ControlSocketServer | undefined;
  readonly cloud: CloudCommands;
  readonly #o: OperatorConsoleOptions;
  readonly #log: Logger;
  readonly #startedAt: number;
  #lastSample: SampleSummary | undefined;
  #socketError: string | undefined;
  /** the agent's CPU use over the last second or more, measured here (the health record keeps its own window) */
  #cpu = { at: process.cpuUsage(), t: 0, percent: 0 };
  rejectedRequests = 0;

  constructor(options: OperatorConsoleOptions) {
    this.#o = options;
    this.#log = options.logger.child({ module: 'console' });
    this.#startedAt = options.now();
    this.#cpu.t = this.#startedAt;
    const agent = options.agent;
    this.journal = new ViolationJournal({ path: journalPath(options.stateDir), logger: this.#log });
    const auditPath = enforcementPaths(options.stateDir).auditPath;
    this.service = new ControlService({
      enforcer: () => agent.enforcement(),
      journal: this.journal,
      auditPath,
      now: options.now,
      statusParts: () => this.#statusParts(),
    });
    this.socket =
      options.workDir === undefined
        ? undefined
        : new ControlSocketServer({ path: controlSocketPath(options.workDir), handle: (line) => this.handleLine(line), logger: this.#log });
    this.cloud = new CloudCommands({
      ipc: agent.ipc,
      outbox: options.outbox,
      thingName: agent.thingName,
      service: this.service,
      audit: (entry) => agent.enforcement().auditCommand(entry),
      logger: options.logger,
      now: options.now,
    });
  }

  async start(): Promise<void> {
    const agent = this.#o.agent;
    this.journal.load();
    // The listeners run inside the agent's dispatch loop: whatever goes wrong here must not reach it (the
    // next event still has to be enforced).
    agent.on('violation', (ev) => {
      try {
        // Synchronous with the evaluation: the behavior's window still holds what crossed the threshold.
        this.journal.record(ev, ev.event === 'in-alarm' ? agent.evidenceFor(ev) : undefined);
      } catch (err) {
        this.#log.error({ err, violationId: ev.violationId }, 'could not journal a violation');
      }
    });
    agent.on('sample', (sample, durationMs) => {
      try {
        const c = agent.currentConfig();
        this.#lastSample = summarizeSample(sample.host, durationMs, c.collector.perProcess && !agent.isShedding());
        this.#measureCpu();
      } catch (err) {
        this.#log.error({ err }, 'could not summarize a sample');
      }
    });
    try {
      await this.socket?.start();
    } catch (err) {
      // The agent keeps enforcing without its console; `status` then reads the persisted state.
      this.#socketError = (err as Error).message;
      this.#log.error({ err }, 'control socket not available');
    }
    this.cloud.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.socket?.stop(), this.cloud.close()]);
  }

  #measureCpu(): void {
    const t = this.#o.now();
    if (t - this.#cpu.t < 1000) return;
    const used = process.cpuUsage(this.#cpu.at);
    this.#cpu = { at: process.cpuUsage(), t, percent: Math.round(((used.user + used.system) / 1000 / (t - this.#cpu.t)) * 1000) / 10 };
  }

  /** One control-socket line in, one answer line out. */
  async handleLine(line: string): Promise<string> {
    const p = parseSocketRequest(line);
    if (!p.ok) {
      this.rejectedRequests++;
      this.#log.warn({ reason: p.error }, 'control request refused');
      return JSON.stringify({ id: p.id, ok: false, error: p.error });
    }
    const by: Operator = { via: 'socket', ...p.by };
    try {
      const result = await this.service.handle(p.request, by);
      return JSON.stringify({ id: p.id, ok: true, result });
    } catch (err) {
      this.rejectedRequests++;
      if (!isRequestProblem(err)) {
        this.#log.error({ err, command: p.request.command }, 'control request failed');
        return JSON.stringify({ id: p.id, ok: false, error: `(internal): ${(err as Error).message}` });
      }
      if (p.request.command === 'actions.lift')
        this.#o.agent.enforcement().auditCommand({ command: 'lift', by, outcome: 'rejected', detail: err.message, args: { ...p.request } });
      return JSON.stringify({ id: p.id, ok: false, error: err.message });
    }
  }

  #statusParts() {
    const agent = this.#o.agent;
    const snap = agent.snapshot();
    const config = agent.currentConfig();
    this.#measureCpu();
    return {
      thingName: agent.thingName,
      pid: process.pid,
      startedAt: this.#startedAt,
      version: version(),
      ...(this.#o.workDir === undefined ? {} : { workDir: this.#o.workDir }),
      stateDir: this.#o.stateDir,
      ipc: { connected: snap.ipc.connected, state: agent.ipc.connectionState },
      cloudCommands: this.cloud.stats(),
      outbox: {
        depth: snap.outbox.depth,
        bytes: snap.outbox.bytes,
        droppedTotal: snap.outbox.droppedTotal,
        ...(snap.outbox.lastError === undefined ? {} : { lastError: snap.outbox.lastError }),
      },
      ...(this.#lastSample === undefined ? {} : { lastSample: this.#lastSample }),
      selfLimit: {
        shedding: agent.isShedding(),
        rssBytes: process.memoryUsage.rss(),
        maxRssBytes: config.selfLimit.maxRssBytes,
        cpuPercent: this.#cpu.percent,
        maxCpuPercent: config.selfLimit.maxCpuPercent,
      },
      config: { source: snap.config.source, rejected: snap.config.rejected },
      ...(this.#socketError === undefined ? {} : { controlSocketError: this.#socketError }),
    };
  }
}
