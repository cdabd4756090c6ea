/**
 * Loading a published-layout folder (bf16 shards listed by model.safetensors.index.json) holds one f32 copy of the
 * weights: in a fresh process, the peak RSS added by `loadModelFolder` stays within 1.2× the f32 weight bytes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeConfig } from '../../src/model/config.js';
import { parameterCount } from '../../src/model/params.js';
import { writeRandomBf16Folder } from '../../bench/load.js';

const dir = mkdtempSync(join(tmpdir(), 'kolm-folder-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a bf16 sharded folder loads with peak RSS ≤ 1.2× its f32 weight bytes (101M parameters in 3 shards, in a child process)', () => {
  const config = makeConfig({ vocab_size: 32768, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 8, num_attention_heads: 12, num_key_value_heads: 4, tie_word_embeddings: false });
  const path = join(dir, 'model');
  writeRandomBf16Folder(path, config, 80_000_000);
  assert.ok(readdirSync(path).includes('model.safetensors.index.json'));
  assert.equal(readdirSync(path).filter((f) => f.endsWith('.safetensors')).length, 3);
  const main = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');
  const out = execFileSync(process.execPath, [main, 'bench', 'load', '--child', path], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as { peakRssBytes: number; rssBeforeBytes: number; f32Bytes: number };
  assert.equal(r.f32Bytes, 4 * parameterCount(config));
  const added = r.peakRssBytes - r.rssBeforeBytes;
  console.log(`# ${(parameterCount(config) / 1e6).toFixed(0)}M parameters: peak RSS added by loading ${(added / 1e6).toFixed(0)} MB for ${(r.f32Bytes / 1e6).toFixed(0)} MB of f32 weights (${(added / r.f32Bytes).toFixed(3)}×)`);
  assert.ok(added <= 1.2 * r.f32Bytes, `${added} bytes added for ${r.f32Bytes} f32 bytes`);
});
