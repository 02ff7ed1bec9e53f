// Minimal X.509 v3 certificate issuing with node:crypto: keys and ECDSA signatures come from node:crypto,
// this module only writes the DER structures (RFC 5280 §4.1 Certificate/TBSCertificate, RFC 5280 §4.2.1
// extensions; DER rules of ITU-T X.690, clauses 8 and 10). Enough for a local CA, a TLS server certificate
// and client certificates; parsing and verification stay with node:crypto's X509Certificate and node:tls.
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';

// ---- DER primitives (X.690) ----

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);

/** A non-negative INTEGER from big-endian bytes, minimal form (X.690 clause 8.3.2). */
function integer(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0 && (bytes[i + 1]! & 0x80) === 0) i++;
  const body = bytes.subarray(i);
  return tlv(0x02, (body[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), body]) : body);
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** BIT STRING of whole bytes (unused bits 0) — signatures and key identifiers. */
const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${digits}Z`));
}

// ---- OIDs (RFC 5280, RFC 5758, X.520) ----
const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

export interface DistinguishedName {
  commonName: string;
  organization?: string;
}

function name(dn: DistinguishedName): Buffer {
  const rdns = [set(seq(oid(OID.commonName), utf8(dn.commonName)))];
  if (dn.organization !== undefined) rdns.unshift(set(seq(oid(OID.organization), utf8(dn.organization))));
  return seq(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

/** keyUsage bits (RFC 5280 §4.2.1.3): digitalSignature = bit 0 … cRLSign = bit 6. */
function keyUsage(bits: number[]): Buffer {
  let byte = 0;
  for (const b of bits) byte |= 0x80 >> b;
  let unused = 0;
  while (unused < 7 && (byte & (1 << unused)) === 0) unused++;
  return tlv(0x03, Buffer.from([unused, byte]));
}

function subjectAltNames(names: readonly string[]): Buffer {
  const general = names.map((n) => {
    const family = isIP(n);
    if (family === 4) return tlv(0x87, Buffer.from(n.split('.').map(Number)));
    if (family === 6) throw new Error(`subjectAltName ${n}: IPv6 addresses are not supported here`);
    return tlv(0x82, Buffer.from(n, 'ascii'));
  });
  return seq(...general);
}

/** Key identifier: SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2, method 1). */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // For an EC key the SPKI ends with the BIT STRING of the point; its length is fixed for P-256 (65 bytes).
  return createHash('sha1')
    .update(spki.subarray(spki.length - 65))
    .digest();
}

// ---- issuing ----

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** An ECDSA P-256 key pair (what the client-device CA uses for its ECDSA_P256 CA type). */
export function newKeyPair(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

export interface CertificateRequest {
  subject: DistinguishedName;
  publicKey: KeyObject;
  /** The issuer's name and key; omit both for a self-signed certificate. */
  issuer?: { name: DistinguishedName; privateKey: KeyObject; publicKey: KeyObject };
  /** Self-signed only: the key that signs (the subject's own). */
  selfSignKey?: KeyObject;
  ca?: boolean;
  extendedKeyUsage?: Array<'serverAuth' | 'clientAuth'>;
  /** DNS names and IPv4 addresses. */
  altNames?: readonly string[];
  notBefore: Date;
  notAfter: Date;
}

/** Issue one certificate; returns it in PEM. */
export function issueCertificate(req: CertificateRequest): string {
  const signer = req.issuer?.privateKey ?? req.selfSignKey;
  if (!signer) throw new Error('issueCertificate: an issuer or a self-sign key is required');
  const issuerName = req.issuer?.name ?? req.subject;
  const issuerPublic = req.issuer?.publicKey ?? req.publicKey;
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, 16 bytes, never zero (RFC 5280 §4.1.2.2)

  const extensions: Buffer[] = [
    extension(OID.basicConstraints, true, req.ca ? seq(bool(true)) : seq()),
    extension(OID.keyUsage, true, keyUsage(req.ca ? [0, 5, 6] : [0])),
    extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(req.publicKey))),
    extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, keyIdentifier(issuerPublic)))),
  ];
  if (req.extendedKeyUsage && req.extendedKeyUsage.length > 0) {
    extensions.push(extension(OID.extKeyUsage, false, seq(...req.extendedKeyUsage.map((u) => oid(OID[u])))));
  }
  if (req.altNames && req.altNames.length > 0) extensions.push(extension(OID.subjectAltName, false, subjectAltNames(req.altNames)));

  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    algorithm,
    name(issuerName),
    seq(time(req.notBefore), time(req.notAfter)),
    name(req.subject),
    req.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, { key: signer, dsaEncoding: 'der' });
  return toPem(seq(tbs, algorithm, bitString(signature)));
}

function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${b64.endsWith('\n') ? b64 : `${b64}\n`}-----END CERTIFICATE-----\n`;
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The public key of a private key (KeyObject or PEM). */
export function publicKeyOf(privateKey: KeyObject | string): KeyObject {
  return createPublicKey(privateKey);
}
