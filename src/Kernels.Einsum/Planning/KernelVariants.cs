using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Planning;

/// <summary>
/// Everything the C# kernel of a cascade runs, decided before any code is printed: the cascade it is planned from (tile
/// copies read in place as the schedule places them, the rewrites done), the plan for sizes that divide the tiles, the
/// plan for other sizes when it differs, the plan for a call with few rows (K's tiles read in place), the intermediates
/// kept as log-sum-exp pairs, those that live in an output's memory, and the whole schedule the kernel prints. The
/// emitter prints these; it decides none of them.
/// </summary>
public sealed class KernelVariants
{
    private KernelVariants(Cascade source, Cascade planned, KernelPlan dense, KernelPlan general, bool twoPlans, KernelPlan? fewRows, Cascade? fewRowsCascade, Schedule? schedule)
    {
        (Source, Planned, Dense, General, TwoPlans, FewRows, FewRowsCascade) = (source, planned, dense, general, twoPlans, fewRows, fewRowsCascade);
        Plans = new[] { dense }.Concat(twoPlans ? new[] { general } : Array.Empty<KernelPlan>()).Concat(fewRows is null ? Array.Empty<KernelPlan>() : new[] { fewRows }).ToList();
        var pairs = PairTensors(planned, Plans);
        Pairs = pairs;
        // (A tile copy of an input computed into scratch stays there: its placement is 'view' or 'copy'.)
        var placeable = TileViews.Placeable(source);
        AliasCandidates = OutputAliases(planned, twoPlans ? new[] { dense, general } : new[] { dense }, pairs)
            .Where(p => !placeable.Contains(p.Key)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        Aliases = AliasCandidates.Where(p => schedule?.PlacementOf(p.Key) != TensorPlacement.Scratch).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        foreach (var plan in Plans.Append(general)) _choices.Add((plan, Choices(plan, schedule, plan == dense ? _splitErrors : null)));
        Chosen = WithSplits(WithPlacements(dense.Schedule, source, schedule, AliasCandidates.Keys.Select(t => new KeyValuePair<string, TensorPlacement>(t, Aliases.ContainsKey(t) ? TensorPlacement.Output : TensorPlacement.Scratch))), dense, ChoicesOf(dense));
        NonPositiveExps = fewRowsCascade is null ? ExpBounds.NonPositive(planned) : new HashSet<(int, string)>(ExpBounds.NonPositive(planned).Intersect(ExpBounds.NonPositive(fewRowsCascade)));
        FewRowsViews = fewRows is null ? Array.Empty<string>() : TileViews.Viewed(source, transposed: true, schedule).Except(TileViews.Viewed(source, transposed: false, schedule)).ToList();
    }

    /// <summary>The cascade as the spec wrote it (the schedule's tiles applied).</summary>
    public Cascade Source { get; }

    /// <summary>The cascade the main plans are made from (<see cref="PlannedCascade"/>).</summary>
    public Cascade Planned { get; }

    /// <summary>The plan for sizes that divide their tiles (or any sizes, with partial tiles as loop bounds).</summary>
    public KernelPlan Dense { get; }

    /// <summary>The plan for any sizes, tracking absent points as the interpreter does.</summary>
    public KernelPlan General { get; }

    /// <summary>True when the kernel runs <see cref="General"/> for sizes <see cref="Dense"/> does not serve.</summary>
    public bool TwoPlans { get; }

    /// <summary>The plan for fewer than <c>KernelRuntime.FewRows</c> rows of the parallel rank (a decode step), which reads
    /// in place the tile copies the others store in the micro-kernel's panels (<see cref="FewRowsViews"/>), or null.</summary>
    public KernelPlan? FewRows { get; }

    /// <summary>The cascade <see cref="FewRows"/> is made from.</summary>
    public Cascade? FewRowsCascade { get; }

    /// <summary>The tile copies <see cref="FewRows"/> reads in place and the other plans store.</summary>
    public IReadOnlyList<string> FewRowsViews { get; }

    /// <summary>Every plan the kernel may run.</summary>
    public IReadOnlyList<KernelPlan> Plans { get; }

    /// <summary>
    /// Log-sum-exp results kept as two floats, the maximum and log(sum exp(x - max)): <c>exp(x - LSE)</c> is then
    /// <c>exp((x - max) - log(sum))</c>, exact to float rounding however large the maximum, where one float for
    /// LSE would lose its low bits (softmax of [1e4, 1e4] gave 0.49989, of [1e7, 1e7] 0.3679).
    /// </summary>
    public IReadOnlyCollection<string> Pairs { get; }

    /// <summary>
    /// The exps whose argument is at most 0 by construction (<see cref="ExpBounds"/>), as (Einsum id, the exp as printed),
    /// in every cascade the kernel is planned from: <c>exp(x - max x)</c>, whose vectors need no clamp from above.
    /// </summary>
    public ISet<(int Einsum, string Exp)> NonPositiveExps { get; }

    /// <summary>
    /// Intermediates that live in an output's memory instead of scratch (buffer reuse): S[i..] consumed point by
    /// point by the one Einsum that writes an output Y[i..] of the same ranks, and read by nothing after it. Y's
    /// region then holds S until Y overwrites each point with its own value: softmax's numerator is written once,
    /// summed, and scaled in place, with no scratch row however long the row is.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> Aliases { get; }

    /// <summary>Every intermediate that may live in an output's memory, with that output: <see cref="Aliases"/> unless the
    /// schedule keeps it in scratch (<c>place S scratch</c>).</summary>
    public IReadOnlyDictionary<string, Tensor> AliasCandidates { get; }

    /// <summary>The whole schedule the kernel runs (<see cref="ChosenSchedule"/>).</summary>
    public Schedule Chosen { get; }

    private readonly List<(KernelPlan Plan, ThreadAndCopyChoices Choices)> _choices = new();

    /// <summary>How <paramref name="plan"/> splits work across threads beyond its parallel rank, and which copies it moves as blocked transposes.</summary>
    public ThreadAndCopyChoices ChoicesOf(KernelPlan plan) => _choices.First(x => ReferenceEquals(x.Plan, plan)).Choices;

    /// <summary>The storage an access of <paramref name="tensor"/> goes to: its own, or the output's it lives in.</summary>
    public TensorStorage StorageOf(KernelPlan plan, Tensor tensor) => plan.Storage[Aliases.TryGetValue(tensor.Name, out var y) ? y.Name : tensor.Name];

    /// <summary>The <c>split</c> directives the main plan cannot honour (KRN0036).</summary>
    public IReadOnlyList<ScheduleError> SplitErrors => _splitErrors;

    private readonly List<ScheduleError> _splitErrors = new();

    /// <summary>The plan's schedule with every thread split it could make: the rank, or off where the schedule turned it off.</summary>
    private static Schedule WithSplits(Schedule planned, KernelPlan plan, ThreadAndCopyChoices choices)
    {
        var splits = new List<KeyValuePair<string, string?>>();
        foreach (var e in plan.Cascade.Einsums.Where(x => choices.SplitCandidates.ContainsKey(x.Id) && plan.Cascade.Writer(x.Output.Name) == x))
            splits.Add(new KeyValuePair<string, string?>(e.Output.Name,
                choices.HoistedSplits.TryGetValue(e.Id, out var r) || choices.RowSplits.TryGetValue(e.Id, out r) ? r : null));
        return splits.Count == 0 ? planned : planned.With(new Schedule { Splits = splits });
    }

    private ThreadAndCopyChoices Choices(KernelPlan plan, Schedule? schedule, List<ScheduleError>? errors)
    {
        var c = plan.Cascade;
        HashSet<string> Edges(ExtendedEinsum e) => new(plan.EdgeBounds is { } all && all.TryGetValue(e.Id, out var b) ? b.Select(x => x.Inner) : Array.Empty<string>(), StringComparer.Ordinal);
        List<string> Outer(ExtendedEinsum e, EinsumPlan p) => p.LoopOrder.Where(r => !e.ReducedRanks.Contains(r)).ToList();
        bool Apart(ExtendedEinsum e) => !plan.Folded.Contains(e.Id) && !plan.Folds.ContainsKey(e.Id) && !plan.Fusions.ContainsKey(e.Id) && !plan.Fusions.Values.Contains(e.Id);

        // The Einsums before the parallel loop (or of a plan without one) split their first loop across the threads: past
        // the batch ranks split with the parallel rank (b, h), since a batch of one would leave a copy on one thread; not
        // a contraction, nor over the bounded inner rank of a partial tile.
        var hoisted = new Dictionary<int, string>();
        foreach (var e in plan.Hoisted.Where(s => s.Einsum is not null).Select(s => s.Einsum!).Where(Apart))
        {
            var p = plan.Einsums[e.Id];
            if (p.Lowering == EinsumLowering.Contraction) continue;
            var loops = Outer(e, p);
            var first = loops.FirstOrDefault(r => !plan.OuterSlices.Contains(r)) ?? loops.FirstOrDefault();
            // A copy packed into panels is packed a whole block of its two inner dimensions at a time.
            if (plan.Storage[e.Output.Name].Panels is { } panels && first is not null
                && (RankAt(e.OutputIndices[panels.K]) == first || RankAt(e.OutputIndices[panels.J]) == first)) continue;
            if (first is not null && !Edges(e).Contains(first)) hoisted[e.Id] = first;
        }

        // With one row at a time (no blocks of rows, no iteration block in a row), each row's Einsums that map or reduce
        // over their vector rank alone split it across the threads (a reduction merges its parts): fewer rows than threads
        // then still use every core. A fused map and reduction split together, over the reduction's rank.
        var rows = new Dictionary<int, string>();
        if (!plan.RowBlocks && plan.OuterSlices.Count == 0 && plan.SliceRank is not null && !plan.Sliced.Any(s => s.Block is not null))
        {
            foreach (var e in plan.Sliced.Where(s => s.Einsum is not null).Select(s => s.Einsum!))
            {
                if (plan.Folded.Contains(e.Id) || plan.Folds.ContainsKey(e.Id) || plan.Fusions.ContainsKey(e.Id)) continue;
                var p = plan.Einsums[e.Id];
                var edges = Edges(e);
                if (c.Einsums.FirstOrDefault(x => plan.Fusions.TryGetValue(x.Id, out var r) && r == e.Id) is { } map) edges.UnionWith(Edges(map));
                if (p.VectorRank is not { } v || edges.Contains(v)) continue;
                var whole = e.Reduction is null
                    ? p.Lowering == EinsumLowering.VectorRow && Outer(e, p).SequenceEqual(new[] { v })
                    : p.Lowering == EinsumLowering.VectorReduce && Outer(e, p).Count == 0 && p.LoopOrder.Where(r => e.ReducedRanks.Contains(r)).SequenceEqual(new[] { v });
                if (whole) rows[e.Id] = v;
            }
        }

        // The schedule turns splits off (split T off) or names the one it expects (split T RANK): an Einsum has one
        // candidate at most, the rank found above.
        var candidates = hoisted.Concat(rows).ToDictionary(x => x.Key, x => x.Value);
        foreach (var pair in schedule?.Splits ?? Array.Empty<KeyValuePair<string, string?>>())
        {
            var e = c.Writer(pair.Key);
            var has = e is not null && candidates.ContainsKey(e.Id);
            if (pair.Value is null) { if (has) { hoisted.Remove(e!.Id); rows.Remove(e.Id); } continue; }
            if (has && candidates[e!.Id] == pair.Value) continue;
            errors?.Add(new ScheduleError(schedule!.DirectiveOf("split", pair.Key), e is null
                ? KernelPlanner.NotComputed(c, "split", pair.Key)
                : has
                    ? $"'split {pair.Key} {pair.Value}': the Einsum for '{pair.Key}' can split only {candidates[e.Id]} across the threads ({(hoisted.ContainsKey(e.Id) ? "the first loop of an Einsum that runs before the parallel loop, past the batch ranks" : "the vector rank of a map or reduction over it alone, when rows run one at a time")}). Write 'split {pair.Key} {candidates[e.Id]}' or 'split {pair.Key} off'."
                    : $"'split {pair.Key} {pair.Value}': the kernel splits no loop of the Einsum for '{pair.Key}' across the threads beyond the parallel rank: it splits the first loop of an Einsum that runs before the parallel loop (not a contraction, nor a partial tile's bounded rank) and, when rows run one at a time, the vector rank of a map or reduction over it alone. Write 'split {pair.Key} off' or remove the directive."));
        }

        // A copy whose innermost rank in the output is not the innermost in the source and the other way round
        // (BK[m1,e,m0] = K[m1*M0 + m0, e]) runs as the runtime's blocked transpose, unless its split rank is one of the two.
        var transposes = new Dictionary<int, (string Row, string Column)>();
        foreach (var e0 in c.Einsums.Where(x => plan.Einsums[x.Id].Lowering == EinsumLowering.Dense && Apart(x)))
        {
            var e = plan.Fills.ContainsKey(e0.Id) ? e0 with { Filters = Array.Empty<Comparison>() } : e0; // the fill pass applies the filters
            if (e.Reduction is not null || e.Filters.Count > 0 || e.Body is not TensorRead r || plan.Storage[e.Output.Name].Panels is not null) continue;
            static string? Innermost(TensorStorage s, IReadOnlyList<IndexExpr> indices)
            {
                for (var i = s.StorageOrder.Count - 1; i >= 0; i--)
                {
                    var d = s.StorageOrder[i];
                    if (s.Dims[d] == DimStorage.Dropped) continue;
                    return s.Dims[d] == DimStorage.Kept && indices[d] is IndexVariable v ? v.Rank : null;
                }
                return null;
            }
            var (output, source) = (StorageOf(plan, e.Output), StorageOf(plan, r.Tensor));
            var loops = Outer(e, plan.Einsums[e.Id]);
            var row = Innermost(output, e.OutputIndices);
            var column = Innermost(source, r.Indices);
            var split = hoisted.TryGetValue(e.Id, out var h) ? h : null;
            if (row is null || column is null || row == column || !loops.Contains(row) || !loops.Contains(column) || split == row || split == column) continue;
            if (output.HasPresence || source.HasPresence || r.Tensor.ElementType == ElementType.Int32) continue;
            if (KernelPlanner.AffineCoefficient(r.Indices.Last(i => i.Variables().Contains(row)), row) is not > 0) continue;
            if (UnitStride(output, e.OutputIndices, row) && UnitStride(source, r.Indices, column)) transposes[e.Id] = (row, column);
        }
        return new ThreadAndCopyChoices(hoisted, rows, rows.Count > 0, transposes) { SplitCandidates = candidates };
    }

    private static string? RankAt(IndexExpr index) => index is IndexVariable v ? v.Rank : null;

    /// <summary>Whether the access steps one element in memory per step of <paramref name="rank"/>: the rank in the
    /// innermost stored dimension alone, with coefficient 1.</summary>
    private static bool UnitStride(TensorStorage s, IReadOnlyList<IndexExpr> indices, string rank)
    {
        var dims = s.StorageOrder.Where(d => s.Dims[d] != DimStorage.Dropped).ToList();
        var moving = dims.Where(d => KernelPlanner.AffineCoefficient(indices[d], rank) is not 0).ToList();
        return moving.Count == 1 && moving[0] == dims[dims.Count - 1] && KernelPlanner.AffineCoefficient(indices[moving[0]], rank) == 1;
    }

    /// <summary>The plans of the C# kernel of <paramref name="cascade"/> (its schedule's tiles applied) under <paramref name="schedule"/>.</summary>
    public static KernelVariants Choose(Cascade cascade, Schedule? schedule)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        var planned = PlannedCascade(cascade, schedule);
        var dense = KernelPlanner.Plan(planned, assumeDivisible: true, schedule);
        var general = KernelPlanner.Plan(planned, assumeDivisible: false, schedule);
        // A plan that bounds its partial tiles is exact for every size: then it is the only one.
        var twoPlans = dense.AssumesDivisible && !(dense.EdgeBounds is not null && dense.EdgeBoundsNeedNonEmpty.Count == 0) && !dense.SameLoweringAs(general);
        // With few rows per call, a copy stored in the micro-kernel's panels (K's and V's tiles) costs more than it saves:
        // a plan that reads it in place too runs then, where it is exact (sizes that divide, or bounded partial tiles).
        // (Unless the schedule places them: 'place BK copy' keeps the copy for every call, 'place BK view' reads it in place for every call.)
        KernelPlan? fewRows = null;
        Cascade? fewRowsCascade = null;
        if (!TileViews.Viewed(cascade, transposed: true, schedule).SequenceEqual(TileViews.Viewed(cascade, transposed: false, schedule)))
        {
            var views = Rewrite(TileViews.Apply(cascade, transposed: true, schedule));
            var few = KernelPlanner.Plan(views, assumeDivisible: true, schedule);
            if (few.SliceRank is not null && (!few.AssumesDivisible || few.EdgeBounds is not null))
                (fewRows, fewRowsCascade) = (few, views);
        }
        return new KernelVariants(cascade, planned, dense, general, twoPlans, fewRows, fewRowsCascade, schedule);
    }

    /// <summary>
    /// The cascade a C# kernel is planned and printed from: tile copies of inputs read in place (<see cref="TileViews"/>),
    /// sums split from factors that do not vary with the summed rank (<see cref="ReductionFactors"/>), and inputs read
    /// across an iteration block's steps copied with its rank outermost (<see cref="StepTransposes"/>).
    /// </summary>
    /// <param name="cascade">The cascade, its schedule's tiles applied.</param>
    /// <param name="schedule">Its placements choose which tile copies are read in place (<c>place BK view|copy</c>).</param>
    public static Cascade PlannedCascade(Cascade cascade, Schedule? schedule = null) => Rewrite(TileViews.Apply(cascade, schedule: schedule));

    /// <summary>
    /// The whole schedule the C# kernel of <paramref name="cascade"/> runs with <paramref name="schedule"/>'s choices:
    /// the plan's (<see cref="KernelPlan.Schedule"/>) and where each tile copy of an input lives. For fewer than
    /// <c>KernelRuntime.FewRows</c> rows the kernel may also read the copies it stores in place, unless the schedule places them.
    /// </summary>
    public static Schedule ChosenSchedule(Cascade cascade, Schedule? schedule = null)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        if (schedule is not null) cascade = schedule.ApplyTiles(cascade);
        return Choose(cascade, schedule).Chosen;
    }

    /// <summary>A plan's schedule with the placement of every tile copy that may be read in place, then of every
    /// intermediate that may live in an output's memory.</summary>
    private static Schedule WithPlacements(Schedule planned, Cascade cascade, Schedule? schedule, IEnumerable<KeyValuePair<string, TensorPlacement>> aliases)
    {
        var viewed = TileViews.Viewed(cascade, transposed: false, schedule);
        var placements = TileViews.Placeable(cascade).Select(t => new KeyValuePair<string, TensorPlacement>(t, viewed.Contains(t) ? TensorPlacement.View : TensorPlacement.Copy)).Concat(aliases).ToList();
        return placements.Count == 0 ? planned : planned.With(new Schedule { Placements = placements });
    }

    /// <summary>
    /// The choices of <paramref name="schedule"/> the C# kernel of <paramref name="cascade"/> cannot honour (KRN0036, at
    /// their directives), found on the cascade the kernel is planned from (<see cref="PlannedCascade"/>, the schedule's
    /// tiles applied), so that every order and lowering the kernel's header prints is accepted back. A directive that
    /// names a tile copy the kernel reads in place is told so.
    /// </summary>
    public static IReadOnlyList<ScheduleError> ScheduleErrors(Cascade cascade, Schedule schedule)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        if (schedule is null) throw new ArgumentNullException(nameof(schedule));
        cascade = schedule.ApplyTiles(cascade);
        var variants = Choose(cascade, schedule);
        var planned = variants.Planned;
        var errors = variants.Dense.ScheduleErrors.Concat(variants.SplitErrors).ToList();
        var placeable = TileViews.Placeable(cascade);
        var candidates = variants.AliasCandidates;
        foreach (var pair in schedule.Placements.Where(p => p.Value is TensorPlacement.Output or TensorPlacement.Scratch))
            if (!candidates.ContainsKey(pair.Key))
                errors.Add(new ScheduleError(schedule.DirectiveOf("place", pair.Key),
                    $"'{pair.Key}' cannot live in an output's memory; 'place T output|scratch' chooses where an intermediate lives when it is written point by point (no filter, no reduction, outside any iteration block) and read only by the one Einsum that writes an output of the same ranks at the same point, with nothing reading that output before{(candidates.Count == 0 ? ", and this cascade has none" : $": this cascade's are {string.Join(", ", candidates.Keys)}")}. Remove the directive."));
        foreach (var pair in schedule.Placements.Where(p => p.Value is TensorPlacement.View or TensorPlacement.Copy))
            if (!placeable.Contains(pair.Key))
                errors.Add(new ScheduleError(schedule.DirectiveOf("place", pair.Key),
                    $"'{pair.Key}' is not a tile copy of an input that can be read in place; 'place' chooses where such a copy lives (T[..] = X[..] over every point of T, outside any iteration block, read only inside its extent){(placeable.Count == 0 ? ", and this cascade has none" : $": this cascade's are {string.Join(", ", placeable)}")}. Remove the directive."));
        for (var i = 0; i < errors.Count; i++)
            if (errors[i].Directive is { Subject: { } tensor, Keyword: "lower" or "order" or "fuse" or "split" } d && planned.Tensors.All(t => t.Name != tensor)
                && cascade.Tensors.Any(t => t.Name == tensor && t.Role == TensorRole.Intermediate))
                errors[i] = new ScheduleError(d, $"'{tensor}' is a tile copy of an input that the kernel reads in place (a view): no Einsum computes it, so '{d.Keyword} {tensor}' has nothing to apply to; remove the directive.");
        return errors;
    }

    /// <summary>The rewrites after the tile views: sums split from their factors that do not vary with the summed rank
    /// (<see cref="ReductionFactors"/>), inputs read across the steps copied (<see cref="StepTransposes"/>).</summary>
    private static Cascade Rewrite(Cascade views) => Log2Scores.Apply(StepTransposes.Apply(ReductionFactors.Apply(views)));

    /// <summary>Intermediates written by one log-sum-exp reduction that every plan lowers without absent points.</summary>
    private static HashSet<string> PairTensors(Cascade c, IReadOnlyList<KernelPlan> plans)
    {
        var pairs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in c.Tensors.Where(t => t.Role == TensorRole.Intermediate))
        {
            var writers = c.Einsums.Where(e => e.Output.Name == t.Name).ToList();
            if (writers.Count != 1 || writers[0].Reduction != ReduceOperator.LogSumExp) continue;
            if (plans.All(p => !p.Storage.ContainsKey(t.Name) || (p.Storage[t.Name] is { Home: not TensorHome.Argument, HasPresence: false }
                && p.Einsums[writers[0].Id].Lowering is EinsumLowering.VectorReduce or EinsumLowering.Dense)))
                pairs.Add(t.Name);
        }
        return pairs;
    }

    private static Dictionary<string, Tensor> OutputAliases(Cascade c, IReadOnlyList<KernelPlan> plans, HashSet<string> pairs)
    {
        // (A tile copy read in place by the few-rows plan is never an alias: it is no output's operand.)
        var aliases = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var order = c.Einsums.ToList();
        bool Plain(ExtendedEinsum e) => e.Filters.Count == 0 && !c.Blocks.Any(b => b.Einsums.Contains(e) || b.Inits.Contains(e))
            && e.OutputIndices.Select(i => i is IndexVariable v ? v.Rank : null).SequenceEqual(e.Output.Dims.Select(d => (string?)d.Rank))
            && e.Output.Dims.All(d => d.Offset == 0);
        foreach (var y in c.Outputs)
        {
            var yWriters = order.Where(e => e.Output.Name == y.Name).ToList();
            if (yWriters.Count != 1 || yWriters[0].Reduction is not null || !Plain(yWriters[0])) continue;
            var wy = yWriters[0];
            if (plans.Any(p => p.Storage[y.Name] is not { Home: TensorHome.Argument, HasPresence: false } || p.Storage[y.Name].Dims.Any(d => d != DimStorage.Kept))) continue;
            foreach (var read in wy.Body.Reads().Select(r => r.Tensor).Distinct())
            {
                if (read.Role != TensorRole.Intermediate || pairs.Contains(read.Name) || aliases.ContainsKey(read.Name) || aliases.Values.Contains(y)) continue;
                if (!read.Dims.Select(d => d.Rank).SequenceEqual(y.Dims.Select(d => d.Rank))) continue;
                var writers = order.Where(e => e.Output.Name == read.Name).ToList();
                if (writers.Count != 1 || !Plain(writers[0]) || writers[0].Reduction is not null) continue;
                if (plans.Any(p => p.Storage[read.Name].HasPresence || p.Storage[read.Name].Order is not null || p.Einsums[writers[0].Id].Lowering == EinsumLowering.Exact)) continue;
                if (plans.Any(p => order.Any(e => p.Einsums[e.Id].Lowering == EinsumLowering.Contraction && (e.Output.Name == read.Name || e.Body.Reads().Any(r => r.Tensor.Name == read.Name))))) continue;
                // Read only at Y's own point by Y's writer, and by nothing after it.
                var point = string.Join(",", wy.OutputIndices);
                if (wy.Body.Reads().Any(r => r.Tensor.Name == read.Name && string.Join(",", r.Indices) != point)) continue;
                if (order.Skip(order.IndexOf(wy) + 1).Any(e => e.Body.Reads().Any(r => r.Tensor.Name == read.Name))) continue;
                if (order.Take(order.IndexOf(wy)).Any(e => e.Body.Reads().Any(r => r.Tensor.Name == y.Name))) continue;
                // A vector loads or stores consecutive floats: every Einsum vectorised over v that touches the tensor
                // must find v contiguous in Y's layout too (Y's last rank), as it is in the tensor's own scratch.
                var last = y.Dims.Count == 0 ? null : y.Dims[y.Dims.Count - 1].Rank;
                IEnumerable<IndexExpr> Accesses(ExtendedEinsum e) =>
                    (e.Output.Name == read.Name ? e.OutputIndices : Enumerable.Empty<IndexExpr>())
                    .Concat(e.Body.Reads().Where(r => r.Tensor.Name == read.Name).SelectMany(r => r.Indices));
                if (plans.Any(p => order.Any(e => p.Einsums[e.Id].VectorRank is { } v && v != last && Accesses(e).Any(i => i.Variables().Contains(v))))) continue;
                aliases[read.Name] = y;
            }
        }
        return aliases;
    }
}

/// <summary>
/// What a C# kernel's plan does beyond its parallel rank: the Einsums before the parallel loop that split their first
/// loop across the threads (by id, with the rank), the Einsums of a row that split their vector rank across the threads
/// when rows run one at a time (<see cref="SplitsRows"/>: the kernel has a method for few rows that does so), and the
/// copies moved as blocked transposes (by id, with the output's and the source's innermost ranks).
/// </summary>
public sealed record ThreadAndCopyChoices(IReadOnlyDictionary<int, string> HoistedSplits, IReadOnlyDictionary<int, string> RowSplits, bool SplitsRows,
    IReadOnlyDictionary<int, (string Row, string Column)> Transposes)
{
    /// <summary>Every split the plan could make (by id, with the rank), before the schedule turned any off.</summary>
    public IReadOnlyDictionary<int, string> SplitCandidates { get; init; } = new Dictionary<int, string>();
}
