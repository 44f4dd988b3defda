// What a query of the native language (docs/QUERY.md) asks to find in a message, for marking
// matched words: terms, prefixes and phrases outside negations and field filters. Tokens are
// cut and lowercased as the server's tokenizer does (runs of letters, marks and digits).
import { esc } from './util.js';

const TOKEN = /[\p{L}\p{M}\p{N}]+/gu;
export const tokens = (s) => (s.match(TOKEN) || []).map((t) => t.toLowerCase());

/** The positive words of `q`: [{tokens:[…], prefix:bool}] (a phrase has several tokens). */
export function positives(q) {
  const out = [];
  let i = 0;
  let negate = false;
  let depth = 0;
  let negDepth = -1;
  const n = q.length;
  while (i < n) {
    const c = q[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '(') { if (negate && negDepth < 0) negDepth = depth; negate = false; depth++; i++; continue; }
    if (c === ')') { depth--; if (negDepth === depth) negDepth = -1; i++; continue; }
    let neg = negate;
    negate = false;
    if (c === '-' && i + 1 < n && !/\s/.test(q[i + 1])) { neg = true; i++; if (q[i] === '(') { negate = true; continue; } }
    let word;
    let phrase = false;
    if (q[i] === '"') {
      let j = i + 1;
      word = '';
      while (j < n && q[j] !== '"') { if (q[j] === '\\' && j + 1 < n) j++; word += q[j]; j++; }
      i = j + 1;
      phrase = true;
    } else {
      let j = i;
      while (j < n && !/[\s()"]/.test(q[j])) j++;
      word = q.slice(i, j);
      i = j;
      if (/^[A-Za-z]+:$/.test(word) && q[i] === '"') { // field:"value"
        let k = i + 1;
        while (k < n && q[k] !== '"') { if (q[k] === '\\') k++; k++; }
        i = k + 1;
        continue;
      }
    }
    if (!phrase && (word === 'AND' || word === 'OR')) continue;
    if (!phrase && word === 'NOT') { negate = true; continue; }
    if (!phrase && /^[A-Za-z]+:/.test(word)) continue; // field filter
    if (neg || negDepth >= 0) continue;
    const prefix = !phrase && word.endsWith('*');
    const t = tokens(prefix ? word.slice(0, -1) : word);
    if (t.length) out.push({ tokens: t, prefix: prefix && !/[^\p{L}\p{M}\p{N}]$/u.test(word.slice(0, -1)) });
  }
  return out;
}

/** HTML of `text` with the words `words` (from positives) matches in <mark>. */
export function highlighter(words) {
  if (!words.length) return esc;
  return (text) => {
    const spans = [];
    const toks = [];
    TOKEN.lastIndex = 0;
    for (let m; (m = TOKEN.exec(text));) toks.push({ s: m.index, e: m.index + m[0].length, t: m[0].toLowerCase() });
    for (const w of words) {
      const L = w.tokens.length;
      for (let k = 0; k + L <= toks.length; k++) {
        let ok = true;
        for (let j = 0; j < L && ok; j++) {
          const last = j === L - 1;
          ok = last && w.prefix ? toks[k + j].t.startsWith(w.tokens[j]) : toks[k + j].t === w.tokens[j];
        }
        if (ok) spans.push([toks[k].s, toks[k + L - 1].e]);
      }
    }
    if (!spans.length) return esc(text);
    spans.sort((a, b) => a[0] - b[0]);
    let out = '';
    let at = 0;
    for (const [s, e] of spans) {
      if (e <= at) continue;
      const from = Math.max(s, at);
      out += esc(text.slice(at, from)) + '<mark>' + esc(text.slice(from, e)) + '</mark>';
      at = e;
    }
    return out + esc(text.slice(at));
  };
}
