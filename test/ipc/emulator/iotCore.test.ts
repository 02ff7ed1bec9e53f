import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type CloudMessage, IoTCorePublishError, SimulatedIoTCore } from '../../../src/ipc/emulator/iotCore.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const msg = (topic: string, qos: 0 | 1, payload: string | Buffer): CloudMessage => ({
  topic,
  qos,
  payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
});

describe('SimulatedIoTCore', () => {
  it('records what reaches the cloud as JSON lines, text as UTF-8 and binary as base64', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dedge-iot-'));
    dirs.push(dir);
    const file = join(dir, 'cloud.jsonl');
    const core = new SimulatedIoTCore({ recordFile: file, now: () => 1234 });
    core.publish(msg('a/b', 1, 'héllo'));
    core.publish(msg('a/c', 0, Buffer.from([0xff, 0x00, 0xfe])));
    core.close();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { ts: 1234, topic: 'a/b', qos: 1, payload: 'héllo', payloadEncoding: 'utf8' },
      { ts: 1234, topic: 'a/c', qos: 0, payload: '/wD+', payloadEncoding: 'base64' },
    ]);
  });

  it('refuses payloads over the 128 KiB limit with the nucleus message', () => {
    const core = new SimulatedIoTCore();
    expect(() => core.publish(msg('a', 1, Buffer.alloc(131_073)))).toThrow(
      'The publishing message size 131073 bytes exceeds the configured limit of 131072 bytes',
    );
    expect(() => core.publish(msg('a', 1, Buffer.alloc(131_072)))).not.toThrow();
  });

  it('offline: refuses QoS 0, spools QoS 1 and delivers it in order on reconnect', () => {
    const core = new SimulatedIoTCore({ online: false });
    const seen: string[] = [];
    core.subscribe('t/#', (m) => seen.push(m.payload.toString()));
    expect(() => core.publish(msg('t/1', 0, 'q0'))).toThrow('Device is offline. Dropping QoS 0 message.');
    for (const p of ['1', '2', '3']) core.publish(msg('t/x', 1, p));
    expect(core.status()).toMatchObject({ online: false, spoolDepth: 3, spoolBytes: 3, recordsWritten: 0 });
    expect(seen).toEqual([]);
    core.setOnline(true);
    expect(seen).toEqual(['1', '2', '3']);
    expect(core.status()).toMatchObject({ online: true, spoolDepth: 0, recordsWritten: 3 });
  });

  it('bounded spool: too large, full, and QoS 0 dropped first when kept offline', () => {
    const core = new SimulatedIoTCore({ online: false, spoolMaxBytes: 10, keepQos0WhenOffline: true });
    expect(() => core.publish(msg('t', 1, Buffer.alloc(11)))).toThrow(IoTCorePublishError);
    expect(() => core.publish(msg('t', 1, Buffer.alloc(11)))).toThrow('Message is larger than the size of message spool.');
    core.publish(msg('t', 0, 'aaaa'));
    core.publish(msg('t', 1, 'bbbbbb'));
    core.publish(msg('t', 1, 'cccc')); // drops the QoS 0 message to make room
    expect(core.status().spoolDepth).toBe(2);
    expect(() => core.publish(msg('t', 1, 'd'))).toThrow('Message spool is full. Message could not be added.');
  });

  it('cloud→device delivery only while online; report replies go to subscribers', () => {
    const core = new SimulatedIoTCore({ now: () => 99 });
    const seen: string[] = [];
    core.subscribe('$aws/things/+/defender/metrics/json/+', (m) => seen.push(`${m.topic} ${m.payload.toString()}`));
    core.subscribe('down/#', (m) => seen.push(`${m.topic} ${m.payload.toString()}`));
    expect(core.cloudPublish('down/x', Buffer.from('hi'))).toBe(1);
    core.publish(msg('$aws/things/gw/defender/metrics/json', 1, '{"header":{"report_id":1,"version":"1.0"},"metrics":{}}'));
    core.setOnline(false);
    expect(core.cloudPublish('down/x', Buffer.from('lost'))).toBe(0);
    expect(seen).toEqual([
      'down/x hi',
      '$aws/things/gw/defender/metrics/json/accepted {"thingName":"gw","reportId":1,"status":"ACCEPTED","timestamp":99}',
    ]);
  });
});
