import { describe, expect, it } from 'vitest';
import { CommandError, createCommandRunner, resolveProgram } from '../../src/system/commandRunner.ts';
import { validateNetnsName } from '../../src/system/netnsName.ts';

const runner = createCommandRunner();

describe('the command runner (execFile, argument arrays)', () => {
  it('passes arguments verbatim — no shell ever interprets them', async () => {
    expect(await runner.run('printf', ['%s|', 'a b', '$(id)', ';rm -rf /'])).toBe('a b|$(id)|;rm -rf /|');
  });

  it('feeds stdin and classifies failures', async () => {
    expect(await runner.run('cat', [], { input: 'hello' })).toBe('hello');
    await expect(runner.run('dedge-no-such-program', [])).rejects.toMatchObject({
      kind: 'not-found',
      message: 'dedge-no-such-program: not found',
    });
    await expect(runner.run('ls', ['/dedge-no-such-dir'])).rejects.toBeInstanceOf(CommandError);
    await expect(runner.run('sleep', ['5'], { timeoutMs: 100 })).rejects.toMatchObject({ kind: 'timeout', message: 'sleep: timed out' });
  });

  it('finds ip and nft in the sbin directories even when PATH lacks them (Greengrass PATH)', async () => {
    expect(resolveProgram('ip')).toMatch(/^\/(usr\/)?s?bin\/ip$/);
    expect(resolveProgram('/bin/true')).toBe('/bin/true');
    expect(resolveProgram('dedge-no-such-program')).toBe('dedge-no-such-program');
    const path = process.env.PATH;
    process.env.PATH = '/dedge-nowhere';
    try {
      expect(await createCommandRunner().run('ip', ['-j', 'link', 'show', 'dev', 'lo'])).toContain('"ifname":"lo"');
    } finally {
      process.env.PATH = path;
    }
  });

  it('validates program and namespace names before running anything', async () => {
    await expect(runner.run('sh -c', [])).rejects.toThrow(/invalid program name/);
    expect(() => createCommandRunner({ netns: '../etc' })).toThrow(/^netns: must be a network namespace name/);
    expect(() => createCommandRunner({ netns: 'a b' })).toThrow(/^netns: /);
    expect(validateNetnsName('dedge01g')).toBe('dedge01g');
    expect(() => validateNetnsName('-x', '--netns')).toThrow(/^--netns: .*got "-x"$/);
  });
});
