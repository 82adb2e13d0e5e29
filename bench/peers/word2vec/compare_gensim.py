#!/usr/bin/python3
# NativeProb — MIT License.
"""word2vec side by side: gensim 4 (Debian python3-gensim) and NativeProb, in one run.

Both train on the same pre-tokenized corpus (sotu.txt lower-cased and split at punctuation, the rule of
`nativeprob word2vec train --normalize`), with the same settings and thread count, for several seeds.
Both models are scored by gensim's own evaluators (NativeProb's vectors loaded through
KeyedVectors.load_word2vec_format, which also proves the format) and by `nativeprob word2vec eval`.

Run from the repository root after `dotnet build src/NativeProb.Cli -c Release`:
    /usr/bin/python3 bench/peers/word2vec/compare_gensim.py --seeds 1,2,3 --threads 2 --json out/w2v-gensim.json
"""
import argparse, json, logging, os, re, statistics, subprocess, sys, tempfile, time

import gensim
from gensim.models import Word2Vec, KeyedVectors
from gensim.models.word2vec import LineSentence

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DATA = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))


def normalize(src, dst):
    """Lower-case ASCII letters; tokens are runs of [a-z0-9] and non-ASCII bytes; one line per input line."""
    n = 0
    with open(src, "rb") as f, open(dst, "wb") as g:
        for line in f:
            toks = re.findall(rb"[a-z0-9\x80-\xff]+", line.lower())
            if toks:
                g.write(b" ".join(toks) + b"\n")
                n += len(toks)
    return n


def gensim_eval(kv, questions, pairs):
    acc, _ = kv.evaluate_word_analogies(questions)
    (pearson, _), (spearman, _), oov = kv.evaluate_word_pairs(pairs)
    return {"analogy": float(acc), "spearman": float(spearman), "pearson": float(pearson), "pairs_oov_percent": float(oov)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(DATA, "sotu.txt"))
    ap.add_argument("--questions", default=os.path.join(DATA, "questions-words.txt"))
    ap.add_argument("--pairs", default=os.path.join(DATA, "wordsim353.tsv"))
    ap.add_argument("--nativeprob", default=os.path.join(ROOT, "src", "NativeProb.Cli", "bin", "Release", "net10.0", "nativeprob"))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="sg", choices=["sg", "cbow"])
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--sample", type=float, default=1e-3)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--gensim-input", default="linesentence", choices=["linesentence", "corpus_file", "both"])
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not os.path.exists(a.nativeprob):
        sys.exit(f"{a.nativeprob} not found: run `dotnet build src/NativeProb.Cli -c Release` first")
    work = tempfile.mkdtemp(prefix="w2v-peer-")
    corpus = os.path.join(work, "corpus.txt")
    tokens = normalize(a.corpus, corpus)
    print(f"gensim {gensim.__version__}; corpus {a.corpus}: {tokens} tokens after normalization; work dir {work}", flush=True)
    modes = ["linesentence", "corpus_file"] if a.gensim_input == "both" else [a.gensim_input]
    rows = []
    for seed in [int(s) for s in a.seeds.split(",")]:
        for mode in modes:
            t0 = time.perf_counter()
            m = Word2Vec(vector_size=a.dim, window=a.window, negative=a.negative, sample=a.sample, min_count=a.min_count,
                         sg=1 if a.model == "sg" else 0, workers=a.threads, seed=seed, hs=0)
            if mode == "corpus_file":
                m.build_vocab(corpus_file=corpus)
            else:
                m.build_vocab(LineSentence(corpus))
            t1 = time.perf_counter()
            if mode == "corpus_file":
                m.train(corpus_file=corpus, total_examples=m.corpus_count, total_words=m.corpus_total_words, epochs=a.epochs)
            else:
                m.train(LineSentence(corpus), total_examples=m.corpus_count, epochs=a.epochs)
            t2 = time.perf_counter()
            ev = gensim_eval(m.wv, a.questions, a.pairs)
            gpath = os.path.join(work, f"gensim-{mode}-{seed}.txt")
            m.wv.save_word2vec_format(gpath)
            row = {"system": f"gensim {gensim.__version__} ({mode})", "seed": seed, "vocab": len(m.wv),
                   "vocab_seconds": t1 - t0, "train_seconds": t2 - t1,
                   "words_per_second": tokens * a.epochs / (t2 - t1), **ev, "vectors": gpath}
            rows.append(row)
            print(json.dumps(row), flush=True)
        npv = os.path.join(work, f"nativeprob-{seed}.bin")
        npj = os.path.join(work, f"nativeprob-{seed}.json")
        t0 = time.perf_counter()
        subprocess.run([a.nativeprob, "word2vec", "train", "--corpus", corpus, "--model", a.model, "--dim", str(a.dim),
                        "--window", str(a.window), "--negative", str(a.negative), "--sample", str(a.sample),
                        "--min-count", str(a.min_count), "--epochs", str(a.epochs), "--threads", str(a.threads),
                        "--seed", str(seed), "--output", npv, "--binary", "--json", npj, "--quiet"], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        stats = json.load(open(npj))
        kv = KeyedVectors.load_word2vec_format(npv, binary=True)
        ev = gensim_eval(kv, a.questions, a.pairs)
        npe = os.path.join(work, f"nativeprob-eval-{seed}.json")
        subprocess.run([a.nativeprob, "word2vec", "eval", "--vectors", npv, "--analogy", a.questions, "--similarity", a.pairs,
                        "--json", npe], check=True, stdout=subprocess.DEVNULL)
        own = json.load(open(npe))
        row = {"system": "nativeprob", "seed": seed, "vocab": len(kv), "vocab_seconds": stats["vocab_seconds"],
               "train_seconds": stats["train_seconds"], "process_seconds": wall,
               "words_per_second": tokens * a.epochs / stats["train_seconds"], **ev,
               "own_eval_analogy": own["analogy"]["accuracy"], "own_eval_spearman": own["similarity"]["spearman"], "vectors": npv}
        rows.append(row)
        print(json.dumps(row), flush=True)

    def mean(sys_name, key):
        v = [r[key] for r in rows if r["system"] == sys_name]
        return statistics.mean(v) if v else float("nan")

    systems = sorted({r["system"] for r in rows})
    print()
    print(f"{'system':34} {'wordsim353 rho':>15} {'analogy %':>10} {'words/s':>12} {'train s':>8}")
    summary = {}
    for s in systems:
        summary[s] = {k: mean(s, k) for k in ("spearman", "analogy", "words_per_second", "train_seconds")}
        print(f"{s:34} {summary[s]['spearman']:15.4f} {100 * summary[s]['analogy']:10.2f} {summary[s]['words_per_second']:12,.0f} {summary[s]['train_seconds']:8.2f}")
    ref = f"gensim {gensim.__version__} (linesentence)" if "linesentence" in modes else f"gensim {gensim.__version__} (corpus_file)"
    verdict = {
        "spearman_diff": summary["nativeprob"]["spearman"] - summary[ref]["spearman"],
        "analogy_diff_points": 100 * (summary["nativeprob"]["analogy"] - summary[ref]["analogy"]),
        "speed_ratio": summary["nativeprob"]["words_per_second"] / summary[ref]["words_per_second"],
    }
    verdict = {k: float(v) for k, v in verdict.items()}
    verdict["spearman_within_0.03"] = bool(abs(verdict["spearman_diff"]) <= 0.03)
    verdict["analogy_within_1.5_points"] = bool(abs(verdict["analogy_diff_points"]) <= 1.5)
    verdict["speed_at_least_gensim"] = bool(verdict["speed_ratio"] >= 1.0)
    print(json.dumps(verdict, indent=1))
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        tmp = a.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"settings": vars(a), "tokens": tokens, "rows": rows, "summary": summary, "reference": ref, "verdict": verdict}, f, indent=1)
        os.replace(tmp, a.json)


if __name__ == "__main__":
    main()
