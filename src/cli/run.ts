// `defender-edge run`: the agent as a Greengrass component. Everything it needs comes from the component
// environment the nucleus sets (docs/greengrass-ipc.md#the-components-environment); SIGTERM (the nucleus stopping us) is a clean stop.
import type { LevelWithSilent } from 'pino';
import { Agent } from '../agent/agent.ts';
import { ComponentEnvironmentError, readComponentEnvironment } from '../ipc/componentEnv.ts';
import { createLogger } from '../log.ts';
import { parseCommandArgs, UsageError } from './args.ts';

const USAGE = `usage: defender-edge run [--state-dir DIR] [--thing NAME] [--log-level LEVEL]

Runs the agent. Reads AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT, SVCUID and AWS_IOT_THING_NAME
from the environment the Greengrass nucleus (or \`defender-edge emulator\`) gives a component. Opens its
control socket control.sock (mode 0600) in the working directory — under Greengrass the component's work
folder — for \`defender-edge status\`, \`actions\`, \`violations\`, \`explain\`, \`pause\` and \`resume\`.

  --state-dir  where all state lives (outbox, report ids, thresholds, actions, last good configuration);
               overrides the stateDir setting (default: stateDir, i.e. ./state in the component's work folder)
  --thing      thing name, when AWS_IOT_THING_NAME is not set
  --log-level  fatal|error|warn|info|debug|trace|silent (default info, or DEFENDER_EDGE_LOG_LEVEL)
  --report-interval-seconds N
               demos and tests only: send Defender reports every N seconds instead of the configured
               reporting.intervalSeconds (≥ 300; Device Defender throttles more frequent reports)`;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** What ps / pgrep see for the agent. */
export const PROCESS_TITLE = 'defender-edge';

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      'state-dir': { type: 'string' },
      thing: { type: 'string' },
      'report-interval-seconds': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    false,
  );
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const level = values['log-level'];
  if (level !== undefined && !LEVELS.includes(level)) throw new UsageError(`--log-level: must be one of ${LEVELS.join(', ')}`);
  let env: ReturnType<typeof readComponentEnvironment>;
  try {
    env = readComponentEnvironment();
  } catch (err) {
    if (err instanceof ComponentEnvironmentError) {
      process.stderr.write(
        `defender-edge run: ${err.message}\n(start it from Greengrass, or next to \`defender-edge emulator\`; see README)\n`,
      );
      return 2;
    }
    throw err;
  }
  const thingName = env.thingName ?? values.thing;
  if (!thingName) throw new UsageError('no thing name: set AWS_IOT_THING_NAME or pass --thing');
  let reportIntervalOverrideSeconds: number | undefined;
  if (values['report-interval-seconds'] !== undefined) {
    reportIntervalOverrideSeconds = Number(values['report-interval-seconds']);
    if (!Number.isInteger(reportIntervalOverrideSeconds) || reportIntervalOverrideSeconds < 1 || reportIntervalOverrideSeconds > 86_400) {
      throw new UsageError('--report-interval-seconds: must be an integer from 1 to 86400');
    }
  }
  // Node names its main thread "MainThread", which is what ps, top and pgrep show (the thread's comm);
  // the title sets the comm (prctl PR_SET_NAME, up to 15 bytes) and the command line ps -f shows.
  process.title = PROCESS_TITLE;
  const logger = createLogger(level ? { level: level as LevelWithSilent } : {});
  const agent = new Agent({
    socketPath: env.socketPath,
    authToken: env.authToken,
    thingName,
    bootstrapStateDir: values['state-dir'] ?? 'state',
    ...(values['state-dir'] !== undefined ? { stateDir: values['state-dir'] } : {}),
    // Greengrass runs a component with its work folder as the working directory: the control socket goes there.
    workDir: process.cwd(),
    logger,
    ...(reportIntervalOverrideSeconds !== undefined ? { reportIntervalOverrideSeconds } : {}),
  });

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    if (stopping) return;
    logger.info({ signal }, 'stopping');
    stopping = agent.stop();
  };
  const done = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => {
      stop('SIGTERM');
      void stopping!.then(resolve);
    });
    process.once('SIGINT', () => {
      stop('SIGINT');
      void stopping!.then(resolve);
    });
  });
  try {
    await agent.start();
  } catch (err) {
    logger.fatal({ err }, 'agent failed to start');
    await agent.ipc.updateState('ERRORED').catch(() => undefined);
    await agent.stop();
    return 1;
  }
  await done;
  return 0;
}
