// Splits a socket byte stream into whole eventstream messages (docs/greengrass-ipc.md, "Framing"). The codec
// decodes one complete message per call, so the server must cut the stream itself.
// Pure: no sockets, no clock.

/** Largest message the C runtime accepts (aws-c-event-stream AWS_EVENT_STREAM_MAX_MESSAGE_SIZE). */
export const MAX_MESSAGE_BYTES = 24 * 1024 * 1024;
/** Prelude (12) + message CRC (4): the smallest possible message. */
export const MIN_MESSAGE_BYTES = 16;

export class FrameError extends Error {
  override name = 'FrameError';
}

/**
 * Accumulates chunks and returns the complete frames they finish. Throws FrameError for a total
 * length outside [16, maxBytes]; after that the splitter is unusable (the connection gets closed).
 */
export class FrameSplitter {
  private readonly maxBytes: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(maxBytes: number = MAX_MESSAGE_BYTES) {
    this.maxBytes = maxBytes;
  }

  /** Bytes received but not yet part of a returned frame (a truncated frame at close shows here). */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw new FrameError('stream already failed');
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Buffer[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const total = head.readUInt32BE(0);
      if (total < MIN_MESSAGE_BYTES || total > this.maxBytes) {
        this.failed = true;
        throw new FrameError(`message length ${total} outside [${MIN_MESSAGE_BYTES}, ${this.maxBytes}]`);
      }
      if (this.buffered < total) break;
      frames.push(this.take(total));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const frame = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return frame;
  }
}
