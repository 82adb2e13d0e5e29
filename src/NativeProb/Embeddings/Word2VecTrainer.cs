// NativeProb — MIT License.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using NativeProb.Cpu;

namespace NativeProb.Embeddings;

/// <summary>
/// Trains word2vec (skip-gram or CBOW with negative sampling) over a streamed corpus with Hogwild
/// threads: each thread reads its own byte range of the file every epoch and updates the shared
/// matrices without locks.
/// </summary>
/// <remarks>
/// Per kept centre word w at position p, a window b is drawn uniformly from 1..c. Skip-gram: for each
/// context word u within b of p, with input row <c>x = W_in[u]</c>, targets t = w (label 1) and k noise
/// words (label 0): <c>g = alpha (label - sigma(x . W_out[t]))</c>, <c>W_out[t] += g x</c>, and
/// <c>W_in[u] += sum of g W_out[t]</c>. CBOW uses the mean of the context rows as x and adds the summed
/// gradient to every context row. The learning rate falls linearly from alpha to min-alpha over all
/// epochs. With one thread, the result depends only on the corpus, the options and the seed.
/// </remarks>
public static class Word2VecTrainer
{
    /// <summary>Builds the vocabulary from <paramref name="corpus"/> and trains.</summary>
    /// <param name="corpus">The corpus.</param>
    /// <param name="options">The settings.</param>
    /// <param name="progress">Called from the training call's thread a few times a second; may be null.</param>
    /// <param name="cancellationToken">Stops training early (an <see cref="OperationCanceledException"/> is thrown).</param>
    /// <returns>The trained model.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="Errors.NpException">Too few words occur min-count times.</exception>
    public static Word2VecModel Train(TextCorpus corpus, Word2VecOptions options, Action<Word2VecProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Train(corpus, Vocabulary.Build(corpus, options.MinCount), options, progress, cancellationToken);
    }

    /// <summary>Trains with a vocabulary built beforehand (for example shared by many trainings).</summary>
    /// <param name="corpus">The corpus.</param>
    /// <param name="vocabulary">The vocabulary; its min-count is used, not the option's.</param>
    /// <param name="options">The settings.</param>
    /// <param name="progress">Called from the training call's thread a few times a second; may be null.</param>
    /// <param name="cancellationToken">Stops training early (an <see cref="OperationCanceledException"/> is thrown).</param>
    /// <returns>The trained model.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public static Word2VecModel Train(TextCorpus corpus, Vocabulary vocabulary, Word2VecOptions options, Action<Word2VecProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var run = new TrainingRun(corpus, vocabulary, options);
        return run.Execute(progress, cancellationToken);
    }

    private sealed unsafe class TrainingRun
    {
        private const int SyncWords = 10000;
        private const int SlotPad = 16; // keeps each thread's counters on its own cache line

        private readonly TextCorpus _corpus;
        private readonly Vocabulary _vocab;
        private readonly Word2VecOptions _o;
        private readonly NoiseDistribution _noise;
        private readonly uint[] _keep;
        private readonly AlignedMatrix _input, _output;
        private readonly int _stride;
        private readonly long _totalWork;
        private readonly double _startAlpha;
        private long _wordsDone, _rawTokens;
        private readonly double[] _lossSum;
        private readonly long[] _pairs;
        private readonly int[] _epoch;
        private volatile bool _stop;
        private SharedStream? _stream;
        private Exception? _failure;

        public TrainingRun(TextCorpus corpus, Vocabulary vocab, Word2VecOptions o)
        {
            _corpus = corpus;
            _vocab = vocab;
            _o = o;
            _noise = new NoiseDistribution(vocab, o.NoisePower);
            _stride = RowKernels.Stride(o.Dimension, o.Path);
            _input = new AlignedMatrix(vocab.Count, o.Dimension, _stride);
            _output = new AlignedMatrix(vocab.Count, o.Dimension, _stride);
            _totalWork = Math.Max(1, vocab.TrainWords * o.Epochs);
            _startAlpha = o.StartAlpha;
            _keep = new uint[vocab.Count];
            double total = vocab.TrainWords;
            for (int i = 0; i < vocab.Count; i++)
            {
                double keep = 1.0;
                if (o.Sample > 0)
                {
                    double f = vocab.Frequency(i) / total;
                    keep = (Math.Sqrt(f / o.Sample) + 1) * o.Sample / f;
                }
                _keep[i] = keep >= 1.0 ? uint.MaxValue : (uint)(keep * 4294967296.0);
            }
            _lossSum = new double[o.Threads * SlotPad];
            _pairs = new long[o.Threads * SlotPad];
            _epoch = new int[o.Threads * SlotPad];
            var rng = new FastRandom((ulong)(uint)o.Seed * 0x9E3779B97F4A7C15UL + 17);
            float scale = (float)(2 * o.InitialRange / o.Dimension);
            for (int r = 0; r < vocab.Count; r++)
            {
                float* row = _input.Row(r);
                for (int j = 0; j < o.Dimension; j++) row[j] = (rng.NextFloat() - 0.5f) * scale;
            }
        }

        public Word2VecModel Execute(Action<Word2VecProgress>? progress, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            // A token cancelled while training stops the workers at their next batch.
            using var registration = ct.Register(() => _stop = true);
            var clock = Stopwatch.StartNew();
            var ranges = _corpus.Partition(_o.Threads);
            using var stream = _o.Scheduling == CorpusScheduling.SharedStream ? new SharedStream(_corpus, _vocab, _o.Epochs) : null;
            _stream = stream;
            var threads = new Thread[_o.Threads];
            for (int t = 0; t < threads.Length; t++)
            {
                int id = t;
                threads[t] = new Thread(() => RunWorker(id, ranges[id]), 4 << 20) { IsBackground = true, Name = $"word2vec-{t}" };
                threads[t].Start();
            }
            double lastLoss = double.NaN, lastSum = 0;
            long lastPairs = 0;
            foreach (Thread th in threads)
            {
                while (!th.Join(200))
                {
                    if (ct.IsCancellationRequested) _stop = true;
                    if (progress is not null)
                    {
                        (double sum, long pairs) = LossTotals();
                        if (pairs > lastPairs) lastLoss = (sum - lastSum) / (pairs - lastPairs);
                        lastSum = sum; lastPairs = pairs;
                        progress(Snapshot(clock.Elapsed.TotalSeconds, lastLoss));
                    }
                }
            }
            clock.Stop();
            if (_failure is not null) throw new InvalidOperationException("word2vec training failed: " + _failure.Message, _failure);
            ct.ThrowIfCancellationRequested();
            (double s, long p) = LossTotals();
            double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            var stats = new Word2VecTrainingStats(seconds, Interlocked.Read(ref _rawTokens), Interlocked.Read(ref _rawTokens) / seconds, p, p > 0 ? s / p : double.NaN);
            if (progress is not null) progress(new Word2VecProgress(_o.Epochs, 1.0, stats.WordsPerSecond, p > lastPairs ? (s - lastSum) / (p - lastPairs) : lastLoss, _o.MinAlpha));
            return new Word2VecModel(_vocab, _o, _input, _output, _noise, stats);
        }

        private (double, long) LossTotals()
        {
            double s = 0; long p = 0;
            for (int t = 0; t < _o.Threads; t++) { s += Volatile.Read(ref _lossSum[t * SlotPad]); p += Volatile.Read(ref _pairs[t * SlotPad]); }
            return (s, p);
        }

        private Word2VecProgress Snapshot(double seconds, double loss)
        {
            long done = Interlocked.Read(ref _wordsDone);
            int epoch = int.MaxValue;
            for (int t = 0; t < _o.Threads; t++) epoch = Math.Min(epoch, Volatile.Read(ref _epoch[t * SlotPad]));
            return new Word2VecProgress(Math.Clamp(epoch, 1, _o.Epochs), Math.Min(1.0, (double)done / _totalWork),
                Interlocked.Read(ref _rawTokens) / Math.Max(seconds, 1e-9), loss, AlphaAt(done));
        }

        /// <summary>
        /// Adds a thread's counts since its last report (words, raw tokens, loss, training pairs) to the shared totals,
        /// resets them, and returns the learning rate for the words done so far.
        /// </summary>
        private float Publish(int t, ref long words, ref long raw, ref double loss, ref long pairs)
        {
            long done = Interlocked.Add(ref _wordsDone, words);
            Interlocked.Add(ref _rawTokens, raw);
            Volatile.Write(ref _lossSum[t * SlotPad], _lossSum[t * SlotPad] + loss);
            Volatile.Write(ref _pairs[t * SlotPad], _pairs[t * SlotPad] + pairs);
            words = raw = pairs = 0;
            loss = 0;
            return (float)AlphaAt(done);
        }

        private double AlphaAt(long done) =>
            Math.Max(_o.MinAlpha, _startAlpha - (_startAlpha - _o.MinAlpha) * done / _totalWork);

        private void RunWorker(int t, (long Start, long End) range)
        {
            try
            {
                switch (_o.Path)
                {
                    case CpuPath.V512: Worker<V512RowKernel>(t, range); break;
                    case CpuPath.V256: Worker<V256RowKernel>(t, range); break;
                    case CpuPath.V128: Worker<V128RowKernel>(t, range); break;
                    default: Worker<ScalarRowKernel>(t, range); break;
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
                _stop = true;
            }
        }

        private void Worker<TK>(int t, (long Start, long End) range) where TK : struct, IRowKernel
        {
            var rng = new FastRandom(((ulong)(uint)_o.Seed << 20) ^ (ulong)(t * 7919 + 1));
            var sentence = new int[Word2VecOptions.MaxSentenceLength];
            var scratch = new AlignedMatrix(4, _stride, _stride);
            float* neu1 = scratch.Row(0), neu1e = scratch.Row(1);
            // Targets and their dot products for one step (1 + negative <= 101 entries).
            var stepScratch = new AlignedMatrix(2, 128, 128);
            int* targets = (int*)stepScratch.Row(0);
            float* dots = stepScratch.Row(1);
            bool cbow = _o.Architecture == Word2VecArchitecture.Cbow;
            long localWords = 0, localRaw = 0, localPairs = 0;
            double localLoss = 0;
            float alpha = (float)_startAlpha;
            uint[] keep = _keep;
            if (_stream is not null)
            {
                // Shared stream: pull consecutive batches (in-vocabulary ids, -1 at line breaks) in corpus order.
                var batch = new int[2 * SharedStream.BatchTokens + 1]; // ids plus at most one line-break marker each
                while (!_stop && _stream.Next(batch, out int count, out int raw, out int epoch))
                {
                    Volatile.Write(ref _epoch[t * SlotPad], epoch);
                    localRaw += raw;
                    int len = 0;
                    for (int i = 0; i < count; i++)
                    {
                        int id = batch[i];
                        if (id < 0)
                        {
                            if (len > 0) localLoss += TrainSentence<TK>(sentence, len, alpha, ref rng, neu1, neu1e, targets, dots, cbow, ref localPairs);
                            len = 0;
                            continue;
                        }
                        localWords++;
                        uint k = keep[id];
                        if (k == uint.MaxValue || rng.NextUInt32() < k)
                        {
                            sentence[len++] = id;
                            if (len == sentence.Length)
                            {
                                localLoss += TrainSentence<TK>(sentence, len, alpha, ref rng, neu1, neu1e, targets, dots, cbow, ref localPairs);
                                len = 0;
                            }
                        }
                    }
                    if (len > 0) localLoss += TrainSentence<TK>(sentence, len, alpha, ref rng, neu1, neu1e, targets, dots, cbow, ref localPairs);
                    alpha = Publish(t, ref localWords, ref localRaw, ref localLoss, ref localPairs);
                }
            }
            else
            {
                TrainByteRange<TK>(t, range, sentence, neu1, neu1e, targets, dots, cbow, ref rng, ref alpha, ref localWords, ref localRaw, ref localLoss, ref localPairs);
            }
            Interlocked.Add(ref _wordsDone, localWords);
            Interlocked.Add(ref _rawTokens, localRaw);
            Volatile.Write(ref _lossSum[t * SlotPad], _lossSum[t * SlotPad] + localLoss);
            Volatile.Write(ref _pairs[t * SlotPad], _pairs[t * SlotPad] + localPairs);
            // Only raw pointers into the scratch matrices are used above: without these the GC may
            // collect their pinned arrays mid-training (seen as an intermittent access violation).
            GC.KeepAlive(scratch);
            GC.KeepAlive(stepScratch);
        }

        private void TrainByteRange<TK>(int t, (long Start, long End) range, int[] sentence, float* neu1, float* neu1e, int* targets, float* dots, bool cbow,
            ref FastRandom rng, ref float alpha, ref long localWords, ref long localRaw, ref double localLoss, ref long localPairs) where TK : struct, IRowKernel
        {
            uint[] keep = _keep;
            for (int epoch = 1; epoch <= _o.Epochs && !_stop; epoch++)
            {
                Volatile.Write(ref _epoch[t * SlotPad], epoch);
                using CorpusReader reader = _corpus.OpenRange(range.Start, range.End);
                byte[] token = reader.Token;
                int len = 0;
                while (true)
                {
                    int n = reader.Next(out bool lineBreak);
                    if ((lineBreak || n < 0) && len > 0)
                    {
                        double l = cbow ? TrainCbow<TK>(sentence, len, alpha, ref rng, neu1, neu1e, targets, dots, ref localPairs)
                                       : TrainSkipGram<TK>(sentence, len, alpha, ref rng, neu1e, targets, dots, ref localPairs);
                        localLoss += l;
                        len = 0;
                    }
                    if (n < 0) break;
                    localRaw++;
                    int id = _vocab.Find(new ReadOnlySpan<byte>(token, 0, n));
                    if (id < 0) continue;
                    localWords++;
                    uint k = keep[id];
                    // Sub-sampling: keep with probability k / 2^32 (no random draw for words always kept).
                    if (k == uint.MaxValue || rng.NextUInt32() < k)
                    {
                        sentence[len++] = id;
                        if (len == sentence.Length)
                        {
                            localLoss += cbow ? TrainCbow<TK>(sentence, len, alpha, ref rng, neu1, neu1e, targets, dots, ref localPairs)
                                              : TrainSkipGram<TK>(sentence, len, alpha, ref rng, neu1e, targets, dots, ref localPairs);
                            len = 0;
                        }
                    }
                    if (localWords >= SyncWords)
                    {
                        alpha = Publish(t, ref localWords, ref localRaw, ref localLoss, ref localPairs);
                        if (_stop) break;
                    }
                }
            }
        }

        private double TrainSentence<TK>(int[] sentence, int len, float alpha, ref FastRandom rng, float* neu1, float* neu1e, int* targets, float* dots, bool cbow, ref long pairs) where TK : struct, IRowKernel =>
            cbow ? TrainCbow<TK>(sentence, len, alpha, ref rng, neu1, neu1e, targets, dots, ref pairs)
                 : TrainSkipGram<TK>(sentence, len, alpha, ref rng, neu1e, targets, dots, ref pairs);

        /// <summary>
        /// One negative-sampling update of input row <paramref name="x"/> against the centre word and
        /// the option's number of noise words: every target's dot product is computed first, then the
        /// updates applied. The dots are independent, so their cache misses on random output rows overlap;
        /// the C tool interleaves them, which differs only when a noise word repeats within one step.
        /// Returns the step's loss; gradients saturate outside the sigmoid table's range.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private double NegativeSamplingStep<TK>(float* x, int word, float alpha, ref FastRandom rng, float* acc, int* targets, float* dots) where TK : struct, IRowKernel
        {
            int stride = _stride, negative = _o.Negative;
            float* output = _output.Data;
            NoiseDistribution noise = _noise;
            int nt = 1;
            targets[0] = word;
            for (int d = 0; d < negative; d++)
            {
                int t = noise.Sample(ref rng);
                if (t != word) targets[nt++] = t;
            }
            for (int k = 0; k < nt; k++) dots[k] = TK.Dot(x, output + (long)targets[k] * stride, stride);
            new Span<float>(acc, stride).Clear();
            double loss = 0;
            bool skipSaturated = _o.SkipSaturatedPairs;
            for (int k = 0; k < nt; k++)
            {
                float f = dots[k], label = k == 0 ? 1f : 0f, g, l;
                if (f >= SigmoidTable.MaxArgument)
                {
                    g = (label - 1f) * alpha; l = k == 0 ? 0f : f;
                    if (skipSaturated) { loss += l; continue; }
                }
                else if (f <= -SigmoidTable.MaxArgument)
                {
                    g = label * alpha; l = k == 0 ? -f : 0f;
                    if (skipSaturated) { loss += l; continue; }
                }
                else
                {
                    int i = (int)((f + SigmoidTable.MaxArgument) * SigmoidTable.IndexScale);
                    g = (label - SigmoidTable.SigmoidPtr[i]) * alpha;
                    // -log sigma(-f) = -log sigma(f) + f
                    l = k == 0 ? SigmoidTable.NegLogSigmoidPtr[i] : SigmoidTable.NegLogSigmoidPtr[i] + f;
                }
                loss += l;
                TK.PairUpdate(x, output + (long)targets[k] * stride, acc, g, stride);
            }
            return loss;
        }

        /// <summary>The context of position pos: a window shrunk by a random 0 .. window - 1 (word2vec's dynamic window), clipped to the sentence.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static (int Lo, int Hi) Window(int pos, int len, int window, ref FastRandom rng)
        {
            int b = window - rng.NextInt(window);
            return (Math.Max(0, pos - b), Math.Min(len - 1, pos + b));
        }

        private double TrainSkipGram<TK>(int[] sentence, int len, float alpha, ref FastRandom rng, float* neu1e, int* targets, float* dots, ref long pairs) where TK : struct, IRowKernel
        {
            int window = _o.Window, stride = _stride;
            float* input = _input.Data;
            double loss = 0;
            for (int pos = 0; pos < len; pos++)
            {
                int word = sentence[pos];
                (int lo, int hi) = Window(pos, len, window, ref rng);
                for (int c = lo; c <= hi; c++)
                {
                    if (c == pos) continue;
                    float* l1 = input + (long)sentence[c] * stride;
                    loss += NegativeSamplingStep<TK>(l1, word, alpha, ref rng, neu1e, targets, dots);
                    TK.Axpy(1f, neu1e, l1, stride);
                    pairs++;
                }
            }
            return loss;
        }

        private double TrainCbow<TK>(int[] sentence, int len, float alpha, ref FastRandom rng, float* neu1, float* neu1e, int* targets, float* dots, ref long pairs) where TK : struct, IRowKernel
        {
            int window = _o.Window, stride = _stride;
            float* input = _input.Data;
            double loss = 0;
            for (int pos = 0; pos < len; pos++)
            {
                int word = sentence[pos];
                (int lo, int hi) = Window(pos, len, window, ref rng);
                new Span<float>(neu1, stride).Clear();
                int cw = 0;
                for (int c = lo; c <= hi; c++)
                {
                    if (c == pos) continue;
                    TK.Axpy(1f, input + (long)sentence[c] * stride, neu1, stride);
                    cw++;
                }
                if (cw == 0) continue;
                TK.Scale(1f / cw, neu1, stride);
                loss += NegativeSamplingStep<TK>(neu1, word, alpha, ref rng, neu1e, targets, dots);
                for (int c = lo; c <= hi; c++)
                {
                    if (c == pos) continue;
                    TK.Axpy(1f, neu1e, input + (long)sentence[c] * stride, stride);
                }
                pairs++;
            }
            return loss;
        }
    }

    /// <summary>
    /// One streamed reader shared by all training threads: each call hands out the next batch of up to
    /// <see cref="BatchTokens"/> corpus tokens, as in-vocabulary ids with -1 at line breaks, reopening the
    /// file for each epoch. Reading and id lookup happen under a lock; they cost a few percent of training.
    /// </summary>
    private sealed class SharedStream(TextCorpus corpus, Vocabulary vocabulary, int epochs) : IDisposable
    {
        public const int BatchTokens = 10000;
        private readonly object _gate = new();
        private CorpusReader? _reader;
        private int _epoch;

        public bool Next(int[] ids, out int count, out int raw, out int epoch)
        {
            lock (_gate)
            {
                count = 0; raw = 0;
                if (_reader is null)
                {
                    if (_epoch >= epochs) { epoch = _epoch; return false; }
                    _epoch++;
                    _reader = corpus.OpenRange(0, corpus.Length);
                }
                epoch = _epoch;
                byte[] token = _reader.Token;
                while (raw < BatchTokens)
                {
                    int n = _reader.Next(out bool lineBreak);
                    if (n < 0)
                    {
                        _reader.Dispose();
                        _reader = null;
                        break;
                    }
                    raw++;
                    if (lineBreak && count > 0 && ids[count - 1] >= 0) ids[count++] = -1;
                    int id = vocabulary.Find(new ReadOnlySpan<byte>(token, 0, n));
                    if (id >= 0) ids[count++] = id;
                }
                return raw > 0 || Next(ids, out count, out raw, out epoch);
            }
        }

        public void Dispose() => _reader?.Dispose();
    }
}

/// <summary>Measurements of a finished training run.</summary>
/// <param name="Seconds">Wall time of training (vocabulary building excluded).</param>
/// <param name="RawWords">Corpus tokens read over all epochs (including words dropped by min-count or sub-sampling).</param>
/// <param name="WordsPerSecond">RawWords / Seconds (gensim's "raw words" rate).</param>
/// <param name="TrainingExamples">Positive training examples (context-centre pairs for skip-gram, windows for CBOW).</param>
/// <param name="MeanLoss">Mean loss per example over the whole run: -log sigma(positive) - sum log sigma(-negative).</param>
public readonly record struct Word2VecTrainingStats(double Seconds, long RawWords, double WordsPerSecond, long TrainingExamples, double MeanLoss);
