// NativeProb — MIT License.
// Llama 3 encoding of a corpus (one text per line) with Hugging Face tokenizers (npm tokenizers):
// one call at a time (encode, awaited in turn) and all threads (encodeBatch). Median of interleaved
// passes after a warm-up; prints one JSON object with the tokens and a hash of all ids (to compare).
// Usage: node llama3-hf.js TOKENIZER_JSON CORPUS [PASSES]   (NODE_PATH must hold tokenizers)
const fs = require('fs');
const crypto = require('crypto');
const { Tokenizer } = require('tokenizers');
const [jsonPath, corpus, passesArg] = process.argv.slice(2);
const lines = fs.readFileSync(corpus, 'utf8').split('\n').filter(l => l.length > 0);
const passes = Number(passesArg || 5);
const t = Tokenizer.fromFile(jsonPath);
const median = v => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
(async () => {
  const warm = await t.encodeBatch(lines, { addSpecialTokens: false });
  const hash = crypto.createHash('sha256');
  let tokens = 0;
  for (const e of warm) { const ids = e.getIds(); tokens += ids.length; hash.update(Buffer.from(Int32Array.from(ids).buffer)); }
  const single = [], batch = [];
  for (let p = 0; p < passes; p++) {
    let s = process.hrtime.bigint();
    for (const l of lines) await t.encode(l, null, { addSpecialTokens: false });
    single.push(Number(process.hrtime.bigint() - s) / 1e9);
    s = process.hrtime.bigint();
    await t.encodeBatch(lines, { addSpecialTokens: false });
    batch.push(Number(process.hrtime.bigint() - s) / 1e9);
  }
  console.log(JSON.stringify({ tokens, ids_sha256: hash.digest('hex'), hf_1_s: median(single), hf_all_s: median(batch), hf_1_passes: single, hf_all_passes: batch }));
})();
