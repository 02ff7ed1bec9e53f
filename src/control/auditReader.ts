// Reads the enforcement audit log back (both generations, oldest first) for `explain` and the commands
// that run without the agent. Lines that do not parse (a torn last line after a crash) are skipped.
import { readFileSync } from 'node:fs';
import type { ActionRecord } from '../enforce/actionModel.ts';
import type { AuditEntry } from '../enforce/auditLog.ts';

export function readAudit(path: string, keep: (e: AuditEntry) => boolean = () => true): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const file of [`${path}.1`, path]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const e = JSON.parse(line) as AuditEntry;
        if (typeof e === 'object' && e !== null && keep(e)) out.push(e);
      } catch {
        /* skipped */
      }
    }
  }
  return out;
}

export function isActionRecord(e: AuditEntry): e is ActionRecord {
  return !('record' in e);
}

/** Every action record about one violation, oldest first. */
export function actionsForViolation(path: string, violationId: string): ActionRecord[] {
  return readAudit(path, (e) => isActionRecord(e) && e.violation?.violationId === violationId) as ActionRecord[];
}
