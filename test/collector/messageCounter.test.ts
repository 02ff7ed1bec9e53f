import { describe, expect, it } from 'vitest';
import { compileTopicPattern, MessageCounter, matchTopic, type TopicPattern } from '../../src/collector/messageCounter.ts';

const compile = (s: string) => compileTopicPattern(s) as TopicPattern;

describe('topic patterns with {thingName}', () => {
  it('rejects malformed patterns with a reason', () => {
    expect(compileTopicPattern('devices/#')).toBe('must contain {thingName} as a whole topic level');
    expect(compileTopicPattern('a/{thingName}/{thingName}')).toBe('must contain {thingName} only once');
    expect(compileTopicPattern('a/x{thingName}')).toMatch(/must be a whole topic level/);
    expect(compileTopicPattern('a/{thingName}/#/b')).toBe("level 3: '#' must be the last level");
    expect(compileTopicPattern('a+/{thingName}')).toMatch(/must occupy a whole level/);
    expect(compileTopicPattern('')).toBe('must be 1–512 characters');
  });

  it('matches +, # (including zero levels) and extracts the thing name', () => {
    const p = compile('devices/{thingName}/#');
    expect(matchTopic(p, 'devices/sensor-1/telemetry/temp')).toBe('sensor-1');
    expect(matchTopic(p, 'devices/sensor-1')).toBe('sensor-1');
    expect(matchTopic(p, 'devices//x')).toBeUndefined();
    expect(matchTopic(p, 'other/sensor-1/x')).toBeUndefined();
    const q = compile('site/+/{thingName}/events');
    expect(matchTopic(q, 'site/7/cam/events')).toBe('cam');
    expect(matchTopic(q, 'site/7/cam/events/extra')).toBeUndefined();
    expect(matchTopic(q, 'site/7/cam')).toBeUndefined();
  });

  it('keeps $ topics away from wildcard-first patterns (MQTT rule)', () => {
    expect(matchTopic(compile('{thingName}/#'), '$aws/things/x')).toBeUndefined();
    expect(matchTopic(compile('$aws/things/{thingName}/#'), '$aws/things/x/shadow')).toBe('x');
  });
});

describe('MessageCounter', () => {
  it('counts sent/received messages and bytes per known thing per interval', () => {
    const known = new Set(['a', 'b']);
    const m = new MessageCounter(['devices/{thingName}/#', 'cmd/{thingName}'], { isKnownThing: (n) => known.has(n) });
    expect(m.record('devices/a/t', 100, 'sent', 1)).toBe('a');
    m.record('devices/a/t', 300, 'sent', 2);
    m.record('cmd/a', 10, 'received', 3);
    m.record('cmd/b', 5, 'received', 4);
    expect(m.record('devices/zz/t', 5, 'sent', 5)).toBeUndefined(); // not a known thing
    expect(m.record('nope', 5, 'sent', 6)).toBeUndefined();
    const d = m.drain();
    expect(d.totals.get('a')).toEqual({ sent: 2, received: 1, bytes: 410, maxMessageBytes: 300, lastT: 3 });
    expect(d.totals.get('b')).toEqual({ sent: 0, received: 1, bytes: 5, maxMessageBytes: 5, lastT: 4 });
    expect(d.unmatched).toBe(2);
    expect(m.drain().totals.size).toBe(0); // a new interval starts empty
  });

  it('bounds distinct things per interval and rejects bad sizes without counting', () => {
    const m = new MessageCounter(['d/{thingName}'], { maxThings: 2 });
    m.record('d/x', 1, 'sent', 0);
    m.record('d/y', 1, 'sent', 0);
    expect(m.record('d/z', 1, 'sent', 0)).toBeUndefined();
    expect(() => m.record('d/x', -1, 'sent', 0)).toThrow(/bytes: must be a finite number >= 0/);
    expect(() => m.record('d/x', Number.NaN, 'sent', 0)).toThrow(RangeError);
    const d = m.drain();
    expect(d.dropped).toBe(1);
    expect(d.totals.get('x')!.sent).toBe(1);
  });

  it('refuses an invalid pattern at construction, naming the config path', () => {
    expect(() => new MessageCounter(['ok/{thingName}', 'bad/#'])).toThrow(
      'downstream.messageTopics[1]: must contain {thingName} as a whole topic level',
    );
  });
});
