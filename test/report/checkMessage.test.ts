import { readFileSync } from 'node:fs';
import { decode as cborDecode, encode as cborEncode } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { checkReportMessage } from '../../src/report/checkMessage.ts';
import { encodeReport } from '../../src/report/encode.ts';
import type { DefenderReport } from '../../src/report/model.ts';
import { parseReportResponse } from '../../src/report/response.ts';

const NOW = 1_700_000_000_123;
const fixture = readFileSync(new URL('../fixtures/python-agent-report.json', import.meta.url));
const json = (o: unknown) => Buffer.from(JSON.stringify(o));
const report: DefenderReport = {
  header: { reportId: 42, version: '1.0' },
  metrics: {
    networkStats: { bytesIn: 1, bytesOut: 2, packetsIn: 3, packetsOut: 4 },
    listeningTcpPorts: { ports: [{ port: 22 }], total: 1 },
  },
  customMetrics: [{ name: 'temp', value: { number: 21.5 } }],
};

describe('checkReportMessage: one report message as the service sees it', () => {
  it('accepts the official agent fixture on the json topic and answers on /accepted (documented shape)', () => {
    const r = checkReportMessage({ topic: '$aws/things/gw-1/defender/metrics/json', payload: fixture, nowMs: NOW });
    expect(r.status).toBe('ACCEPTED');
    if (r.status !== 'ACCEPTED') return;
    expect(r.response).toEqual({ thingName: 'gw-1', reportId: 1719403200, status: 'ACCEPTED', timestamp: NOW });
    expect(r.reply!.topic).toBe('$aws/things/gw-1/defender/metrics/json/accepted');
    expect(Buffer.from(r.reply!.payload).toString()).toBe(
      '{"thingName":"gw-1","reportId":1719403200,"status":"ACCEPTED","timestamp":1700000000123}',
    );
  });

  for (const format of ['json', 'cbor'] as const) {
    for (const style of ['long', 'short'] as const) {
      it(`accepts our own ${style}-name ${format} report and reads back the same model`, () => {
        const r = checkReportMessage({
          topic: `$aws/things/dev-7/defender/metrics/${format}`,
          payload: encodeReport(report, format, style),
          nowMs: NOW,
        });
        expect(r).toMatchObject({ status: 'ACCEPTED', format, style, report });
        // Without a topic the format is detected from the content.
        expect(checkReportMessage({ payload: encodeReport(report, format, style), nowMs: NOW })).toMatchObject({
          status: 'ACCEPTED',
          format,
          report,
        });
      });
    }
  }

  it('answers a CBOR report in CBOR (responses are encoded like the request)', () => {
    const r = checkReportMessage({
      topic: '$aws/things/d/defender/metrics/cbor',
      payload: cborEncode({ hed: { rid: 5, v: '2.0' }, met: {} }),
      nowMs: NOW,
    });
    expect(r.status).toBe('REJECTED');
    if (r.status !== 'REJECTED') return;
    expect(r.reply!.topic).toBe('$aws/things/d/defender/metrics/cbor/rejected');
    expect(cborDecode(r.reply!.payload)).toEqual({
      thingName: 'd',
      reportId: 5,
      status: 'REJECTED',
      statusDetails: { ErrorCode: 'InvalidPayload', ErrorMessage: 'Malformed metrics report: hed.v: must be "1.0"' },
      timestamp: NOW,
    });
  });

  it('rejects a payload in the other format than its topic says', () => {
    const r = checkReportMessage({
      topic: '$aws/things/d/defender/metrics/json',
      payload: encodeReport(report, 'cbor', 'long'),
      nowMs: NOW,
    });
    expect(r).toMatchObject({ status: 'REJECTED', errors: [expect.stringMatching(/^payload: is not valid/)] });
  });

  it('rejects a bad thing name in the topic and still answers on that topic, with the report id', () => {
    const topic = `$aws/things/${'n'.repeat(129)}/defender/metrics/json`;
    const r = checkReportMessage({ topic, payload: encodeReport(report, 'json', 'long'), nowMs: NOW });
    expect(r).toMatchObject({ status: 'REJECTED', errors: ['thingName: must be at most 128 bytes of UTF-8'], response: { reportId: 42 } });
    if (r.status === 'REJECTED') expect(r.reply!.topic).toBe(`${topic}/rejected`);
    // Errors of the topic and of the payload are reported together.
    const both = checkReportMessage({ topic, payload: json({ header: {} }), nowMs: NOW });
    expect(both.status === 'REJECTED' && both.errors[0]).toBe('thingName: must be at most 128 bytes of UTF-8');
    expect(both.status === 'REJECTED' && both.errors.length).toBeGreaterThan(1);
  });

  it('does not treat answer topics or foreign topics as reports', () => {
    expect(checkReportMessage({ topic: '$aws/things/d/defender/metrics/json/accepted', payload: fixture, nowMs: NOW })).toEqual({
      status: 'NOT_A_REPORT_TOPIC',
      error: 'topic: is an answer topic (/accepted), not a report topic',
    });
    expect(checkReportMessage({ topic: 'sensors/d/json', payload: fixture, nowMs: NOW })).toMatchObject({ status: 'NOT_A_REPORT_TOPIC' });
  });

  it('without a topic, answers without a thing name and without a reply', () => {
    const r = checkReportMessage({ payload: json({ header: { report_id: 1, version: '1.0' } }), nowMs: NOW });
    expect(r).toEqual({
      status: 'REJECTED',
      format: 'json',
      errors: ['(root): must have metrics or custom_metrics (or both)'],
      response: {
        reportId: 1,
        status: 'REJECTED',
        statusDetails: {
          ErrorCode: 'InvalidPayload',
          ErrorMessage: 'Malformed metrics report: (root): must have metrics or custom_metrics (or both)',
        },
        timestamp: NOW,
      },
    });
  });

  it('spells out at most 10 errors in ErrorMessage and counts the rest', () => {
    const ports = Array.from({ length: 15 }, () => ({ port: 0 }));
    const r = checkReportMessage({
      payload: json({ header: { report_id: 1, version: '1.0' }, metrics: { listening_tcp_ports: { ports } } }),
      nowMs: NOW,
    });
    expect(r.status === 'REJECTED' && r.errors).toHaveLength(15);
    expect(r.status === 'REJECTED' && r.response.statusDetails.ErrorMessage).toMatch(
      /ports\[9\]\.port: must be a positive integer; \(5 more\)$/,
    );
  });
});

describe('parseReportResponse: answers from the service', () => {
  it('reads the documented examples, keeping an unknown ErrorCode opaque', () => {
    const rejected = json({
      thingName: 'myThing',
      status: 'REJECTED',
      statusDetails: { ErrorCode: 'SomethingNew', ErrorMessage: 'Malformed metrics report' },
      timestamp: 1635802047699,
    });
    expect(parseReportResponse(rejected, 'json')).toEqual({
      ok: true,
      response: {
        thingName: 'myThing',
        status: 'REJECTED',
        statusDetails: { ErrorCode: 'SomethingNew', ErrorMessage: 'Malformed metrics report' },
        timestamp: 1635802047699,
      },
    });
    const accepted = cborEncode({ thingName: 'myThing', reportId: 12334567, status: 'ACCEPTED', timestamp: 1635801636023 });
    expect(parseReportResponse(accepted, 'cbor')).toEqual({
      ok: true,
      response: { thingName: 'myThing', reportId: 12334567, status: 'ACCEPTED', timestamp: 1635801636023 },
    });
  });

  it('round-trips our own answers and refuses malformed ones', () => {
    const r = checkReportMessage({ topic: '$aws/things/d/defender/metrics/json', payload: json({ header: {} }), nowMs: NOW });
    if (r.status !== 'REJECTED') throw new Error('expected a rejection');
    expect(parseReportResponse(r.reply!.payload, 'json')).toEqual({ ok: true, response: r.response });
    expect(parseReportResponse(json({ status: 'ACCEPTED', timestamp: 1 }), 'json')).toEqual({
      ok: false,
      error: 'reportId: is required in an accepted response',
    });
    expect(parseReportResponse(json({ status: 'MAYBE', timestamp: 1 }), 'json')).toEqual({
      ok: false,
      error: 'status: must be "ACCEPTED" or "REJECTED"',
    });
    expect(parseReportResponse(json([1]), 'json')).toEqual({ ok: false, error: '(root): must be an object' });
    expect(parseReportResponse(Buffer.from('nope'), 'json')).toMatchObject({ ok: false });
  });
});

describe('answer topics only from publishable parts', () => {
  it('rejects a report whose thing segment holds a wildcard or U+0000 without an answer topic', () => {
    const payload = Buffer.from(JSON.stringify({ header: { report_id: 5, version: '1.0' }, metrics: {} }));
    for (const thing of ['a+b', 'a#', 'x\u0000y', 'x\ud800']) {
      const r = checkReportMessage({ topic: `$aws/things/${thing}/defender/metrics/json`, payload, nowMs: 1 });
      expect(r.status).toBe('REJECTED');
      if (r.status !== 'REJECTED') continue;
      expect(r.reply).toBeUndefined();
      expect(r.errors[0]).toMatch(/^thingName: /);
    }
    // `*` is a valid thing-name character, but local PublishToTopic refuses it: judged, not answered.
    const star = checkReportMessage({ topic: '$aws/things/a*b/defender/metrics/json', payload, nowMs: 1 });
    expect(star.status).toBe('ACCEPTED');
    expect(star.status === 'ACCEPTED' && star.reply).toBeUndefined();
    const ok = checkReportMessage({ topic: '$aws/things/a\u0001b/defender/metrics/json', payload, nowMs: 1 });
    expect(ok.status === 'REJECTED' && ok.reply?.topic).toBe('$aws/things/a\u0001b/defender/metrics/json/rejected');
  });
});
