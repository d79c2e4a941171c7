using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Binding;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Analysis;

/// <summary>
/// The FuseMax pass rule, fusion groups, live footprints and per-Einsum costs.
/// </summary>
/// <remarks>
/// For a root rank R (with its partitions and aliases), an Einsum reads R when its iteration space
/// holds one of those ranks, and fully reduces R when it reads R and its output keeps none of them.
/// Following the data flow (reads of a loop-carried value from the previous step are not edges),
/// every Einsum gets the number of full reductions of R on its longest input chain; an Einsum that
/// reads R after k of them runs in pass k. passes(R) = 1 + the largest such k among the readers.
/// </remarks>
public static class PassAnalysis
{
    private const long EnumerationLimit = 20_000_000;

    public static CascadeReport Analyze(Cascade cascade, IReadOnlyDictionary<string, int>? sizes = null)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        var shapes = sizes is null ? null : CascadeShapes.Bind(cascade, sizes);
        var einsums = cascade.Einsums;
        var producers = Producers(cascade, einsums);

        var rankPasses = new List<RankPasses>();
        var passIndex = einsums.ToDictionary(e => e.Id, _ => new Dictionary<string, int>(StringComparer.Ordinal));
        foreach (var root in cascade.Ranks.Where(r => r.Kind == RankKind.Plain && r.AliasOf is null))
        {
            var derived = cascade.Ranks.Where(r => r.Root == root.Index).Select(r => r.Index).ToList();
            var passes = AnalyzeRank(cascade, einsums, producers, root.Index, derived, shapes);
            if (passes is null) continue;
            rankPasses.Add(passes);
            foreach (var g in passes.Groups)
                foreach (var id in g.Einsums)
                    passIndex[id][root.Index] = g.Pass;
        }

        var reports = einsums.Select(e => Report(cascade, e, shapes, passIndex[e.Id])).ToList();
        var tensors = cascade.Tensors.Select(t => Describe(t, shapes?.Extents(t.Name))).ToList();
        var boundSizes = shapes is null ? null : cascade.Ranks.Where(r => r.AliasOf is null).ToDictionary(r => r.Size, r => shapes.RankSize(r.Index), StringComparer.Ordinal);
        return new CascadeReport(cascade.Name, tensors, reports, rankPasses, boundSizes);
    }

    /// <summary>For each Einsum, the Einsums whose output it reads in the same step (its data-flow predecessors).</summary>
    private static Dictionary<int, List<ExtendedEinsum>> Producers(Cascade cascade, IReadOnlyList<ExtendedEinsum> einsums)
    {
        var result = new Dictionary<int, List<ExtendedEinsum>>();
        foreach (var e in einsums)
        {
            var list = new List<ExtendedEinsum>();
            foreach (var read in e.Reads())
            {
                var writer = cascade.Writer(read.Tensor.Name);
                if (writer is null || writer.Id == e.Id) continue;
                if (writer.IterativeRank is { } rank && writer.IterativeRank == e.IterativeRank && !Binder.IsSameStepRead(read, writer, rank))
                    continue; // the previous step's value: carried, not a new pass
                if (!list.Contains(writer)) list.Add(writer);
            }
            result[e.Id] = list;
        }
        return result;
    }

    private static RankPasses? AnalyzeRank(Cascade cascade, IReadOnlyList<ExtendedEinsum> einsums, Dictionary<int, List<ExtendedEinsum>> producers,
        string root, List<string> derived, CascadeShapes? shapes)
    {
        bool Reads(ExtendedEinsum e) => e.Ranks.Any(derived.Contains);
        bool Carries(Tensor t) => t.Dims.Any(d => derived.Contains(d.Rank));
        bool FullyReduces(ExtendedEinsum e) => Reads(e) && !Carries(e.Output);
        // The final state of a recurrence over R (M[E,p] after 'iterate e'), read outside its block, is known only
        // once R has been traversed: for the reader that is a full reduction of R, like a sum (Welford's mean, then
        // the normalised row: 2 passes). Reads at the same step (BO[t1,t0,f]) are not.
        bool FinalState(ExtendedEinsum producer, ExtendedEinsum consumer) =>
            Reads(consumer) && producer.IterativeRank is { } r && derived.Contains(r) && consumer.IterativeRank != r && producer.Output.CarriedDim is { } dim
            && consumer.Reads().Any(read => read.Tensor.Name == producer.Output.Name && read.Indices[dim] is not IndexVariable);

        var readers = einsums.Where(Reads).ToList();
        if (readers.Count == 0) return null;

        // Evaluation order is a topological order of same-step data flow, so one sweep suffices.
        var level = new Dictionary<int, int>();
        foreach (var e in einsums)
        {
            var v = 0;
            foreach (var p in producers[e.Id])
                if (level.TryGetValue(p.Id, out var lp))
                    v = Math.Max(v, lp + (FullyReduces(p) || FinalState(p, e) ? 1 : 0));
            level[e.Id] = v;
        }
        var passes = 1 + readers.Max(e => level[e.Id]);

        // Outer ranks: those every computing reader iterates over (a query p for attention). Einsums that
        // only copy an input through a partition (BK = K[m1*M0 + m0, e]) compute nothing and are left out.
        var computing = readers.Where(e => e.Body is not TensorRead { Tensor.Role: TensorRole.Input }).ToList();
        var outer = (computing.Count > 0 ? computing : readers).Select(e => (IEnumerable<string>)e.Ranks)
            .Aggregate((a, b) => a.Intersect(b)).Where(r => !derived.Contains(r)).ToList();
        var groups = new List<PassGroup>();
        for (var k = 0; k < passes; k++)
        {
            var members = readers.Where(e => level[e.Id] == k).Select(e => e.Id).ToList();
            var live = new List<(Tensor Tensor, bool OneStep)>();
            foreach (var t in cascade.Tensors.Where(t => t.Role != TensorRole.Input))
            {
                var writer = cascade.Writer(t.Name);
                if (writer is null) continue;
                var wp = level[writer.Id];
                var readerPasses = einsums.Where(e => e.Reads().Any(r => r.Tensor.Name == t.Name) && e.Id != writer.Id).Select(e => level[e.Id]).ToList();
                var carriedIn = wp < k && readerPasses.Any(p => p >= k);
                var carriedOut = wp == k && readerPasses.Any(p => p > k);
                var state = t.IsLoopCarried && wp == k && Reads(writer);
                var accumulator = wp == k && FullyReduces(writer);
                if (carriedIn || carriedOut || accumulator) live.Add((t, false));
                else if (state) live.Add((t, true));
            }
            var footprint = SizePolynomial.Zero;
            foreach (var (t, oneStep) in live)
            {
                var elements = SizePolynomial.Constant(1);
                for (var d = 0; d < t.Dims.Count; d++)
                {
                    var dim = t.Dims[d];
                    if (outer.Contains(dim.Rank) || (oneStep && d == t.CarriedDim)) continue;
                    elements *= SizePolynomial.Size(cascade.Rank(dim.Rank).Size) + SizePolynomial.Constant(dim.Offset);
                }
                footprint += elements;
            }
            groups.Add(new PassGroup(k, members, live.Select(l => l.Tensor.Name).ToList(), footprint,
                shapes is null ? null : footprint.Evaluate(shapes.SizeValue)));
        }
        return new RankPasses(root, derived, passes, outer, groups);
    }

    private static EinsumReport Report(Cascade cascade, ExtendedEinsum e, CascadeShapes? shapes, IReadOnlyDictionary<string, int> passIndex)
    {
        var points = e.Ranks.Aggregate(SizePolynomial.Constant(1), (acc, r) => acc * SizePolynomial.Size(cascade.Rank(r).Size));
        var opsPerPoint = e.Body.OperationCount + (e.Reduction is null ? 0 : 1);
        var flops = opsPerPoint * points;

        var touched = e.Reads().Select(r => r.Tensor).Distinct().Concat(new[] { e.Output }).Distinct().ToList();
        var bytes = SizePolynomial.Zero;
        foreach (var t in touched)
        {
            var elements = t.Dims.Aggregate(SizePolynomial.Constant(1), (acc, d) => acc * (SizePolynomial.Size(cascade.Rank(d.Rank).Size) + SizePolynomial.Constant(d.Offset)));
            bytes += ElementBytes(t.ElementType) * elements;
        }

        double? pointsValue = null, flopsValue = null, bytesValue = null;
        if (shapes is not null)
        {
            pointsValue = CountPoints(e, shapes);
            flopsValue = pointsValue * opsPerPoint;
            bytesValue = bytes.Evaluate(shapes.SizeValue);
        }
        return Describe(e, opsPerPoint, points, flops, bytes, passIndex, pointsValue, flopsValue, bytesValue);
    }

    /// <summary>The report of one Einsum: what its IR says (output, kind, ranks, reads) with the given costs, which
    /// the analysis computes or a generated <see cref="KernelDescriptor"/> stores.</summary>
    public static EinsumReport Describe(ExtendedEinsum e, int operationsPerPoint, SizePolynomial points, SizePolynomial flops, SizePolynomial bytes,
        IReadOnlyDictionary<string, int> passIndex, double? pointsValue = null, double? flopsValue = null, double? bytesValue = null)
    {
        if (e is null) throw new ArgumentNullException(nameof(e));
        var kind = e.IsInit ? "init" : e.Reduction is null ? "map" : "reduce";
        return new EinsumReport(e.Id, e.Output.Name, e.Text, kind, e.Reduction?.ToString().ToLowerInvariant(), e.Ranks, e.ReducedRanks,
            e.Filters.Select(f => f.ToString()).ToList(), e.IterativeRank, e.IsInit, e.Reads().Select(r => r.Tensor.Name).Distinct().ToList(),
            operationsPerPoint, points, flops, bytes, pointsValue, flopsValue, bytesValue, passIndex);
    }

    /// <summary>The report of one tensor, with its extents when sizes are bound.</summary>
    public static TensorReport Describe(Tensor t, IReadOnlyList<long>? extents = null)
    {
        if (t is null) throw new ArgumentNullException(nameof(t));
        return new TensorReport(
            t.Name,
            t.Role.ToString().ToLowerInvariant(),
            t.ElementType switch { ElementType.Float16 => "f16", ElementType.BFloat16 => "bf16", ElementType.Int32 => "i32", _ => "f32" },
            t.Dims.Select(d => d.ToString()).ToList(),
            extents);
    }

    private static long ElementBytes(ElementType t) => t is ElementType.Float32 or ElementType.Int32 ? 4 : 2;

    /// <summary>Points of the iteration space that pass the filters: exact by enumeration of the filtered ranks, sampled when that would be too slow.</summary>
    private static double CountPoints(ExtendedEinsum e, CascadeShapes shapes)
    {
        // A filter that reads a tensor's value (where m < LEN[b]) is not known from the sizes: its points are all counted.
        var filters = e.Filters.Where(f => !f.Left.ReadsValues() && !f.Right.ReadsValues()).ToList();
        var filtered = filters.SelectMany(f => f.Left.Variables().Concat(f.Right.Variables())).Distinct().ToList();
        var free = e.Ranks.Where(r => !filtered.Contains(r)).Aggregate(1.0, (acc, r) => acc * shapes.RankSize(r));
        if (filtered.Count == 0) return free;

        var sizes = filtered.Select(shapes.RankSize).ToArray();
        var total = sizes.Aggregate(1.0, (a, b) => a * b);
        if (total == 0) return 0;
        var stride = 1L;
        while (sizes.Aggregate(1.0, (a, b) => a * Math.Ceiling(b / (double)stride)) > EnumerationLimit) stride *= 2;

        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        var counter = new long[sizes.Length];
        long passed = 0, visited = 0;
        while (true)
        {
            for (var i = 0; i < sizes.Length; i++) values[filtered[i]] = counter[i];
            visited++;
            if (filters.All(f => f.Holds(shapes.Evaluate(f.Left, values), shapes.Evaluate(f.Right, values)))) passed++;
            var d = sizes.Length - 1;
            while (d >= 0)
            {
                counter[d] += stride;
                if (counter[d] < sizes[d]) break;
                counter[d] = 0;
                d--;
            }
            if (d < 0) break;
        }
        return free * total * passed / visited;
    }
}
