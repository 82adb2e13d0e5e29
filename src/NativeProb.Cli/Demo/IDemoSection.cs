// NativeProb — MIT License.
namespace NativeProb.Cli.Demo;

/// <summary>One section of <c>nativeprob demo</c>: a short, checked tour of one capability.</summary>
internal interface IDemoSection
{
    /// <summary>The heading printed before the section.</summary>
    string Title { get; }

    /// <summary>Runs the section; returns false when a check failed.</summary>
    bool Run(IAnsiConsole console, DemoContext context);
}

/// <summary>Settings shared by every demo section.</summary>
internal sealed record DemoContext(int Threads, int Seed, string? DataDirectory);
