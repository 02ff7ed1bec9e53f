// The test evaluator of AWS IoT SQL follows the documented semantics of its subset (iot-sql-operators.md):
// a wrong evaluator would make the rule tests pass for the wrong reason.
import { describe, expect, it } from 'vitest';
import { alertSql, HEARTBEAT_SQL, VIOLATION_EVENTS_SQL } from '../lib/rules.ts';
import { evaluate, parseExpr, parseSql, runRule, substitute, topicMatches, UNDEFINED } from './iotSql.ts';

const ctx = { topic: 'defender-edge/gw-1/violations', now: 1_700_000_000_123 };
const ev = (expr: string, payload: unknown = {}) => evaluate(parseExpr(expr), payload, ctx);

describe('IoT SQL subset', () => {
  it('comparisons: Undefined propagates, mismatched types are unequal, objects compare by value', () => {
    expect(ev("a = 'x'", { a: 'x' })).toBe(true);
    expect(ev("a = 'x'")).toBe(UNDEFINED);
    expect(ev("a <> 'x'")).toBe(UNDEFINED);
    expect(ev("a = '1'", { a: 1 })).toBe(false);
    expect(ev("a <> '1'", { a: 1 })).toBe(true);
    expect(ev('a = false', { a: false })).toBe(true);
    expect(ev('a.b = b', { a: { b: { x: [1, 2] } }, b: { x: [1, 2] } })).toBe(true);
    expect(ev('a > 2', { a: 3 })).toBe(true);
    expect(ev("a > 'x'", { a: 3 })).toBe(UNDEFINED);
  });

  it('AND / OR / NOT take Booleans or "true"/"false" strings; anything else, Undefined included, gives Undefined', () => {
    expect(ev('true AND false')).toBe(false);
    expect(ev("'TRUE' OR false")).toBe(true);
    expect(ev('NOT a', { a: 'false' })).toBe(true);
    expect(ev('x OR true')).toBe(UNDEFINED);
    expect(ev('isUndefined(x) OR x = false')).toBe(UNDEFINED);
    expect(ev('NOT 1')).toBe(UNDEFINED);
  });

  it('arithmetic, string concatenation and the functions used', () => {
    expect(ev('floor(timestamp() / 1000) + 60')).toBe(1_700_000_060);
    expect(ev("'a' + 1")).toBe('a1');
    expect(ev('topic(2)')).toBe('gw-1');
    expect(ev('topic(9)')).toBe(UNDEFINED);
    expect(ev('isUndefined(q)')).toBe(true);
    expect(() => parseExpr('upper(x)')).toThrow(/outside the supported subset/);
    expect(() => parseSql("SELECT * FROM 'a' WHERE a LIKE 'b'")).toThrow();
  });

  it('FROM filters, WHERE, projections and aliases', () => {
    expect(topicMatches('defender-edge/+/violations', 'defender-edge/gw-1/violations')).toBe(true);
    expect(topicMatches('defender-edge/+/violations', 'defender-edge/gw-1/heartbeat')).toBe(false);
    expect(topicMatches('a/#', 'a/b/c')).toBe(true);
    expect(runRule(HEARTBEAT_SQL, 'defender-edge/gw-9/heartbeat', { rssBytes: 5 })).toEqual({
      selected: true,
      output: { rssBytes: 5, gateway: 'gw-9' },
    });
    expect(runRule(VIOLATION_EVENTS_SQL, 'defender-edge/gw-9/heartbeat', { record: 'violation' }).selected).toBe(false);
  });

  it('the alert rule leaves out suppressed violations, other events, other records, and records without suppressAlerts', () => {
    const sql = alertSql(30);
    const v = { record: 'violation', event: 'in-alarm', violationId: 'v1', suppressAlerts: false };
    expect(runRule(sql, ctx.topic, v, ctx.now)).toEqual({ selected: true, output: { ...v, expiresAt: 1_700_000_000 + 30 * 86_400 } });
    expect(runRule(sql, ctx.topic, { ...v, suppressAlerts: true }).selected).toBe(false);
    expect(runRule(sql, ctx.topic, { ...v, event: 'alarm-cleared' }).selected).toBe(false);
    expect(runRule(sql, ctx.topic, { ...v, record: 'action' }).selected).toBe(false);
    const { suppressAlerts: _, ...withoutFlag } = v;
    expect(runRule(sql, ctx.topic, withoutFlag).selected).toBe(false);
  });

  it('substitution templates read the incoming payload; an undefined part is reported', () => {
    expect(substitute('${violation.thingName}', ctx.topic, { violation: { thingName: 'sensor-1' } })).toBe('sensor-1');
    expect(substitute('${topic(2)}', ctx.topic, {})).toBe('gw-1');
    expect(substitute('${outcome}', ctx.topic, {})).toBeUndefined();
  });
});
