using System.Collections.Generic;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Planning;

/// <summary>How one dimension of a tensor is stored by a generated kernel.</summary>
public enum DimStorage
{
    /// <summary>Stored in full.</summary>
    Kept,

    /// <summary>Not stored: the dimension is the parallel rank (each slice keeps its own point) or the
    /// rank of the iteration block that produces and consumes the tensor within one step.</summary>
    Dropped,

    /// <summary>A loop-carried dimension kept as two slots, the current step and the next.</summary>
    Rolling,
}

/// <summary>Where a tensor lives while the kernel runs.</summary>
public enum TensorHome
{
    /// <summary>A caller's span.</summary>
    Argument,

    /// <summary>Scratch allocated once for the whole call.</summary>
    Shared,

    /// <summary>Scratch allocated by each thread for its slice of the parallel rank.</summary>
    SliceLocal,
}

/// <summary>The storage of one tensor: which dimensions are kept, where it lives and whether it
/// carries presence flags (because some of its points can be absent).</summary>
public sealed record TensorStorage(Tensor Tensor, IReadOnlyList<DimStorage> Dims, TensorHome Home, bool HasPresence)
{
    /// <summary>True when some points of the tensor can be absent (a filter, a read past an edge, an absent operand):
    /// an output's absent points read as 0. <see cref="HasPresence"/> says whether flags must be kept for later reads.</summary>
    public bool MayBeAbsent { get; init; }

    public bool IsReused => Home != TensorHome.Argument && System.Linq.Enumerable.Any(Dims, d => d != DimStorage.Kept);
}

/// <summary>How the loop nest of one Einsum is emitted.</summary>
public enum EinsumLowering
{
    /// <summary>Scalar code that tracks absent points exactly as the interpreter does.</summary>
    Exact,

    /// <summary>Scalar code over points that all exist (filters on reduced ranks are tested in the loop).</summary>
    Dense,

    /// <summary>The innermost reduced rank is vectorised, with several independent accumulators.</summary>
    VectorReduce,

    /// <summary>The innermost output rank is vectorised; a reduction accumulates into the output row.</summary>
    VectorRow,
}

/// <summary>The lowering chosen for one Einsum, with its loop order (outermost first).</summary>
public sealed record EinsumPlan(ExtendedEinsum Einsum, EinsumLowering Lowering, IReadOnlyList<string> LoopOrder, string? VectorRank, bool InSlice)
{
    public string Describe() => Lowering switch
    {
        EinsumLowering.Exact => "scalar, tracking absent points",
        EinsumLowering.Dense => "scalar",
        EinsumLowering.VectorReduce => $"vectorised reduction over {VectorRank}",
        _ => $"vectorised over {VectorRank}",
    };
}

/// <summary>
/// A loop-nest plan for a cascade: the parallel rank, the storage of every tensor, the Einsums run
/// before the parallel region (hoisted) and inside it, and the lowering of each Einsum.
/// </summary>
public sealed record KernelPlan(
    Cascade Cascade,
    bool AssumesDivisible,
    IReadOnlyList<(string Outer, string Inner, string Of)> DivisibilityAssumed,
    string? SliceRank,
    IReadOnlyDictionary<string, TensorStorage> Storage,
    IReadOnlyList<CascadeStep> Hoisted,
    IReadOnlyList<CascadeStep> Sliced,
    IReadOnlyDictionary<int, EinsumPlan> Einsums)
{
    /// <summary>True when two plans emit the same code (the general plan is then not emitted).</summary>
    public bool SameLoweringAs(KernelPlan other)
    {
        foreach (var pair in Einsums)
            if (!other.Einsums.TryGetValue(pair.Key, out var o) || o.Lowering != pair.Value.Lowering || o.VectorRank != pair.Value.VectorRank)
                return false;
        foreach (var pair in Storage)
            if (other.Storage[pair.Key].HasPresence != pair.Value.HasPresence) return false;
        return true;
    }
}
