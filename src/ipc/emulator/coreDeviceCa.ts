// The emulator's certificate authority for client devices. On a real core, aws.greengrass.clientdevices.Auth
// keeps a core device CA that signs the local broker's server certificate, and devices present AWS IoT
// certificates that it checks with the cloud (attached to the thing whose name is the MQTT client id:
// client-device-auth CreateIoTThingSession.java). The emulator has no cloud, so one local CA plays both
// parts: it signs the broker's server certificate and the device certificates it issues, and a device
// certificate is "attached" to the thing named in its subject CN.
//
// Files in the CA directory: ca.pem (give it to devices as their trusted CA) and ca.key (mode 0600). An
// existing pair is reused, so certificates issued by an earlier run stay valid.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DistinguishedName, issueCertificate, type KeyPair, newKeyPair, privateKeyPem, publicKeyOf } from './x509.ts';

/** AWS IoT thing names: 1-128 of [a-zA-Z0-9:_-] (IoT CreateThing API). */
export const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;

const DAY_MS = 86_400_000;

export interface DeviceCredentials {
  thingName: string;
  certPath: string;
  keyPath: string;
}

export class CertificateError extends Error {
  override name = 'CertificateError';
}

export class CoreDeviceCa {
  readonly dir: string;
  readonly caPath: string;
  readonly caPem: string;
  private readonly keys: KeyPair;
  private readonly caName: DistinguishedName;

  private constructor(dir: string, caPem: string, keys: KeyPair, caName: DistinguishedName) {
    this.dir = dir;
    this.caPath = join(dir, 'ca.pem');
    this.caPem = caPem;
    this.keys = keys;
    this.caName = caName;
  }

  /** Load ca.pem + ca.key from `dir`, or create them. */
  static openOrCreate(dir: string, now: Date = new Date()): CoreDeviceCa {
    mkdirSync(dir, { recursive: true });
    const certPath = join(dir, 'ca.pem');
    const keyPath = join(dir, 'ca.key');
    if (existsSync(certPath) && existsSync(keyPath)) {
      try {
        const caPem = readFileSync(certPath, 'utf8');
        const privateKey = createPrivateKey(readFileSync(keyPath, 'utf8'));
        const cert = new X509Certificate(caPem);
        const keys = { privateKey, publicKey: publicKeyOf(privateKey) };
        if (!cert.ca || !cert.checkPrivateKey(privateKey)) throw new Error('ca.pem is not a CA certificate for ca.key');
        const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? 'defender-edge emulator core device CA';
        const o = /(?:^|\n)O=([^\n]*)/.exec(cert.subject)?.[1];
        return new CoreDeviceCa(dir, caPem, keys, { commonName: cn, ...(o !== undefined ? { organization: o } : {}) });
      } catch (err) {
        throw new CertificateError(`${dir}: cannot reuse ca.pem/ca.key: ${(err as Error).message}`);
      }
    }
    const keys = newKeyPair();
    const caName = { organization: 'defender-edge', commonName: 'defender-edge emulator core device CA' };
    const caPem = issueCertificate({
      subject: caName,
      publicKey: keys.publicKey,
      selfSignKey: keys.privateKey,
      ca: true,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(now.getTime() + 3650 * DAY_MS),
    });
    writeFileSync(keyPath, privateKeyPem(keys.privateKey), { mode: 0o600 });
    chmodSync(keyPath, 0o600);
    writeFileSync(certPath, caPem);
    return new CoreDeviceCa(dir, caPem, keys, caName);
  }

  /** A fresh key and a server certificate for the local broker (kept in memory). */
  serverCredentials(hosts: readonly string[], now: Date = new Date()): { cert: string; key: string } {
    const keys = newKeyPair();
    const cert = issueCertificate({
      subject: { organization: 'defender-edge', commonName: 'defender-edge emulator client-device broker' },
      publicKey: keys.publicKey,
      issuer: { name: this.caName, privateKey: this.keys.privateKey, publicKey: this.keys.publicKey },
      extendedKeyUsage: ['serverAuth'],
      altNames: hosts,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(now.getTime() + 365 * DAY_MS),
    });
    return { cert, key: privateKeyPem(keys.privateKey) };
  }

  /**
   * Issue a device certificate attached to `thingName` and write `<thing>.cert.pem` and `<thing>.key.pem`
   * (0600) into `outDir` (default: the CA directory).
   */
  issueDevice(thingName: string, outDir: string = this.dir, now: Date = new Date()): DeviceCredentials {
    if (!THING_NAME.test(thingName)) {
      throw new CertificateError(`thingName: '${thingName}' must be 1-128 characters of a-z A-Z 0-9 : _ -`);
    }
    const keys = newKeyPair();
    const cert = issueCertificate({
      subject: { commonName: thingName },
      publicKey: keys.publicKey,
      issuer: { name: this.caName, privateKey: this.keys.privateKey, publicKey: this.keys.publicKey },
      extendedKeyUsage: ['clientAuth'],
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(now.getTime() + 365 * DAY_MS),
    });
    mkdirSync(outDir, { recursive: true });
    const certPath = join(outDir, `${thingName}.cert.pem`);
    const keyPath = join(outDir, `${thingName}.key.pem`);
    writeFileSync(certPath, cert);
    writeFileSync(keyPath, privateKeyPem(keys.privateKey), { mode: 0o600 });
    chmodSync(keyPath, 0o600);
    return { thingName, certPath, keyPath };
  }
}

/**
 * The thing a verified peer certificate is attached to: its subject CN when the certificate was issued by
 * this CA (the TLS layer already checked the chain); null otherwise.
 */
export function thingOfCertificate(subjectCN: string | string[] | undefined): string | null {
  const cn = Array.isArray(subjectCN) ? subjectCN[0] : subjectCN;
  return cn !== undefined && THING_NAME.test(cn) ? cn : null;
}
