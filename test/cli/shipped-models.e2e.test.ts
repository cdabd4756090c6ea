/**
 * The kolm family shipped in models/: each folder is a valid f16 HF model folder with a model card, loads, chats with
 * its template, and `kolm generate` without --model uses kolm-micro and answers as the library does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensorsHeader } from '../../src/formats/safetensors.js';
import { loadModel } from '../../src/infer/model.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const modelsDir = join(repoRoot, 'models');
const MAIN = join(here, '..', '..', 'src', 'cli', 'main.js');
const family = ['kolm-nano', 'kolm-micro', 'kolm-nano-en-base'];

test('the shipped family: f16 weights, tokenizer with chat template, model card', async () => {
  assert.deepEqual(readdirSync(modelsDir).filter((d) => existsSync(join(modelsDir, d, 'config.json'))).sort(), [...family].sort());
  for (const name of family) {
    const dir = join(modelsDir, name);
    const header = await readSafetensorsHeader(join(dir, 'model.safetensors'));
    assert.ok(Object.values(header.tensors).every((t) => t.dtype === 'F16'), `${name}: f16 tensors`);
    const tokenizerConfig = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as { chat_template?: string };
    assert.match(tokenizerConfig.chat_template ?? '', /im_start|endofturn/);
    const card = readFileSync(join(dir, 'README.md'), 'utf8');
    for (const section of ['## Model', '## Training', '## Evaluation', '## Intended use and limits', '## Reproduce']) assert.ok(card.includes(section), `${name} card: ${section}`);
    assert.match(card, /news_ppl_ko \| bits_per_byte/);
  }
});

test('kolm generate without --model answers with kolm-micro, greedily, as the library does', async () => {
  const model = await loadModel(join(modelsDir, 'kolm-micro'));
  const expected = await model.chat([{ role: 'user', content: '한국의 수도는 어디인가요?' }], { maxNewTokens: 12 });
  assert.ok(expected.text.length > 0);
  const r = spawnSync(process.execPath, [MAIN, 'generate', '--prompt', '한국의 수도는 어디인가요?', '--chat', '--max-new-tokens', '12', '--json'], { cwd: '/', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { ids: number[]; text: string };
  assert.equal(out.text, expected.text);
});
