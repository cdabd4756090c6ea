/**
 * What a recipe stage can run: the kolm commands (each run as its own process with `--out` pointing at the stage's
 * folder) and three in-process steps — sample generations, the run report, and publishing a model folder.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KolmError } from '../util/errors.js';
import type { Value } from './recipe.js';

export interface BuiltinContext {
  /** The stage's output folder. */
  dir: string;
  /** The run folder. */
  run: string;
}

export interface CommandSpec {
  summary: string;
  /** The kolm command line this stage runs (absent for in-process steps). */
  argv?: string[];
  /** Where the command writes: `--out <stage folder>`, or `--out <stage folder>/<file>` into a folder kolm creates. */
  out: 'dir' | { file: string };
  /** Options that continue an interrupted run from what is on disk (pretraining: the newest checkpoint). */
  resume?: (dir: string) => string[] | undefined;
  check?: (args: Record<string, Value>, at: (field: string) => string) => void;
  builtin?: (args: Record<string, Value>, ctx: BuiltinContext) => Promise<void>;
}

const needs = (...fields: string[]) => (args: Record<string, Value>, at: (field: string) => string) => {
  for (const f of fields) if (args[f] === undefined) throw new KolmError(`${at(f)}: required`);
  if ('out' in args) throw new KolmError(`${at('out')}: set by the pipeline (each stage writes to its own folder)`);
};

export const COMMANDS: Record<string, CommandSpec> = {
  'tokenizer train': { summary: 'train the byte-level BPE tokenizer', argv: ['tokenizer', 'train'], out: 'dir', check: needs('input', 'vocab-size') },
  'data build': { summary: 'clean, deduplicate, mix and tokenize a corpus', argv: ['data', 'build'], out: 'dir', check: needs('config', 'tokenizer') },
  'data sft-mix': { summary: 'build SFT / preference / PPO / held-out sets', argv: ['data', 'sft-mix'], out: 'dir', check: needs('data') },
  pretrain: {
    summary: 'pretrain a model',
    argv: ['pretrain'],
    out: 'dir',
    check: needs('data'),
    resume: (dir) => (existsSync(join(dir, 'checkpoints')) ? ['--resume'] : undefined),
  },
  sft: { summary: 'supervised fine-tuning on chats', argv: ['sft'], out: 'dir', check: needs('model', 'data') },
  rm: { summary: 'Bradley–Terry reward model', argv: ['rm'], out: 'dir', check: needs('model', 'data') },
  dpo: { summary: 'direct preference optimisation', argv: ['dpo'], out: 'dir', check: needs('model', 'data') },
  ppo: { summary: 'PPO against a reward model or a verifiable reward', argv: ['ppo'], out: 'dir', check: needs('model', 'prompts') },
  eval: { summary: 'benchmarks (lm-eval semantics)', argv: ['eval'], out: 'dir', check: needs('model', 'tasks') },
  'align-eval': { summary: 'chat format, refusal and preference measurements', argv: ['align-eval'], out: { file: 'report.json' }, check: needs('model', 'mix') },
  'export gguf': { summary: 'llama.cpp GGUF file', argv: ['export', 'gguf'], out: { file: 'model.gguf' }, check: needs('model') },
  'export onnx': { summary: 'transformers.js ONNX folder', argv: ['export', 'onnx'], out: 'dir', check: needs('model') },
  samples: {
    summary: 'greedy sample generations in Korean and English',
    out: 'dir',
    check: needs('models'),
    builtin: async (args, ctx) => (await import('./builtins.js')).samplesStage(args, ctx),
  },
  publish: {
    summary: 'copy a model folder as f16 safetensors with a model card',
    out: 'dir',
    check: needs('model', 'to', 'name'),
    builtin: async (args, ctx) => (await import('./publish.js')).publishStage(args, ctx),
  },
  report: {
    summary: 'the HTML report of the run',
    out: 'dir',
    builtin: async (args, ctx) => (await import('./builtins.js')).reportStage(args, ctx),
  },
};

/** Recipe options → command-line flags: `key: v` → `--key v`, lists repeat the flag, `true` → `--key`, `false`/null → nothing. */
export function toFlags(args: Record<string, Value>, at: (field: string) => string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(args)) {
    const scalar = (x: Value): string => {
      if (typeof x === 'string' || typeof x === 'number') return String(x);
      throw new KolmError(`${at(k)}: expected a string, number, boolean or list of them`);
    };
    if (v === false || v === null) continue;
    if (v === true) out.push(`--${k}`);
    else if (Array.isArray(v)) for (const x of v) out.push(`--${k}`, scalar(x));
    else out.push(`--${k}`, scalar(v));
  }
  return out;
}
