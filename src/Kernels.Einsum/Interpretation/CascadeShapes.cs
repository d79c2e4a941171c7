using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Interpretation;

/// <summary>
/// Shape inference: the sizes of every rank (including derived partition sizes), the extent of every
/// tensor, and the number of steps of every iteration block, from the sizes bound at run time.
/// </summary>
public sealed class CascadeShapes
{
    private readonly Dictionary<string, long> _rankSizes;
    private readonly Dictionary<string, long[]> _extents;
    private readonly Dictionary<string, long> _steps;
    private readonly Dictionary<string, string> _sizeNames;

    private CascadeShapes(Dictionary<string, string> sizeNames, Dictionary<string, long> rankSizes, Dictionary<string, long[]> extents, Dictionary<string, long> steps)
    {
        _rankSizes = rankSizes;
        _extents = extents;
        _steps = steps;
        _sizeNames = sizeNames;
    }

    /// <summary>The sizes the caller must bind (upper-case names), with the default where the spec gives one.</summary>
    public static IReadOnlyList<(string Size, int? Default)> RequiredSizes(Cascade cascade) =>
        cascade.Ranks.Where(r => r.Kind != RankKind.PartitionOuter && r.AliasOf is null).Select(r => (r.Size, r.DefaultSize)).ToList();

    /// <summary>Binds sizes; throws <see cref="ArgumentException"/> naming <paramref name="sizes"/> when one is missing, unknown, derived or negative.</summary>
    public static CascadeShapes Bind(Cascade cascade, IReadOnlyDictionary<string, int> sizes)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        if (sizes is null) throw new ArgumentNullException(nameof(sizes));
        var known = cascade.Ranks.Where(r => r.AliasOf is null).ToDictionary(r => r.Size, StringComparer.Ordinal);
        foreach (var pair in sizes)
        {
            if (!known.TryGetValue(pair.Key, out var rank))
                throw new ArgumentException($"'{pair.Key}' is not a size of cascade '{cascade.Name}'; its sizes are {string.Join(", ", RequiredSizes(cascade).Select(s => s.Size))}.", nameof(sizes));
            if (rank.Kind == RankKind.PartitionOuter)
                throw new ArgumentException($"'{pair.Key}' is derived from the partition of {rank.PartitionOf!.ToUpperInvariant()}; bind {rank.PartitionOf.ToUpperInvariant()} and the tile size instead.", nameof(sizes));
            if (pair.Value < 0)
                throw new ArgumentException($"Size '{pair.Key}' is {pair.Value}; sizes must be zero or more.", nameof(sizes));
            if (rank.Kind == RankKind.PartitionInner && pair.Value == 0)
                throw new ArgumentException($"Tile size '{pair.Key}' is 0; a tile holds at least one element.", nameof(sizes));
        }

        var rankSizes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var rank in cascade.Ranks.Where(r => r.Kind != RankKind.PartitionOuter && r.AliasOf is null))
        {
            if (sizes.TryGetValue(rank.Size, out var value)) rankSizes[rank.Index] = value;
            else if (rank.DefaultSize is { } d) rankSizes[rank.Index] = d;
            else throw new ArgumentException($"Size '{rank.Size}' of cascade '{cascade.Name}' is not bound; pass a value for it.", nameof(sizes));
        }
        foreach (var rank in cascade.Ranks.Where(r => r.Kind == RankKind.PartitionOuter && r.AliasOf is null))
        {
            var inner = cascade.Ranks.First(r => r.Kind == RankKind.PartitionInner && r.AliasOf is null && r.PartitionOf == rank.PartitionOf);
            var tile = rankSizes[inner.Index];
            rankSizes[rank.Index] = (rankSizes[rank.PartitionOf!] + tile - 1) / tile;
        }

        foreach (var alias in cascade.Ranks.Where(r => r.AliasOf is not null))
            rankSizes[alias.Index] = rankSizes[alias.AliasOf!];

        var extents = cascade.Tensors.ToDictionary(t => t.Name, t => t.Dims.Select(d => rankSizes[d.Rank] + d.Offset).ToArray(), StringComparer.Ordinal);
        var shapes = new CascadeShapes(cascade.Ranks.ToDictionary(r => r.Index, r => r.AliasOf is null ? r.Size : r.Index.ToUpperInvariant(), StringComparer.Ordinal), rankSizes, extents, new Dictionary<string, long>(StringComparer.Ordinal));
        foreach (var block in cascade.Blocks)
        {
            var limit = rankSizes[block.Rank];
            long step = 0;
            var env = new Dictionary<string, long> { [block.Rank] = 0 };
            while (true)
            {
                env[block.Rank] = step;
                if (block.Stop.Holds(shapes.Evaluate(block.Stop.Left, env), shapes.Evaluate(block.Stop.Right, env))) break;
                if (step >= limit)
                    throw new ArgumentException($"The stop condition 'until {block.Stop}' of 'iterate {block.Rank}' does not hold for any {block.Rank} in 0..{limit} with these sizes.", nameof(sizes));
                step++;
            }
            shapes._steps[block.Rank] = step;
        }
        return shapes;
    }

    public long RankSize(string index) => _rankSizes[index];

    /// <summary>The value of a size by its name (<c>M</c>, or <c>B_size</c> when a tensor took the name <c>B</c>).</summary>
    public long SizeValue(string size)
    {
        foreach (var pair in _sizeNames)
            if (pair.Value == size) return _rankSizes[pair.Key];
        return _rankSizes[size.ToLowerInvariant()];
    }

    public IReadOnlyList<long> Extents(string tensor) => _extents[tensor];

    public long ElementCount(string tensor) => _extents[tensor].Aggregate(1L, (a, b) => a * b);

    /// <summary>Steps an iteration block runs for.</summary>
    public long Steps(string blockRank) => _steps[blockRank];

    public IReadOnlyDictionary<string, long> RankSizes => _rankSizes;

    public long Evaluate(IndexExpr e, IReadOnlyDictionary<string, long> indices) => e switch
    {
        IndexConstant c => c.Value,
        IndexVariable v => indices[v.Rank],
        IndexSize s => SizeValue(s.Size),
        IndexBinary b => IndexArithmetic.Apply(b.Operator, Evaluate(b.Left, indices), Evaluate(b.Right, indices)),
        _ => throw new InvalidOperationException("unknown index expression"),
    };

    public override string ToString() => string.Join(", ", _rankSizes.Select(p => _sizeNames[p.Key] + "=" + p.Value.ToString(CultureInfo.InvariantCulture)));
}
