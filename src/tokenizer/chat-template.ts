/**
 * The default chat template: ChatML turns (`<|im_start|>role\n…<|im_end|>`) as HyperCLOVA X SEED uses them, with
 * `<|endofturn|>` closing an assistant turn and `<|stop|>` closing one that calls tools (generation stops at either).
 * Tools, when given, are listed as JSON in a `tool_list` turn first; tool results come back in `tool` turns.
 * Written for transformers' Jinja settings (trim_blocks, lstrip_blocks), which @huggingface/jinja applies too.
 *
 * A model folder's own template (tokenizer_config.json's `chat_template`, or the `chat_template.jinja` file newer
 * transformers saves) replaces this one; `renderChatTemplate` renders either with the tools and keyword arguments
 * a caller passes, as transformers' `apply_chat_template` does.
 */
import { Template } from '@huggingface/jinja';
import { KolmError } from '../util/errors.js';

export const DEFAULT_CHAT_TEMPLATE = [
  '{% if tools %}',
  '<|im_start|>tool_list',
  '{% for tool in tools %}',
  '{{ tool | tojson }}',
  '{% endfor %}',
  '<|im_end|>',
  '{% endif %}',
  '{% for message in messages %}',
  '{% if message.role == "assistant" %}',
  '<|im_start|>assistant',
  '{% if message.content %}{{ message.content }}{% endif %}',
  '{% if message.tool_calls %}',
  '{% for call in message.tool_calls %}',
  '<tool_call>{{ (call.function if call.function is defined else call) | tojson }}</tool_call>',
  '{% endfor %}',
  '<|im_end|><|stop|>',
  '{% else %}',
  '<|im_end|><|endofturn|>',
  '{% endif %}',
  '{% else %}',
  '<|im_start|>{{ message.role }}',
  '{{ message.content }}<|im_end|>',
  '{% endif %}',
  '{% endfor %}',
  '{% if add_generation_prompt %}',
  '<|im_start|>assistant',
  '{% endif %}',
].join('\n');

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  content?: string | null;
  tool_calls?: unknown[];
  [key: string]: unknown;
}

export interface RenderChatOptions {
  addGenerationPrompt?: boolean;
  tools?: unknown[];
  /**
   * Further template variables, as transformers' `apply_chat_template(..., **kwargs)` and vLLM's
   * `chat_template_kwargs` pass them (e.g. `enable_thinking`, `force_reasoning`).
   */
  kwargs?: Readonly<Record<string, unknown>>;
}

/**
 * Variables the renderer sets itself. A keyword argument of the same name is refused rather than allowed to replace
 * the conversation, the tools or the generation prompt (transformers fails too: a keyword given twice).
 */
export const RESERVED_TEMPLATE_VARIABLES = ['messages', 'tools', 'documents', 'add_generation_prompt', 'bos_token', 'eos_token', 'pad_token', 'unk_token'] as const;

/**
 * Checks template keyword arguments: a JSON object whose names are not the renderer's own. `what` names the flag or
 * field they came from, for the error.
 */
export function checkTemplateKwargs(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new KolmError(`${what} must be a JSON object of template variables, got ${describeJson(value)}`);
  for (const name of Object.keys(value)) {
    if ((RESERVED_TEMPLATE_VARIABLES as readonly string[]).includes(name)) {
      throw new KolmError(`${what}: '${name}' is set by the renderer and cannot be a template keyword argument (${RESERVED_TEMPLATE_VARIABLES.join(', ')} are reserved)`);
    }
  }
  return value as Record<string, unknown>;
}

/**
 * Checks a tools list in OpenAI's (and TRL's) shape: `[{"type": "function", "function": {"name", "description",
 * "parameters"}}, …]`. `what` names the flag, file or field they came from, for the error.
 */
export function checkTools(value: unknown, what: string): Record<string, unknown>[] {
  if (!Array.isArray(value)) throw new KolmError(`${what} must be a JSON array of tools ({"type": "function", "function": {"name": …}}), got ${describeJson(value)}`);
  value.forEach((t, i) => {
    const fn = isRecord(t) ? t['function'] : undefined;
    if (!isRecord(t) || t['type'] !== 'function' || !isRecord(fn) || typeof fn['name'] !== 'string' || !fn['name']) {
      throw new KolmError(`${what}[${i}] must be {"type": "function", "function": {"name": …, "parameters": …}}, got ${describeJson(t)}`);
    }
  });
  return value as Record<string, unknown>[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function describeJson(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const compiled = new Map<string, Template>();

export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  opts: RenderChatOptions & { specialTokens?: Record<string, string | undefined> } = {},
): string {
  let t = compiled.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (err) {
      throw new KolmError(`chat_template does not parse: ${(err as Error).message}`);
    }
    compiled.set(template, t);
  }
  const kwargs = opts.kwargs ? checkTemplateKwargs(opts.kwargs, 'chat template keyword arguments') : {};
  try {
    return t.render({
      ...kwargs,
      messages: messages as unknown as Record<string, unknown>[],
      add_generation_prompt: opts.addGenerationPrompt ?? false,
      tools: opts.tools ?? null,
      ...opts.specialTokens,
    });
  } catch (err) {
    // A template's raise_exception(...) or a variable it cannot use: a user-facing error, not a crash.
    throw new KolmError(`chat_template failed to render: ${(err as Error).message}`);
  }
}
