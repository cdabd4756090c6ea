import { KolmError } from '../util/errors.js';

export async function run(_argv: string[]): Promise<void> {
  throw new KolmError('kolm demo: not built yet');
}
