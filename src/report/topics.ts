// The Device Defender reserved topics (https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html):
//   $aws/things/{thingName}/defender/metrics/{json|cbor}                 (device publishes)
//   $aws/things/{thingName}/defender/metrics/{json|cbor}/{accepted|rejected}   (service answers)
// The format segment is lower case; MQTT topics are case sensitive, so `JSON` is not a report topic.
import type { ReportFormat } from './model.ts';
import { thingNameProblem } from './thingName.ts';

export type ReplyKind = 'accepted' | 'rejected';

/** A topic was asked for with a part that cannot be in it. */
export class ReportTopicError extends Error {
  override name = 'ReportTopicError';
}

const FORMATS: readonly string[] = ['json', 'cbor'];

function checkedParts(thingName: string, format: ReportFormat): void {
  const problem = thingNameProblem(thingName);
  if (problem !== null) throw new ReportTopicError(`thingName: ${problem}`);
  if (!FORMATS.includes(format)) throw new ReportTopicError(`format: must be "json" or "cbor"`);
}

/** The topic a report for `thingName` is published on. Throws ReportTopicError for an invalid part. */
export function reportTopic(thingName: string, format: ReportFormat): string {
  checkedParts(thingName, format);
  return `$aws/things/${thingName}/defender/metrics/${format}`;
}

/** The topic the service answers a report on. Throws ReportTopicError for an invalid part. */
export function replyTopic(thingName: string, format: ReportFormat, kind: ReplyKind): string {
  if (kind !== 'accepted' && kind !== 'rejected') throw new ReportTopicError('kind: must be "accepted" or "rejected"');
  return `${reportTopic(thingName, format)}/${kind}`;
}

export type ParsedReportTopic =
  | { ok: true; thingName: string; format: ReportFormat; reply?: ReplyKind }
  /**
   * `not-defender`: the topic does not have the reserved shape at all;
   * `bad-thing-name`: it has the shape but the thing segment breaks the thing-name rules (the service
   * rejects such reports, so the caller answers on the topic rather than ignoring it).
   */
  | { ok: false; reason: 'not-defender' | 'bad-thing-name'; error: string; thingName?: string; format?: ReportFormat; reply?: ReplyKind };

/** Parse a report or reply topic. Never throws. */
export function parseReportTopic(topic: unknown): ParsedReportTopic {
  const notDefender = (why: string): ParsedReportTopic => ({ ok: false, reason: 'not-defender', error: `topic: ${why}` });
  if (typeof topic !== 'string') return notDefender('must be a string');
  // 7 segments at most; a longer topic cannot match, so do not split a hostile megabyte string.
  if (topic.length > 1024) return notDefender('is not a Device Defender metrics topic');
  const parts = topic.split('/');
  const [dollarAws, things, thingName, defender, metrics, format, reply] = parts;
  if (
    parts.length < 6 ||
    parts.length > 7 ||
    dollarAws !== '$aws' ||
    things !== 'things' ||
    defender !== 'defender' ||
    metrics !== 'metrics' ||
    thingName === undefined ||
    format === undefined ||
    !FORMATS.includes(format) ||
    (reply !== undefined && reply !== 'accepted' && reply !== 'rejected')
  ) {
    return notDefender(
      'is not a Device Defender metrics topic ($aws/things/{thingName}/defender/metrics/{json|cbor}[/accepted|/rejected])',
    );
  }
  const fmt = format as ReportFormat;
  const kind = reply as ReplyKind | undefined;
  const problem = thingNameProblem(thingName);
  if (problem !== null) {
    return {
      ok: false,
      reason: 'bad-thing-name',
      error: `thingName: ${problem}`,
      thingName,
      format: fmt,
      ...(kind ? { reply: kind } : {}),
    };
  }
  return { ok: true, thingName, format: fmt, ...(kind ? { reply: kind } : {}) };
}
