/**
 * Chat request parsing: messages (text content parts only), tools and `tool_choice`, `chat_template_kwargs`,
 * `response_format`, the grammars they compile to, and the prompt ids of a conversation.
 */
import { RESERVED_TEMPLATE_VARIABLES, type ChatMessage } from '../tokenizer/chat-template.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { anyObjectSchema, compileSchema, JsonGrammar, SchemaError, type SchemaNode } from './json-grammar.js';
import { Fields, invalid } from './validate.js';
import { TOOL_CALL_OPEN } from './tool-calls.js';

const MESSAGE_FIELDS = ['role', 'content', 'name', 'tool_calls', 'tool_call_id', 'refusal', 'function_call', 'audio', 'annotations'];
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

export interface ToolSpec {
  name: string;
  parameters: unknown;
}

export function parseMessages(f: Fields): ChatMessage[] {
  const list = f.array('messages', { required: true, nonEmpty: true })!;
  return list.map((raw, i) => {
    const m = Fields.of(raw, `messages[${i}]`);
    m.only(MESSAGE_FIELDS);
    const role = m.string('role', { required: true, oneOf: ['system', 'developer', 'user', 'assistant', 'tool'] })!;
    const content = messageContent(m);
    const out: ChatMessage = { role: role === 'developer' ? 'system' : role, content };
    const name = m.string('name');
    if (name !== undefined) out['name'] = name;
    if (role === 'assistant') {
      const calls = m.array('tool_calls');
      if (calls) {
        out.tool_calls = calls.map((c, j) => {
          const call = Fields.of(c, `messages[${i}].tool_calls[${j}]`);
          call.only(['id', 'type', 'function']);
          call.string('type', { oneOf: ['function'] });
          call.string('id');
          const fn = call.object('function', { required: true })!;
          fn.only(['name', 'arguments']);
          const fname = fn.string('name', { required: true })!;
          const args = fn.string('arguments') ?? '{}';
          // The template shows calls the way the model writes them: arguments as a JSON object.
          let parsed: unknown = args;
          try {
            const v = JSON.parse(args) as unknown;
            if (typeof v === 'object' && v !== null && !Array.isArray(v)) parsed = v;
          } catch {
            // keep the string
          }
          return { function: { name: fname, arguments: parsed } };
        });
      }
      if (content === null && !calls?.length) throw invalid(`messages[${i}].content`, `'messages[${i}].content' is required for assistant messages without tool_calls`, 'missing_required_parameter');
    } else {
      if (m.has('tool_calls')) throw invalid(`messages[${i}].tool_calls`, `'tool_calls' is only allowed in assistant messages`, 'invalid_value');
      if (content === null) throw invalid(`messages[${i}].content`, `Missing required parameter: 'messages[${i}].content'`, 'missing_required_parameter');
    }
    if (role === 'tool') m.string('tool_call_id');
    return out;
  });
}

function messageContent(m: Fields): string | null {
  const c = m.raw('content');
  if (c === undefined) return null;
  if (typeof c === 'string') return c;
  if (!Array.isArray(c)) throw invalid(m.name('content'), `Invalid type for '${m.name('content')}': expected a string or an array of content parts`, 'invalid_type');
  return c
    .map((part, j) => {
      const p = Fields.of(part, `${m.name('content')}[${j}]`);
      const type = p.string('type', { required: true })!;
      if (type !== 'text') throw invalid(p.name('type'), `Content part type '${type}' is not supported by this model (text only)`, 'unsupported_value');
      p.only(['type', 'text']);
      return p.string('text', { required: true, allowEmpty: true })!;
    })
    .join('\n');
}

export function parseTools(f: Fields): ToolSpec[] | undefined {
  const tools = f.array('tools', { max: 128 });
  if (!tools) return undefined;
  const seen = new Set<string>();
  return tools.map((t, i) => {
    const tool = Fields.of(t, `tools[${i}]`);
    tool.only(['type', 'function']);
    tool.string('type', { required: true, oneOf: ['function'] });
    const fn = tool.object('function', { required: true })!;
    fn.only(['name', 'description', 'parameters', 'strict']);
    const name = fn.string('name', { required: true, pattern: NAME })!;
    if (seen.has(name)) throw invalid(`tools[${i}].function.name`, `Duplicate tool name '${name}'`, 'invalid_value');
    seen.add(name);
    fn.string('description', { allowEmpty: true });
    fn.boolean('strict');
    const parameters = fn.raw('parameters') ?? { type: 'object', properties: {} };
    if (typeof parameters !== 'object' || Array.isArray(parameters)) throw invalid(`tools[${i}].function.parameters`, `Invalid type for 'tools[${i}].function.parameters': expected an object (a JSON Schema)`, 'invalid_type');
    return { name, parameters };
  });
}

/**
 * vLLM's `chat_template_kwargs`: extra variables for the model's chat template (e.g. `{"force_reasoning": true}`),
 * over the server's defaults key by key. Names the renderer sets itself (messages, tools, …) are refused.
 */
export function parseTemplateKwargs(f: Fields, defaults: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> | undefined {
  const given = f.object('chat_template_kwargs');
  for (const name of Object.keys(given?.value ?? {})) {
    if ((RESERVED_TEMPLATE_VARIABLES as readonly string[]).includes(name)) {
      throw invalid(`chat_template_kwargs.${name}`, `'chat_template_kwargs.${name}' is set by the server from the request and cannot be a template keyword argument`, 'invalid_value');
    }
  }
  if (!given && !defaults) return undefined;
  return { ...defaults, ...given?.value };
}

export type ToolChoice = { mode: 'none' | 'auto' | 'required' } | { mode: 'named'; name: string };

export function parseToolChoice(f: Fields, tools: ToolSpec[] | undefined): ToolChoice {
  const raw = f.raw('tool_choice');
  if (raw === undefined) return { mode: tools?.length ? 'auto' : 'none' };
  let choice: ToolChoice;
  if (typeof raw === 'string') {
    choice = { mode: f.string('tool_choice', { oneOf: ['none', 'auto', 'required'] }) as 'none' | 'auto' | 'required' };
  } else {
    const c = f.object('tool_choice')!;
    c.only(['type', 'function']);
    c.string('type', { required: true, oneOf: ['function'] });
    const fn = c.object('function', { required: true })!;
    fn.only(['name']);
    choice = { mode: 'named', name: fn.string('name', { required: true })! };
  }
  if (choice.mode !== 'none' && !tools?.length) throw invalid('tool_choice', "'tool_choice' is only allowed when 'tools' are specified", 'invalid_value');
  if (choice.mode === 'named' && !tools!.some((t) => t.name === (choice as { name: string }).name)) {
    throw invalid('tool_choice.function.name', `Tool '${choice.name}' is not among the tools provided`, 'invalid_value');
  }
  return choice;
}

function compileAt(schema: unknown, param: string): SchemaNode {
  try {
    return compileSchema(schema);
  } catch (err) {
    if (err instanceof SchemaError) throw invalid(param, `Invalid or unsupported JSON Schema in '${param}': ${err.message}`, 'invalid_schema');
    throw err;
  }
}

const utf8 = new TextEncoder();

/** One alternative per tool: `<tool_call>{"name": "NAME", "arguments": ` + arguments + `}</tool_call>`. */
export function toolGrammar(tools: ToolSpec[], withOpenTag: boolean, lenient: boolean): JsonGrammar {
  return new JsonGrammar(
    tools.map((t, i) => {
      let node: SchemaNode;
      try {
        node = compileAt(t.parameters, `tools[${i}].function.parameters`);
      } catch (err) {
        if (!lenient) throw err;
        node = anyObjectSchema(); // free calls: an unsupported schema still gets well-formed JSON arguments
      }
      return {
        prefix: utf8.encode(`${withOpenTag ? TOOL_CALL_OPEN : ''}{"name": ${JSON.stringify(t.name)}, "arguments": `),
        node,
        suffix: utf8.encode('}</tool_call>'),
      };
    }),
  );
}

export function parseResponseFormat(f: Fields): JsonGrammar | undefined {
  const rf = f.object('response_format');
  if (!rf) return undefined;
  const type = rf.string('type', { required: true, oneOf: ['text', 'json_object', 'json_schema'] });
  if (type === 'text') {
    rf.only(['type']);
    return undefined;
  }
  if (type === 'json_object') {
    rf.only(['type']);
    return JsonGrammar.forSchema(anyObjectSchema());
  }
  rf.only(['type', 'json_schema']);
  const js = rf.object('json_schema', { required: true })!;
  js.only(['name', 'description', 'schema', 'strict']);
  js.string('name', { required: true, pattern: NAME });
  js.string('description', { allowEmpty: true });
  js.boolean('strict');
  const schema = js.raw('schema') ?? true;
  if (typeof schema !== 'object' && typeof schema !== 'boolean') throw invalid('response_format.json_schema.schema', "Invalid type for 'response_format.json_schema.schema': expected an object", 'invalid_type');
  return JsonGrammar.forSchema(compileAt(schema, 'response_format.json_schema.schema'));
}

/** What the template renders besides the messages: the tools (as the request gave them) and keyword arguments. */
export interface ChatRender {
  tools?: unknown[];
  kwargs?: Readonly<Record<string, unknown>>;
}

/**
 * Prompt ids of a conversation, rendered with the model folder's chat template. Message contents are encoded as
 * plain text (special-token strings inside them stay text), the template around them with special tokens recognised.
 * A template that fails on this conversation (it raised an exception, or reads a variable the wrong way) is the
 * request's problem, answered with 400, not a server error.
 */
export function encodeChat(tok: Tokenizer, messages: readonly ChatMessage[], render: ChatRender = {}): number[] {
  const opts = { addGenerationPrompt: true, tools: render.tools, kwargs: render.kwargs };
  const renderChat = (list: readonly ChatMessage[]) => {
    try {
      return tok.renderChat(list, opts);
    } catch (err) {
      throw invalid('messages', `The model's chat template could not render the conversation: ${(err as Error).message}`, 'chat_template_error');
    }
  };
  const contents: string[] = [];
  const marked = messages.map((m) => (typeof m.content === 'string' && m.content ? { ...m, content: `\u{F0000}${contents.push(m.content) - 1}\u{F0001}` } : m));
  const rendered = renderChat(marked);
  const ids: number[] = [];
  let last = 0;
  let expect = 0;
  for (const m of rendered.matchAll(/\u{F0000}(\d+)\u{F0001}/gu)) {
    const index = Number(m[1]);
    if (index !== expect++) return tok.encode(renderChat(messages), { allowSpecial: true });
    ids.push(...tok.encode(rendered.slice(last, m.index), { allowSpecial: true }), ...tok.encode(contents[index]!));
    last = m.index! + m[0].length;
  }
  if (expect !== contents.length) return tok.encode(renderChat(messages), { allowSpecial: true });
  ids.push(...tok.encode(rendered.slice(last), { allowSpecial: true }));
  return ids;
}
