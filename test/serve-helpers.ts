/** A tiny random model folder with a tokenizer trained on the Korean/English fixture, for the server tests. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainTokenizer } from '../src/tokenizer/index.js';
import { makeConfig, type ModelConfig } from '../src/model/config.js';
import { initParams } from '../src/model/params.js';
import { saveModelFolder } from '../src/model/folder.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Writes tokenizer + model into a fresh temp folder; returns the folder (remove it when done) and the model dir. */
export async function tinyModel(overrides: Partial<ModelConfig> = {}, seed = 1): Promise<{ root: string; model: string }> {
  const root = mkdtempSync(join(tmpdir(), 'kolm-serve-'));
  const texts = readFileSync(join(repoRoot, 'test', 'fixtures', 'text', 'ko-en.txt'), 'utf8').split('\n');
  const tokenizer = await trainTokenizer({ texts, vocabSize: 600, morpheme: false, progress: false });
  await tokenizer.save(join(root, 'tok'));
  const config = makeConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 1024, initializer_range: 0.5, eos_token_id: tokenizer.tokenId('<|endoftext|>')!,
    ...overrides,
  });
  const model = join(root, 'model');
  await saveModelFolder(model, config, initParams(config, seed), { tokenizerDir: join(root, 'tok') });
  return { root, model };
}
