import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeFileAtomic } from './atomicFile.ts';

/**
 * A bounded, disk-backed FIFO of JSON-serializable entries that survives SIGKILL at any point.
 *
 * Layout: `seg-<firstSeq>.jsonl` segment files, one `{"seq":n,"v":…}` line per entry, plus `cursor.json`
 * (atomic) holding the highest sequence number delivered or dropped. Appends go straight to the kernel
 * (`writeSync`), so a killed process loses nothing that push() returned from; fsync runs at most every
 * `fsyncIntervalMs` for power loss. The cursor is persisted lazily, so after a crash a few delivered
 * entries may be delivered again: at-least-once, like MQTT QoS 1 (receivers dedupe by report_id).
 *
 * When full, the oldest entries are dropped and counted; the count is for the next report to carry.
 * When the disk refuses a write (ENOSPC, EIO), entries stay in memory (same bounds) and are written
 * out once the disk accepts writes again; `diskError` says why meanwhile.
 *
 * An entry's value is held in memory until its line is on disk and, for the newest entries (at most
 * `hotBytes` of lines), until it is first read: the outbox reads each entry once, right after pushing it,
 * and a read back from disk (a positioned read and a JSON parse of the line) was a measurable part of the
 * agent's CPU per forwarded report. Any later read, and every read of an older entry, comes from its
 * segment. Memory holds ~100 bytes of bookkeeping per entry, not the entries: an outbox filled while the
 * gateway was offline (tens of MiB by default) stays on disk, not in the agent's heap.
 */
export interface DiskQueueOptions {
  dir: string;
  maxEntries: number;
  maxBytes: number;
  segmentBytes?: number;
  fsyncIntervalMs?: number;
  /** lines of the newest entries whose values stay in memory until first read (default 256 KiB; 0: none) */
  hotBytes?: number;
  /** ms clock, injectable for tests */
  now?: () => number;
}

export interface QueuedEntry<T> {
  seq: number;
  value: T;
}

interface Slot<T> {
  seq: number;
  bytes: number;
  /** undefined until the line is on disk */
  segment?: number;
  /** where the line starts in its segment, once on disk */
  offset?: number;
  /** its line could not be read back (segment removed or overwritten behind our back): counted as dropped, skipped */
  lost?: boolean;
  /** the line to write, kept only until it is on disk */
  line?: string;
  /** kept until the line is on disk, or, while `hot`, until first read; read back from the segment after that */
  value?: T;
  /** on disk with its value still in memory (counted in `hotBytes`) */
  hot?: boolean;
}

interface Cursor {
  delivered: number;
  droppedTotal: number;
  droppedUnreported: number;
}

export class DiskQueueError extends Error {
  override name = 'DiskQueueError';
}

export interface RecoveryInfo {
  entries: number;
  corruptLines: number;
  truncatedBytes: number;
  cursorProblem?: string;
}

const SEGMENT_RE = /^seg-(\d+)\.jsonl$/;

export class DiskQueue<T> {
  private readonly opts: Required<Omit<DiskQueueOptions, 'now'>> & { now: () => number };
  private slots: Slot<T>[] = [];
  private head = 0; // index of the first live slot in `slots` (amortised shift)
  private bytes = 0;
  private nextSeq = 1;
  private cursor: Cursor = { delivered: 0, droppedTotal: 0, droppedUnreported: 0 };
  private cursorDirty = false;
  private segmentFd: number | undefined;
  private segmentId = 0;
  private segmentSize = 0;
  private lastFsync = 0;
  private unsynced = false;
  /** Segment id → number of live slots in it; a segment with none left is deleted. */
  private readonly live = new Map<number, number>();
  /** Segment id → a read-only descriptor, opened when an entry is first read back from it. */
  private readonly readers = new Map<number, number>();
  /** live slots marked lost (not counted in `length`; removed when an acknowledgement passes them) */
  private lostLive = 0;
  /** bytes of the hot slots' lines */
  private hotBytes = 0;
  diskError: string | undefined;

  constructor(options: DiskQueueOptions) {
    this.opts = {
      segmentBytes: 1 << 20,
      fsyncIntervalMs: 1000,
      hotBytes: 256 * 1024,
      ...options,
      now: options.now ?? Date.now,
    };
    if (options.maxEntries < 1 || options.maxBytes < 1) throw new DiskQueueError('maxEntries and maxBytes must be positive');
  }

  /** Load what a previous run left. Call once before use. */
  open(): RecoveryInfo {
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
    const info: RecoveryInfo = { entries: 0, corruptLines: 0, truncatedBytes: 0 };
    const cursorFile = join(this.opts.dir, 'cursor.json');
    const c = readJsonFile<Cursor>(cursorFile, (v) => {
      const o = v as Partial<Cursor>;
      return typeof o === 'object' &&
        o !== null &&
        Number.isSafeInteger(o.delivered) &&
        Number.isSafeInteger(o.droppedTotal) &&
        Number.isSafeInteger(o.droppedUnreported)
        ? null
        : 'cursor.json: expected {delivered, droppedTotal, droppedUnreported} integers';
    });
    if (c.kind === 'ok') this.cursor = c.value;
    if (c.kind === 'corrupt') info.cursorProblem = `${c.error} (moved to ${c.quarantinedTo})`;

    const segments = readdirSync(this.opts.dir)
      .map((f) => SEGMENT_RE.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    let maxSeq = this.cursor.delivered;
    for (const id of segments) {
      const path = this.segmentPath(id);
      const data = readFileSync(path);
      const end = data.lastIndexOf(0x0a) + 1;
      if (end < data.length) {
        // A write cut short by a crash: the tail after the last newline was never acknowledged to anyone.
        info.truncatedBytes += data.length - end;
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, end);
        } finally {
          closeSync(fd);
        }
      }
      for (let start = 0; start < end; ) {
        const nl = data.indexOf(0x0a, start);
        const offset = start;
        start = nl + 1;
        if (nl === offset) continue;
        let rec: { seq?: unknown; v?: unknown };
        try {
          rec = JSON.parse(data.toString('utf8', offset, nl)) as { seq?: unknown; v?: unknown };
        } catch {
          info.corruptLines++;
          continue;
        }
        if (typeof rec !== 'object' || rec === null || !Number.isSafeInteger(rec.seq) || !('v' in rec)) {
          info.corruptLines++;
          continue;
        }
        const seq = rec.seq as number;
        maxSeq = Math.max(maxSeq, seq);
        if (seq <= this.cursor.delivered) continue;
        const bytes = nl + 1 - offset;
        this.slots.push({ seq, bytes, segment: id, offset });
        this.live.set(id, (this.live.get(id) ?? 0) + 1);
        this.bytes += bytes;
        info.entries++;
      }
      if ((this.live.get(id) ?? 0) === 0) this.removeSegment(id);
    }
    this.slots.sort((a, b) => a.seq - b.seq);
    this.nextSeq = maxSeq + 1;
    this.enforceBounds(0);
    return info;
  }

  /** Entries waiting (lost ones excluded). */
  get length(): number {
    return this.slots.length - this.head - this.lostLive;
  }

  get byteLength(): number {
    return this.bytes;
  }

  get droppedTotal(): number {
    return this.cursor.droppedTotal;
  }

  /** Dropped entries not yet announced (the next report carries this); resets the count. */
  takeDropped(): number {
    const n = this.cursor.droppedUnreported;
    if (n > 0) {
      this.cursor.droppedUnreported = 0;
      this.cursorDirty = true;
    }
    return n;
  }

  /**
   * Append an entry; returns its sequence number. Drops the oldest entries if the bounds require it.
   * `json` is `JSON.stringify(value)` when the caller already has it (a report's payload is the bulk of
   * an entry, and serializing it is the queue's main cost).
   */
  push(value: T, json: string = JSON.stringify(value)): number {
    const seq = this.nextSeq;
    const line = `{"seq":${seq},"v":${json}}\n`;
    const bytes = Buffer.byteLength(line);
    if (bytes > this.opts.maxBytes)
      throw new DiskQueueError(`entry of ${bytes} bytes exceeds the queue limit of ${this.opts.maxBytes} bytes`);
    this.nextSeq++;
    this.enforceBounds(bytes);
    const slot: Slot<T> = { seq, bytes, line, value };
    this.slots.push(slot);
    this.bytes += bytes;
    this.flushPending();
    return seq;
  }

  /** Up to `max` entries from the head, oldest first, without removing them. */
  peek(max: number): QueuedEntry<T>[] {
    const out: QueuedEntry<T>[] = [];
    for (let i = this.head; i < this.slots.length && out.length < max; i++) {
      const value = this.valueOf(this.slots[i]!);
      if (value !== undefined) out.push({ seq: this.slots[i]!.seq, value });
    }
    return out;
  }

  /** Entries whose value is held in memory for want of the disk (a refusing disk); the hot ones are not counted. */
  get inMemory(): number {
    let n = 0;
    for (let i = this.head; i < this.slots.length; i++) if (this.slots[i]!.value !== undefined && !this.slots[i]!.hot) n++;
    return n;
  }

  /** Entries on disk whose value is still in memory, waiting for their first read (at most `hotBytes` of lines). */
  get hot(): number {
    let n = 0;
    for (let i = this.head; i < this.slots.length; i++) if (this.slots[i]!.hot) n++;
    return n;
  }

  private cool(s: Slot<T>): void {
    if (!s.hot) return;
    s.hot = false;
    s.value = undefined;
    this.hotBytes -= s.bytes;
  }

  /**
   * A slot's value: from memory while its line waits for the disk, else read back from its segment.
   * Undefined when the line cannot be read back (the file was removed or changed behind our back): the
   * entry is lost, counted as dropped once, and skipped; acknowledging a later entry removes it.
   */
  private valueOf(s: Slot<T>): T | undefined {
    if (s.value !== undefined) {
      const value = s.value;
      this.cool(s);
      return value;
    }
    if (s.lost) return undefined;
    try {
      if (s.segment === undefined || s.offset === undefined) throw new Error('not on disk');
      let fd = this.readers.get(s.segment);
      if (fd === undefined) {
        fd = openSync(this.segmentPath(s.segment), 'r');
        this.readers.set(s.segment, fd);
      }
      const buf = Buffer.allocUnsafe(s.bytes);
      const n = readSync(fd, buf, 0, s.bytes, s.offset);
      if (n !== s.bytes) throw new Error(`short read (${n} of ${s.bytes} bytes)`);
      const rec = JSON.parse(buf.toString('utf8', 0, n - 1)) as { seq?: unknown; v?: T };
      if (rec.seq !== s.seq || !('v' in rec)) throw new Error('another entry at its place');
      return rec.v as T;
    } catch (err) {
      s.lost = true;
      this.lostLive++;
      this.cursor.droppedTotal++;
      this.cursor.droppedUnreported++;
      this.cursorDirty = true;
      this.diskError = `entry ${s.seq} unreadable: ${(err as Error).message}`;
      return undefined;
    }
  }

  /** Up to `max` entries with a sequence number above `seq`, oldest first, without removing them. */
  peekAfter(seq: number, max: number): QueuedEntry<T>[] {
    // Live slots are sorted by seq: binary search for the first one above `seq`.
    let lo = this.head;
    let hi = this.slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.slots[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    const out: QueuedEntry<T>[] = [];
    for (let i = lo; i < this.slots.length && out.length < max; i++) {
      const value = this.valueOf(this.slots[i]!);
      if (value !== undefined) out.push({ seq: this.slots[i]!.seq, value });
    }
    return out;
  }

  /** Sequence number of the oldest live entry, or undefined when empty. */
  get headSeq(): number | undefined {
    return this.slots[this.head]?.seq;
  }

  /** Everything up to and including `seq` was delivered. */
  ack(seq: number): void {
    while (this.head < this.slots.length && this.slots[this.head]!.seq <= seq) this.removeHead();
    if (seq > this.cursor.delivered) {
      this.cursor.delivered = seq;
      this.cursorDirty = true;
    }
    this.compact();
  }

  /** Persist the cursor and fsync what is pending; called on a timer and at close. */
  sync(): void {
    this.flushPending();
    this.persist();
  }

  private persist(): void {
    if (this.segmentFd !== undefined && this.unsynced) {
      try {
        fsyncSync(this.segmentFd);
        this.unsynced = false;
      } catch (err) {
        this.diskError = (err as Error).message;
      }
    }
    if (this.cursorDirty) {
      try {
        writeFileAtomic(join(this.opts.dir, 'cursor.json'), JSON.stringify(this.cursor));
        this.cursorDirty = false;
      } catch (err) {
        this.diskError = (err as Error).message;
      }
    }
    this.lastFsync = this.opts.now();
  }

  close(): void {
    this.sync();
    if (this.segmentFd !== undefined) closeSync(this.segmentFd);
    this.segmentFd = undefined;
    for (const fd of this.readers.values()) closeSync(fd);
    this.readers.clear();
  }

  private enforceBounds(incoming: number): void {
    const held = () => this.slots.length - this.head; // lost slots too: they still take their bytes
    while (held() > 0 && (held() + (incoming > 0 ? 1 : 0) > this.opts.maxEntries || this.bytes + incoming > this.opts.maxBytes)) {
      const s = this.slots[this.head]!;
      this.removeHead();
      if (!s.lost) {
        // a lost entry was counted as dropped when it was found unreadable
        this.cursor.droppedTotal++;
        this.cursor.droppedUnreported++;
      }
      if (s.seq > this.cursor.delivered) this.cursor.delivered = s.seq;
      this.cursorDirty = true;
    }
    this.compact();
  }

  private removeHead(): void {
    const s = this.slots[this.head]!;
    this.head++;
    this.bytes -= s.bytes;
    this.cool(s);
    if (s.lost) this.lostLive--;
    if (s.segment !== undefined) {
      const left = (this.live.get(s.segment) ?? 1) - 1;
      if (left <= 0 && s.segment !== this.segmentId) {
        this.live.delete(s.segment);
        this.removeSegment(s.segment);
      } else {
        this.live.set(s.segment, left);
      }
    }
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
  }

  /** Write every slot not yet on disk, in order; stop at the first refusal and remember why. */
  private flushPending(): void {
    for (let i = this.slots.length - 1; i >= this.head; i--) {
      if (this.slots[i]!.segment !== undefined) {
        this.writeFrom(i + 1);
        return;
      }
    }
    this.writeFrom(this.head);
  }

  private writeFrom(start: number): void {
    for (let i = start; i < this.slots.length; i++) {
      const s = this.slots[i]!;
      try {
        this.ensureSegment(s.seq);
        const buf = Buffer.from(s.line ?? `${JSON.stringify({ seq: s.seq, v: s.value })}\n`, 'utf8');
        const written = writeSync(this.segmentFd!, buf);
        // A full disk can take part of a line without an error: that line is not on disk.
        if (written !== buf.length) throw new Error(`ENOSPC: short write (${written} of ${buf.length} bytes)`);
        s.segment = this.segmentId;
        s.offset = this.segmentSize;
        this.segmentSize += buf.length;
        s.line = undefined;
        if (s.value !== undefined && this.hotBytes + s.bytes <= this.opts.hotBytes) {
          s.hot = true;
          this.hotBytes += s.bytes;
        } else {
          s.value = undefined;
        }
        this.live.set(this.segmentId, (this.live.get(this.segmentId) ?? 0) + 1);
        this.unsynced = true;
        this.diskError = undefined;
      } catch (err) {
        this.diskError = (err as Error).message;
        // A partial line may have reached the file; start a fresh segment next time so it stays a tail.
        this.rotate();
        return;
      }
    }
    if (this.unsynced && this.opts.now() - this.lastFsync >= this.opts.fsyncIntervalMs) this.persist();
  }

  private ensureSegment(seq: number): void {
    if (this.segmentFd !== undefined && this.segmentSize < this.opts.segmentBytes) return;
    this.rotate();
    const id = seq;
    const fd = openSync(this.segmentPath(id), 'a', 0o600);
    this.segmentFd = fd;
    this.segmentId = id;
    this.segmentSize = existsSync(this.segmentPath(id)) ? statSync(this.segmentPath(id)).size : 0;
  }

  private rotate(): void {
    if (this.segmentFd === undefined) return;
    try {
      fsyncSync(this.segmentFd);
    } catch {
      /* disk errors are reported by the write path */
    }
    try {
      closeSync(this.segmentFd);
    } catch {
      /* already closed */
    }
    const old = this.segmentId;
    this.segmentFd = undefined;
    this.segmentSize = 0;
    if ((this.live.get(old) ?? 0) === 0) {
      this.live.delete(old);
      this.removeSegment(old);
    }
  }

  private removeSegment(id: number): void {
    const fd = this.readers.get(id);
    if (fd !== undefined) {
      this.readers.delete(id);
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
    try {
      unlinkSync(this.segmentPath(id));
    } catch {
      /* already gone */
    }
  }

  private segmentPath(id: number): string {
    return join(this.opts.dir, `seg-${String(id).padStart(16, '0')}.jsonl`);
  }
}
