// NativeProb — MIT License.
// Generates expected-truncation-padding.json.gz, what Hugging Face tokenizers (npm tokenizers 0.23.2) makes
// of the multilingual lines and the first sotu.txt lines under truncation and padding settings. Run after
// fetch-tokenizers.sh:
//   node generate-truncation-padding.mjs CACHE PATH/TO/sotu.txt
// For each tokenizer and each setting (the setting is written as Hugging Face saves it in tokenizer.json,
// so the tests read it the way the loader does) it records, for every line without and with special
// tokens, the ids of encode (and, under padding, its attention mask and tokens), or the error Hugging Face gave; and the ids of
// encodeBatch (with special tokens) over the multilingual lines in groups of five, for the settings under
// which every line encodes.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { applySettings } from './hf-settings.mjs';

const cache = path.resolve(process.argv[2]);
const require = createRequire(path.join(cache, 'npm', 'package.json'));
const hf = require('tokenizers');
const here = path.dirname(new URL(import.meta.url).pathname);

const splitLines = text => { const l = text.split('\n'); if (l.length && l[l.length - 1] === '') l.pop(); return l; };
const sotu = splitLines(fs.readFileSync(process.argv[3], 'utf8')).slice(0, 8);
const multilingual = JSON.parse(fs.readFileSync(path.join(here, 'multilingual.json'), 'utf8'));

// [name, truncation (setTruncation's arguments) or null, padding (setPadding's options) or null, sotu too]
const settings = [
  ['right-8', [8, {}], null, true],
  ['left-8', [8, { direction: 'left' }], null, true],
  ['only-first-stride', [12, { stride: 3, strategy: 'OnlyFirst' }], null, true],
  ['only-second', [6, { strategy: 'OnlySecond' }], null, false],
  ['max-2', [2, {}], null, false],
  ['zero', [0, {}], null, false],
  ['batch-longest-8', null, { padToMultipleOf: 8 }, false],
  ['fixed-left', null, { maxLength: 40, direction: 'left', padId: 3, padTypeId: 1, padToken: '<pad>' }, false],
  ['both', [16, { direction: 'left', stride: 2 }], { maxLength: 20, padToMultipleOf: 12 }, true],
];

const out = {};
const saved = path.join(os.tmpdir(), `np-truncation-padding-${process.pid}.json`);
for (const name of ['bert-base-uncased', 'llama3', 'gemma3', 'gpt2']) {
  const t = hf.Tokenizer.fromFile(path.join(cache, `${name}.json`));
  out[name] = [];
  for (const [setting, truncation, padding, withSotu] of settings) {
    const doc = applySettings(t, truncation, padding, saved);
    const lines = withSotu ? [...multilingual, ...sotu] : multilingual;
    const single = [];
    for (const line of lines) {
      for (const addSpecialTokens of [false, true]) {
        try {
          const e = await t.encode(line, null, { addSpecialTokens });
          single.push(padding ? { ids: e.getIds(), mask: e.getAttentionMask(), tokens: e.getTokens() } : { ids: e.getIds() });
        } catch (err) {
          single.push({ error: String(err.message ?? err) });
        }
      }
    }
    const batches = [];
    if (!['only-second', 'zero'].includes(setting)) {
      for (let i = 0; i < multilingual.length; i += 5) {
        const b = await t.encodeBatch(multilingual.slice(i, i + 5), { addSpecialTokens: true });
        batches.push(b.map(e => e.getIds()));
      }
    }
    out[name].push({ setting, truncation: doc.truncation, padding: doc.padding, withSotu, single, batches });
  }
  console.log(name);
}
fs.unlinkSync(saved);
fs.writeFileSync(path.join(here, 'expected-truncation-padding.json.gz'), zlib.gzipSync(JSON.stringify(out), { level: 9 }));
