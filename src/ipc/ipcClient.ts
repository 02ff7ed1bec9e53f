// GreengrassIpcClient: the thin layer over the SDK's greengrasscoreipc client that the agent uses.
// It connects from the component environment, reconnects with capped exponential backoff + jitter
// when the nucleus goes away, re-establishes every subscription, and never lets an IPC error or a
// handler's exception escape a callback: it logs, counts and retries.
import { EventEmitter } from 'node:events';
// The SDK's and aws-crt's modules by path, not their index: the index loads every service client (MQTT,
// shadow, jobs, identity …) and the agent uses IPC only (~1 MiB of heap and ~9 MiB of RSS less at start).
import * as cancel from 'aws-crt/dist/common/cancel.js';
import type * as eventstream_rpc from 'aws-iot-device-sdk-v2/dist/eventstream_rpc.js';
import * as greengrasscoreipc from 'aws-iot-device-sdk-v2/dist/greengrasscoreipc.js';
import { type Logger, silentLogger } from '../log.ts';
import { type BackoffPolicy, backoffDelay, backoffPolicyProblems, DEFAULT_BACKOFF } from './backoff.ts';
import { IpcError, toIpcError } from './ipcError.ts';
import type {
  ConfigurationUpdate,
  IoTCoreMessage,
  IpcConnectionState,
  IpcCounters,
  IpcSubscription,
  LocalMessage,
  ValidationRequest,
  ValidationVerdict,
} from './ipcTypes.ts';
import { ManagedSubscription, type StreamFactory } from './managedSubscription.ts';
import { nucleusIdentity } from './nucleusIdentity.ts';
import { sdkClientConfig } from './sdkClientConfig.ts';

const model = greengrasscoreipc.model;

/** The description of the validation subscription in subscriptionError / subscriptionGaveUp events. */
export const VALIDATION_SUBSCRIPTION = 'SubscribeToValidateConfigurationUpdates';
type SdkClient = greengrasscoreipc.Client;

export interface GreengrassIpcClientOptions {
  socketPath: string;
  /** SVCUID; omitted → Connect without a payload (the nucleus will refuse it). */
  authToken?: string;
  logger?: Logger;
  backoff?: Partial<BackoffPolicy>;
  /** [0,1) source for jitter; tests pass a fixed one. */
  random?: () => number;
  connectTimeoutMs?: number;
  callTimeoutMs?: number;
  /** consecutive failures after which a subscription stops retrying until re-armed (default 5) */
  maxSubscribeAttempts?: number;
  /**
   * A SubscribeToIoTCore that gave up is re-armed when a PublishToIoTCore succeeds (the core's cloud
   * connection is up: nucleus lite refuses both while offline), at most once per this interval (default 60 s).
   */
  rearmMinIntervalMs?: number;
}

export interface IpcClientEvents {
  connected: [];
  disconnected: [reason: string];
  subscriptionError: [description: string, error: IpcError];
  /** a subscription stopped retrying after repeated failures (it is tried again after a reconnect) */
  subscriptionGaveUp: [description: string, error: IpcError];
}

export interface PublishOptions {
  retain?: boolean;
  userProperties?: { key: string; value: string }[];
  correlationData?: Buffer;
  responseTopic?: string;
  contentType?: string;
}

export class GreengrassIpcClient extends EventEmitter<IpcClientEvents> {
  private readonly socketPath: string;
  private readonly authToken: string | undefined;
  private readonly log: Logger;
  private readonly policy: BackoffPolicy;
  private readonly random: () => number;
  private readonly connectTimeoutMs: number;
  private readonly callTimeoutMs: number;
  private readonly maxSubscribeAttempts: number;
  private readonly rearmMinIntervalMs: number;
  private lastCloudRearm = Number.NEGATIVE_INFINITY;
  /** subscriptions that depend on the core's cloud connection (SubscribeToIoTCore) */
  private readonly cloudSubscriptions = new WeakSet<ManagedSubscription>();
  private sdk: SdkClient | null = null;
  private state: IpcConnectionState = 'idle';
  private nucleus: string | undefined;
  private generation = 0;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly subscriptions = new Set<ManagedSubscription>();
  private readonly waiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  private readonly counts: IpcCounters = {
    connectAttempts: 0,
    connects: 0,
    connectFailures: 0,
    disconnects: 0,
    calls: 0,
    callFailures: 0,
    subscribes: 0,
    subscribeFailures: 0,
    streamsEnded: 0,
    messagesReceived: 0,
    handlerErrors: 0,
    validationReports: 0,
    subscriptionsGivenUp: 0,
  };

  constructor(options: GreengrassIpcClientOptions) {
    super();
    this.socketPath = options.socketPath;
    this.authToken = options.authToken;
    this.log = (options.logger ?? silentLogger()).child({ module: 'ipc' });
    this.policy = { ...DEFAULT_BACKOFF, ...options.backoff };
    const problems = backoffPolicyProblems(this.policy);
    if (problems.length > 0) throw new TypeError(problems.join('; '));
    this.random = options.random ?? Math.random;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.callTimeoutMs = options.callTimeoutMs ?? 10_000;
    this.maxSubscribeAttempts = Math.max(1, Math.floor(options.maxSubscribeAttempts ?? 5));
    this.rearmMinIntervalMs = options.rearmMinIntervalMs ?? 60_000;
  }

  get connectionState(): IpcConnectionState {
    return this.state;
  }

  isConnected(): boolean {
    return this.state === 'connected';
  }

  /**
   * The nucleus run this connection is with (src/ipc/nucleusIdentity.ts), undefined while not connected.
   * Read before connecting: if the nucleus restarts in between, the value names the old run, and the
   * outbox then sends again rather than skip (the safe way round).
   */
  nucleusInstance(): string | undefined {
    return this.state === 'connected' ? this.nucleus : undefined;
  }

  counters(): IpcCounters {
    return { ...this.counts };
  }

  /** Start connecting in the background (retrying forever until stop()). */
  start(): void {
    if (this.state !== 'idle') return;
    void this.connectOnce();
  }

  /** Resolves when connected (immediately if already); rejects on timeout or stop(). */
  whenConnected(timeoutMs?: number): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    if (this.state === 'stopped') return Promise.reject(new IpcError('connect', 'stopped', 'client stopped'));
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? null
          : setTimeout(() => {
              this.waiters.delete(w);
              reject(new IpcError('connect', 'timeout', `not connected within ${timeoutMs} ms`));
            }, timeoutMs);
      const w = {
        resolve: () => {
          if (timer) clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.add(w);
    });
  }

  /** Close every subscription and the connection; the client cannot be restarted. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const s of this.subscriptions) s.dispose();
    this.subscriptions.clear();
    for (const w of this.waiters) w.reject(new IpcError('connect', 'stopped', 'client stopped'));
    this.waiters.clear();
    const sdk = this.sdk;
    this.sdk = null;
    if (sdk) await closeQuietly(sdk);
  }

  // ---- request/response operations: reject with IpcError, never throw synchronously ----

  /** The whole configuration (keyPath []) or a subtree; a leaf comes back as {leaf: value} (docs/greengrass-ipc.md). */
  async getConfiguration(keyPath: string[] = [], componentName?: string): Promise<unknown> {
    const r = await this.call('GetConfiguration', (c, o) =>
      c.getConfiguration({ keyPath, ...(componentName ? { componentName } : {}) }, o),
    );
    return r.value;
  }

  async updateConfiguration(valueToMerge: unknown, keyPath: string[] = []): Promise<void> {
    await this.call('UpdateConfiguration', (c, o) => c.updateConfiguration({ keyPath, timestamp: new Date(), valueToMerge }, o));
  }

  async updateState(state: 'RUNNING' | 'ERRORED'): Promise<void> {
    const s = state === 'RUNNING' ? model.ReportedLifecycleState.RUNNING : model.ReportedLifecycleState.ERRORED;
    await this.call('UpdateState', (c, o) => c.updateState({ state: s }, o));
  }

  /** Resolves once the nucleus accepted (sent or spooled) the message, not on the cloud's PUBACK. */
  async publishToIoTCore(topic: string, payload: Buffer | string, qos: 0 | 1, options: PublishOptions = {}): Promise<void> {
    const q = qos === 1 ? model.QOS.AT_LEAST_ONCE : model.QOS.AT_MOST_ONCE;
    await this.call('PublishToIoTCore', (c, o) => c.publishToIoTCore({ topicName: topic, qos: q, payload, ...options }, o));
    this.cloudReachable();
  }

  /** A Buffer goes as binaryMessage, anything else as jsonMessage. */
  async publishToTopic(topic: string, message: unknown): Promise<void> {
    const publishMessage = Buffer.isBuffer(message) ? { binaryMessage: { message } } : { jsonMessage: { message } };
    await this.call('PublishToTopic', (c, o) => c.publishToTopic({ topic, publishMessage }, o));
  }

  async sendConfigurationValidityReport(deploymentId: string, verdict: ValidationVerdict): Promise<void> {
    const status = verdict.accepted ? model.ConfigurationValidityStatus.ACCEPTED : model.ConfigurationValidityStatus.REJECTED;
    const report = { deploymentId, status, ...(verdict.accepted ? {} : { message: verdict.message }) };
    await this.call('SendConfigurationValidityReport', (c, o) =>
      c.sendConfigurationValidityReport({ configurationValidityReport: report }, o),
    );
  }

  // ---- subscriptions: kept alive across reconnects until closed ----

  subscribeToIoTCore(topicFilter: string, qos: 0 | 1, handler: (m: IoTCoreMessage) => void | Promise<void>): IpcSubscription {
    const q = qos === 1 ? model.QOS.AT_LEAST_ONCE : model.QOS.AT_MOST_ONCE;
    return this.addSubscription(`SubscribeToIoTCore ${topicFilter}`, { cloud: true }, (c, o) => {
      const op = c.subscribeToIoTCore({ topicName: topicFilter, qos: q }, o);
      op.on('message', (e) => {
        const m = e.message;
        if (!m) return;
        const out: IoTCoreMessage = { topic: m.topicName, payload: toBuffer(m.payload), retain: m.retain ?? false };
        if (m.userProperties) out.userProperties = m.userProperties.map((u) => ({ key: u.key ?? '', value: u.value ?? '' }));
        if (m.correlationData !== undefined) out.correlationData = toBuffer(m.correlationData);
        if (m.responseTopic) out.responseTopic = m.responseTopic;
        if (m.contentType) out.contentType = m.contentType;
        this.deliver(`SubscribeToIoTCore ${topicFilter}`, () => handler(out));
      });
      return op;
    });
  }

  subscribeToTopic(topic: string, handler: (m: LocalMessage) => void | Promise<void>, receiveMode?: 'all' | 'others'): IpcSubscription {
    const mode =
      receiveMode === undefined
        ? undefined
        : receiveMode === 'all'
          ? model.ReceiveMode.RECEIVE_ALL_MESSAGES
          : model.ReceiveMode.RECEIVE_MESSAGES_FROM_OTHERS;
    return this.addSubscription(`SubscribeToTopic ${topic}`, {}, (c, o) => {
      const op = c.subscribeToTopic({ topic, ...(mode ? { receiveMode: mode } : {}) }, o);
      op.on('message', (e) => {
        let out: LocalMessage | null = null;
        if (e.jsonMessage) out = { topic: e.jsonMessage.context?.topic ?? topic, kind: 'json', value: e.jsonMessage.message };
        else if (e.binaryMessage)
          out = { topic: e.binaryMessage.context?.topic ?? topic, kind: 'binary', value: toBuffer(e.binaryMessage.message) };
        if (out) this.deliver(`SubscribeToTopic ${topic}`, () => handler(out));
      });
      return op;
    });
  }

  subscribeToConfigurationUpdate(keyPath: string[], handler: (u: ConfigurationUpdate) => void | Promise<void>): IpcSubscription {
    return this.addSubscription(`SubscribeToConfigurationUpdate [${keyPath.join('/')}]`, {}, (c, o) => {
      const op = c.subscribeToConfigurationUpdate({ keyPath }, o);
      op.on('message', (e) => {
        const u = e.configurationUpdateEvent;
        if (u) this.deliver('SubscribeToConfigurationUpdate', () => handler({ componentName: u.componentName, keyPath: u.keyPath }));
      });
      return op;
    });
  }

  /**
   * Validate proposed configurations: `validator`'s verdict is sent back as SendConfigurationValidityReport.
   * A validator that throws rejects the configuration (a broken check must not let bad config through).
   */
  subscribeToValidateConfigurationUpdates(
    validator: (r: ValidationRequest) => ValidationVerdict | Promise<ValidationVerdict>,
  ): IpcSubscription {
    return this.addSubscription(VALIDATION_SUBSCRIPTION, {}, (c, o) => {
      const op = c.subscribeToValidateConfigurationUpdates({}, o);
      op.on('message', (e) => {
        const v = e.validateConfigurationUpdateEvent;
        if (!v?.deploymentId) return;
        const request: ValidationRequest = {
          deploymentId: v.deploymentId,
          configuration: (v.configuration ?? {}) as Record<string, unknown>,
        };
        void this.answerValidation(validator, request);
      });
      return op;
    });
  }

  // ---- internals ----

  private async answerValidation(
    validator: (r: ValidationRequest) => ValidationVerdict | Promise<ValidationVerdict>,
    r: ValidationRequest,
  ): Promise<void> {
    let verdict: ValidationVerdict;
    try {
      verdict = await validator(r);
    } catch (err) {
      this.counts.handlerErrors++;
      this.log.error({ err, deploymentId: r.deploymentId }, 'configuration validator threw; rejecting');
      verdict = { accepted: false, message: `validator failed: ${(err as Error).message}` };
    }
    try {
      await this.sendConfigurationValidityReport(r.deploymentId, verdict);
      this.counts.validationReports++;
    } catch (err) {
      this.log.warn({ err, deploymentId: r.deploymentId }, 'could not send configuration validity report');
    }
  }

  /** The cloud took a message: cloud subscriptions that gave up get another (bounded, rate-limited) series. */
  private cloudReachable(): void {
    const now = Date.now();
    if (now - this.lastCloudRearm < this.rearmMinIntervalMs) return;
    let rearmed = 0;
    for (const s of this.subscriptions) if (this.cloudSubscriptions.has(s) && s.rearm()) rearmed++;
    if (rearmed > 0) {
      this.lastCloudRearm = now;
      this.log.info({ subscriptions: rearmed }, 'IoT Core reachable again: subscribing once more');
    }
  }

  private deliver(what: string, run: () => void | Promise<void>): void {
    this.counts.messagesReceived++;
    const fail = (err: unknown): void => {
      this.counts.handlerErrors++;
      this.log.error({ err, subscription: what }, 'message handler failed');
    };
    try {
      const r = run();
      if (r instanceof Promise) r.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  /**
   * `cloud`: the subscription needs the core's cloud connection (SubscribeToIoTCore). The Java nucleus holds
   * such a subscribe until it is online (so it is not cancelled at the call timeout); nucleus lite refuses it
   * while offline (so it is re-armed once a PublishToIoTCore shows the cloud is back).
   */
  private addSubscription(description: string, kind: { cloud?: boolean }, factory: StreamFactory): IpcSubscription {
    if (this.state === 'stopped') throw new IpcError(description, 'stopped', 'client stopped');
    const sub = new ManagedSubscription(description, factory, {
      log: this.log,
      policy: this.policy,
      random: this.random,
      timeoutMs: this.callTimeoutMs,
      maxAttempts: this.maxSubscribeAttempts,
      ...(kind.cloud ? { waitPastTimeout: true } : {}),
      counters: this.counts,
      currentClient: () => (this.state === 'connected' ? { client: this.sdk!, generation: this.generation } : null),
      onError: (err) => this.emit('subscriptionError', description, err),
      onGaveUp: (err) => {
        this.counts.subscriptionsGivenUp++;
        this.safeEmit('subscriptionGaveUp', description, err);
      },
      onClosed: () => this.subscriptions.delete(sub),
    });
    if (kind.cloud) this.cloudSubscriptions.add(sub);
    this.subscriptions.add(sub);
    sub.activateIfConnected();
    return sub;
  }

  private async call<R>(operation: string, run: (c: SdkClient, o: eventstream_rpc.OperationOptions) => Promise<R>): Promise<R> {
    this.counts.calls++;
    const sdk = this.sdk;
    if (this.state !== 'connected' || !sdk) {
      this.counts.callFailures++;
      throw new IpcError(operation, this.state === 'stopped' ? 'stopped' : 'not-connected', 'not connected to the nucleus');
    }
    const controller = new cancel.CancelController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.cancel();
    }, this.callTimeoutMs);
    try {
      return await run(sdk, { cancelController: controller });
    } catch (err) {
      this.counts.callFailures++;
      if (timedOut) throw new IpcError(operation, 'timeout', `no answer within ${this.callTimeoutMs} ms`);
      throw toIpcError(operation, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private async connectOnce(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    this.counts.connectAttempts++;
    const generation = ++this.generation;
    const nucleus = nucleusIdentity(this.socketPath);
    const sdk = greengrasscoreipc.createClient(sdkClientConfig(this.socketPath, this.authToken));
    sdk.on('disconnection', (e) => this.onDisconnection(generation, e?.reason?.message ?? 'connection closed'));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        sdk.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`connect timed out after ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
        }),
      ]);
    } catch (err) {
      clearTimeout(timer);
      void closeQuietly(sdk);
      if (generation !== this.generation) return; // stopped meanwhile
      this.counts.connectFailures++;
      this.failures++;
      const delay = backoffDelay(this.failures, this.policy, this.random);
      this.log.warn(
        { err: toIpcError('connect', err), socket: this.socketPath, retryInMs: delay, failures: this.failures },
        'IPC connect failed',
      );
      this.scheduleConnect(delay);
      return;
    }
    clearTimeout(timer);
    if (generation !== this.generation) {
      void closeQuietly(sdk);
      return;
    }
    this.sdk = sdk;
    this.nucleus = nucleus;
    this.state = 'connected';
    this.failures = 0;
    this.counts.connects++;
    this.log.info({ socket: this.socketPath, connects: this.counts.connects }, 'IPC connected');
    for (const w of this.waiters) w.resolve();
    this.waiters.clear();
    this.safeEmit('connected');
    for (const s of this.subscriptions) s.activateIfConnected();
  }

  private onDisconnection(generation: number, reason: string): void {
    if (generation !== this.generation || this.state === 'stopped') return;
    const sdk = this.sdk;
    this.sdk = null;
    this.generation++;
    this.counts.disconnects++;
    for (const s of this.subscriptions) s.connectionLost();
    if (sdk) void closeQuietly(sdk);
    this.failures = 1;
    const delay = backoffDelay(this.failures, this.policy, this.random);
    this.log.warn({ reason, retryInMs: delay }, 'IPC disconnected from the nucleus');
    this.safeEmit('disconnected', reason);
    this.scheduleConnect(delay);
  }

  private scheduleConnect(delayMs: number): void {
    if (this.state === 'stopped') return;
    this.state = 'waiting';
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connectOnce();
    }, delayMs);
  }

  /** Listener exceptions must not break the reconnect machinery. */
  private safeEmit<K extends keyof IpcClientEvents>(event: K, ...args: IpcClientEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: IpcClientEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.counts.handlerErrors++;
      this.log.error({ err, event }, 'connection event listener threw');
    }
  }
}

function toBuffer(p: unknown): Buffer {
  if (Buffer.isBuffer(p)) return p;
  if (typeof p === 'string') return Buffer.from(p, 'utf8');
  if (p instanceof ArrayBuffer) return Buffer.from(p);
  if (ArrayBuffer.isView(p)) return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  return Buffer.alloc(0);
}

async function closeQuietly(sdk: SdkClient): Promise<void> {
  try {
    await sdk.close();
  } catch {
    // Closing a client whose connection is already gone can fail; nothing is left to release then.
  }
}
