/**
 * Numbers as catalogues write them (issue #21: prices such as `$1,299.00`, `1.299,00 €`, `""`, `N/A`): a value, or
 * the reason the field has none, which the catalogue reader counts in the manifest.
 *
 * The rule, after NFKC (full-width digits, no-break spaces) and trimming:
 *  - empty, `""`, or a missing-value marker (`N/A`, `NA`, `n.a.`, `NaN`, `null`, `none`, `nil`, `-`, `--`, `—`, `?`)
 *    → `empty`;
 *  - one sign (`+`, `-`, `−`) and one currency (a symbol \p{Sc} with up to 3 letters before it, as `US$` or `R$`,
 *    or a 3-letter code such as `EUR`) may stand before or after the number: `-$5`, `$-5`, `12 EUR`, `1.299,00 €`;
 *  - scientific notation without grouping: `1e3`, `2.5E-2`;
 *  - otherwise digits with grouping and at most one decimal separator. Spaces and apostrophes (`1 299,00`,
 *    `1'299.00`) only ever group. When both `.` and `,` occur, the last one is the decimal separator and must
 *    occur once; the other groups. A separator that occurs twice or more groups (`1,299,000`, `1.299.000`).
 *    A lone `.` is a decimal point (`1.299` = 1.299, as every program writes numbers). A lone `,` groups when
 *    exactly three digits follow it and one to three digits not starting with 0 precede it (`1,299` = 1299,
 *    the en-US thousands), and is a decimal comma otherwise (`1,5`, `12,99`, `0,125`, `1234,567`).
 *    Groups after the first must have exactly three digits (`1,29,9` is refused);
 *  - anything else (`12 kg`, `10-20`, `Infinity`, `(5)`) → `not_a_number`.
 */

export type NumberRejectReason = 'empty' | 'not_a_number';

export type ParsedNumber =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly reason: NumberRejectReason };

const MISSING = new Set(['n/a', 'na', 'n.a.', 'nan', 'null', 'none', 'nil', '-', '--', '—', '?']);
const SIGN_RE = /^[+\-\u2212]/;
const CURRENCY_PREFIX_RE = /^(?:[A-Za-z]{0,3}\p{Sc}|[A-Za-z]{3}(?![A-Za-z]))\s*/u;
const CURRENCY_SUFFIX_RE = /\s*(?:\p{Sc}|(?<![A-Za-z])[A-Za-z]{3})$/u;
const SCIENTIFIC_RE = /^(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+$/;
const GROUPED_RE = /^[\d.,' \u2019]*\d$|^[\d.,' \u2019]*\d[.,]$/;
const GROUP_ONLY_RE = /[' \u2019]/g;

const PLAIN_RE = /^\d{1,15}(?:\.\d{1,15})?$/;

const EMPTY: ParsedNumber = { ok: false, reason: 'empty' };
const NOT_A_NUMBER: ParsedNumber = { ok: false, reason: 'not_a_number' };

/** The value of a catalogue number field (see the module comment for the rule). */
export function parseCatalogueNumber(raw: string | null | undefined): ParsedNumber {
  if (raw === null || raw === undefined) return EMPTY;
  if (typeof raw !== 'string') throw new RangeError(`parseCatalogueNumber: raw must be a string; got ${typeof raw}`);
  // The usual case, `12.99`, which every step below leaves as it is (a million-item catalogue reads one per item).
  if (PLAIN_RE.test(raw)) return { ok: true, value: Number(raw) };
  let s = raw.normalize('NFKC').trim();
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) s = s.slice(1, -1).trim();
  if (s === '' || MISSING.has(s.toLowerCase())) return EMPTY;
  let negative = false;
  let signs = 0;
  const takeSign = (): void => {
    const m = SIGN_RE.exec(s);
    if (m === null) return;
    negative = m[0] !== '+';
    signs++;
    s = s.slice(1).trimStart();
  };
  takeSign();
  s = s.replace(CURRENCY_PREFIX_RE, '');
  takeSign();
  s = s.replace(CURRENCY_SUFFIX_RE, '');
  if (signs > 1 || s === '') return NOT_A_NUMBER;
  const value = SCIENTIFIC_RE.test(s) ? Number(s) : parseGrouped(s);
  if (!Number.isFinite(value)) return NOT_A_NUMBER;
  // -0 would print as 0 yet compare unequal under Object.is: a signed zero is still zero.
  return { ok: true, value: negative && value !== 0 ? -value : value };
}

/** Digits with grouping and one decimal separator; NaN when the separators break the rule. */
function parseGrouped(s: string): number {
  if (!GROUPED_RE.test(s) && !/^[.,]\d+$/.test(s)) return Number.NaN;
  const dots = count(s, '.');
  const commas = count(s, ',');
  let decimal = '';
  if (dots > 0 && commas > 0) {
    decimal = s.lastIndexOf('.') > s.lastIndexOf(',') ? '.' : ',';
    if ((decimal === '.' ? dots : commas) > 1) return Number.NaN;
  } else if (dots === 1) {
    decimal = '.';
  } else if (commas === 1 && !isThousandsComma(s)) {
    decimal = ',';
  }
  const cut = decimal === '' ? s.length : s.lastIndexOf(decimal);
  const whole = s.slice(0, cut);
  const fraction = s.slice(cut + 1);
  const groups = whole.replace(GROUP_ONLY_RE, ',').replaceAll('.', ',').split(',');
  if (groups.length > 1 && !groups.every((g, i) => (i === 0 ? g.length >= 1 && g.length <= 3 : g.length === 3))) {
    return Number.NaN;
  }
  const digits = groups.join('');
  if (digits === '' && fraction === '') return Number.NaN;
  return Number(`${digits === '' ? '0' : digits}.${fraction === '' ? '0' : fraction}`);
}

/** A lone comma with 1-3 leading digits (not starting with 0) and exactly 3 after it: en-US thousands. */
function isThousandsComma(s: string): boolean {
  return /^[1-9]\d{0,2},\d{3}$/.test(s);
}

function count(s: string, ch: string): number {
  let n = 0;
  for (let i = s.indexOf(ch); i >= 0; i = s.indexOf(ch, i + 1)) n++;
  return n;
}
