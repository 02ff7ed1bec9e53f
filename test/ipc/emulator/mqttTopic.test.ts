import { describe, expect, it } from 'vitest';
import {
  classicPubsubMatches,
  filterProblem,
  liteMqttFilterMatches,
  publishTopicProblem,
  topicMatchesFilter,
} from '../../../src/ipc/emulator/mqttTopic.ts';

describe('topicMatchesFilter', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'x/y', true],
    ['+/+', 'x/y', true],
    ['a/b', 'a/c', false],
    ['$aws/things/+/defender/metrics/json/+', '$aws/things/t1/defender/metrics/json/accepted', true],
    ['#', '$aws/things/t1', false],
    ['+/things/x', '$aws/things/x', false],
  ])('%s vs %s → %s', (filter, topic, want) => {
    expect(topicMatchesFilter(filter, topic)).toBe(want);
  });
});

describe('filterProblem', () => {
  it('accepts valid filters and names the problem of invalid ones', () => {
    expect(filterProblem('a/+/#')).toBeNull();
    expect(filterProblem('')).toMatch(/empty/);
    expect(filterProblem('a/#/b')).toMatch(/'#'/);
    expect(filterProblem('a/b+')).toMatch(/'\+'/);
  });
});

describe('publishTopicProblem (nucleus IotCoreTopicValidator rules)', () => {
  it('accepts Device Defender topics and normal topics within limits', () => {
    expect(publishTopicProblem('$aws/things/t/defender/metrics/json')).toBeNull();
    expect(publishTopicProblem('a/b/c/d/e/f/g/h')).toBeNull(); // 7 slashes
  });
  it('refuses wildcards, empty, more than 7 slashes, over 256 characters', () => {
    expect(publishTopicProblem('a/+')).toMatch(/wildcard/);
    expect(publishTopicProblem('')).toMatch(/empty/);
    expect(publishTopicProblem('a/b/c/d/e/f/g/h/i')).toMatch(/8 forward slashes/);
    expect(publishTopicProblem('x'.repeat(257))).toMatch(/257 characters/);
  });
  it('does not count the $aws/rules/<rule>/ prefix, and unknown $ topics only need ≤ 512', () => {
    expect(publishTopicProblem('$aws/rules/r1/a/b/c/d/e/f/g/h')).toBeNull();
    expect(publishTopicProblem(`$custom/${'y'.repeat(400)}`)).toBeNull();
    expect(publishTopicProblem(`$custom/${'y'.repeat(600)}`)).toMatch(/512/);
  });
});

describe('classicPubsubMatches (the Java nucleus SubscriptionTrie)', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a/b/c', true],
    // unlike MQTT: `a/#` does not match `a`, and wildcards match topics starting with `$`
    ['a/#', 'a', false],
    ['#', '$aws/things/t1', true],
    ['+/things/x', '$aws/things/x', true],
    ['$aws/things/+/defender/metrics/+', '$aws/things/d1/defender/metrics/json', true],
    // `#` inside a filter acts as a level wildcard in the trie
    ['a/#/c', 'a/b/c', true],
    // Java's split drops trailing empty levels
    ['a', 'a/', true],
  ])('%s vs %s → %s', (filter, topic, want) => {
    expect(classicPubsubMatches(filter, topic)).toBe(want);
  });
});

describe('liteMqttFilterMatches (nucleus lite mqttproxy policy match)', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/x/b', 'a/+/b', true],
    ['a/+/b', 'a/+/b', true],
    ['a/b/c', 'a/#', true],
    ['a', 'a/#', false],
    ['a/b', 'a/+/b', false],
    ['$aws/things/gw/defender/metrics/json', '$aws/things/+/defender/metrics/+', true],
  ])('request %s vs policy %s → %s', (resource, filter, want) => {
    expect(liteMqttFilterMatches(resource, filter)).toBe(want);
  });
});
