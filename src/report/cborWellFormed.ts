// A bounded, iterative well-formedness check of an untrusted CBOR payload (RFC 8949), run before the
// payload is handed to cbor-x. cbor-x is a fast decoder for trusted data; for hostile input it would
// recurse without limit (stack overflow), replace invalid UTF-8 silently, turn tags into Dates/typed
// arrays/records, stringify integer map keys and rename `__proto__` keys. This walk creates no values:
// one pass over at most MAX_MESSAGE_BYTES, O(1) work per byte, so the cost of a hostile payload is bounded.
//
// What it refuses, beyond malformed CBOR (each is never produced by any Device Defender agent,
// docs/reports.md#json-and-cbor): nesting deeper than `maxDepth`, simple values other than
// false/true/null/undefined, text strings that are not UTF-8, map keys that are not definite-length text
// strings, duplicate map keys (RFC 8949 §5.6 "not valid"), `__proto__` keys, tags, and indefinite-length
// byte/text strings (well-formed CBOR, but cbor-x cannot decode them; no agent writes them).
import { isUtf8 } from 'node:buffer';

interface Frame {
  /** items left to read (keys and values count separately for maps); -1 = indefinite length */
  left: number;
  map: boolean;
  /** for maps: the next item is a key */
  expectKey: boolean;
  keys?: Set<string>;
}

export interface CborCheckOptions {
  maxDepth: number;
}

/** null when `bytes` holds exactly one well-formed CBOR item we accept, else the reason. Never throws. */
export function cborProblem(bytes: Uint8Array, options: CborCheckOptions): string | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  let pos = 0;
  const stack: Frame[] = [];
  let done = false;

  // Reads the argument of a head whose additional info is `ai`; -1 for indefinite, -2 for invalid.
  const readArgument = (ai: number): number => {
    if (ai < 24) return ai;
    const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    if (ai === 31) return -1;
    if (size === 0) return -2; // 28–30 are reserved
    if (pos + size > end) return -3;
    let value: number;
    if (size === 1) value = view.getUint8(pos);
    else if (size === 2) value = view.getUint16(pos);
    else if (size === 4) value = view.getUint32(pos);
    else {
      const high = view.getUint32(pos);
      // Anything at or above 2^53 is larger than any length this payload can hold; keep it exact enough.
      value = high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * 2 ** 32 + view.getUint32(pos + 4);
    }
    pos += size;
    return value;
  };

  while (pos < end) {
    if (done) return `payload: ${end - pos} bytes after the end of the CBOR item`;
    const frame = stack[stack.length - 1];
    const at = pos;
    const initial = bytes[pos++]!;
    const major = initial >> 5;
    const ai = initial & 0x1f;

    if (initial === 0xff) {
      // "break": ends an indefinite-length item, and only at a position where an item (or key) may start.
      if (frame === undefined || frame.left !== -1 || (frame.map && !frame.expectKey))
        return `payload: unexpected CBOR break at byte ${at}`;
      stack.pop();
      done = finishItem(stack);
      continue;
    }
    const isKey = frame?.map && frame.expectKey;
    if (isKey && (major !== 3 || ai === 31)) return `payload: map key at byte ${at} is not a definite-length text string`;

    const arg = readArgument(ai);
    if (arg === -2) return `payload: reserved CBOR additional information at byte ${at}`;
    if (arg === -3) return `payload: truncated CBOR at byte ${at}`;
    if (arg === -1 && (major === 0 || major === 1 || major === 6)) return `payload: invalid indefinite length at byte ${at}`;

    switch (major) {
      case 0:
      case 1:
        break;
      case 2:
      case 3: {
        if (arg === -1) return `payload: indefinite-length string at byte ${at} is not supported`;
        if (arg > end - pos) return `payload: truncated CBOR string at byte ${at}`;
        if (major === 3) {
          // isUtf8 is native (simdutf) and strict: no overlongs, no encoded surrogates.
          if (!isUtf8(bytes.subarray(pos, pos + arg))) return `payload: text string at byte ${at} is not valid UTF-8`;
          if (isKey) {
            const text = buffer.toString('utf8', pos, pos + arg);
            if (text === '__proto__') return 'payload: map key "__proto__" is not allowed';
            if (frame.keys!.has(text)) return `payload: duplicate map key ${JSON.stringify(text)}`;
            frame.keys!.add(text);
          }
        }
        pos += arg;
        break;
      }
      case 4:
      case 5: {
        if (stack.length >= options.maxDepth) return `payload: nested deeper than ${options.maxDepth} levels`;
        // Every item takes at least one byte: a count larger than what is left cannot be real.
        const items = arg === -1 ? -1 : major === 5 ? arg * 2 : arg;
        if (items > end - pos) return `payload: truncated CBOR container at byte ${at}`;
        if (items === 0) break; // empty container: a complete item right away
        stack.push({ left: items, map: major === 5, expectKey: major === 5, ...(major === 5 ? { keys: new Set<string>() } : {}) });
        continue;
      }
      case 6:
        return `payload: CBOR tag ${arg} at byte ${at} is not allowed in a report`;
      case 7:
        // 20–23 false/true/null/undefined and 25–27 floats are data. Other simple values are well-formed
        // but mean nothing in a report, and cbor-x reads them as references to "packed values".
        if (ai === 24 && arg < 32) return `payload: invalid simple value at byte ${at}`;
        if (ai < 20 || ai === 24) return `payload: CBOR simple value ${arg} at byte ${at} is not allowed in a report`;
        break;
    }
    done = finishItem(stack);
  }
  if (!done) return stack.length > 0 || pos === 0 ? 'payload: truncated CBOR (incomplete item)' : null;
  return null;
}

/** One item finished inside the top frame; pops frames that are complete. True when the root item is complete. */
function finishItem(stack: Frame[]): boolean {
  for (;;) {
    const top = stack[stack.length - 1];
    if (top === undefined) return true;
    if (top.map) top.expectKey = !top.expectKey;
    if (top.left === -1) return false;
    top.left -= 1;
    if (top.left > 0) return false;
    stack.pop();
  }
}
