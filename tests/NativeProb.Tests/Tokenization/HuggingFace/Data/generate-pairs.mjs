// NativeProb — MIT License.
// Generates expected-pairs.json.gz (and, for the C ABI test, expected-pairs.tsv.gz), what Hugging Face tokenizers (npm tokenizers 0.23.2) makes of sentence
// pairs and of overflowing windows. Run after fetch-tokenizers.sh:
//   node generate-pairs.mjs CACHE PATH/TO/sotu.txt
// then generate-windows.mjs derives expected-windows.tsv.gz (the overflowing windows, for the C ABI test) from its output.
// Each case is a fetched tokenizer.json with, where "postProcessor" is not null, its post_processor replaced
// (BertProcessing, RobertaProcessing, and Llama 3's own Sequence [ByteLevel, TemplateProcessing]); the tests
// make the same replacement. For each setting (written as Hugging Face saves it in tokenizer.json) it
// records, without and with special tokens:
//   pairs:   encode(first, second) of each pair below: ids, type ids, attention mask, special tokens mask,
//            tokens and the overflowing encodings' ids, type ids, attention and special tokens masks
//            (or the error Hugging Face gave, or {panic: true} where its Rust code panicked);
//   singles: with no truncation or with a stride, encode(line) of every line with the same fields;
// tokens only under padding.
//   batches: under padding, the pairs in groups of four with special tokens, padded to the group's
//            longest: ids, type ids, attention and special tokens masks.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { applySettings } from './hf-settings.mjs';
import { spawnSync } from 'node:child_process';

const cache = path.resolve(process.argv[2]);
const require = createRequire(path.join(cache, 'npm', 'package.json'));
const hf = require('tokenizers');
const here = path.dirname(new URL(import.meta.url).pathname);

const splitLines = text => { const l = text.split('\n'); if (l.length && l[l.length - 1] === '') l.pop(); return l; };
// The first sotu.txt lines, cut to 300 characters to keep the overflowing windows few; the lines are written
// to the output, which the tests read them from.
const sotu = splitLines(fs.readFileSync(process.argv[3], 'utf8')).slice(0, 4).map(l => l.slice(0, 300));
const multilingual = JSON.parse(fs.readFileSync(path.join(here, 'multilingual.json'), 'utf8'));
const lines = [...multilingual, ...sotu];
// Pairs of line indices: neighbours, far apart, and an empty line on either side.
const pairs = [];
for (let i = 0; i < lines.length; i += 2) pairs.push([i, (i * 7 + 3) % lines.length]);
pairs.push([1, 2], [2, 1], [1, 1], [lines.length - 1, lines.length - 2]);

const bos3 = '<|begin_of_text|>';
const cases = [
  ['bert-base-uncased', 'template', null],
  ['bert-base-uncased', 'bert-processing', { type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] }],
  ['gpt2', 'byte-level', null],
  ['gpt2', 'roberta-processing', { type: 'RobertaProcessing', sep: ['<|endoftext|>', 50256], cls: ['<|endoftext|>', 50256], trim_offsets: true, add_prefix_space: false }],
  ['llama3', 'sequence-template', { type: 'Sequence', processors: [
    { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    { type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos3, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos3, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos3, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos3]: { id: bos3, ids: [128000], tokens: [bos3] } } }] }],
  ['gemma3', 'template', null],
  ['qwen3', 'byte-level', null],
];

// [name, truncation (setTruncation's arguments) or null, padding (setPadding's options) or null]
const settings = [
  ['none', null, null],
  ['longest-14', [14, {}], null],
  ['longest-left-9', [9, { direction: 'left' }], null],
  ['only-first-12', [12, { strategy: 'OnlyFirst' }], null],
  ['only-second-12', [12, { strategy: 'OnlySecond' }], null],
  ['stride-16-3', [16, { stride: 3 }], null],
  ['stride-left-11-2', [11, { stride: 2, direction: 'left' }], null],
  ['only-second-stride', [14, { strategy: 'OnlySecond', stride: 2 }], null],
  ['pad-longest', null, { padToMultipleOf: 8, padTypeId: 2 }],
  ['both', [20, { stride: 1 }], { maxLength: 24, direction: 'left', padId: 5, padTypeId: 1, padToken: '<pad>' }],
];

const fields = e => ({ ids: e.getIds(), types: e.getTypeIds(), mask: e.getAttentionMask(), special: e.getSpecialTokensMask() });
const full = e => ({ ...fields(e), tokens: e.getTokens(), overflowing: e.getOverflowing().map(fields) });
// Tokens only where padding adds some (elsewhere they follow from the ids, which the other tests check).
const slim = (r, padding) => { if (!padding) delete r.tokens; return r; };
const attempt = async f => { try { return full(await f()); } catch (err) { return { error: String(err.message ?? err) }; } };

// Encoding.truncate asserts (a Rust panic that aborts node) when a pair's truncation leaves a sequence no
// longer than the stride. Pairs under a stride are therefore encoded in a child process, which prints one
// result a line; when it dies, the pair it was on is recorded as {panic: true} and a new child goes on
// from the next one.
if (process.argv[4] === '--child') {
  const job = JSON.parse(fs.readFileSync(0, 'utf8'));
  const t = hf.Tokenizer.fromFile(job.file);
  for (const [a, b, addSpecialTokens] of job.items)
    process.stdout.write(JSON.stringify(await attempt(() => t.encode(lines[a], lines[b], { addSpecialTokens }))) + '\n');
  process.exit(0);
}
const encodePairsInChildren = (file, items) => {
  const results = [];
  while (results.length < items.length) {
    const child = spawnSync(process.execPath, [process.argv[1], process.argv[2], process.argv[3], '--child'],
      { input: JSON.stringify({ file, items: items.slice(results.length) }), maxBuffer: 1 << 28, encoding: 'utf8' });
    const done = child.stdout.split('\n').filter(l => l.length).map(l => JSON.parse(l));
    results.push(...done);
    if (child.status !== 0) results.push({ panic: true });
  }
  return results;
};

const out = { lines, pairs, cases: [] };
const file = path.join(os.tmpdir(), `np-pairs-${process.pid}.json`);
for (const [name, variant, postProcessor] of cases) {
  const doc = JSON.parse(fs.readFileSync(path.join(cache, `${name}.json`), 'utf8'));
  if (postProcessor) doc.post_processor = postProcessor;
  fs.writeFileSync(file, JSON.stringify(doc));
  const t = hf.Tokenizer.fromFile(file);
  const results = [];
  for (const [setting, truncation, padding] of settings) {
    const saved = applySettings(t, truncation, padding, file);
    const pairResults = [], singles = [], batches = [];
    if (truncation?.[1].stride)
      pairResults.push(...encodePairsInChildren(file, pairs.flatMap(([a, b]) => [[a, b, false], [a, b, true]])));
    else
      for (const [a, b] of pairs)
        for (const addSpecialTokens of [false, true]) pairResults.push(await attempt(() => t.encode(lines[a], lines[b], { addSpecialTokens })));
    if (!truncation || truncation[1].stride)
      for (const line of lines)
        for (const addSpecialTokens of [false, true]) singles.push(await attempt(() => t.encode(line, null, { addSpecialTokens })));
    for (const r of [...pairResults, ...singles]) slim(r, padding);
    if (padding) {
      // The npm binding's encodeBatch takes single texts only: each pair is encoded, then padded by
      // Hugging Face's Encoding.pad to the group's longest (rounded up as padding says), which is what
      // encode_batch's padding does.
      const p = saved.padding;
      for (let i = 0; i < pairs.length; i += 4) {
        const b = [];
        for (const [x, y] of pairs.slice(i, i + 4)) b.push(await t.encode(lines[x], lines[y], { addSpecialTokens: true }));
        let target = p.strategy.Fixed ?? Math.max(...b.map(e => e.getLength()));
        if (p.pad_to_multiple_of && target % p.pad_to_multiple_of) target += p.pad_to_multiple_of - target % p.pad_to_multiple_of;
        for (const e of b) e.pad(target, { padId: p.pad_id, padTypeId: p.pad_type_id, padToken: p.pad_token, direction: p.direction.toLowerCase() });
        batches.push(b.map(fields));
      }
    }
    results.push({ setting, truncation: saved.truncation, padding: saved.padding, pairs: pairResults, singles, batches });
  }
  out.cases.push({ name, variant, postProcessor, results });
  console.log(name, variant);
}
fs.unlinkSync(file);
fs.writeFileSync(path.join(here, 'expected-pairs.json.gz'), zlib.gzipSync(JSON.stringify(out), { level: 9 }));

// The same pair results as tab-separated rows for the C ABI test (native/tests/test_tokenizer.c), for the
// cases that use the fetched file as it is, after a first row "#lines" holding the lines as a JSON array: name, setting, the arguments of np_tokenizer_set_truncation
// (enable max_length stride strategy direction) and np_tokenizer_set_padding (enable strategy length
// pad_to_multiple_of pad_id pad_type_id direction), the pair's line indices, add_special_tokens, then ids,
// type ids, attention mask and special tokens mask (space-separated), or "!" where Hugging Face failed or panicked.
const strategies = { LongestFirst: 0, OnlyFirst: 1, OnlySecond: 2 };
const rows = [`#lines\t${JSON.stringify(lines)}`];
for (const c of out.cases.filter(c => c.postProcessor === null)) {
  for (const r of c.results) {
    const t = r.truncation, p = r.padding;
    const targs = t ? [1, t.max_length, t.stride, strategies[t.strategy], t.direction === 'Left' ? 1 : 0] : [0, 0, 0, 0, 0];
    const pargs = p ? [1, p.strategy.Fixed === undefined ? 0 : 1, p.strategy.Fixed ?? 0, p.pad_to_multiple_of ?? 0, p.pad_id, p.pad_type_id, p.direction === 'Left' ? 1 : 0]
      : [0, 0, 0, 0, 0, 0, 0];
    r.pairs.forEach((e, i) => {
      const [a, b] = pairs[i >> 1];
      const values = e.ids ? [e.ids, e.types, e.mask, e.special].map(v => v.join(' ')) : ['!', '!', '!', '!'];
      rows.push([c.name, r.setting, targs.join(' '), pargs.join(' '), a, b, i & 1, ...values].join('\t'));
    });
  }
}
fs.writeFileSync(path.join(here, 'expected-pairs.tsv.gz'), zlib.gzipSync(rows.join('\n') + '\n', { level: 9 }));
