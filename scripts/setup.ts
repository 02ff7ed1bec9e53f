// `npm run setup [-- --dry-run]`: everything the tests need on a Debian/Ubuntu machine that has Node.js
// and npm, run as root; the first step of `npm test`. Idempotent and quick when all is there:
//   1. the Debian packages of scripts/systemPackages.ts that are missing: `dpkg --add-architecture` for
//      the foreign architectures they need, one `apt-get update`, one `apt-get install` (nothing at all
//      when nothing is missing);
//   2. the standalone binaries and zips the tests run (artifacts/, `npm run build:binaries`), which
//      rebuild only when an input changed (their fingerprint in artifacts/build-info.json).
// Not root, or no dpkg/apt-get: says what is missing and how to install it, and goes on (the tests that
// need it skip with that reason or fail). --dry-run: prints the plan as JSON on stdout, changes nothing.
// Exit 0 when done, 1 when apt-get or the build failed, 2 on a bad command line.
import { execFile, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { buildBinaries } from './buildBinaries.ts';
import { type AptPlan, installedFromDpkgQuery, planApt, SYSTEM_PACKAGES } from './systemPackages.ts';

const log = (line: string) => process.stderr.write(`setup: ${line}\n`);

function capture(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
}

/** Runs a command with its output on our stderr (apt-get's progress and errors stay visible, stdout stays ours). */
function runVisible(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  log(`${file} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', process.stderr, process.stderr], env });
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${file} ${args.join(' ')}: exit ${code ?? signal}`))));
  });
}

interface DpkgState {
  nativeArch: string;
  foreign: string[];
  installed: Set<string>;
}

/** null when this is not a dpkg system. */
async function dpkgState(): Promise<DpkgState | null> {
  try {
    const nativeArch = (await capture('dpkg', ['--print-architecture'])).trim();
    const foreign = (await capture('dpkg', ['--print-foreign-architectures'])).split('\n').filter((a) => a !== '');
    const listing = await capture('dpkg-query', ['-W', '-f', '${Package}\t${Architecture}\t${db:Status-Status}\n']);
    return { nativeArch, foreign, installed: installedFromDpkgQuery(listing, nativeArch) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function install(plan: AptPlan): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const p of plan.missing) log(`missing ${p.name}${p.arch ? `:${p.arch}` : ''}: ${p.why}`);
  // Ubuntu serves other architectures from ports.ubuntu.com: an arm64 package there needs a sources entry
  // for it (Debian's mirrors carry every architecture).
  for (const arch of plan.addArchitectures) await runVisible('dpkg', ['--add-architecture', arch], env);
  await runVisible('apt-get', ['update', '-qq'], env);
  await runVisible('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...plan.install], env);
}

async function systemPackages(dryRun: boolean): Promise<{ plan: AptPlan | null; installed: boolean }> {
  const state = await dpkgState();
  if (state === null) {
    log(`no dpkg here (not Debian/Ubuntu): install the equivalents of ${SYSTEM_PACKAGES.map((p) => p.name).join(', ')} yourself`);
    return { plan: null, installed: false };
  }
  const plan = planApt(SYSTEM_PACKAGES, state.installed, state.foreign, state.nativeArch);
  if (plan.install.length === 0) {
    log(`system packages: all ${SYSTEM_PACKAGES.length} installed`);
    return { plan, installed: false };
  }
  if (dryRun) return { plan, installed: false };
  if (process.getuid?.() !== 0) {
    for (const p of plan.missing) log(`missing ${p.name}${p.arch ? `:${p.arch}` : ''}: ${p.why}`);
    log(`not root, so not installing them: run \`npm run setup\` as root, or apt-get install ${plan.install.join(' ')}`);
    return { plan, installed: false };
  }
  await install(plan);
  return { plan, installed: true };
}

async function cli(argv: string[]): Promise<number> {
  let values: { 'dry-run': boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { 'dry-run': { type: 'boolean', default: false } }, strict: true }));
  } catch (err) {
    process.stderr.write(`setup: ${(err as Error).message}\nusage: setup [--dry-run]\n`);
    return 2;
  }
  const dryRun = values['dry-run'];
  const { plan } = await systemPackages(dryRun);
  if (dryRun) {
    process.stdout.write(
      `${JSON.stringify({ addArchitectures: plan?.addArchitectures ?? null, install: plan?.install ?? null, build: 'npm run build:binaries (rebuilds only what changed)' })}\n`,
    );
    return 0;
  }
  const built = await buildBinaries({ root: process.cwd(), log: (line) => log(`build-binaries: ${line}`) });
  log(`binaries: ${built.upToDate ? 'up to date' : 'built'} (${built.targets.map((t) => t.zip.path).join(', ')})`);
  return 0;
}

cli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`setup: ${(err as Error).message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
