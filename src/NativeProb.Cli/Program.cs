// NativeProb — MIT License.
using NativeProb.Cli;

return CommandRegistry.Root().Parse(args).Invoke();
