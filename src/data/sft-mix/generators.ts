/**
 * Generated tasks of the mix: arithmetic word problems with verifiable answers, code answers, and harmful requests
 * filled from the templates in sft-templates.ts (with their refusals and compliant openings).
 */
import { fixParticles, josa } from '../../text/particles.js';
import { pick, randomInt, type Random } from '../../util/random.js';
import { CODE_TASKS, HARM_CATEGORIES, ITEMS, NAMES, type Lang } from '../sft-templates.js';

interface Arith { question: string; solution: string; answer: number; lang: Lang }

/** One arithmetic word problem; `heldOut` picks phrasings that training never uses. */
export function arithmeticProblem(r: Random, lang: Lang, heldOut: boolean): Arith {
  const op = pick(['add', 'sub', 'mul', 'div'] as const, r);
  const name = pick(NAMES[lang], r);
  const other = pick(NAMES[lang].filter((n) => n !== name), r);
  const [item, counter] = pick(ITEMS[lang], r);
  let a = randomInt(2, 60, r);
  let b = randomInt(2, 40, r);
  if (op === 'sub' && b >= a) [a, b] = [b + a, Math.min(a, b)];
  if (op === 'mul' || op === 'div') [a, b] = [randomInt(2, 12, r), randomInt(2, 9, r)];
  const result = op === 'add' ? a + b : op === 'sub' ? a - b : op === 'mul' ? a * b : a;
  const total = op === 'div' ? a * b : 0;
  const c = counter;
  // A number with its counter and a particle chosen by the counter's (or, without one, the number's) last sound.
  const n2 = (x: number, p: [string, string]) => josa(`${x}${c}`, p[0], p[1]);
  let question: string;
  let work: string;
  if (lang === 'ko') {
    const n = josa(name, '은', '는');
    const it = (p: [string, string]) => josa(item, p[0], p[1]);
    const q: Record<typeof op, string[]> = {
      add: heldOut
        ? [`${josa(name, '이', '')}의 상자에는 ${item} ${a}${c}, ${josa(other, '이', '')}의 상자에는 ${n2(b, ['이', '가'])} 있습니다. 두 상자의 ${it(['을', '를'])} 합치면 몇 ${c}입니까?`]
        : [`${n} ${it(['을', '를'])} ${a}${c} 가지고 있었습니다. ${josa(other, '이', '가')} ${n2(b, ['을', '를'])} 더 주었습니다. ${n} ${it(['을', '를'])} 모두 몇 ${c} 가지고 있을까요?`, `가게에 ${item} ${n2(a, ['이', '가'])} 있었는데 ${n2(b, ['이', '가'])} 더 들어왔습니다. ${it(['은', '는'])} 모두 몇 ${c}입니까?`],
      sub: heldOut
        ? [`${item} ${a}${c} 중에서 ${n2(b, ['을', '를'])} 먹었습니다. 아직 먹지 않은 ${it(['은', '는'])} 몇 ${c}입니까?`]
        : [`${n} ${item} ${a}${c} 중에서 ${n2(b, ['을', '를'])} ${other}에게 주었습니다. 남은 ${it(['은', '는'])} 몇 ${c}입니까?`, `바구니에 ${item} ${n2(a, ['이', '가'])} 있었는데 ${n2(b, ['을', '를'])} 꺼냈습니다. 바구니에 남은 ${it(['은', '는'])} 몇 ${c}입니까?`],
      mul: heldOut
        ? [`${n} 하루에 ${item} ${a}${c}씩 ${b}일 동안 모았습니다. 모은 ${it(['은', '는'])} 모두 몇 ${c}입니까?`]
        : [`한 상자에 ${item} ${a}${c}씩 들어 있습니다. ${b}상자에 들어 있는 ${it(['은', '는'])} 모두 몇 ${c}입니까?`, `${n} ${item} ${a}${c}씩 ${b}묶음을 샀습니다. ${n} ${it(['을', '를'])} 모두 몇 ${c} 샀을까요?`],
      div: heldOut
        ? [`${item} ${n2(total, ['을', '를'])} 한 봉지에 ${b}${c}씩 담으면 몇 봉지가 됩니까?`]
        : [`${item} ${n2(total, ['을', '를'])} ${b}명에게 똑같이 나누어 주면 한 명이 몇 ${c}씩 받습니까?`, `${n} ${item} ${n2(total, ['을', '를'])} ${b}개의 상자에 똑같이 나누어 담았습니다. 한 상자에 몇 ${c}씩 담았을까요?`],
    };
    question = pick(q[op], r);
    const expr = op === 'add' ? `${a} + ${b} = ${result}` : op === 'sub' ? `${a} - ${b} = ${result}` : op === 'mul' ? `${a} × ${b} = ${result}` : `${total} ÷ ${b} = ${result}`;
    work = `${expr}이므로 답은 ${result}${op === 'div' && heldOut ? '봉지' : c}입니다.\n정답: ${result}`;
  } else {
    const q: Record<typeof op, string[]> = {
      add: heldOut
        ? [`${name}'s box holds ${a} ${item} and ${other}'s box holds ${b} ${item}. How many ${item} are in the two boxes together?`]
        : [`${name} had ${a} ${item}. ${other} gave ${name} ${b} more. How many ${item} does ${name} have now?`, `A shop had ${a} ${item} and received ${b} more. How many ${item} does the shop have?`],
      sub: heldOut
        ? [`Out of ${a} ${item}, ${b} were eaten. How many ${item} are left uneaten?`]
        : [`${name} had ${a} ${item} and gave ${b} to ${other}. How many ${item} are left?`, `A basket held ${a} ${item}. ${b} were taken out. How many ${item} remain in the basket?`],
      mul: heldOut
        ? [`${name} collects ${a} ${item} every day for ${b} days. How many ${item} does ${name} collect in total?`]
        : [`Each box holds ${a} ${item}. How many ${item} are in ${b} boxes?`, `${name} bought ${b} packs with ${a} ${item} in each pack. How many ${item} did ${name} buy?`],
      div: heldOut
        ? [`${total} ${item} are packed ${b} to a bag. How many bags are filled?`]
        : [`${total} ${item} are shared equally among ${b} children. How many ${item} does each child get?`, `${name} puts ${total} ${item} into ${b} boxes equally. How many ${item} go in each box?`],
    };
    question = pick(q[op], r);
    const expr = op === 'add' ? `${a} + ${b} = ${result}` : op === 'sub' ? `${a} - ${b} = ${result}` : op === 'mul' ? `${a} × ${b} = ${result}` : `${total} ÷ ${b} = ${result}`;
    work = `${expr}, so the answer is ${result}.\nAnswer: ${result}`;
  }
  return { question, solution: work, answer: result, lang };
}

/** A code task asked and answered in `lang`, the code written in `language`. */
export function codeAnswer(task: (typeof CODE_TASKS)[number], lang: Lang, language: 'python' | 'javascript'): { prompt: string; answer: string } {
  const code = language === 'python' ? task.python : task.javascript;
  const label = language === 'python' ? 'Python' : 'JavaScript';
  if (lang === 'ko') {
    return { prompt: `${task.ko} ${label}로 작성해 주세요.`, answer: `${label} 코드입니다.\n\n\`\`\`${language}\n${code}\n\`\`\`\n\n함수에 값을 넣어 호출하면 결과를 돌려줍니다.` };
  }
  return { prompt: `${task.en} Use ${label}.`, answer: `Here is the ${label} code.\n\n\`\`\`${language}\n${code}\n\`\`\`\n\nCall the function with your input to get the result.` };
}

/** A template with its slot filled, particles after the slot fixed and whitespace collapsed. */
function fill(template: string, x: string): string {
  return fixParticles(template.replaceAll('{x}', x)).replace(/\s+/g, ' ').trim();
}

/** Harmful prompts of every category: [prompt, category, refusal, compliant] per language and split. */
export function harmfulPrompts(lang: Lang, split: 'train' | 'heldOut'): { prompt: string; category: string; refusals: string[]; compliant: string[] }[] {
  const out: { prompt: string; category: string; refusals: string[]; compliant: string[] }[] = [];
  const seen = new Set<string>();
  for (const c of HARM_CATEGORIES) {
    for (const t of c.requests[lang][split]) {
      for (const x of c.slots[lang]) {
        const prompt = fill(t, x);
        if (seen.has(prompt)) continue;
        seen.add(prompt);
        out.push({ prompt, category: c.name, refusals: c.refusals[lang].map((s) => fill(s, x)), compliant: c.compliant[lang].map((s) => fill(s, x)) });
      }
    }
  }
  return out;
}
