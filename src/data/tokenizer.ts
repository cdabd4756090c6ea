/** Loading the kolm tokenizer for stage 8 (kept apart so the rest of the pipeline only sees TextTokenizer). */
import { existsSync } from 'node:fs';
import { KolmError } from '../util/errors.js';
import type { TextTokenizer } from './types.js';

export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  if (!existsSync(dir)) throw new KolmError(`tokenizer directory not found: ${dir}`);
  const specifier = '../tokenizer/index.js';
  const mod = (await import(specifier)) as { Tokenizer: { load(dir: string): Promise<TextTokenizer> } };
  return mod.Tokenizer.load(dir);
}
