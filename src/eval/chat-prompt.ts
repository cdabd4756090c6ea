/**
 * `kolm eval --chat`: each request's prompt as one user turn, rendered with the model folder's own chat template
 * (with the generation prompt and any template keyword arguments), as lm-eval's `--apply_chat_template` does.
 */
import type { Tokenizer } from '../tokenizer/tokenizer.js';

export function chatPrompt(tok: Tokenizer, kwargs?: Readonly<Record<string, unknown>>): (text: string) => string {
  return (text) => tok.renderChat([{ role: 'user', content: text }], { addGenerationPrompt: true, kwargs });
}
