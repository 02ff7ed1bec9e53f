// The Enforcer's guard on its input: events come from our own evaluator, but a malformed one must be
// counted and logged with the field that is wrong, never crash enforcement (contracts.ts ViolationEvent).
const EVENTS = new Set(['in-alarm', 'alarm-cleared', 'alarm-invalidated']);
const OFFENDERS = new Set(['host', 'process', 'device']);

/** `path: message` for the first problem, or null. */
export function checkViolationEvent(ev: unknown): string | null {
  if (typeof ev !== 'object' || ev === null) return '(root): must be an object';
  const e = ev as Record<string, unknown>;
  // violationId is 1-128 of [a-zA-Z0-9-] (API ViolationEvent)
  if (typeof e.violationId !== 'string' || !/^[a-zA-Z0-9-]{1,128}$/.test(e.violationId))
    return 'violationId: must match [a-zA-Z0-9-]{1,128}';
  if (typeof e.thingName !== 'string' || e.thingName.length < 1 || e.thingName.length > 128)
    return 'thingName: must be a string of 1-128 characters';
  if (typeof e.behavior !== 'string') return 'behavior: must be a string';
  if (typeof e.metric !== 'string') return 'metric: must be a string';
  if (typeof e.event !== 'string' || !EVENTS.has(e.event)) return 'event: must be one of in-alarm, alarm-cleared, alarm-invalidated';
  if (typeof e.t !== 'number' || !Number.isFinite(e.t)) return 't: must be a number (ms since the epoch)';
  const o = e.offender as Record<string, unknown> | undefined;
  if (typeof o !== 'object' || o === null || typeof o.kind !== 'string' || !OFFENDERS.has(o.kind))
    return 'offender.kind: must be one of host, process, device';
  if (o.kind === 'process' && (typeof o.pid !== 'number' || typeof o.comm !== 'string'))
    return 'offender: a process offender needs pid (number) and comm (string)';
  if (o.kind === 'device' && (typeof o.thingName !== 'string' || !Array.isArray(o.addresses)))
    return 'offender: a device offender needs thingName and addresses';
  if (e.action !== undefined) {
    const a = e.action as Record<string, unknown>;
    if (typeof a !== 'object' || a === null || typeof a.type !== 'string') return 'action.type: must be a string';
    if (a.ttlSeconds !== undefined && (typeof a.ttlSeconds !== 'number' || !(a.ttlSeconds > 0)))
      return 'action.ttlSeconds: must be a positive number';
  }
  return null;
}
