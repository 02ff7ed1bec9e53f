// The shared libraries an ELF file asks for (its DT_NEEDED entries), read without binutils so any
// architecture's files can be checked on the build machine: a VM image whose `ip` lacks a library would
// otherwise fail only inside the VM. 64-bit little-endian ELF only (the arm64 and x64 targets).
// Format: https://refspecs.linuxfoundation.org/elf/gabi4+/ch5.dynamic.html

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;

/** DT_NEEDED sonames of a 64-bit little-endian ELF file; [] for a static one; null when it is not such an ELF file. */
export function elfNeeded(elf: Buffer): string[] | null {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return null;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  const loads: Array<{ vaddr: bigint; offset: bigint; filesz: bigint }> = [];
  let dynamic: { offset: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = elf.readUInt32LE(at);
    const offset = elf.readBigUInt64LE(at + 0x08);
    const vaddr = elf.readBigUInt64LE(at + 0x10);
    const filesz = elf.readBigUInt64LE(at + 0x20);
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    if (type === PT_DYNAMIC) dynamic = { offset: Number(offset), size: Number(filesz) };
  }
  if (!dynamic) return [];
  const needed: bigint[] = [];
  let strtab: bigint | undefined;
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    const tag = elf.readBigInt64LE(at);
    const val = elf.readBigUInt64LE(at + 8);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) needed.push(val);
    if (tag === DT_STRTAB) strtab = val;
  }
  if (strtab === undefined) return [];
  // DT_STRTAB is a virtual address: map it to a file offset through the segment that holds it.
  const seg = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.filesz);
  if (!seg) throw new Error('ELF: DT_STRTAB outside every loaded segment');
  const base = Number(strtab - seg.vaddr + seg.offset);
  return needed.map((n) => {
    const start = base + Number(n);
    return elf.toString('latin1', start, elf.indexOf(0, start));
  });
}
