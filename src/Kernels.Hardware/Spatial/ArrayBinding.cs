using Kernels.Einsum.Analysis;
using Kernels.Einsum.Ir;
using Kernels.Hardware.Targets;

namespace Kernels.Hardware.Spatial;

/// <summary>Which array runs an Einsum (null for copies and inits, which compute nothing), and the ranks that decided it.</summary>
/// <param name="InnerRoot">The streamed rank: the root rank the cascade reduces over most often (m for attention).</param>
/// <param name="OuterRanks">The ranks every pass over <paramref name="InnerRoot"/> iterates over (p for attention): the query rows.</param>
public sealed record ArrayBinding(string InnerRoot, IReadOnlyList<string> InnerRanks, IReadOnlyList<string> OuterRanks, IReadOnlyDictionary<int, string?> ArrayOf)
{
    public string? this[int einsumId] => ArrayOf.TryGetValue(einsumId, out var a) ? a : null;
}

/// <summary>
/// Binds Einsums to arrays from the cascade's structure: per-point work over the fine inner ranks
/// (<c>m</c>, or <c>m0</c> within a tile) goes to the 2D array when the 2D PEs support every operation
/// it needs; per-row state updates (over <c>m1</c>, or no inner rank at all) and whatever the 2D array
/// cannot do go to the 1D array. Any choice can be overridden by output tensor name.
/// </summary>
public static class ArrayBinder
{
    public static ArrayBinding Bind(Cascade cascade, CascadeReport report, SpatialTarget target, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var root = InnerRoot(cascade, report);
        var inner = cascade.Ranks.Where(r => r.Root == root).Select(r => r.Index).ToList();
        var fine = cascade.Ranks.Where(r => r.Root == root && r.Kind != RankKind.PartitionOuter).Select(r => r.Index).ToList();
        var outer = report.Passes.FirstOrDefault(p => p.Rank == root)?.OuterRanks ?? Array.Empty<string>();

        var map = new Dictionary<int, string?>();
        foreach (var e in cascade.Einsums)
        {
            var ops = OpCounter.PerPoint(e);
            if (ops.Count == 0)
            {
                map[e.Id] = null;
                continue;
            }
            if (overrides is not null && overrides.TryGetValue(e.Output.Name, out var forced))
            {
                var array = target.Arrays.FirstOrDefault(a => string.Equals(a.Name, forced, StringComparison.OrdinalIgnoreCase))
                    ?? throw new ArgumentException($"Binding override for '{e.Output.Name}' names array '{forced}'; target '{target.Name}' has {string.Join(", ", target.Arrays.Select(a => a.Name))}.", nameof(overrides));
                map[e.Id] = array.Name;
                continue;
            }
            var on2D = e.Ranks.Any(fine.Contains) && ops.Keys.All(target.Array2D.Supports);
            map[e.Id] = on2D ? target.Array2D.Name : target.Array1D.Name;
        }
        foreach (var (id, array) in map)
        {
            if (array is null) continue;
            var a = target.Arrays.First(x => x.Name == array);
            var e = cascade.Einsums.First(x => x.Id == id);
            var missing = OpCounter.PerPoint(e).Keys.FirstOrDefault(op => !a.Supports(op));
            if (missing is not null)
                throw new ArgumentException($"Einsum '{e.Output.Name}' needs '{missing}', which array '{a.Name}' of target '{target.Name}' does not support.");
        }
        return new ArrayBinding(root, inner, outer, map);
    }

    /// <summary>The root rank that Einsums reduce over most often; ties go to the rank with the most passes, then the first declared.</summary>
    public static string InnerRoot(Cascade cascade, CascadeReport report)
    {
        var roots = cascade.Ranks.Where(r => r.Kind == RankKind.Plain && r.AliasOf is null).Select(r => r.Index).ToList();
        int Reductions(string root) => cascade.Einsums.Count(e => e.ReducedRanks.Any(r => cascade.Rank(r).Root == root));
        return roots.OrderByDescending(Reductions).ThenByDescending(report.PassesOver).First();
    }

    /// <summary>The Einsums whose output <paramref name="e"/> reads in the same step (reads of the previous step's carried value are not edges).</summary>
    public static IReadOnlyList<ExtendedEinsum> Producers(Cascade cascade, ExtendedEinsum e)
    {
        var list = new List<ExtendedEinsum>();
        foreach (var read in e.Reads())
        {
            var writer = cascade.Writer(read.Tensor.Name);
            if (writer is null || writer.Id == e.Id) continue;
            if (writer.IterativeRank is { } rank && writer.IterativeRank == e.IterativeRank && !IsSameStepRead(read, writer, rank)) continue;
            if (!list.Contains(writer)) list.Add(writer);
        }
        return list;
    }

    private static bool IsSameStepRead(TensorRead read, ExtendedEinsum writer, string blockRank)
    {
        for (var d = 0; d < writer.OutputIndices.Count; d++)
        {
            if (!writer.OutputIndices[d].TryGetOffset(out var rank, out var writtenAt) || rank != blockRank) continue;
            return read.Indices[d].TryGetOffset(out var readRank, out var readAt) && readRank == blockRank && readAt == writtenAt;
        }
        return true;
    }
}
