import { join } from 'node:path';
import type { Logger } from '../log.ts';
import { DiskQueue, type RecoveryInfo } from '../store/diskQueue.ts';
import { InPlaceJsonFile } from '../store/inPlaceJsonFile.ts';
import { IpcError } from './ipcError.ts';

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
  /**
   * Payload bytes of sent messages kept for replay until the cloud is known to have them: set it to the
   * nucleus's `mqtt.spooler.maxSizeInBytes` (default 2,621,440; 0 = trust the nucleus, no replay).
   */
  replayBytes?: number;
  /** publishes handed to the nucleus at once (default 32); 1 = strictly one after the other */
  inflight?: number;
  random?: () => number;
  /**
   * The nucleus run the IPC connection is with (GreengrassIpcClient.nucleusInstance), undefined while not
   * connected. With it, what this same nucleus already took is not sent again after a reconnect or after a
   * restart of our own process; without it, every unconfirmed message is (the nucleus is never known).
   */
  nucleusId?: () => string | undefined;
}

/** Persisted with the periodic sync and at shutdown: messages up to `through` were taken by `nucleus`. */
interface HandoverMark {
  through: number;
  nucleus: string;
}

function handoverMarkProblem(v: unknown): string | null {
  const o = v as Partial<HandoverMark> | null;
  return typeof o === 'object' && o !== null && Number.isSafeInteger(o.through) && typeof o.nucleus === 'string'
    ? null
    : 'handover.json: expected {through: integer, nucleus: string}';
}

export interface OutboxStats {
  /** messages not yet handed to the nucleus */
  depth: number;
  /** handed to the nucleus but not known to be in the cloud yet (kept on disk for replay) */
  unconfirmed: number;
  /** messages sent again after a reconnect (the nucleus may have lost its in-memory spool) */
  replayed: number;
  bytes: number;
  published: number;
  failures: number;
  /** refused for good by IoT Core (too large, unauthorized, invalid) and dropped */
  rejected: number;
  droppedTotal: number;
  diskError?: string;
  lastError?: string;
}

/**
 * Everything bound for IoT Core goes through here: a disk-backed, bounded queue drained in
 * order, a window of messages in flight, QoS 1. While the cloud is away the nucleus takes QoS 1
 * messages until its spool is full, then refuses ("Message spool is full"); from then on the backlog
 * waits here, on disk, in order. Ordering: the nucleus holds the oldest messages, we hold everything
 * after them, and our head is only retried after a refusal, so when the cloud returns the spool goes
 * first and nothing overtakes.
 *
 * We do not rely on the spooler: it is memory-only (docs/greengrass-ipc.md) and PublishToIoTCore answers as
 * soon as a message is spooled, not when the cloud has it. So a sent message stays on disk, unconfirmed,
 * until either (a) Device Defender answers a report sent after it (confirmReport: the cloud had
 * everything before it), or (b) more than `replayBytes` (the spool size) of newer payload was sent after
 * it — the FIFO spool cannot hold both, so it has left the nucleus. Violation and action records get no
 * answer of their own: a later report's answer is what confirms them.
 *
 * Unconfirmed messages are sent again, in order, only when the nucleus that took them may have lost them:
 * after a reconnect to, or our own restart under, a different nucleus run (`nucleusId`, the IPC socket's
 * identity: a restarted nucleus makes a new socket). An ordinary restart of the component (the nucleus kept
 * running, and its spool) sends nothing twice: `handover.json` holds the last sequence number the nucleus
 * answered and which nucleus run answered it, rewritten with the queue's periodic sync (`syncIntervalMs`,
 * one small positioned write when it changed; not per answer: at a few reports a second that write was a
 * measurable part of the agent's CPU), before a retry wait and at shutdown. A copy can still reach the cloud
 * twice when the nucleus did restart (it may or may not have sent the message before), or when we are
 * SIGKILLed between the nucleus's answer and that write (at most `syncIntervalMs` of answers);
 * such a copy is byte-identical (the payload is the one written to disk), so receivers drop it by its id: report_id for
 * reports, recordId for violation and action records (src/agent/violationPublisher.ts).
 */
export class Outbox {
  private readonly queue: DiskQueue<OutboxMessage>;
  private readonly log: Logger;
  private readonly opts: Required<Omit<OutboxOptions, 'logger' | 'publish' | 'dir' | 'maxEntries' | 'maxBytes' | 'nucleusId'>>;
  private running = false;
  private pumping = false;
  private timer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private published = 0;
  private failures = 0;
  /** consecutive failed attempts since the last accepted publish */
  private failStreak = 0;
  private lastError: string | undefined;
  private idleWaiters: Array<() => void> = [];
  /** Ends the wait for the publish in flight (retryNow after a reconnect). */
  private abandonInFlight: (() => void) | undefined;
  /** highest sequence number handed to the nucleus since the last (re)connect */
  private sentThrough = 0;
  /** sent, not confirmed: oldest first, contiguous up to sentThrough */
  private window: Array<{ seq: number; bytes: number; reportId?: number; topic?: string }> = [];
  private windowBytes = 0;
  private replayed = 0;
  private rejected = 0;
  /** since a failure and until caught up: one publish at a time (see pump) */
  private recovering = false;
  private readonly options: OutboxOptions;
  private readonly mark: InPlaceJsonFile<HandoverMark>;
  /** the previous run's mark, until the first connection says whether its nucleus still runs */
  private restoring: HandoverMark | undefined;
  /** the nucleus run that took the messages up to sentThrough */
  private nucleus: string | undefined;
  private marked: HandoverMark | undefined;
  private markError = false;
  /** settle(): no new publishes, only the answers of those in flight */
  private stopping = false;
  private pumpDone: Promise<void> | undefined;

  constructor(options: OutboxOptions) {
    this.options = options;
    this.queue = new DiskQueue<OutboxMessage>({
      dir: options.dir,
      maxEntries: options.maxEntries,
      maxBytes: options.maxBytes,
      fsyncIntervalMs: options.syncIntervalMs ?? 1000,
    });
    this.log = options.logger;
    this.opts = {
      initialBackoffMs: options.initialBackoffMs ?? 200,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      syncIntervalMs: options.syncIntervalMs ?? 1000,
      replayBytes: options.replayBytes ?? 2_621_440,
      inflight: options.inflight ?? 32,
      random: options.random ?? Math.random,
    };
    this.mark = new InPlaceJsonFile<HandoverMark>(join(options.dir, 'handover.json'));
  }

  start(): RecoveryInfo {
    const info = this.queue.open();
    if (info.entries > 0 || info.corruptLines > 0 || info.cursorProblem)
      this.log.info({ recovery: info }, 'outbox recovered queued messages');
    if (info.corruptLines > 0 || info.cursorProblem) this.log.warn({ recovery: info }, 'outbox skipped unreadable data on recovery');
    const m = this.mark.read(handoverMarkProblem);
    if (m.kind === 'corrupt')
      this.log.warn({ reason: m.error }, 'outbox: unreadable handover mark; unconfirmed messages will be sent again');
    const head = this.queue.headSeq;
    if (m.kind === 'ok' && head !== undefined && m.value.through >= head) this.restoring = m.value;
    this.running = true;
    this.syncTimer = setInterval(() => {
      this.queue.sync();
      this.writeMark();
    }, this.opts.syncIntervalMs);
    this.syncTimer.unref();
    this.kick();
    return info;
  }

  /** Queue a message; returns at once. Never throws for a full queue (oldest dropped and counted). */
  enqueue(message: Omit<OutboxMessage, 'enqueuedAt'> & { enqueuedAt?: number }): void {
    const full: OutboxMessage = { ...message, enqueuedAt: message.enqueuedAt ?? Date.now() };
    // Room is made from sent-but-unconfirmed messages first (most likely in the cloud already), before
    // the queue has to drop — and count — anything.
    const json = JSON.stringify(full);
    const lineBytes = Buffer.byteLength(json) + 32;
    while (
      this.window.length > 0 &&
      (this.queue.length + 1 > this.options.maxEntries || this.queue.byteLength + lineBytes > this.options.maxBytes)
    ) {
      const w = this.window.shift()!;
      this.windowBytes -= w.bytes;
      this.queue.ack(w.seq);
    }
    const before = this.queue.droppedTotal;
    this.queue.push(full, json);
    // Dropping the oldest may have taken unconfirmed ones: forget them here too.
    const head = this.queue.headSeq ?? Number.POSITIVE_INFINITY;
    while (this.window.length > 0 && this.window[0]!.seq < head) this.windowBytes -= this.window.shift()!.bytes;
    if (this.queue.droppedTotal > before) {
      this.log.warn(
        { dropped: this.queue.droppedTotal - before, droppedTotal: this.queue.droppedTotal },
        'outbox full: dropped the oldest messages',
      );
    }
    if (this.queue.diskError) this.log.error({ reason: this.queue.diskError }, 'outbox cannot write to disk; holding messages in memory');
    this.kick();
  }

  /** Dropped-message count since the last call, for the next report's custom metric. */
  takeDropped(): number {
    return this.queue.takeDropped();
  }

  stats(): OutboxStats {
    return {
      depth: this.unsent(),
      unconfirmed: this.window.length,
      replayed: this.replayed,
      bytes: this.queue.byteLength,
      published: this.published,
      failures: this.failures,
      rejected: this.rejected,
      droppedTotal: this.queue.droppedTotal,
      ...(this.queue.diskError ? { diskError: this.queue.diskError } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /**
   * Try now (e.g. after the IPC connection came back), forgetting the current backoff. A publish still in
   * flight on the old connection is abandoned and the head sent again at once: the SDK may never answer
   * a call whose connection died (it then waits for its call timeout), and a duplicate is what QoS 1
   * allows anyway (the agent must carry on within 5 s of the nucleus coming back,
   * test/integration/faultNucleus.test.ts).
   */
  retryNow(): void {
    this.abandonInFlight?.();
    this.recovering = true;
    const nucleus = this.options.nucleusId?.();
    if (this.window.length > 0 && (nucleus === undefined || nucleus !== this.nucleus)) {
      // Another nucleus run (or one we cannot tell): what the old one may still have held goes again, oldest first.
      this.replayed += this.window.length;
      this.sentThrough = this.window[0]!.seq - 1;
      this.window = [];
      this.windowBytes = 0;
    }
    this.nucleus = nucleus;
    this.backoffMs = 0;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.kick();
  }

  /**
   * Device Defender answered report `reportId` sent on `topic` (accepted or rejected): the cloud has it,
   * and, the nucleus sending in order, everything sent before it. Returns how many messages this
   * confirmed. The topic is part of the key: report_ids are only unique per thing, and downstream devices
   * choose their own.
   */
  confirmReport(topic: string, reportId: number): number {
    const i = this.window.findIndex((w) => w.reportId === reportId && w.topic === topic);
    if (i < 0) return 0;
    const done = this.window.splice(0, i + 1);
    for (const w of done) this.windowBytes -= w.bytes;
    this.queue.ack(done.at(-1)!.seq);
    return done.length;
  }

  /** Resolves when nothing is left to hand to the nucleus (or after `timeoutMs`); for shutdown and tests. */
  async drained(timeoutMs: number): Promise<boolean> {
    if (this.unsent() === 0) return true;
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(this.unsent() === 0), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /**
   * For a graceful shutdown: start no new publish and wait (at most `timeoutMs`) for the answers to those in
   * flight, so that the handover mark covers everything the nucleus took and a restart sends none of it again.
   */
  async settle(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.pumpDone, new Promise<void>((resolve) => (t = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(t);
    this.writeMark();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.syncTimer) clearInterval(this.syncTimer);
    this.writeMark();
    this.mark.close();
    this.queue.close();
  }

  private unsent(): number {
    return this.queue.length - this.window.length;
  }

  /**
   * After our own restart: the messages the previous run handed over stay handed over if the same nucleus
   * run is still there (its spool has them, or the cloud does); otherwise they are sent again. False while
   * the nucleus is unknown because we are not connected yet.
   */
  private decideRestore(): boolean {
    const mark = this.restoring;
    if (mark === undefined) return true;
    const nucleus = this.options.nucleusId?.();
    if (this.options.nucleusId !== undefined && nucleus === undefined) return false;
    this.restoring = undefined;
    const handed = this.queue.peekAfter(0, this.queue.length).filter((e) => e.seq <= mark.through);
    if (nucleus !== undefined && nucleus === mark.nucleus) {
      for (const e of handed) this.sent(e.seq, Buffer.byteLength(e.value.payload, e.value.encoding), e.value.reportId, e.value.topic);
      this.nucleus = nucleus;
      this.marked = mark;
      this.log.info({ handedOver: handed.length }, 'outbox: the nucleus that took our last messages still runs; not sending them again');
    } else {
      this.replayed += handed.length;
      this.log.info(
        { resending: handed.length },
        'outbox: the nucleus may have restarted since it took our last messages; sending them again',
      );
    }
    return true;
  }

  /** Persist how far the current nucleus run has taken messages (see the class comment). */
  private writeMark(): void {
    if (this.restoring !== undefined) return; // the previous run's mark stands until it is decided
    this.nucleus ??= this.options.nucleusId?.();
    if (this.nucleus === undefined) return; // no nucleus to compare with after a restart: everything would go again anyway
    if (this.marked?.through === this.sentThrough && this.marked.nucleus === this.nucleus) return;
    const mark = { through: this.sentThrough, nucleus: this.nucleus };
    try {
      this.mark.write(mark);
      this.marked = mark;
      this.markError = false;
    } catch (err) {
      // Not fatal: a restart then sends the unconfirmed messages again, as without the mark.
      if (!this.markError) this.log.warn({ err }, 'outbox: cannot write the handover mark');
      this.markError = true;
    }
  }

  /** A message the nucleus took: keep it for replay while the nucleus could still be holding it. */
  private sent(seq: number, bytes: number, reportId: number | undefined, topic?: string): void {
    this.sentThrough = seq;
    if (this.opts.replayBytes === 0) {
      this.queue.ack(seq);
      return;
    }
    this.window.push({ seq, bytes, ...(reportId !== undefined ? { reportId, topic } : {}) });
    this.windowBytes += bytes;
    let through = 0;
    // Older than `replayBytes` of newer payload: the FIFO spool cannot still hold it (class comment).
    while (this.window.length > 0 && this.windowBytes > this.opts.replayBytes) {
      const w = this.window.shift()!;
      this.windowBytes -= w.bytes;
      through = w.seq;
    }
    if (through > 0) this.queue.ack(through);
  }

  private kick(): void {
    if (!this.running || this.pumping || this.timer) return;
    this.pumping = true;
    this.pumpDone = this.pump().finally(() => {
      this.pumping = false;
      // Something may have been enqueued between the pump's last look and now.
      if (this.unsent() > 0 && !this.timer) this.kick();
    });
  }

  /**
   * Hand messages to the nucleus in order, up to `inflight` at a time: a sliding window of concurrent
   * publishes (one IPC round trip each, so this is what gives throughput), whose outcomes are applied in
   * queue order as the oldest settles; a new publish starts as soon as there is room, not when a whole
   * batch is done. After any failure the outbox waits for what is still in flight, then goes one at a
   * time until it has caught up: a nucleus whose spool is full while it drains can refuse message k and
   * take k+1 a moment later, which would put k+1 in the cloud first; one at a time, what arrives keeps
   * the queue's order. The window opens again once nothing is left to send.
   */
  private async pump(): Promise<void> {
    if (!this.decideRestore()) {
      // Not connected yet: nothing is sent before we know whether the previous run's messages go again
      // (they must go first). The connection's retryNow() kicks; the timer is the fallback.
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, this.opts.initialBackoffMs);
      return;
    }
    let flight: InFlight[] = [];
    let launchedThrough = this.sentThrough;
    let abandoned = this.abandonment();
    while (this.running) {
      if (this.unsent() === 0) this.recovering = false;
      const room = this.stopping ? 0 : (this.recovering ? 1 : this.opts.inflight) - flight.length;
      if (room > 0) {
        for (const e of this.queue.peekAfter(launchedThrough, room)) {
          flight.push(this.launch(e.seq, e.value));
          launchedThrough = e.seq;
        }
      }
      const head = flight[0];
      if (head === undefined) {
        this.abandonInFlight = undefined;
        for (const w of this.idleWaiters.splice(0)) w();
        return;
      }
      // Promise.race also covers a publish that settles after it was abandoned.
      if ((await Promise.race([head.done, abandoned])) === 'abandoned') {
        // retryNow: the head again, on the new connection; late outcomes of the old flight are ignored.
        flight = [];
        launchedThrough = this.sentThrough;
        abandoned = this.abandonment();
        continue;
      }
      while (flight[0]?.outcome !== undefined) {
        const { seq, message: m, outcome } = flight.shift()!;
        if (outcome === undefined || outcome.ok) {
          this.sent(seq, Buffer.byteLength(m.payload, m.encoding), m.reportId, m.topic);
          this.published++;
          this.backoffMs = 0;
          if (this.failStreak > 0) {
            this.log.info({ failedAttempts: this.failStreak, depth: this.unsent() }, 'publish to IoT Core accepted again');
            this.failStreak = 0;
          }
          continue;
        }
        const permanent = permanentFailure(outcome.err);
        if (permanent !== undefined) {
          // Retrying cannot help (too large, not authorized, invalid): drop it loudly rather than block the queue.
          this.rejected++;
          this.lastError = outcome.err.message;
          this.log.error(
            { err: outcome.err, permanent, topic: m.topic, kind: m.kind, reportId: m.reportId },
            'IoT Core refused a message for good; dropped from the outbox',
          );
          // Counted as handed over (zero bytes) so acknowledgement stays contiguous; a replay after a reconnect
          // would meet the same refusal and drop it again.
          this.sent(seq, 0, undefined);
          continue;
        }
        this.writeMark();
        // Let what was launched after it settle first, so the retry cannot overtake it (their outcomes are
        // not applied: they go again after the head, duplicates being what QoS 1 allows).
        if ((await Promise.race([Promise.all(flight.map((f) => f.done)), abandoned])) === 'abandoned') {
          flight = [];
          launchedThrough = this.sentThrough;
          abandoned = this.abandonment();
          break;
        }
        this.abandonInFlight = undefined;
        this.failures++;
        this.failStreak++;
        this.recovering = true;
        this.lastError = outcome.err.message;
        this.backoffMs = Math.min(this.opts.maxBackoffMs, this.backoffMs === 0 ? this.opts.initialBackoffMs : this.backoffMs * 2);
        const delay = Math.round(this.backoffMs * (0.8 + 0.4 * this.opts.random()));
        // A core without a spooler (nucleus lite) refuses every publish while offline, for hours maybe:
        // the first failure and every 20th are worth a warning, the rest only a debug line.
        const level = this.failStreak === 1 || this.failStreak % 20 === 0 ? 'warn' : 'debug';
        this.log[level](
          { err: outcome.err, topic: m.topic, kind: m.kind, retryInMs: delay, depth: this.unsent(), failedAttempts: this.failStreak },
          'publish to IoT Core failed; will retry',
        );
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.kick();
        }, delay);
        return;
      }
      // The nucleus run that answered: a reconnect to the same run sends nothing again (retryNow).
      this.nucleus ??= this.options.nucleusId?.();
    }
    this.abandonInFlight = undefined;
  }

  private launch(seq: number, message: OutboxMessage): InFlight {
    const f: InFlight = { seq, message, done: Promise.resolve() };
    f.done = this.options.publish(message.topic, Buffer.from(message.payload, message.encoding), 1).then(
      () => {
        f.outcome = { ok: true };
      },
      (err: unknown) => {
        f.outcome = { ok: false, err: err instanceof Error ? err : new Error(String(err)) };
      },
    );
    return f;
  }

  /** A promise that retryNow resolves, ending the wait for whatever is in flight. */
  private abandonment(): Promise<'abandoned'> {
    return new Promise<'abandoned'>((resolve) => {
      this.abandonInFlight = () => resolve('abandoned');
    });
  }
}

interface InFlight {
  seq: number;
  message: OutboxMessage;
  /** settles (never rejects) once the publish has an outcome */
  done: Promise<void>;
  outcome?: { ok: true } | { ok: false; err: Error };
}

/** Errors that no retry can fix (docs/greengrass-ipc.md); anything else (offline, spool full, timeouts) is retried. */
export function permanentFailure(err: unknown): string | undefined {
  if (!(err instanceof IpcError)) return undefined;
  if (err.errorCode === 'UnauthorizedError') return 'not authorized';
  if (err.errorCode === 'InvalidArgumentsError') return 'invalid arguments';
  if (err.kind === 'service' && /exceeds the configured limit|larger than the size of message spool/i.test(err.message)) return 'too large';
  return undefined;
}
