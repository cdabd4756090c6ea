/** Loading the kolm tokenizer for stage 8; the rest of the pipeline sees it only as a TextTokenizer. */
import { existsSync } from 'node:fs';
import { Tokenizer } from '../tokenizer/index.js';
import { KolmError } from '../util/errors.js';
import type { TextTokenizer } from './types.js';

export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  if (!existsSync(dir)) throw new KolmError(`tokenizer directory not found: ${dir} (train one with kolm tokenizer train, or pass --tokenizer DIR)`);
  return Tokenizer.load(dir);
}
