// The arm64 release zip on Debian 12's arm64 kernel (6.1), the stock kernel of many gateways: it predates
// the sock_send_length/sock_recv_length tracepoints (Linux 6.3) the helper's eBPF counters hook. The
// binary must start, collect through sock_diag, and say in the sample why per-process traffic is not
// counted in the kernel (docs/traffic.md#coverage). The userland is Debian 13's, as in test/arm64/vm.test.ts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { zipName } from '../../scripts/buildTargets.ts';
import { decodeTrafficResponse } from '../../src/collector/sockDiagTraffic.ts';
import { QEMU_SYSTEM, runZipInVm, splitProcsAnswers, type ZipVmRun } from '../support/arm64Vm.ts';
import { builtFile, program, requires } from '../support/requirements.ts';

const root = path.resolve(new URL('../..', import.meta.url).pathname);
const zipFile = path.join('artifacts', zipName('aarch64'));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const NO_TRACEPOINT = 'load: kernel lacks tracepoint sock_send_length';

const needs = [await program(QEMU_SYSTEM, 'qemu-system-arm'), builtFile(zipFile)];

describe("arm64 release zip in a qemu-system-aarch64 VM on Debian 12's kernel", requires(...needs), () => {
  let run: ZipVmRun;

  beforeAll(async () => {
    run = await runZipInVm({
      root,
      zipFile,
      kernelRelease: 'bookworm',
      script: readFileSync(new URL('guest-debian12.sh', import.meta.url), 'utf8'),
      timeoutMs: 600_000,
    });
  }, 660_000);

  it('boots Linux 6.1 and runs the script to its end; --version works', () => {
    expect(run.vm.completed, `console tail:\n${run.vm.console.slice(-3000)}`).toBe(true);
    expect(run.step('kernel').stdout).toMatch(/^6\.1\.\d+.*-cloud-arm64\n$/);
    expect(run.step('version')).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it("the helper's traffic mode falls back to sock_diag and names the missing tracepoint", () => {
    expect(run.step('traffic-probe').code).toBe(0);
    const answers = splitProcsAnswers(run.step('traffic').stdoutBytes).map((a) => decodeTrafficResponse(a));
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatchObject({ mode: 'sockdiag', reason: NO_TRACEPOINT, processes: [] });
  });

  it('collect --once: served by the helper over sock_diag, the listener attributed, the fallback reason in the sample', () => {
    const s = run.step('collect');
    expect(s.code, s.stderr).toBe(0);
    const sample = JSON.parse(s.stdout) as {
      host: {
        degraded: string[];
        listening: Array<{ protocol: string; port: number; pid?: number }>;
        processTraffic?: { mode: string; reason?: string };
      };
    };
    expect(sample.host.degraded).toEqual([]);
    expect(sample.host.processTraffic).toMatchObject({ mode: 'sockdiag', reason: NO_TRACEPOINT });
    const listenerPid = Number(run.step('collect-listener').stdout.trim());
    expect(sample.host.listening.filter((l) => l.port === 7070)).toContainEqual(
      expect.objectContaining({ protocol: 'tcp', pid: listenerPid }),
    );
  });
});
