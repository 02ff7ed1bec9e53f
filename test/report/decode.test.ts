import { encode as cborEncode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { cborProblem } from '../../src/report/cborWellFormed.ts';
import { checkReportMessage } from '../../src/report/checkMessage.ts';
import { decodePayload, detectFormat, MAX_NESTING } from '../../src/report/decode.ts';
import { MAX_MESSAGE_BYTES } from '../../src/report/model.ts';

const bytes = (...b: number[]) => Uint8Array.from(b);
const text = (s: string) => Buffer.from(s, 'utf8');
/** CBOR text string head + bytes (short strings only). */
const cborText = (s: string) => [0x60 + Buffer.byteLength(s), ...text(s)];
const check = (b: Uint8Array) => cborProblem(b, { maxDepth: MAX_NESTING });

describe('format detection from content (no topic)', () => {
  it('detects JSON objects, with whitespace or a BOM before them, and CBOR maps', () => {
    expect(detectFormat(text('{"a":1}'))).toBe('json');
    expect(detectFormat(text(' \n\t{}'))).toBe('json');
    expect(detectFormat(bytes(0xef, 0xbb, 0xbf, 0x7b, 0x7d))).toBe('json');
    expect(detectFormat(cborEncode({ a: 1 }))).toBe('cbor');
    expect(detectFormat(bytes(0xbf, 0xff))).toBe('cbor'); // indefinite-length map
    expect(detectFormat(bytes(0x83, 1, 2, 3))).toBe('json'); // a CBOR array is no report: JSON parse then fails
  });

  it('decodes both, and a BOM-prefixed JSON document', () => {
    expect(decodePayload(text('{"a":[1,2]}'))).toEqual({ ok: true, document: { a: [1, 2] }, format: 'json' });
    expect(decodePayload(cborEncode({ a: [1, 'x'] }))).toEqual({ ok: true, document: { a: [1, 'x'] }, format: 'cbor' });
    expect(decodePayload(Buffer.concat([bytes(0xef, 0xbb, 0xbf), text('{"a":1}')]))).toMatchObject({ ok: true, document: { a: 1 } });
  });

  it('uses the format it is told, so a payload on the wrong topic fails to parse', () => {
    expect(decodePayload(cborEncode({ a: 1 }), 'json')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^payload: is not valid (JSON|UTF-8)/),
    });
    expect(decodePayload(text('{"a":1}'), 'cbor')).toMatchObject({ ok: false, error: expect.stringMatching(/^payload: /) });
  });
});

describe('limits on any payload', () => {
  it('rejects an empty payload and one over the 128 KiB message limit without parsing it', () => {
    expect(decodePayload(new Uint8Array(0))).toMatchObject({ ok: false, error: 'payload: is empty' });
    const big = Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20);
    big[0] = 0x7b;
    expect(decodePayload(big)).toMatchObject({ ok: false, error: 'payload: is over the 131072-byte AWS IoT message limit' });
    const exact = Buffer.alloc(MAX_MESSAGE_BYTES, 0x20);
    exact[0] = 0x7b;
    exact[1] = 0x7d;
    expect(decodePayload(exact)).toMatchObject({ ok: true, document: {} });
  });

  it('rejects JSON that is not UTF-8 or not JSON', () => {
    expect(decodePayload(bytes(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d))).toMatchObject({
      ok: false,
      error: 'payload: is not valid UTF-8',
    });
    expect(decodePayload(text('{"a":'))).toMatchObject({ ok: false, error: expect.stringMatching(/^payload: is not valid JSON/) });
    expect(decodePayload(text('{"a":NaN}'))).toMatchObject({ ok: false });
  });

  it('parses deeply nested JSON without recursion; the validator then rejects it without descending', () => {
    const deep = `{"header":{"report_id":1,"version":"1.0"},"metrics":{"x":${'['.repeat(60_000)}${']'.repeat(60_000)}}}`;
    const r = checkReportMessage({ payload: text(deep), nowMs: 1 });
    expect(r).toMatchObject({ status: 'REJECTED', errors: ['metrics.x: is not a known field'] });
  });
});

describe('CBOR well-formedness walk (hostile input)', () => {
  it('accepts what cbor-x writes for a report, and indefinite-length items', () => {
    expect(
      check(cborEncode({ hed: { rid: 1, v: '1.0' }, met: { ns: { bi: 2 ** 40, bo: 1.5 } }, cmet: { x: [{ number: -3 }] } })),
    ).toBeNull();
    // {_ "a": [_ 1, 2], "b": {_ }}
    const indefinite = bytes(0xbf, ...cborText('a'), 0x9f, 1, 2, 0xff, ...cborText('b'), 0xbf, 0xff, 0xff);
    expect(check(indefinite)).toBeNull();
    expect(decodePayload(indefinite, 'cbor')).toEqual({ ok: true, document: { a: [1, 2], b: {} }, format: 'cbor' });
  });

  it('rejects invalid UTF-8 in text strings and in keys', () => {
    expect(check(bytes(0xa1, ...cborText('a'), 0x62, 0xff, 0xfe))).toBe('payload: text string at byte 3 is not valid UTF-8');
    expect(check(bytes(0xa1, 0x62, 0xc3, 0x28, 0x01))).toBe('payload: text string at byte 1 is not valid UTF-8');
    // An encoded surrogate (ED A0 80) is not UTF-8 either.
    expect(check(bytes(0xa1, ...cborText('a'), 0x63, 0xed, 0xa0, 0x80))).toMatch(/not valid UTF-8/);
    expect(decodePayload(bytes(0xa1, ...cborText('a'), 0x62, 0xff, 0xfe), 'cbor')).toMatchObject({ ok: false });
  });

  it('rejects deep nesting without recursion', () => {
    expect(check(Buffer.alloc(100_000, 0x81))).toBe(`payload: nested deeper than ${MAX_NESTING} levels`);
    expect(check(Buffer.alloc(100_000, 0x9f))).toBe(`payload: nested deeper than ${MAX_NESTING} levels`);
  });

  it('rejects length claims larger than the payload (no huge allocation)', () => {
    expect(check(bytes(0x9a, 0xff, 0xff, 0xff, 0xff, 0x01))).toBe('payload: truncated CBOR container at byte 0');
    expect(check(bytes(0xbb, 0, 0, 0, 1, 0, 0, 0, 0))).toBe('payload: truncated CBOR container at byte 0');
    expect(check(bytes(0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x61))).toBe('payload: truncated CBOR string at byte 0');
    expect(check(bytes(0xa1, ...cborText('a')))).toBe('payload: truncated CBOR (incomplete item)');
    expect(check(bytes(0x19, 0x01))).toBe('payload: truncated CBOR at byte 0');
  });

  it('rejects tags, non-text keys, duplicate keys and __proto__ keys', () => {
    expect(check(bytes(0xa1, ...cborText('t'), 0xc1, 0x1a, 0, 0, 0, 1))).toBe('payload: CBOR tag 1 at byte 3 is not allowed in a report');
    expect(check(bytes(0xd9, 0xd9, 0xf7, 0xa0))).toBe('payload: CBOR tag 55799 at byte 0 is not allowed in a report');
    expect(check(bytes(0xa1, 0x01, 0x02))).toBe('payload: map key at byte 1 is not a definite-length text string');
    expect(check(bytes(0xa2, ...cborText('a'), 1, ...cborText('a'), 2))).toBe('payload: duplicate map key "a"');
    expect(check(bytes(0xa1, ...cborText('__proto__'), 0xa0))).toBe('payload: map key "__proto__" is not allowed');
    expect(decodePayload(bytes(0xa1, ...cborText('__proto__'), 0xa1, ...cborText('x'), 1), 'cbor')).toMatchObject({ ok: false });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('rejects trailing bytes, stray breaks, reserved heads and bad indefinite strings', () => {
    expect(check(bytes(0xa0, 0x00))).toBe('payload: 1 bytes after the end of the CBOR item');
    expect(check(bytes(0xff))).toBe('payload: unexpected CBOR break at byte 0');
    expect(check(bytes(0xa1, ...cborText('a'), 0xff))).toBe('payload: unexpected CBOR break at byte 3');
    expect(check(bytes(0xbf, ...cborText('a'), 0xff))).toBe('payload: unexpected CBOR break at byte 3'); // key without value
    expect(check(bytes(0x1c))).toBe('payload: reserved CBOR additional information at byte 0');
    expect(check(bytes(0x1f))).toBe('payload: invalid indefinite length at byte 0');
    // Indefinite-length strings are well-formed CBOR, but cbor-x cannot decode them: refused clearly.
    expect(check(bytes(0xa1, ...cborText('b'), 0x7f, ...cborText('x'), 0xff))).toBe(
      'payload: indefinite-length string at byte 3 is not supported',
    );
    expect(check(bytes(0xf8, 0x10))).toBe('payload: invalid simple value at byte 0');
    expect(check(bytes(0xa1, ...cborText('a'), 0xe1))).toBe('payload: CBOR simple value 1 at byte 3 is not allowed in a report');
    expect(check(bytes(0xa1, ...cborText('a'), 0xf8, 0x40))).toBe('payload: CBOR simple value 64 at byte 3 is not allowed in a report');
    expect(check(bytes(0xa4, ...cborText('a'), 0xf4, ...cborText('b'), 0xf5, ...cborText('c'), 0xf6, ...cborText('d'), 0xf7))).toBeNull();
  });

  it('passes NaN, Infinity and big integers through to the validator (they are well-formed)', () => {
    const r = decodePayload(
      bytes(
        0xa3,
        ...cborText('n'),
        0xf9,
        0x7e,
        0x00,
        ...cborText('i'),
        0xf9,
        0x7c,
        0x00,
        ...cborText('b'),
        0x1b,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
      ),
      'cbor',
    );
    expect(r).toMatchObject({ ok: true });
    if (!r.ok) return;
    const doc = r.document as Record<string, unknown>;
    expect(doc.n).toBeNaN();
    expect(doc.i).toBe(Number.POSITIVE_INFINITY);
    expect(typeof doc.b).toBe('bigint');
  });

  it('survives random bytes: never throws, and cbor-x accepts everything the walk lets through', () => {
    let seed = 12345;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 20_000; i++) {
      const b = Uint8Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
      b[0] = 0xa0 + Math.floor(rand() * 32);
      const r = decodePayload(b, 'cbor');
      if (!r.ok) expect(r.error).not.toMatch(/is not valid CBOR/);
    }
  });
});
