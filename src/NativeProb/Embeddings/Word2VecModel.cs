// NativeProb — MIT License.
using NativeProb.Errors;

namespace NativeProb.Embeddings;

/// <summary>A trained word2vec model: the vocabulary, the input (word) and output (context) matrices.</summary>
public sealed unsafe class Word2VecModel
{
    private readonly AlignedMatrix _input, _output;
    private readonly NoiseDistribution _noise;

    internal Word2VecModel(Vocabulary vocabulary, Word2VecOptions options, AlignedMatrix input, AlignedMatrix output, NoiseDistribution noise, Word2VecTrainingStats stats)
    {
        Vocabulary = vocabulary;
        Options = options;
        _input = input;
        _output = output;
        _noise = noise;
        Stats = stats;
    }

    /// <summary>The vocabulary, most frequent word first.</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>The settings the model was trained with.</summary>
    public Word2VecOptions Options { get; }

    /// <summary>Measurements of the training run.</summary>
    public Word2VecTrainingStats Stats { get; }

    /// <summary>The vector dimension.</summary>
    public int Dimension => Options.Dimension;

    /// <summary>The word vectors (the input matrix), as a stand-alone copy.</summary>
    /// <returns>Vectors in vocabulary order.</returns>
    public WordVectors ToWordVectors()
    {
        int n = Vocabulary.Count, d = Dimension;
        var data = new float[(long)n * d];
        for (int r = 0; r < n; r++) _input.RowSpan(r).CopyTo(data.AsSpan(r * d, d));
        return new WordVectors(Vocabulary.Words, d, data);
    }

    /// <summary>
    /// The mean negative-sampling loss per (centre, context) pair on held-out text: for every in-vocabulary
    /// centre word w and each context word u within <paramref name="window"/> positions on its line,
    /// <c>softplus(-W_in[u] . W_out[w]) + sum over k noise words n of softplus(W_in[u] . W_out[n])</c>,
    /// computed exactly (no table), with no sub-sampling, a full window and seeded noise words.
    /// Words outside the vocabulary are skipped. Lower is better.
    /// </summary>
    /// <param name="heldOut">The held-out corpus (read with its own normalization setting).</param>
    /// <param name="window">The context window (the same for every model compared).</param>
    /// <param name="negatives">Noise words per pair (the same for every model compared).</param>
    /// <param name="seed">Seed of the noise words.</param>
    /// <returns>The mean loss per pair.</returns>
    /// <exception cref="NpException">The held-out text has no pair of in-vocabulary words.</exception>
    public double HeldOutLoss(TextCorpus heldOut, int window = 5, int negatives = 5, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(heldOut);
        if (window < 1) ThrowHelper.OutOfRange(nameof(window), window, "window must be at least 1.");
        if (negatives < 0) ThrowHelper.OutOfRange(nameof(negatives), negatives, "negatives must be non-negative.");
        var rng = new FastRandom((ulong)(uint)seed * 31 + 7);
        var sentence = new List<int>();
        double total = 0;
        long pairs = 0;
        int stride = _input.Stride;
        var path = Options.Path;
        void Flush()
        {
            for (int p = 0; p < sentence.Count; p++)
            {
                float* w = _output.Row(sentence[p]);
                int lo = Math.Max(0, p - window), hi = Math.Min(sentence.Count - 1, p + window);
                for (int c = lo; c <= hi; c++)
                {
                    if (c == p) continue;
                    float* u = _input.Row(sentence[c]);
                    double l = SigmoidTable.Softplus(-RowKernels.Dot(path, u, w, stride));
                    for (int k = 0; k < negatives; k++)
                        l += SigmoidTable.Softplus(RowKernels.Dot(path, u, _output.Row(_noise.Sample(ref rng)), stride));
                    total += l;
                    pairs++;
                }
            }
            sentence.Clear();
        }
        using (var reader = heldOut.OpenRange(0, heldOut.Length))
        {
            int n;
            while ((n = reader.Next(out bool brk)) >= 0)
            {
                if (brk || sentence.Count == Word2VecOptions.MaxSentenceLength) Flush();
                int id = Vocabulary.Find(reader.Token.AsSpan(0, n));
                if (id >= 0) sentence.Add(id);
            }
            Flush();
        }
        if (pairs == 0)
            throw new NpException(NpStatus.InvalidArgument, $"held-out corpus '{heldOut.FilePath}' has no pair of in-vocabulary words within the window.");
        return total / pairs;
    }
}
