// `defender-edge validate-report [--topic TOPIC] FILE|-`: validate one Device Defender report like the
// service (docs/reports.md). Prints the service-style accepted/rejected JSON on stdout,
// warnings (data the service accepts but does not retain) on stderr. Exit 0 accepted, 1 rejected,
// 2 usage error (bad options, unreadable file, a topic that is not a Defender report topic).
import { closeSync, openSync, readSync } from 'node:fs';
import { checkReportMessage } from '../report/checkMessage.ts';
import { MAX_MESSAGE_BYTES } from '../report/model.ts';
import { parseCommandArgs, UsageError } from './args.ts';

const USAGE = `usage: defender-edge validate-report [--topic TOPIC] FILE|-

Validates a Device Defender metrics report (JSON or CBOR) like the service and prints its answer.
  --topic TOPIC  the topic it is published on: $aws/things/{thing}/defender/metrics/{json|cbor}
                 (sets the format and the thing; without it the format is detected from the content)
  FILE|-         the report file, or - for stdin
Exit status: 0 accepted, 1 rejected, 2 usage error.`;

/**
 * Read at most `limit` bytes, plus one to know there is more: a report over the message limit is
 * rejected without reading a multi-gigabyte input into memory.
 */
async function readBounded(file: string, limit: number): Promise<Buffer> {
  if (file !== '-') {
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(limit + 1);
      let length = 0;
      for (let n = 1; n > 0 && length <= limit; length += n) n = readSync(fd, buffer, length, buffer.length - length, null);
      return buffer.subarray(0, length);
    } finally {
      closeSync(fd);
    }
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length > limit) break; // leaving the loop destroys the stream: the rest is never read
  }
  return Buffer.concat(chunks).subarray(0, limit + 1);
}

export async function validateReportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { topic: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected one FILE (or - for stdin)\n${USAGE}`);
  const file = positionals[0]!;

  let payload: Buffer;
  try {
    payload = await readBounded(file, MAX_MESSAGE_BYTES);
  } catch (err) {
    throw new UsageError(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }

  const check = checkReportMessage({ ...(values.topic !== undefined ? { topic: values.topic } : {}), payload, nowMs: Date.now() });
  if (check.status === 'NOT_A_REPORT_TOPIC') throw new UsageError(check.error);
  if (check.status === 'ACCEPTED') {
    for (const w of check.warnings) process.stderr.write(`warning: ${w}\n`);
  }
  process.stdout.write(`${JSON.stringify(check.response)}\n`);
  return check.status === 'ACCEPTED' ? 0 : 1;
}
