// NativeProb — MIT License.
// Peer runs with Hugging Face tokenizers (npm package `tokenizers` 0.23.2, its Rust library prebuilt).
//   node hf.js train FILE OUT.json          BPE.empty(), whitespace pre-tokenizer, train([FILE]) (30000 entries)
//   node hf.js train-bert FILE OUT.json     the same with the BERT pre-tokenizer (loads in NativeProb)
//   node hf.js encode TOKENIZER.json FILE   prints the ids of each line (to compare with `nativeprob tokenizer encode --ids`)
// Run from a folder where `npm install tokenizers@0.23.2` was done (NODE_PATH may point to its node_modules).
const { Tokenizer, BPE, whitespacePreTokenizer, bertPreTokenizer } = require('tokenizers');
const fs = require('fs');

async function main() {
  const [mode, a, b] = process.argv.slice(2);
  if (mode === 'train' || mode === 'train-bert') {
    const t0 = process.hrtime.bigint();
    const tok = new Tokenizer(BPE.empty());
    tok.setPreTokenizer(mode === 'train' ? whitespacePreTokenizer() : bertPreTokenizer());
    tok.train([a]);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    tok.save(b, true);
    console.log(JSON.stringify({ peer: 'huggingface-tokenizers', mode, train_s: seconds, vocab: tok.getVocabSize(true) }));
  } else if (mode === 'encode') {
    const tok = Tokenizer.fromFile(a);
    const lines = fs.readFileSync(b, 'utf8').split('\n');
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    const out = [];
    for (const line of lines) {
      const e = await tok.encode(line, null, { addSpecialTokens: false });
      out.push(e.getIds().join(' '));
    }
    process.stdout.write(out.join('\n') + '\n');
  } else {
    console.error('usage: node hf.js train|train-bert FILE OUT.json | encode TOKENIZER.json FILE');
    process.exit(2);
  }
}
main().catch(e => { console.error(e); process.exit(1); });
