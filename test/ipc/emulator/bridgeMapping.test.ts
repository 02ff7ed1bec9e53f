import { describe, expect, it } from 'vitest';
import {
  parseBridgeConfig,
  parseTopicMapping,
  routesFor,
  sourceFilters,
  type TopicMapping,
} from '../../../src/ipc/emulator/bridgeMapping.ts';
import { REPORTS_AND_DEVICES } from '../../support/clientDevices.ts';

describe('parseTopicMapping', () => {
  it('reads the Greengrass format (named entries) and defaults targetTopicPrefix to empty', () => {
    const r = parseTopicMapping({
      ClientDevice1Mapping: { topic: 'clients/MyClientDevice1/hello/world', source: 'LocalMqtt', target: 'IotCore' },
      Prefixed: { topic: 'sensors/#', source: 'LocalMqtt', target: 'Pubsub', targetTopicPrefix: 'bridged/' },
    });
    expect(r).toEqual({
      ok: true,
      warnings: [],
      mapping: [
        {
          name: 'ClientDevice1Mapping',
          topic: 'clients/MyClientDevice1/hello/world',
          source: 'LocalMqtt',
          target: 'IotCore',
          targetTopicPrefix: '',
        },
        { name: 'Prefixed', topic: 'sensors/#', source: 'LocalMqtt', target: 'Pubsub', targetTopicPrefix: 'bridged/' },
      ],
    });
  });

  it('names every bad or missing field with its path; unknown keys are only warnings', () => {
    const r = parseTopicMapping({
      a: { topic: 'x/#/y', source: 'LocalMqtt', target: 'Pubsub' },
      b: { topic: 'x', source: 'Local', target: 'Pubsub' },
      c: { topic: 'x', source: 'Pubsub', target: 'Pubsub' },
      d: { topic: 7, source: 'Pubsub', target: 'Cloud', extra: 'x' },
      e: 'LocalMqtt',
      f: { topic: 'x', source: 'Pubsub', target: 'LocalMqtt', targetTopicPrefix: 'a/+/' },
      g: { source: 'Pubsub' },
    });
    expect(r).toEqual({
      ok: false,
      warnings: ['mqttTopicMapping.d.extra: unknown key, ignored'],
      errors: [
        "mqttTopicMapping.a.topic: '#' must be the last level on its own in 'x/#/y'",
        'mqttTopicMapping.b.source: required, one of LocalMqtt, Pubsub, IotCore, not "Local"',
        'mqttTopicMapping.c.target: must differ from source',
        'mqttTopicMapping.d.topic: required, a topic or MQTT topic filter',
        'mqttTopicMapping.d.target: required, one of LocalMqtt, Pubsub, IotCore, not "Cloud"',
        'mqttTopicMapping.e: must be an object {topic, source, target}',
        'mqttTopicMapping.f.targetTopicPrefix: must not contain wildcards',
        'mqttTopicMapping.g.topic: required, a topic or MQTT topic filter',
        'mqttTopicMapping.g.target: required, one of LocalMqtt, Pubsub, IotCore',
      ],
    });
  });

  it('reads keys and broker names case-insensitively, like the bridge', () => {
    const r = parseTopicMapping({ m: { Topic: 'a/b', SOURCE: 'localmqtt', target: 'PUBSUB' } });
    expect(r).toEqual({
      ok: true,
      warnings: [],
      mapping: [{ name: 'm', topic: 'a/b', source: 'LocalMqtt', target: 'Pubsub', targetTopicPrefix: '' }],
    });
  });

  it('rejects a non-object mapping', () => {
    expect(parseTopicMapping([])).toEqual({ ok: false, errors: ['mqttTopicMapping: must be an object of named mappings'], warnings: [] });
  });
});

describe('parseBridgeConfig', () => {
  it('takes mqttTopicMapping and accepts the bridge connection keys', () => {
    const r = parseBridgeConfig({
      brokerUri: 'ssl://localhost:8883',
      mqttTopicMapping: { m: { topic: 'a', source: 'Pubsub', target: 'LocalMqtt' } },
    });
    expect(r).toEqual({
      ok: true,
      warnings: [],
      mapping: [{ name: 'm', topic: 'a', source: 'Pubsub', target: 'LocalMqtt', targetTopicPrefix: '' }],
    });
  });

  it('no mapping means nothing is bridged (no default); unknown keys are warnings; paths name the component', () => {
    expect(parseBridgeConfig({ mqttTopicMappings: {} })).toEqual({
      ok: true,
      mapping: [],
      warnings: [
        'aws.greengrass.clientdevices.mqtt.Bridge.mqttTopicMappings: unknown key, ignored',
        'aws.greengrass.clientdevices.mqtt.Bridge.mqttTopicMapping: absent; the bridge maps nothing',
      ],
    });
    expect(parseBridgeConfig(undefined)).toMatchObject({ ok: true, mapping: [] });
    expect(parseBridgeConfig({ mqttTopicMapping: { m: { topic: '', source: 'Pubsub', target: 'IotCore' } } }, 'b')).toEqual({
      ok: false,
      errors: ['b.mqttTopicMapping.m.topic: topic filter is empty'],
      warnings: [],
    });
    expect(parseBridgeConfig('x', 'b')).toEqual({
      ok: false,
      errors: ['b: configuration must be an object with mqttTopicMapping'],
      warnings: [],
    });
  });

  it('an empty mapping is valid and bridges nothing', () => {
    const r = parseBridgeConfig({ mqttTopicMapping: {} });
    expect(r).toEqual({ ok: true, mapping: [], warnings: [] });
  });
});

describe('routesFor', () => {
  it('a deployment mapping: reports and devices/# up to pub/sub, answers down to local MQTT', () => {
    const m = REPORTS_AND_DEVICES;
    expect(routesFor(m, 'LocalMqtt', '$aws/things/dev1/defender/metrics/json')).toEqual([
      { target: 'Pubsub', topic: '$aws/things/dev1/defender/metrics/json', mapping: 'DeviceDefenderReportsToPubsub' },
    ]);
    expect(routesFor(m, 'LocalMqtt', 'devices/dev1/temp')).toEqual([
      { target: 'Pubsub', topic: 'devices/dev1/temp', mapping: 'DevicesToPubsub' },
    ]);
    expect(routesFor(m, 'Pubsub', '$aws/things/dev1/defender/metrics/cbor/rejected')).toEqual([
      { target: 'LocalMqtt', topic: '$aws/things/dev1/defender/metrics/cbor/rejected', mapping: 'DeviceDefenderRejectedToLocalMqtt' },
    ]);
    expect(routesFor(m, 'Pubsub', 'devices/dev1/cmd')).toEqual([
      { target: 'LocalMqtt', topic: 'devices/dev1/cmd', mapping: 'DevicesToLocalMqtt' },
    ]);
  });

  it('unmapped topics and other directions give no route', () => {
    const m = REPORTS_AND_DEVICES;
    expect(routesFor(m, 'LocalMqtt', 'other/topic')).toEqual([]);
    expect(routesFor(m, 'LocalMqtt', '$aws/things/dev1/defender/metrics/json/accepted')).toEqual([]);
    expect(routesFor(m, 'Pubsub', '$aws/things/dev1/defender/metrics/json')).toEqual([]);
    expect(routesFor(m, 'IotCore', 'devices/x')).toEqual([]);
  });

  it('a leading wildcard does not match $ topics (MQTT 3.1.1 §4.7.2)', () => {
    const m: TopicMapping = [{ name: 'all', topic: '#', source: 'LocalMqtt', target: 'Pubsub', targetTopicPrefix: '' }];
    expect(routesFor(m, 'LocalMqtt', '$aws/things/x/shadow/update')).toEqual([]);
    expect(routesFor(m, 'LocalMqtt', 'a/b')).toHaveLength(1);
  });

  it('adds the target prefix, fans out to several targets, forwards overlapping entries once', () => {
    const m: TopicMapping = [
      { name: 'wide', topic: 'sensors/#', source: 'LocalMqtt', target: 'Pubsub', targetTopicPrefix: '' },
      { name: 'narrow', topic: 'sensors/+/temp', source: 'LocalMqtt', target: 'Pubsub', targetTopicPrefix: '' },
      { name: 'cloud', topic: 'sensors/+/temp', source: 'LocalMqtt', target: 'IotCore', targetTopicPrefix: 'gw1/' },
    ];
    expect(routesFor(m, 'LocalMqtt', 'sensors/s1/temp')).toEqual([
      { target: 'Pubsub', topic: 'sensors/s1/temp', mapping: 'wide' },
      { target: 'IotCore', topic: 'gw1/sensors/s1/temp', mapping: 'cloud' },
    ]);
    expect(sourceFilters(m, 'LocalMqtt')).toEqual(['sensors/#', 'sensors/+/temp']);
    expect(sourceFilters(m, 'Pubsub')).toEqual([]);
  });
});
