import { describe, expect, it } from 'vitest';
import { actionLine, cloudLine, sampleLine, stamp, violationLine } from '../../src/demo/liveView.ts';
import type { ActionRecord } from '../../src/enforce/actionModel.ts';
import type { ViolationEvent } from '../../src/localrules/contracts.ts';

const T0 = 1_800_000_000_000;
const ev: ViolationEvent = {
  violationId: 'v1',
  thingName: 'GW',
  behavior: 'bytesOut',
  metric: 'aws:all-bytes-out',
  event: 'in-alarm',
  value: { count: 10731 },
  threshold: { count: 10000 },
  comparisonOperator: 'less-than',
  t: T0 + 5100,
  offender: { kind: 'process', pid: 77, comm: 'rogue-agent' },
};

describe('live view lines', () => {
  it('stamps time since the start', () => {
    expect(stamp(T0 + 5149, T0)).toBe('+  5.1s');
  });

  it('a sample shows each demo process with its bytes and 300 s window against the threshold', () => {
    const line = sampleLine(
      {
        t: T0 + 2000,
        durationMs: 44,
        degraded: [],
        processes: [{ role: 'rogue-agent', pid: 77, comm: 'rogue-agent', bytesOut: 3425, windowBytesOut: 4151 }],
      },
      T0,
    );
    expect(line).toBe('+  2.0s  sample  rogue-agent[77] +3425 B (4151/10000 per 300 s)  (44 ms)');
  });

  it('the violation names the process, the value and the criterion', () => {
    expect(violationLine(ev, T0)).toBe(
      '+  5.1s  VIOLATION bytesOut in-alarm: pid 77 (comm rogue-agent) — aws:all-bytes-out = 10731, must be less-than 10000',
    );
  });

  it('the action says what was done, or that nothing was in dry-run', () => {
    const r: ActionRecord = {
      t: T0 + 5200,
      outcome: 'would-apply',
      type: 'process-terminate',
      dryRun: true,
      target: { kind: 'process', pid: 77, startTime: 1, comm: 'rogue-agent' },
      detail: 'dry-run: would process-terminate pid 77',
      violation: {
        violationId: 'v1',
        thingName: 'GW',
        behavior: 'bytesOut',
        metric: 'aws:all-bytes-out',
        event: 'in-alarm',
        t: ev.t,
        offender: ev.offender,
      },
    };
    expect(actionLine(r, T0)).toBe(
      '+  5.2s  ACTION process-terminate [dry-run: nothing changed] would-apply pid 77 (rogue-agent) — dry-run: would process-terminate pid 77',
    );
  });

  it('cloud lines say what reached the cloud', () => {
    const base = { ts: T0 + 5300, qos: 1 };
    expect(
      cloudLine(
        {
          ...base,
          topic: 'defender-edge/GW/violations',
          payload: JSON.stringify({ record: 'violation', behavior: 'bytesOut', event: 'in-alarm' }),
        },
        T0,
        'GW',
      ),
    ).toBe('+  5.3s  cloud ← defender-edge/GW/violations: violation bytesOut in-alarm');
    expect(
      cloudLine(
        { ...base, topic: '$aws/things/GW/defender/metrics/json', payload: JSON.stringify({ header: { report_id: 9 } }) },
        T0,
        'GW',
      ),
    ).toMatch(/Defender report 9 \(gateway\)$/);
    expect(
      cloudLine(
        { ...base, topic: '$aws/things/Dev/defender/metrics/json', payload: JSON.stringify({ header: { report_id: 3 } }) },
        T0,
        'GW',
      ),
    ).toMatch(/report 3 \(downstream device, forwarded\)$/);
    expect(
      cloudLine({ ...base, topic: '$aws/things/GW/defender/metrics/cbor', payload: 'oGE=', payloadEncoding: 'base64' }, T0, 'GW'),
    ).toMatch(/: 4 bytes$/);
  });
});
