import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CertificateError, CoreDeviceCa, thingOfCertificate } from '../../../src/ipc/emulator/coreDeviceCa.ts';

const dirs: string[] = [];
const temp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'dedge-ca-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('CoreDeviceCa', () => {
  it('creates a CA whose device certificates verify against it and name their thing', () => {
    const dir = temp();
    const ca = CoreDeviceCa.openOrCreate(dir);
    const caCert = new X509Certificate(readFileSync(ca.caPath));
    expect(caCert.ca).toBe(true);
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    const dev = ca.issueDevice('Sensor_1:a-b', join(dir, 'out'));
    const cert = new X509Certificate(readFileSync(dev.certPath));
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth
    expect(thingOfCertificate(/CN=(.*)/.exec(cert.subject)?.[1])).toBe('Sensor_1:a-b');
    expect(statSync(dev.keyPath).mode & 0o777).toBe(0o600);
    const server = new X509Certificate(ca.serverCredentials(['127.0.0.1', 'localhost']).cert);
    expect(server.subjectAltName).toBe('IP Address:127.0.0.1, DNS:localhost');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('reuses an existing CA, so earlier device certificates stay valid', () => {
    const dir = temp();
    const first = CoreDeviceCa.openOrCreate(dir);
    const dev = first.issueDevice('d1');
    const again = CoreDeviceCa.openOrCreate(dir);
    expect(again.caPem).toBe(first.caPem);
    expect(new X509Certificate(readFileSync(dev.certPath)).verify(new X509Certificate(again.caPem).publicKey)).toBe(true);
  });

  it('refuses a thing name AWS IoT would refuse, and a CA pair that does not belong together', () => {
    const dir = temp();
    const ca = CoreDeviceCa.openOrCreate(dir);
    expect(() => ca.issueDevice('bad name')).toThrow(CertificateError);
    expect(() => ca.issueDevice('x'.repeat(129))).toThrow(/thingName: .* must be 1-128 characters/);
    const other = temp();
    CoreDeviceCa.openOrCreate(other);
    writeFileSync(join(dir, 'ca.key'), readFileSync(join(other, 'ca.key')));
    expect(() => CoreDeviceCa.openOrCreate(dir)).toThrow(/cannot reuse ca.pem\/ca.key/);
  });
});
