/** Helpers shared by the alignment trainers: loading a chat model folder, saving policies, options, summaries. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from '../model/config.js';
import { loadModelFolder, saveModelFolder, type Weights } from '../model/folder.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import { END_OF_TURN_TOKENS } from './chat-data.js';

export interface ChatModel {
  dir: string;
  config: ModelConfig;
  weights: Record<string, { shape: readonly number[]; data: Float32Array }>;
  tokenizer: Tokenizer;
  /** Id used to fill rows after the last sequence. */
  padId: number;
  /** Ids that end an assistant turn (see `endTokenIds`), generation_config.json's eos ids included. */
  endIds: number[];
}

/** A causal-LM folder with its tokenizer; the tokenizer's vocabulary must fit the model's. */
export async function loadChatModel(dir: string): Promise<ChatModel> {
  if (!existsSync(join(dir, 'tokenizer.json'))) throw new KolmError(`${join(dir, 'tokenizer.json')}: not found — alignment needs the model folder's tokenizer and chat template`);
  const [model, tokenizer, generationEos] = await Promise.all([loadModelFolder(dir), Tokenizer.load(dir), generationEosIds(dir)]);
  if (tokenizer.vocabSize > model.config.vocab_size) {
    throw new KolmError(`${dir}: tokenizer has ${tokenizer.vocabSize} tokens but config.json vocab_size is ${model.config.vocab_size}`);
  }
  const padId = tokenizer.tokenId(tokenizer.config.padToken) ?? model.config.pad_token_id ?? 0;
  const endIds = endTokenIds(tokenizer, model.config, generationEos);
  return { dir, config: model.config, weights: model.weights as ChatModel['weights'], tokenizer, padId, endIds };
}

/** generation_config.json's eos_token_id (one id or several); none when the file or field is missing. */
async function generationEosIds(dir: string): Promise<number[]> {
  const path = join(dir, 'generation_config.json');
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return [];
  let eos: unknown;
  try {
    eos = (JSON.parse(text) as { eos_token_id?: unknown }).eos_token_id;
  } catch (err) {
    throw new KolmError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return [eos].flat().filter((id): id is number => Number.isInteger(id));
}

/**
 * Token ids that end an assistant turn, for stopping generation, marking trained turn ends and generation_config.json:
 * kolm's end-of-turn tokens, the tokenizer's eos_token, config.json's and generation_config.json's eos ids.
 */
export function endTokenIds(tok: Tokenizer, config: ModelConfig, generationEos: readonly number[] = []): number[] {
  const ids = new Set<number>();
  for (const t of [...END_OF_TURN_TOKENS, tok.config.eosToken]) {
    const id = tok.tokenId(t);
    if (id !== undefined) ids.add(id);
  }
  for (const id of [config.eos_token_id, ...generationEos].flat()) if (typeof id === 'number') ids.add(id);
  return [...ids];
}

/** Save a causal-LM policy as an HF folder with the tokenizer of `from` and end-of-turn ids as EOS for generation. */
export async function savePolicy(dir: string, m: ChatModel, params: Weights, extraFiles: Record<string, string> = {}): Promise<void> {
  const config = { ...m.config, pad_token_id: m.padId };
  await saveModelFolder(dir, config, params, {
    tokenizerDir: m.dir,
    generationConfig: { eos_token_id: m.endIds, pad_token_id: m.padId },
    extraFiles,
  });
}

export function positiveInt(name: string, v: number | undefined, dflt: number): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < 1) throw new KolmError(`${name} must be a positive integer, got ${v}`);
  return n;
}

/** Write `OUT/summary.json` atomically. */
export async function writeSummary(out: string, summary: Record<string, unknown>): Promise<void> {
  await writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}

/** Run `fn` over `items` in chunks of `size` (the last chunk may be short). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
