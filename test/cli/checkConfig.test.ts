import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '../../bin/defender-edge.js');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dedge-cli-check-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function check(name: string, content: string) {
  const p = join(dir, name);
  writeFileSync(p, content);
  const r = spawnSync(process.execPath, [bin, 'check-config', p], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, path: p };
}

describe('defender-edge check-config', () => {
  it('accepts a valid JSON configuration', () => {
    const r = check(
      'ok.json',
      JSON.stringify({
        behaviors: [{ name: 'b', metric: 'aws:all-bytes-out', criteria: { comparisonOperator: 'less-than', value: { count: 10 } } }],
      }),
    );
    expect(r).toMatchObject({ code: 0, stdout: `${r.path}: ok\n`, stderr: '' });
  });

  it('lists schema and behavior errors and exits 1', () => {
    const r = check(
      'bad.yaml',
      [
        'sampling:',
        '  intervalMs: 5',
        'behaviors:',
        '  - name: b',
        '    metric: aws:all-bytes-out',
        '    criteria:',
        '      comparisonOperator: in-port-set',
        '      value: {ports: [1]}',
      ].join('\n'),
    );
    expect(r.code).toBe(1);
    // Schema and behavior errors in one pass, each naming the value given.
    expect(r.stderr.trim().split('\n')).toEqual([
      'sampling.intervalMs: must be >= 100, got number 5',
      'behaviors[0].criteria.comparisonOperator: in-port-set does not apply to aws:all-bytes-out; ' +
        'use less-than or less-than-equals or greater-than or greater-than-equals',
      'behaviors[0].criteria.value: aws:all-bytes-out takes value.count, got value.ports',
    ]);
    const r2 = check(
      'bad2.yaml',
      [
        'behaviors:',
        '  - name: b',
        '    metric: aws:listening-tcp-ports',
        '    criteria:',
        '      comparisonOperator: in-port-set',
        '      value: {ports: [1]}',
        '      durationSeconds: 300',
      ].join('\n'),
    );
    expect(r2).toMatchObject({
      code: 1,
      stderr: 'behaviors[0].criteria.durationSeconds: cannot be used with list-based metric aws:listening-tcp-ports\n',
    });
  });

  it("checks a recipe's DefaultConfiguration and prefixes its paths", () => {
    const recipe = [
      "RecipeFormatVersion: '2020-01-25'",
      'ComponentName: com.example.DefenderEdge',
      'ComponentVersion: 1.0.0',
      'ComponentConfiguration:',
      '  DefaultConfiguration:',
      '    reporting: {intervalSeconds: 60}',
      'Manifests: []',
    ].join('\n');
    expect(check('recipe.yaml', recipe)).toMatchObject({
      code: 1,
      stderr: 'ComponentConfiguration.DefaultConfiguration.reporting.intervalSeconds: must be >= 300, got number 60\n',
    });
    expect(check('recipe2.yaml', recipe.replace('intervalSeconds: 60', 'intervalSeconds: 600'))).toMatchObject({ code: 0 });
  });

  it('reports unreadable or unparsable files with exit 1 and usage errors with exit 2', () => {
    expect(check('broken.json', '{"a":')).toMatchObject({ code: 1, stderr: expect.stringMatching(/broken\.json: not valid JSON/) });
    expect(check('list.json', '[1]')).toMatchObject({ code: 1, stderr: expect.stringMatching(/list\.json: \(root\): must be an object/) });
    const r = spawnSync(process.execPath, [bin, 'check-config'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
  });
});
