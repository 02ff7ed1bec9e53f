import { describe, expect, it } from 'vitest';
import {
  type DeviceGroups,
  isDeviceAuthorized,
  parseAuthConfig,
  parseDeviceGroups,
  parseSelectionRule,
  ruleSelects,
  standardGlobMatches,
  thingNameMatches,
} from '../../../src/ipc/emulator/clientDeviceAuth.ts';

function groups(raw: unknown): DeviceGroups {
  const p = parseDeviceGroups(raw);
  if (!p.ok) throw new Error(p.errors.join('; '));
  return p.value;
}

function selects(rule: string, thing: string): boolean {
  const p = parseSelectionRule(rule);
  if (!p.ok) throw new Error(p.error);
  return ruleSelects(p.expr, thing);
}

describe('selection rules', () => {
  it('thingName with a leading and/or trailing *, AND binding tighter than OR', () => {
    expect(selects('thingName: Sensor1', 'Sensor1')).toBe(true);
    expect(selects('thingName: Sensor1', 'Sensor10')).toBe(false);
    expect(selects('thingName: Sensor*', 'Sensor10')).toBe(true);
    expect(selects('thingName: *-gw', 'kitchen-gw')).toBe(true);
    expect(selects('thingName: *tem*', 'a-tem-b')).toBe(true);
    expect(selects('thingName: *', 'anything')).toBe(true);
    expect(selects('thingName: A OR thingName: B*', 'Bx')).toBe(true);
    expect(selects('thingName: A OR thingName: B*', 'C')).toBe(false);
    expect(selects('thingName:X* AND thingName:*Y', 'XaY')).toBe(true);
    expect(selects('thingName: X* AND thingName: *Y', 'Xa')).toBe(false);
    // a OR (b AND c)
    expect(selects('thingName: a OR thingName: b* AND thingName: *c', 'a')).toBe(true);
    expect(selects('thingName: a OR thingName: b* AND thingName: *c', 'bx')).toBe(false);
  });

  it('refuses what the grammar does not allow, saying where', () => {
    expect(parseSelectionRule('thingname: X')).toEqual({ ok: false, error: "unexpected ':' at column 10" }); // case matters
    expect(parseSelectionRule('thingName: a*b')).toEqual({ ok: false, error: expect.stringMatching(/'b' at column 14/) });
    expect(parseSelectionRule('thingName: X OR')).toEqual({ ok: false, error: expect.stringMatching(/the end of the rule/) });
    expect(parseSelectionRule('thingName: a/b')).toEqual({ ok: false, error: "unexpected '/' at column 13" });
    expect(parseSelectionRule('thingName: X or thingName: Y')).toMatchObject({ ok: false });
  });

  it('wildcard suffix attribute semantics', () => {
    expect(thingNameMatches('*', '')).toBe(true);
    expect(thingNameMatches('ab*', 'a')).toBe(false);
    expect(thingNameMatches('*ab', 'xab')).toBe(true);
  });
});

describe('deviceGroups configuration', () => {
  it('reads keys case-insensitively, warns about unknown keys, defaults effect to ALLOW', () => {
    const p = parseDeviceGroups({
      FormatVersion: '2021-03-05',
      definitions: { g: { SelectionRule: 'thingName: d*', policyname: 'p', comment: 'x' } },
      policies: { p: { s: { operations: ['mqtt:connect'], resources: ['mqtt:clientId:*'], Effect: 'allow' } } },
    });
    expect(p).toMatchObject({ ok: true, warnings: ['deviceGroups.definitions.g.comment: unknown key, ignored'] });
  });

  it('refuses a DENY effect, a missing policy, unknown variables and bad rules, naming the field', () => {
    const p = parseDeviceGroups({
      formatVersion: '2020-01-01',
      definitions: {
        a: { selectionRule: 'thingName: x', policyName: 'missing' },
        b: { selectionRule: 'thingName x', policyName: 'p' },
        c: { policyName: 'p' },
      },
      policies: {
        p: {
          deny: { effect: 'DENY', operations: ['mqtt:publish'], resources: ['mqtt:topic:a'] },
          vars: { operations: ['mqtt:publish'], resources: ['mqtt:topic:${iot:ClientId}/x', 'mqtt:topic:${*}'] },
          notList: { operations: 'mqtt:publish', resources: ['x'] },
        },
      },
    });
    expect(p.ok).toBe(false);
    expect(!p.ok && p.errors).toEqual([
      'deviceGroups.formatVersion: must be "2021-03-05", not "2020-01-01"',
      'deviceGroups.policies.p.deny.effect: "DENY" is not supported; the only effect is ALLOW',
      'deviceGroups.policies.p.vars.resources[0]: Policy contains unknown variables: ${iot:ClientId} (only ${iot:Connection.Thing.ThingName})',
      'deviceGroups.policies.p.vars.resources[1]: Policy contains unknown variables: ${*} (only ${iot:Connection.Thing.ThingName})',
      'deviceGroups.policies.p.notList.operations: must be a list of strings',
      'deviceGroups.definitions.a.policyName: Policy definition missing does not have a corresponding policy',
      expect.stringMatching(/^deviceGroups\.definitions\.b\.selectionRule: expected 'thingName:' but found 'thingName' at column 1/),
      'deviceGroups.definitions.c.selectionRule: required, a string such as "thingName: MyDevice*"',
    ]);
  });

  it('an absent configuration has no groups: every device is denied', () => {
    const p = parseAuthConfig(undefined);
    expect(p).toEqual({ ok: true, value: { groups: [] }, warnings: [] });
    expect(isDeviceAuthorized((p as { value: DeviceGroups }).value, 'd', 'mqtt:connect', 'mqtt:clientId:d')).toBe(false);
    expect(parseAuthConfig({ deviceGroups: 5 })).toMatchObject({
      ok: false,
      errors: [expect.stringMatching(/deviceGroups: must be an object/)],
    });
  });
});

describe('authorization', () => {
  const g = groups({
    definitions: {
      sensors: { selectionRule: 'thingName: sensor-*', policyName: 'sensorPolicy' },
      admin: { selectionRule: 'thingName: admin', policyName: 'adminPolicy' },
    },
    policies: {
      sensorPolicy: {
        connect: { operations: ['mqtt:connect'], resources: ['mqtt:clientId:${iot:Connection.Thing.ThingName}'] },
        plus: { operations: ['mqtt:publish'], resources: ['mqtt:topic:$aws/things/${iot:Connection.Thing.ThingName}/defender/metrics/+'] },
        star: { operations: ['mqtt:publish'], resources: ['mqtt:topic:data/${iot:Connection.Thing.ThingName}/*'] },
        hash: { operations: ['mqtt:subscribe'], resources: ['mqtt:topicfilter:answers/#'] },
      },
      adminPolicy: { all: { operations: ['mqtt:*'], resources: ['*'] } },
    },
  });

  it('a policy resource with + denies the concrete topic: + is a literal character', () => {
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:publish', 'mqtt:topic:$aws/things/sensor-1/defender/metrics/json')).toBe(false);
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:publish', 'mqtt:topic:$aws/things/sensor-1/defender/metrics/+')).toBe(true);
  });

  it('* allows any characters, / included', () => {
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:publish', 'mqtt:topic:data/sensor-1/a/b/c')).toBe(true);
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:publish', 'mqtt:topic:data/sensor-1/')).toBe(true);
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:publish', 'mqtt:topic:data/sensor-1')).toBe(false);
  });

  it('# is literal too: a filter is matched as a string', () => {
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:subscribe', 'mqtt:topicfilter:answers/#')).toBe(true);
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:subscribe', 'mqtt:topicfilter:answers/x')).toBe(false);
  });

  it("the thing-name variable is the device's own thing name", () => {
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:connect', 'mqtt:clientId:sensor-1')).toBe(true);
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:connect', 'mqtt:clientId:sensor-2')).toBe(false);
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:publish', 'mqtt:topic:data/sensor-2/x')).toBe(false);
  });

  it('operations: exact, <service>:* and *; devices outside every group are denied', () => {
    expect(isDeviceAuthorized(g, 'sensor-1', 'mqtt:subscribe', 'mqtt:topicfilter:data/sensor-1/x')).toBe(false);
    expect(isDeviceAuthorized(g, 'admin', 'mqtt:subscribe', 'mqtt:topicfilter:#')).toBe(true);
    expect(isDeviceAuthorized(g, 'stranger', 'mqtt:connect', 'mqtt:clientId:stranger')).toBe(false);
  });

  it('a malformed resource name is denied even under *', () => {
    expect(isDeviceAuthorized(g, 'admin', 'mqtt:publish', 'mqtt:topic:a\u0000b')).toBe(false);
    expect(isDeviceAuthorized(g, 'admin', 'mqtt:publish', 'mqtt:topic:température/x')).toBe(true);
  });

  it('standard glob', () => {
    expect(standardGlobMatches('a*b*c', 'aXbYc')).toBe(true);
    expect(standardGlobMatches('a*b*c', 'acb')).toBe(false);
    expect(standardGlobMatches('ab*ba', 'aba')).toBe(false);
    expect(standardGlobMatches('a+b', 'a+b')).toBe(true);
  });
});
