// `npm run docs:sync`: regenerate the README's configuration reference from the schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { withReference } from '../src/config/reference.ts';

const path = new URL('../README.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = withReference(before);
if (after !== before) writeFileSync(path, after);
process.stdout.write(after === before ? 'docs:sync: README up to date\n' : 'docs:sync: README configuration reference rewritten\n');
