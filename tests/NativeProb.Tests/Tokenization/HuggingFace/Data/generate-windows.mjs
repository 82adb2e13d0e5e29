// NativeProb — MIT License.
// Writes expected-windows.tsv.gz, the overflowing windows of expected-pairs.json.gz (generate-pairs.mjs: Hugging Face
// tokenizers 0.23.2's encode(text, pair) and encode(text)) as tab-separated rows for the C ABI test
// (native/tests/test_tokenizer.c, np_tokenizer_encode_windows). Run after generate-pairs.mjs:
//   node generate-windows.mjs
// It reads nothing but expected-pairs.json.gz. A first row "#lines" holds the lines as a JSON array; then, for the
// cases that use the fetched file as it is and the settings with truncation, one row per pair and per single text:
// name, setting, the arguments of np_tokenizer_set_truncation (enable max_length stride strategy direction) and
// np_tokenizer_set_padding (enable strategy length pad_to_multiple_of pad_id pad_type_id direction), the first
// line's index, the second's (-1 for a single text), add_special_tokens, the number of windows (the encoding and
// its overflowing ones), then per window its ids, type ids, attention mask and special tokens mask
// (space-separated, four fields a window); or "!" after add_special_tokens where Hugging Face failed or panicked.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const here = path.dirname(new URL(import.meta.url).pathname);
const data = JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(here, 'expected-pairs.json.gz'))).toString('utf8'));
const strategies = { LongestFirst: 0, OnlyFirst: 1, OnlySecond: 2 };
const fields = e => [e.ids, e.types, e.mask, e.special].map(v => v.join(' '));
const rows = [`#lines\t${JSON.stringify(data.lines)}`];
for (const c of data.cases.filter(c => c.postProcessor === null)) {
  for (const r of c.results.filter(r => r.truncation !== null)) {
    const t = r.truncation, p = r.padding;
    const targs = [1, t.max_length, t.stride, strategies[t.strategy], t.direction === 'Left' ? 1 : 0];
    const pargs = p ? [1, p.strategy.Fixed === undefined ? 0 : 1, p.strategy.Fixed ?? 0, p.pad_to_multiple_of ?? 0, p.pad_id, p.pad_type_id, p.direction === 'Left' ? 1 : 0]
      : [0, 0, 0, 0, 0, 0, 0];
    const row = (a, b, special, e) => {
      const windows = e.ids ? [e, ...e.overflowing] : null;
      rows.push([c.name, r.setting, targs.join(' '), pargs.join(' '), a, b, special,
        ...(windows ? [windows.length, ...windows.flatMap(fields)] : ['!'])].join('\t'));
    };
    r.pairs.forEach((e, i) => row(data.pairs[i >> 1][0], data.pairs[i >> 1][1], i & 1, e));
    r.singles.forEach((e, i) => row(i >> 1, -1, i & 1, e));
  }
}
fs.writeFileSync(path.join(here, 'expected-windows.tsv.gz'), zlib.gzipSync(rows.join('\n') + '\n', { level: 9 }));
