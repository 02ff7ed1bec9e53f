// In-alarm violation events as the evaluator hands them to the enforcer, for tests that drive enforcement
// directly: a downstream device's or a gateway process's bytesOut over its threshold. Not a test file.
import { randomUUID } from 'node:crypto';
import type { ActionSpec, Offender, ViolationEvent } from '../../src/localrules/contracts.ts';
import { startTimeOf } from './children.ts';

/** bytesOut 50,000 over a threshold of 10,000, now, with a fresh violation id. */
function bytesOutAlarm(thingName: string, offender: Offender, action: ActionSpec, over: Partial<ViolationEvent>): ViolationEvent {
  return {
    violationId: randomUUID(),
    thingName,
    behavior: 'bytesOut',
    metric: 'aws:all-bytes-out',
    event: 'in-alarm',
    t: Date.now(),
    value: { count: 50_000 },
    threshold: { count: 10_000 },
    comparisonOperator: 'less-than',
    offender,
    action,
    ...over,
  };
}

export interface DeviceAlarmTarget {
  addresses: string[];
  /** default sensor-1 */
  thingName?: string;
  interface?: string;
}

/** A downstream device in alarm, carrying `action`. */
export function deviceAlarm(action: ActionSpec, device: DeviceAlarmTarget, over: Partial<ViolationEvent> = {}): ViolationEvent {
  const thingName = device.thingName ?? 'sensor-1';
  const offender: Offender = {
    kind: 'device',
    thingName,
    addresses: device.addresses,
    ...(device.interface ? { interface: device.interface } : {}),
  };
  return bytesOutAlarm(thingName, offender, action, over);
}

export interface ProcessAlarmTarget {
  pid: number;
  /** default node (the test's own children) */
  comm?: string;
  /** default: read from /proc now */
  startTime?: number;
}

/** A process of the gateway in alarm, carrying `action`. */
export function processAlarm(p: ProcessAlarmTarget, action: ActionSpec, over: Partial<ViolationEvent> = {}): ViolationEvent {
  const offender: Offender = { kind: 'process', pid: p.pid, comm: p.comm ?? 'node', startTime: p.startTime ?? startTimeOf(p.pid) };
  return bytesOutAlarm('gateway', offender, action, over);
}
