// Commands from the cloud: `defender-edge/<thing>/commands` (SubscribeToIoTCore, QoS 1) takes lift, pause,
// resume and status; each is answered on `…/commands/accepted` or `…/commands/rejected` with its commandId,
// and audited. Who may command a gateway is whoever the AWS IoT policies let publish to that topic (see
// docs/security.md): the core device's own policy must not, or a client device bridged to IoT Core could.
//
// Answers are published directly (PublishToIoTCore, QoS 1), not queued behind the outbox: the requester is
// waiting now, and the outbox may hold a backlog of reports from an offline period. A command only arrives
// while connected, so the answer normally leaves at once; if that publish fails (the connection dropped in
// between, or a nucleus without a spooler such as nucleus lite is offline) the answer goes to the outbox,
// which keeps it on disk until it is delivered.
import type { Operator } from '../enforce/actionModel.ts';
import type { GreengrassIpcClient } from '../ipc/ipcClient.ts';
import type { IoTCoreMessage, IpcSubscription } from '../ipc/ipcTypes.ts';
import type { Outbox } from '../ipc/outbox.ts';
import type { Logger } from '../log.ts';
import { type ControlService, isRequestProblem } from './controlService.ts';
import { commandsTopicFor, parseCloudCommand } from './protocol.ts';

export interface CloudCommandsOptions {
  ipc: GreengrassIpcClient;
  outbox: Outbox;
  thingName: string;
  service: ControlService;
  /** audit a command the enforcer does not audit itself (status, refusals) */
  audit: (entry: { command: string; by: Operator; outcome: 'accepted' | 'rejected'; detail?: string }) => void;
  logger: Logger;
  now: () => number;
}

export interface CloudCommandStats {
  topic: string;
  subscription: string;
  lastError?: string;
  accepted: number;
  rejected: number;
  answersQueued: number;
}

export class CloudCommands {
  readonly topic: string;
  readonly #o: CloudCommandsOptions;
  readonly #log: Logger;
  #sub: IpcSubscription | undefined;
  #accepted = 0;
  #rejected = 0;
  #queued = 0;

  constructor(options: CloudCommandsOptions) {
    this.#o = options;
    this.topic = commandsTopicFor(options.thingName);
    this.#log = options.logger.child({ module: 'commands' });
  }

  start(): void {
    this.#sub = this.#o.ipc.subscribeToIoTCore(this.topic, 1, (m) => this.onMessage(m));
  }

  async close(): Promise<void> {
    await this.#sub?.close();
  }

  stats(): CloudCommandStats {
    return {
      topic: this.topic,
      subscription: this.#sub?.status ?? 'closed',
      ...(this.#sub?.lastError === undefined ? {} : { lastError: this.#sub.lastError }),
      accepted: this.#accepted,
      rejected: this.#rejected,
      answersQueued: this.#queued,
    };
  }

  async onMessage(m: IoTCoreMessage): Promise<void> {
    const parsed = parseCloudCommand(m.payload);
    const t = this.#o.now();
    if (!parsed.ok) {
      const by: Operator = { via: 'cloud', ...(parsed.commandId === undefined ? {} : { commandId: parsed.commandId }) };
      return this.#reject(by, parsed.command ?? '(unknown)', parsed.error, parsed.commandId, t);
    }
    const by: Operator = {
      via: 'cloud',
      ...(parsed.requestedBy === undefined ? {} : { user: parsed.requestedBy }),
      ...(parsed.commandId === undefined ? {} : { commandId: parsed.commandId }),
    };
    let result: unknown;
    try {
      result = await this.#o.service.handle(parsed.request, by);
    } catch (err) {
      if (!isRequestProblem(err)) this.#log.error({ err, command: parsed.command }, 'cloud command failed');
      const message = isRequestProblem(err) ? err.message : `(internal): ${(err as Error).message}`;
      return this.#reject(by, parsed.command, message, parsed.commandId, t);
    }
    this.#accepted++;
    // lift, pause and resume are audited by the enforcer with `by`; a status request is audited here.
    if (parsed.command === 'status') this.#o.audit({ command: 'status', by, outcome: 'accepted' });
    this.#log.info({ command: parsed.command, commandId: parsed.commandId, requestedBy: parsed.requestedBy }, 'cloud command carried out');
    await this.#answer('accepted', {
      ...(parsed.commandId === undefined ? {} : { commandId: parsed.commandId }),
      command: parsed.command,
      t,
      result,
    });
  }

  async #reject(by: Operator, command: string, error: string, commandId: string | undefined, t: number): Promise<void> {
    this.#rejected++;
    this.#log.warn({ command, commandId, reason: error }, 'cloud command rejected');
    this.#o.audit({ command, by, outcome: 'rejected', detail: error });
    await this.#answer('rejected', { ...(commandId === undefined ? {} : { commandId }), command, t, error });
  }

  async #answer(kind: 'accepted' | 'rejected', doc: Record<string, unknown>): Promise<void> {
    const topic = `${this.topic}/${kind}`;
    const payload = JSON.stringify(doc);
    try {
      await this.#o.ipc.publishToIoTCore(topic, payload, 1);
    } catch (err) {
      this.#log.warn({ err, topic }, 'command answer not published; queued in the outbox');
      try {
        this.#o.outbox.enqueue({ kind: 'other', topic, payload, encoding: 'utf8' });
        this.#queued++;
      } catch (qerr) {
        this.#log.error({ err: qerr, topic }, 'command answer lost: the outbox refused it');
      }
    }
  }
}
