// NativeProb — MIT License.
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Runtime;

namespace NativeProb.Cluster;

/// <summary>
/// The coordinator's side of the cluster: an Orleans client that keeps the set of live workers from the
/// cluster's membership (kept by the workers in Redis), hands each trial to an idle worker, and dispatches a
/// trial again when its worker leaves the membership (killed, crashed, cut off) or the engine reports the
/// call lost. A worker that joins is used from the next dispatch on.
/// </summary>
public sealed class TrialDispatcher : IAsyncDisposable
{
    /// <summary>The response timeout of trial calls: longer than any trial, so that only a failure detected by
    /// the membership (or a connection loss) ends a call early.</summary>
    public static readonly TimeSpan LongestTrial = TimeSpan.FromHours(24);

    private static readonly TimeSpan MembershipPoll = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan QuarantineTime = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LivenessCheck = TimeSpan.FromMilliseconds(250);
    // A call running this long asks its worker how the trial stands; two answers of "unknown" in a row (the
    // request or its reply was lost on the way, e.g. through a gateway that died) dispatch it again.
    private static readonly TimeSpan ProgressCheck = TimeSpan.FromSeconds(5);

    private readonly IHost _host;
    private readonly IClusterClient _client;
    private readonly Action<string> _log;
    private readonly object _gate = new();
    private readonly HashSet<string> _live = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);
    private readonly Queue<string> _idle = new();
    private readonly Dictionary<string, DateTime> _quarantined = new(StringComparer.Ordinal);
    private readonly Queue<TaskCompletionSource<string>> _waiters = new();
    private readonly Dictionary<string, long> _lastFinished = new(StringComparer.Ordinal);
    private readonly HashSet<string> _handedOff = new(StringComparer.Ordinal);
    private readonly List<double> _gapsMs = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _watch;

    private TrialDispatcher(IHost host, Action<string> log)
    {
        _host = host;
        _client = host.Services.GetService(typeof(IClusterClient)) as IClusterClient
            ?? throw new InvalidOperationException("the Orleans client is not registered.");
        _log = log;
    }

    /// <summary>Connects to the cluster (waiting for its first worker) and starts following its membership.</summary>
    /// <param name="cluster">The cluster.</param>
    /// <param name="log">Receives one line per membership change and per lost trial.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The dispatcher.</returns>
    public static async Task<TrialDispatcher> ConnectAsync(ClusterAddress cluster, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var builder = Host.CreateApplicationBuilder();
        WorkerHost.QuietLogging(builder.Logging);
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(cluster.Redis);
            client.Configure<ClusterOptions>(cluster.Apply);
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = LongestTrial);
            // A gateway that dies is replaced from the membership table within seconds.
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(2));
            // No worker up yet: keep trying once a second (the engine's own connection retry hook).
            client.UseConnectionRetryFilter(async (_, ct) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
                return !ct.IsCancellationRequested;
            });
        });
        var host = builder.Build();
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        var d = new TrialDispatcher(host, log ?? (_ => { }));
        await d.RefreshAsync().ConfigureAwait(false);
        d._watch = Task.Run(() => d.WatchAsync(d._stop.Token));
        return d;
    }

    /// <summary>Live workers now.</summary>
    public int LiveWorkers
    {
        get { lock (_gate) return _live.Count; }
    }

    /// <summary>
    /// Dispatch overhead samples in milliseconds: for each trial that waited for a worker, the time from the
    /// end of that worker's previous trial to the start of this one, both by the worker's clock.
    /// </summary>
    public IReadOnlyList<double> DispatchGapsMs
    {
        get { lock (_gate) return _gapsMs.ToArray(); }
    }

    /// <summary>Runs one trial on some live worker; dispatched again, elsewhere when possible, if that worker is lost.</summary>
    /// <param name="request">The trial.</param>
    /// <param name="cancellationToken">Cancels waiting (the trial itself runs on).</param>
    /// <returns>The worker's reply.</returns>
    public async Task<TrialReply> RunAsync(TrialRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        while (true)
        {
            string worker = await AcquireAsync(cancellationToken).ConfigureAwait(false);
            string name;
            lock (_gate) name = _names[worker];
            _log($"trial {request.Config.Key} -> {name}");
            Task<TrialReply> call = _client.GetGrain<ITrialWorkerGrain>(worker).Run(request);
            // The call ends with the trial, or is abandoned when the membership no longer lists the worker, or when
            // the worker, asked, has no record of the trial twice in a row.
            string? lost = null;
            TrialReply? polled = null;
            var sinceCheck = System.Diagnostics.Stopwatch.StartNew();
            int unknown = 0;
            while (!call.IsCompleted)
            {
                await Task.WhenAny(call, Task.Delay(LivenessCheck, cancellationToken)).ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                {
                    // The worker finishes the trial on its own; later calls queue behind it.
                    Release(worker, null);
                    cancellationToken.ThrowIfCancellationRequested();
                }
                if (call.IsCompleted) break;
                if (!IsLive(worker))
                {
                    lost = $"worker {name} left the cluster during trial {request.Config.Key}; dispatching it again";
                    break;
                }
                if (sinceCheck.Elapsed < ProgressCheck) continue;
                sinceCheck.Restart();
                TrialProgress? progress = await ProgressAsync(worker, request.Config.Key).ConfigureAwait(false);
                if (progress is null || call.IsCompleted) continue;
                if (progress.State == TrialState.Finished)
                {
                    polled = progress.Reply;
                    break;
                }
                unknown = progress.State == TrialState.Unknown ? unknown + 1 : 0;
                if (unknown >= 2)
                {
                    lost = $"worker {name} has no record of trial {request.Config.Key} (the request or its reply was lost); dispatching it again";
                    break;
                }
            }
            // Still running here means the loop gave the call up: its worker left, or the worker's record said
            // finished (polled) or unknown twice (lost).
            if (!call.IsCompleted)
            {
                // Its result, if it ever comes, is not used; observe a late failure so it is not reported as unobserved.
                _ = call.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                if (polled is not null)
                {
                    _log($"trial {request.Config.Key}: reply lost on the way, taken from worker {name}");
                    Release(worker, polled);
                    return polled;
                }
                _log(lost!);
                // A live worker that lost a message is free again; a departed one is not offered (Release checks).
                Release(worker, null);
                continue;
            }
            try
            {
                TrialReply reply = await call.ConfigureAwait(false);
                Release(worker, reply);
                return reply;
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                _log($"trial {request.Config.Key} on {name} failed in the engine ({e.GetType().Name}: {e.Message}); dispatching it again");
                Quarantine(worker);
            }
            catch
            {
                Release(worker, null);
                throw;
            }
        }
    }

    /// <summary>The worker's record of a trial, or null when it did not answer within the check interval.</summary>
    private async Task<TrialProgress?> ProgressAsync(string worker, string trialKey)
    {
        try
        {
            return await _client.GetGrain<ITrialWorkerGrain>(worker).Progress(trialKey).WaitAsync(ProgressCheck).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            return null;
        }
    }

    private bool IsLive(string worker)
    {
        lock (_gate) return _live.Contains(worker);
    }

    private Task<string> AcquireAsync(CancellationToken ct)
    {
        TaskCompletionSource<string> waiter;
        lock (_gate)
        {
            if (_idle.Count > 0) return Task.FromResult(_idle.Dequeue());
            waiter = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue(waiter);
        }
        if (ct.CanBeCanceled) ct.Register(() => waiter.TrySetCanceled(ct));
        return waiter.Task;
    }

    /// <summary>Frees a worker after a trial (reply non-null) or a lost trial; a waiting trial gets it at once.</summary>
    private void Release(string worker, TrialReply? reply)
    {
        lock (_gate)
        {
            if (reply is not null)
            {
                if (_handedOff.Remove(worker) && _lastFinished.TryGetValue(worker, out long prev))
                    _gapsMs.Add(TimeSpan.FromTicks(reply.StartedUtcTicks - prev).TotalMilliseconds);
                _lastFinished[worker] = reply.FinishedUtcTicks;
            }
            if (_live.Contains(worker) && !_quarantined.ContainsKey(worker)) Offer(worker, handOff: reply is not null);
        }
    }

    /// <summary>Gives a free worker to the first trial still waiting, or puts it in the idle queue. Under the lock.</summary>
    private void Offer(string worker, bool handOff)
    {
        while (_waiters.Count > 0)
        {
            var w = _waiters.Dequeue();
            if (w.TrySetResult(worker))
            {
                if (handOff) _handedOff.Add(worker);
                return;
            }
        }
        _idle.Enqueue(worker);
    }

    private void Quarantine(string worker)
    {
        lock (_gate)
        {
            _handedOff.Remove(worker);
            _quarantined[worker] = DateTime.UtcNow;
        }
    }

    private async Task WatchAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(MembershipPoll, ct).ConfigureAwait(false);
                await RefreshAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                // A gateway died under the query; the client moves to another and the next poll succeeds.
                _log($"membership query failed ({e.GetType().Name}); retrying");
            }
        }
    }

    /// <summary>Reads the active silos from the membership and applies joins and departures.</summary>
    private async Task RefreshAsync()
    {
        var hosts = await _client.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: true)
            .WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        var members = hosts.Where(h => h.Status == SiloStatus.Active).ToDictionary(h => h.SiloAddress.ToParsableString(), h => h.SiloName, StringComparer.Ordinal);
        var active = members.Keys.ToHashSet(StringComparer.Ordinal);
        var messages = new List<string>();
        lock (_gate)
        {
            foreach (string gone in _live.Where(w => !active.Contains(w)).ToArray())
            {
                _live.Remove(gone);
                _quarantined.Remove(gone);
                _handedOff.Remove(gone);
                messages.Add($"worker {_names[gone]} left the cluster ({active.Count} live)");
            }
            if (_idle.Any(w => !active.Contains(w)))
            {
                var keep = _idle.Where(active.Contains).ToArray();
                _idle.Clear();
                foreach (string w in keep) _idle.Enqueue(w);
            }
            foreach (string w in active)
            {
                if (_live.Add(w))
                {
                    _names[w] = members[w];
                    messages.Add($"worker {members[w]} joined at {w} ({active.Count} live)");
                    Offer(w, handOff: false);
                }
                else if (_quarantined.TryGetValue(w, out var since) && DateTime.UtcNow - since > QuarantineTime)
                {
                    // Still a member after a failed call: the failure was not the worker's death.
                    _quarantined.Remove(w);
                    Offer(w, handOff: false);
                }
            }
        }
        foreach (string m in messages) _log(m);
    }

    /// <summary>Stops following the membership and leaves the cluster.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_watch is not null) await _watch.ConfigureAwait(false);
        try
        {
            await _host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _host.Dispose();
            _stop.Dispose();
        }
    }
}
