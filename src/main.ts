import { UsageError } from './cli/args.ts';
import { EXIT_INVALID, EXIT_USAGE } from './cli/errors.ts';
import { version } from './version.ts';

/** A subcommand: parses its own argv, returns the process exit code. */
export type Command = (argv: string[]) => Promise<number>;

interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

// Each command lives in its own module, loaded only when chosen: `collect` should not pay for the emulator.
const commands: Record<string, CommandEntry> = {
  run: {
    summary: 'run the agent as a Greengrass component (IPC from the component environment)',
    load: async () => (await import('./cli/run.ts')).runCommand,
  },
  emulator: {
    summary: 'run the local Greengrass IPC emulator (nucleus stand-in)',
    load: async () => (await import('./cli/emulator.ts')).emulatorCommand,
  },
  demo: {
    summary: 'run the rogue-agent scenario end to end on this machine',
    load: async () => (await import('./cli/demo.ts')).demoCommand,
  },
  evaluate: {
    summary: 'evaluate a security profile against datapoints (JSON lines)',
    load: async () => (await import('./cli/evaluate.ts')).evaluateCommand,
  },
  'validate-report': {
    summary: 'validate a Device Defender report like the service',
    load: async () => (await import('./cli/validateReport.ts')).validateReportCommand,
  },
  'check-config': {
    summary: 'validate a component configuration file',
    load: async () => (await import('./cli/checkConfig.ts')).checkConfigCommand,
  },
  collect: { summary: 'print host and downstream metric samples', load: async () => (await import('./cli/collect.ts')).collectCommand },
  // The operator's console: talk to the running agent over its control socket (or read its persisted state).
  status: {
    summary: "the running agent's status: connection, outbox, last sample, actions, violations",
    load: async () => (await import('./cli/status.ts')).statusCommand,
  },
  actions: {
    summary: 'list the actions in force (read back from the kernel), or lift one',
    load: async () => (await import('./cli/actions.ts')).actionsCommand,
  },
  violations: { summary: 'list the recent violations', load: async () => (await import('./cli/violations.ts')).violationsCommand },
  explain: {
    summary: 'explain one violation: its window against the threshold, rails, action, outcome',
    load: async () => (await import('./cli/explain.ts')).explainCommand,
  },
  pause: {
    summary: 'make every enforcement decision dry-run for a while',
    load: async () => (await import('./cli/pause.ts')).pauseCommand,
  },
  resume: { summary: 'end a pause', load: async () => (await import('./cli/pause.ts')).resumeCommand },
};

// Helper processes, hidden from --help: the demo's actors (its rogue agents and their innocent neighbour)
// and the interface watchdog, spawned from this same executable so they work from the standalone binary.
const hiddenCommands: Record<string, () => Promise<Command>> = {
  '_rogue-agent': async () => (await import('./demo/actors.ts')).rogueAgentCommand,
  '_tcp-streamer': async () => (await import('./demo/actors.ts')).tcpStreamerCommand,
  _innocent: async () => (await import('./demo/actors.ts')).innocentCommand,
  _device: async () => (await import('./demo/actors.ts')).deviceCommand,
  // Not a demo helper: the interface-down dead man's switch (src/enforce/linkWatchdog.ts).
  '_link-watchdog': async () => (await import('./cli/linkWatchdog.ts')).linkWatchdogCommand,
};

export function helpText(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    `defender-edge ${version()} — AWS IoT Device Defender on the Greengrass edge`,
    '',
    'usage: defender-edge <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    '  --version  print the version',
    '  --help     this text; `defender-edge <command> --help` for a command',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const hidden = hiddenCommands[name];
  const entry = commands[name] ?? (hidden ? { summary: '', load: hidden } : undefined);
  if (!entry) {
    process.stderr.write(`defender-edge: unknown command '${name}'\n\n${helpText()}\n`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`defender-edge ${name}: ${err.message}\n`);
      return EXIT_USAGE;
    }
    // A user sees what went wrong, not where in our code; DEFENDER_EDGE_DEBUG=1 adds the stack.
    const e = err instanceof Error ? err : new Error(String(err));
    const detail = process.env.DEFENDER_EDGE_DEBUG === '1' ? (e.stack ?? e.message) : e.message;
    process.stderr.write(`defender-edge ${name}: ${detail}\n`);
    return EXIT_INVALID;
  }
}
