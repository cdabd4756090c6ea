/** `kolm data sft-mix`: build the alignment mixes (SFT chats, preference pairs, PPO prompts, held-out eval prompts). */
import { parseArgs } from 'node:util';
import { buildSftMix, DEFAULT_COUNTS, type MixCounts } from '../data/sft-mix.js';
import { KolmError } from '../util/errors.js';
import { intOption, numberOption } from './args.js';

const USAGE = `usage: kolm data sft-mix --data SHARED_DATA_DIR --out DIR [--seed N] [--force] [--valid-fraction F] [--max-valid N] [--max-eval N]
         [--chatbot N] [--dialogues N] [--gsm8k N] [--translation N] [--arithmetic N] [--code N] [--safety N] [--benign N] [--negatives N] [--ppo N]
         [--dialogue-refusals N]
  reads DIR/external/{chatbot_data,hg-tods-dialogues,gsm8k,square} and DIR/raw/parallel.en-ko.jsonl.gz and writes
  OUT/{sft,pref}.{train,valid}.jsonl, OUT/ppo.prompts.jsonl, OUT/eval/{harmful,benign,math}.jsonl, OUT/manifest.json, OUT/README.md
  counts (defaults): ${Object.entries(DEFAULT_COUNTS).map(([k, v]) => `${flagOf(k)} ${v}`).join(', ')}
  --dialogue-refusals N: over-refusal preference pairs from HG-TODS dialogue openings (real reply vs a stock refusal)`;

/** A count's option name: dialogueRefusals → dialogue-refusals. */
function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export async function run(argv: string[]): Promise<void> {
  const countKeys = Object.keys(DEFAULT_COUNTS) as (keyof MixCounts)[];
  const options: Record<string, { type: 'string' | 'boolean' }> = { force: { type: 'boolean' }, help: { type: 'boolean' } };
  for (const k of ['data', 'out', 'seed', 'valid-fraction', 'max-valid', 'max-eval', ...countKeys.map(flagOf)]) options[k] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options });
  const v = values as Record<string, string | boolean | undefined>;
  if (v['help']) return void console.log(USAGE);
  if (!v['data'] || !v['out']) throw new KolmError(`data sft-mix needs --data and --out\n\n${USAGE}`);
  const int = (k: string) => intOption(k, v[k] as string | undefined, { min: 0 });
  const counts: Partial<MixCounts> = {};
  for (const k of countKeys) if (int(flagOf(k)) !== undefined) counts[k] = int(flagOf(k))!;
  const vf = numberOption('valid-fraction', v['valid-fraction'] as string | undefined);
  const manifest = await buildSftMix({
    data: v['data'] as string, out: v['out'] as string, seed: int('seed'), counts, validFraction: vf, maxValid: int('max-valid'), maxEval: int('max-eval'), force: Boolean(v['force']),
  });
  for (const [file, f] of Object.entries(manifest.files)) console.log(`${file.padEnd(20)} ${String(f.records).padStart(6)}  ${Object.entries(f.bySource).map(([s, n]) => `${s} ${n}`).join(', ')}`);
  console.log(`written to ${v['out']} (manifest.json, README.md)`);
}
