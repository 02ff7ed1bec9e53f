// Boots the arm64 test VM (scripts/arm64VmImage.ts) under qemu-system-aarch64 once, runs a shell script
// in it, and returns what each step printed. The script and any files it needs (the release zip) travel
// as a second, uncompressed cpio archive appended to the base initramfs; results come back over a virtio
// console written to a file on the host, framed per step with base64 bodies (the guest's tty layer and
// kernel messages cannot corrupt them). No network between host and guest.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Arm64VmImage, buildArm64VmImage } from '../../scripts/arm64VmImage.ts';
import type { DebianRelease } from '../../scripts/arm64VmPackages.ts';
import { buildCpio, type CpioEntry } from '../../scripts/cpioArchive.ts';
import { RECORD, RECORD_SIZE } from '../../src/collector/sockDiagProtocol.ts';
import { readZipEntries, type ZipMember } from './zipEntries.ts';

export const QEMU_SYSTEM = 'qemu-system-aarch64';

export interface VmStep {
  name: string;
  code: number;
  /** how long the step ran in the guest (0 for files sent with emit) */
  ms: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (binary output) */
  stdoutBytes: Buffer;
}

export interface VmRun {
  steps: Map<string, VmStep>;
  /** the serial console (kernel messages, init's own lines) */
  console: string;
  /** wall time from starting qemu to its exit */
  ms: number;
  exitCode: number | null;
  /** the guest reached the end of the script (its last frame) */
  completed: boolean;
}

export interface VmOptions {
  image: Arm64VmImage;
  /** the body of /payload/run.sh; the helpers below (`step`, `emit`) are defined before it */
  script: string;
  /** extra files under /payload/ */
  files?: Array<{ name: string; data: Uint8Array; mode?: number }>;
  memoryMiB?: number;
  cpus?: number;
  timeoutMs?: number;
}

/**
 * Shell helpers for the script (busybox ash): `step NAME CMD…` runs CMD with stdout and stderr captured and
 * sends both, with the exit code, as one frame; `emit NAME CODE FILE` sends a file as a frame.
 */
const HELPERS = `#!/bin/sh
OUT=/dev/hvc0
_t0=
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
frame() { # name code stdout-file stderr-file: one frame, with the time since the last step started
  _ms=0
  [ -n "$_t0" ] && _ms=$(( $(now_ms) - _t0 ))
  { echo "@@dedge-step $1 $2 $_ms"; base64 < "$3"; echo "@@dedge-stderr"; base64 < "$4"; echo "@@dedge-end"; } > $OUT
  _t0=
}
step() { # name command...: runs the command, stdin from /dev/null, and sends its output; $_rc is its code
  _name=$1; shift
  _t0=$(now_ms)
  "$@" > /tmp/.step.out 2> /tmp/.step.err < /dev/null
  _rc=$?
  frame "$_name" $_rc /tmp/.step.out /tmp/.step.err
  return $_rc
}
emit() { : > /tmp/.empty; frame "$1" "$2" "$3" /tmp/.empty; } # name code file
wait_for() { # seconds command...: until the command succeeds, at most that many seconds
  _n=$1; shift
  while [ "$_n" -gt 0 ]; do "$@" && return 0; sleep 1; _n=$((_n - 1)); done
  echo "wait_for: gave up on $*" > /dev/console
  return 1
}
`;

const FINAL = '\necho "@@dedge-done" > $OUT\n';

/** Parses the result channel: frames `@@dedge-step NAME CODE MS`, base64 stdout, `@@dedge-stderr`, base64 stderr, `@@dedge-end`. */
export function parseFrames(text: string): { steps: Map<string, VmStep>; completed: boolean } {
  const steps = new Map<string, VmStep>();
  const lines = text.replace(/\r/g, '').split('\n');
  let current: { name: string; code: number; ms: number; out: string[]; err: string[]; inErr: boolean } | undefined;
  let completed = false;
  for (const line of lines) {
    const start = /^@@dedge-step (\S+) (-?\d+) (\d+)$/.exec(line);
    if (start) {
      current = { name: start[1]!, code: Number(start[2]), ms: Number(start[3]), out: [], err: [], inErr: false };
    } else if (line === '@@dedge-stderr' && current) current.inErr = true;
    else if (line === '@@dedge-end' && current) {
      const bytes = (l: string[]) => Buffer.from(l.join(''), 'base64');
      const stdoutBytes = bytes(current.out);
      steps.set(current.name, {
        name: current.name,
        code: current.code,
        ms: current.ms,
        stdout: stdoutBytes.toString('utf8'),
        stderr: bytes(current.err).toString('utf8'),
        stdoutBytes,
      });
      current = undefined;
    } else if (line === '@@dedge-done') completed = true;
    else if (current) (current.inErr ? current.err : current.out).push(line);
  }
  return { steps, completed };
}

export async function runVm(o: VmOptions): Promise<VmRun> {
  const work = await mkdtemp(path.join(tmpdir(), 'dedge-arm64vm-'));
  const resultFile = path.join(work, 'results.txt');
  const consoleFile = path.join(work, 'console.txt');
  const initrd = path.join(work, 'initrd');
  try {
    const files = (o.files ?? []).map((f): CpioEntry => ({ kind: 'file', name: `payload/${f.name}`, data: f.data, mode: f.mode ?? 0o644 }));
    // the kernel creates a file only in a folder an earlier entry created
    const dirs = new Set(['payload']);
    for (const f of files) for (let d = path.posix.dirname(f.name); d !== '.' && d !== 'payload'; d = path.posix.dirname(d)) dirs.add(d);
    const payload: CpioEntry[] = [
      ...[...dirs].sort().map((name): CpioEntry => ({ kind: 'dir', name })),
      { kind: 'file', name: 'payload/run.sh', data: Buffer.from(`${HELPERS}\n${o.script}\n${FINAL}`), mode: 0o755 },
      ...files,
    ];
    // The base archive is gzip-compressed, the payload is not (a zip does not compress further); the
    // kernel unpacks both in order, skipping zeros between them, but reads an uncompressed archive only
    // where it starts on a 4-byte boundary (init/initramfs.c unpack_to_rootfs): pad the first one.
    const base = await readFile(o.image.initrd);
    const pad = Buffer.alloc((512 - (base.length % 512)) % 512);
    await writeFile(initrd, Buffer.concat([base, pad, buildCpio(payload)]));
    const args = [
      '-M',
      'virt',
      // A named core rather than `max`: pointer authentication emulation makes `max` markedly slower under TCG.
      '-cpu',
      'cortex-a72',
      '-smp',
      String(o.cpus ?? 2),
      '-m',
      String(o.memoryMiB ?? 1024),
      '-nodefaults',
      '-display',
      'none',
      '-no-reboot',
      '-kernel',
      o.image.kernel,
      '-initrd',
      initrd,
      '-append',
      'console=ttyAMA0 rdinit=/init quiet loglevel=4 panic=-1',
      '-serial',
      `file:${consoleFile}`,
      '-chardev',
      `file,id=results,path=${resultFile}`,
      '-device',
      'virtio-serial-device',
      '-device',
      'virtconsole,chardev=results',
    ];
    const started = Date.now();
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      const qemu = spawn(QEMU_SYSTEM, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      qemu.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => qemu.kill('SIGKILL'), o.timeoutMs ?? 600_000);
      qemu.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      qemu.on('exit', (code) => {
        clearTimeout(timer);
        if (code !== 0 && stderr.trim() !== '') process.stderr.write(`qemu: ${stderr}`);
        resolve(code);
      });
    });
    const ms = Date.now() - started;
    // DEDGE_ARM64_VM_KEEP=DIR keeps the raw result channel and console for a look after the run
    const keep = process.env.DEDGE_ARM64_VM_KEEP;
    if (keep) {
      await mkdir(keep, { recursive: true });
      for (const f of [resultFile, consoleFile]) if (existsSync(f)) await copyFile(f, path.join(keep, path.basename(f)));
    }
    const results = existsSync(resultFile) ? readFileSync(resultFile, 'latin1') : '';
    const consoleText = existsSync(consoleFile) ? readFileSync(consoleFile, 'utf8') : '';
    return { ...parseFrames(results), console: consoleText, ms, exitCode };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Where the guest scripts expect the zip's files: a folder named after the zip, as Greengrass unpacks it. */
export const GUEST_DIR = 'defender-edge-aarch64';

export interface ZipVmRun {
  image: Arm64VmImage;
  /** the release zip's files, shipped into the VM under /payload/GUEST_DIR */
  members: ZipMember[];
  vm: VmRun;
  /** the named step's frame; throws with the console's tail when the VM sent none */
  step(name: string): VmStep;
}

/**
 * Builds (or takes from the cache) the image with the given Debian release's kernel, boots it with the
 * release zip's files and a guest script (test/arm64/*.sh), and logs the timings to stderr.
 */
export async function runZipInVm(o: {
  root: string;
  zipFile: string;
  kernelRelease: DebianRelease;
  script: string;
  timeoutMs: number;
  cpus?: number;
}): Promise<ZipVmRun> {
  const log = (line: string) => process.stderr.write(`arm64-vm ${o.kernelRelease}: ${line}\n`);
  const started = Date.now();
  const image = await buildArm64VmImage({ root: o.root, kernelRelease: o.kernelRelease, log });
  if (!image.cached) log(`image built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const members = readZipEntries(readFileSync(path.join(o.root, o.zipFile)));
  const vm = await runVm({
    image,
    script: o.script,
    files: members.map((m) => ({ name: `${GUEST_DIR}/${m.name}`, data: m.data, mode: m.mode || 0o644 })),
    memoryMiB: 1024,
    cpus: o.cpus ?? 2,
    timeoutMs: o.timeoutMs,
  });
  const timings = [...vm.steps.values()].filter((s) => s.ms > 0).map((s) => `${s.name} ${(s.ms / 1000).toFixed(1)} s`);
  log(`kernel ${image.kernelVersion}: VM ran ${(vm.ms / 1000).toFixed(1)} s (exit ${vm.exitCode}); steps: ${timings.join(', ')}`);
  return {
    image,
    members,
    vm,
    step(name) {
      const s = vm.steps.get(name);
      if (!s) throw new Error(`the VM sent no '${name}' step (completed: ${vm.completed}); console tail:\n${vm.console.slice(-3000)}`);
      return s;
    },
  };
}

/** The helper's `procs` answers in one stdout: each ends with its mode record (docs/sockdiag.md). */
export function splitProcsAnswers(out: Buffer): Buffer[] {
  const answers: Buffer[] = [];
  let start = 0;
  for (let at = 0; at + RECORD_SIZE <= out.length; at += RECORD_SIZE) {
    if (out[at] === RECORD.mode) {
      answers.push(out.subarray(start, at + RECORD_SIZE));
      start = at + RECORD_SIZE;
    }
  }
  return answers;
}
