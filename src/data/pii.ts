/**
 * Stage 4: replace personal data with typed placeholders: e-mail addresses, phone numbers (Korean mobile/landline,
 * +82, and common international forms), Korean resident registration numbers, payment card numbers (Luhn-checked)
 * and public IP addresses. Loopback/private/documentation IPs are not personal and are kept (code uses them).
 */
export type PiiType = 'email' | 'phone' | 'rrn' | 'card' | 'ip';

export interface PiiOptions {
  types: PiiType[];
  placeholders: Record<PiiType, string>;
  /** Keep loopback, private, link-local and documentation IPv4 addresses. */
  keepReservedIps: boolean;
}

export const defaultPii: PiiOptions = {
  types: ['email', 'phone', 'rrn', 'card', 'ip'],
  placeholders: { email: '[EMAIL]', phone: '[PHONE]', rrn: '[RRN]', card: '[CARD]', ip: '[IP]' },
  keepReservedIps: true,
};

// Matched outwards from each '@' (see scrubEmails): a regex that starts anywhere backtracks over every word.
const EMAIL_LOCAL = /[A-Za-z0-9._%+-]/;
const EMAIL_DOMAIN = /[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b/y;

// All digit-bearing types in one pass; the named group tells which alternative matched. Order matters:
// RRN (13 digits with a dash) before card and phone; numbers must not be glued to other digits. Unseparated card
// numbers must have a Visa/Mastercard/Amex prefix and length, so long constants in code rarely qualify.
const NUMBERS = new RegExp([
  String.raw`(?<![\d.-])(?<rrn>\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?-\s?[1-8]\d{6})(?![\d-])`,
  String.raw`(?<![\d.])(?<card>(?:\d{4}[ -]){3}\d{4}|\d{4}[ -]\d{6}[ -]\d{5}|4\d{15}|5[1-5]\d{14}|3[47]\d{13})(?![\d-])`,
  String.raw`(?<![\w.+-])(?<phone>(?:\+82[ -]?(?:0?1[016789]|0?2|0?[3-6][1-5]|0?70)[ .-]?\d{3,4}[ .-]?\d{4}` +
    String.raw`|01[016789][ .-]?\d{3,4}[ .-]?\d{4}|0(?:2|[3-6][1-5]|70|50[1-9]?)[ .)-]\s?\d{3,4}[ .-]\d{4}` +
    String.raw`|\(0(?:2|[3-6][1-5])\)\s?\d{3,4}-\d{4}|\+(?:[1-9]\d{0,2})[ -]\(?\d{1,4}\)?[ -]\d{2,4}[ -]\d{3,4}(?:[ -]\d{2,4})?` +
    String.raw`|\(\d{3}\) ?\d{3}-\d{4}))(?![\d-])`,
  String.raw`(?<![\d.])(?<ip>(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))(?![\d.]*\d)`,
].join('|'), 'g');

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

export function isReservedIpv4(ip: string): boolean {
  const [a, b, c] = ip.split('.').map(Number);
  return a === 0 || a === 10 || a === 127 || a >= 224 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) ||
    (a === 192 && b === 0 && c === 2) || (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113) ||
    (a === 198 && (b === 18 || b === 19)) || (a === 255);
}

function scrubEmails(text: string, placeholder: string, counts: Record<string, number>): string {
  let out = '';
  let done = 0;
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > done && at - start < 64 && EMAIL_LOCAL.test(text[start - 1])) start--;
    while (start < at && !/[A-Za-z0-9]/.test(text[start])) start++;
    if (start === at) continue;
    EMAIL_DOMAIN.lastIndex = at + 1;
    if (!EMAIL_DOMAIN.test(text)) continue;
    out += text.slice(done, start) + placeholder;
    done = EMAIL_DOMAIN.lastIndex;
    at = done - 1;
    counts.email = (counts.email ?? 0) + 1;
  }
  return done ? out + text.slice(done) : text;
}

export class PiiScrubber {
  private readonly on: Set<PiiType>;
  constructor(readonly opts: PiiOptions = defaultPii) {
    this.on = new Set(opts.types);
  }

  /** Returns the scrubbed text and adds replacement counts per type to `counts`. */
  scrub(text: string, counts: Record<string, number>): string {
    const p = this.opts.placeholders;
    if (this.on.has('email') && text.includes('@')) text = scrubEmails(text, p.email, counts);
    if (!/\d[\d .)-]{5}/.test(text)) return text;
    return text.replace(NUMBERS, (m, ...args) => {
      const g = args[args.length - 1] as Record<string, string | undefined>;
      const type: PiiType = g.rrn ? 'rrn' : g.card ? 'card' : g.phone ? 'phone' : 'ip';
      if (!this.on.has(type)) return m;
      if (type === 'card') {
        const digits = m.replace(/\D/g, '');
        if (digits.length < 13 || digits.length > 19 || !luhnValid(digits)) return m;
      }
      if (type === 'ip' && this.opts.keepReservedIps && isReservedIpv4(m)) return m;
      counts[type] = (counts[type] ?? 0) + 1;
      return p[type];
    });
  }
}
