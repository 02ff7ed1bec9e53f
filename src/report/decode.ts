// Untrusted payload → plain document, JSON or CBOR (docs/reports.md#json-and-cbor: the same document,
// encoded either way). The format comes from the topic's last segment when there is a topic; without one it is
// detected from the content. Never throws; work is bounded by the size check that comes first.
import { isUtf8 } from 'node:buffer';
import { Decoder } from 'cbor-x';
import { cborProblem } from './cborWellFormed.ts';
import { MAX_MESSAGE_BYTES, type ReportFormat } from './model.ts';

/**
 * CBOR nesting limit (cbor-x decodes recursively). The deepest valid report nests 6 levels (root → metrics →
 * tcp_connections → established → connections → entry). JSON needs no such limit: V8's JSON.parse is not
 * recursive, and the validator reads only known fields, so a deep document is rejected without recursion
 * (it is never re-serialized: JSON.stringify would recurse).
 */
export const MAX_NESTING = 16;

const cbor = new Decoder({ useRecords: false, mapsAsObjects: true });

export type DecodeResult = { ok: true; document: unknown; format: ReportFormat } | { ok: false; error: string; format?: ReportFormat };

/**
 * Content detection, when no topic says the format. A JSON report is an object, so after optional
 * whitespace (or a UTF-8 BOM) it starts with `{`; a CBOR report is a map, major type 5 (0xa0–0xbf). The two
 * never overlap: 0x7b `{` is a CBOR text-string head and JSON whitespace bytes are CBOR integers.
 */
export function detectFormat(payload: Uint8Array): ReportFormat {
  let i = 0;
  if (payload[0] === 0xef && payload[1] === 0xbb && payload[2] === 0xbf) i = 3;
  for (; i < payload.length; i++) {
    const b = payload[i]!;
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    if (b >= 0xa0 && b <= 0xbf) return 'cbor';
    return 'json';
  }
  return 'json';
}

export function decodePayload(payload: Uint8Array, format: ReportFormat = detectFormat(payload)): DecodeResult {
  if (payload.length === 0) return { ok: false, error: 'payload: is empty', format };
  if (payload.length > MAX_MESSAGE_BYTES) {
    return { ok: false, error: `payload: is over the ${MAX_MESSAGE_BYTES}-byte AWS IoT message limit`, format };
  }
  if (format === 'cbor') {
    const problem = cborProblem(payload, { maxDepth: MAX_NESTING });
    if (problem !== null) return { ok: false, error: problem, format };
    try {
      return { ok: true, document: cbor.decode(payload), format };
    } catch (err) {
      // The walk above accepts only what cbor-x decodes; this is a safety net, not an expected path.
      return { ok: false, error: `payload: is not valid CBOR (${(err as Error).message})`, format };
    }
  }
  // isUtf8 (native, strict) first, so the lenient toString below can never substitute U+FFFD silently.
  if (!isUtf8(payload)) return { ok: false, error: 'payload: is not valid UTF-8', format };
  const buffer = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  // A UTF-8 BOM is allowed before a JSON text (RFC 8259 §8.1: parsers MAY ignore it).
  const start = payload[0] === 0xef && payload[1] === 0xbb && payload[2] === 0xbf ? 3 : 0;
  try {
    return { ok: true, document: JSON.parse(buffer.toString('utf8', start)), format };
  } catch (err) {
    return { ok: false, error: `payload: is not valid JSON (${(err as Error).message})`, format };
  }
}
