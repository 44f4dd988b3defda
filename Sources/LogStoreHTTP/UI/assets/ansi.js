// ANSI SGR colours (ESC[…m) to HTML spans; other control sequences are dropped. A carriage
// return shows what a terminal would: the text after the last one.
import { esc } from './util.js';

const SGR = /\x1b\[([0-9;]*)m/g;
const OTHER = /\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]|[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]/g;
function color256(n) {
  if (n < 16) return null;
  if (n >= 232) { const v = 8 + (n - 232) * 10; return `rgb(${v},${v},${v})`; }
  n -= 16;
  const c = (x) => (x ? 55 + x * 40 : 0);
  return `rgb(${c(Math.floor(n / 36))},${c(Math.floor(n / 6) % 6)},${c(n % 6)})`;
}

/** True when the text has an escape character (most lines do not: they skip the parser). */
export const hasAnsi = (s) => s.indexOf('\x1b') >= 0;

/** Strips every escape sequence (for downloads and search highlighting). */
export const stripAnsi = (s) => s.replace(SGR, '').replace(OTHER, '');

/**
 * Renders `text` as HTML. `decorate(plain)` may turn each plain run into HTML (default: escape);
 * the search page uses it to mark matched words.
 */
export function ansiToHtml(text, decorate = esc) {
  const cr = text.lastIndexOf('\r', text.length - 2);
  if (cr >= 0) text = text.slice(cr + 1);
  if (!hasAnsi(text)) return decorate(text.replace(OTHER, ''));
  let out = '';
  let st = { fg: null, bg: null, b: false, d: false, i: false, u: false };
  let last = 0;
  const open = () => {
    const cls = [];
    const style = [];
    if (typeof st.fg === 'number') cls.push('f' + st.fg); else if (st.fg) style.push('color:' + st.fg);
    if (typeof st.bg === 'number') cls.push('b' + st.bg); else if (st.bg) style.push('background:' + st.bg);
    if (st.b) cls.push('ab');
    if (st.d) cls.push('ad');
    if (st.i) cls.push('ai');
    if (st.u) cls.push('au');
    if (!cls.length && !style.length) return null;
    return `<span${cls.length ? ` class="${cls.join(' ')}"` : ''}${style.length ? ` style="${style.join(';')}"` : ''}>`;
  };
  const emit = (plain) => {
    if (!plain) return;
    const tag = open();
    const body = decorate(plain.replace(OTHER, ''));
    out += tag ? tag + body + '</span>' : body;
  };
  SGR.lastIndex = 0;
  for (let m; (m = SGR.exec(text));) {
    emit(text.slice(last, m.index));
    last = SGR.lastIndex;
    const codes = m[1] === '' ? [0] : m[1].split(';').map(Number);
    for (let k = 0; k < codes.length; k++) {
      const c = codes[k];
      if (c === 0) st = { fg: null, bg: null, b: false, d: false, i: false, u: false };
      else if (c === 1) st.b = true;
      else if (c === 2) st.d = true;
      else if (c === 3) st.i = true;
      else if (c === 4) st.u = true;
      else if (c === 22) { st.b = false; st.d = false; }
      else if (c === 23) st.i = false;
      else if (c === 24) st.u = false;
      else if (c >= 30 && c <= 37) st.fg = c - 30;
      else if (c >= 90 && c <= 97) st.fg = c - 90 + 8;
      else if (c === 39) st.fg = null;
      else if (c >= 40 && c <= 47) st.bg = c - 40;
      else if (c >= 100 && c <= 107) st.bg = c - 100 + 8;
      else if (c === 49) st.bg = null;
      else if ((c === 38 || c === 48) && codes[k + 1] === 5) {
        const n = codes[k + 2] ?? 0;
        const v = n < 16 ? n : color256(n);
        if (c === 38) st.fg = v; else st.bg = v;
        k += 2;
      } else if ((c === 38 || c === 48) && codes[k + 1] === 2) {
        const [r, g, b] = [codes[k + 2] ?? 0, codes[k + 3] ?? 0, codes[k + 4] ?? 0].map((x) => Math.max(0, Math.min(255, x)));
        if (c === 38) st.fg = `rgb(${r},${g},${b})`; else st.bg = `rgb(${r},${g},${b})`;
        k += 4;
      }
    }
  }
  emit(text.slice(last));
  return out;
}

