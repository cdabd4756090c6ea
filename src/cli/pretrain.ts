import { parseArgs } from 'node:util';
import { pretrain } from '../train/pretrain.js';
import type { RopeScaling } from '../model/config.js';
import { KolmError } from '../util/errors.js';
import { intOption, numberOption, type NumberBounds } from './args.js';

const USAGE = `usage: kolm pretrain --data SHARDS --out DIR (--model DIR | --preset NAME) [options]
  --steps N (1000)  --batch B (8)  --seq T (256)  --accumulation K (1)
  --lr 3e-3  --warmup N  --decay cosine|linear|constant  --min-lr-ratio 0.1  --weight-decay 0.1  --clip 1.0
  --eval-every N (50)  --eval-batches N (4)  --save-every N  --seed N  --threads N
  --resume                      continue from the newest checkpoint in --out (same loss curve as uninterrupted)
  --on-nan skip|stop            what a non-finite loss/gradient does (default skip: the update is not applied)
  --rope-scaling TYPE:FACTOR    context extension, e.g. linear:2 or yarn:4 (original length = the model's)
  --tokenizer DIR               copied into checkpoints and the final model folder`;

export async function run(argv: string[]): Promise<void> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { resume: { type: 'boolean' }, help: { type: 'boolean' } };
  for (const k of ['data', 'out', 'model', 'preset', 'steps', 'batch', 'seq', 'accumulation', 'lr', 'warmup', 'decay', 'min-lr-ratio', 'weight-decay', 'clip', 'eval-every', 'eval-batches', 'save-every', 'seed', 'threads', 'on-nan', 'rope-scaling', 'tokenizer']) {
    options[k] = { type: 'string' };
  }
  const { values } = parseArgs({ args: argv, options });
  const v = values as Record<string, string | boolean | undefined>;
  if (v['help'] || !v['data'] || !v['out']) {
    console.log(USAGE);
    if (!v['help']) process.exitCode = 1;
    return;
  }
  const str = (k: string) => v[k] as string | undefined;
  const int = (k: string, bounds?: NumberBounds) => intOption(k, str(k), bounds);
  const num = (k: string, bounds?: NumberBounds) => numberOption(k, str(k), bounds);
  const seq = int('seq', { min: 1 }) ?? 256;
  const ropeScaling = typeof v['rope-scaling'] === 'string' ? parseRopeScaling(v['rope-scaling'], seq) : undefined;
  const onNan = v['on-nan'] ?? 'skip';
  if (onNan !== 'skip' && onNan !== 'stop') throw new KolmError(`--on-nan must be skip or stop, got '${onNan}'`);
  const decay = (v['decay'] ?? 'cosine') as 'cosine' | 'linear' | 'constant';
  if (!['cosine', 'linear', 'constant'].includes(decay)) throw new KolmError(`--decay must be cosine, linear or constant, got '${decay}'`);
  const result = await pretrain({
    data: v['data'] as string,
    out: v['out'] as string,
    model: v['model'] as string | undefined,
    preset: (v['preset'] as string | undefined) ?? (v['model'] ? undefined : 'nano'),
    tokenizer: v['tokenizer'] as string | undefined,
    steps: int('steps', { min: 1 }) ?? 1000,
    batch: int('batch', { min: 1 }) ?? 8,
    seq,
    accumulation: int('accumulation', { min: 1 }) ?? 1,
    lr: num('lr', { min: 0 }),
    warmup: int('warmup', { min: 0 }),
    decay,
    minLrRatio: num('min-lr-ratio', { min: 0, max: 1 }),
    weightDecay: num('weight-decay', { min: 0 }),
    clip: num('clip', { min: 0 }),
    evalEvery: int('eval-every', { min: 0 }),
    evalBatches: int('eval-batches', { min: 1 }),
    saveEvery: int('save-every', { min: 0 }),
    seed: int('seed') ?? 0,
    threads: int('threads', { min: 1 }),
    resume: Boolean(v['resume']),
    onNonFinite: onNan,
    ropeScaling,
  });
  const last = result.history.at(-1);
  const val = [...result.history].reverse().find((h) => h.val_loss !== undefined);
  console.log(`done: step ${last?.step} loss ${last?.loss.toFixed(4)}${val ? `, validation loss ${val.val_loss!.toFixed(4)} (step ${val.step})` : ''}; model in ${result.modelDir}`);
}

/** `linear:2`, `dynamic:2` or `yarn:4`: the factor stretches the original context (`seq / factor`) to `seq`. */
export function parseRopeScaling(spec: string, seq: number): RopeScaling {
  const [type, factor] = spec.split(':');
  const f = numberOption('rope-scaling', factor ?? '', { min: 1 })!;
  if (type === 'linear') return { rope_type: 'linear', factor: f };
  if (type === 'dynamic') return { rope_type: 'dynamic', factor: f, original_max_position_embeddings: Math.round(seq / f) };
  if (type === 'yarn') return { rope_type: 'yarn', factor: f, original_max_position_embeddings: Math.round(seq / f) };
  throw new KolmError(`--rope-scaling: type must be linear, dynamic or yarn, got '${type}'`);
}
