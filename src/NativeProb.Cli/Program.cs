// NativeProb — MIT License.
using NativeProb.Cli;

return CommandRegistry.Parse(args).Invoke();
