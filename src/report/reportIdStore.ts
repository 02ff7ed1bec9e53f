// report_id allocation (docs/reports.md#limits-and-cadence: a positive integer, unique, monotonically
// increasing; "Epoch timestamp recommended"; per thing or per account is not stated — one sequence satisfies
// both).
//
// Scheme: ONE sequence for every thing this process reports for (the gateway and all downstream things):
//   id = max(nowMs, last + 1)
// so ids are epoch milliseconds while reports are sparse and still strictly increase under bursts or a
// clock that steps back. Being global, it is strictly increasing per thing too, with O(1) state for 100k
// things and no per-thing file.
//
// Crash safety without an fsync per report: the file holds a RESERVED high-water mark H, and every id ever
// handed out is <= the H on disk. When the next id would pass H, a new H = id + reserveMs is written (temp
// file + fsync + rename, store/atomicFile.ts) BEFORE the id is returned. After a crash the sequence resumes
// at H + 1 — possibly ahead of the clock, never backwards. With reports every 300 s per thing that is one
// write per `reserveMs` (default 1 h) of wall time, whatever the number of things. close() writes the exact
// last id, so a clean restart resumes right after it.
//
// A missing file starts from the clock. A corrupt file is quarantined by readJsonFile and the sequence
// starts from the clock + reserveMs (ids issued before the corruption were at most about the clock, unless
// the clock has since stepped back); the caller is told through `recovered` to log it.
import { readJsonFile, writeFileAtomic } from '../store/atomicFile.ts';

export interface ReportIdStoreOptions {
  /** the state file, e.g. `${stateDir}/report-ids.json` */
  path: string;
  /** how far ahead of the issued ids the persisted mark is reserved, ms of id space (default 3,600,000) */
  reserveMs?: number;
  /** the clock at open time, ms since the epoch */
  nowMs: number;
}

interface StoreFile {
  version: 1;
  highWater: number;
}

function checkFile(value: unknown): string | null {
  const v = value as Partial<StoreFile> | null;
  if (typeof v !== 'object' || v === null || v.version !== 1) return 'version: must be 1';
  if (!Number.isSafeInteger(v.highWater) || (v.highWater as number) < 0) return 'highWater: must be a non-negative integer';
  return null;
}

export class ReportIdStore {
  private readonly path: string;
  private readonly reserveMs: number;
  private last: number;
  private highWater: number;
  /** how the store was opened: for the caller's log */
  readonly recovered:
    | { kind: 'fresh' }
    | { kind: 'resumed'; highWater: number }
    | { kind: 'corrupt'; error: string; quarantinedTo: string };
  /** file writes so far (each one fsynced) */
  writes = 0;

  constructor(options: ReportIdStoreOptions) {
    this.path = options.path;
    this.reserveMs = options.reserveMs ?? 3_600_000;
    if (!Number.isSafeInteger(this.reserveMs) || this.reserveMs < 1) throw new RangeError('reserveMs: must be a positive integer');
    const read = readJsonFile<StoreFile>(this.path, checkFile);
    if (read.kind === 'ok') {
      this.last = read.value.highWater;
      this.recovered = { kind: 'resumed', highWater: read.value.highWater };
    } else if (read.kind === 'corrupt') {
      this.last = Math.floor(options.nowMs) + this.reserveMs;
      this.recovered = { kind: 'corrupt', error: read.error, quarantinedTo: read.quarantinedTo };
    } else {
      this.last = 0;
      this.recovered = { kind: 'fresh' };
    }
    this.highWater = this.last;
  }

  /** The next report_id (for any thing). Persists a new reservation first when needed; throws only on a disk error. */
  next(nowMs: number): number {
    const clock = Number.isFinite(nowMs) ? Math.floor(nowMs) : 0;
    const id = Math.max(clock, this.last + 1, 1);
    if (!Number.isSafeInteger(id)) throw new RangeError('report_id space exhausted');
    if (id > this.highWater) this.persist(id + this.reserveMs);
    this.last = id;
    return id;
  }

  /** Shrink the reservation to the last issued id, so a clean restart continues right after it. */
  close(): void {
    if (this.highWater !== this.last) this.persist(this.last);
  }

  private persist(highWater: number): void {
    const file: StoreFile = { version: 1, highWater };
    writeFileAtomic(this.path, `${JSON.stringify(file)}\n`);
    this.highWater = highWater;
    this.writes += 1;
  }
}
