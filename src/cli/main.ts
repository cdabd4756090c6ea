#!/usr/bin/env node
/** The `kolm` command: one subcommand per pipeline stage, each a thin module over the library. */
import { KolmError } from '../util/errors.js';

type Command = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<void> }> };

const commands: Record<string, Command> = {
  demo: { summary: 'build a tiny transformer, train it a few steps in ONNX Runtime, print the loss falling', load: () => import('./demo.js') },
  tokenizer: { summary: 'train / encode / decode / stats for the byte-level BPE tokenizer', load: () => import('./tokenizer.js') },
  init: { summary: 'write a randomly initialised model folder from a preset', load: () => import('./init.js') },
  pretrain: { summary: 'pretrain a model on token shards (checkpoints, resume, validation, metrics, plot)', load: () => import('./pretrain.js') },
  sft: { summary: 'supervised fine-tuning on chats (assistant-only loss, packed conversations)', load: () => import('./sft.js') },
  rm: { summary: 'train a reward model (Bradley–Terry) on preference pairs', load: () => import('./rm.js') },
  dpo: { summary: 'direct preference optimisation of a chat model', load: () => import('./dpo.js') },
  ppo: { summary: 'PPO with a reward model or a verifiable reward, KL-penalised to the SFT policy', load: () => import('./ppo.js') },
  'align-eval': { summary: 'chat-format, language, refusal and preference measurements of a chat model', load: () => import('./align-eval.js') },
  pipeline: { summary: 'run a recipe: data → tokenizer → pretrain → sft → rm/dpo/ppo → eval → report, skipping finished stages', load: () => import('./pipeline.js') },
  validate: { summary: 'validation loss of a model folder on token shards at a given length (and RoPE scaling)', load: () => import('./validate.js') },
  generate: { summary: 'complete a prompt with a model folder (streaming, or --json)', load: () => import('./generate.js') },
  chat: { summary: 'chat with a model in the terminal (streaming, history, /reset, Ctrl-C stops an answer)', load: () => import('./chat.js') },
  eval: { summary: 'benchmarks with lm-eval semantics on model folders or an OpenAI-compatible endpoint; HTML reports', load: () => import('./eval.js') },
  serve: { summary: 'OpenAI-compatible HTTP server with continuous batching and a web chat page', load: () => import('./serve.js') },
  data: { summary: 'build a clean, deduplicated, mixed, tokenized corpus', load: () => import('./data.js') },
  quantize: { summary: 'int8 / int4 weight-only quantization of a model folder (compressed-tensors layout, MatMulNBits at run time)', load: () => import('./quantize.js') },
  export: { summary: 'export a model folder: gguf (llama.cpp) | onnx (transformers.js)', load: () => import('./export.js') },
  import: { summary: 'import a GGUF file as a model folder', load: async () => ({ run: (await import('./export.js')).runImport }) },
  bench: { summary: 'benchmarks against peers measured in the same run: engine | train | tokenizer | data | decode | serve', load: () => import('./bench.js') },
};

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(11)} ${c.summary}`);
  return `usage: kolm <command> [options]\n\ncommands:\n${rows.join('\n')}\n\nRun \`kolm <command> --help\` for a command's options.`;
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return;
  }
  const command = commands[name];
  if (!command) throw new KolmError(`unknown command '${name}'\n\n${usage()}`);
  await (await command.load()).run(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof KolmError || (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')) {
    console.error(`kolm: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exitCode = 1;
});
