import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildZip } from '../../scripts/zipArchive.ts';
import { program, requires } from '../support/requirements.ts';
import { readZipEntries } from '../support/zipEntries.ts';

const run = promisify(execFile);
const unzip = await program('unzip', 'unzip', ['-v']);

describe('buildZip', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  const entries = [
    { name: 'defender-edge', data: Buffer.from('#!/bin/sh\necho zipped-ok\n'), mode: 0o755 },
    { name: 'aws-crt-nodejs.node', data: Buffer.alloc(100_000, 7), mode: 0o644 },
  ];

  it('is deterministic and independent of entry order', () => {
    const a = buildZip(entries);
    const b = buildZip([...entries].reverse());
    expect(b.equals(a)).toBe(true);
  });

  it('sorts entries, fixes timestamps at 1980-01-01 00:00 and keeps Unix modes', () => {
    const read = readZipEntries(buildZip(entries));
    expect(read.map((e) => e.name)).toEqual(['aws-crt-nodejs.node', 'defender-edge']);
    expect(read.map((e) => (e.mode & 0o777).toString(8))).toEqual(['644', '755']);
    expect(read.map((e) => e.mode & 0o170000)).toEqual([0o100000, 0o100000]);
    for (const e of read) expect([e.date, e.time]).toEqual([(1 << 5) | 1, 0]);
    expect(read[1]!.data.equals(entries[0]!.data)).toBe(true);
    expect(read[0]!.data.equals(entries[1]!.data)).toBe(true);
  });

  it('refuses unsafe or duplicate names', () => {
    for (const name of ['../x', '/abs', 'a//b', './a', '', 'a\\b']) {
      expect(() => buildZip([{ name, data: Buffer.alloc(1), mode: 0o644 }])).toThrow(/zip entry name/);
    }
    expect(() => buildZip([entries[0]!, entries[0]!])).toThrow(/duplicate/);
  });

  it('unpacks with Info-ZIP unzip into a runnable file', requires(unzip), async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'dedge-zip-'));
    dirs.push(dir);
    const zipFile = path.join(dir, 'defender-edge-test.zip');
    await writeFile(zipFile, buildZip(entries));
    await run('unzip', ['-q', zipFile, '-d', path.join(dir, 'out')]);
    expect((await stat(path.join(dir, 'out', 'defender-edge'))).mode & 0o777).toBe(0o755);
    expect((await readFile(path.join(dir, 'out', 'aws-crt-nodejs.node'))).equals(entries[1]!.data)).toBe(true);
    const { stdout } = await run(path.join(dir, 'out', 'defender-edge'));
    expect(stdout).toBe('zipped-ok\n');
  });
});
