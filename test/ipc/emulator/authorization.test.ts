import { describe, expect, it } from 'vitest';
import { compileResource, isAuthorized, MQTTPROXY, PUBSUB, parseAccessControl } from '../../../src/ipc/emulator/authorization.ts';

const PUB = 'aws.greengrass#PublishToIoTCore';
const SUB = 'aws.greengrass#SubscribeToIoTCore';

function policies(service: string, operations: string[], resources: string[]) {
  return parseAccessControl({ [service]: { 'p:1': { policyDescription: 'd', operations, resources } } });
}

describe('mqttproxy resources (MQTT style)', () => {
  it('`+` matches one level, also a literal `+` in a requested filter', () => {
    const { policies: p } = policies(MQTTPROXY, [PUB, SUB], ['$aws/things/+/defender/metrics/json']);
    expect(isAuthorized(p, MQTTPROXY, PUB, '$aws/things/t1/defender/metrics/json')).toBe(true);
    expect(isAuthorized(p, MQTTPROXY, SUB, '$aws/things/+/defender/metrics/json')).toBe(true);
    expect(isAuthorized(p, MQTTPROXY, PUB, '$aws/things/t1/x/defender/metrics/json')).toBe(false);
  });
  it('`#` matches the rest including the parent; `*` globs across levels', () => {
    const { policies: p } = policies(MQTTPROXY, ['*'], ['a/#', 'b*z']);
    expect(isAuthorized(p, MQTTPROXY, PUB, 'a')).toBe(true);
    expect(isAuthorized(p, MQTTPROXY, PUB, 'a/b/c')).toBe(true);
    expect(isAuthorized(p, MQTTPROXY, SUB, 'a/+')).toBe(true);
    expect(isAuthorized(p, MQTTPROXY, PUB, 'b/x/y/z')).toBe(true);
    expect(isAuthorized(p, MQTTPROXY, PUB, 'ab')).toBe(false);
  });
  it('refuses an operation not listed', () => {
    const { policies: p } = policies(MQTTPROXY, [SUB], ['*']);
    expect(isAuthorized(p, MQTTPROXY, PUB, 'x')).toBe(false);
    expect(isAuthorized(p, MQTTPROXY, SUB, 'x')).toBe(true);
  });
  it('treats `#` not at the end and partial-level `+` literally', () => {
    expect(compileResource('a/#/b', true).test('a/#/b')).toBe(true);
    expect(compileResource('a/#/b', true).test('a/x/b')).toBe(false);
    expect(compileResource('a/b+', true).test('a/b+')).toBe(true);
    expect(compileResource('a/b+', true).test('a/bc')).toBe(false);
  });
});

describe('pubsub resources (STANDARD)', () => {
  it('only `*` is a wildcard; `+` and `#` are literal', () => {
    const { policies: p } = policies(PUBSUB, ['aws.greengrass#PublishToTopic'], ['downstream/*', 'lit/+']);
    expect(isAuthorized(p, PUBSUB, 'aws.greengrass#PublishToTopic', 'downstream/a/b')).toBe(true);
    expect(isAuthorized(p, PUBSUB, 'aws.greengrass#PublishToTopic', 'lit/+')).toBe(true);
    expect(isAuthorized(p, PUBSUB, 'aws.greengrass#PublishToTopic', 'lit/x')).toBe(false);
  });
  it('a policy of one service does not grant another', () => {
    const { policies: p } = policies(PUBSUB, ['*'], ['*']);
    expect(isAuthorized(p, MQTTPROXY, PUB, 'x')).toBe(false);
  });
});

describe('escapes and problems', () => {
  it('${*} is a literal star, a bare ? is skipped with a problem', () => {
    const { policies: p, problems } = policies(PUBSUB, ['*'], ['a/${*}', 'b?']);
    expect(isAuthorized(p, PUBSUB, 'x', 'a/*')).toBe(true);
    expect(isAuthorized(p, PUBSUB, 'x', 'a/b')).toBe(false);
    expect(problems).toEqual([
      { path: 'accessControl.aws.greengrass.ipc.pubsub.p:1.resources', message: expect.stringMatching(/bare '\?'/) },
    ]);
  });
  it('reports malformed policies by path and keeps the good ones', () => {
    const { policies: p, problems } = parseAccessControl({
      [MQTTPROXY]: { good: { operations: ['*'], resources: ['x'] }, bad: { operations: 'x', resources: [] } },
      [PUBSUB]: 'nope',
    });
    expect(p.map((x) => x.id)).toEqual(['good']);
    expect(problems.map((x) => x.path)).toEqual([`accessControl.${MQTTPROXY}.bad.operations`, `accessControl.${PUBSUB}`]);
    expect(parseAccessControl([]).problems[0]).toEqual({ path: 'accessControl', message: 'must be an object' });
  });
});

describe('nucleus lite matching of the same policies', () => {
  const lite = (service: string, operations: string[], resources: string[]) =>
    parseAccessControl({ [service]: { 'p:1': { policyDescription: 'd', operations, resources } } }, { flavor: 'lite', thingName: 'gw1' });

  it('mqttproxy: globs, its topic-filter match and {iot:thingName}', () => {
    const { policies: p, problems } = lite(MQTTPROXY, [PUB, SUB], ['$aws/things/{iot:thingName}/defender/metrics/+', 'x/#', 'y/*']);
    expect(problems).toEqual([]);
    expect(isAuthorized(p, MQTTPROXY, PUB, '$aws/things/gw1/defender/metrics/json')).toBe(true);
    expect(isAuthorized(p, MQTTPROXY, PUB, '$aws/things/other/defender/metrics/json')).toBe(false);
    expect(isAuthorized(p, MQTTPROXY, PUB, 'x/a/b')).toBe(true);
    expect(isAuthorized(p, MQTTPROXY, PUB, 'x')).toBe(false); // lite: `x/#` does not match `x`
    expect(isAuthorized(p, MQTTPROXY, PUB, 'y/a/b')).toBe(true);
  });

  it('pubsub: only globs; `*` alone allows everything', () => {
    const { policies: p } = lite(PUBSUB, ['*'], ['a/+', 'b/*']);
    expect(isAuthorized(p, PUBSUB, 'aws.greengrass#PublishToTopic', 'a/x')).toBe(false);
    expect(isAuthorized(p, PUBSUB, 'aws.greengrass#PublishToTopic', 'a/+')).toBe(true);
    expect(isAuthorized(p, PUBSUB, 'aws.greengrass#PublishToTopic', 'b/x/y')).toBe(true);
    const { policies: all } = lite(PUBSUB, ['*'], ['*']);
    expect(isAuthorized(all, PUBSUB, 'aws.greengrass#SubscribeToTopic', '#')).toBe(true);
  });

  it('a requested resource with a bare ? is refused; an unknown recipe variable skips the resource', () => {
    const { policies: p, problems } = lite(PUBSUB, ['*'], ['*', 'a/{configuration:/x}']);
    expect(isAuthorized(p, PUBSUB, 'x', 'what?')).toBe(false);
    expect(isAuthorized(p, PUBSUB, 'x', 'what${?}')).toBe(true);
    expect(problems).toEqual([
      { path: 'accessControl.aws.greengrass.ipc.pubsub.p:1.resources', message: expect.stringMatching(/recipe variable/) },
    ]);
  });

  it('the Java nucleus keeps {iot:thingName} literal (no interpolation by default)', () => {
    const { policies: p } = parseAccessControl(
      { [MQTTPROXY]: { 'p:1': { policyDescription: 'd', operations: [PUB], resources: ['$aws/things/{iot:thingName}/x'] } } },
      { flavor: 'classic', thingName: 'gw1' },
    );
    expect(isAuthorized(p, MQTTPROXY, PUB, '$aws/things/gw1/x')).toBe(false);
  });
});
