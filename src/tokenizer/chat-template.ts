/**
 * The default chat template: ChatML turns (`<|im_start|>role\n…<|im_end|>`) as HyperCLOVA X SEED uses them, with
 * `<|endofturn|>` closing an assistant turn and `<|stop|>` closing one that calls tools (generation stops at either).
 * Tools, when given, are listed as JSON in a `tool_list` turn first; tool results come back in `tool` turns.
 * Written for transformers' Jinja settings (trim_blocks, lstrip_blocks), which @huggingface/jinja applies too.
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
  return t.render({
    messages: messages as unknown as Record<string, unknown>[],
    add_generation_prompt: opts.addGenerationPrompt ?? false,
    tools: opts.tools ?? null,
    ...opts.specialTokens,
  });
}
