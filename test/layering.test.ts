/**
 * The source folders form layers, and a module imports only from its own folder or from a lower layer: the README's
 * architecture section, checked on every import in src/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = join(import.meta.dirname, '..', '..', 'src');

/** Lowest first; folders in one layer do not import each other. */
const LAYERS = [
  ['util', 'text'],
  ['graph', 'formats'],
  ['runtime', 'tokenizer'],
  ['data'],
  ['model'],
  ['infer'],
  ['train', 'eval', 'serve', 'interchange'],
  ['demo', 'pipeline'],
  ['bench'], // the benchmarks, outside src/ and shipped as dist/bench: `kolm bench` runs them
  ['cli'],
];
const rank = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

test('every src/ folder is in a layer, and every import goes to its own folder or a lower layer', () => {
  const folders = [...readdirSync(SRC).filter((f) => statSync(join(SRC, f)).isDirectory()), 'bench'];
  assert.deepEqual(folders.filter((f) => !rank.has(f)), [], 'folders without a layer');
  const wrong: string[] = [];
  let imports = 0;
  for (const file of sources(SRC)) {
    const from = relative(SRC, file).split('/')[0]!;
    if (!rank.has(from)) continue; // src/index.ts, the library entry, may import anything
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const path = relative(SRC, resolve(dirname(file), m[1]!));
      const to = path.startsWith('../bench/') ? 'bench' : path.split('/')[0]!;
      imports++;
      if (to !== from && !(rank.get(to)! < rank.get(from)!)) wrong.push(`${relative(SRC, file)} imports ${m[1]} (${from} → ${to})`);
    }
  }
  assert.ok(imports > 500, `read ${imports} imports`);
  assert.deepEqual(wrong, []);
});
