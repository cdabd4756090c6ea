// kolm chat page: streams answers from /v1/chat/completions, keeps conversations in localStorage.
// Plain browser JavaScript with no dependencies; text is always inserted as text, never as HTML.

const $ = (id) => document.getElementById(id);
const STORE = 'kolm.chat.v1';
const SETTINGS = 'kolm.settings.v1';

const state = {
  conversations: [],
  current: null,
  model: null,
  controller: null,
};

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE) || '{}');
    state.conversations = Array.isArray(saved.conversations) ? saved.conversations : [];
    state.current = saved.current || null;
  } catch {
    state.conversations = [];
  }
  try {
    const s = JSON.parse(localStorage.getItem(SETTINGS) || '{}');
    if (typeof s.system === 'string') $('system-prompt').value = s.system;
    if (typeof s.temperature === 'number') $('temperature').value = String(s.temperature);
    if (typeof s.maxTokens === 'number') $('max-tokens').value = String(s.maxTokens);
    if (typeof s.apiKey === 'string') $('api-key').value = s.apiKey;
  } catch {
    // defaults stay
  }
  if (!conversation()) newConversation();
}

function save() {
  localStorage.setItem(STORE, JSON.stringify({ conversations: state.conversations, current: state.current }));
}

function saveSettings() {
  localStorage.setItem(SETTINGS, JSON.stringify(settings()));
}

function settings() {
  const temperature = Number($('temperature').value);
  const maxTokens = Math.floor(Number($('max-tokens').value));
  return {
    system: $('system-prompt').value,
    temperature: Number.isFinite(temperature) ? Math.min(2, Math.max(0, temperature)) : 0.7,
    maxTokens: Number.isFinite(maxTokens) && maxTokens > 0 ? maxTokens : 256,
    apiKey: $('api-key').value.trim(),
  };
}

function conversation() {
  return state.conversations.find((c) => c.id === state.current) || null;
}

function newConversation() {
  const c = { id: `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`, title: '새 대화', messages: [] };
  state.conversations.unshift(c);
  state.current = c.id;
  save();
  render();
}

function headers() {
  const h = { 'content-type': 'application/json' };
  const key = settings().apiKey;
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

function render() {
  const list = $('conversations');
  list.replaceChildren();
  for (const c of state.conversations) {
    const li = document.createElement('li');
    if (c.id === state.current) li.className = 'current';
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open';
    open.textContent = c.title || '새 대화';
    open.title = c.title || '';
    open.addEventListener('click', () => {
      if (state.controller) return;
      state.current = c.id;
      save();
      render();
    });
    const del = document.createElement('button');
    del.type = 'button';
    del.textContent = '×';
    del.setAttribute('aria-label', 'Delete conversation');
    del.addEventListener('click', () => {
      if (state.controller) return;
      state.conversations = state.conversations.filter((x) => x.id !== c.id);
      if (state.current === c.id) state.current = state.conversations[0]?.id ?? null;
      if (!conversation()) newConversation();
      save();
      render();
    });
    li.append(open, del);
    list.append(li);
  }
  const box = $('messages');
  box.replaceChildren();
  for (const m of conversation()?.messages ?? []) box.append(bubble(m.role, m.content, m.state || 'done'));
  box.scrollTop = box.scrollHeight;
}

function bubble(role, text, status) {
  const li = document.createElement('li');
  li.className = `msg ${role}`;
  li.dataset.state = status;
  li.textContent = text;
  return li;
}

function setBusy(busy) {
  $('send').hidden = busy;
  $('stop').hidden = !busy;
  $('new-chat').disabled = busy;
}

/** Reads server-sent events from a fetch response; calls onData with each parsed `data:` JSON value. */
async function readEvents(response, onData) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let at;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        onData(JSON.parse(data));
      }
    }
  }
}

async function send(text) {
  const c = conversation();
  if (!c || state.controller || !text.trim()) return;
  const s = settings();
  saveSettings();
  c.messages.push({ role: 'user', content: text });
  if (c.messages.filter((m) => m.role === 'user').length === 1) c.title = text.slice(0, 40);
  const answer = { role: 'assistant', content: '', state: 'streaming' };
  c.messages.push(answer);
  save();
  render();
  const el = $('messages').lastElementChild;
  const history = c.messages.slice(0, -1).filter((m) => m.state !== 'error').map((m) => ({ role: m.role, content: m.content }));
  const messages = s.system.trim() ? [{ role: 'system', content: s.system }, ...history] : history;
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  $('status').textContent = '';
  try {
    const response = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ model: state.model, messages, stream: true, temperature: s.temperature, max_tokens: s.maxTokens }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.error?.message || `HTTP ${response.status}`);
    }
    let finish = null;
    // Paint at most once per frame: a fast model streams thousands of deltas a second, and re-laying out the
    // page for each would starve the main thread (and the stop button) of time.
    let painting = false;
    const paint = () => {
      painting = false;
      el.textContent = answer.content;
      $('messages').scrollTop = $('messages').scrollHeight;
    };
    await readEvents(response, (chunk) => {
      if (chunk.error) throw new Error(chunk.error.message);
      const choice = chunk.choices?.[0];
      const delta = choice?.delta?.content;
      if (delta) {
        answer.content += delta;
        if (!painting) {
          painting = true;
          requestAnimationFrame(paint);
        }
      }
      if (choice?.finish_reason) finish = choice.finish_reason;
    });
    answer.state = 'done';
    if (finish === 'length') $('status').textContent = '최대 토큰 수에 도달했습니다 (max tokens reached).';
  } catch (err) {
    if (controller.signal.aborted) {
      answer.state = 'stopped';
    } else {
      answer.state = 'error';
      if (!answer.content) answer.content = `⚠ ${err.message}`;
      $('status').textContent = err.message;
    }
  } finally {
    state.controller = null;
    el.dataset.state = answer.state;
    el.textContent = answer.content;
    setBusy(false);
    save();
  }
}

function stop() {
  state.controller?.abort();
}

async function loadModel() {
  try {
    const response = await fetch('/v1/models', { headers: headers() });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error?.message || `HTTP ${response.status}`);
    state.model = body.data?.[0]?.id ?? null;
    $('model-name').textContent = state.model ?? '?';
  } catch (err) {
    $('model-name').textContent = '?';
    $('status').textContent = `모델 정보를 가져오지 못했습니다: ${err.message}`;
  }
}

function init() {
  load();
  render();
  const input = $('input');
  // Korean (and other) IME input: Enter while a syllable is being composed commits the syllable; it must not
  // send the message. Chrome reports isComposing on that keydown; Safari ends the composition first and then
  // sends keyCode 229, so both are checked, along with our own composition flag.
  let composing = false;
  input.addEventListener('compositionstart', () => {
    composing = true;
  });
  input.addEventListener('compositionend', () => {
    composing = false;
  });
  input.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.shiftKey) return;
    if (e.isComposing || composing || e.keyCode === 229) return;
    e.preventDefault();
    submit();
  });
  const submit = () => {
    const text = input.value;
    if (!text.trim() || state.controller) return;
    input.value = '';
    void send(text);
  };
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  $('stop').addEventListener('click', stop);
  $('new-chat').addEventListener('click', () => {
    if (!state.controller) newConversation();
  });
  $('settings').addEventListener('submit', (e) => e.preventDefault());
  $('toggle-settings').addEventListener('click', () => {
    const panel = $('settings');
    panel.hidden = !panel.hidden;
    $('toggle-settings').setAttribute('aria-expanded', String(!panel.hidden));
  });
  for (const id of ['system-prompt', 'temperature', 'max-tokens', 'api-key']) $(id).addEventListener('change', saveSettings);
  $('api-key').addEventListener('change', () => void loadModel());
  void loadModel();
}

init();
