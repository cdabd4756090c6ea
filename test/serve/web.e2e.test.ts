import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadModel, type LanguageModel } from '../../src/infer/model.js';
import { serve, type KolmServer } from '../../src/serve/server.js';
import { tinyModel } from './serve-helpers.js';

// Debian's Chromium (.ci/run installs it). A missing browser fails this test rather than skipping it.
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let root: string;
let profile: string;
let model: LanguageModel;
let server: KolmServer;
let browser: BrowserContext;
let page: Page;

before(async () => {
  const made = await tinyModel({ max_position_embeddings: 32768 }, 1, { endless: true });
  root = made.root;
  model = await loadModel(made.model, { threads: 1 });
  server = await serve(model, { port: 0 });
  profile = mkdtempSync(join(tmpdir(), 'kolm-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
  page = browser.pages()[0] ?? (await browser.newPage());
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
});

const answerState = () => page.evaluate(() => {
  const all = document.querySelectorAll<HTMLElement>('.msg.assistant');
  const last = all[all.length - 1];
  return { count: all.length, state: last?.dataset['state'], text: last?.textContent ?? '' };
});

async function waitFor<T>(what: string, read: () => Promise<T> | T, ok: (v: T) => boolean): Promise<T> {
  let v = await read();
  for (let i = 0; i < 400 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 10));
    v = await read();
  }
  assert.ok(ok(v), `${what}: ${JSON.stringify(v)}`);
  return v;
}

test('the chat page: Korean IME input, a streamed answer, the stop button, and history that survives a reload', async () => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The model's greedy answers do not end by themselves (see tinyModel's `endless`): checked here for 4000 tokens, and
  // the page asks for 30000 (seconds of streaming even on a fast machine), so the answer is still streaming when stop
  // is pressed right after its first words arrive.
  const reference = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify({ model: 'model', messages: [{ role: 'user', content: '안녕하세요' }], max_tokens: 4000, temperature: 0 }),
  }).then((r) => r.json() as Promise<{ choices: { message: { content: string }; finish_reason: string }[] }>);
  assert.equal(reference.choices[0]!.finish_reason, 'length');

  await page.goto(server.url);
  await page.waitForFunction(() => document.getElementById('model-name')!.textContent === 'model');
  await page.click('#toggle-settings');
  await page.fill('#temperature', '0');
  await page.fill('#max-tokens', '30000');
  await page.click('#input');

  // Compose 안 with the IME: Enter while composing (isComposing, as Chrome reports it) must not send.
  const cdp = await browser.newCDPSession(page);
  await cdp.send('Input.imeSetComposition', { text: '안', selectionStart: 1, selectionEnd: 1 });
  await cdp.send('Input.dispatchKeyEvent', { type: 'rawKeyDown', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13 });
  await cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13 });
  await cdp.send('Input.insertText', { text: '안' }); // commits the syllable
  // Safari's order: the composition has ended, then the Enter keydown arrives with keyCode 229. Still no send.
  await cdp.send('Input.imeSetComposition', { text: '녕', selectionStart: 1, selectionEnd: 1 });
  await cdp.send('Input.insertText', { text: '녕' });
  await cdp.send('Input.dispatchKeyEvent', { type: 'rawKeyDown', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 229 });
  await cdp.send('Input.dispatchKeyEvent', { type: 'keyUp', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 229 });
  assert.equal(await page.locator('.msg').count(), 0, 'nothing was sent while composing');
  assert.equal(await page.inputValue('#input'), '안녕');
  await page.keyboard.insertText('하세요');
  await page.keyboard.press('Enter');

  const user = page.locator('.msg.user');
  await waitFor('the user message', () => user.count(), (n) => n === 1);
  assert.equal(await user.first().textContent(), '안녕하세요');
  assert.equal(await page.inputValue('#input'), '');
  await waitFor('streamed words', answerState, (a) => a.state === 'streaming' && a.text.length > 0);
  assert.ok(await page.isVisible('#stop'));
  await page.click('#stop');
  const stopped = await waitFor('stopped answer', answerState, (a) => a.state === 'stopped');
  assert.ok(stopped.text.length > 0);
  assert.ok(reference.choices[0]!.message.content.startsWith(stopped.text), 'the streamed words are the beginning of the greedy answer');
  assert.ok(stopped.text.length < reference.choices[0]!.message.content.length, 'stopped before the end');
  // The server cancelled the generation and freed its row.
  await waitFor('server-side cancellation', () => ({ cancelled: server.metrics.cancelled.get(), running: server.engine.scheduler.running }), (s) => s.cancelled === 1 && s.running === 0);
  assert.ok(await page.isVisible('#send'));

  // History survives a reload; a second turn completes with the first in its context.
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('.msg').length === 2);
  assert.equal(await page.locator('#conversations li.current button.open').textContent(), '안녕하세요');
  await page.click('#toggle-settings');
  await page.fill('#max-tokens', '6');
  await page.click('#input');
  await page.keyboard.insertText('고마워요');
  await page.click('#send');
  await waitFor('second answer', answerState, (a) => a.count === 2 && a.state === 'done');
  assert.equal(await page.locator('.msg.user').nth(1).textContent(), '고마워요');
  assert.deepEqual(errors, []);
});
