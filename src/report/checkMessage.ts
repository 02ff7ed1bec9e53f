// One report message as the service sees it: topic + payload bytes → accepted or rejected, with the
// service-style answer and where it goes (docs/reports.md#topics, #answers-accepted-and-rejected). The
// validate-report CLI, the emulator's Device Defender endpoint and the downstream-report forwarder all call
// this one function.
import { decodePayload, detectFormat } from './decode.ts';
import { encodeDocument } from './encode.ts';
import type { DefenderReport, NameStyle, ReportFormat } from './model.ts';
import { type AcceptedResponse, acceptedResponse, type RejectedResponse, rejectedResponse } from './response.ts';
import { parseReportTopic } from './topics.ts';
import { validateReportDocument } from './validate.ts';
import { isWellFormedString } from './validationIssues.ts';

export interface ReportMessage {
  /** the publish topic; without it the format is detected from the content and no thing is named */
  topic?: string;
  payload: Uint8Array;
  /** answer timestamp, ms since the epoch (pure code: the caller's clock) */
  nowMs: number;
}

/** Where and what to answer: `{topic}/accepted|rejected`, encoded like the request (AWS IoT reserved topics; docs/reports.md#topics). */
export interface ReportReply {
  topic: string;
  payload: Uint8Array;
}

export type ReportCheck =
  | {
      status: 'ACCEPTED';
      thingName?: string;
      format: ReportFormat;
      style: NameStyle;
      report: DefenderReport;
      warnings: string[];
      response: AcceptedResponse;
      reply?: ReportReply;
    }
  | { status: 'REJECTED'; thingName?: string; format: ReportFormat; errors: string[]; response: RejectedResponse; reply?: ReportReply }
  /** the topic is not a Defender report topic at all: there is nobody to answer (a usage error for the CLI) */
  | { status: 'NOT_A_REPORT_TOPIC'; error: string };

/** A topic a client may publish on, locally and to IoT Core: no wildcards, no U+0000, encodable as UTF-8. */
function publishableTopic(topic: string): boolean {
  return !/[+#*\u0000]/.test(topic) && isWellFormedString(topic);
}

/** Validate one report message like the service. Never throws. */
export function checkReportMessage(message: ReportMessage): ReportCheck {
  let thingName: string | undefined;
  let format: ReportFormat;
  const errors: string[] = [];
  if (message.topic !== undefined) {
    const parsed = parseReportTopic(message.topic);
    if (!parsed.ok && parsed.reason === 'not-defender') return { status: 'NOT_A_REPORT_TOPIC', error: parsed.error };
    if (parsed.reply !== undefined)
      return { status: 'NOT_A_REPORT_TOPIC', error: `topic: is an answer topic (/${parsed.reply}), not a report topic` };
    // A bad thing name (> 128 bytes, control characters: docs/reports.md#topics) is a rejection, answered on the same topic.
    if (!parsed.ok) errors.push(parsed.error);
    thingName = parsed.thingName;
    format = parsed.format!;
  } else {
    format = detectFormat(message.payload);
  }

  // The answer topic is the request topic + `/accepted|/rejected`, only when that is a topic anyone can
  // publish on: a thing segment with `+`/`#` (wildcards, MQTT 3.1.1 §4.7.1), `*` (local PublishToTopic
  // refuses it, docs/greengrass-ipc.md), U+0000 or a lone surrogate cannot be published to, so such a report
  // gets no answer: answer topics are built only from parts that were validated.
  const answerable = message.topic !== undefined && publishableTopic(message.topic);
  const reply = (doc: AcceptedResponse | RejectedResponse): ReportReply | undefined =>
    !answerable
      ? undefined
      : { topic: `${message.topic}/${doc.status === 'ACCEPTED' ? 'accepted' : 'rejected'}`, payload: encodeDocument(doc, format) };
  const reject = (all: string[], reportId?: number): ReportCheck => {
    const response = rejectedResponse(thingName, reportId, all, message.nowMs);
    const r = reply(response);
    return {
      status: 'REJECTED',
      ...(thingName !== undefined ? { thingName } : {}),
      format,
      errors: all,
      response,
      ...(r ? { reply: r } : {}),
    };
  };

  const decoded = decodePayload(message.payload, format);
  if (!decoded.ok) return reject([...errors, decoded.error]);
  const validation = validateReportDocument(decoded.document);
  if (!validation.ok) return reject([...errors, ...validation.errors], validation.reportId);
  if (errors.length > 0) return reject(errors, validation.report.header.reportId);
  const response = acceptedResponse(thingName, validation.report.header.reportId, message.nowMs);
  const r = reply(response);
  return {
    status: 'ACCEPTED',
    ...(thingName !== undefined ? { thingName } : {}),
    format,
    style: validation.style,
    report: validation.report,
    warnings: validation.warnings,
    response,
    ...(r ? { reply: r } : {}),
  };
}
