// Append-only JSON-lines audit log of every apply/revert/refusal (Node-RED `audit` channel habit).
// One JSON.stringify per line: strings from the input (comm, thing names …) are JSON-escaped, so a
// newline in them cannot forge a second record. Bounded: past maxBytes the file rolls to `<path>.1`.
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ActionRecord, Operator } from './actionModel.ts';

/** An operator's command (pause, resume, a cloud command, a refused lift …), audited beside the actions. */
export interface CommandAuditRecord {
  t: number;
  record: 'command';
  command: string;
  by: Operator;
  outcome: 'accepted' | 'rejected';
  detail?: string;
  args?: Record<string, unknown>;
}

export type AuditEntry = ActionRecord | CommandAuditRecord;

export class AuditLog {
  readonly path: string;
  readonly #maxBytes: number;
  #size: number;

  constructor(path: string, maxBytes = 16 * 2 ** 20) {
    this.path = path;
    this.#maxBytes = maxBytes;
    mkdirSync(dirname(path), { recursive: true });
    try {
      this.#size = statSync(path).size;
    } catch {
      this.#size = 0;
    }
  }

  append(record: AuditEntry): void {
    const line = `${JSON.stringify(record)}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.#size > 0 && this.#size + bytes > this.#maxBytes) {
      renameSync(this.path, `${this.path}.1`);
      this.#size = 0;
    }
    // appendFileSync opens with O_APPEND: each line lands whole at the end, even with other writers.
    appendFileSync(this.path, line, { mode: 0o600 });
    this.#size += bytes;
  }
}
