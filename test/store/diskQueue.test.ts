import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskQueue, DiskQueueError } from '../../src/store/diskQueue.ts';
import { requires, root } from '../support/requirements.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-dq-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const open = (o: Partial<ConstructorParameters<typeof DiskQueue>[0]> = {}) => {
  const q = new DiskQueue<{ n: number; pad?: string }>({ dir, maxEntries: 1000, maxBytes: 1 << 20, ...o });
  const info = q.open();
  return { q, info };
};

describe('DiskQueue', () => {
  it('delivers in order and forgets what was acknowledged, across a restart', () => {
    const { q } = open();
    for (let n = 1; n <= 10; n++) q.push({ n });
    expect(q.peek(3).map((e) => e.value.n)).toEqual([1, 2, 3]);
    q.ack(q.peek(3)[2]!.seq);
    q.close();
    const { q: q2, info } = open();
    expect(info.entries).toBe(7);
    expect(q2.peek(100).map((e) => e.value.n)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    // new entries continue the sequence after the recovered ones
    const seq = q2.push({ n: 11 });
    expect(seq).toBeGreaterThan(q2.peek(100)[6]!.seq);
  });

  it('on a disk that fills up mid-line, every entry stays readable (in memory until written)', requires(root), () => {
    // a 256 KiB tmpfs this test mounts: ENOSPC comes as a short write first, then as an error
    const mnt = join(dir, 'small');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', `dedge${process.pid}fs`, mnt]);
    try {
      const q = new DiskQueue<{ n: number; pad: string }>({
        dir: join(mnt, 'q'),
        maxEntries: 10_000,
        maxBytes: 1 << 22,
        segmentBytes: 65_536,
      });
      q.open();
      const pad = 'x'.repeat(1000);
      for (let n = 0; n < 400; n++) q.push({ n, pad });
      expect(q.diskError).toMatch(/ENOSPC/);
      expect(q.inMemory).toBeGreaterThan(0);
      expect(q.peek(400).map((e) => e.value.n)).toEqual(Array.from({ length: 400 }, (_, i) => i));
      q.ack(q.peek(301)[300]!.seq); // space returns
      q.push({ n: 400, pad });
      expect([q.diskError, q.inMemory, q.length]).toEqual([undefined, 0, 100]);
      expect(q.peek(100).map((e) => e.value.n)).toEqual(Array.from({ length: 100 }, (_, i) => 301 + i));
      q.close();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('keeps the newest values in memory until first read, within hotBytes; every later read comes from disk', () => {
    const { q } = open({ hotBytes: 1000 });
    for (let n = 1; n <= 40; n++) q.push({ n, pad: 'x'.repeat(60) }); // 91-byte lines: the first 10 fit in 1,000 bytes
    expect([q.hot, q.inMemory]).toEqual([10, 0]);
    expect(q.peek(2).map((e) => e.value.n)).toEqual([1, 2]); // served from memory, then let go
    expect(q.hot).toBe(8);
    // Proof that a second read comes from the segment: the file changed behind the queue's back, the entry is lost.
    const seg = readdirSync(dir).find((f) => f.startsWith('seg-'))!;
    writeFileSync(join(dir, seg), readFileSync(join(dir, seg), 'utf8').replace('{"seq":1,', '{"seq":7,'));
    expect(q.peek(2).map((e) => e.value.n)).toEqual([2, 3]); // 1 is skipped; 3 still came from memory
    expect(q.diskError).toMatch(/entry 1 unreadable/);
    q.ack(q.peek(100).at(-1)!.seq); // acknowledged: nothing held any more
    expect(q.hot).toBe(0);
    for (let n = 41; n <= 45; n++) q.push({ n });
    expect(q.hot).toBe(5); // room again
    q.close();
  });

  it('holds no entry in memory once it is on disk (hotBytes 0), and reads each back exactly, across segments and a restart', () => {
    const { q } = open({ segmentBytes: 4096, hotBytes: 0 });
    const pad = 'é'.repeat(100); // multi-byte: offsets are bytes, not characters
    for (let n = 1; n <= 200; n++) q.push({ n, pad });
    expect(q.inMemory).toBe(0);
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-')).length).toBeGreaterThan(3);
    expect(q.peek(200).map((e) => e.value)).toEqual(Array.from({ length: 200 }, (_, i) => ({ n: i + 1, pad })));
    expect(q.peekAfter(q.peek(150)[149]!.seq, 10).map((e) => e.value.n)).toEqual([151, 152, 153, 154, 155, 156, 157, 158, 159, 160]);
    q.close();
    const { q: q2, info } = open({ segmentBytes: 4096 });
    expect([info.entries, q2.inMemory]).toEqual([200, 0]);
    expect(q2.peek(3).map((e) => e.value.n)).toEqual([1, 2, 3]);
    q2.close();
  });

  it('skips an entry whose line was changed behind its back, counting it as dropped, and goes on', () => {
    const { q } = open({ hotBytes: 0 });
    for (let n = 1; n <= 3; n++) q.push({ n });
    const seg = readdirSync(dir).find((f) => f.startsWith('seg-'))!;
    const text = readFileSync(join(dir, seg), 'utf8');
    const second = text.split('\n')[1]!;
    const seq2 = (JSON.parse(second) as { seq: number }).seq;
    // same length, so the third line stays where it was; the second now holds another sequence number
    writeFileSync(join(dir, seg), text.replace(`{"seq":${seq2},`, `{"seq":${seq2 + 7},`));
    const before = q.droppedTotal;
    expect(q.peek(3).map((e) => e.value.n)).toEqual([1, 3]);
    expect(q.droppedTotal).toBe(before + 1);
    expect(q.peek(3).map((e) => e.value.n)).toEqual([1, 3]); // counted once
    expect(q.length).toBe(2); // a lost entry is not waiting any more (an outbox would spin on it)
    q.ack(q.peek(3)[1]!.seq);
    expect(q.length).toBe(0);
    q.close();
  });

  it('keeps everything pushed when the process dies without close (no cursor written)', () => {
    const { q } = open();
    for (let n = 1; n <= 5; n++) q.push({ n });
    // no close(): simulate SIGKILL by just opening another instance on the same files
    const { q: q2 } = open();
    expect(q2.peek(10).map((e) => e.value.n)).toEqual([1, 2, 3, 4, 5]);
  });

  it('cuts a half-written last line and skips a corrupt one, counting both', () => {
    const { q } = open();
    q.push({ n: 1 });
    q.push({ n: 2 });
    q.close();
    const seg = readdirSync(dir).find((f) => f.startsWith('seg-'))!;
    appendFileSync(join(dir, seg), 'garbage line\n{"seq":99,"v":{"n":3');
    const { q: q2, info } = open();
    expect(info.corruptLines).toBe(1);
    expect(info.truncatedBytes).toBeGreaterThan(0);
    expect(q2.peek(10).map((e) => e.value.n)).toEqual([1, 2]);
    expect(readFileSync(join(dir, seg), 'utf8').endsWith('\n')).toBe(true);
  });

  it('drops the oldest when full and counts the drops once', () => {
    const { q } = open({ maxEntries: 3 });
    for (let n = 1; n <= 5; n++) q.push({ n });
    expect(q.peek(10).map((e) => e.value.n)).toEqual([3, 4, 5]);
    expect(q.droppedTotal).toBe(2);
    expect(q.takeDropped()).toBe(2);
    expect(q.takeDropped()).toBe(0);
    q.close();
    const { q: q2 } = open({ maxEntries: 3 });
    expect(q2.peek(10).map((e) => e.value.n)).toEqual([3, 4, 5]);
    expect(q2.droppedTotal).toBe(2);
  });

  it('bounds bytes too, and refuses a single entry larger than the whole queue', () => {
    const { q } = open({ maxBytes: 2000 });
    for (let n = 1; n <= 20; n++) q.push({ n, pad: 'x'.repeat(200) });
    expect(q.byteLength).toBeLessThanOrEqual(2000);
    expect(q.length).toBeLessThan(20);
    expect(q.peek(100).at(-1)!.value.n).toBe(20);
    expect(() => q.push({ n: 0, pad: 'y'.repeat(5000) })).toThrow(DiskQueueError);
  });

  it('removes segment files once everything in them is delivered', () => {
    const { q } = open({ segmentBytes: 200 });
    for (let n = 1; n <= 30; n++) q.push({ n });
    const before = readdirSync(dir).filter((f) => f.startsWith('seg-')).length;
    expect(before).toBeGreaterThan(3);
    q.ack(q.peek(100).at(-5)!.seq);
    q.sync();
    const after = readdirSync(dir).filter((f) => f.startsWith('seg-')).length;
    expect(after).toBeLessThan(before);
    q.close();
    expect(
      open()
        .q.peek(100)
        .map((e) => e.value.n),
    ).toEqual([27, 28, 29, 30]);
  });

  it('quarantines a corrupt cursor instead of failing', () => {
    writeFileSync(join(dir, 'cursor.json'), '{not json');
    const { info } = open();
    expect(info.cursorProblem).toMatch(/moved to .*cursor\.json\.corrupt-/);
  });

  it('holds entries in memory while the disk is full and writes them when space returns', requires(root), () => {
    const mnt = join(dir, 'tiny');
    execFileSync('mkdir', ['-p', mnt]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'dedge-dq', mnt]);
    const q = new DiskQueue<{ n: number; pad: string }>({ dir: join(mnt, 'q'), maxEntries: 10_000, maxBytes: 10 << 20 });
    try {
      q.open();
      // fill the filesystem from outside the queue
      const filler = join(mnt, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(64 * 1024));
      } catch {
        /* ENOSPC is the point */
      }
      for (let n = 1; n <= 50; n++) q.push({ n, pad: 'z'.repeat(500) });
      expect(q.diskError).toMatch(/ENOSPC|no space/i);
      expect(q.length).toBe(50);
      rmSync(filler);
      q.push({ n: 51, pad: '' });
      expect(q.diskError).toBeUndefined();
      q.close();
      const q2 = new DiskQueue<{ n: number; pad: string }>({ dir: join(mnt, 'q'), maxEntries: 10_000, maxBytes: 10 << 20 });
      q2.open();
      expect(q2.peek(100).map((e) => e.value.n)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
      q2.close();
    } finally {
      q.close();
      execFileSync('umount', ['-l', mnt]);
    }
  });
});
