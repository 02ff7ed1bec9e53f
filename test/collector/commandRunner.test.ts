import { describe, expect, it } from 'vitest';
import { CommandError, runCommand } from '../../src/collector/commandRunner.ts';

describe('runCommand (execFile, argument arrays)', () => {
  it('passes arguments verbatim — no shell ever interprets them', async () => {
    expect(await runCommand('printf', ['%s|', 'a b', '$(id)', ';rm -rf /'])).toBe('a b|$(id)|;rm -rf /|');
  });

  it('feeds stdin and classifies failures', async () => {
    expect(await runCommand('cat', [], { input: 'hello' })).toBe('hello');
    await expect(runCommand('dedge-no-such-program', [])).rejects.toMatchObject({
      kind: 'not-found',
      message: 'dedge-no-such-program: not found',
    });
    await expect(runCommand('ls', ['/dedge-no-such-dir'])).rejects.toBeInstanceOf(CommandError);
    await expect(runCommand('sleep', ['5'], { timeoutMs: 100 })).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('validates program and namespace names before running anything', async () => {
    await expect(runCommand('sh -c', [])).rejects.toThrow(/invalid program name/);
    await expect(runCommand('true', [], { netns: '../etc' })).rejects.toThrow(/invalid namespace name/);
    await expect(runCommand('true', [], { netns: 'a b' })).rejects.toThrow(/invalid namespace name/);
  });
});
