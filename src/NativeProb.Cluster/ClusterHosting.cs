// NativeProb — MIT License.
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace NativeProb.Cluster;

/// <summary>Where the cluster's membership lives: a Redis server, and the cluster's name in it.</summary>
/// <param name="Redis">A StackExchange.Redis connection string, for example "127.0.0.1:6379".</param>
/// <param name="ClusterId">The cluster's name; several clusters can share one Redis server.</param>
public sealed record ClusterAddress(string Redis, string ClusterId = "nativeprob")
{
    internal void Apply(ClusterOptions o)
    {
        o.ClusterId = ClusterId;
        o.ServiceId = "nativeprob-search";
    }
}

/// <summary>How a worker runs.</summary>
/// <param name="Cluster">The cluster to join.</param>
/// <param name="Threads">Training threads of each trial (1 makes trials reproducible).</param>
/// <param name="Address">The address the worker listens on and advertises to the others (loopback by default).</param>
/// <param name="SiloPort">The silo-to-silo port (0: a free one).</param>
/// <param name="GatewayPort">The port the coordinator connects to (0: a free one).</param>
/// <param name="Name">The worker's name, unique in the cluster (null: host, process id and a random suffix).</param>
public sealed record WorkerSettings(ClusterAddress Cluster, int Threads = 1, string Address = "127.0.0.1", int SiloPort = 0, int GatewayPort = 0, string? Name = null)
{
    /// <summary>The name the worker uses: <see cref="Name"/> or one made unique.</summary>
    public string ResolvedName { get; } = Name ?? $"worker-{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
}

/// <summary>Starts worker silos.</summary>
public static class WorkerHost
{
    /// <summary>
    /// Failure detection of the worker silos: a silo probes others every second and suspects one after three
    /// missed probes; two suspicions (or every other silo's, in a smaller cluster) declare it dead. A killed
    /// worker is thus declared dead within seconds, which is when its trial is dispatched again.
    /// </summary>
    internal static void ConfigureMembership(ClusterMembershipOptions o)
    {
        o.ProbeTimeout = TimeSpan.FromSeconds(1);
        o.NumMissedProbesLimit = 3;
        o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
        o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
    }

    /// <summary>Builds a worker silo (not started).</summary>
    /// <param name="settings">The worker's settings.</param>
    /// <returns>The host; run it until it should leave the cluster.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Threads below 1 or a port out of range.</exception>
    /// <exception cref="FormatException">The address is not an IP address.</exception>
    public static IHost Build(WorkerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Threads < 1) throw new ArgumentOutOfRangeException(nameof(settings), settings.Threads, "--threads must be at least 1.");
        var address = IPAddress.Parse(settings.Address);
        int siloPort = settings.SiloPort == 0 ? FreePort(address) : settings.SiloPort;
        int gatewayPort = settings.GatewayPort == 0 ? FreePort(address) : settings.GatewayPort;
        var builder = Host.CreateApplicationBuilder();
        QuietLogging(builder.Logging);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton<WorkerObjectives>();
        builder.Services.AddPlacementDirector<WorkerSiloPlacementStrategy, WorkerSiloPlacementDirector>();
        builder.UseOrleans(silo =>
        {
            silo.UseRedisClustering(settings.Cluster.Redis);
            silo.Configure<ClusterOptions>(settings.Cluster.Apply);
            silo.Configure<SiloOptions>(o => o.SiloName = settings.ResolvedName);
            // Listen on the given address only (loopback unless a machine address is given).
            silo.Configure<EndpointOptions>(o =>
            {
                o.AdvertisedIPAddress = address;
                o.SiloPort = siloPort;
                o.GatewayPort = gatewayPort;
                o.SiloListeningEndpoint = new IPEndPoint(address, siloPort);
                o.GatewayListeningEndpoint = new IPEndPoint(address, gatewayPort);
            });
            silo.Configure<ClusterMembershipOptions>(ConfigureMembership);
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TrialDispatcher.LongestTrial);
        });
        return builder.Build();
    }

    /// <summary>Orleans logs its own progress at Information and notes at Warning; only errors reach the console.</summary>
    internal static void QuietLogging(ILoggingBuilder logging)
    {
        logging.SetMinimumLevel(LogLevel.Warning);
        // The silo's start-up notes (server GC, a slow first watchdog check on a busy machine) are not failures.
        logging.AddFilter("Orleans", LogLevel.Error);
    }

    private static int FreePort(IPAddress address)
    {
        // The operating system picks a free port; it is released at once and the silo binds it moments later.
        using var probe = new TcpListener(address, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
