// Reads the entries of a zip archive back (central directory, stored or deflated entries), independently of
// scripts/zipArchive.ts: the zip writer's tests check what it wrote with it, and the arm64 VM tier ships the
// release zip's files into the VM as they would be unpacked on a gateway.
// Format: https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT (4.3.12 central directory, 4.3.16 end record).
import { inflateRawSync } from 'node:zlib';

export interface ZipMember {
  name: string;
  /** Unix mode from the external attributes (0 when the archive has none) */
  mode: number;
  /** MS-DOS time and date fields of the central directory entry (APPNOTE 4.4.6) */
  time: number;
  date: number;
  data: Buffer;
}

export function readZipEntries(zip: Buffer): ZipMember[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('zip: no end of central directory record');
  const count = zip.readUInt16LE(end + 10);
  let p = zip.readUInt32LE(end + 16);
  const out: ZipMember[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`zip: bad central directory entry at ${p}`);
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const localOffset = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const raw = zip.subarray(dataStart, dataStart + compressed);
    if (method !== 0 && method !== 8) throw new Error(`zip: ${name}: compression method ${method} is not read here`);
    out.push({
      name,
      mode: zip.readUInt32LE(p + 38) >>> 16,
      time: zip.readUInt16LE(p + 12),
      date: zip.readUInt16LE(p + 14),
      data: method === 8 ? inflateRawSync(raw) : Buffer.from(raw),
    });
    p += 46 + nameLen + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
  }
  return out;
}
