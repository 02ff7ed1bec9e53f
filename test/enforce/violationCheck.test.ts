import { describe, expect, it } from 'vitest';
import { checkViolationEvent } from '../../src/enforce/violationCheck.ts';

const good = {
  violationId: 'v-1',
  thingName: 'gw',
  behavior: 'bytesOut',
  metric: 'aws:all-bytes-out',
  event: 'in-alarm',
  t: 1,
  offender: { kind: 'process', pid: 10, comm: 'x' },
  action: { type: 'process-suspend' },
};

describe('violation event guard', () => {
  it('accepts a well-formed event', () => {
    expect(checkViolationEvent(good)).toBeNull();
  });

  it('names the bad field', () => {
    expect(checkViolationEvent(null)).toBe('(root): must be an object');
    expect(checkViolationEvent({ ...good, violationId: 'a b' })).toMatch(/^violationId: /);
    expect(checkViolationEvent({ ...good, event: 'on-fire' })).toMatch(/^event: /);
    expect(checkViolationEvent({ ...good, t: 'now' })).toMatch(/^t: /);
    expect(checkViolationEvent({ ...good, offender: { kind: 'process', pid: '10' } })).toMatch(/^offender: /);
    expect(checkViolationEvent({ ...good, offender: { kind: 'cat' } })).toMatch(/^offender\.kind: /);
    expect(checkViolationEvent({ ...good, action: { type: 'process-suspend', ttlSeconds: -5 } })).toMatch(/^action\.ttlSeconds: /);
  });
});
