// One subscription of the IPC client, kept alive across reconnects: activated on every new connection,
// re-activated with backoff when the nucleus refuses it or closes its stream, closed only by its owner.
// Retries are bounded: after `maxAttempts` consecutive failures it gives up, says so once, and waits to be
// re-armed (a new connection, or rearm() when something suggests the cause is gone). A nucleus that refuses
// an operation for good (nucleus lite answers operations it does not implement with a ServiceError) would
// otherwise be asked again every few seconds for as long as the component runs.

import * as cancel from 'aws-crt/dist/common/cancel.js';
import type * as eventstream_rpc from 'aws-iot-device-sdk-v2/dist/eventstream_rpc.js';
import type * as greengrasscoreipc from 'aws-iot-device-sdk-v2/dist/greengrasscoreipc.js';
import type { Logger } from '../log.ts';
import { type BackoffPolicy, backoffDelay } from './backoff.ts';
import { IpcError, toIpcError } from './ipcError.ts';
import type { IpcCounters, IpcSubscription } from './ipcTypes.ts';

/** The part of the SDK's StreamingOperation used here, whatever its message types. */
export interface SubscriptionStream {
  activate(): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'ended', listener: (e: eventstream_rpc.StreamingOperationEndedEvent) => void): unknown;
  on(event: 'streamError', listener: (e: eventstream_rpc.RpcError) => void): unknown;
}
export type StreamFactory = (client: greengrasscoreipc.Client, options: eventstream_rpc.OperationOptions) => SubscriptionStream;

export interface SubscriptionDeps {
  log: Logger;
  policy: BackoffPolicy;
  random: () => number;
  timeoutMs: number;
  /** consecutive failed attempts after which it gives up until re-armed (≥ 1) */
  maxAttempts: number;
  /**
   * Keep waiting for the nucleus's answer past `timeoutMs` instead of cancelling and asking again: the Java
   * nucleus answers SubscribeToIoTCore only once the core's MQTT connection is up (aws-greengrass-nucleus
   * mqttclient/MqttClient.java), so cancelling every `timeoutMs` would only pile up pending subscribes.
   */
  waitPastTimeout?: boolean;
  counters: IpcCounters;
  /** The live SDK client and its connection generation, or null while disconnected. */
  currentClient: () => { client: greengrasscoreipc.Client; generation: number } | null;
  onError: (err: IpcError) => void;
  /** it stopped retrying after `maxAttempts` failures (called once per giving up) */
  onGaveUp?: (err: IpcError) => void;
  onClosed: () => void;
}

export class ManagedSubscription implements IpcSubscription {
  readonly description: string;
  private readonly factory: StreamFactory;
  private readonly deps: SubscriptionDeps;
  private state: IpcSubscription['status'] = 'pending';
  private error: string | undefined;
  private op: SubscriptionStream | null = null;
  private opGeneration = -1;
  private failures = 0;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(description: string, factory: StreamFactory, deps: SubscriptionDeps) {
    this.description = description;
    this.factory = factory;
    this.deps = deps;
  }

  get status(): IpcSubscription['status'] {
    return this.state;
  }

  get lastError(): string | undefined {
    return this.error;
  }

  get gaveUp(): boolean {
    return this.stopped;
  }

  /** Try again after giving up (a bounded series of `maxAttempts`); no effect otherwise. Returns whether it re-armed. */
  rearm(): boolean {
    if (!this.stopped || this.state === 'closed') return false;
    this.stopped = false;
    this.failures = 0;
    this.activateIfConnected();
    return true;
  }

  /** Subscribe on the current connection unless already subscribed (or subscribing) there. */
  activateIfConnected(): void {
    if (this.state === 'closed' || this.stopped || this.op !== null) return;
    const current = this.deps.currentClient();
    if (current) void this.activate(current.client, current.generation);
  }

  /** The connection is gone: its streams went with it; the next connection re-subscribes. */
  connectionLost(): void {
    this.op = null;
    this.clearRetry();
    // A new connection (maybe a restarted nucleus) deserves a new series of attempts.
    this.stopped = false;
    this.failures = 0;
    if (this.state !== 'closed') this.state = 'pending';
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const op = this.op;
    this.dispose();
    this.deps.onClosed();
    if (op) {
      try {
        await op.close();
      } catch (err) {
        this.deps.log.debug({ err, subscription: this.description }, 'closing stream failed');
      }
    }
  }

  /** Forget everything without talking to the nucleus (the client is closing the connection). */
  dispose(): void {
    this.state = 'closed';
    this.op = null;
    this.clearRetry();
  }

  private async activate(client: greengrasscoreipc.Client, generation: number): Promise<void> {
    const { counters, log } = this.deps;
    counters.subscribes++;
    const controller = new cancel.CancelController();
    let timedOut = false;
    const timer = setTimeout(() => {
      if (this.deps.waitPastTimeout) {
        // One request stays in flight; the answer (or the connection's end) settles it.
        if (this.op !== null) {
          this.error = `no answer within ${this.deps.timeoutMs} ms; still waiting (the core may be offline)`;
          log.info({ subscription: this.description, waitedMs: this.deps.timeoutMs }, 'subscription not answered yet; still waiting');
        }
        return;
      }
      timedOut = true;
      controller.cancel();
    }, this.deps.timeoutMs);
    let op: SubscriptionStream;
    try {
      op = this.factory(client, { cancelController: controller });
    } catch (err) {
      clearTimeout(timer);
      this.failed(toIpcError(this.description, err));
      return;
    }
    this.op = op;
    this.opGeneration = generation;
    op.on('streamError', (e) => {
      log.debug({ err: e, subscription: this.description }, 'stream error');
    });
    op.on('ended', () => this.onEnded(op));
    try {
      await op.activate();
    } catch (err) {
      clearTimeout(timer);
      if (this.op !== op) return; // closed or connection lost meanwhile
      this.op = null;
      this.failed(
        timedOut
          ? new IpcError(this.description, 'timeout', `no answer within ${this.deps.timeoutMs} ms`)
          : toIpcError(this.description, err),
      );
      return;
    }
    clearTimeout(timer);
    if (this.op !== op) return;
    this.state = 'active';
    this.error = undefined;
    this.failures = 0;
    log.debug({ subscription: this.description }, 'subscribed');
  }

  private onEnded(op: SubscriptionStream): void {
    // Only a stream that was active and is still ours; activation failures are handled in activate().
    if (this.op !== op || this.state !== 'active') return;
    this.op = null;
    const current = this.deps.currentClient();
    if (!current || current.generation !== this.opGeneration) return; // the reconnect re-subscribes
    this.deps.counters.streamsEnded++;
    this.state = 'pending';
    this.failures++;
    if (this.failures >= this.deps.maxAttempts) {
      this.giveUp(new IpcError(this.description, 'transport', 'the nucleus closed the stream'));
      return;
    }
    const delay = backoffDelay(this.failures, this.deps.policy, this.deps.random);
    this.deps.log.warn({ subscription: this.description, retryInMs: delay }, 'stream closed by the nucleus; subscribing again');
    this.scheduleRetry(delay);
  }

  private failed(err: IpcError): void {
    if (this.state === 'closed') return;
    this.deps.counters.subscribeFailures++;
    this.failures++;
    this.state = 'failed';
    this.error = err.message;
    this.notify(this.deps.onError, err);
    if (this.isClosed()) {
      // Its owner closed it on hearing the error (e.g. an operation this nucleus does not have): no retry.
      this.deps.log.warn({ err, attempt: this.failures }, 'subscribe failed; not retried');
      return;
    }
    if (this.failures >= this.deps.maxAttempts) {
      this.deps.log.warn({ err, attempt: this.failures }, 'subscribe failed');
      this.giveUp(err);
      return;
    }
    const delay = backoffDelay(this.failures, this.deps.policy, this.deps.random);
    this.deps.log.warn({ err, attempt: this.failures, retryInMs: delay }, 'subscribe failed');
    this.scheduleRetry(delay);
  }

  /** Stop retrying until re-armed; said once, loudly enough to be found in the log. */
  private giveUp(err: IpcError): void {
    this.stopped = true;
    this.state = 'failed';
    this.error = err.message;
    this.clearRetry();
    this.deps.log.error(
      { subscription: this.description, err, attempts: this.failures },
      'subscription given up after repeated failures; tried again after a reconnect or when the cause may be gone',
    );
    if (this.deps.onGaveUp) this.notify(this.deps.onGaveUp, err);
  }

  /** A method, not `this.state === 'closed'` inline: a listener may have closed it since the last assignment. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private notify(listener: (err: IpcError) => void, err: IpcError): void {
    try {
      listener(err);
    } catch (e) {
      this.deps.counters.handlerErrors++;
      this.deps.log.error({ err: e }, 'subscriptionError listener threw');
    }
  }

  private scheduleRetry(delayMs: number): void {
    this.clearRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.activateIfConnected();
    }, delayMs);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
