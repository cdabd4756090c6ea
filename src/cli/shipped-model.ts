/** The chat model shipped in the package (`models/`), used when `kolm chat` / `kolm serve` / `kolm generate` get no --model. */
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KolmError } from '../util/errors.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SHIPPED_MODEL = join(packageRoot, 'models', 'kolm-micro');

export function modelOrShipped(dir: string | undefined): string {
  if (dir) return dir;
  if (!existsSync(join(SHIPPED_MODEL, 'config.json'))) throw new KolmError(`no --model given and the shipped model is missing (${relative(process.cwd(), SHIPPED_MODEL) || SHIPPED_MODEL})`);
  return SHIPPED_MODEL;
}
