// The arm64 release zip on a real arm64 Linux kernel under qemu-system-aarch64 (full-system emulation, not
// qemu-user), with a root file system built from Debian 13's arm64 packages (scripts/arm64VmImage.ts) and
// Debian's arm64 cloud kernel of the release the caller names (test/arm64/debian*.test.ts). One boot runs
// test/arm64/guest.sh: --version, a collector sample served by the sock_diag helper, the helper's eBPF
// per-process counters, an nftables address block in a network namespace driven by the agent against the
// emulator, and the rogue-agent scenario (`demo --json`). Skipped, with the reason printed, when
// qemu-system-aarch64 or the zip is missing; the packages come from Debian's archive (a failure to get them
// fails the tier).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DebianRelease } from '../../scripts/arm64VmPackages.ts';
import { BINARY_NAME, CRT_ADDON_NAME, zipName } from '../../scripts/buildTargets.ts';
import { elfNeeded } from '../../scripts/elfNeeded.ts';
import { decodeTrafficResponse } from '../../src/collector/sockDiagTraffic.ts';
import type { DemoSummary } from '../../src/demo/summary.ts';
import { GUEST_DIR, QEMU_SYSTEM, runZipInVm, splitProcsAnswers, type VmStep, type ZipVmRun } from '../support/arm64Vm.ts';
import { builtFile, program, requires } from '../support/requirements.ts';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const zipFile = path.join('artifacts', zipName('aarch64'));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };

/** What per-process traffic must be on the kernel: eBPF counters, or sock_diag with the reason eBPF is off. */
export type ExpectedTraffic = { mode: 'ebpf' } | { mode: 'sockdiag'; reason: string };

/** The suite, for one kernel: `kernel` matches its `uname -r`. */
export async function describeZipInVm(kernelRelease: DebianRelease, kernel: RegExp, traffic: ExpectedTraffic): Promise<void> {
  const needs = [await program(QEMU_SYSTEM, 'qemu-system-arm'), builtFile(zipFile)];
  describe(`arm64 release zip in a qemu-system-aarch64 VM, Debian ${kernelRelease}'s kernel`, requires(...needs), () => {
    let run: ZipVmRun;
    const stepOf = (name: string): VmStep => run.step(name);

    beforeAll(async () => {
      // The image comes from Debian's archive through a private apt state (scripts/arm64VmPackages.ts): a
      // failure to get it is a failure, not a missing prerequisite.
      run = await runZipInVm({
        root,
        zipFile,
        kernelRelease,
        script: readFileSync(new URL('guest.sh', import.meta.url), 'utf8'),
        timeoutMs: 900_000,
      });
    }, 960_000);

    it('the image has every shared library the binary and its aws-crt addon link to', () => {
      const available = new Set(run.image.libraries);
      for (const name of [BINARY_NAME, CRT_ADDON_NAME]) {
        const member = run.members.find((m) => m.name === name);
        expect(member, `${name} in the zip`).toBeDefined();
        expect({ name, missing: (elfNeeded(member!.data) ?? []).filter((s) => !available.has(s)) }).toEqual({ name, missing: [] });
      }
    });

    it(`boots Debian ${kernelRelease}'s arm64 kernel and runs the whole script to its end`, () => {
      expect(stepOf('kernel').stdout).toMatch(kernel);
      expect(run.vm.completed, `console tail:\n${run.vm.console.slice(-3000)}`).toBe(true);
      expect(run.vm.exitCode).toBe(0);
    });

    it('--version prints the package version', () => {
      const s = stepOf('version');
      expect({ code: s.code, stdout: s.stdout, stderr: s.stderr }).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    });

    it('collect --once: the dedge-sockdiag helper beside the binary serves the sample, nothing degrades, the listener is attributed', () => {
      const s = stepOf('collect');
      expect(s.code, s.stderr).toBe(0);
      const logs = s.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { level: number; msg: string; path?: string });
      expect(logs.filter((l) => l.msg === 'dedge-sockdiag helper started').map((l) => l.path)).toEqual([
        `/payload/${GUEST_DIR}/dedge-sockdiag`,
      ]);
      // the fallback to /proc/net + ss would say so at warn level
      expect(logs.filter((l) => l.level >= 40)).toEqual([]);
      const sample = JSON.parse(s.stdout) as {
        host: {
          degraded: string[];
          listening: Array<{ protocol: string; port: number; pid?: number }>;
          processTraffic?: { mode: string; reason?: string };
        };
      };
      expect(sample.host.degraded).toEqual([]);
      expect(sample.host.processTraffic).toMatchObject(traffic);
      const listenerPid = Number(stepOf('collect-listener').stdout.trim());
      expect(sample.host.listening.filter((l) => l.port === 7070)).toContainEqual(
        expect.objectContaining({ protocol: 'tcp', pid: listenerPid }),
      );
    });

    if (traffic.mode === 'ebpf') {
      it('eBPF per-process counters count 4 KiB sent by nc, both ends', () => {
        const probe = stepOf('traffic-probe');
        expect(probe.code, probe.stderr).toBe(0);
        const responses = splitProcsAnswers(stepOf('traffic').stdoutBytes);
        expect(responses).toHaveLength(2);
        const [first, second] = responses.map((r) => decodeTrafficResponse(r));
        expect({ mode: first!.mode, reason: first!.reason }).toEqual({ mode: 'ebpf', reason: '' });
        const nc = second!.processes.filter((p) => p.comm === 'nc');
        // both ends are nc: the client's bytes out, the listener's bytes in
        expect(nc.reduce((n, p) => n + p.bytesOut, 0)).toBeGreaterThanOrEqual(4096);
        expect(nc.reduce((n, p) => n + p.bytesIn, 0)).toBeGreaterThanOrEqual(4096);
      });
    } else {
      it(`no eBPF counters on this kernel: the helper serves sock_diag and says why (${traffic.reason})`, () => {
        const probe = stepOf('traffic-probe');
        expect(probe.code, probe.stderr).toBe(0);
        const answers = splitProcsAnswers(stepOf('traffic').stdoutBytes).map((r) => decodeTrafficResponse(r));
        expect(answers).toHaveLength(2);
        for (const a of answers) expect(a).toMatchObject({ mode: 'sockdiag', reason: traffic.reason, processes: [] });
      });
    }

    it('the agent blocks a device address with nftables in its network namespace; the block outlives the agent', () => {
      expect(stepOf('reach-before').code, stepOf('reach-before').stdout).toBe(0);
      expect(stepOf('device-traffic').code).toBe(0);
      const block = stepOf('block-set');
      expect(block.code, `${block.stderr}\nagent log:\n${stepOf('agent-log').stdout.slice(-4000)}`).toBe(0);
      const elements = (s: VmStep) =>
        (JSON.parse(s.stdout) as { nftables: Array<{ set?: { elem?: Array<{ elem?: { val: string; timeout?: number } }> } }> }).nftables
          .flatMap((o) => o.set?.elem ?? [])
          .map((e) => e.elem);
      expect(elements(block)).toContainEqual(expect.objectContaining({ val: '10.99.0.2', timeout: 600 }));
      // the device can no longer reach the gateway
      expect(stepOf('reach-after').code).not.toBe(0);
      const audit = stepOf('audit')
        .stdout.trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(audit).toContainEqual(
        expect.objectContaining({
          outcome: 'applied',
          type: 'address-block',
          dryRun: false,
          target: { kind: 'addresses', addresses: ['10.99.0.2'] },
        }),
      );
      expect(Number(stepOf('agent-log').code)).toBe(0);
      // stopping the agent never lifts a block: the kernel timeout does
      expect(elements(stepOf('block-after-stop')).map((e) => e?.val)).toContain('10.99.0.2');
    });

    it("the agent's memory a minute after start on a real arm64 kernel: RSS within 75 MiB (figures printed)", () => {
      const s = stepOf('agent-memory');
      expect(s.code, s.stderr).toBe(0);
      const kib = (line: string, field: string) => Number(new RegExp(`${field}: (\\d+) kB`).exec(line)?.[1]);
      const processes = s.stdout
        .trim()
        .split('\n')
        .map((line) => {
          const [pid, comm] = line.split(' ');
          return { pid: Number(pid), comm, rssKiB: kib(line, 'VmRSS'), anonKiB: kib(line, 'RssAnon'), hwmKiB: kib(line, 'VmHWM') };
        });
      const agent = processes[0]!;
      expect(agent.comm).toBe('defender-edge');
      expect(processes.map((p) => p.comm)).toContain('dedge-sockdiag');
      for (const p of processes) expect(p.rssKiB, `${p.comm}: ${s.stdout}`).toBeGreaterThan(0);
      // the idle budget of a 1 GB gateway (README, Benchmarks: the footprint rows), held on arm64 too
      expect(agent.rssKiB, s.stdout).toBeLessThanOrEqual(75 * 1024);
      const mib = (k: number) => (k / 1024).toFixed(1);
      process.stderr.write(
        `arm64-vm ${kernelRelease}: memory after 60 s: ${processes.map((p) => `${p.comm} RSS ${mib(p.rssKiB)} MiB (anonymous ${mib(p.anonKiB)}, peak ${mib(p.hwmKiB)})`).join('; ')}\n`,
      );
    });

    it('demo --json: the rogue agent is stopped, the innocent neighbour is not', () => {
      const s = stepOf('demo');
      expect(s.stdout, `exit ${s.code}; stderr: ${s.stderr.slice(-4000)}`).not.toBe('');
      const lines = s.stdout.trim().split('\n');
      expect(lines, s.stderr).toHaveLength(1);
      const summary = JSON.parse(lines[0]!) as DemoSummary;
      expect(summary.problems).toEqual([]);
      expect(summary.ok).toBe(true);
      expect(s.code).toBe(0);
    });
  });
}
