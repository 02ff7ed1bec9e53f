// Service-style answers to a report (docs/reports.md#answers-accepted-and-rejected), published on
// `…/accepted` / `…/rejected`:
//   {"thingName":"t","reportId":12,"status":"ACCEPTED","timestamp":1635801636023}
//   {"thingName":"t","reportId":12,"status":"REJECTED","statusDetails":{"ErrorCode":"InvalidPayload",
//    "ErrorMessage":"Malformed metrics report"},"timestamp":…}
// `reportId` is in both (the embedded-C defender demo matches it to the request; the troubleshooting guide's
// example garbles the key). `timestamp` is epoch milliseconds. The only documented ErrorCode is
// "InvalidPayload" with "Malformed metrics report", so every rejection we produce uses that code, and the
// message starts with the documented text followed by our `path: message` details. Answers from the real
// service are parsed with the code opaque.

import { isPlainObject } from '../plainObject.ts';
import { decodePayload } from './decode.ts';
import type { ReportFormat } from './model.ts';
import { integerProblem } from './validationIssues.ts';

export const INVALID_PAYLOAD = 'InvalidPayload';
export const MALFORMED_REPORT = 'Malformed metrics report';
/** At most this many errors are spelled out in ErrorMessage; the rest are counted. */
export const MAX_ERRORS_IN_MESSAGE = 10;

export interface AcceptedResponse {
  thingName?: string;
  reportId: number;
  status: 'ACCEPTED';
  timestamp: number;
}

export interface RejectedResponse {
  thingName?: string;
  reportId?: number;
  status: 'REJECTED';
  statusDetails: { ErrorCode: string; ErrorMessage: string };
  timestamp: number;
}

export type ReportResponse = AcceptedResponse | RejectedResponse;

export function acceptedResponse(thingName: string | undefined, reportId: number, nowMs: number): AcceptedResponse {
  return { ...(thingName !== undefined ? { thingName } : {}), reportId, status: 'ACCEPTED', timestamp: nowMs };
}

export function rejectedResponse(
  thingName: string | undefined,
  reportId: number | undefined,
  errors: readonly string[],
  nowMs: number,
): RejectedResponse {
  const shown = errors.slice(0, MAX_ERRORS_IN_MESSAGE);
  const more = errors.length - shown.length;
  const details = shown.join('; ') + (more > 0 ? `; (${more} more)` : '');
  return {
    ...(thingName !== undefined ? { thingName } : {}),
    ...(reportId !== undefined ? { reportId } : {}),
    status: 'REJECTED',
    statusDetails: { ErrorCode: INVALID_PAYLOAD, ErrorMessage: details === '' ? MALFORMED_REPORT : `${MALFORMED_REPORT}: ${details}` },
    timestamp: nowMs,
  };
}

export type ParsedResponse = { ok: true; response: ReportResponse } | { ok: false; error: string };

/**
 * Parse an answer from the service (or the emulator) on an accepted/rejected topic. ErrorCode and
 * ErrorMessage are kept as opaque strings (only one code is documented; log whatever comes).
 */
export function parseReportResponse(payload: Uint8Array, format: ReportFormat): ParsedResponse {
  const decoded = decodePayload(payload, format);
  if (!decoded.ok) return { ok: false, error: decoded.error };
  const doc = decoded.document;
  if (!isPlainObject(doc)) return { ok: false, error: '(root): must be an object' };
  const { thingName, reportId, status, timestamp, statusDetails } = doc;
  if (thingName !== undefined && typeof thingName !== 'string') return { ok: false, error: 'thingName: must be a string' };
  if (reportId !== undefined && integerProblem(reportId, 1) !== null) return { ok: false, error: 'reportId: must be a positive integer' };
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) return { ok: false, error: 'timestamp: must be a number' };
  const base = { ...(thingName !== undefined ? { thingName } : {}), timestamp };
  if (status === 'ACCEPTED') {
    if (reportId === undefined) return { ok: false, error: 'reportId: is required in an accepted response' };
    return { ok: true, response: { ...base, reportId: reportId as number, status } };
  }
  if (status !== 'REJECTED') return { ok: false, error: 'status: must be "ACCEPTED" or "REJECTED"' };
  const details = isPlainObject(statusDetails) ? statusDetails : {};
  const code = typeof details.ErrorCode === 'string' ? details.ErrorCode : 'Unknown';
  const message = typeof details.ErrorMessage === 'string' ? details.ErrorMessage : '';
  return {
    ok: true,
    response: {
      ...base,
      ...(reportId !== undefined ? { reportId: reportId as number } : {}),
      status,
      statusDetails: { ErrorCode: code, ErrorMessage: message },
    },
  };
}
