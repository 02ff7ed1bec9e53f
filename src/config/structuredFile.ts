// Reading a JSON or YAML file given on the command line: `.yaml`/`.yml` through the yaml package, anything
// else as JSON. Errors name the file and are meant for the user, not a stack trace.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export type FileRead = { ok: true; value: unknown } | { ok: false; error: string };

export function readStructuredFile(path: string): FileRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, error: `${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  try {
    return { ok: true, value: /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: `${path}: not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(err as Error).message.split('\n')[0]}` };
  }
}
