// `npm run recipe:sync`: writes scripts/recipeDefaults.ts recipeDefaultConfiguration() into
// recipe.yaml's ComponentConfiguration.DefaultConfiguration, keeping every other line and comment.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { recipeDefaultConfiguration } from './recipeDefaults.ts';

/** recipe.yaml text with its DefaultConfiguration replaced (pure: text in, text out). */
export function syncRecipeText(recipeText: string, defaults: Record<string, unknown>): string {
  const doc = parseDocument(recipeText);
  if (doc.errors.length > 0) throw new Error(`recipe.yaml: ${doc.errors.map((e) => e.message).join('; ')}`);
  const section = doc.getIn(['ComponentConfiguration']);
  if (section === undefined) throw new Error('recipe.yaml: ComponentConfiguration: is missing');
  doc.setIn(['ComponentConfiguration', 'DefaultConfiguration'], doc.createNode(defaults));
  return doc.toString({ lineWidth: 110 });
}

if (import.meta.main) {
  const file = path.resolve(process.cwd(), 'recipe.yaml');
  const before = readFileSync(file, 'utf8');
  const after = syncRecipeText(before, recipeDefaultConfiguration());
  if (after !== before) writeFileSync(file, after);
  process.stderr.write(
    `recipe:sync: ${after === before ? 'recipe.yaml already up to date' : 'recipe.yaml DefaultConfiguration rewritten'}\n`,
  );
}
