import { KolmError } from '../src/util/errors.js';

export async function run(_argv: string[]): Promise<void> {
  throw new KolmError('kolm bench engine: not built yet');
}
