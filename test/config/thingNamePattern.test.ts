import { describe, expect, it } from 'vitest';
import { validateComponentConfig } from '../../src/agent/configChecks.ts';
import { Collector } from '../../src/collector/collector.ts';
import { compileThingNamePattern, nestedRepetition, thingNamePatternProblems } from '../../src/config/thingNamePattern.ts';
import { defaultConfig } from '../../src/config/validate.ts';
import { silentLogger } from '../../src/log.ts';

describe('downstream.thingNamePattern', () => {
  it('must match the whole thing name, alternatives included', () => {
    const re = compileThingNamePattern('sensor-[0-9]+');
    expect(re.test('sensor-12')).toBe(true);
    expect(re.test('evil-sensor-12')).toBe(false);
    expect(re.test('sensor-12-evil')).toBe(false);
    const alt = compileThingNamePattern('gw|cam-[a-z]+');
    expect(alt.test('gw')).toBe(true);
    expect(alt.test('gwx')).toBe(false);
    expect(alt.test('xcam-a')).toBe(false);
  });

  it.each([
    ['(a+)+', 3],
    ['(a*)*', 3],
    ['^(\\d+\\.)+x$', 7],
    ['(?:ab+)*', 6],
    ['((a)+)+', 5],
    ['(a{1,3}){2,}', 7],
    ['(x[a-z]+?)+', 9],
    ['ok|(b+)*', 6],
  ])('refuses the nested unbounded repetition in %s', (pattern, offset) => {
    expect(nestedRepetition(pattern)).toBe(offset);
    const problems = thingNamePatternProblems(pattern);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^downstream\.thingNamePattern: the group ending at offset \d+ repeats without bound/);
  });

  it.each([
    'sensor-[0-9]+',
    '(ab)+',
    '(a|b)+',
    '(\\d{1,3}\\.){3}\\d{1,3}',
    '(a+)?',
    '[(+)]+',
    '\\(a+\\)+',
    'a{2}',
    '(a{1})+',
    'x{',
    '[\\]+]+(c)+',
  ])('accepts %s', (pattern) => {
    expect(nestedRepetition(pattern)).toBeUndefined();
    expect(thingNamePatternProblems(pattern)).toEqual([]);
  });

  it('names the field for a pattern that does not compile, also one that would only compile wrapped', () => {
    expect(thingNamePatternProblems('([')).toEqual([
      expect.stringMatching(/^downstream\.thingNamePattern: is not a valid regular expression/),
    ]);
    // `^(?:x)|(?:.*)$` would accept every name.
    expect(thingNamePatternProblems('x)|(?:.*')).toEqual([
      expect.stringMatching(/^downstream\.thingNamePattern: is not a valid regular expression/),
    ]);
    expect(nestedRepetition('a)+(b+)+')).toBe(6);
  });

  it('is refused by the component configuration check, which keeps the last good configuration', () => {
    const raw = { downstream: { thingNamePattern: 'dev-(x+)*' } };
    const r = validateComponentConfig(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join('\n')).toMatch(/downstream\.thingNamePattern: the group ending at offset 7/);
  });

  it('counts messages only for names the whole pattern matches (the same rule as the report intake)', () => {
    const config = defaultConfig();
    config.downstream.thingNamePattern = 'sensor-[0-9]+';
    config.downstream.messageTopics = ['devices/{thingName}/telemetry'];
    const collector = new Collector({ config, logger: silentLogger() });
    expect(collector.messages.record('devices/sensor-7/telemetry', 10, 'sent', 1)).toBe('sensor-7');
    expect(collector.messages.record('devices/evil-sensor-7/telemetry', 10, 'sent', 1)).toBeUndefined();
    expect(collector.messages.record('devices/sensor-7x/telemetry', 10, 'sent', 1)).toBeUndefined();
  });
});
