import { KolmError } from '../util/errors.js';

// The benchmarks live in bench/ (compiled to dist/bench, shipped with the package).
const benches: Record<string, () => Promise<{ run(argv: string[]): Promise<void> }>> = {
  engine: () => import('../../bench/engine.js'),
  tokenizer: () => import('../../bench/tokenizer.js'),
  data: () => import('../../bench/data.js'),
  train: () => import('../../bench/train.js'),
  decode: () => import('../../bench/decode.js'),
  serve: () => import('../../bench/serve.js'),
  load: () => import('../../bench/load.js'),
};

export async function run(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  const usage = `usage: kolm bench <${Object.keys(benches).join('|')}> [--json]   (kolm bench NAME --help for its options)`;
  if (name === '--help' || name === '-h') {
    console.log(usage);
    return;
  }
  const load = name ? benches[name] : undefined;
  if (!load) throw new KolmError(usage);
  await (await load()).run(rest);
}
