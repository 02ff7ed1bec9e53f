// A writer for the "newc" cpio format, the one the Linux kernel unpacks as an initramfs
// (https://docs.kernel.org/driver-api/early-userspace/buffer-format.html). Entries are written with
// owner root, mtime 0 and inode numbers in order, so the same entries give the same bytes. Device nodes
// are written without creating them on the build machine (the kernel creates them when it unpacks).

export type CpioEntry =
  | { kind: 'dir'; name: string; mode?: number }
  | { kind: 'file'; name: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; name: string; target: string }
  | { kind: 'char'; name: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = 'TRAILER!!!';

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(ino: number, mode: number, nlink: number, size: number, rdevMajor: number, rdevMinor: number, nameBytes: number): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return ['070701', hex8(ino), hex8(mode), hex8(0), hex8(0), hex8(nlink), hex8(0), hex8(size), hex8(0), hex8(0)]
    .concat([hex8(rdevMajor), hex8(rdevMinor), hex8(nameBytes), hex8(0)])
    .join('');
}

function entryName(name: string): string {
  const clean = name.replace(/^\/+/, '');
  if (clean === '' || clean.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`cpio entry name: '${name}' must be a relative path without empty, '.' or '..' parts`);
  }
  return clean;
}

/** One cpio archive (uncompressed) holding `entries` in order, ending with the trailer, padded to 512 bytes. */
export function buildCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    offset += b.length;
  };
  const write = (ino: number, mode: number, nlink: number, name: string, data: Uint8Array, rdev: [number, number] = [0, 0]) => {
    const nameBuf = Buffer.from(`${name}\0`, 'utf8');
    push(Buffer.from(header(ino, mode, nlink, data.length, rdev[0], rdev[1], nameBuf.length), 'latin1'));
    push(nameBuf);
    push(Buffer.alloc(pad4(offset)));
    if (data.length > 0) {
      push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      push(Buffer.alloc(pad4(offset)));
    }
  };
  let ino = 1;
  for (const e of entries) {
    const name = entryName(e.name);
    switch (e.kind) {
      case 'dir':
        write(ino++, S_IFDIR | (e.mode ?? 0o755), 2, name, new Uint8Array());
        break;
      case 'file':
        write(ino++, S_IFREG | (e.mode ?? 0o644), 1, name, e.data);
        break;
      case 'symlink':
        write(ino++, S_IFLNK | 0o777, 1, name, Buffer.from(e.target, 'utf8'));
        break;
      case 'char':
        write(ino++, S_IFCHR | (e.mode ?? 0o600), 1, name, new Uint8Array(), [e.major, e.minor]);
        break;
    }
  }
  write(0, 0, 1, TRAILER, new Uint8Array());
  // The kernel skips zero padding between concatenated archives; 512 keeps each one block-aligned.
  push(Buffer.alloc((512 - (offset % 512)) % 512));
  return Buffer.concat(parts);
}

export interface CpioMember {
  name: string;
  mode: number;
  data: Buffer;
  rdev: [number, number];
}

/** Reads an uncompressed newc archive back (tests, and checking what an image holds). */
export function readCpio(archive: Buffer): CpioMember[] {
  const out: CpioMember[] = [];
  let pos = 0;
  while (pos + 110 <= archive.length) {
    const magic = archive.toString('latin1', pos, pos + 6);
    if (magic !== '070701') throw new Error(`cpio: bad magic '${magic}' at offset ${pos}`);
    const field = (i: number) => Number.parseInt(archive.toString('latin1', pos + 6 + i * 8, pos + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const rdev: [number, number] = [field(9), field(10)];
    const nameSize = field(11);
    const nameStart = pos + 110;
    const name = archive.toString('utf8', nameStart, nameStart + nameSize - 1);
    let dataStart = nameStart + nameSize;
    dataStart += pad4(dataStart);
    if (name === TRAILER) break;
    out.push({ name, mode, data: archive.subarray(dataStart, dataStart + size), rdev });
    pos = dataStart + size;
    pos += pad4(pos);
  }
  return out;
}
