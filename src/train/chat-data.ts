/**
 * Alignment data: chat records (`{"messages": [...]}` as TRL and OpenAI write them, or prompt/completion pairs),
 * preference records (`{"prompt" | "messages", "chosen", "rejected"}`) and prompt-only records for PPO, read from
 * JSONL (optionally .gz) and checked field by field; errors name the file, the line and the field.
 *
 * Tokenization renders each conversation with the model folder's chat template and marks the tokens a model is
 * trained to produce: the content of every assistant turn and the end-of-turn tokens that close it, nothing else.
 * The prompt part of each assistant turn (everything up to and including the generation prompt
 * `<|im_start|>assistant\n`) is encoded separately from the answer, exactly as a generation request encodes it,
 * so training sees the token boundaries that inference produces. A record's `tools` (TRL's `{"messages": [...],
 * "tools": [...]}`) and the run's template keyword arguments are rendered by the template as generation renders them.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { checkTools, type ChatMessage } from '../tokenizer/chat-template.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { KolmError } from '../util/errors.js';

/**
 * Tokens that end an assistant turn (generation stops at any of them); a folder's own end tokens (its tokenizer's
 * eos_token, generation_config.json's eos_token_id) count too — see `endOfTurnTokens`.
 */
export const END_OF_TURN_TOKENS = ['<|im_end|>', '<|endofturn|>', '<|stop|>', '<|endoftext|>'] as const;

/**
 * The end-of-turn token strings a template may close an assistant turn with, for this tokenizer: kolm's set, the
 * tokenizer's eos_token, and the special tokens among `extraIds` (generation_config.json's eos ids), so that e.g. a
 * Llama 3 template ending turns with `<|eot_id|>` marks its turns too.
 */
export function endOfTurnTokens(tok: Tokenizer, extraIds: readonly number[] = []): string[] {
  const out = new Set<string>();
  for (const t of [...END_OF_TURN_TOKENS, tok.config.eosToken]) if (tok.tokenId(t) !== undefined) out.add(t);
  const specialById = new Map(Object.entries(tok.specialTokens).map(([content, id]) => [id, content]));
  for (const id of extraIds) {
    const t = specialById.get(id);
    if (t !== undefined) out.add(t);
  }
  return [...out];
}

export const ROLES = ['system', 'user', 'assistant', 'tool'] as const;

/** A bad record: names the file, line and field at fault. */
export class DataError extends KolmError {
  override name = 'DataError';
}

/** A template that does not render a conversation as one growing text (its turns cannot be marked in one sequence). */
class DiscontinuousTemplate extends DataError {}

export interface ChatExample {
  messages: ChatMessage[];
  /** Tools the conversation may call (OpenAI/TRL shape), listed by the chat template. */
  tools?: Record<string, unknown>[];
  /** `file:line` the record came from. */
  where: string;
  /** Extra fields kept for reporting (source, lang, answer…). */
  meta: Record<string, unknown>;
}

export interface PreferenceExample {
  /** The conversation so far (ends with a user turn). */
  prompt: ChatMessage[];
  /** The preferred and the dispreferred continuations (one or more assistant-led turns). */
  chosen: ChatMessage[];
  rejected: ChatMessage[];
  tools?: Record<string, unknown>[];
  where: string;
  meta: Record<string, unknown>;
}

export interface PromptExample {
  prompt: ChatMessage[];
  tools?: Record<string, unknown>[];
  where: string;
  meta: Record<string, unknown>;
}

export interface JsonlLine {
  value: unknown;
  line: number;
  where: string;
}

/** Lines of a reader; a failing stream (e.g. truncated gzip) becomes a DataError naming the file and line. */
async function* readLines(lines: AsyncIterable<string>, path: string, line: () => number): AsyncGenerator<string> {
  try {
    for await (const text of lines) yield text;
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${path}: unreadable after line ${line()} (${(err as Error).message})`);
  }
}

/** Records of a JSONL file (gzip when the name ends in .gz); blank lines are skipped; bad JSON names file:line. */
export async function* readJsonl(path: string): AsyncGenerator<JsonlLine> {
  const input = createReadStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', (err: NodeJS.ErrnoException) => reject(new DataError(`${path}: cannot read (${err.code ?? err.message})`)));
  });
  await opened;
  const stream = path.endsWith('.gz') ? input.pipe(createGunzip()) : input;
  let streamError: Error | undefined;
  stream.on('error', (err: Error) => (streamError = err));
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of readLines(lines, path, () => n)) {
      n++;
      if (streamError) break;
      if (!text.trim()) continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new DataError(`${path}:${n}: invalid JSON (${(err as Error).message})`);
      }
      yield { value, line: n, where: `${path}:${n}` };
    }
  } finally {
    lines.close();
    input.destroy();
  }
  if (streamError) throw new DataError(`${path}: unreadable after line ${n} (${streamError.message})`);
}

const describe = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function fail(where: string, field: string, why: string, value: unknown): never {
  throw new DataError(`${where}: field '${field}' ${why} (got ${describe(value)})`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A checked message list; `field` is the name used in errors (e.g. `messages`, `chosen`). */
export function parseMessages(raw: unknown, where: string, field: string): ChatMessage[] {
  if (!Array.isArray(raw)) fail(where, field, 'must be an array of {role, content} messages', raw);
  if (raw.length === 0) fail(where, field, 'must not be empty', raw);
  return raw.map((m, i) => {
    const f = `${field}[${i}]`;
    if (!isObject(m)) fail(where, f, 'must be an object with role and content', m);
    const role = m['role'];
    if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) fail(where, `${f}.role`, `must be one of ${ROLES.join(', ')}`, role);
    const content = m['content'];
    const toolCalls = m['tool_calls'];
    if (toolCalls !== undefined && (role !== 'assistant' || !Array.isArray(toolCalls))) fail(where, `${f}.tool_calls`, 'must be an array on an assistant message', toolCalls);
    if (typeof content !== 'string') {
      if (!(role === 'assistant' && Array.isArray(toolCalls) && (content === null || content === undefined))) fail(where, `${f}.content`, 'must be a string', content);
    }
    const out: ChatMessage = { role, content: typeof content === 'string' ? content : null };
    if (toolCalls !== undefined) out.tool_calls = toolCalls as unknown[];
    if (typeof m['name'] === 'string') out['name'] = m['name'];
    return out;
  });
}

/** A record's optional `tools`: an array of `{"type": "function", "function": {"name", …}}` (TRL's format). */
function parseToolsField(raw: Record<string, unknown>, where: string): Record<string, unknown>[] | undefined {
  if (raw['tools'] === undefined || raw['tools'] === null) return undefined;
  try {
    return checkTools(raw['tools'], `${where}: field 'tools'`);
  } catch (err) {
    throw new DataError((err as Error).message);
  }
}

/** A completion: a string (one assistant message) or a list of messages starting with an assistant turn. */
function parseCompletion(raw: unknown, where: string, field: string): ChatMessage[] {
  if (typeof raw === 'string') return [{ role: 'assistant', content: raw }];
  const messages = parseMessages(raw, where, field);
  if (messages[0]!.role !== 'assistant') fail(where, `${field}[0].role`, "must be 'assistant'", messages[0]!.role);
  return messages;
}

/** A prompt: a string (one user message) or a list of messages. */
function parsePrompt(raw: unknown, where: string, field: string): ChatMessage[] {
  if (typeof raw === 'string') {
    if (!raw) fail(where, field, 'must not be empty', raw);
    return [{ role: 'user', content: raw }];
  }
  return parseMessages(raw, where, field);
}

function metaOf(record: Record<string, unknown>, used: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => !used.includes(k)));
}

/** A chat record: `{"messages": [...]}` or `{"prompt": …, "completion": …}`; at least one assistant turn. */
export function parseChatRecord(raw: unknown, where: string): ChatExample {
  if (!isObject(raw)) throw new DataError(`${where}: expected a JSON object with 'messages' or 'prompt'/'completion' (got ${describe(raw)})`);
  let messages: ChatMessage[];
  if (raw['messages'] !== undefined) {
    messages = parseMessages(raw['messages'], where, 'messages');
  } else if (raw['prompt'] !== undefined || raw['completion'] !== undefined) {
    if (raw['completion'] === undefined) fail(where, 'completion', 'is required with prompt', undefined);
    if (raw['prompt'] === undefined) fail(where, 'prompt', 'is required with completion', undefined);
    messages = [...parsePrompt(raw['prompt'], where, 'prompt'), ...parseCompletion(raw['completion'], where, 'completion')];
  } else {
    throw new DataError(`${where}: expected field 'messages' or 'prompt'/'completion' (keys: ${Object.keys(raw).join(', ') || 'none'})`);
  }
  if (!messages.some((m) => m.role === 'assistant')) fail(where, 'messages', 'has no assistant turn to train on', messages.map((m) => m.role));
  return { messages, tools: parseToolsField(raw, where), where, meta: metaOf(raw, ['messages', 'prompt', 'completion', 'tools']) };
}

/**
 * A preference record: `prompt` (string or messages) or `messages` (the conversation so far), with `chosen` and
 * `rejected` (strings or assistant-led message lists). TRL's implicit-prompt form — `chosen`/`rejected` as whole
 * conversations sharing a prefix — is accepted too: the shared prefix becomes the prompt.
 */
export function parsePreferenceRecord(raw: unknown, where: string): PreferenceExample {
  if (!isObject(raw)) throw new DataError(`${where}: expected a JSON object with 'chosen' and 'rejected' (got ${describe(raw)})`);
  if (raw['chosen'] === undefined) fail(where, 'chosen', 'is required', undefined);
  if (raw['rejected'] === undefined) fail(where, 'rejected', 'is required', undefined);
  const meta = metaOf(raw, ['prompt', 'messages', 'chosen', 'rejected', 'tools']);
  const tools = parseToolsField(raw, where);
  const promptRaw = raw['prompt'] ?? raw['messages'];
  const promptField = raw['prompt'] !== undefined ? 'prompt' : 'messages';
  let prompt: ChatMessage[];
  let chosen: ChatMessage[];
  let rejected: ChatMessage[];
  if (promptRaw === undefined) {
    const c = parseMessages(raw['chosen'], where, 'chosen');
    const r = parseMessages(raw['rejected'], where, 'rejected');
    let k = 0;
    while (k < Math.min(c.length, r.length) && JSON.stringify(c[k]) === JSON.stringify(r[k])) k++;
    if (k === 0) fail(where, 'prompt', "is missing and 'chosen'/'rejected' share no prompt messages", undefined);
    prompt = c.slice(0, k);
    chosen = c.slice(k);
    rejected = r.slice(k);
    if (!chosen.length) fail(where, 'chosen', 'is identical to rejected', raw['chosen']);
    if (!rejected.length) fail(where, 'rejected', 'is identical to chosen', raw['rejected']);
    if (chosen[0]!.role !== 'assistant') fail(where, `chosen[${k}].role`, "must be 'assistant' after the shared prompt", chosen[0]!.role);
    if (rejected[0]!.role !== 'assistant') fail(where, `rejected[${k}].role`, "must be 'assistant' after the shared prompt", rejected[0]!.role);
  } else {
    prompt = parsePrompt(promptRaw, where, promptField);
    chosen = parseCompletion(raw['chosen'], where, 'chosen');
    rejected = parseCompletion(raw['rejected'], where, 'rejected');
  }
  if (prompt[prompt.length - 1]!.role === 'assistant') fail(where, `${promptField}[${prompt.length - 1}].role`, 'must not be assistant: the prompt ends where the answers begin', 'assistant');
  return { prompt, chosen, rejected, tools, where, meta };
}

/** A prompt for rollouts: `prompt` (string or messages) or `messages` without a final assistant turn. */
export function parsePromptRecord(raw: unknown, where: string): PromptExample {
  if (!isObject(raw)) throw new DataError(`${where}: expected a JSON object with 'prompt' or 'messages' (got ${describe(raw)})`);
  const field = raw['prompt'] !== undefined ? 'prompt' : 'messages';
  if (raw[field] === undefined) throw new DataError(`${where}: expected field 'prompt' or 'messages' (keys: ${Object.keys(raw).join(', ') || 'none'})`);
  let prompt = parsePrompt(raw[field], where, field);
  // A chat record can serve as a prompt: drop a trailing assistant answer (kept as the reference).
  const meta = metaOf(raw, ['prompt', 'messages', 'tools']);
  while (prompt.length && prompt[prompt.length - 1]!.role === 'assistant') {
    meta['reference'] ??= prompt[prompt.length - 1]!.content;
    prompt = prompt.slice(0, -1);
  }
  if (!prompt.length) fail(where, field, 'has no prompt turn before the answer', raw[field]);
  return { prompt, tools: parseToolsField(raw, where), where, meta };
}

/** Every record of a file through `parse`; each error names file:line and the field. */
export async function readRecords<T>(path: string, parse: (raw: unknown, where: string) => T): Promise<T[]> {
  const out: T[] = [];
  for await (const { value, where } of readJsonl(path)) out.push(parse(value, where));
  if (out.length === 0) throw new DataError(`${path}: no records`);
  return out;
}

export const readChatFile = (path: string) => readRecords(path, parseChatRecord);
export const readPreferenceFile = (path: string) => readRecords(path, parsePreferenceRecord);
export const readPromptFile = (path: string) => readRecords(path, parsePromptRecord);

/** A tokenized conversation: ids and, per token, 1 when it is a training target (assistant content + end tokens). */
export interface EncodedChat {
  ids: number[];
  targets: Uint8Array;
  /** Per trained assistant turn: [first target index, index of its first end-of-turn token]. */
  turns: [number, number][];
}

/** How a conversation is rendered beyond its messages, and which tokens end a turn. */
export interface ChatRenderOptions {
  /** Tools for the template's tool list (a record's `tools`). */
  tools?: readonly unknown[];
  /** Template keyword arguments (`--chat-template-kwargs`), e.g. `{"force_reasoning": true}`. */
  chatTemplateKwargs?: Readonly<Record<string, unknown>>;
  /** Token ids that also end a turn: the folder's generation_config.json eos ids. */
  endTokenIds?: readonly number[];
}

export interface EncodeChatOptions extends ChatRenderOptions {
  /** Only assistant turns at or after this message index are targets (preference completions). Default 0. */
  trainFrom?: number;
  where?: string;
}

/** Renders with the template, naming the record when the template fails on it. */
function render(tok: Tokenizer, messages: readonly ChatMessage[], opts: ChatRenderOptions, where: string, addGenerationPrompt = false): string {
  try {
    return tok.renderChat(messages, { addGenerationPrompt, tools: opts.tools as unknown[] | undefined, kwargs: opts.chatTemplateKwargs });
  } catch (err) {
    throw new DataError(`${where}: the chat template failed to render the conversation (${(err as Error).message})`);
  }
}

/**
 * Render `messages` with the tokenizer's chat template and mark the assistant turns. Content that contains a
 * special-token string is refused: user text must never forge control tokens.
 */
export function encodeChat(tok: Tokenizer, messages: readonly ChatMessage[], opts: EncodeChatOptions = {}): EncodedChat {
  const where = opts.where ?? 'chat';
  const specials = Object.keys(tok.specialTokens);
  messages.forEach((m, i) => {
    const text = typeof m.content === 'string' ? m.content : '';
    for (const s of specials) if (text.includes(s)) fail(where, `messages[${i}].content`, `contains the special token ${s}`, text);
  });
  const endStrings = endOfTurnTokens(tok, opts.endTokenIds);
  const endIds = new Set(endStrings.map((t) => tok.tokenId(t)!));
  const ids: number[] = [];
  const targets: number[] = [];
  const turns: [number, number][] = [];
  const push = (text: string, target: boolean) => {
    if (!text) return;
    for (const id of tok.encode(text, { allowSpecial: true })) {
      ids.push(id);
      targets.push(target ? 1 : 0);
    }
  };
  let consumed = '';
  const trainFrom = opts.trainFrom ?? 0;
  messages.forEach((m, i) => {
    if (m.role !== 'assistant' || i < trainFrom) return;
    const prompt = render(tok, messages.slice(0, i), opts, where, true);
    const full = render(tok, messages.slice(0, i + 1), opts, where);
    if (!prompt.startsWith(consumed) || !full.startsWith(prompt)) {
      throw new DiscontinuousTemplate(`${where}: the chat template does not render message ${i} as a continuation of the conversation before it; cannot mark the assistant turn`);
    }
    push(prompt.slice(consumed.length), false);
    const completion = full.slice(prompt.length);
    let end = -1;
    for (const s of endStrings) {
      const at = completion.lastIndexOf(s);
      if (at >= 0) end = Math.max(end, at + s.length);
    }
    if (end < 0) throw new DataError(`${where}: the chat template closes assistant message ${i} with no end-of-turn token (${endStrings.join(', ')})`);
    const start = ids.length;
    push(completion.slice(0, end), true);
    const firstEnd = ids.findIndex((id, k) => k >= start && endIds.has(id));
    turns.push([start, firstEnd]);
    consumed = prompt + completion.slice(0, end);
  });
  if (!turns.length) throw new DataError(`${where}: no assistant turn to train on`);
  const rendered = render(tok, messages, opts, where);
  if (!rendered.startsWith(consumed)) throw new DiscontinuousTemplate(`${where}: the chat template renders the whole conversation differently from its turns`);
  push(rendered.slice(consumed.length), false);
  return { ids, targets: Uint8Array.from(targets), turns };
}

/**
 * A conversation as training sequences: one, when the template renders every assistant turn as a continuation of
 * what came before; otherwise one per assistant turn, each the prompt that turn is generated from (rendered as
 * inference renders it) followed by the turn — the case of templates that render earlier turns differently from the
 * last, such as Qwen3's, which keeps reasoning only in the turn after the last user message.
 */
export function encodeChatTurns(tok: Tokenizer, messages: readonly ChatMessage[], opts: EncodeChatOptions = {}): EncodedChat[] {
  try {
    return [encodeChat(tok, messages, opts)];
  } catch (err) {
    if (!(err instanceof DiscontinuousTemplate)) throw err;
  }
  const out: EncodedChat[] = [];
  messages.forEach((m, i) => {
    if (m.role === 'assistant' && i >= (opts.trainFrom ?? 0)) out.push(encodeChat(tok, messages.slice(0, i + 1), { ...opts, trainFrom: i }));
  });
  return out;
}

/** Prompt ids for generation: the conversation rendered with the generation prompt (and the record's tools). */
export function encodePrompt(tok: Tokenizer, prompt: readonly ChatMessage[], where = 'prompt', opts: ChatRenderOptions = {}): number[] {
  const specials = Object.keys(tok.specialTokens);
  prompt.forEach((m, i) => {
    const text = typeof m.content === 'string' ? m.content : '';
    for (const s of specials) if (text.includes(s)) fail(where, `messages[${i}].content`, `contains the special token ${s}`, text);
  });
  return tok.encode(render(tok, prompt, opts, where, true), { allowSpecial: true });
}

/** A preference pair as two token sequences that share the prompt; targets mark the completions only. */
export interface EncodedPair {
  chosen: EncodedChat;
  rejected: EncodedChat;
}

/** `opts` apply to every pair (the run's keyword arguments, end ids); the record's own tools are used. */
export function encodePreference(tok: Tokenizer, ex: PreferenceExample, opts: ChatRenderOptions = {}): EncodedPair {
  const trainFrom = ex.prompt.length;
  const o = { ...opts, tools: ex.tools ?? opts.tools, trainFrom, where: ex.where };
  return {
    chosen: encodeChat(tok, [...ex.prompt, ...ex.chosen], o),
    rejected: encodeChat(tok, [...ex.prompt, ...ex.rejected], o),
  };
}

/**
 * The sequence a reward model scores: the conversation cut right after the first end-of-turn token of its last
 * trained assistant turn — where generation stops — so training pairs and policy rollouts end the same way.
 */
export function rewardSequence(e: EncodedChat): number[] {
  const [, end] = e.turns[e.turns.length - 1]!;
  return e.ids.slice(0, end >= 0 ? end + 1 : e.ids.length);
}

/** Next-token labels for a sequence: labels[t] = ids[t+1] when token t+1 is a target, else -100. */
export function nextTokenLabels(ids: readonly number[], targets: ArrayLike<number>): number[] {
  return ids.map((_, t) => (t + 1 < ids.length && targets[t + 1] ? ids[t + 1]! : -100));
}
