#!/usr/bin/env node
// Development entry: Node 24 strips TypeScript types natively, so the sources run as they are.
// The shipped binary runs an esbuild bundle of the same src/main.ts instead.
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
