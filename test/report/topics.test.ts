import { describe, expect, it } from 'vitest';
import { thingNameProblem } from '../../src/report/thingName.ts';
import { parseReportTopic, ReportTopicError, replyTopic, reportTopic } from '../../src/report/topics.ts';

describe('thing-name rules (Device Defender troubleshooting guide)', () => {
  it('accepts up to 128 bytes of UTF-8 without control characters', () => {
    expect(thingNameProblem('gw-1')).toBeNull();
    expect(thingNameProblem('a'.repeat(128))).toBeNull();
    expect(thingNameProblem('é'.repeat(64))).toBeNull(); // 128 bytes
    expect(thingNameProblem('Thing:with_all-ALLOWED.chars@x')).toBeNull();
  });

  it('rejects longer names by bytes, not characters', () => {
    expect(thingNameProblem('a'.repeat(129))).toBe('must be at most 128 bytes of UTF-8');
    expect(thingNameProblem('é'.repeat(65))).toBe('must be at most 128 bytes of UTF-8'); // 65 chars, 130 bytes
    expect(thingNameProblem('🙂'.repeat(33))).toBe('must be at most 128 bytes of UTF-8'); // 66 UTF-16 units, 132 bytes
  });

  it('rejects control characters (C0, DEL, C1), empty names, broken Unicode, topic separators and wildcards', () => {
    for (const bad of ['a\u0000b', 'tab\there', 'nl\n', 'del\u007f', 'c1\u0085'])
      expect(thingNameProblem(bad)).toBe('must not contain control characters');
    expect(thingNameProblem('')).toBe('must not be empty');
    expect(thingNameProblem('x\ud800')).toBe('must be valid Unicode');
    for (const bad of ['a/b', 'a+', '#']) expect(thingNameProblem(bad)).toBe("must not contain '/', '+' or '#' (it is a topic segment)");
    expect(thingNameProblem(42)).toBe('must be a string');
  });
});

describe('reserved topics', () => {
  it('builds report and reply topics from valid parts', () => {
    expect(reportTopic('gw-1', 'json')).toBe('$aws/things/gw-1/defender/metrics/json');
    expect(reportTopic('gw-1', 'cbor')).toBe('$aws/things/gw-1/defender/metrics/cbor');
    expect(replyTopic('gw-1', 'json', 'accepted')).toBe('$aws/things/gw-1/defender/metrics/json/accepted');
    expect(replyTopic('gw-1', 'cbor', 'rejected')).toBe('$aws/things/gw-1/defender/metrics/cbor/rejected');
  });

  it('refuses to build a topic from an invalid part', () => {
    expect(() => reportTopic('a/b', 'json')).toThrow(ReportTopicError);
    expect(() => reportTopic('x'.repeat(200), 'json')).toThrow('thingName: must be at most 128 bytes of UTF-8');
    expect(() => reportTopic('gw', 'JSON' as 'json')).toThrow('format: must be "json" or "cbor"');
    expect(() => replyTopic('gw', 'json', 'maybe' as 'accepted')).toThrow(ReportTopicError);
  });

  it('parses report and reply topics', () => {
    expect(parseReportTopic('$aws/things/gw-1/defender/metrics/json')).toEqual({ ok: true, thingName: 'gw-1', format: 'json' });
    expect(parseReportTopic('$aws/things/t/defender/metrics/cbor/rejected')).toEqual({
      ok: true,
      thingName: 't',
      format: 'cbor',
      reply: 'rejected',
    });
  });

  it('tells a topic that is no Defender topic from one with a bad thing name', () => {
    for (const t of [
      '$aws/things/gw/defender/metrics/JSON', // case sensitive
      '$aws/things/gw/defender/metrics/xml',
      '$aws/things/gw/defender/metrics',
      '$aws/things/gw/defender/metrics/json/maybe',
      '$aws/things/gw/defender/metrics/json/accepted/x',
      'aws/things/gw/defender/metrics/json',
      '$aws/things/gw/shadow/metrics/json',
      'x'.repeat(5000),
      '',
    ]) {
      expect(parseReportTopic(t)).toMatchObject({ ok: false, reason: 'not-defender' });
    }
    expect(parseReportTopic(7)).toMatchObject({ ok: false, reason: 'not-defender', error: 'topic: must be a string' });
    expect(parseReportTopic('$aws/things//defender/metrics/json')).toEqual({
      ok: false,
      reason: 'bad-thing-name',
      error: 'thingName: must not be empty',
      thingName: '',
      format: 'json',
    });
    expect(parseReportTopic(`$aws/things/${'n'.repeat(129)}/defender/metrics/cbor`)).toMatchObject({
      ok: false,
      reason: 'bad-thing-name',
      format: 'cbor',
    });
    expect(parseReportTopic('$aws/things/a\u0001/defender/metrics/json')).toMatchObject({
      ok: false,
      reason: 'bad-thing-name',
      error: 'thingName: must not contain control characters',
    });
  });

  it('round-trips what it builds', () => {
    for (const name of ['gw-1', 'é'.repeat(64), 'Thing_2:x']) {
      for (const format of ['json', 'cbor'] as const) {
        expect(parseReportTopic(reportTopic(name, format))).toEqual({ ok: true, thingName: name, format });
        expect(parseReportTopic(replyTopic(name, format, 'accepted'))).toEqual({ ok: true, thingName: name, format, reply: 'accepted' });
      }
    }
  });
});
