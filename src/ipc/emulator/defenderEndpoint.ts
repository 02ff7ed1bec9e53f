// The simulated Device Defender reporting endpoint (docs/reports.md#topics, #answers-accepted-and-rejected): a
// report published to `$aws/things/<thing>/defender/metrics/<json|cbor>` is answered on `…/accepted` or
// `…/rejected`, encoded like the request. The validator is pluggable so the report module can hook its own in.
import { decode as decodeCbor, encode as encodeCbor } from 'cbor-x';
import { checkReportMessage } from '../../report/checkMessage.ts';

export type ReportVerdict = { accepted: true } | { accepted: false; errorCode: string; errorMessage: string };
export type ReportValidator = (topic: string, payload: Buffer) => ReportVerdict;

export interface ReportTopic {
  thingName: string;
  format: 'json' | 'cbor';
}

const REPORT_TOPIC = /^\$aws\/things\/([^/+#]+)\/defender\/metrics\/(json|cbor)$/;

export function parseReportTopic(topic: string): ReportTopic | null {
  const m = REPORT_TOPIC.exec(topic);
  return m ? { thingName: m[1]!, format: m[2] as 'json' | 'cbor' } : null;
}

export function decodeReport(format: 'json' | 'cbor', payload: Buffer): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: format === 'json' ? JSON.parse(payload.toString('utf8')) : decodeCbor(payload) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/**
 * The service's rules, from the report module (the emulator's endpoint and `validate-report` use the same
 * validator, so they cannot disagree). The verdict carries the service-style ErrorCode/ErrorMessage.
 */
export const serviceReportValidator: ReportValidator = (topic, payload) => {
  const r = checkReportMessage({ topic, payload, nowMs: Date.now() });
  if (r.status === 'ACCEPTED') return { accepted: true };
  if (r.status === 'NOT_A_REPORT_TOPIC') return { accepted: false, errorCode: 'InvalidPayload', errorMessage: r.error };
  return { accepted: false, errorCode: r.response.statusDetails.ErrorCode, errorMessage: r.response.statusDetails.ErrorMessage };
};

/** Any well-formed JSON/CBOR is accepted: for tests of the emulator itself. */
export const wellFormedValidator: ReportValidator = (topic, payload) => {
  const t = parseReportTopic(topic);
  if (t && decodeReport(t.format, payload).ok) return { accepted: true };
  // The only documented rejection (docs/reports.md#answers-accepted-and-rejected).
  return { accepted: false, errorCode: 'InvalidPayload', errorMessage: 'Malformed metrics report' };
};

/** `header.report_id` (long names) or `hed.rid` (short names), docs/reports.md#the-document. */
export function reportIdOf(doc: unknown): number | undefined {
  if (typeof doc !== 'object' || doc === null) return undefined;
  const d = doc as Record<string, unknown>;
  const header = (d.header ?? d.hed) as Record<string, unknown> | undefined;
  if (typeof header !== 'object' || header === null) return undefined;
  const id = header.report_id ?? header.rid;
  return typeof id === 'number' && Number.isFinite(id) ? id : undefined;
}

export interface ReportReply {
  topic: string;
  payload: Buffer;
}

/** The service's answer to one report (docs/reports.md shapes; `timestamp` in ms). */
export function replyToReport(topic: string, payload: Buffer, validator: ReportValidator, nowMs: number): ReportReply | null {
  const t = parseReportTopic(topic);
  if (!t) return null;
  let verdict: ReportVerdict;
  try {
    verdict = validator(topic, payload);
  } catch (err) {
    verdict = { accepted: false, errorCode: 'InternalFailure', errorMessage: `validator failed: ${(err as Error).message}` };
  }
  const decoded = decodeReport(t.format, payload);
  const reportId = decoded.ok ? reportIdOf(decoded.value) : undefined;
  const body: Record<string, unknown> = { thingName: t.thingName };
  if (reportId !== undefined) body.reportId = reportId;
  body.status = verdict.accepted ? 'ACCEPTED' : 'REJECTED';
  if (!verdict.accepted) body.statusDetails = { ErrorCode: verdict.errorCode, ErrorMessage: verdict.errorMessage };
  body.timestamp = nowMs;
  return {
    topic: `${topic}/${verdict.accepted ? 'accepted' : 'rejected'}`,
    payload: t.format === 'json' ? Buffer.from(JSON.stringify(body), 'utf8') : Buffer.from(encodeCbor(body)),
  };
}
