/**
 * The library's front door, in the spirit of transformers.js: `const m = await loadModel(dir)`, then
 * `m.generate(prompt)`, `for await (const delta of m.stream(prompt))`, or `m.chat(messages)`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from '../model/config.js';
import { loadModelFolder } from '../model/folder.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ChatMessage } from '../tokenizer/chat-template.js';
import { KolmError } from '../util/errors.js';
import { createInferenceSessions, type SessionConfig } from './sessions.js';
import { quantizedOutputHead } from '../model/quantize.js';
import { generateIds, sequenceLogits, type FinishReason, type GenerateOptions, type InferenceRuntime } from './generate.js';
import { TextStream } from './text-stream.js';

export interface TextGenerateOptions extends Omit<GenerateOptions, 'onToken' | 'stopTokenIds'> {
  /** Strings that end generation; they are not part of the returned text. */
  stop?: readonly string[];
  /** Extra token ids that end generation (EOS and end-of-turn tokens always do). */
  stopTokenIds?: readonly number[];
}

/** A chat's rendering beyond the messages: tools for the template's tool list and template keyword arguments. */
export interface ChatRenderOptions {
  tools?: unknown[];
  chatTemplateKwargs?: Readonly<Record<string, unknown>>;
}

export interface Completion {
  text: string;
  ids: number[];
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
}

const END_TOKENS = ['<|endoftext|>', '<|im_end|>', '<|endofturn|>', '<|stop|>'];

export class LanguageModel implements InferenceRuntime {
  private constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    readonly sessions: InferenceRuntime['sessions'],
    readonly endTokenIds: number[],
  ) {}

  static async load(dir: string, opts: SessionConfig = {}): Promise<LanguageModel> {
    // The folder first, so a path that is not a model folder is reported as such (config.json), never as a
    // missing tokenizer file depending on which read fails first.
    const model = await loadModelFolder(dir, { quantized: true });
    const tokenizer = await Tokenizer.load(dir);
    if (tokenizer.vocabSize > model.config.vocab_size) {
      throw new KolmError(`${dir}: tokenizer has ${tokenizer.vocabSize} tokens but config.json vocab_size is ${model.config.vocab_size}`);
    }
    const ends = new Set<number>();
    for (const t of END_TOKENS) {
      const id = tokenizer.tokenId(t);
      if (id !== undefined) ends.add(id);
    }
    const generation = await readFile(join(dir, 'generation_config.json'), 'utf8').then((t) => JSON.parse(t) as { eos_token_id?: number | number[] }, () => ({}) as { eos_token_id?: number | number[] });
    for (const id of [model.config.eos_token_id, generation.eos_token_id].flat()) if (typeof id === 'number') ends.add(id);
    const run = quantizedOutputHead(model.config, model.weights);
    const sessions = await createInferenceSessions(run.config, run.weights, opts);
    return new LanguageModel(dir, model.config, tokenizer, sessions, [...ends]);
  }

  /** Complete one prompt (plain text; special tokens in it are honoured, as a rendered chat template needs). */
  generate(prompt: string, opts: TextGenerateOptions = {}): Promise<Completion> {
    return this.complete(prompt, opts, () => false);
  }

  /** Complete several prompts in one batch. */
  async generateBatch(prompts: readonly string[], opts: TextGenerateOptions = {}): Promise<Completion[]> {
    const streams = prompts.map(() => new TextStream(opts.stop ?? []));
    const results = await generateIds(this, prompts.map((p) => this.tokenizer.encode(p, { allowSpecial: true })), {
      ...opts,
      stopTokenIds: [...this.endTokenIds, ...(opts.stopTokenIds ?? [])],
      onToken: (b, id) => {
        streams[b]!.push(this.tokenizer.decodeBytes([id], { skipSpecial: true }));
        return streams[b]!.stopped;
      },
    });
    return results.map((r, b) => {
      streams[b]!.finish();
      return { text: streams[b]!.value, ids: r.ids, promptTokens: r.promptTokens, completionTokens: r.ids.length, finishReason: r.finishReason };
    });
  }

  /**
   * One completion, reporting text deltas as they become final; `onDelta` returning true cancels the rest
   * (the finish reason is then 'stop').
   */
  private async complete(prompt: string, opts: TextGenerateOptions, onDelta: (delta: string) => boolean): Promise<Completion> {
    const text = new TextStream(opts.stop ?? []);
    let cancelled = false;
    const emit = (delta: string) => {
      if (delta && onDelta(delta)) cancelled = true;
    };
    const [r] = await generateIds(this, [this.tokenizer.encode(prompt, { allowSpecial: true })], {
      ...opts,
      stopTokenIds: [...this.endTokenIds, ...(opts.stopTokenIds ?? [])],
      onToken: (_b, id) => {
        emit(text.push(this.tokenizer.decodeBytes([id], { skipSpecial: true })));
        return cancelled || text.stopped;
      },
    });
    emit(text.finish());
    return { text: text.value, ids: r!.ids, promptTokens: r!.promptTokens, completionTokens: r!.ids.length, finishReason: r!.finishReason };
  }

  /** Text deltas as they are generated; never splits a UTF-8 character; breaking out of the loop stops generation. */
  async *stream(prompt: string, opts: TextGenerateOptions = {}): AsyncGenerator<string, Completion | undefined, undefined> {
    const queue: string[] = [];
    let wake: (() => void) | undefined;
    let consumerGone = false;
    let finished = false;
    let failure: unknown;
    let result: Completion | undefined;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const run = this.complete(prompt, { ...opts, signal: controller.signal }, (delta) => {
      queue.push(delta);
      wake?.();
      return consumerGone;
    }).then(
      (r) => (result = r),
      (err) => (failure = err),
    ).finally(() => {
      finished = true;
      opts.signal?.removeEventListener('abort', onAbort);
      wake?.();
    });
    try {
      while (queue.length || !finished) {
        if (queue.length) {
          yield queue.shift()!;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (failure) throw failure;
      return result;
    } finally {
      consumerGone = true;
      if (!finished) controller.abort();
      await run;
    }
  }

  /** Render messages with the folder's chat template (with tools and keyword arguments) and complete the assistant turn. */
  chat(messages: readonly ChatMessage[], opts: TextGenerateOptions & ChatRenderOptions = {}): Promise<Completion> {
    const { tools, chatTemplateKwargs, ...rest } = opts;
    return this.generate(this.renderChatPrompt(messages, { tools, chatTemplateKwargs }), rest);
  }

  streamChat(messages: readonly ChatMessage[], opts: TextGenerateOptions & ChatRenderOptions = {}): AsyncGenerator<string, Completion | undefined, undefined> {
    const { tools, chatTemplateKwargs, ...rest } = opts;
    return this.stream(this.renderChatPrompt(messages, { tools, chatTemplateKwargs }), rest);
  }

  /** The prompt `chat` completes: the conversation rendered with the generation prompt. */
  renderChatPrompt(messages: readonly ChatMessage[], opts: ChatRenderOptions = {}): string {
    return this.tokenizer.renderChat(messages, { addGenerationPrompt: true, tools: opts.tools, kwargs: opts.chatTemplateKwargs });
  }

  /** Logits [T, V] of every position of `ids` (log-likelihood evaluation). */
  logits(ids: readonly number[]): Promise<Float32Array> {
    return sequenceLogits(this, ids);
  }
}

export function loadModel(dir: string, opts?: SessionConfig): Promise<LanguageModel> {
  return LanguageModel.load(dir, opts);
}
