// The operator commands' command lines: usage errors name the option (exit 2); with no agent they read
// the persisted state (status exits 3) or say that the agent must run (exit 1).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/agentProcess.ts';

const dir = mkdtempSync(join(tmpdir(), 'dedge-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => runCli([...args, '--work-dir', dir]);

describe('operator commands without an agent', () => {
  it('status reads the (empty) persisted state and exits 3', async () => {
    const r = await cli('status');
    expect(r.code).toBe(3);
    expect(r.stdout).toBe(
      [
        `agent: not running (no answer on its control socket); from its persisted state in ${join(dir, 'state')}`,
        'enforcement: dry-run',
        'actions in force: 0',
        'recent violations: 0 kept, 0 in alarm',
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await cli('status', '--json')).stdout) as { running: boolean; enforcement: { active: unknown[] } };
    expect(json).toMatchObject({ running: false, enforcement: { active: [] } });
  });

  it('lists nothing, explains nothing, and cannot lift, pause or resume', async () => {
    expect((await cli('actions', 'list')).stdout).toMatch(
      /^agent not running: actions from its persisted state in .*\nno actions in force\n$/,
    );
    expect((await cli('violations', 'list')).stdout).toBe('no recent violations\n');
    expect(await cli('explain', 'abcd1234')).toMatchObject({
      code: 1,
      stderr: 'defender-edge explain: violationId: no recent violation with id "abcd1234"\n',
    });
    for (const args of [['actions', 'lift', 'abcd1234'], ['pause', '60'], ['resume']]) {
      const r = await cli(...args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no agent answers on .*control\.sock/);
    }
  });

  it('usage errors exit 2 and name the option or argument', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['actions'], /expected list or lift/],
      [['actions', 'drop', 'x'], /unknown subcommand "drop"/],
      [['actions', 'lift'], /expected one action ID/],
      [['actions', 'lift', 'abcd', '--quiet-for=-1'], /--quiet-for: must be a duration from 0 to 2592000 seconds/],
      [['actions', 'list', '--quiet-for', '10'], /--quiet-for: only for `actions lift`/],
      [['violations', 'list', '--limit', '0'], /--limit: must be an integer from 1 to 1000, got "0"/],
      [['explain'], /expected one VIOLATION_ID/],
      [['explain', 'a/b'], /VIOLATION_ID: must be an id or a prefix of one, got "a\/b"/],
      [['explain', 'abcd', '--width', '5'], /--width: must be an integer from 10 to 200/],
      [['pause'], /expected SECONDS/],
      [['pause', '0'], /SECONDS: must be a duration from 1 to 2592000 seconds/],
      [['status', '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(message);
    }
  }, 60_000);

  it('each command has --help', async () => {
    for (const c of ['status', 'actions', 'violations', 'explain', 'pause', 'resume']) {
      const r = await runCli([c, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: defender-edge ${c}`));
    }
  }, 60_000);
});
