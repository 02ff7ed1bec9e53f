import { describe, expect, it } from 'vitest';
import { collectorConfigChecks } from '../../src/collector/configChecks.ts';
import { validateConfig } from '../../src/config/validate.ts';

describe('collector configuration checks', () => {
  it('names bad topic patterns, addresses, duplicates and regexes as path: message', () => {
    const r = validateConfig(
      {
        downstream: {
          devices: [
            { thingName: 'a', addresses: ['10.0.0.2', '10.0.0.0/24'] },
            { thingName: 'a', addresses: ['10.0.0.002'] },
            { thingName: 'c', addresses: ['fd00::1', 'nonsense'] },
          ],
          messageTopics: ['devices/{thingName}/#', 'devices/#'],
          thingNamePattern: '([',
        },
      },
      collectorConfigChecks,
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      'downstream.messageTopics[1]: must contain {thingName} as a whole topic level',
      "downstream.devices[0].addresses[1]: '10.0.0.0/24' is not an IPv4 or IPv6 address (CIDR ranges are not supported; list addresses)",
      "downstream.devices[1].thingName: 'a' is already used by downstream.devices[0]",
      'downstream.devices[1].addresses[0]: 10.0.0.2 is already assigned to downstream.devices[0]',
      "downstream.devices[2].addresses[1]: 'nonsense' is not an IPv4 or IPv6 address",
      expect.stringMatching(/^downstream\.thingNamePattern: is not a valid regular expression/),
    ]);
  });

  it('accepts a good configuration and fills the collector defaults', () => {
    const r = validateConfig(
      { downstream: { devices: [{ thingName: 'a', addresses: ['10.0.0.2', 'fd00::2'] }], messageTopics: ['d/{thingName}'] } },
      collectorConfigChecks,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.collector).toEqual({
      includeLoopback: false,
      perProcess: true,
      customMetrics: true,
      tcpBytes: true,
      perProcessIncludeLoopback: true,
      mqttPorts: [1883, 8883],
      ebpf: true,
      trafficPollMs: 100,
      downstreamNftTable: 'defender_edge_downstream',
      diskPath: '/',
    });
    expect(validateConfig({ collector: { downstreamNftTable: 'x; flush ruleset' } }).ok).toBe(false);
    const poll = validateConfig({ collector: { trafficPollMs: 5, ebpf: 'no' } });
    expect(poll.ok).toBe(false);
    if (!poll.ok) expect(poll.errors.join('\n')).toMatch(/collector\.trafficPollMs.*5|trafficPollMs/);
  });

  it('names bad MQTT ports and a non-boolean perProcessIncludeLoopback', () => {
    const r = validateConfig({ collector: { mqttPorts: [1883, 70000, 0, 1883], perProcessIncludeLoopback: 'yes' } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual(
      expect.arrayContaining([
        'collector.perProcessIncludeLoopback: must be boolean, got string "yes"',
        'collector.mqttPorts[1]: must be <= 65535, got number 70000',
        'collector.mqttPorts[2]: must be >= 1, got number 0',
        expect.stringMatching(/^collector\.mqttPorts: must NOT have duplicate items/),
      ]),
    );
    const empty = validateConfig({ collector: { mqttPorts: [] } });
    expect(empty.ok && empty.config.collector.mqttPorts).toEqual([]);
  });
});
