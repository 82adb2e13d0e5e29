// NativeProb — MIT License.
using System.Globalization;
using NativeProb.Errors;

namespace NativeProb.Embeddings.Search;

/// <summary>One word2vec configuration of a search: the searched hyperparameters.</summary>
/// <param name="Window">Context window c.</param>
/// <param name="Dimension">Vector dimension d.</param>
/// <param name="Sample">Sub-sampling threshold sf.</param>
/// <param name="Negative">Negative samples m.</param>
/// <param name="Epochs">Passes over the corpus.</param>
/// <param name="MinCount">Minimum word count.</param>
public readonly record struct TrialConfig(int Window, int Dimension, double Sample, int Negative, int Epochs, int MinCount)
{
    /// <summary>A stable text key, used for the cache and the trial log.</summary>
    public string Key => string.Create(CultureInfo.InvariantCulture, $"w{Window}-d{Dimension}-s{Sample:R}-n{Negative}-e{Epochs}-m{MinCount}");

    /// <summary>Applies the configuration to base options.</summary>
    /// <param name="baseOptions">The fixed settings (architecture, seed, threads, ...).</param>
    /// <returns>The options of this trial.</returns>
    public Word2VecOptions Apply(Word2VecOptions baseOptions) => baseOptions with
    {
        Window = Window, Dimension = Dimension, Sample = Sample, Negative = Negative, Epochs = Epochs, MinCount = MinCount,
    };
}

/// <summary>
/// A product of categorical grids over (window c, dimension d, sub-sampling sf, negatives m), and
/// optionally epochs and min-count. Each hyperparameter is one categorical variable of the search.
/// </summary>
public sealed class SearchSpace
{
    private readonly int[] _windows, _dimensions, _negatives, _epochs, _minCounts;
    private readonly double[] _samples;

    /// <summary>Creates a search space. Lists must be non-empty and free of duplicates.</summary>
    /// <param name="windows">Window values.</param>
    /// <param name="dimensions">Dimension values.</param>
    /// <param name="samples">Sub-sampling thresholds.</param>
    /// <param name="negatives">Negative-sample counts.</param>
    /// <param name="epochs">Epoch counts (null: the single value 5).</param>
    /// <param name="minCounts">Min-count values (null: the single value 5).</param>
    /// <exception cref="ArgumentException">A list is empty or has a repeated value, naming the hyperparameter.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range for word2vec.</exception>
    public SearchSpace(IReadOnlyList<int> windows, IReadOnlyList<int> dimensions, IReadOnlyList<double> samples, IReadOnlyList<int> negatives,
        IReadOnlyList<int>? epochs = null, IReadOnlyList<int>? minCounts = null)
    {
        _windows = Check(windows, "window");
        _dimensions = Check(dimensions, "dimension");
        _samples = Check(samples, "sample");
        _negatives = Check(negatives, "negative");
        _epochs = Check(epochs ?? [5], "epochs");
        _minCounts = Check(minCounts ?? [5], "min-count");
        foreach (int w in _windows) if (w < 1) ThrowHelper.OutOfRange(nameof(windows), w, "window values must be at least 1.");
        foreach (int d in _dimensions) if (d < 1 || d > 10000) ThrowHelper.OutOfRange(nameof(dimensions), d, "dimension values must be in 1..10000.");
        foreach (double s in _samples) if (!(s >= 0 && s < 1)) ThrowHelper.OutOfRange(nameof(samples), s, "sample values must be in [0, 1).");
        foreach (int n in _negatives) if (n < 1 || n > 100) ThrowHelper.OutOfRange(nameof(negatives), n, "negative values must be in 1..100.");
        foreach (int e in _epochs) if (e < 1) ThrowHelper.OutOfRange(nameof(epochs), e, "epochs values must be at least 1.");
        foreach (int m in _minCounts) if (m < 1) ThrowHelper.OutOfRange(nameof(minCounts), m, "min-count values must be at least 1.");
        Cardinalities = [_windows.Length, _dimensions.Length, _samples.Length, _negatives.Length, _epochs.Length, _minCounts.Length];
        long size = 1;
        foreach (int k in Cardinalities) size *= k;
        if (size > 10_000_000) ThrowHelper.Argument(nameof(windows), $"search space has {size} configurations; at most 10,000,000 are supported.");
        Size = (int)size;
    }

    private static T[] Check<T>(IReadOnlyList<T>? values, string name)
    {
        if (values is null || values.Count == 0)
            throw new ArgumentException($"search space: the {name} list is empty; give at least one value.", name);
        var arr = values.ToArray();
        if (arr.Distinct().Count() != arr.Length)
            throw new ArgumentException($"search space: the {name} list repeats a value ({string.Join(",", arr)}).", name);
        return arr;
    }

    /// <summary>The names of the six hyperparameters, in index order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["window", "dimension", "sample", "negative", "epochs", "min-count"];

    /// <summary>The number of values of each hyperparameter, in <see cref="Names"/> order.</summary>
    public IReadOnlyList<int> Cardinalities { get; }

    /// <summary>The number of configurations (the grid size).</summary>
    public int Size { get; }

    /// <summary>The value of hyperparameter <paramref name="parameter"/> at <paramref name="choice"/>, as text.</summary>
    /// <param name="parameter">0..5 in <see cref="Names"/> order.</param>
    /// <param name="choice">The value index.</param>
    /// <returns>The value.</returns>
    public string ValueText(int parameter, int choice) => parameter switch
    {
        0 => _windows[choice].ToString(CultureInfo.InvariantCulture),
        1 => _dimensions[choice].ToString(CultureInfo.InvariantCulture),
        2 => _samples[choice].ToString("R", CultureInfo.InvariantCulture),
        3 => _negatives[choice].ToString(CultureInfo.InvariantCulture),
        4 => _epochs[choice].ToString(CultureInfo.InvariantCulture),
        _ => _minCounts[choice].ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The configuration for one value index per hyperparameter.</summary>
    /// <param name="choice">Six indices, in <see cref="Names"/> order.</param>
    /// <returns>The configuration.</returns>
    public TrialConfig At(ReadOnlySpan<int> choice) =>
        new(_windows[choice[0]], _dimensions[choice[1]], _samples[choice[2]], _negatives[choice[3]], _epochs[choice[4]], _minCounts[choice[5]]);

    /// <summary>The configuration with grid index <paramref name="index"/> (mixed radix, the last hyperparameter fastest).</summary>
    /// <param name="index">0 .. Size-1.</param>
    /// <returns>The configuration.</returns>
    public TrialConfig AtIndex(int index)
    {
        Span<int> choice = stackalloc int[6];
        for (int p = 5; p >= 0; p--)
        {
            choice[p] = index % Cardinalities[p];
            index /= Cardinalities[p];
        }
        return At(choice);
    }

    /// <summary>Parses a comma-separated list of integers for the hyperparameter <paramref name="name"/>.</summary>
    /// <param name="text">For example "2,5,8".</param>
    /// <param name="name">The hyperparameter, for the error message.</param>
    /// <returns>The values.</returns>
    /// <exception cref="ArgumentException">The list is empty or an entry is not an integer.</exception>
    public static int[] ParseInts(string? text, string name) =>
        Split(text, name).Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new ArgumentException($"search space: '{s}' in the {name} list is not an integer.", name)).ToArray();

    /// <summary>Parses a comma-separated list of numbers for the hyperparameter <paramref name="name"/>.</summary>
    /// <param name="text">For example "1e-4,1e-3".</param>
    /// <param name="name">The hyperparameter, for the error message.</param>
    /// <returns>The values.</returns>
    /// <exception cref="ArgumentException">The list is empty or an entry is not a number.</exception>
    public static double[] ParseDoubles(string? text, string name) =>
        Split(text, name).Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
            : throw new ArgumentException($"search space: '{s}' in the {name} list is not a number.", name)).ToArray();

    private static string[] Split(string? text, string name)
    {
        string[] parts = (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ArgumentException($"search space: the {name} list is empty; give at least one value.", name);
        return parts;
    }
}
