import type { Logger } from '../log.ts';
import { DiskQueue, type RecoveryInfo } from '../store/diskQueue.ts';

/** What reaches IoT Core: a report, a violation, an enforcement action record, a heartbeat. */
export interface OutboxMessage {
  kind: 'report' | 'violation' | 'action' | 'health' | 'other';
  topic: string;
  /** UTF-8 text (JSON) or, for CBOR reports, base64 */
  payload: string;
  encoding: 'utf8' | 'base64';
  /** report_id of a report, for logs and dedupe on the receiving side */
  reportId?: number;
  enqueuedAt: number;
}

/** The one call the outbox needs from the IPC client: PublishToIoTCore at QoS 1, resolving when the nucleus took it. */
export type PublishFn = (topic: string, payload: Buffer, qos: 0 | 1) => Promise<void>;

export interface OutboxOptions {
  dir: string;
  maxEntries: number;
  maxBytes: number;
  publish: PublishFn;
  logger: Logger;
  /** first retry delay after a failed publish; doubles up to maxBackoffMs, with ±20 % jitter */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** how often the cursor and segments are synced to disk */
  syncIntervalMs?: number;
  random?: () => number;
}

export interface OutboxStats {
  depth: number;
  bytes: number;
  published: number;
  failures: number;
  droppedTotal: number;
  diskError?: string;
  lastError?: string;
}

/**
 * Everything bound for IoT Core goes through here (issue 8): a disk-backed, bounded queue drained in
 * order, one message in flight, QoS 1. The nucleus spooler is memory-only, bounded (2.5 MiB by default)
 * and drops QoS 0 (greengrass.md §3.3), so we keep our own copy until PublishToIoTCore has answered.
 * While the cloud is away the nucleus takes QoS 1 messages until its spool is full, then refuses
 * ("Message spool is full"); from then on the backlog waits here, on disk, in order.
 */
export class Outbox {
  private readonly queue: DiskQueue<OutboxMessage>;
  private readonly log: Logger;
  private readonly opts: Required<Omit<OutboxOptions, 'logger' | 'publish' | 'dir' | 'maxEntries' | 'maxBytes'>>;
  private running = false;
  private pumping = false;
  private timer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private published = 0;
  private failures = 0;
  private lastError: string | undefined;
  private idleWaiters: Array<() => void> = [];
  /** Ends the wait for the publish in flight (retryNow after a reconnect). */
  private abandonInFlight: (() => void) | undefined;
  private readonly options: OutboxOptions;

  constructor(options: OutboxOptions) {
    this.options = options;
    this.queue = new DiskQueue<OutboxMessage>({ dir: options.dir, maxEntries: options.maxEntries, maxBytes: options.maxBytes });
    this.log = options.logger;
    this.opts = {
      initialBackoffMs: options.initialBackoffMs ?? 200,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      syncIntervalMs: options.syncIntervalMs ?? 1000,
      random: options.random ?? Math.random,
    };
  }

  start(): RecoveryInfo {
    const info = this.queue.open();
    if (info.entries > 0 || info.corruptLines > 0 || info.cursorProblem) this.log.info({ recovery: info }, 'outbox recovered queued messages');
    if (info.corruptLines > 0 || info.cursorProblem) this.log.warn({ recovery: info }, 'outbox skipped unreadable data on recovery');
    this.running = true;
    this.syncTimer = setInterval(() => this.queue.sync(), this.opts.syncIntervalMs);
    this.syncTimer.unref();
    this.kick();
    return info;
  }

  /** Queue a message; returns at once. Never throws for a full queue (oldest dropped and counted). */
  enqueue(message: Omit<OutboxMessage, 'enqueuedAt'> & { enqueuedAt?: number }): void {
    const full: OutboxMessage = { ...message, enqueuedAt: message.enqueuedAt ?? Date.now() };
    const before = this.queue.droppedTotal;
    this.queue.push(full);
    if (this.queue.droppedTotal > before) {
      this.log.warn({ dropped: this.queue.droppedTotal - before, droppedTotal: this.queue.droppedTotal }, 'outbox full: dropped the oldest messages');
    }
    if (this.queue.diskError) this.log.error({ err: this.queue.diskError }, 'outbox cannot write to disk; holding messages in memory');
    this.kick();
  }

  /** Dropped-message count since the last call, for the next report's custom metric. */
  takeDropped(): number {
    return this.queue.takeDropped();
  }

  stats(): OutboxStats {
    return {
      depth: this.queue.length,
      bytes: this.queue.byteLength,
      published: this.published,
      failures: this.failures,
      droppedTotal: this.queue.droppedTotal,
      ...(this.queue.diskError ? { diskError: this.queue.diskError } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /**
   * Try now (e.g. after the IPC connection came back), forgetting the current backoff. A publish still in
   * flight on the old connection is abandoned and the head sent again at once: the SDK may never answer
   * a call whose connection died (it then waits for its call timeout), and a duplicate is what QoS 1
   * allows anyway (issue 8: carry on within 5 s of the nucleus coming back).
   */
  retryNow(): void {
    this.abandonInFlight?.();
    this.backoffMs = 0;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.kick();
  }

  /** Resolves when the queue is empty (or after `timeoutMs`); for shutdown and tests. */
  async drained(timeoutMs: number): Promise<boolean> {
    if (this.queue.length === 0) return true;
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(this.queue.length === 0), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.queue.close();
  }

  private kick(): void {
    if (!this.running || this.pumping || this.timer) return;
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      // Something may have been enqueued between the pump's last look and now.
      if (this.queue.length > 0 && !this.timer) this.kick();
    });
  }

  private async pump(): Promise<void> {
    while (this.running) {
      const [next] = this.queue.peek(1);
      if (!next) {
        for (const w of this.idleWaiters.splice(0)) w();
        return;
      }
      const m = next.value;
      try {
        const abandoned = new Promise<'abandoned'>((resolve) => { this.abandonInFlight = () => resolve('abandoned'); });
        // Promise.race also handles a late rejection of an abandoned publish.
        const outcome = await Promise.race([this.options.publish(m.topic, Buffer.from(m.payload, m.encoding), 1).then(() => 'sent' as const), abandoned]);
        this.abandonInFlight = undefined;
        if (outcome === 'abandoned') continue; // the head again, on the new connection
        this.queue.ack(next.seq);
        this.published++;
        this.backoffMs = 0;
      } catch (err) {
        this.abandonInFlight = undefined;
        this.failures++;
        this.lastError = (err as Error).message;
        this.backoffMs = Math.min(this.opts.maxBackoffMs, this.backoffMs === 0 ? this.opts.initialBackoffMs : this.backoffMs * 2);
        const delay = Math.round(this.backoffMs * (0.8 + 0.4 * this.opts.random()));
        this.log.warn({ err: this.lastError, topic: m.topic, kind: m.kind, retryInMs: delay, depth: this.queue.length }, 'publish to IoT Core failed; will retry');
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.kick();
        }, delay);
        return;
      }
    }
  }
}
