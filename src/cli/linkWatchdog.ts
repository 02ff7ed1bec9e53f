// `defender-edge _link-watchdog --state FILE --ifname DEV --at-ms EPOCH_MS [--netns NS] [--detach]`
// (hidden): the dead man's switch of one interface-down (src/enforce/linkWatchdog.ts). With
// --detach it starts the watchdog outside the caller's process tree, prints its pid and exits. Exits 0
// when it restored the link or its state folder is gone, 1 if `ip` failed.
import { isAbsolute } from 'node:path';
import { launchDetached, runWatchdog } from '../enforce/linkWatchdog.ts';
import { validateInterfaceName } from '../enforce/targetValidation.ts';
import { createCommandRunner } from '../system/commandRunner.ts';
import { validateNetnsName } from '../system/netnsName.ts';
import { parseCommandArgs, UsageError } from './args.ts';

export async function linkWatchdogCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      state: { type: 'string' },
      ifname: { type: 'string' },
      'at-ms': { type: 'string' },
      netns: { type: 'string' },
      detach: { type: 'boolean', default: false },
    },
    false,
  );
  if (!values.state || !isAbsolute(values.state)) throw new UsageError('--state: an absolute path is required');
  if (!values.ifname) throw new UsageError('--ifname is required');
  const atMs = Number(values['at-ms']);
  if (!Number.isSafeInteger(atMs) || atMs <= 0)
    throw new UsageError(`--at-ms: must be a positive integer (ms since the epoch), got ${JSON.stringify(values['at-ms'])}`);
  let ifname: string;
  let netns: string | undefined;
  try {
    ifname = validateInterfaceName(values.ifname, '--ifname');
    netns = values.netns === undefined ? undefined : validateNetnsName(values.netns, '--netns');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.detach) {
    const args = ['--state', values.state, '--ifname', ifname, '--at-ms', String(atMs), ...(netns !== undefined ? ['--netns', netns] : [])];
    const pid = launchDetached(args);
    if (pid === undefined) return 1;
    process.stdout.write(`${pid}\n`);
    return 0;
  }
  // The agent stopping its watchdog (it reverted by itself) is the normal end.
  process.once('SIGTERM', () => process.exit(0));
  const runner = createCommandRunner(netns !== undefined ? { netns } : {});
  try {
    await runWatchdog({ statePath: values.state, ifname, atMs, runner });
    return 0;
  } catch {
    return 1;
  }
}
