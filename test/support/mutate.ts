// Hostile-input generators shared by the fuzzers: structural mutation of JSON-like documents (wrong
// types, deep nesting, huge arrays, NaN/Infinity, odd keys), byte-level mutation (bit flips, truncation,
// invalid UTF-8) and hostile strings (control characters, MQTT separators/wildcards, lone surrogates).
import type { Prng } from './prng.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const ODD_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', '', ' ', 'a\nb', 'x: y', '\u0000', '💥', '$aws', 'hasOwnProperty'];

/** Strings that break naive code: control characters, separators, wildcards, unicode edge cases. */
export function hostileString(r: Prng): string {
  switch (r.int(14)) {
    case 0:
      return '';
    case 1:
      return 'a'.repeat(r.range(100, 300));
    case 2:
      return String.fromCharCode(r.int(32));
    case 3:
      return `x${r.pick(['/', '+', '#', '/#', '+/+'])}y`;
    case 4:
      return '\ud800'; // lone surrogate: not valid Unicode
    case 5:
      return 'line1\nline2"}\n{"forged":true';
    case 6:
      return '💥'.repeat(r.range(1, 40));
    case 7:
      return '\u0085\u2028\u2029';
    case 8:
      return '../../etc/passwd';
    case 9:
      return '$(reboot)`id`;|&';
    case 10:
      return 'é'.repeat(r.range(60, 70)); // 2 bytes each: around the 128-byte limit
    case 11:
      return String.fromCharCode(0x7f + r.int(0x21));
    case 12:
      return 'x'.repeat(r.range(131_000, 140_000)); // past the 128 KiB message limit on its own
    default:
      return r.bytes(r.range(1, 16)).toString('latin1');
  }
}

/** A value of a random (usually wrong) type. */
export function hostileValue(r: Prng, depth = 0): unknown {
  switch (r.int(18)) {
    case 0:
      return null;
    case 1:
      return r.bool();
    case 2:
      return r.pick([0, -1, 1.5, -0, 2 ** 53, 2 ** 64, -(2 ** 63), 1e308, 5e-324, 65536, 4294967296]);
    case 3:
      return r.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    case 4:
      return hostileString(r);
    case 5:
      return [];
    case 6:
      return {};
    case 7:
      return deepNest(r.range(20, 5000), r.bool());
    case 8:
      return Array.from({ length: r.range(1000, 30_000) }, (_, i) => i);
    case 9:
      return Array.from({ length: r.range(1, 5) }, () => (depth < 3 ? hostileValue(r, depth + 1) : 1));
    case 10: {
      const o: Record<string, unknown> = {};
      for (let i = r.range(1, 4); i > 0; i--)
        Object.defineProperty(o, r.pick(ODD_KEYS), {
          value: depth < 3 ? hostileValue(r, depth + 1) : 'x',
          enumerable: true,
          configurable: true,
          writable: true,
        });
      return o;
    }
    case 11:
      return String(r.int(100_000));
    case 12:
      return r.int(65_536);
    case 13:
      return -r.int(1000) - 1;
    case 14:
      return { port: r.int(70_000) };
    case 15:
      return [{ number: hostileValue(r, 3) }];
    case 16:
      return Object.fromEntries(Array.from({ length: r.range(200, 3000) }, (_, i) => [`k${i}`, i]));
    default:
      return undefined;
  }
}

export function deepNest(depth: number, arrays: boolean): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
  return v;
}

/** Every (container, key) pair in a document, for picking a node to replace. */
function slots(doc: unknown, out: Array<[Record<string, unknown> | unknown[], string | number]> = [], depth = 0): typeof out {
  if (depth > 12 || typeof doc !== 'object' || doc === null) return out;
  if (Array.isArray(doc)) {
    doc.forEach((v, i) => {
      out.push([doc, i]);
      slots(v, out, depth + 1);
    });
  } else {
    for (const k of Object.keys(doc)) {
      out.push([doc as Record<string, unknown>, k]);
      slots((doc as Record<string, unknown>)[k], out, depth + 1);
    }
  }
  return out;
}

/** 1–3 structural mutations of a deep copy of `doc`. */
export function mutateDocument(r: Prng, doc: unknown): unknown {
  const copy = structuredClone(doc);
  for (let n = r.range(1, 3); n > 0; n--) {
    const all = slots(copy);
    if (all.length === 0) return hostileValue(r);
    const [container, key] = r.pick(all);
    const op = r.int(5);
    if (op === 0 && !Array.isArray(container)) delete (container as Record<string, unknown>)[key as string];
    else if (op === 1 && Array.isArray(container)) container.push(...Array.from({ length: r.range(1, 3) }, () => hostileValue(r)));
    else if (op === 2 && !Array.isArray(container)) container[r.pick(ODD_KEYS)] = hostileValue(r);
    else (container as Record<string | number, unknown>)[key] = hostileValue(r);
  }
  return copy;
}

/** Byte-level damage: bit flips, truncation, splices of invalid UTF-8 or random bytes, duplication. */
export function mutateBytes(r: Prng, input: Buffer): Buffer {
  let b = Buffer.from(input);
  for (let n = r.range(1, 3); n > 0; n--) {
    const at = b.length === 0 ? 0 : r.int(b.length);
    switch (r.int(7)) {
      case 0:
        if (b.length > 0) b[at] = b[at]! ^ (1 << r.int(8));
        break;
      case 1:
        b = b.subarray(0, at);
        break;
      case 2:
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from(r.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80]])),
          b.subarray(at),
        ]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), r.bytes(r.range(1, 32)), b.subarray(at)]);
        break;
      case 4:
        b = Buffer.concat([b, b.subarray(0, Math.min(b.length, 4096))]);
        break;
      case 5:
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from(r.pick(['NaN', 'Infinity', '-Infinity', '1e999', '-0', '"\\ud800"', '\u0000', '{', ']'])),
          b.subarray(at),
        ]);
        break;
      default:
        if (b.length > 1) {
          const c = r.int(b.length);
          b[c] = r.int(256);
        }
        break;
    }
  }
  return b;
}

/** Text that nests far past any limit: `[[[[…` or `{"a":{"a":…`. */
export function deepText(r: Prng): Buffer {
  const depth = r.range(1000, 20_000);
  return r.bool()
    ? Buffer.from('['.repeat(depth) + ']'.repeat(r.bool() ? depth : 0))
    : Buffer.from(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
}
