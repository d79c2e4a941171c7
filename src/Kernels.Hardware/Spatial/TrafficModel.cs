using Kernels.Einsum.Analysis;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Hardware.Targets;

namespace Kernels.Hardware.Spatial;

/// <summary>DRAM traffic of a group of Einsums that runs as one kernel, with the query tile chosen for it.</summary>
/// <param name="Bytes">DRAM bytes for one instance (one batch element and head).</param>
/// <param name="QueryTile">Query rows (outer-rank points) held on chip at once.</param>
/// <param name="QueryTiles">ceil(queries / QueryTile): how often inputs indexed only by the inner rank (K, V) are streamed.</param>
/// <param name="Spilled">True when even the smallest query tile's live state did not fit: the O(inner) tensors go through DRAM.</param>
/// <param name="StateWordsPerQuery">Words held per query row (after spilling, if any).</param>
/// <param name="FootprintBytes">Buffer bytes the chosen tile occupies.</param>
public sealed record TrafficResult(
    double Bytes,
    long QueryTile,
    long QueryTiles,
    bool Spilled,
    IReadOnlyList<string> SpilledTensors,
    double StateWordsPerQuery,
    double SharedWords,
    double FootprintBytes);

/// <summary>
/// Per-pass DRAM traffic with tile choice and buffer occupancy.
/// </summary>
/// <remarks>
/// <para>What stays on chip per query row: tensors written in one pass and read in a later one (the
/// pass analysis's carried values: QK, GM, SN, SD for the 3-pass cascade), loop-carried state (one
/// step of RM, RD, RNV), and input rows indexed by the query rank but not the inner rank (Q). Shared
/// by every query: one tile (one array height along the inner rank) of each input indexed by the inner
/// rank but not the query rank (K, V), and inputs indexed by neither.</para>
/// <para>A held tensor occupies the buffer from the pass that writes it to the last pass that reads it, and the state
/// per query is that of the busiest pass. A tensor rewritten point for point into one of the same shape in its last
/// pass is overwritten in place (SN over QK): for the 3-pass cascade the busiest pass, the first, holds M + E + 1 words
/// per query (the QK row, GM, Q's row), not 2M + E + 2.</para>
/// <para>Tile choice: the query tile is g*k rows with g the target's granularity and k the largest
/// factor of ceil(P/g) for which (tile * state per query + shared) * word fits the buffer. If k = 1
/// does not fit, the tensors whose size grows with the inner rank spill: each is written once and
/// re-read once per later pass that reads it, and the tile is chosen again without them.</para>
/// <para>Traffic: query-indexed inputs and the outputs once; inner-only inputs once per query tile and
/// per pass that reads them; intermediates only when spilled or needed by another kernel.</para>
/// </remarks>
public static class TrafficModel
{
    public static TrafficResult Analyze(Cascade cascade, CascadeReport report, CascadeShapes shapes, ArrayBinding binding, SpatialTarget target, ISet<int> group)
    {
        var einsums = cascade.Einsums.Where(e => group.Contains(e.Id)).ToList();
        var passOf = PassNumbers(cascade, report, binding.InnerRoot);
        var word = (double)target.WordBytes;
        var inner = binding.InnerRanks;
        var outer = binding.OuterRanks;
        bool HasInner(Tensor t) => t.Dims.Any(d => inner.Contains(d.Rank));
        bool HasOuter(Tensor t) => t.Dims.Any(d => outer.Contains(d.Rank));

        var touched = einsums.SelectMany(e => e.Reads().Select(r => r.Tensor).Append(e.Output)).Distinct().ToList();
        var items = new List<Item>();
        foreach (var t in touched)
        {
            var writers = einsums.Where(e => e.Output.Name == t.Name).ToList();
            var writer = writers.FirstOrDefault(e => !e.IsInit) ?? writers.FirstOrDefault();
            var readers = einsums.Where(e => e.Reads().Any(r => r.Tensor.Name == t.Name) && e.Output.Name != t.Name).ToList();
            var readerPasses = readers.Select(e => passOf[e.Id]).Distinct().OrderBy(p => p).ToList();
            var size = (double)shapes.ElementCount(t.Name);
            var item = new Item(t, size, writer is not null, writer is null ? 0 : passOf[writer.Id], readerPasses,
                t.Role == TensorRole.Output || cascade.Einsums.Any(e => !group.Contains(e.Id) && e.Reads().Any(r => r.Tensor.Name == t.Name)),
                HasInner(t), HasOuter(t));

            // Words per query row (per outer index) when outer-indexed, else words shared by every query.
            double PerOuter(bool skipCarried)
            {
                var extents = shapes.Extents(t.Name);
                double w = 1;
                for (var d = 0; d < t.Dims.Count; d++)
                {
                    if (outer.Contains(t.Dims[d].Rank) || (skipCarried && d == t.CarriedDim)) continue;
                    w *= extents[d];
                }
                return w;
            }

            if (item.Internal)
            {
                var held = t.IsLoopCarried || readerPasses.Any(p => p > item.WritePass);
                if (held) item.HeldWords = PerOuter(t.IsLoopCarried);
            }
            else if (item.HasOuter && !item.HasInner)
            {
                item.HeldWords = PerOuter(false);
            }
            else if (item.HasInner && item.HasOuter)
            {
                if (readerPasses.Count >= 2) item.HeldWords = PerOuter(false);
            }
            else if (item.HasInner)
            {
                // One tile: an array height along the first inner dimension, one along any other inner one.
                var extents = shapes.Extents(t.Name);
                double w = 1;
                var first = true;
                for (var d = 0; d < t.Dims.Count; d++)
                {
                    if (inner.Contains(t.Dims[d].Rank))
                    {
                        w *= first ? Math.Min(extents[d], target.Array2D.Rows) : 1;
                        first = false;
                    }
                    else w *= extents[d];
                }
                item.HeldWords = w;
            }
            else
            {
                item.HeldWords = size;
            }
            items.Add(item);
        }
        SetLiveness(items, einsums, passOf);

        var queries = outer.Aggregate(1L, (acc, r) => acc * shapes.RankSize(r));
        var spilled = new List<Item>();
        var tile = ChooseTile(items, spilled, queries, target, word);
        if (tile is null)
        {
            spilled.AddRange(items.Where(i => i.HeldWords > 0 && i.HasInner && i.HasOuter));
            tile = ChooseTile(items, spilled, queries, target, word) ?? Math.Min(target.QueryTileGranularity, Math.Max(1, queries));
        }
        var queryTile = tile.Value;
        var tiles = (queries + queryTile - 1) / queryTile;

        double bytes = 0;
        foreach (var i in items)
        {
            var np = Math.Max(1, i.ReaderPasses.Count);
            if (!i.Internal)
            {
                if (i.ReaderPasses.Count == 0) continue;
                if (i.HasInner && !i.HasOuter && outer.Count > 0) bytes += i.Size * tiles * np;
                else if (i.HasInner && i.HasOuter && spilled.Contains(i)) bytes += i.Size * np;
                else bytes += i.Size;
                continue;
            }
            if (i.NeededOutside) bytes += i.Size;
            if (spilled.Contains(i))
            {
                if (!i.NeededOutside) bytes += i.Size;
                bytes += i.Size * i.ReaderPasses.Count(p => p > i.WritePass);
            }
        }
        var state = PerQuery(items, spilled);
        var shared = Shared(items, spilled);
        return new TrafficResult(bytes * word, queryTile, tiles, spilled.Count > 0, spilled.Select(i => i.Tensor.Name).ToList(),
            state, shared, (queryTile * state + shared) * word);
    }

    /// <summary>Words held per query row at the busiest pass: the sum over the tensors live in a pass, maximised over the passes.</summary>
    private static double PerQuery(List<Item> items, List<Item> spilled)
    {
        var held = items.Where(i => i.HasOuter && i.HeldWords > 0 && !spilled.Contains(i)).ToList();
        if (held.Count == 0) return 0;
        var passes = held.SelectMany(i => new[] { i.FirstLivePass, i.LastLivePass }).Distinct();
        return passes.Max(p => held.Where(i => i.FirstLivePass <= p && p <= i.LastLivePass).Sum(i => i.HeldWords));
    }

    /// <summary>
    /// The passes a held tensor occupies the buffer: from the pass that writes it (an input: its first reader's) to its last
    /// reader's. A tensor whose last pass rewrites it point for point into a tensor of the same shape
    /// (<c>SN[m,p] = exp(QK[m,p] - GM[p])</c>: every reader in that pass reads the point being written) hands its storage to
    /// that tensor: the new values overwrite the old ones in place, so the two are never live together.
    /// </summary>
    private static void SetLiveness(List<Item> items, List<ExtendedEinsum> einsums, Dictionary<int, int> passOf)
    {
        foreach (var i in items)
        {
            var first = i.Internal ? i.WritePass : i.ReaderPasses.DefaultIfEmpty(0).Min();
            i.FirstLivePass = first;
            i.LastLivePass = Math.Max(first, i.ReaderPasses.DefaultIfEmpty(first).Max());
        }
        foreach (var t in items.Where(i => i.HeldWords > 0 && i.HasOuter && i.LastLivePass > i.FirstLivePass))
        {
            var last = t.LastLivePass;
            var readers = einsums.Where(e => passOf[e.Id] == last && e.Output.Name != t.Tensor.Name).ToList();
            var reads = readers.SelectMany(e => e.Reads().Where(r => r.Tensor.Name == t.Tensor.Name).Select(r => (Einsum: e, Read: r))).ToList();
            var inPlace = reads.FirstOrDefault(x => x.Einsum.Reduction is null && !x.Einsum.IsInit && x.Read.Indices.SequenceEqual(x.Einsum.OutputIndices)
                && items.Any(o => o.Tensor.Name == x.Einsum.Output.Name && o.HeldWords == t.HeldWords && o.FirstLivePass == last));
            if (inPlace.Einsum is null || !reads.All(x => x.Read.Indices.SequenceEqual(inPlace.Einsum.OutputIndices))) continue;
            t.LastLivePass = last - 1;
        }
    }

    private static double Shared(List<Item> items, List<Item> spilled) =>
        items.Where(i => !i.HasOuter && !spilled.Contains(i)).Sum(i => i.HeldWords);

    private static long? ChooseTile(List<Item> items, List<Item> spilled, long queries, SpatialTarget target, double word)
    {
        var state = PerQuery(items, spilled);
        var shared = Shared(items, spilled);
        var g = target.QueryTileGranularity;
        var blocks = Math.Max(1, (queries + g - 1) / g);
        for (var k = blocks; k >= 1; k--)
        {
            if (blocks % k != 0) continue;
            var tile = Math.Min(queries, g * k);
            if ((tile * state + shared) * word <= target.BufferBytes) return Math.Max(1, tile);
        }
        return null;
    }

    /// <summary>The pass over the inner root each Einsum runs in; Einsums that do not read the root run in the latest pass of their producers.</summary>
    internal static Dictionary<int, int> PassNumbers(Cascade cascade, CascadeReport report, string innerRoot)
    {
        var result = new Dictionary<int, int>();
        foreach (var e in cascade.Einsums)
        {
            var r = report.Einsums.First(x => x.Id == e.Id);
            if (r.PassIndex.TryGetValue(innerRoot, out var p)) result[e.Id] = p;
            else result[e.Id] = ArrayBinder.Producers(cascade, e).Select(w => result.TryGetValue(w.Id, out var wp) ? wp : 0).DefaultIfEmpty(0).Max();
        }
        return result;
    }

    private sealed class Item(Tensor tensor, double size, bool @internal, int writePass, List<int> readerPasses, bool neededOutside, bool hasInner, bool hasOuter)
    {
        public Tensor Tensor { get; } = tensor;
        public double Size { get; } = size;
        public bool Internal { get; } = @internal;
        public int WritePass { get; } = writePass;
        public List<int> ReaderPasses { get; } = readerPasses;
        public bool NeededOutside { get; } = neededOutside;
        public bool HasInner { get; } = hasInner;
        public bool HasOuter { get; } = hasOuter;
        public double HeldWords { get; set; }
        public int FirstLivePass { get; set; }
        public int LastLivePass { get; set; }
    }
}
