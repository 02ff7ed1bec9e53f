import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActionRecord } from '../../src/enforce/actionModel.ts';
import { AuditLog } from '../../src/enforce/auditLog.ts';

const record = (behavior: string): ActionRecord => ({
  t: 1,
  outcome: 'refused',
  type: 'process-suspend',
  dryRun: false,
  reason: 'pid-1',
  violation: {
    violationId: 'v',
    thingName: 'gw',
    behavior,
    metric: 'm',
    event: 'in-alarm',
    t: 1,
    offender: { kind: 'process', pid: 1, comm: 'init\n{"forged":true}' },
  },
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-audit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('audit log', () => {
  it('writes one JSON object per line; input with newlines cannot forge a line', () => {
    const log = new AuditLog(join(dir, 'sub', 'audit.jsonl'));
    log.append(record('a\n{"outcome":"applied"}'));
    log.append(record('b'));
    const lines = readFileSync(join(dir, 'sub', 'audit.jsonl'), 'utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const parsed = lines.slice(0, 2).map((l) => JSON.parse(l) as ActionRecord);
    expect(parsed.map((p) => p.violation.behavior)).toEqual(['a\n{"outcome":"applied"}', 'b']);
    expect(parsed[0]!.outcome).toBe('refused');
  });

  it('appends across instances and rolls over past its size bound', () => {
    const path = join(dir, 'audit.jsonl');
    new AuditLog(path, 1000).append(record('first'));
    const log = new AuditLog(path, 1000); // continues the same file
    log.append(record('second'));
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2);
    for (let i = 0; i < 5; i++) log.append(record(`n${i}`));
    expect(existsSync(`${path}.1`)).toBe(true);
    expect(readFileSync(path, 'utf8').length).toBeLessThanOrEqual(1000);
  });
});
