/** The inputs: the pretraining corpus (what each stage kept and dropped, the mix), the alignment data mix and the tokenizer. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { escapeHtml as esc, formatBytes, formatDuration, formatNumber, formatPercent } from '../../util/format.js';
import { readJson } from '../records.js';
import { isObj, num, kvTable, stageDir, stageHead, numbersOf, type Json, type Section, type Ctx } from './common.js';

export function dataSection(c: Ctx): Section | undefined {
  const parts: string[] = [];
  for (const s of c.state.stages.filter((s) => s.command === 'data build')) {
    const dir = stageDir(c, s);
    const stats = readJson(join(dir, 'stats.json'));
    const index = readJson(join(dir, 'index.json'));
    if (!isObj(stats) && !isObj(index)) continue;
    const st = isObj(stats) ? stats : {};
    const splits = isObj(index) && isObj(index['splits']) ? index['splits'] : isObj(st['output']) ? st['output'] : {};
    const train = isObj(splits['train']) ? splits['train'] : {};
    const valid = isObj(splits['validation']) ? splits['validation'] : {};
    const input = isObj(st['input']) ? st['input'] : {};
    const html: string[] = [stageHead(s, ' <span class="muted">pretraining corpus</span>')];
    html.push(kvTable([
      ['input', `${esc(formatNumber(input['records']))} records, ${esc(formatBytes(input['bytes']))}${Array.isArray(input['files']) ? ` from ${input['files'].length} files` : ''}`],
      ['training tokens', `${esc(formatNumber(train['tokens']))} in ${esc(formatNumber(train['documents']))} documents${num(train['fimDocuments']) ? ` (${esc(formatNumber(train['fimDocuments']))} fill-in-the-middle)` : ''}`],
      ['validation tokens', `${esc(formatNumber(valid['tokens']))} in ${esc(formatNumber(valid['documents']))} documents`],
      ...(num(st['seconds']) !== undefined ? [['build time', `${esc(formatDuration(st['seconds']))}${num(st['mbPerSecond']) !== undefined ? `, ${esc(formatNumber(st['mbPerSecond'], 2))} MB/s` : ''}`] as [string, string]] : []),
    ]));
    // Tokens and documents by language: after filtering, after mixing (train), validation.
    const filtered = isObj(st['filtered']) ? st['filtered'] : {};
    const byLang = (o: Json, k: string) => (isObj(o[k]) ? (o[k] as Json) : {});
    const langs = [...new Set([...Object.keys(filtered), ...Object.keys(byLang(train, 'tokensByLang')), ...Object.keys(byLang(valid, 'tokensByLang'))])];
    if (langs.length) {
      const trainTok = byLang(train, 'tokensByLang'), trainDocs = byLang(train, 'documentsByLang'), validTok = byLang(valid, 'tokensByLang');
      const total = Object.values(trainTok).reduce((a: number, v) => a + (num(v) ?? 0), 0);
      html.push(`<h4>Tokens per language</h4><table><tr><th>language</th><th>documents kept</th><th>tokens kept</th><th>training documents</th><th>training tokens</th><th>share</th><th>validation tokens</th></tr>${langs.map((l) => {
        const f = isObj(filtered[l]) ? (filtered[l] as Json) : {};
        return `<tr><td>${esc(l)}</td><td class="n">${esc(formatNumber(f['documents']))}</td><td class="n">${esc(formatNumber(f['tokens']))}</td><td class="n">${esc(formatNumber(trainDocs[l]))}</td><td class="n">${esc(formatNumber(trainTok[l]))}</td><td class="n">${esc(total ? formatPercent((num(trainTok[l]) ?? 0) / total) : '—')}</td><td class="n">${esc(formatNumber(validTok[l]))}</td></tr>`;
      }).join('')}</table>`);
    }
    // What each stage dropped or changed.
    const stages = isObj(st['stages']) ? st['stages'] : {};
    const dropped: Record<string, number> = {};
    const stageRows = Object.entries(stages).filter(([, v]) => isObj(v)).map(([name, v]) => {
      const o = v as Json;
      const d = isObj(o['dropped']) ? Object.entries(o['dropped']).filter(([, n]) => num(n)) as [string, number][] : [];
      const ch = isObj(o['changed']) ? Object.entries(o['changed']).filter(([, n]) => num(n)) as [string, number][] : [];
      for (const [k, n] of d) dropped[`${name}:${k}`] = n;
      const list = (xs: [string, number][]) => xs.sort((a, b) => b[1] - a[1]).map(([k, n]) => `${esc(k)} ${esc(formatNumber(n))}`).join(', ');
      return `<tr><td>${esc(name)}</td><td class="n">${esc(formatNumber(o['in']))}</td><td class="n">${esc(formatNumber(o['kept']))}</td><td>${list(d) || '—'}</td><td>${list(ch) || '—'}</td><td class="n">${esc(formatDuration(o['seconds']))}</td></tr>`;
    });
    if (stageRows.length) html.push(`<h4>What was dropped</h4><table><tr><th>stage</th><th>in</th><th>kept</th><th>dropped</th><th>changed</th><th>time</th></tr>${stageRows.join('')}</table>`);
    const mix = isObj(st['mix']) && Array.isArray(st['mix']['groups']) ? (st['mix']['groups'] as unknown[]).filter(isObj) : [];
    if (mix.length) html.push(`<h4>Mixing</h4><table><tr><th>group</th><th>target</th><th>available tokens</th><th>rate</th><th>tokens</th><th>share</th></tr>${mix.map((g) => `<tr><td>${esc(g['name'])}</td><td class="n">${esc(formatPercent(g['target']))}</td><td class="n">${esc(formatNumber(g['available']))}</td><td class="n">×${esc(formatNumber(g['rate'], 3))}</td><td class="n">${esc(formatNumber(g['tokens']))}</td><td class="n">${esc(formatPercent(g['share']))}</td></tr>`).join('')}</table>`);
    parts.push(html.join(''));
    numbersOf(c, s).numbers = {
      input_records: num(input['records']) ?? null,
      input_bytes: num(input['bytes']) ?? null,
      train_tokens: num(train['tokens']) ?? null,
      train_documents: num(train['documents']) ?? null,
      validation_tokens: num(valid['tokens']) ?? null,
      validation_documents: num(valid['documents']) ?? null,
      tokens_by_lang: isObj(train['tokensByLang']) ? train['tokensByLang'] : {},
      documents_by_lang: isObj(train['documentsByLang']) ? train['documentsByLang'] : {},
      dropped,
    };
  }
  for (const s of c.state.stages.filter((s) => s.command === 'data sft-mix')) {
    const manifest = readJson(join(stageDir(c, s), 'manifest.json'));
    if (!isObj(manifest) || !isObj(manifest['files'])) continue;
    const files = Object.entries(manifest['files']).filter(([, v]) => isObj(v)) as [string, Json][];
    const html = [stageHead(s, ' <span class="muted">chat data for alignment</span>'), `<table><tr><th>file</th><th>records</th><th>by source</th></tr>${files.map(([f, v]) => `<tr><td><code>${esc(f)}</code></td><td class="n">${esc(formatNumber(v['records']))}</td><td>${isObj(v['bySource']) ? Object.entries(v['bySource']).map(([k, n]) => `${esc(k)} ${esc(formatNumber(n))}`).join(', ') : ''}</td></tr>`).join('')}</table>`];
    if (Array.isArray(manifest['notes']) && manifest['notes'].length) html.push(`<ul class="notes">${manifest['notes'].map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`);
    if (isObj(manifest['sources'])) {
      html.push(`<details><summary>sources and licences</summary><table><tr><th>source</th><th>licence</th><th>upstream</th></tr>${Object.entries(manifest['sources']).filter(([, v]) => isObj(v)).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc((v as Json)['license'] ?? '')}</td><td>${esc((v as Json)['upstream'] ?? '')}</td></tr>`).join('')}</table></details>`);
    }
    parts.push(html.join(''));
    numbersOf(c, s).numbers = { records: Object.fromEntries(files.map(([f, v]) => [f, num(v['records']) ?? null])) };
  }
  return parts.length ? { id: 'data', title: 'Data', html: parts.join('') } : undefined;
}

export function tokenizerSection(c: Ctx): Section | undefined {
  const parts: string[] = [];
  for (const s of c.state.stages.filter((s) => s.command === 'tokenizer train')) {
    const dir = stageDir(c, s);
    const tj = readJson(join(dir, 'tokenizer.json'));
    if (!isObj(tj)) continue;
    const model = isObj(tj['model']) ? tj['model'] : {};
    const vocab = isObj(model['vocab']) ? Object.values(model['vocab']).filter((v): v is number => typeof v === 'number') : [];
    const added = Array.isArray(tj['added_tokens']) ? tj['added_tokens'].filter(isObj) : [];
    let maxId = -1;
    for (const id of vocab) if (id > maxId) maxId = id;
    for (const t of added) if (typeof t['id'] === 'number' && t['id'] > maxId) maxId = t['id'];
    const vocabSize = maxId + 1;
    const merges = Array.isArray(model['merges']) ? model['merges'].length : undefined;
    const cfg = readJson(join(dir, 'tokenizer_config.json'));
    const specials = added.filter((t) => t['special'] === true).map((t) => String(t['content']));
    parts.push(stageHead(s) + kvTable([
      ['vocabulary size', esc(formatNumber(vocabSize))],
      ['type', esc(String(model['type'] ?? '—'))],
      ['merges', esc(formatNumber(merges))],
      ['special tokens', specials.map((t) => `<code>${esc(t)}</code>`).join(' ') || '—'],
      ['chat template', existsSync(join(dir, 'chat_template.jinja')) ? 'yes (chat_template.jinja)' : isObj(cfg) && typeof cfg['chat_template'] === 'string' ? 'yes' : 'no'],
    ]));
    numbersOf(c, s).numbers = { vocab_size: vocabSize, merges: merges ?? null, special_tokens: specials.length };
  }
  return parts.length ? { id: 'tokenizer', title: 'Tokenizer', html: parts.join('') } : undefined;
}
