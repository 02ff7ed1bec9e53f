import { describe, expect, it } from 'vitest';
import { FrameError, FrameSplitter, MAX_MESSAGE_BYTES } from '../../../src/ipc/emulator/frameSplitter.ts';
import { decodeFrame, encodeFrame, MessageType } from '../../../src/ipc/emulator/wire.ts';

const frame = (streamId: number, payload: string): Buffer =>
  encodeFrame({ type: MessageType.ApplicationMessage, flags: 0, streamId, headers: { operation: 'x' }, payload });

describe('FrameSplitter', () => {
  it('returns whole frames from arbitrary chunking, one byte at a time included', () => {
    const bytes = Buffer.concat([frame(1, 'a'), frame(2, 'bb'), frame(3, 'ccc')]);
    const s = new FrameSplitter();
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...s.push(bytes.subarray(i, i + 1)));
    expect(out.map((f) => decodeFrame(f).payload.toString())).toEqual(['a', 'bb', 'ccc']);
    expect(s.pendingBytes).toBe(0);
  });

  it('returns several frames from one chunk and keeps a partial tail pending', () => {
    const a = frame(1, 'first');
    const b = frame(2, 'second');
    const s = new FrameSplitter();
    const out = s.push(Buffer.concat([a, b.subarray(0, 5)]));
    expect(out).toHaveLength(1);
    expect(s.pendingBytes).toBe(5);
    expect(s.push(b.subarray(5)).map((f) => decodeFrame(f).streamId)).toEqual([2]);
  });

  it('rejects a length below the 16-byte minimum and above the 24 MiB cap', () => {
    const tiny = Buffer.alloc(8);
    tiny.writeUInt32BE(8, 0);
    expect(() => new FrameSplitter().push(tiny)).toThrow(FrameError);
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(MAX_MESSAGE_BYTES + 1, 0);
    expect(() => new FrameSplitter().push(huge)).toThrow(/outside/);
  });

  it('accepts exactly the cap as a length (waits for the bytes)', () => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(MAX_MESSAGE_BYTES, 0);
    const s = new FrameSplitter();
    expect(s.push(head)).toEqual([]);
    expect(s.pendingBytes).toBe(4);
  });

  it('is unusable after a failure', () => {
    const s = new FrameSplitter(64);
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(65, 0);
    expect(() => s.push(bad)).toThrow(FrameError);
    expect(() => s.push(frame(1, 'x'))).toThrow(/already failed/);
  });
});
