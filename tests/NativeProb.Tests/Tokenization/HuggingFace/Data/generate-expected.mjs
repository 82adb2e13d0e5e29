// NativeProb — MIT License.
// Generates the expected ids the Hugging Face compatibility tests compare with, using Hugging Face
// tokenizers itself (npm tokenizers 0.23.2). Run after fetch-tokenizers.sh:
//   node generate-expected.mjs CACHE PATH/TO/sotu.txt [--train-unigram]
// For every tokenizer and every line of sotu.txt and multilingual.json it writes one row of
// expected-NAME.tsv.gz: corpus, line, then for the ids without and with special tokens their count and
// a hash (the first 16 hex digits of SHA-256 over the ids as little-endian int32), then the hash of
// Hugging Face's decode of the plain ids (SHA-256 of its UTF-8), 1 when that decode equals the line,
// and, for the multilingual lines only, the plain ids themselves (to read a failure).
// --train-unigram first trains unigram.json.gz (Hugging Face's Unigram trainer, which is not
// deterministic from run to run, hence trained once and checked in).
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const cache = path.resolve(process.argv[2]);
const sotuPath = process.argv[3];
const require = createRequire(path.join(cache, 'npm', 'package.json'));
const hf = require('tokenizers');
const here = path.dirname(new URL(import.meta.url).pathname);

const splitLines = text => { const l = text.split('\n'); if (l.length && l[l.length - 1] === '') l.pop(); return l; };
const sotu = splitLines(fs.readFileSync(sotuPath, 'utf8'));
const multilingual = JSON.parse(fs.readFileSync(path.join(here, 'multilingual.json'), 'utf8'));

if (process.argv.includes('--train-unigram')) {
  const train = path.join(cache, 'unigram-train.txt');
  fs.writeFileSync(train, multilingual.join('\n') + '\n' + sotu.slice(0, 40).join('\n'));
  const t = new hf.Tokenizer(hf.Unigram.empty());
  t.setNormalizer(hf.nfkcNormalizer());
  t.setPreTokenizer(hf.metaspacePreTokenizer('▁', 'always', true));
  t.setDecoder(hf.metaspaceDecoder('▁', 'always', true));
  t.train([train]);
  // The trainer's model has no unknown piece; one is prepended so that characters it never saw encode.
  const out = path.join(cache, 'unigram.json');
  t.save(out);
  const doc = JSON.parse(fs.readFileSync(out, 'utf8'));
  doc.model.vocab.unshift(['<unk>', 0.0]);
  doc.model.unk_id = 0;
  const u = hf.Tokenizer.fromString(JSON.stringify(doc));
  u.addSpecialTokens(['<s>', '</s>']);
  u.setPostProcessor(hf.templateProcessing('<s> $A </s>', '<s> $A </s> $B:1 </s>:1', [['<s>', u.tokenToId('<s>')], ['</s>', u.tokenToId('</s>')]]));
  u.save(out);
  fs.writeFileSync(path.join(here, 'unigram.json.gz'), zlib.gzipSync(fs.readFileSync(out), { level: 9 }));
  fs.unlinkSync(train);
}

const idHash = ids => {
  const b = Buffer.alloc(ids.length * 4);
  ids.forEach((id, i) => b.writeInt32LE(id, i * 4));
  return crypto.createHash('sha256').update(b).digest('hex').slice(0, 16);
};
const textHash = s => crypto.createHash('sha256').update(Buffer.from(s, 'utf8')).digest('hex').slice(0, 16);

const names = process.argv.slice(4).filter(a => !a.startsWith('--'));
if (names.length === 0) names.push('llama2', 'llama3', 'qwen3', 'gemma3', 'gpt2', 'bert-base-uncased', 'unigram',
  'deepseek_v3', 'gpt4o', 'gptoss', 'gpt35turbo', 'claude', 'gemini');
for (const name of names) {
  const file = name === 'unigram' ? path.join(cache, 'unigram.json') : path.join(cache, `${name}.json`);
  if (name === 'unigram' && !fs.existsSync(file)) fs.writeFileSync(file, zlib.gunzipSync(fs.readFileSync(path.join(here, 'unigram.json.gz'))));
  const t = hf.Tokenizer.fromFile(file);
  const rows = [];
  for (const [corpus, lines] of [['sotu', sotu], ['multilingual', multilingual]]) {
    const plain = await t.encodeBatch(lines, { addSpecialTokens: false });
    const special = await t.encodeBatch(lines, { addSpecialTokens: true });
    for (let i = 0; i < lines.length; i++) {
      const ids = plain[i].getIds();
      const withSpecial = special[i].getIds();
      const decoded = await t.decode(ids, false);
      const row = [corpus, i, ids.length, idHash(ids), withSpecial.length, idHash(withSpecial), textHash(decoded), decoded === lines[i] ? 1 : 0];
      if (corpus === 'multilingual') row.push(ids.join(' '));
      rows.push(row.join('\t'));
    }
  }
  fs.writeFileSync(path.join(here, `expected-${name}.tsv.gz`), zlib.gzipSync(rows.join('\n') + '\n', { level: 9 }));
  console.log(name, rows.length, 'rows');
}
