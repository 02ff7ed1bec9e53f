// Report model → payload bytes (docs/reports.md#json-and-cbor: JSON or CBOR, the same document, text keys,
// long or short, like the Python agent SDK's `json.dumps(separators=(',', ':'))` and `cbor.dumps`).
import { Encoder } from 'cbor-x';
import type { DefenderReport, NameStyle, ReportFormat } from './model.ts';
import { toWireDocument } from './wireDocument.ts';

// cbor-x may hand back a view of its reusable buffer: Buffer.from copies it before the next encode.
// Plain CBOR maps (no cbor-x record extension, which other decoders cannot read), smallest map heads.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, variableMapSize: true });

/** Encode any plain JSON-able document (a report or a service response) in a format. */
export function encodeDocument(document: unknown, format: ReportFormat): Uint8Array {
  return format === 'cbor' ? Buffer.from(cbor.encode(document)) : Buffer.from(JSON.stringify(document), 'utf8');
}

export function encodeReport(report: DefenderReport, format: ReportFormat, style: NameStyle): Uint8Array {
  return encodeDocument(toWireDocument(report, style), format);
}
