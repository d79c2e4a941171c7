namespace Kernels.Benchmarks;

/// <summary>
/// Marks a benchmark method as one of ours: the gate (<see cref="Gate"/>) divides the time of each peer and limit of
/// its class by its time, so every figure is a ratio measured in one run (above 1: ours is faster than the peer; a
/// fraction: the share of the machine's limit reached).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OursAttribute : Attribute
{
    /// <summary>The methods of the class it is compared with; empty: every peer and limit.</summary>
    public string[] Versus { get; set; } = Array.Empty<string>();
}

/// <summary>Marks a benchmark method as a peer: the same computation by another library.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PeerAttribute : Attribute
{
}

/// <summary>Marks a benchmark method as a limit of the machine (FMA peak, copy bandwidth) over the same work.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LimitAttribute : Attribute
{
}

/// <summary>The work of one call of a suite's benchmarks at its current parameters, for the plots (throughput, roofline).</summary>
public interface IWork
{
    /// <summary>Floating-point operations of one call, as the suite counts them.</summary>
    double Flops { get; }

    /// <summary>Bytes one call must move: each input read once, each output written once.</summary>
    double Bytes { get; }
}
