// Which commands the standalone binary's main script runs itself, and where the others come from.
// The main script is what every start of the binary parses and keeps in memory, the agent's `run`
// included; the emulator, the demo, its actors, MQTT broker and client, YAML and the other tools are
// never used by the agent, so they live in a second bundle, a SEA asset, loaded only for those commands
// (docs/packaging.md). The collector (`collect`) and the interface watchdog share the agent's code.

/** First arguments the main script handles; anything else is passed to the tools bundle's main. */
export const CORE_COMMANDS: Readonly<Record<string, string>> = {
  run: 'src/cli/run.ts',
  collect: 'src/cli/collect.ts',
  '_link-watchdog': 'src/cli/linkWatchdog.ts',
};
export const CORE_FLAGS: readonly string[] = ['--version', '-v'];

/** File name of the tools bundle: beside the main script when the bundles run under plain Node. */
export const TOOLS_BUNDLE = 'defender-edge-tools.cjs';

/**
 * The tools bundle in the binary: a SEA asset of that name holding it brotli-compressed. JavaScript takes
 * ~20 % less room compressed with brotli than with the zip's deflate, and the zip is what a gateway
 * downloads (README, Benchmarks: ≤ 45 MB); decompressing costs ~10 ms, only for the tools' commands.
 */
export const TOOLS_ASSET = `${TOOLS_BUNDLE}.br`;

export function isCoreInvocation(argv: readonly string[]): boolean {
  const first = argv[0];
  return first !== undefined && (Object.hasOwn(CORE_COMMANDS, first) || CORE_FLAGS.includes(first));
}
