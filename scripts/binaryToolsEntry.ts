// Entry of the tools bundle (scripts/binaryCommands.ts): every command, for the command lines the
// binary's main script does not run itself. Its main is called by scripts/binaryEntry.ts.
export { main } from '../src/main.ts';
