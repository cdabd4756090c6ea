/** Shared set-up for the alignment tests: a small tokenizer trained on the fixture text and tiny model folders. */
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainTokenizer } from '../src/tokenizer/index.js';
import type { Tokenizer } from '../src/tokenizer/tokenizer.js';
import { makeConfig, type ModelConfig } from '../src/model/config.js';
import { initParams } from '../src/model/params.js';
import { saveModelFolder } from '../src/model/folder.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixture = join(repoRoot, 'test', 'fixtures', 'text', 'ko-en.txt');

export function fixtureLines(): string[] {
  return readFileSync(fixture, 'utf8').split('\n').filter(Boolean);
}

let cached: Promise<Tokenizer> | undefined;
/** A 500-token byte-level BPE over the Korean/English fixture (plus chat words), trained once per test file. */
export function smallTokenizer(): Promise<Tokenizer> {
  cached ??= trainTokenizer({
    texts: [...fixtureLines(), 'Hello! How are you? 안녕하세요! 네, 좋아요. 죄송하지만 도와드릴 수 없습니다. I cannot help with that.'],
    vocabSize: 500,
    morpheme: false,
    progress: false,
  });
  return cached;
}

export function tinyConfig(tok: Tokenizer, fields: Partial<ModelConfig> = {}): ModelConfig {
  return makeConfig({
    vocab_size: tok.vocabSize, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 256, initializer_range: 0.1, eos_token_id: tok.tokenId('<|endoftext|>')!, ...fields,
  });
}

/** Writes DIR/tok (tokenizer) and DIR/model (a randomly initialised model folder with that tokenizer). */
export async function tinyChatModel(dir: string, fields: Partial<ModelConfig> = {}, seed = 1): Promise<{ modelDir: string; tok: Tokenizer; config: ModelConfig }> {
  const tok = await smallTokenizer();
  await tok.save(join(dir, 'tok'));
  const config = tinyConfig(tok, fields);
  await saveModelFolder(join(dir, 'model'), config, initParams(config, seed), { tokenizerDir: join(dir, 'tok') });
  return { modelDir: join(dir, 'model'), tok, config };
}
