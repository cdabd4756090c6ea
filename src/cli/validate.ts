import { parseArgs } from 'node:util';
import { validationLoss } from '../train/validate.js';
import { intOption } from './args.js';
import { parseRopeScaling } from './pretrain.js';

const USAGE = `usage: kolm validate --model DIR --data SHARDS --seq T [--batch 4] [--batches 8] [--split validation|train]
                     [--rope-scaling none|linear:F|dynamic:F|yarn:F] [--json]
Mean next-token loss over fixed windows; --rope-scaling evaluates with another RoPE scaling than the config's.`;

export async function run(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' }, data: { type: 'string' }, seq: { type: 'string' }, batch: { type: 'string' }, batches: { type: 'string' },
      split: { type: 'string' }, 'rope-scaling': { type: 'string' }, json: { type: 'boolean' }, threads: { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (v.help || !v.model || !v.data || !v.seq) {
    console.log(USAGE);
    if (!v.help) process.exitCode = 1;
    return;
  }
  const seq = intOption('seq', v.seq, { min: 1 })!;
  const rs = v['rope-scaling'];
  const ropeScaling = rs === undefined ? undefined : rs === 'none' ? null : parseRopeScaling(rs, seq);
  const result = await validationLoss({
    model: v.model, data: v.data, seq, batch: intOption('batch', v.batch, { min: 1 }), batches: intOption('batches', v.batches, { min: 1 }),
    split: v.split === 'train' ? 'train' : 'validation', ropeScaling, threads: intOption('threads', v.threads, { min: 1 }),
  });
  if (v.json) console.log(JSON.stringify({ model: v.model, seq, rope_scaling: rs ?? 'config', loss: +result.loss.toFixed(5), tokens: result.tokens }));
  else console.log(`loss ${result.loss.toFixed(4)} over ${result.tokens} tokens at seq ${seq}`);
}
