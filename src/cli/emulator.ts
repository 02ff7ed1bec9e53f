// Placeholder until the issue that owns this command lands: it says so and exits 2, never pretends.
export async function emulatorCommand(_argv: string[]): Promise<number> {
  process.stderr.write('defender-edge: this command is not built yet\n');
  return 2;
}
