using System.Collections.Generic;

namespace Kernels.Einsum.Analysis;

/// <summary>Per-Einsum costs. Counts are for the whole iteration space; a filter is applied only when sizes are bound.</summary>
public sealed record EinsumReport(
    int Id,
    string Output,
    string Text,
    string Kind,
    string? Reduction,
    IReadOnlyList<string> Ranks,
    IReadOnlyList<string> ReducedRanks,
    IReadOnlyList<string> Filters,
    string? IterativeRank,
    bool IsInit,
    IReadOnlyList<string> Reads,
    int OperationsPerPoint,
    SizePolynomial Points,
    SizePolynomial Flops,
    SizePolynomial Bytes,
    double? PointsValue,
    double? FlopsValue,
    double? BytesValue,
    IReadOnlyDictionary<string, int> PassIndex);

/// <summary>How many passes a cascade makes over one root rank (a rank with its partitions and aliases), and what each pass holds.</summary>
public sealed record RankPasses(
    string Rank,
    IReadOnlyList<string> DerivedRanks,
    int Passes,
    IReadOnlyList<string> OuterRanks,
    IReadOnlyList<PassGroup> Groups);

/// <summary>The Einsums that traverse the rank in one pass (a fusion group), and the elements that must stay live per outer index.</summary>
public sealed record PassGroup(
    int Pass,
    IReadOnlyList<int> Einsums,
    IReadOnlyList<string> LiveTensors,
    SizePolynomial Footprint,
    double? FootprintValue);

public sealed record TensorReport(string Name, string Role, string ElementType, IReadOnlyList<string> Dims, IReadOnlyList<long>? Extents);

/// <summary>Everything the analysis knows about a cascade: the input of the planner, the hardware models and `kernels analyze`.</summary>
public sealed record CascadeReport(
    string Kernel,
    IReadOnlyList<TensorReport> Tensors,
    IReadOnlyList<EinsumReport> Einsums,
    IReadOnlyList<RankPasses> Passes,
    IReadOnlyDictionary<string, long>? Sizes)
{
    /// <summary>Passes over a root rank, by its index name (0 when no Einsum reads it).</summary>
    public int PassesOver(string rank)
    {
        foreach (var p in Passes)
            if (p.Rank == rank) return p.Passes;
        return 0;
    }
}
