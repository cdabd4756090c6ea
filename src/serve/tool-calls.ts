/**
 * Tool calls in the model's output. The chat template lists the tools as JSON in a `tool_list` turn and shows past
 * calls as `<tool_call>{"name": "...", "arguments": {...}}</tool_call>` (one block per call, JSON as the template's
 * `tojson` writes it); the model is expected to answer the same way. `ToolCallExtractor` splits streamed text into
 * ordinary content and OpenAI `tool_calls` deltas: content is released as it arrives (holding back anything that may
 * start a `<tool_call>` tag), a call's name is released as soon as it is known and its arguments as they are written.
 * A block that does not parse as a call of a declared tool is returned as content, unchanged.
 */
import { randomBytes } from 'node:crypto';

export const TOOL_CALL_OPEN = '<tool_call>';
export const TOOL_CALL_CLOSE = '</tool_call>';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** An OpenAI streaming delta for one call: the first carries id, type and name; later ones argument text. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface ExtractorOutput {
  content: string;
  calls: ToolCallDelta[];
}

const HEADER = /^\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*(?=\{)/;

export function toolCallId(): string {
  return `call_${randomBytes(12).toString('hex')}`;
}

/** The longest suffix of `text` that is a proper prefix of `tag`. */
function partialTagLength(text: string, tag: string): number {
  for (let k = Math.min(tag.length - 1, text.length); k > 0; k--) if (text.endsWith(tag.slice(0, k))) return k;
  return 0;
}

export class ToolCallExtractor {
  /** Completed and in-progress calls, in order. */
  readonly calls: ToolCall[] = [];
  private content = '';
  private buffer = '';
  private inCall = false;
  /** The current block's call, once its header streamed. */
  private streaming: { call: ToolCall; index: number; emitted: number } | undefined;

  constructor(private readonly toolNames: ReadonlySet<string>) {}

  /** All content released so far. */
  get text(): string {
    return this.content;
  }

  push(delta: string): ExtractorOutput {
    this.buffer += delta;
    const out: ExtractorOutput = { content: '', calls: [] };
    for (;;) {
      if (!this.inCall) {
        const at = this.buffer.indexOf(TOOL_CALL_OPEN);
        if (at < 0) {
          const keep = partialTagLength(this.buffer, TOOL_CALL_OPEN);
          this.emitContent(out, this.buffer.slice(0, this.buffer.length - keep));
          this.buffer = this.buffer.slice(this.buffer.length - keep);
          return out;
        }
        this.emitContent(out, this.buffer.slice(0, at));
        this.buffer = this.buffer.slice(at + TOOL_CALL_OPEN.length);
        this.inCall = true;
        continue;
      }
      const end = this.buffer.indexOf(TOOL_CALL_CLOSE);
      if (end < 0) {
        this.streamArguments(out, false);
        return out;
      }
      const body = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + TOOL_CALL_CLOSE.length);
      this.closeBlock(out, body);
      this.inCall = false;
    }
  }

  /** End of output: release what is held back; an unclosed call keeps the arguments written so far. */
  finish(): ExtractorOutput {
    const out: ExtractorOutput = { content: '', calls: [] };
    if (!this.inCall) {
      this.emitContent(out, this.buffer);
    } else if (this.streaming) {
      this.streamArguments(out, true);
      this.streaming = undefined;
    } else {
      this.emitContent(out, TOOL_CALL_OPEN + this.buffer);
    }
    this.buffer = '';
    this.inCall = false;
    return out;
  }

  private emitContent(out: ExtractorOutput, text: string): void {
    if (!text) return;
    out.content += text;
    this.content += text;
  }

  /** Inside a block: release the name once known, then argument text except a tail that may close the block. */
  private streamArguments(out: ExtractorOutput, final: boolean): void {
    if (!this.streaming) {
      const m = HEADER.exec(this.buffer);
      if (!m) return;
      let name: string;
      try {
        name = JSON.parse(`"${m[1]}"`) as string;
      } catch {
        return;
      }
      if (!this.toolNames.has(name)) return;
      const call: ToolCall = { id: toolCallId(), type: 'function', function: { name, arguments: '' } };
      this.calls.push(call);
      this.streaming = { call, index: this.calls.length - 1, emitted: m[0].length };
      out.calls.push({ index: this.streaming.index, id: call.id, type: 'function', function: { name, arguments: '' } });
    }
    const s = this.streaming;
    let end = this.buffer.length;
    if (!final) {
      // Hold back what may be the wrapper's closing brace and a partial closing tag.
      end -= partialTagLength(this.buffer, TOOL_CALL_CLOSE);
      end = trimBraceTail(this.buffer, s.emitted, end);
    }
    if (end > s.emitted) this.appendArguments(out, this.buffer.slice(s.emitted, end));
    s.emitted = Math.max(s.emitted, end);
  }

  private appendArguments(out: ExtractorOutput, text: string): void {
    const s = this.streaming!;
    s.call.function.arguments += text;
    const last = out.calls.at(-1);
    if (last && last.index === s.index) last.function.arguments += text;
    else out.calls.push({ index: s.index, function: { arguments: text } });
  }

  private closeBlock(out: ExtractorOutput, body: string): void {
    if (this.streaming) {
      const end = trimBraceTail(body, this.streaming.emitted, body.length);
      if (end > this.streaming.emitted) this.appendArguments(out, body.slice(this.streaming.emitted, end));
      this.streaming = undefined;
      return;
    }
    const parsed = parseCall(body);
    if (!parsed || !this.toolNames.has(parsed.name)) {
      this.emitContent(out, TOOL_CALL_OPEN + body + TOOL_CALL_CLOSE);
      return;
    }
    // Arguments as the model wrote them (as streaming would pass them on), when they are the object after the name.
    const header = HEADER.exec(body);
    if (header) {
      const raw = body.slice(header[0].length, trimBraceTail(body, header[0].length, body.length));
      if (parseObject(raw)) parsed.arguments = raw;
    }
    const call: ToolCall = { id: toolCallId(), type: 'function', function: parsed };
    this.calls.push(call);
    out.calls.push({ index: this.calls.length - 1, id: call.id, type: 'function', function: { name: parsed.name, arguments: parsed.arguments } });
  }
}

/** End of the text before a trailing `\s*}\s*` (the wrapper object's closing brace), never before `from`. */
function trimBraceTail(text: string, from: number, end: number): number {
  let e = end;
  while (e > from && /\s/.test(text[e - 1]!)) e--;
  if (e > from && text[e - 1] === '}') {
    e--;
    while (e > from && /\s/.test(text[e - 1]!)) e--;
  }
  return e;
}

function parseObject(text: string): boolean {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** `{"name": ..., "arguments": object | string}` → name and arguments as a JSON string. */
export function parseCall(body: string): { name: string; arguments: string } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { name, arguments: args } = value as { name?: unknown; arguments?: unknown };
  if (typeof name !== 'string') return undefined;
  if (typeof args === 'string') return { name, arguments: args };
  if (args === undefined) return { name, arguments: '{}' };
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return undefined;
  return { name, arguments: JSON.stringify(args) };
}

/** Parse a whole output at once (non-streaming responses). */
export function extractToolCalls(text: string, toolNames: ReadonlySet<string>): { content: string; calls: ToolCall[] } {
  const x = new ToolCallExtractor(toolNames);
  x.push(text);
  x.finish();
  return { content: x.text, calls: x.calls };
}
