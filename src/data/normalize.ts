/**
 * Stage 1: Unicode NFC (so Korean is always composed syllables, whatever the input used), control and
 * invisible characters, whitespace, and markup remnants (HTML tags and entities, UI accelerator marks).
 */
export interface NormalizeOptions {
  /** Remove HTML tags/entities and `(_F)`-style accelerator marks from non-code text. */
  stripMarkup: boolean;
  /** Collapse runs of spaces inside lines of non-code text. */
  collapseSpaces: boolean;
}

export const defaultNormalize: NormalizeOptions = { stripMarkup: true, collapseSpaces: true };

// Overstrike (char + backspace, as in old man pages and fortunes) shows only the second character.
const OVERSTRIKE = /[^\n]\x08/g;
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\u00ad]/g;
const ODD_SPACE = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;
// Both of the above in one test, since most documents contain neither.
const ODD_ANY = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\u00ad\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/;
const TRAILING_SPACE = /[ \t]+$/gm;
const MANY_BLANK_LINES = /\n{3,}/g;
const MANY_SPACES = /(\S) {2,}/g;
// Only known HTML/help-markup tag names, so `<stdin>` or `a < b > c` in prose survives.
const TAG = /<\/?(?:a|abbr|ahelp|b|big|blockquote|body|br|caption|center|code|col|dd|del|div|dl|dt|em|emph|embedvar|font|h[1-6]|head|hr|html|i|img|input|ins|item|kbd|li|link|meta|nobr|ol|p|pre|s|script|small|span|strike|strong|style|sub|sup|switchinline|caseinline|defaultinline|table|tbody|td|tfoot|th|thead|title|tr|tt|u|ul|variable|bookmark_value|menuitem|literal|guilabel|keycap|filename|command|replaceable|quote|emphasis|link)(?:\s[^<>]{0,400})?\/?>/gi;
const SCRIPT_STYLE = /<(script|style)\b[^>]*>[\s\S]*?<\/\1>/gi;
const ENTITY = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(amp|lt|gt|quot|apos|nbsp|hellip|mdash|ndash|middot|copy|reg|trade|laquo|raquo|lsquo|rsquo|ldquo|rdquo|bull));/g;
// Korean UI strings mark the keyboard accelerator as a parenthesised letter: "열기(_O)", "파일(&F)".
const ACCELERATOR = /\((?:_|&)[A-Za-z0-9]\)/g;

const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', hellip: '…', mdash: '—', ndash: '–', middot: '·',
  copy: '©', reg: '®', trade: '™', laquo: '«', raquo: '»', lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”', bull: '•',
};

function decodeEntity(_m: string, dec?: string, hex?: string, name?: string): string {
  if (name) return NAMED[name];
  const cp = dec !== undefined ? Number(dec) : parseInt(hex!, 16);
  return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : '';
}

/**
 * Normalize one document. `code` keeps indentation, `<...>` and entities, since they are meaningful there.
 * Returns '' when nothing but whitespace remains.
 */
export function normalizeText(text: string, code: boolean, opts: NormalizeOptions = defaultNormalize): string {
  if (text.includes('\r')) text = text.replace(/\r\n?/g, '\n');
  if (text.includes('\x08')) text = text.replace(OVERSTRIKE, '');
  if (ODD_ANY.test(text)) text = text.replace(CONTROL, '').replace(ODD_SPACE, ' ');
  if (!code && opts.stripMarkup) {
    if (text.includes('<')) text = text.replace(SCRIPT_STYLE, '').replace(TAG, '');
    if (text.includes('&')) text = text.replace(ENTITY, decodeEntity);
    if (text.includes('(')) text = text.replace(ACCELERATOR, '');
  }
  // NFC after entity decoding, which can produce decomposed sequences.
  text = text.normalize('NFC');
  if (text.includes(' \n') || text.includes('\t\n') || /[ \t]$/.test(text)) text = text.replace(TRAILING_SPACE, '');
  if (!code && opts.collapseSpaces && text.includes('  ')) text = text.replace(MANY_SPACES, '$1 ');
  if (text.includes('\n\n\n')) text = text.replace(MANY_BLANK_LINES, '\n\n');
  if (!code) return text.trim();
  let start = 0;
  while (text.charCodeAt(start) === 10) start++;
  return text.slice(start).trimEnd();
}
