import { decode as decodeCbor, encode as encodeCbor } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { parseReportTopic, replyToReport, reportIdOf, wellFormedValidator } from '../../../src/ipc/emulator/defenderEndpoint.ts';

const T = '$aws/things/gw1/defender/metrics/json';

describe('Device Defender endpoint', () => {
  it('parses report topics only', () => {
    expect(parseReportTopic(T)).toEqual({ thingName: 'gw1', format: 'json' });
    expect(parseReportTopic('$aws/things/gw1/defender/metrics/cbor')).toEqual({ thingName: 'gw1', format: 'cbor' });
    expect(parseReportTopic(`${T}/accepted`)).toBeNull();
    expect(parseReportTopic('$aws/things/gw1/defender/metrics/xml')).toBeNull();
  });

  it('reads report_id from long and short headers', () => {
    expect(reportIdOf({ header: { report_id: 7, version: '1.0' } })).toBe(7);
    expect(reportIdOf({ hed: { rid: 8, v: '1.0' } })).toBe(8);
    expect(reportIdOf({ metrics: {} })).toBeUndefined();
  });

  it('accepts well-formed JSON with the documented accepted shape', () => {
    const r = replyToReport(
      T,
      Buffer.from('{"header":{"report_id":42,"version":"1.0"},"metrics":{}}'),
      wellFormedValidator,
      1_700_000_000_123,
    );
    expect(r?.topic).toBe(`${T}/accepted`);
    expect(JSON.parse(r!.payload.toString())).toEqual({ thingName: 'gw1', reportId: 42, status: 'ACCEPTED', timestamp: 1_700_000_000_123 });
  });

  it('rejects malformed JSON with InvalidPayload and no reportId', () => {
    const r = replyToReport(T, Buffer.from('{"header":'), wellFormedValidator, 5);
    expect(r?.topic).toBe(`${T}/rejected`);
    expect(JSON.parse(r!.payload.toString())).toEqual({
      thingName: 'gw1',
      status: 'REJECTED',
      statusDetails: { ErrorCode: 'InvalidPayload', ErrorMessage: 'Malformed metrics report' },
      timestamp: 5,
    });
  });

  it('answers CBOR reports in CBOR, and uses a plugged-in validator', () => {
    const topic = '$aws/things/gw1/defender/metrics/cbor';
    const payload = Buffer.from(encodeCbor({ hed: { rid: 9, v: '1.0' } }));
    const r = replyToReport(topic, payload, () => ({ accepted: false, errorCode: 'X', errorMessage: 'nope' }), 1);
    expect(r?.topic).toBe(`${topic}/rejected`);
    expect(decodeCbor(r!.payload)).toEqual({
      thingName: 'gw1',
      reportId: 9,
      status: 'REJECTED',
      statusDetails: { ErrorCode: 'X', ErrorMessage: 'nope' },
      timestamp: 1,
    });
  });

  it('a validator that throws gives a rejection, not a crash', () => {
    const r = replyToReport(
      T,
      Buffer.from('{}'),
      () => {
        throw new Error('boom');
      },
      1,
    );
    expect(JSON.parse(r!.payload.toString()).statusDetails.ErrorMessage).toMatch(/boom/);
  });
});
