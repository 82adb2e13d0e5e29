// NativeProb — MIT License.
using System.CommandLine;
using NativeProb.Cli;

var root = new RootCommand("nativeprob: FlashAttention, quantized KV caches, positional encodings, tokenizers and word2vec for .NET.");
foreach (Command command in CommandRegistry.TopLevel())
    root.Subcommands.Add(command);
return root.Parse(args).Invoke();
