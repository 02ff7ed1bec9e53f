// The recent violations, for `defender-edge violations list` and `explain`: every violation event (with
// what an in-alarm was judged on) appended as one JSON line to `<stateDir>/violations/journal.jsonl`, the
// newest `maxViolations` kept in memory. Bounded twice: past maxBytes the file rolls to `journal.jsonl.1`
// (one generation kept), and only the newest violations are indexed. Read back at start, and by the
// commands when the agent is not running.
import { appendFileSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionSpec, MetricValue, Offender, ViolationEvent, ViolationEventType } from '../localrules/contracts.ts';
import type { ViolationEvidence } from '../localrules/evaluator.ts';
import type { Logger } from '../log.ts';

export interface JournalEvent {
  event: ViolationEventType;
  t: number;
  value?: MetricValue;
}

/** One violation, from its in-alarm to its clearing. */
export interface JournalEntry {
  violationId: string;
  thingName: string;
  behavior: string;
  metric: string;
  offender: Offender;
  comparisonOperator?: string;
  threshold?: MetricValue;
  action?: ActionSpec;
  /** oldest first, at most MAX_EVENTS (the first is kept) */
  events: JournalEvent[];
  evidence?: ViolationEvidence;
}

/** One line of the file. */
interface JournalLine {
  v: ViolationEvent;
  evidence?: ViolationEvidence;
}

const MAX_EVENTS = 16;

export function journalPath(stateDir: string): string {
  return join(stateDir, 'violations', 'journal.jsonl');
}

export interface ViolationJournalOptions {
  path: string;
  maxViolations?: number;
  maxBytes?: number;
  logger?: Logger;
}

/** An entry's latest state: `in-alarm` until a later event says otherwise. */
export function currentEvent(e: JournalEntry): ViolationEventType {
  return e.events.at(-1)?.event ?? 'in-alarm';
}

export class ViolationJournal {
  readonly path: string;
  readonly #max: number;
  readonly #maxBytes: number;
  readonly #log: Logger | undefined;
  /** insertion order = last change order (re-inserted on every event) */
  readonly #entries = new Map<string, JournalEntry>();
  #size = 0;
  /** lines of the files that could not be read back (skipped) */
  unreadable = 0;
  writeFailures = 0;

  constructor(options: ViolationJournalOptions) {
    this.path = options.path;
    this.#max = options.maxViolations ?? 1000;
    this.#maxBytes = options.maxBytes ?? 4 * 2 ** 20;
    this.#log = options.logger;
  }

  /** Reads both generations of the file (missing files are an empty journal). */
  load(): this {
    for (const file of [`${this.path}.1`, this.path]) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      if (file === this.path) this.#size = Buffer.byteLength(text);
      for (const line of text.split('\n')) {
        if (line === '') continue;
        try {
          const parsed = JSON.parse(line) as JournalLine;
          if (typeof parsed?.v?.violationId !== 'string' || typeof parsed.v.event !== 'string') throw new Error('not a violation line');
          this.#fold(parsed);
        } catch {
          this.unreadable++; // a torn last line after a crash, or a foreign line: the rest is still good
        }
      }
    }
    if (this.unreadable > 0) this.#log?.warn({ path: this.path, lines: this.unreadable }, 'violation journal: unreadable lines skipped');
    return this;
  }

  #fold(line: JournalLine): JournalEntry {
    const v = line.v;
    let e = this.#entries.get(v.violationId);
    if (e === undefined) {
      e = { violationId: v.violationId, thingName: v.thingName, behavior: v.behavior, metric: v.metric, offender: v.offender, events: [] };
    }
    this.#entries.delete(v.violationId);
    this.#entries.set(v.violationId, e);
    if (v.comparisonOperator !== undefined) e.comparisonOperator = v.comparisonOperator;
    if (v.threshold !== undefined) e.threshold = v.threshold;
    if (v.action !== undefined) e.action = v.action;
    if (line.evidence !== undefined) e.evidence = line.evidence;
    const ev: JournalEvent = { event: v.event, t: v.t, ...(v.value === undefined ? {} : { value: v.value }) };
    if (e.events.length >= MAX_EVENTS) e.events.splice(1, 1); // keep the in-alarm, drop the oldest after it
    e.events.push(ev);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return e;
  }

  /** Records one event (in memory at once; on disk unless the disk refuses, which is logged and counted). */
  record(ev: ViolationEvent, evidence?: ViolationEvidence): void {
    const line: JournalLine = evidence === undefined ? { v: ev } : { v: ev, evidence };
    this.#fold(line);
    const text = `${JSON.stringify(line)}\n`;
    const bytes = Buffer.byteLength(text);
    try {
      mkdirSync(join(this.path, '..'), { recursive: true });
      if (this.#size === 0) {
        try {
          this.#size = statSync(this.path).size;
        } catch {
          /* a new file */
        }
      }
      if (this.#size > 0 && this.#size + bytes > this.#maxBytes) {
        renameSync(this.path, `${this.path}.1`);
        this.#size = 0;
      }
      appendFileSync(this.path, text, { mode: 0o600 });
      this.#size += bytes;
    } catch (err) {
      this.writeFailures++;
      this.#log?.error({ err, path: this.path }, 'violation journal write failed');
    }
  }

  /** Newest first. */
  list(limit = 50): JournalEntry[] {
    return [...this.#entries.values()].reverse().slice(0, limit);
  }

  get size(): number {
    return this.#entries.size;
  }

  inAlarm(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (currentEvent(e) === 'in-alarm') n++;
    return n;
  }

  /**
   * A violation by its id or a unique prefix of it (at least 4 characters); undefined when none. Throws
   * `violationId: …` when the prefix is ambiguous.
   */
  find(ref: string): JournalEntry | undefined {
    const exact = this.#entries.get(ref);
    if (exact !== undefined) return exact;
    if (ref.length < 4) return undefined;
    const matches = [...this.#entries.values()].filter((e) => e.violationId.startsWith(ref));
    if (matches.length > 1)
      throw new Error(`violationId: ${JSON.stringify(ref)} matches ${matches.length} violations; give more of the id`);
    return matches[0];
  }
}
