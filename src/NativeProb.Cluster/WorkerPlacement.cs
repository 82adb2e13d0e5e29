// NativeProb — MIT License.
using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace NativeProb.Cluster;

/// <summary>
/// Places a worker grain on the silo its key names (the silo address as <c>SiloAddress.ToParsableString</c>
/// writes it, generation included), and nowhere else: a call for a silo that is no longer an active member
/// fails instead of training on another machine under the dead one's name.
/// </summary>
[Serializable, GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class WorkerSiloPlacementStrategy : PlacementStrategy
{
    internal static readonly WorkerSiloPlacementStrategy Instance = new();
}

/// <summary>Marks a grain class as placed by <see cref="WorkerSiloPlacementStrategy"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class WorkerSiloPlacementAttribute : PlacementAttribute
{
    /// <summary>Creates the attribute.</summary>
    public WorkerSiloPlacementAttribute() : base(WorkerSiloPlacementStrategy.Instance) { }
}

/// <summary>The placement director of <see cref="WorkerSiloPlacementStrategy"/>.</summary>
internal sealed class WorkerSiloPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        string wanted = target.GrainIdentity.Key.ToString()!;
        foreach (SiloAddress silo in context.GetCompatibleSilos(target))
        {
            if (silo.ToParsableString() == wanted) return Task.FromResult(silo);
        }
        throw new OrleansException($"worker {wanted} is not an active member of the cluster.");
    }
}
