/** A tiny random model folder with a tokenizer trained on the Korean/English fixture, for the server tests. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainTokenizer } from '../../src/tokenizer/index.js';
import { makeConfig, type ModelConfig } from '../../src/model/config.js';
import { initParams } from '../../src/model/params.js';
import { saveModelFolder } from '../../src/model/folder.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * Writes tokenizer + model into a fresh temp folder; returns the folder (remove it when done) and the model dir.
 * `endless`: an untied output layer whose rows for special tokens are zero, so (with every other logit random) greedy
 * decoding practically never ends a turn by itself — for tests that must stop a long answer midway.
 */
export async function tinyModel(overrides: Partial<ModelConfig> = {}, seed = 1, opts: { endless?: boolean } = {}): Promise<{ root: string; model: string }> {
  const root = mkdtempSync(join(tmpdir(), 'kolm-serve-'));
  const texts = readFileSync(join(repoRoot, 'test', 'fixtures', 'text', 'ko-en.txt'), 'utf8').split('\n');
  const tokenizer = await trainTokenizer({ texts, vocabSize: 600, morpheme: false, progress: false });
  await tokenizer.save(join(root, 'tok'));
  const config = makeConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 1024, initializer_range: 0.5, eos_token_id: tokenizer.tokenId('<|endoftext|>')!,
    ...(opts.endless ? { tie_word_embeddings: false } : {}),
    ...overrides,
  });
  const weights = initParams(config, seed);
  if (opts.endless) {
    const head = weights['lm_head.weight']!;
    for (const id of Object.values(tokenizer.specialTokens)) head.data.fill(0, id * config.hidden_size, (id + 1) * config.hidden_size);
  }
  const model = join(root, 'model');
  await saveModelFolder(model, config, weights, { tokenizerDir: join(root, 'tok') });
  return { root, model };
}
