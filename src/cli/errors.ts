// The one way a command reports bad input: `path: message` lines on stderr, at most 50 of them (a file
// with thousands of bad lines should not flood a terminal), and exit code 1. Exit codes across commands:
// 0 done / valid, 1 the input (file, configuration, report, datapoints) is invalid or the work failed,
// 2 the command line itself is wrong (README "Commands"). One deliberate extra: `status` exits 3 when the
// agent is not running, as an LSB init script's status action does
// (https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/iniscrptact.html).

const MAX_SHOWN = 50;

export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;
export const EXIT_NOT_RUNNING = 3;

export function failWithErrors(errors: readonly string[]): number {
  const shown = errors.slice(0, MAX_SHOWN);
  if (errors.length > shown.length) shown.push(`… and ${errors.length - shown.length} more errors`);
  process.stderr.write(`${shown.join('\n')}\n`);
  return EXIT_INVALID;
}
