// No shell strings anywhere; every external command argument validated:
// 1. A scan of every source file we ship or run (src/, bin/, scripts/): child processes only through
//    execFile/spawn with argument arrays, in the few files allowed to, never `exec`/`execSync`, never
//    `shell: true`, no eval. 2. 10,000 seeded hostile values at the validators every command argument
//    goes through (pids, interface names, namespace names, addresses, CIDRs) and at the command runner:
//    a value is either refused with `path: message` before any process starts, or comes out in a form no
//    program can read as an option or a second argument.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAddress, parseCidr, validateInterfaceName, validatePid } from '../../src/enforce/targetValidation.ts';
import { createCommandRunner } from '../../src/system/commandRunner.ts';
import { validateNetnsName } from '../../src/system/netnsName.ts';
import { hostileString, hostileValue } from '../support/mutate.ts';
import { forEachCase, PATH_MESSAGE, runSeed } from '../support/prng.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CASES = Number(process.env.FUZZ_CASES ?? 10_000);

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs|cjs)$/.test(e.name))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Files that may start processes, and why (each builds an argument array from validated parts). */
const MAY_SPAWN: Record<string, string> = {
  'src/system/commandRunner.ts': 'ss/nft/ip for the collector and enforcement; program and netns validated',
  'scripts/seaExecutables.ts': 'build time only: the pinned Node writing the SEA blob, postject injecting it',
  'scripts/baseBinaries.ts': 'build time only: strip/unzip of base binaries',
  'scripts/buildSockDiag.ts': 'build time only: the C compiler for dedge-sockdiag',
  'scripts/setup.ts': 'test set-up only: dpkg-query, dpkg --add-architecture and apt-get with package names from its own list',
  'scripts/arm64VmPackages.ts':
    'arm64 test tier only: apt-get/apt-cache against its private apt state, dpkg-deb -x, xz -d; package names from its own list',
  'src/collector/nftSession.ts':
    "one long-lived `nft -j -i` (fixed arguments, program resolved like the command runner's; netns validated) reading the accounting table",
  'src/collector/helperProcess.ts': 'the dedge-sockdiag helper by absolute path, fixed flags (--traffic, --no-ebpf); netns validated',
  'src/demo/cast.ts': 'the demo cast: this same executable with fixed hidden subcommands',
  'src/cli/emulator.ts': 'mkfifo for --control fifo:PATH: fixed mode, the path after `--`',
  'src/enforce/linkWatchdog.ts': 'this same executable, the fixed hidden watchdog subcommand; interface and netns validated',
};

describe('no shell strings anywhere', () => {
  const files = [...sources('src'), ...sources('bin'), ...sources('scripts')];

  it('scans a real tree', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files).toContain('src/system/commandRunner.ts');
  });

  it('starts processes only with execFile/spawn and argument arrays, only where allowed', () => {
    const problems: string[] = [];
    for (const f of files) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      const code = text.replace(/^\s*\/\/.*$/gm, ''); // comments may mention what is forbidden
      const importsCp =
        /from ['"](node:)?child_process['"]|require\(\s*['"](node:)?child_process['"]\s*\)|import\(\s*['"](node:)?child_process['"]\s*\)/.test(
          code,
        );
      if (importsCp && !(f in MAY_SPAWN)) problems.push(`${f}: imports child_process`);
      const named = /import\s*\{([^}]*)\}\s*from\s*['"](?:node:)?child_process['"]/.exec(code);
      if (importsCp && !named) problems.push(`${f}: child_process imported other than by name`);
      for (const name of named?.[1]
        ?.split(',')
        .map((s) => s.trim().split(/\s+as\s+/)[0]!)
        .filter(Boolean) ?? []) {
        if (!['execFile', 'spawn', 'type ChildProcess', 'ChildProcess', 'type ChildProcessWithoutNullStreams'].includes(name))
          problems.push(`${f}: imports ${name} from child_process`);
      }
      if (/\bshell\s*:\s*(?!false\b)/.test(code)) problems.push(`${f}: sets a shell option`);
      if (/\bexecSync\s*\(|\bexec\s*\(\s*[`'"]/.test(code)) problems.push(`${f}: runs a command string`);
      if (/\beval\s*\(|new\s+Function\s*\(/.test(code)) problems.push(`${f}: evaluates code from a string`);
    }
    expect(problems).toEqual([]);
  });
});

describe('fuzz: command arguments are validated before any process starts', () => {
  it(`${CASES} hostile values at the target validators`, async () => {
    await forEachCase(
      'target validators',
      CASES,
      (r) => {
        const v = r.bool(0.5) ? hostileString(r) : hostileValue(r);
        const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
        const checks: Array<[string, () => unknown, (out: unknown) => boolean]> = [
          ['pid', () => validatePid(v), (out) => Number.isInteger(out) && (out as number) >= 1],
          ['interface', () => validateInterfaceName(v), (out) => /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]{0,14}$/.test(out as string)],
          ['netns', () => validateNetnsName(v), (out) => /^[a-zA-Z0-9_.][a-zA-Z0-9_.-]{0,63}$/.test(out as string)],
          [
            'address',
            () => parseAddress(r.bool() ? v : `${s.slice(0, 20)}`),
            (out) => /^[0-9a-f.:]+$/.test((out as { text: string }).text),
          ],
          ['cidr', () => parseCidr(v), (out) => Array.isArray(out) && out.length === 2],
        ];
        for (const [what, run, ok] of checks) {
          let out: unknown;
          try {
            out = run();
          } catch (err) {
            const m = (err as Error).message;
            if (!PATH_MESSAGE.test(m)) throw new Error(`${what}: refusal is not "path: message": ${m}`);
            continue;
          }
          // Accepted: nothing a program could read as an option, a separator or a second argument.
          if (!ok(out)) throw new Error(`${what}: accepted ${JSON.stringify(v)?.slice(0, 100)} as ${JSON.stringify(out)?.slice(0, 100)}`);
        }
      },
      runSeed(),
    );
  });

  it('the command runner refuses a hostile namespace or program before spawning', async () => {
    const seed = runSeed();
    await forEachCase(
      'command runners',
      500,
      async (r) => {
        const bad = r.pick(['-x', '--help', 'a b', 'a;reboot', '$(id)', '../x', '', 'x'.repeat(70), '\u0000', 'ns\nx', '.', '..']);
        expect(() => createCommandRunner({ netns: bad })).toThrow(/netns: /);
        await expect(createCommandRunner().run(r.pick(['-x', 'a b', 'sh -c id', '$(id)', '']), [])).rejects.toThrow(/invalid program name/);
      },
      seed,
    );
  });
});
