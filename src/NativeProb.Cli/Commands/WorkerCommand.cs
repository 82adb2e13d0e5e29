// NativeProb — MIT License.
using Microsoft.Extensions.Hosting;
using NativeProb.Cluster;

namespace NativeProb.Cli.Commands;

/// <summary><c>nativeprob worker</c>: joins a search cluster and trains one trial at a time until stopped.</summary>
internal static class WorkerCommand
{
    /// <summary>The cluster options the worker and the coordinator share.</summary>
    internal static Option<string> ClusterIdOption() =>
        new("--cluster-id") { Description = "The cluster's name in the store (several clusters can share one Redis).", DefaultValueFactory = _ => "nativeprob" };

    public static Command Create()
    {
        var cluster = new Option<string>("--cluster") { Description = "The cluster's store: a Redis connection string, e.g. 127.0.0.1:6379.", Required = true };
        var clusterId = ClusterIdOption();
        var threads = new Option<int>("--threads") { Description = "Training threads of each trial (must equal the coordinator's --threads-per-trial).", DefaultValueFactory = _ => 1 };
        var address = new Option<string>("--address") { Description = "IP address to listen on and advertise (another machine's workers and coordinator connect to it).", DefaultValueFactory = _ => "127.0.0.1" };
        var siloPort = new Option<int>("--silo-port") { Description = "Port for the other workers (0: a free one).", DefaultValueFactory = _ => 0 };
        var gatewayPort = new Option<int>("--gateway-port") { Description = "Port for the coordinator (0: a free one).", DefaultValueFactory = _ => 0 };
        var name = new Option<string?>("--name") { Description = "The worker's name, unique in the cluster (default: host, process id and a random suffix)." };
        var cmd = new Command("worker", "Join a search cluster as a worker: train the trials the coordinator (word2vec search --cluster) sends, one at a time, until stopped.")
            { cluster, clusterId, threads, address, siloPort, gatewayPort, name };
        cmd.SetAction((parse, ct) => Run(new WorkerSettings(new ClusterAddress(parse.GetValue(cluster)!, parse.GetValue(clusterId)!), parse.GetValue(threads),
            parse.GetValue(address)!, parse.GetValue(siloPort), parse.GetValue(gatewayPort), parse.GetValue(name)), ct));
        return cmd;
    }

    private static async Task<int> Run(WorkerSettings settings, CancellationToken ct)
    {
        IHost host;
        try
        {
            host = WorkerHost.Build(settings);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            AnsiConsole.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 2;
        }
        using (host)
        {
            await host.StartAsync(ct).ConfigureAwait(false);
            // The test driver and operators wait for this line.
            Console.WriteLine($"worker {settings.ResolvedName} ready ({settings.Threads} thread(s) per trial)");
            await host.WaitForShutdownAsync(ct).ConfigureAwait(false);
        }
        return 0;
    }
}
