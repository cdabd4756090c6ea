/**
 * Supervised fine-tuning on chats: loss on assistant turns only (content + end-of-turn tokens), conversations
 * packed into rows under a token budget with block-diagonal attention and per-conversation positions, the
 * whole-step ORT trainer, held-out loss, checkpoints and a final HF folder with the tokenizer.
 */
import { crossEntropy } from '../graph/nn.js';
import type { ModelConfig } from '../model/config.js';
import { Session } from '../runtime/session.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { KolmError } from '../util/errors.js';
import { forward, startGraph, tokenLogProbs, validMask } from './align-graphs.js';
import { alignLoop, epochSteps, startRun, type AlignRunOptions, type AlignRunResult } from './align-loop.js';
import { encodeChatTurns, nextTokenLabels, readChatFile, type ChatExample, type ChatRenderOptions, type EncodedChat } from './chat-data.js';
import { buildBatch, planBatches, type TokenSequence } from './packing.js';
import { createTrainer } from './loop.js';
import type { TrainModel } from './step.js';

export interface SftGraph extends TrainModel {
  /** log p of each trained label, [B, T] (0 elsewhere). */
  tokenLogps: ReturnType<typeof tokenLogProbs>;
}

/** Next-token cross-entropy over the trained labels of a packed batch. */
export function buildSftGraph(c: ModelConfig, batch: number, seq: number): SftGraph {
  const { graph, net, inputs } = startGraph('sft', c, batch, seq);
  const { logits } = forward(c, net, inputs);
  const tokenLogps = tokenLogProbs(logits, inputs.labels);
  return { graph, loss: crossEntropy(logits, inputs.labels), params: net.params, tokenLogps, metrics: { tokens: validMask(inputs.labels).sum() } };
}

export interface EncodedSet {
  sequences: TokenSequence[];
  truncated: number;
  dropped: number;
  targets: number;
}

/**
 * Tokenize chats into labelled sequences of at most `seq` tokens (longer ones are cut; ones left with no target are
 * dropped); each record's tools and the run's `render` options (keyword arguments, end ids) go to the template.
 */
export function encodeChats(tok: Tokenizer, examples: readonly ChatExample[], seq: number, render: ChatRenderOptions = {}): EncodedSet {
  const out: EncodedSet = { sequences: [], truncated: 0, dropped: 0, targets: 0 };
  for (const ex of examples) {
    for (const e of encodeChatTurns(tok, ex.messages, { ...render, tools: ex.tools ?? render.tools, where: ex.where })) addSequence(e);
  }
  return out;

  function addSequence(e: EncodedChat): void {
    let ids = e.ids;
    let labels = nextTokenLabels(e.ids, e.targets);
    if (ids.length > seq) {
      out.truncated++;
      ids = ids.slice(0, seq);
      labels = labels.slice(0, seq);
      labels[seq - 1] = -100;
    }
    const n = labels.filter((l) => l !== -100).length;
    if (n === 0) {
      out.dropped++;
      return;
    }
    out.targets += n;
    out.sequences.push({ ids, labels });
  }
}

/** `data` and `valid` are chat JSONL (`messages` or prompt/completion records); `batch` is rows per micro-batch. */
export interface SftOptions extends AlignRunOptions {
  /** Pack several conversations per row (default true); false = one per row, grouped by length. */
  pack?: boolean;
  saveEvery?: number;
  onNonFinite?: 'skip' | 'stop';
}

export type SftResult = AlignRunResult;

export async function sft(o: SftOptions): Promise<SftResult> {
  const { m, batch: B, seq: T, accumulation, seed } = await startRun(o, 8);
  const examples = (await Promise.all(o.data.map((f) => readChatFile(f)))).flat();
  const render = { chatTemplateKwargs: o.chatTemplateKwargs, endTokenIds: m.endIds };
  const train = encodeChats(m.tokenizer, examples, T, render);
  if (!train.sequences.length) throw new KolmError(`${o.data.join(', ')}: no conversation has an assistant token to train on`);
  const lengths = train.sequences.map((s) => s.ids.length);
  const plan = (epoch: number) => planBatches(lengths, { seq: T, rows: B, seed: seed + epoch, pack: o.pack ?? true });
  const { first, steps, next } = epochSteps(plan, { steps: o.steps, epochs: o.epochs, accumulation }, (batch) => {
    const rows = batch.map((row) => row.map((i) => train.sequences[i]!));
    const { rows: _layout, ...feeds } = buildBatch(m.config, rows, T, m.padId);
    return { feeds, tokens: rows.flat().reduce((n, s) => n + s.labels.filter((l) => l !== -100).length, 0) };
  });
  if (!o.quiet) {
    console.error(`sft: ${examples.length} conversations (${train.truncated} cut to ${T} tokens, ${train.dropped} dropped), ${train.targets} target tokens; ` +
      `${first.batches.length} batches of ${B}×${T} per epoch (${(first.fill * 100).toFixed(0)}% filled); ${steps} steps`);
  }

  const trainer = await createTrainer(() => buildSftGraph(m.config, B, T), { step: 0, params: m.weights }, { ...o, accumulation });

  let evaluate: (() => Promise<Record<string, number>>) | undefined;
  let validCount = 0;
  if (o.valid) {
    const valid = encodeChats(m.tokenizer, await readChatFile(o.valid), T, render);
    validCount = valid.sequences.length;
    const g = buildSftGraph(m.config, B, T);
    const session = await Session.create({ nll: g.tokenLogps.sum().neg(), tokens: g.metrics!['tokens']! }, { graphName: 'sft_eval', threads: o.threads });
    const vplan = planBatches(valid.sequences.map((s) => s.ids.length), { seq: T, rows: B, seed: 0, pack: o.pack ?? true });
    evaluate = async () => {
      let nll = 0;
      let tokens = 0;
      for (const batch of vplan.batches) {
        const { rows: _r, ...feeds } = buildBatch(m.config, batch.map((row) => row.map((i) => valid.sequences[i]!)), T, m.padId);
        const out = await session.run({ ...feeds, ...trainer.parameterFeeds() });
        nll += (out['nll']!.data as Float32Array)[0]!;
        tokens += (out['tokens']!.data as Float32Array)[0]!;
      }
      return { loss: nll / Math.max(tokens, 1) };
    };
  }

  const run = { batch: B, seq: T, accumulation, seed, data: o.data };
  return alignLoop(o, {
    name: 'sft', m, trainer, steps, next, lr: 3e-4, evaluate, run,
    summary: (history) => ({
      command: 'sft', model: o.model, data: o.data, valid: o.valid ?? null, conversations: examples.length, valid_conversations: validCount,
      truncated: train.truncated, dropped: train.dropped, target_tokens: train.targets, steps, batch: B, seq: T, accumulation, fill: first.fill,
      first_loss: history.find((h) => Number.isFinite(h.loss))?.loss ?? null, last_loss: history.at(-1)?.loss ?? null,
      val_loss_before: history[0]?.['val_loss'] ?? null, val_loss_after: history.at(-1)?.['val_loss'] ?? null,
    }),
  });
}
