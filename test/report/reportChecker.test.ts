import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log.ts';
import { ReportChecker } from '../../src/report/reportChecker.ts';

function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger: Logger = pino({ level: 'info' }, stream);
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const topic = '$aws/things/sensor-1/defender/metrics/json';
const body = (o: unknown) => Buffer.from(JSON.stringify(o));

describe('ReportChecker', () => {
  it('counts every outcome and logs each rejection with its path: message errors', async () => {
    const { logger, lines } = capturingLogger();
    const checker = new ReportChecker(logger);
    expect(checker.check({ topic, payload: body({ header: { report_id: 1, version: '1.0' }, metrics: {} }), nowMs: 1 }).status).toBe(
      'ACCEPTED',
    );
    expect(
      checker.check({
        topic,
        payload: body({ header: { report_id: 2, version: '1.0' }, metrics: { network_stats: { bytes_in: -1 } } }),
        nowMs: 2,
      }).status,
    ).toBe('REJECTED');
    expect(
      checker.check({
        topic,
        payload: body({ header: { report_id: 3, version: '1.0' }, custom_metrics: { s: [{ string_list: ['a b'] }] } }),
        nowMs: 3,
      }).status,
    ).toBe('ACCEPTED');
    expect(checker.check({ topic: 'not/a/report', payload: body({}), nowMs: 4 }).status).toBe('NOT_A_REPORT_TOPIC');
    expect(checker.counters).toEqual({ accepted: 2, rejected: 1, notAReportTopic: 1, acceptedWithWarnings: 1 });
    await new Promise((r) => setImmediate(r));
    const logged = lines();
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: 'report rejected',
        thingName: 'sensor-1',
        reportId: 2,
        errors: ['metrics.network_stats.bytes_in: must be >= 0'],
      }),
    );
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 30,
        thingName: 'sensor-1',
        reportId: 3,
        warnings: [expect.stringMatching(/^custom_metrics\.s\[0\]\.string_list\[0\]: /)],
      }),
    );
    expect(logged).toContainEqual(expect.objectContaining({ level: 40, topic: 'not/a/report' }));
  });
});
