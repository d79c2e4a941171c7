using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Planning;

/// <summary>
/// Chooses the loop nests of a generated kernel from the cascade's structure alone:
/// <list type="bullet">
/// <item>a parallel rank: a rank every Einsum keeps as an output rank and nobody reduces or shifts, so
/// each thread runs the whole cascade for its slice of it and intermediates lose that dimension;</item>
/// <item>block-local tensors: produced and consumed within one step of an iteration block, so they
/// lose the block's rank (a tile of FuseMax's scores is M0 floats, not M);</item>
/// <item>rolling tensors: loop-carried state read at r and written at r+1 keeps two slots;</item>
/// <item>presence: which tensors can have absent points (filters, reads past a tensor's edge) and so
/// need the interpreter's exact merge semantics, and which are dense;</item>
/// <item>per Einsum, the vector rank: the innermost reduced rank if every operand is contiguous in it,
/// else the innermost output rank under the same condition, else scalar.</item>
/// </list>
/// With <c>assumeDivisible</c>, reads such as <c>K[m1*M0 + m0, e]</c> are taken to stay inside the
/// tensor (M is a multiple of M0); the generated kernel checks that at run time and otherwise runs
/// the plan made without the assumption.
/// </summary>
public static class KernelPlanner
{
    /// <param name="cascade">The cascade to plan.</param>
    /// <param name="assumeDivisible">Plan for sizes that divide their tiles (the kernel checks at run time).</param>
    /// <param name="schedule">The choices asked for (null or <see cref="Schedule.Default"/>: the planner makes them all).
    /// A choice that cannot be honoured is left to the planner and reported in <see cref="KernelPlan.ScheduleErrors"/>.</param>
    /// <param name="fillFilters">Let filters on output ranks store a fill instead of tracking absent points
    /// (<see cref="FilterFills"/>); false for a sink that follows the interpreter's presence exactly (the HLS C++).</param>
    public static KernelPlan Plan(Cascade cascade, bool assumeDivisible, Schedule? schedule = null, bool fillFilters = true)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        schedule ??= Schedule.Default;
        var errors = new List<ScheduleError>();
        void Reject(string keyword, string? subject, string message) => errors.Add(new ScheduleError(schedule.DirectiveOf(keyword, subject), message));
        // The tiles are checked against the spec's partitions, then become the plan's cascade's sizes (idempotent).
        foreach (var tile in schedule.Tiles)
            if (TileProblem(cascade, tile.Key) is { } problem) Reject("tile", tile.Key, problem);
        cascade = schedule.ApplyTiles(cascade);
        // Filters on output ranks that a stored value can stand for (FilterFills): those Einsums keep their fast lowering.
        var (fills, fillHolders) = fillFilters ? FilterFills.Choose(cascade) : (new Dictionary<int, double>(), Array.Empty<string>());
        var slice = schedule.Serial ? null : ChooseSliceRank(cascade, fills);
        if (!schedule.Serial && schedule.Parallel is { } asked)
        {
            if (CanSlice(cascade, asked)) slice = asked;
            else Reject("parallel", null, ParallelProblem(cascade, asked));
        }
        // Other ranks every Einsum of the slice keeps (batch, heads): their points are independent too, so the threads take
        // (outer point, block of rows) pairs and the slice's scratch drops them, instead of keeping them per slice.
        var outerSlices = slice is null ? new List<string>() : OuterSlices(cascade, slice);
        var divisibility = new List<(string, string, string)>();
        var writers = cascade.Einsums.GroupBy(e => e.Output.Name).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var candidates = new Dictionary<int, List<ContractionShape>>();
        foreach (var e in cascade.Einsums)
            if (MatchContraction(e, slice is not null && Involves(e, slice) ? slice : null, writers, fills) is { Count: > 0 } shapes) candidates[e.Id] = shapes;
        // Rows of the parallel rank are blocked when a contraction has it as its row or column rank: the matrix-vector
        // product per row becomes a matrix product per block. Otherwise one row at a time keeps every row's scratch in L1.
        var rowBlocks = schedule.RowBlocks ?? (slice is not null && candidates.Values.SelectMany(c => c).Any(g => g.I == slice || g.J == slice));
        // (The attribute's RowBlocking, a choice made without a directive, is a preference: moot without a parallel rank.)
        if (schedule.RowBlocks == true && slice is null && schedule.DirectiveOf("rows") is not null)
            Reject("rows", null, "'rows blocked' needs a parallel rank whose rows to block, and this schedule has none; remove 'serial' or 'rows blocked'.");

        // Storage shape (independent of presence).
        var dims = new Dictionary<string, DimStorage[]>(StringComparer.Ordinal);
        foreach (var tensor in cascade.Tensors)
        {
            var d = Enumerable.Repeat(DimStorage.Kept, tensor.Rank).ToArray();
            if (tensor.Role == TensorRole.Intermediate)
            {
                var sliceLocal = slice is not null && tensor.Dims.Any(x => x.Rank == slice);
                for (var i = 0; i < tensor.Rank; i++)
                    if (slice is not null && tensor.Dims[i].Rank == slice) d[i] = rowBlocks ? DimStorage.Blocked : DimStorage.Dropped;
                    else if (sliceLocal && outerSlices.Contains(tensor.Dims[i].Rank)) d[i] = DimStorage.Dropped;
                ApplyBlockStorage(cascade, tensor, d);
            }
            dims[tensor.Name] = d;
        }

        // Blocks of elementwise recurrences run a chunk of steps at a time: their state-independent Einsums vectorise along the steps.
        var chunks = ChunkSteps(cascade, dims, candidates);
        var chunked = new HashSet<int>(chunks.Values.SelectMany(c => c.Before.Concat(c.After)));

        // Presence: iterate to a fixed point because loop-carried tensors are read before they are written.
        var sparse = new HashSet<string>(StringComparer.Ordinal);
        foreach (var block in cascade.Blocks)
            foreach (var e in block.Inits.Concat(block.Einsums))
                if (e.Output.IsLoopCarried && !IsStandardStop(cascade, block)) sparse.Add(e.Output.Name);
        var carriedSparse = sparse.ToList();
        void Presence()
        {
            bool changed;
            do
            {
                changed = false;
                foreach (var e in cascade.Einsums)
                    if (NeedsExact(cascade, e, sparse, assumeDivisible, divisibility, fills) && sparse.Add(e.Output.Name))
                        changed = true;
            }
            while (changed);
        }
        Presence();
        // A fill is a value: an Einsum that tracks absent points would take it for a present one. Where one of them
        // writes or reads a tensor that holds fills (a read past a partial tile's edge, say), every filter stays exact.
        if (fills.Count > 0 && cascade.Einsums.Any(e => sparse.Contains(e.Output.Name)
                && (fills.ContainsKey(e.Id) || fillHolders.Contains(e.Output.Name) || e.Reads().Any(r => fillHolders.Contains(r.Tensor.Name)))))
        {
            fills = new Dictionary<int, double>();
            fillHolders = Array.Empty<string>();
            sparse = new HashSet<string>(carriedSparse, StringComparer.Ordinal);
            Presence();
        }

        var readTensors = new HashSet<string>(cascade.Einsums.SelectMany(e => e.Reads()).Select(r => r.Tensor.Name), StringComparer.Ordinal);
        var storage = new Dictionary<string, TensorStorage>(StringComparer.Ordinal);
        foreach (var tensor in cascade.Tensors)
        {
            var home = tensor.Role != TensorRole.Intermediate ? TensorHome.Argument
                : slice is not null && tensor.Dims.Any(x => x.Rank == slice) ? TensorHome.SliceLocal
                : TensorHome.Shared;
            var presence = sparse.Contains(tensor.Name) && tensor.Role != TensorRole.Input
                && (tensor.Role == TensorRole.Intermediate || readTensors.Contains(tensor.Name));
            storage[tensor.Name] = new TensorStorage(tensor, dims[tensor.Name], home, presence) { MayBeAbsent = sparse.Contains(tensor.Name) && tensor.Role != TensorRole.Input };
        }
        // Of the two ways to read a contraction (either operand as A), the first whose output has the column rank innermost.
        var contractions = new Dictionary<int, ContractionShape>();
        foreach (var e in cascade.Einsums)
            if (candidates.TryGetValue(e.Id, out var shapes) && shapes.FirstOrDefault(g => StrideOne(e.OutputIndices, storage[e.Output.Name], g.J, allowOffset: false)) is { } chosen)
                contractions[e.Id] = chosen;
        // A contraction's right operand is read along the column rank: an intermediate stores that rank innermost.
        var reordered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var shape in contractions.Values)
        {
            var b = storage[shape.B.Tensor.Name];
            if (b.Tensor.Role != TensorRole.Intermediate || b.HasPresence || b.MayBeAbsent || !reordered.Add(b.Tensor.Name)) continue;
            var jd = Enumerable.Range(0, shape.B.Indices.Count).FirstOrDefault(d => shape.B.Indices[d].Variables().Contains(shape.J));
            if (b.Dims[jd] != DimStorage.Kept) continue;
            var order = b.StorageOrder.Where(d => d != jd).Append(jd).ToList();
            if (!order.SequenceEqual(b.StorageOrder)) storage[b.Tensor.Name] = b with { Order = order };
        }
        // An output read by a later Einsum and carrying presence needs scratch flags; keep it simple:
        // such outputs keep their values in the span and their flags in shared scratch of the same shape.

        var hoisted = new List<CascadeStep>();
        var sliced = new List<CascadeStep>();
        foreach (var step in cascade.Steps)
        {
            if (slice is null) { hoisted.Add(step); continue; }
            if (step.Einsum is { } e)
                (Involves(e, slice) ? sliced : hoisted).Add(step);
            else
                (step.Block!.Inits.Concat(step.Block.Einsums).Any(x => Involves(x, slice)) ? sliced : hoisted).Add(step);
        }

        foreach (var pair in schedule.Lowerings)
            if (cascade.Writer(pair.Key) is null)
                Reject("lower", pair.Key, cascade.Tensors.Any(t => t.Name == pair.Key)
                    ? $"'{pair.Key}' is an input; 'lower' names a tensor that an Einsum computes ({string.Join(", ", cascade.Einsums.Where(x => !x.IsInit).Select(x => x.Output.Name))})."
                    : $"The cascade has no tensor '{pair.Key}'; 'lower' names a tensor that an Einsum computes ({string.Join(", ", cascade.Einsums.Where(x => !x.IsInit).Select(x => x.Output.Name))}).");

        var plans = new Dictionary<int, EinsumPlan>();
        foreach (var e in cascade.Einsums)
        {
            var inSlice = slice is not null && Involves(e, slice);
            var choice = e.IsInit ? null : schedule.LoweringOf(e.Output.Name);
            plans[e.Id] = PlanEinsum(cascade, e, storage, sparse, assumeDivisible, inSlice ? slice : null, rowBlocks, divisibility, choice,
                message => Reject("lower", e.Output.Name, message), inSlice ? outerSlices : null, fills, chunked);
            // (A batch rank split across threads is one point per piece of work: it cannot be a contraction's rows or columns.)
            var contractible = contractions.TryGetValue(e.Id, out var shape) && plans[e.Id].Lowering != EinsumLowering.Exact
                && ((shape.I != slice && shape.J != slice) || rowBlocks) && Contractible(shape, e, storage, sparse)
                && !(inSlice && (outerSlices.Contains(shape.I) || outerSlices.Contains(shape.J)));
            if (contractible && choice is null or { Kind: LoweringKind.Contraction })
                plans[e.Id] = new EinsumPlan(e, EinsumLowering.Contraction, shape!.Batch.Where(r => (r != slice || rowBlocks) && !(inSlice && outerSlices.Contains(r))).ToList(), null, inSlice) { Contraction = shape };
            else if (choice is { Kind: LoweringKind.Contraction })
                Reject("lower", e.Output.Name, NotContractible(e, candidates.TryGetValue(e.Id, out var c) ? c : null, shape, slice, rowBlocks, plans[e.Id]));
        }
        if (schedule.RowBlocks is null && rowBlocks && !plans.Values.Any(x => x.Contraction is { } g && (g.I == slice || g.J == slice)))
            return Plan(cascade, assumeDivisible, schedule.With(new Schedule { RowBlocks = false }), fillFilters); // no contraction gained from blocks
        foreach (var pair in schedule.Orders)
        {
            var computing = cascade.Einsums.Where(x => !x.IsInit && x.Output.Name == pair.Key).ToList();
            if (computing.Count == 0) Reject("order", pair.Key, NotComputed(cascade, "order", pair.Key));
            foreach (var e in computing)
            {
                if (OrderProblem(plans[e.Id], pair.Value) is { } problem) Reject("order", pair.Key, problem);
                else plans[e.Id] = plans[e.Id] with { LoopOrder = pair.Value.ToList() };
            }
        }
        var distinct = divisibility.Distinct().ToList();
        var edges = assumeDivisible && distinct.Count > 0 ? EdgeBounds(cascade, plans, distinct) : null;
        var folds = schedule.Folds == false ? new Dictionary<int, RescaleFold>() : RescaleFolds(cascade, plans, storage, sparse, fills);
        var folded = folds.Values.SelectMany(f => f.Rescale is { } s ? new[] { f.Contraction.Id, s.Id } : new[] { f.Contraction.Id }).ToList();
        // What a folded Einsum computes lives only in the micro-kernel's registers: its output is never stored, so it
        // keeps no scratch (unless something else reads it).
        foreach (var e in cascade.Einsums.Where(x => folded.Contains(x.Id) && x.Output.Role == TensorRole.Intermediate))
            if (cascade.Einsums.Where(x => x.Body.Reads().Any(r => r.Tensor.Name == e.Output.Name)).All(x => folded.Contains(x.Id) || folds.ContainsKey(x.Id))
                && cascade.Einsums.Count(x => x.Output.Name == e.Output.Name) == 1)
                storage[e.Output.Name] = storage[e.Output.Name] with { Dims = storage[e.Output.Name].Dims.Select(_ => DimStorage.Dropped).ToList() };
        Panels(cascade, plans, storage, hoisted);
        var maxFolds = schedule.Folds == false ? new Dictionary<int, int>() : MaxFolds(cascade, plans, storage, sparse, folded, fills);
        var (fusionCandidates, fusions) = Fusions(cascade, plans, storage, hoisted, sliced, chunks, folded, folds, schedule, Reject);
        var skipSteps = SkipSteps(cascade, fills, storage, slice is null ? null : sliced);
        return new KernelPlan(cascade, assumeDivisible && distinct.Count > 0, distinct, slice, storage, hoisted, sliced, plans)
        {
            OuterSlices = outerSlices,
            ScheduleErrors = errors,
            FoldsAsked = schedule.Folds,
            RowBlocks = rowBlocks && slice is not null,
            BlockRows = rowBlocks && slice is not null ? schedule.BlockRows : null,
            EdgeBounds = edges?.Bounds,
            EdgeBoundsNeedNonEmpty = edges?.NonEmpty ?? Array.Empty<string>(),
            Folds = folds,
            MaxFolds = maxFolds,
            Fills = fills,
            SkipSteps = skipSteps,
            StepClips = skipSteps.Keys.Select(r => cascade.Blocks.First(b => b.Rank == r))
                .Select(b => (b.Rank, Clips: FilterFills.ClippableBy(b, fills, outerSlices.Append(b.Rank).Concat(slice is null ? Array.Empty<string>() : new[] { slice }).ToList())))
                .Where(x => x.Clips.Count > 0).ToDictionary(x => x.Rank, x => x.Clips, StringComparer.Ordinal),
            Chunks = chunks,
            Folded = folded,
            Fusions = fusions,
            FusionCandidates = fusionCandidates,
        };
    }

    /// <summary>
    /// Copies stored in the micro-kernel's panels (<see cref="TensorStorage.Panels"/>): a copy computed once before the
    /// parallel loop (K's tiles, <c>BK[b,h,m1,m0,e] = K[b,h,m1*M0 + m0, e]</c>) and read only as the right operand of
    /// contractions, each read at the first row and column of the same two dimensions, is packed as it is copied. Every
    /// block of rows then reads its panels in place, where a plain copy had each call copy strips of it again: read with
    /// a stride, those missed L1 at a stall a row (attention, L = 2048, D = 64, one core: 6% of the
    /// time in the strip copy; 77 -> 79.5 GFLOP/s with the panels). The copy costs what it did; the values are the same.
    /// </summary>
    private static void Panels(Cascade cascade, Dictionary<int, EinsumPlan> plans, Dictionary<string, TensorStorage> storage, List<CascadeStep> hoisted)
    {
        var before = new HashSet<int>(hoisted.Where(s => s.Einsum is not null).Select(s => s.Einsum!.Id));
        foreach (var name in plans.Values.Where(p => p.Lowering == EinsumLowering.Contraction).Select(p => p.Contraction!.B.Tensor.Name).Distinct().ToList())
        {
            var s = storage[name];
            if (s.Tensor.Role != TensorRole.Intermediate || s.Home != TensorHome.Shared || s.HasPresence || s.MayBeAbsent || s.Dims.Any(d => d != DimStorage.Kept)) continue;
            var writers = cascade.Einsums.Where(x => x.Output.Name == name).ToList();
            if (writers.Count != 1) continue;
            var copy = writers[0];
            if (!before.Contains(copy.Id) || copy.IsInit || copy.Reduction is not null || copy.Filters.Count > 0 || copy.Body is not TensorRead
                || plans[copy.Id].Lowering is not (EinsumLowering.Dense or EinsumLowering.VectorRow) || copy.OutputIndices.Any(i => i is not IndexVariable)
                || copy.OutputIndices.Select(i => ((IndexVariable)i).Rank).Distinct().Count() != copy.OutputIndices.Count) continue;
            (int K, int J)? dims = null;
            var only = true;
            var readers = new HashSet<int>();
            foreach (var e in cascade.Einsums)
                foreach (var read in e.Reads().Where(r => r.Tensor.Name == name))
                {
                    readers.Add(e.Id);
                    int At(string rank) => Enumerable.Range(0, read.Indices.Count).Where(d => read.Indices[d] is IndexVariable v && v.Rank == rank).DefaultIfEmpty(-1).First();
                    if (plans[e.Id] is not { Lowering: EinsumLowering.Contraction, Contraction: { } g } || g.A.Tensor.Name == name) { only = false; continue; }
                    var (k, j) = (At(g.K), At(g.J));
                    if (k < 0 || j < 0 || (dims is { } seen && seen != (k, j))) only = false;
                    else dims = (k, j);
                }
            if (!only || dims is not { } kj) continue;
            var order = s.StorageOrder.Where(d => d != kj.K && d != kj.J).Append(kj.K).Append(kj.J).ToList();
            var source = (TensorRead)copy.Body;
            var column = ((IndexVariable)copy.OutputIndices[kj.J]).Rank;
            var inPlace = source.Tensor.Role == TensorRole.Input && source.Indices[source.Indices.Count - 1] is IndexVariable { Rank: var last } && last == column
                && source.Indices.Take(source.Indices.Count - 1).All(i => AffineCoefficient(i, column) == 0);
            // One contraction whose factors are the same everywhere (attention's rsqrt(E) log2(e)): they scale the panels
            // as they are packed instead of every sum as the micro-kernel stores it (see TensorStorage.PanelFactors).
            var factors = !inPlace && readers.Count == 1 && plans[readers.First()].Contraction!.Factors is { Count: > 0 } f && f.All(Uniform) ? f : null;
            storage[name] = s with { Order = order.SequenceEqual(s.StorageOrder) ? s.Order : order, Panels = kj, PanelsMayBeTheSource = inPlace, PanelFactors = factors };
            // The pack is one runtime call per point of the other ranks, whatever loop the copy was lowered to (V's
            // tiles, contiguous along their columns, were vectorised over them).
            if (plans[copy.Id].Lowering != EinsumLowering.Dense)
                plans[copy.Id] = plans[copy.Id] with { Lowering = EinsumLowering.Dense, VectorRank = null, LoopOrder = ScalarLoopOrder(plans[copy.Id]) };
        }
    }

    /// <summary>Whether <paramref name="x"/> has one value for the whole call: constants, sizes and scalar inputs.</summary>
    private static bool Uniform(Expr x) => x switch
    {
        Constant or SizeValue => true,
        TensorRead r => r.Tensor.Role == TensorRole.Input && r.Tensor.Rank == 0,
        Unary u => Uniform(u.Operand),
        Binary b => Uniform(b.Left) && Uniform(b.Right),
        _ => false,
    };

    /// <summary>
    /// Row maxima folded into a contraction's store (<see cref="KernelPlan.MaxFolds"/>): <c>M[.., i] = max[j] C[.., j, i]</c>
    /// reading, at its own point, the output of the contraction <c>C = A*B</c> (row rank i, column rank j) that comes
    /// before it in the same list of steps, with nothing between them that reads M; C dense and stored, its filters (if
    /// any) a fill, M dense and stored along i. Recognised from the structure alone (attention's <c>LM = max[m0] BQK</c> in every one-pass spec).
    /// </summary>
    private static Dictionary<int, int> MaxFolds(Cascade cascade, Dictionary<int, EinsumPlan> plans, IReadOnlyDictionary<string, TensorStorage> storage, HashSet<string> sparse,
        IReadOnlyCollection<int> folded, IReadOnlyDictionary<int, double> fills)
    {
        var found = new Dictionary<int, int>();
        var lists = new List<IReadOnlyList<ExtendedEinsum>> { cascade.Steps.Where(s => s.Einsum is not null).Select(s => s.Einsum!).ToList() };
        lists.AddRange(cascade.Blocks.Select(b => (IReadOnlyList<ExtendedEinsum>)b.Einsums.ToList()));
        foreach (var list in lists)
            for (var at = 0; at < list.Count; at++)
            {
                var e = list[at];
                if (e.IsInit || e.Reduction != ReduceOperator.Max || e.Filters.Count > 0 || e.ReducedRanks.Count != 1 || e.Body is not TensorRead read
                    || plans[e.Id].Lowering == EinsumLowering.Exact || sparse.Contains(e.Output.Name) || cascade.Einsums.Count(x => x.Output.Name == e.Output.Name) != 1)
                    continue;
                var before = list.Take(at).ToList();
                var c = before.LastOrDefault(x => x.Output.Name == read.Tensor.Name);
                // C's filters must be a fill (a pass after the call writes its left-out points): that pass takes the maxima of
                // the rows it filled again, where the maxima taken as the micro-kernel stored them saw the unfilled values.
                if (c is null || folded.Contains(c.Id) || found.ContainsKey(c.Id) || (c.Filters.Count > 0 && !fills.ContainsKey(c.Id))
                    || plans[c.Id] is not { Lowering: EinsumLowering.Contraction, Contraction: { } g }) continue;
                if (sparse.Contains(c.Output.Name) || storage[c.Output.Name].HasPresence || storage[c.Output.Name].Dims.All(d => d == DimStorage.Dropped)) continue;
                // M reads C at C's own point, reduces C's column rank and keeps every other rank of C.
                if (read.Indices.Count != c.OutputIndices.Count || !read.Indices.Zip(c.OutputIndices, (x, y) => x is IndexVariable u && y is IndexVariable v && u.Rank == v.Rank).All(same => same)) continue;
                if (e.ReducedRanks[0] != g.J || e.OutputIndices.Any(ix => ix is not IndexVariable)) continue;
                var kept = e.OutputIndices.Select(ix => ((IndexVariable)ix).Rank).ToList();
                if (!kept.OrderBy(r => r, StringComparer.Ordinal).SequenceEqual(c.OutputRanks.Where(r => r != g.J).OrderBy(r => r, StringComparer.Ordinal))) continue;
                // The maxima are written a row of i apart: i must be stored (not a single slot) in M.
                var s = storage[e.Output.Name];
                var row = kept.IndexOf(g.I);
                if (row < 0 || s.HasPresence || s.MayBeAbsent || s.Dims[row] is not (DimStorage.Kept or DimStorage.Blocked)) continue;
                // Computed at C's call instead of its own place: nothing between them may read M.
                var from = before.LastIndexOf(c);
                if (list.Skip(from + 1).Take(at - from - 1).Any(x => x.Reads().Any(r => r.Tensor.Name == e.Output.Name))) continue;
                found[c.Id] = e.Id;
            }
        return found;
    }

    /// <summary>Why <c>order</c> or another directive may not name <paramref name="tensor"/>: no Einsum computes it.</summary>
    internal static string NotComputed(Cascade cascade, string keyword, string tensor) =>
        (cascade.Tensors.Any(t => t.Name == tensor) ? $"'{tensor}' is an input; '{keyword}' names a tensor that an Einsum computes"
            : $"The cascade has no tensor '{tensor}'; '{keyword}' names a tensor that an Einsum computes")
        + $" ({string.Join(", ", cascade.Einsums.Where(x => !x.IsInit).Select(x => x.Output.Name).Distinct())}).";

    /// <summary>
    /// Why <paramref name="asked"/> is not a loop order of the Einsum's lowering, or null when it is: the same loops, the
    /// output ranks outside the reduced ones (a reduction accumulates over the reduced loops for each output point, or
    /// into the output row of a vectorised row), and a vector rank innermost. A contraction's loops (around its
    /// micro-kernel call) may come in any order.
    /// </summary>
    private static string? OrderProblem(EinsumPlan plan, IReadOnlyList<string> asked)
    {
        var e = plan.Einsum;
        var loops = plan.LoopOrder;
        var name = e.Output.Name;
        var how = plan.Describe();
        var stray = asked.FirstOrDefault(r => !loops.Contains(r));
        if (stray is not null || asked.Count != loops.Count)
        {
            var why = stray is null ? $"it leaves out {string.Join(", ", loops.Where(r => !asked.Contains(r)))}"
                : !e.Ranks.Contains(stray) ? $"'{stray}' is not a rank of that Einsum"
                : plan.Lowering == EinsumLowering.Contraction && plan.Contraction is { } g && (stray == g.I || stray == g.J || stray == g.K) ? $"'{stray}' is looped inside the micro-kernel"
                : $"'{stray}' is not a loop of its own there (the parallel split or an iteration block's step fixes it)";
            return $"'order {name} {string.Join(" ", asked)}' does not name the loops of the Einsum for '{name}' ({how}), which are {(loops.Count == 0 ? "none" : string.Join(", ", loops))}: {why}. "
                + (loops.Count == 0 ? "Remove the directive." : $"Write 'order {name} {string.Join(" ", loops)}' or another order of those loops.");
        }
        if (plan.Lowering == EinsumLowering.Contraction) return null;
        var reduced = e.ReducedRanks.ToList();
        var v = plan.VectorRank;
        var lastOuter = asked.Select((r, i) => (r, i)).Where(x => !reduced.Contains(x.r) && x.r != v).Select(x => x.i).DefaultIfEmpty(-1).Max();
        var firstReduced = asked.Select((r, i) => (r, i)).Where(x => reduced.Contains(x.r) && x.r != v).Select(x => x.i).DefaultIfEmpty(int.MaxValue).Min();
        var ok = lastOuter < firstReduced && (v is null || asked[asked.Count - 1] == v);
        if (ok) return null;
        var rule = string.Join(" and ", new[] { reduced.Count > 0 ? "its output ranks loop outside its reduced ranks" : null, v is null ? null : $"its vector rank {v} is innermost" }.Where(x => x is not null));
        return $"'order {name} {string.Join(" ", asked)}' is not a loop order of the Einsum for '{name}' ({how}): {rule}. Write 'order {name} {string.Join(" ", loops)}' or another order that keeps that shape.";
    }

    /// <summary>
    /// The map-then-reduce fusions (a row reduction with a pointwise prologue): a map vectorised as a row over v and, right
    /// after it in the same list of steps, a sum, product, max or min over v alone, vectorised over v, with the same outer
    /// loops, reading the map's row only at the point just written. One sweep then computes both and the row is not read
    /// back. Pairs are taken from the left (a reduction fused with its map is no map of the next); a schedule's
    /// <c>fuse MAP off</c> keeps a pair apart and <c>fuse MAP REDUCTION</c> asks for one (KRN0036 when it cannot be).
    /// Returns every pair that could fuse, and the pairs that do (by the map's id).
    /// </summary>
    private static (List<(int Map, int Reduce)> Candidates, Dictionary<int, int> Chosen) Fusions(Cascade cascade, Dictionary<int, EinsumPlan> plans,
        Dictionary<string, TensorStorage> storage, List<CascadeStep> hoisted, List<CascadeStep> sliced, IReadOnlyDictionary<string, StepChunk> chunks,
        IReadOnlyCollection<int> folded, IReadOnlyDictionary<int, RescaleFold> folds, Schedule schedule, Action<string, string?, string> reject)
    {
        var candidates = new List<(int, int)>();
        var chosen = new Dictionary<int, int>();
        // The lists of steps the kernel runs in order (the top level before and inside the parallel loop, each iteration
        // block's step, a chunked block's serial chain); an iteration block in a list separates its neighbours.
        var lists = new List<List<ExtendedEinsum?>> { hoisted.Select(s => s.Einsum).ToList(), sliced.Select(s => s.Einsum).ToList() };
        foreach (var block in cascade.Blocks)
        {
            var moved = chunks.TryGetValue(block.Rank, out var chunk) ? new HashSet<int>(chunk.Before.Concat(chunk.After)) : new HashSet<int>();
            lists.Add(block.Einsums.Where(x => !moved.Contains(x.Id)).Select(x => (ExtendedEinsum?)x).ToList());
        }
        var next = new Dictionary<int, ExtendedEinsum>();
        foreach (var list in lists)
        {
            for (var i = 0; i + 1 < list.Count; i++)
            {
                if (list[i] is not { } map || list[i + 1] is not { } reduce) continue;
                next[map.Id] = reduce;
                if (folded.Contains(map.Id) || folds.ContainsKey(map.Id) || folded.Contains(reduce.Id) || folds.ContainsKey(reduce.Id)) continue;
                if (FusionProblem(plans, storage, map, reduce) is not null) continue;
                candidates.Add((map.Id, reduce.Id));
                if (schedule.FusionOf(map.Output.Name, out var asked) && asked is null) continue;
                chosen[map.Id] = reduce.Id;
                i++;
            }
        }
        foreach (var pair in schedule.Fusions)
        {
            var map = cascade.Writer(pair.Key);
            if (map is null) { reject("fuse", pair.Key, NotComputed(cascade, "fuse", pair.Key)); continue; }
            if (pair.Value is not { } wanted || (chosen.TryGetValue(map.Id, out var r) && cascade.Einsums.First(x => x.Id == r).Output.Name == wanted)) continue;
            string why;
            if (cascade.Writer(wanted) is null) why = NotComputed(cascade, "fuse", wanted).Replace("'fuse' names a tensor", "'fuse' names as its second tensor one");
            else if (!next.TryGetValue(map.Id, out var after) || after.Output.Name != wanted)
                why = $"'{wanted}' is not computed by the step right after the one for '{pair.Key}' ({(next.TryGetValue(map.Id, out var a) ? $"that computes '{a.Output.Name}'" : "none follows it in its loop nest")}); a map fuses with the reduction that follows it.";
            else if (folded.Contains(map.Id) || folds.ContainsKey(map.Id) || folded.Contains(after.Id) || folds.ContainsKey(after.Id))
                why = $"'{(folded.Contains(map.Id) || folds.ContainsKey(map.Id) ? pair.Key : wanted)}' is computed in a contraction's micro-kernel call (a folded running sum); write 'fold off' to fuse it.";
            else if (FusionProblem(plans, storage, map, after) is { } problem) why = problem;
            else why = $"the Einsum for '{cascade.Einsums.First(x => chosen.TryGetValue(x.Id, out var y) && y == map.Id).Output.Name}' before it already fuses with '{pair.Key}'; write 'fuse {cascade.Einsums.First(x => chosen.TryGetValue(x.Id, out var y) && y == map.Id).Output.Name} off' first.";
            reject("fuse", pair.Key, $"'fuse {pair.Key} {wanted}' cannot be honoured: {why}{(why.EndsWith(".", StringComparison.Ordinal) ? "" : ".")} Write 'fuse {pair.Key} off' or remove the directive.");
        }
        return (candidates, chosen);
    }

    /// <summary>Why a map and the reduction after it cannot run as one sweep (<see cref="Fusions"/>), or null when they can.</summary>
    private static string? FusionProblem(Dictionary<int, EinsumPlan> plans, Dictionary<string, TensorStorage> storage, ExtendedEinsum map, ExtendedEinsum reduce)
    {
        var pm = plans[map.Id];
        var pr = plans[reduce.Id];
        if (map.Reduction is not null) return $"the Einsum for '{map.Output.Name}' reduces; the first of a fusion is a map";
        if (pm.Lowering != EinsumLowering.VectorRow) return $"the Einsum for '{map.Output.Name}' is {pm.Describe()}, not a row vectorised over its innermost rank";
        if (pr.Lowering != EinsumLowering.VectorReduce) return $"the Einsum for '{reduce.Output.Name}' is {pr.Describe()}, not a vectorised reduction";
        if (map.Filters.Count > 0 || reduce.Filters.Count > 0) return "a filtered Einsum runs on its own";
        if (reduce.Reduction is not (ReduceOperator.Sum or ReduceOperator.Prod or ReduceOperator.Max or ReduceOperator.Min)) return $"a {reduce.Reduction!.Value.ToString().ToLowerInvariant()} reduction runs on its own (only sum, prod, max and min fuse)";
        var v = pm.VectorRank!;
        List<string> Outer(ExtendedEinsum e, EinsumPlan p) => p.LoopOrder.Where(r => !e.ReducedRanks.Contains(r)).ToList();
        if (pr.VectorRank != v || !pr.LoopOrder.Where(r => reduce.ReducedRanks.Contains(r)).SequenceEqual(new[] { v }))
            return $"the reduction for '{reduce.Output.Name}' is not over {v} alone, the rank the map's row is vectorised over";
        if (!Outer(map, pm).Where(r => r != v).SequenceEqual(Outer(reduce, pr)))
            return $"their outer loops differ ({string.Join(", ", Outer(map, pm).Where(r => r != v))} and {string.Join(", ", Outer(reduce, pr))})";
        if (storage[map.Output.Name].HasPresence) return $"'{map.Output.Name}' keeps presence flags";
        var point = string.Join(",", map.OutputIndices);
        var reads = reduce.Reads().Where(r => r.Tensor.Name == map.Output.Name).ToList();
        if (reads.Count == 0) return $"the reduction for '{reduce.Output.Name}' does not read '{map.Output.Name}'";
        if (reads.Any(r => string.Join(",", r.Indices) != point)) return $"the reduction reads '{map.Output.Name}' at other points than the one the map just wrote";
        if (map.Reads().Any(r => r.Tensor.Name == reduce.Output.Name)) return $"the map reads '{reduce.Output.Name}'";
        return null;
    }

    /// <summary>
    /// The iteration blocks whose steps can be skipped when a filled Einsum leaves out every point of the step (a tile of
    /// keys after every query of a causal block): <see cref="FilterFills.SkippableBy"/> proves such a step changes no
    /// carried tensor, and the storage lets the kernel skip it: each carried tensor in two slots in the same method as the
    /// block (so the kernel can count the steps it ran instead of the slots it passed), read after the block only at the
    /// block's end, and nothing else the block writes read after it.
    /// </summary>
    private static Dictionary<string, IReadOnlyList<int>> SkipSteps(Cascade cascade, IReadOnlyDictionary<int, double> fills, IReadOnlyDictionary<string, TensorStorage> storage, List<CascadeStep>? sliced)
    {
        var skips = new Dictionary<string, IReadOnlyList<int>>(StringComparer.Ordinal);
        if (fills.Count == 0) return skips;
        foreach (var block in cascade.Blocks)
        {
            if (!IsStandardStop(cascade, block) || (sliced is not null && !sliced.Any(s => s.Block == block))) continue;
            var ids = FilterFills.SkippableBy(cascade, block, fills);
            if (ids.Count == 0) continue;
            var inside = new HashSet<int>(block.Einsums.Concat(block.Inits).Select(e => e.Id));
            var outside = cascade.Einsums.Where(e => !inside.Contains(e.Id)).ToList();
            var size = cascade.Rank(block.Rank).Size;
            var ok = true;
            foreach (var e in block.Einsums)
            {
                var t = e.Output;
                var reads = outside.SelectMany(x => x.Reads()).Where(r => r.Tensor.Name == t.Name).ToList();
                if (t.CarriedDim is { } c)
                    ok &= storage[t.Name].Dims[c] == DimStorage.Rolling && (sliced is null || storage[t.Name].Home == TensorHome.SliceLocal)
                        && reads.All(r => r.Indices[c] is IndexSize z && z.Size == size);
                else
                    ok &= reads.Count == 0;
            }
            if (ok) skips[block.Rank] = ids;
        }
        return skips;
    }

    /// <summary>The partitions a kernel must check to run the dense plan (empty: only one plan).</summary>
    public static IReadOnlyList<(string Outer, string Inner, string Of)> DivisibilityChecks(Cascade cascade) =>
        Plan(cascade, assumeDivisible: true).DivisibilityAssumed;

    // ---------------------------------------------------------------- parallel rank

    private static string? ChooseSliceRank(Cascade cascade, IReadOnlyDictionary<int, double> fills)
    {
        string? best = null;
        var bestScore = 0;
        foreach (var rank in cascade.Ranks)
        {
            if (!CanSlice(cascade, rank.Index)) continue;
            var score = cascade.Einsums.Count(e => Involves(e, rank.Index));
            if (score > bestScore)
            {
                best = rank.Index;
                bestScore = score;
            }
        }
        // A rank that keeps every Einsum of the chosen one's slice but its copies of inputs (K[h,m,e] into tiles), and
        // that the chosen one is a batch rank of: split over both (p with h outer in multi-head attention), so its blocks
        // of rows make matrix products while the copies run before, split over their own first rank.
        // Only a rank that is a contraction's rows or columns: otherwise the inner rank is the one the maps vectorise over.
        // In a cascade with no contraction at all (a recurrence over channels, batch outer: the selective scan), or where
        // the rank is innermost in no tensor an Einsum computes (the heads of linear attention, batch outer), it is split
        // too, so that one batch element still occupies every core.
        if (best is not null)
        {
            var writers = cascade.Einsums.GroupBy(e => e.Output.Name).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
            var products = cascade.Einsums.Any(e => MatchContraction(e, null, writers, fills).Count > 0);
            var inner = cascade.Ranks.Where(rank => rank.Index != best && CanSlice(cascade, rank.Index) && OuterSlices(cascade, rank.Index).Contains(best)
                && cascade.Einsums.Where(e => Involves(e, best)).All(e => Involves(e, rank.Index) || IsInputCopy(e))).Select(r => r.Index).ToList();
            // A contraction's rows first (the query rows of attention, with batch and heads outer), then any other.
            foreach (var rank in inner)
                if (cascade.Einsums.Any(e => Involves(e, rank) && MatchContraction(e, rank, writers, fills).Any(g => g.I == rank || g.J == rank)))
                    return rank;
            foreach (var rank in inner)
                if (!products || !InnermostOfAComputedTensor(cascade, rank))
                    return rank;
        }
        return best;
    }

    private static bool Involves(ExtendedEinsum e, string rank) => e.Ranks.Contains(rank);

    /// <summary>True when some tensor an Einsum computes has the rank as its last dimension (a rank its maps vectorise over).</summary>
    private static bool InnermostOfAComputedTensor(Cascade cascade, string rank) =>
        cascade.Tensors.Any(t => t.Role != TensorRole.Input && t.Rank > 0 && t.Dims[t.Rank - 1].Rank == rank);

    /// <summary>An Einsum that copies an input (a tile view such as <c>BK[m1,m0,e] = K[m1*M0 + m0, e]</c>).</summary>
    private static bool IsInputCopy(ExtendedEinsum e) =>
        e.Reduction is null && e.Filters.Count == 0 && e.Body is TensorRead { Tensor.Role: TensorRole.Input };

    /// <summary>The ranks split across threads with the slice rank: every Einsum that keeps the slice keeps them too.
    /// Only ranks stored outside the slice rank wherever both appear (h in Q[h,p,e]): a rank stored inside it is one the
    /// Einsums vectorise over, which a split would leave to scalar code.</summary>
    private static List<string> OuterSlices(Cascade cascade, string slice) =>
        cascade.Ranks.Where(r => r.Index != slice && CanSlice(cascade, r.Index)
            && cascade.Einsums.Where(e => Involves(e, slice)).All(e => Involves(e, r.Index))
            && cascade.Tensors.All(t => t.Dims.ToList().FindIndex(d => d.Rank == r.Index) is var at && t.Dims.ToList().FindIndex(d => d.Rank == slice) is var sl
                && (at < 0 || sl < 0 || at < sl))).Select(r => r.Index).ToList();


    /// <summary>True when every Einsum that touches the rank keeps it as a plain output rank, so slices of it are independent.</summary>
    public static bool CanSlice(Cascade cascade, string index)
    {
        var rank = cascade.Ranks.FirstOrDefault(r => r.Index == index);
        if (rank is null || rank.Kind != RankKind.Plain || rank.IsIterative || rank.AliasOf is not null) return false;
        if (cascade.Ranks.Any(r => r.AliasOf == index)) return false;
        foreach (var e in cascade.Einsums)
        {
            var involved = Involves(e, index);
            if (involved && (e.ReducedRanks.Contains(index) || !OutputOnlyAtOwnDim(e.Output, e.OutputIndices, index))) return false;
            foreach (var read in e.Reads())
            {
                var hasDim = read.Tensor.Dims.Any(d => d.Rank == index);
                if (hasDim && !involved) return false;
                // A tensor no Einsum over the rank writes (an input, or one computed before the parallel loop) can be
                // read anywhere, such as the key head h / G in grouped-query attention; the others only at their own point.
                if (involved && !OutputOnlyAtOwnDim(read.Tensor, read.Indices, index)
                    && !(read.Tensor.Role == TensorRole.Input || cascade.Einsums.All(w => w.Output.Name != read.Tensor.Name || !Involves(w, index))))
                    return false;
            }
            if (!involved && e.Output.Dims.Any(d => d.Rank == index)) return false;
        }
        // A block either runs entirely inside the parallel region or entirely before it.
        foreach (var block in cascade.Blocks)
        {
            var all = block.Inits.Concat(block.Einsums).ToList();
            if (all.Any(x => Involves(x, index)) && !all.All(x => Involves(x, index))) return false;
        }
        return cascade.Einsums.Any(e => Involves(e, index));
    }

    /// <summary>The rank appears only as the whole index of the tensor's dimensions over that rank.</summary>
    private static bool OutputOnlyAtOwnDim(Tensor tensor, IReadOnlyList<IndexExpr> indices, string index)
    {
        for (var d = 0; d < indices.Count; d++)
        {
            var mentions = indices[d].Variables().Contains(index);
            var own = tensor.Dims[d].Rank == index;
            if (own != (indices[d] is IndexVariable v && v.Rank == index)) return false;
            if (!own && mentions) return false;
        }
        return true;
    }

    // ---------------------------------------------------------------- block storage

    /// <summary>The steps of a chunk: the state-independent Einsums of that many steps are stored at once, and with a
    /// few hundred floats per step they stay in the first-level cache.</summary>
    public const int StepsPerChunk = 64;

    /// <summary>
    /// The iteration blocks that run a chunk of steps at a time (<see cref="StepChunk"/>), with the block-local tensors
    /// that then keep the chunk's steps set to <see cref="DimStorage.Chunk"/> in <paramref name="dims"/>. A block qualifies
    /// when it runs a fixed number of steps, has no contraction (a tiled product keeps its own blocking), and some of its
    /// Einsums do not depend on the carried state or only read the chain's results: in the selective scan,
    /// <c>softplus</c>, <c>exp</c> and the input products ahead of the recurrence, the gate after it. Every Einsum moved
    /// writes at the step's own point of the rank, and every tensor it shares with the serial chain is block-local
    /// (written and read at the same step), so running them a chunk apart changes no value.
    /// </summary>
    private static Dictionary<string, StepChunk> ChunkSteps(Cascade cascade, Dictionary<string, DimStorage[]> dims, Dictionary<int, List<ContractionShape>> contractions)
    {
        var chunks = new Dictionary<string, StepChunk>(StringComparer.Ordinal);
        foreach (var block in cascade.Blocks)
        {
            var body = block.Einsums.Where(e => !e.IsInit).ToList();
            if (!IsStandardStop(cascade, block) || body.Any(e => contractions.ContainsKey(e.Id) || e.Reduction == ReduceOperator.LogSumExp)) continue;
            // Dependent: reads the carried state, or a tensor that a dependent Einsum of the block writes.
            var dependent = new HashSet<string>(StringComparer.Ordinal);
            foreach (var e in body)
                if (e.Output.IsLoopCarried || e.Reads().Any(r => r.Tensor.IsLoopCarried || dependent.Contains(r.Tensor.Name))) dependent.Add(e.Output.Name);
            // The serial chain: the carried tensors' Einsums, those that read the state itself, and whatever they read of
            // the dependent ones.
            var chain = new HashSet<string>(body.Where(e => e.Output.IsLoopCarried || e.Reads().Any(r => r.Tensor.IsLoopCarried)).Select(e => e.Output.Name), StringComparer.Ordinal);
            bool grown;
            do
            {
                grown = false;
                foreach (var e in body.Where(e => chain.Contains(e.Output.Name)).ToList())
                    foreach (var r in e.Reads())
                        if (dependent.Contains(r.Tensor.Name) && body.Any(x => x.Output.Name == r.Tensor.Name) && chain.Add(r.Tensor.Name)) grown = true;
            }
            while (grown);
            var before = body.Where(e => !dependent.Contains(e.Output.Name)).ToList();
            var after = body.Where(e => dependent.Contains(e.Output.Name) && !chain.Contains(e.Output.Name)).ToList();
            if (before.Count + after.Count == 0 || body.Count == before.Count + after.Count) continue;
            // Each moved Einsum writes at the step's own point; each tensor it shares with the chain keeps the chunk.
            var keep = new List<(string Tensor, int Dim)>();
            bool Local(string name, out int dim)
            {
                dim = -1;
                var t = cascade.Tensor(name);
                if (t.Role != TensorRole.Intermediate || !dims.TryGetValue(name, out var d)) return false;
                var writer = body.FirstOrDefault(x => x.Output.Name == name);
                if (writer is null) return false;
                dim = DimAt(writer.Output, writer.OutputIndices, block.Rank, 0);
                return dim >= 0 && d[dim] == DimStorage.Dropped;
            }
            var ok = true;
            foreach (var e in before.Concat(after))
            {
                var at = Enumerable.Range(0, e.OutputIndices.Count).Where(i => e.OutputIndices[i] is IndexVariable v && v.Rank == block.Rank).ToList();
                if (at.Count != 1 || e.Filters.Count > 0) { ok = false; break; }
                if (e.Output.Role == TensorRole.Intermediate)
                {
                    if (!Local(e.Output.Name, out var dim)) { ok = false; break; }
                    keep.Add((e.Output.Name, dim));
                }
                foreach (var r in e.Reads().Where(r => chain.Contains(r.Tensor.Name)))
                {
                    if (!Local(r.Tensor.Name, out var dim)) { ok = false; break; }
                    keep.Add((r.Tensor.Name, dim));
                }
            }
            if (!ok) continue;
            foreach (var (tensor, dim) in keep) dims[tensor][dim] = DimStorage.Chunk;
            chunks[block.Rank] = new StepChunk(StepsPerChunk, before.Select(e => e.Id).ToList(), after.Select(e => e.Id).ToList());
        }
        return chunks;
    }

    private static void ApplyBlockStorage(Cascade cascade, Tensor tensor, DimStorage[] dims)
    {
        foreach (var block in cascade.Blocks)
        {
            var writer = block.Einsums.FirstOrDefault(e => e.Output.Name == tensor.Name);
            if (writer is null) continue;
            var order = block.Einsums.ToList();
            var writerPos = order.IndexOf(writer);
            var readers = cascade.Einsums.Where(e => e.Reads().Any(r => r.Tensor.Name == tensor.Name)).ToList();
            var inits = block.Inits.Where(e => e.Output.Name == tensor.Name).ToList();

            if (!tensor.IsLoopCarried)
            {
                // Block-local: written at r, read only inside the block at r, after the write.
                if (inits.Count > 0) return;
                var dim = DimAt(writer.Output, writer.OutputIndices, block.Rank, 0);
                if (dim < 0) return;
                foreach (var reader in readers)
                {
                    var pos = order.IndexOf(reader);
                    if (pos <= writerPos) return;
                    foreach (var read in reader.Reads().Where(r => r.Tensor.Name == tensor.Name))
                        if (!(read.Indices[dim] is IndexVariable v && v.Rank == block.Rank)) return;
                }
                dims[dim] = DimStorage.Dropped;
                return;
            }

            // Rolling: init at 0, written at r+1, read at r (any time) or r+1 (after the write) inside,
            // and outside only at the block's final step R when the stop condition is 'r == R'.
            var carried = tensor.CarriedDim!.Value;
            if (DimAt(writer.Output, writer.OutputIndices, block.Rank, 1) != carried) return;
            if (!IsStandardStop(cascade, block)) return;
            foreach (var init in inits)
                if (!(init.OutputIndices[carried] is IndexConstant { Value: 0 })) return;
            var stopSize = cascade.Rank(block.Rank).Size;
            foreach (var reader in readers)
            {
                var pos = order.IndexOf(reader);
                foreach (var read in reader.Reads().Where(r => r.Tensor.Name == tensor.Name))
                {
                    var index = read.Indices[carried];
                    if (pos >= 0)
                    {
                        if (!index.TryGetOffset(out var r, out var offset) || r != block.Rank || offset < 0 || offset > 1) return;
                        if (offset == 1 && pos <= writerPos) return;
                    }
                    else if (!(index is IndexSize s && s.Size == stopSize) || IsBefore(cascade, reader, block))
                    {
                        return;
                    }
                }
            }
            dims[carried] = DimStorage.Rolling;
            return;
        }
    }

    private static bool IsBefore(Cascade cascade, ExtendedEinsum e, IterationBlock block)
    {
        var all = cascade.Einsums.ToList();
        return all.IndexOf(e) < all.IndexOf(block.Inits.Concat(block.Einsums).First());
    }

    /// <summary>The dimension whose index is exactly <c>rank + offset</c>, if that is the only one mentioning the rank.</summary>
    private static int DimAt(Tensor tensor, IReadOnlyList<IndexExpr> indices, string rank, long offset)
    {
        var found = -1;
        for (var d = 0; d < indices.Count; d++)
        {
            if (!indices[d].Variables().Contains(rank)) continue;
            if (found >= 0 || !indices[d].TryGetOffset(out var r, out var o) || r != rank || o != offset) return -1;
            found = d;
        }
        return found >= 0 && tensor.Dims[found].Rank == rank ? found : -1;
    }

    /// <summary>'iterate r until r == R' where R is r's own size: the block runs exactly R steps.</summary>
    public static bool IsStandardStop(Cascade cascade, IterationBlock block)
    {
        var size = cascade.Rank(block.Rank).Size;
        var stop = block.Stop;
        if (stop.Operator != ComparisonOperator.Equal) return false;
        return (stop.Left is IndexVariable l && l.Rank == block.Rank && stop.Right is IndexSize rs && rs.Size == size)
            || (stop.Right is IndexVariable r && r.Rank == block.Rank && stop.Left is IndexSize ls && ls.Size == size);
    }

    // ---------------------------------------------------------------- presence

    private static bool NeedsExact(Cascade cascade, ExtendedEinsum e, HashSet<string> sparse, bool assumeDivisible, List<(string, string, string)> divisibility, IReadOnlyDictionary<int, double> fills)
    {
        var outer = e.OutputRanks;
        // A tensor whose points can be absent keeps flags; every writer sets them (an init from a dense input as well as
        // the step that can leave points out), or a read would take the init's points for absent ones.
        if (sparse.Contains(e.Output.Name) && e.Output.Role != TensorRole.Input) return true;
        if (!fills.ContainsKey(e.Id) && e.Filters.Any(f => f.Left.Variables().Concat(f.Right.Variables()).All(v => outer.Contains(v)))) return true;
        if (!AllInRange(cascade, e.Output, e.OutputIndices, assumeDivisible, divisibility)) return true;
        foreach (var read in e.Reads())
        {
            if (sparse.Contains(read.Tensor.Name)) return true;
            if (!AllInRange(cascade, read.Tensor, read.Indices, assumeDivisible, divisibility)) return true;
        }
        return false;
    }

    private static bool AllInRange(Cascade cascade, Tensor tensor, IReadOnlyList<IndexExpr> indices, bool assumeDivisible, List<(string, string, string)> divisibility)
    {
        for (var d = 0; d < indices.Count; d++)
            if (!InRange(cascade, indices[d], tensor.Dims[d], assumeDivisible, divisibility)) return false;
        return true;
    }

    /// <summary>True when the index provably stays inside the dimension for every point of its ranks.</summary>
    public static bool InRange(Cascade cascade, IndexExpr index, TensorDim dim, bool assumeDivisible, List<(string, string, string)>? divisibility)
    {
        var dimSize = cascade.Rank(dim.Rank).Size;
        if (index.TryGetOffset(out var rank, out var offset))
            return cascade.Rank(rank).Size == dimSize && offset >= 0 && offset <= dim.Offset;
        if (index is IndexConstant c) return c.Value >= 0 && c.Value < dim.Offset;
        if (index is IndexSize s) return s.Size == dimSize && dim.Offset >= 1;
        // Through a partition X -> X1 x X0 of x's rank: x / X0 lies in [0, X1) (X1 = ceil(X / X0)) and x % X0 in [0, X0).
        if (index is IndexBinary { Operator: IndexOperator.Divide or IndexOperator.Modulo, Left: IndexVariable numerator, Right: IndexSize divisor } division
            && dim.Offset >= 0 && cascade.Rank(dim.Rank) is var dimRank
            && cascade.Ranks.FirstOrDefault(r => r.Kind == RankKind.PartitionInner && r.AliasOf is null && r.Size == divisor.Size) is { } tile
            && tile.PartitionOf is { } parent && cascade.Rank(numerator.Rank) is var x && (x.AliasOf ?? x.Index) == parent && x.Kind == RankKind.Plain
            && (division.Operator == IndexOperator.Divide
                ? dimRank.Kind == RankKind.PartitionOuter && dimRank.PartitionOf == parent
                : (dimRank.AliasOf is { } a ? cascade.Rank(a) : dimRank).Index == tile.Index))
            return true;
        if (assumeDivisible && TryPartitionPattern(cascade, index, out var outer, out var inner))
        {
            var of = cascade.Rank(outer).PartitionOf!;
            if (cascade.Rank(of).Size != dimSize || dim.Offset < 0) return false;
            divisibility?.Add((outer, inner, of));
            return true;
        }
        return false;
    }

    /// <summary>Matches <c>outer*INNER + inner</c> (either order) for the two ranks of one partition.</summary>
    private static bool TryPartitionPattern(Cascade cascade, IndexExpr index, out string outer, out string inner)
    {
        outer = inner = string.Empty;
        if (index is not IndexBinary { Operator: IndexOperator.Add } add) return false;
        var (mul, plain) = add.Left is IndexBinary { Operator: IndexOperator.Multiply } ? (add.Left, add.Right) : (add.Right, add.Left);
        if (mul is not IndexBinary { Operator: IndexOperator.Multiply } m || plain is not IndexVariable iv) return false;
        var (ov, sz) = m.Left is IndexVariable ? (m.Left, m.Right) : (m.Right, m.Left);
        if (ov is not IndexVariable o || sz is not IndexSize size) return false;
        var outerRank = cascade.Rank(o.Rank);
        var innerRank = cascade.Rank(iv.Rank);
        if (outerRank.Kind != RankKind.PartitionOuter || outerRank.AliasOf is not null) return false;
        var innerRoot = innerRank.AliasOf is { } a ? cascade.Rank(a) : innerRank;
        if (innerRoot.Kind != RankKind.PartitionInner || innerRoot.PartitionOf != outerRank.PartitionOf || size.Size != innerRoot.Size) return false;
        outer = outerRank.Index;
        inner = innerRoot.Index;
        return true;
    }

    // ---------------------------------------------------------------- rescaled running sum into the contraction

    /// <summary>
    /// In an iteration block over r: <c>X[r+1, ..] = B[..] + S[..]</c> with <c>S[..] = X[r, ..] * a</c> (or the product
    /// inline), where B is written by a contraction lowered to the micro-kernel, a is a tensor read that does not vary
    /// with the contraction's column or summed rank, B and S are read by nothing else, every access is at the same
    /// point, X has the column rank innermost, and nothing between the contraction and the update writes its operands.
    /// </summary>
    private static Dictionary<int, RescaleFold> RescaleFolds(Cascade cascade, Dictionary<int, EinsumPlan> plans, IReadOnlyDictionary<string, TensorStorage> storage, HashSet<string> sparse, IReadOnlyDictionary<int, double> fills)
    {
        var folds = new Dictionary<int, RescaleFold>();
        var all = cascade.Einsums;
        bool ReadOnlyBy(Tensor t, ExtendedEinsum reader) =>
            t.Role == TensorRole.Intermediate && all.Where(e => e.Reads().Any(r => r.Tensor.Name == t.Name)).All(e => e.Id == reader.Id)
            && reader.Reads().Count(r => r.Tensor.Name == t.Name) == 1;
        foreach (var block in cascade.Blocks)
        {
            var body = block.Einsums.ToList();
            foreach (var u in body)
            {
                var x = u.Output;
                if (u.Reduction is not null || u.Filters.Count > 0 || plans[u.Id].Lowering == EinsumLowering.Exact || x.CarriedDim is not { } c) continue;
                if (!(u.OutputIndices[c].TryGetOffset(out var ur, out var uo) && ur == block.Rank && uo == 1) || sparse.Contains(x.Name)) continue;
                var point = u.OutputIndices.Select((ix, d) => d == c ? new IndexVariable(block.Rank) : ix).Select(ix => ix.ToString()).ToList();
                bool AtPoint(TensorRead r) => r.Indices.Select(ix => ix.ToString()).SequenceEqual(point);
                if (u.Body is not Binary { Operator: BinaryOperator.Add } add) continue;
                foreach (var (first, second) in new[] { (add.Left, add.Right), (add.Right, add.Left) })
                {
                    if (first is not TensorRead bRead || !AtPoint(bRead)) continue;
                    var contraction = body.FirstOrDefault(e => e.Output.Name == bRead.Tensor.Name);
                    if (contraction is null || body.IndexOf(contraction) > body.IndexOf(u) || plans[contraction.Id].Contraction is not { } g || fills.ContainsKey(contraction.Id)) continue;
                    if (!contraction.OutputIndices.Select(ix => ix.ToString()).SequenceEqual(point) || !ReadOnlyBy(bRead.Tensor, u)) continue;
                    // The rescale: inline (X[r] * a) or a separate map S = X[r] * a read at the point.
                    ExtendedEinsum? rescale = null;
                    var product = second;
                    if (second is TensorRead sRead && AtPoint(sRead) && ReadOnlyBy(sRead.Tensor, u))
                    {
                        rescale = body.FirstOrDefault(e => e.Output.Name == sRead.Tensor.Name);
                        if (rescale is null || body.IndexOf(rescale) > body.IndexOf(u) || rescale.Reduction is not null || rescale.Filters.Count > 0
                            || !rescale.OutputIndices.Select(ix => ix.ToString()).SequenceEqual(point) || plans[rescale.Id].Lowering == EinsumLowering.Exact) continue;
                        product = rescale.Body;
                    }
                    if (product is not Binary { Operator: BinaryOperator.Multiply } m) continue;
                    var (previous, factor) = m.Left is TensorRead l && l.Tensor.Name == x.Name ? (l, m.Right) : (m.Right as TensorRead, m.Left);
                    if (previous is null || previous.Tensor.Name != x.Name || !AtPoint(previous)) continue;
                    if (factor is not TensorRead a || a.Tensor.Name == x.Name || sparse.Contains(a.Tensor.Name) || a.Indices.Any(ix => ix.Variables().Contains(g.J) || ix.Variables().Contains(g.K))) continue;
                    if (!a.Indices.All(ix => KernelPlanner.AffineCoefficient(ix, g.I) is not null)) continue;
                    if (!StrideOne(u.OutputIndices, storage[x.Name], g.J, allowOffset: false)) continue;
                    // Nothing between the contraction and the update writes the contraction's operands.
                    var between = body.Skip(body.IndexOf(contraction) + 1).TakeWhile(e => e.Id != u.Id);
                    if (between.Any(e => e.Output.Name == g.A.Tensor.Name || e.Output.Name == g.B.Tensor.Name)) continue;
                    folds[u.Id] = new RescaleFold(contraction, rescale, previous, a);
                    break;
                }
            }
        }
        return folds;
    }

    // ---------------------------------------------------------------- partial tiles as loop bounds

    /// <summary>
    /// Whether the plan made assuming divisible sizes is exact for any sizes once each inner rank of a partition runs
    /// only up to the edge (<c>x &lt; min(X0, X - x1*X0)</c>), and which Einsums bound which ranks; null when not.
    /// That holds when, in every Einsum over a tile rank x1 and an inner rank x (or an alias of it), the points past the
    /// edge are absent in the interpreter (read past a tensor's end through <c>x1*X0 + x</c>, or from a tensor absent
    /// there, through operators that keep absence: all but +, max and min, which need both operands absent), x1 is
    /// looped outside x (or fixed by the block), and no output keeps such points (they would have to read as 0).
    /// Skipping an absent point is then what the interpreter does: maps do not write it, reductions do not see it.
    /// </summary>
    private static (IReadOnlyDictionary<int, IReadOnlyList<(string Inner, string Outer, string Of)>> Bounds, IReadOnlyList<string> NonEmpty)? EdgeBounds(
        Cascade cascade, Dictionary<int, EinsumPlan> plans, List<(string Outer, string Inner, string Of)> partitions)
    {
        var nonEmpty = new List<string>();
        var absentTensors = new Dictionary<string, List<(int DimOuter, int DimInner, string Of)>>(StringComparer.Ordinal);
        var bounds = new Dictionary<int, IReadOnlyList<(string, string, string)>>();
        foreach (var e in cascade.Einsums)
        {
            var p = plans[e.Id];
            var loops = p.LoopOrder.Concat(p.Contraction is { } g ? new[] { g.I, g.J, g.K } : Array.Empty<string>()).ToList();
            var fixedRank = e.IterativeRank is { } ir && !e.IsInit && e.OutputRanks.Contains(ir) ? ir : null;
            var mine = new List<(string, string, string)>();
            foreach (var (outer, inner, of) in partitions)
            {
                if (!e.Ranks.Contains(outer)) continue;
                foreach (var x in e.Ranks.Where(r => r == inner || cascade.Rank(r).AliasOf == inner))
                {
                    if (!AbsentPastEdge(cascade, e.Body, outer, x, of, absentTensors)) return null;
                    // A filter on a summed inner rank: where it keeps only points past the edge, the interpreter's fiber has
                    // points, all absent, so the result is absent; cut at the edge, the fiber is empty and the result the
                    // reduction's identity, present (max[j0] ... where j0 > j1 read -inf where it reads as absent).
                    if (e.ReducedRanks.Contains(x) && e.Filters.Any(f => f.Left.Variables().Contains(x) || f.Right.Variables().Contains(x))) return null;
                    if (outer != fixedRank && (loops.IndexOf(outer) < 0 || loops.IndexOf(outer) > loops.IndexOf(x))) return null;
                    var dimOuter = e.OutputIndices.ToList().FindIndex(i => i is IndexVariable v && v.Rank == outer);
                    var dimInner = e.OutputIndices.ToList().FindIndex(i => i is IndexVariable v && v.Rank == x);
                    if (e.OutputRanks.Contains(x))
                    {
                        if (dimOuter < 0 || dimInner < 0)
                        {
                            // Kept only through 'x1*X0 + x' into a tensor of extent X: the points past the edge do not exist.
                            if (!e.OutputIndices.Any(i => PartitionRead(cascade, i, outer, x))) return null;
                        }
                        else
                        {
                            if (e.Output.Role == TensorRole.Output) return null;
                            if (!absentTensors.TryGetValue(e.Output.Name, out var list)) absentTensors[e.Output.Name] = list = new();
                            list.Add((dimOuter, dimInner, of));
                        }
                    }
                    mine.Add((x, outer, of));
                    // Summed over an empty rank, the result is the identity and present past the edge too.
                    nonEmpty.AddRange(e.ReducedRanks.Where(r => r != x));
                }
            }
            if (mine.Count > 0) bounds[e.Id] = mine;
        }
        // Every read of a tensor absent past an edge must be at its own (tile, inner) point by an Einsum bounded there.
        foreach (var e in cascade.Einsums)
            foreach (var r in e.Reads())
                if (absentTensors.TryGetValue(r.Tensor.Name, out var dims))
                    foreach (var (dimOuter, dimInner, of) in dims)
                        if (!(r.Indices[dimOuter] is IndexVariable o && r.Indices[dimInner] is IndexVariable i
                            && bounds.TryGetValue(e.Id, out var mine) && mine.Contains((i.Rank, o.Rank, of))))
                            return null;
        return (bounds, nonEmpty.Distinct().ToList());
    }

    /// <summary>True when the expression is absent at every point with <c>outer*X0 + x</c> past the end of X.</summary>
    private static bool AbsentPastEdge(Cascade cascade, Expr x, string outer, string inner, string of, Dictionary<string, List<(int DimOuter, int DimInner, string Of)>> absent) => x switch
    {
        TensorRead r => r.Indices.Select((index, d) => (index, d)).Any(p => PartitionRead(cascade, p.index, outer, inner) && cascade.Rank(r.Tensor.Dims[p.d].Rank).Size == cascade.Rank(of).Size && r.Tensor.Dims[p.d].Offset == 0)
            || (absent.TryGetValue(r.Tensor.Name, out var dims) && dims.Any(d => d.Of == of
                && r.Indices[d.DimOuter] is IndexVariable o && o.Rank == outer && r.Indices[d.DimInner] is IndexVariable i && i.Rank == inner)),
        Unary u => AbsentPastEdge(cascade, u.Operand, outer, inner, of, absent),
        Binary { Merge: MergeOperator.Union } b => AbsentPastEdge(cascade, b.Left, outer, inner, of, absent) && AbsentPastEdge(cascade, b.Right, outer, inner, of, absent),
        Binary b => AbsentPastEdge(cascade, b.Left, outer, inner, of, absent) || AbsentPastEdge(cascade, b.Right, outer, inner, of, absent),
        _ => false,
    };

    /// <summary>The index is <c>outer*X0 + inner</c> (either order), inner being the partition's inner rank or an alias of it.</summary>
    private static bool PartitionRead(Cascade cascade, IndexExpr index, string outer, string inner) =>
        TryPartitionPattern(cascade, index, out var o, out _) && o == outer && index.Variables().Contains(inner);

    // ---------------------------------------------------------------- contraction idiom

    /// <summary>
    /// <c>C[..] = sum[k] A[..] * B[..] * (factors that vary with no loop rank)</c> where, the block's iterative rank
    /// aside, A holds the row rank i, B the column rank j, both hold k, every rank of C is i, j or a batch rank held by
    /// all three, and each subscript is affine in the ranks (so every operand has a stride per rank). Recognised from
    /// the structure alone. Both readings (either operand as A) are returned, the one with <paramref name="slice"/> in A only first.
    /// </summary>
    private static List<ContractionShape> MatchContraction(ExtendedEinsum e, string? slice, Dictionary<string, List<ExtendedEinsum>> writers, IReadOnlyDictionary<int, double> fills)
    {
        var found = new List<ContractionShape>();
        if (e.Reduction != ReduceOperator.Sum || e.IsInit || (e.Filters.Count > 0 && !fills.ContainsKey(e.Id)) || e.ReducedRanks.Count != 1) return found;
        var fixedRank = e.IterativeRank is { } ir && e.OutputRanks.Contains(ir) ? ir : null;
        var loop = e.Ranks.Where(r => r != fixedRank).ToList();
        var factors = new List<Expr>();
        void Flatten(Expr x)
        {
            if (x is Binary { Operator: BinaryOperator.Multiply } m) { Flatten(m.Left); Flatten(m.Right); }
            else factors.Add(x);
        }
        Flatten(e.Body);
        bool Varies(Expr x) => loop.Any(r => Mentions(x, r));
        var reads = factors.Where(Varies).ToList();
        // The micro-kernel multiplies floats: an i32 operand is read as floats by the loops instead.
        if (reads.Count != 2 || reads.Any(r => r is not TensorRead { Tensor.ElementType: not ElementType.Int32 })) return found;
        var k = e.ReducedRanks[0];
        var outRanks = e.OutputRanks.Where(r => r != fixedRank).ToList();
        foreach (var (x, y) in new[] { (reads[0], reads[1]), (reads[1], reads[0]) }.OrderBy(p => slice is not null && Mentions(p.Item1, slice) && !Mentions(p.Item2, slice) ? 0 : 1))
        {
            var a = (TensorRead)x;
            var b = (TensorRead)y;
            var ra = loop.Where(r => Mentions(a, r)).ToList();
            var rb = loop.Where(r => Mentions(b, r)).ToList();
            if (!ra.Contains(k) || !rb.Contains(k)) continue;
            if (ra.Concat(rb).Any(r => r != k && !outRanks.Contains(r)) || outRanks.Any(r => !ra.Contains(r) && !rb.Contains(r))) continue;
            // Strides are needed along the row, column and summed ranks only (checked per choice below): the batch ranks
            // are fixed for each call, so a subscript may use them in any way, such as the key head h / G of grouped-query
            // attention, or the tile m1 of K[m1*M0 + m0, e] once the tile copy is a view.
            bool Strided(string i, string j) => new[] { a.Indices, b.Indices, e.OutputIndices }.All(x => AffineIn(x, new[] { i, j, k }));
            // A log-sum-exp result is a (max, log sum) pair, not one float.
            if (new[] { a, b }.Any(t => writers.TryGetValue(t.Tensor.Name, out var w) && w.Any(z => z.Reduction == ReduceOperator.LogSumExp))) continue;
            // The row rank is one held by A only (the parallel rank first), the column rank one held by B only and a whole
            // subscript of C (its stride there is checked to be 1 once storage is known); every other rank of C is looped.
            var rowChoices = ra.Where(r => r != k && !rb.Contains(r)).OrderBy(r => r == slice ? 0 : 1);
            var columnChoices = rb.Where(r => r != k && !ra.Contains(r) && e.OutputIndices.Any(ix => ix is IndexVariable v && v.Rank == r));
            foreach (var i in rowChoices)
                foreach (var j in columnChoices.Where(j => Strided(i, j)))
                    found.Add(new ContractionShape(i, j, k, outRanks.Where(r => r != i && r != j).ToList(), a, b, factors.Where(f => !Varies(f)).ToList()));
        }
        return found;
    }

    /// <summary>True when the expression varies with the rank (reads at an index that uses it, or uses its index as a value).</summary>
    internal static bool Mentions(Expr x, string rank) => x switch
    {
        TensorRead r => r.Indices.Any(i => i.Variables().Contains(rank)),
        IndexValue i => i.Index.Variables().Contains(rank),
        Unary u => Mentions(u.Operand, rank),
        Binary b => Mentions(b.Left, rank) || Mentions(b.Right, rank),
        _ => false,
    };

    private static bool AffineIn(IReadOnlyList<IndexExpr> indices, IEnumerable<string> ranks) =>
        ranks.All(r => indices.All(ix => AffineCoefficient(ix, r) is not null));

    /// <summary>With storage known: dense operands, no rank of the contraction in a rolling dimension, and C's column
    /// rank innermost (stride 1), since the micro-kernel stores C a vector at a time.</summary>
    private static bool Contractible(ContractionShape g, ExtendedEinsum e, IReadOnlyDictionary<string, TensorStorage> storage, HashSet<string> sparse)
    {
        if (sparse.Contains(g.A.Tensor.Name) || sparse.Contains(g.B.Tensor.Name) || sparse.Contains(e.Output.Name)) return false;
        var ranks = new[] { g.I, g.J, g.K }.Concat(g.Batch).ToList();
        foreach (var (tensor, indices) in new[] { (g.A.Tensor, g.A.Indices), (g.B.Tensor, g.B.Indices), (e.Output, e.OutputIndices) })
        {
            var s = storage[tensor.Name];
            for (var d = 0; d < indices.Count; d++)
                if (s.Dims[d] == DimStorage.Rolling && ranks.Any(r => indices[d].Variables().Contains(r))) return false;
        }
        return StrideOne(e.OutputIndices, storage[e.Output.Name], g.J, allowOffset: false);
    }

    // ---------------------------------------------------------------- per-Einsum lowering

    /// <summary>The lowering of one Einsum: exact, vectorised over a reduced or an output rank, or scalar.</summary>
    /// <param name="cascade">The cascade.</param>
    /// <param name="e">The Einsum.</param>
    /// <param name="storage">Every tensor's storage.</param>
    /// <param name="sparse">Tensors that may have absent points.</param>
    /// <param name="assumeDivisible">The plan assumes sizes divide their tiles.</param>
    /// <param name="slice">The parallel rank when the Einsum runs in the slice.</param>
    /// <param name="rowBlocks">The parallel rank runs in blocks: inside the slice it is a loop over the block's rows.</param>
    /// <param name="divisibility">Collects the partitions assumed to divide.</param>
    /// <param name="choice">The schedule's lowering for the Einsum, if it gives one.</param>
    /// <param name="reject">Reports a choice that the Einsum does not allow (the planner's lowering is kept).</param>
    /// <param name="outerSlices">Other parallel ranks, fixed for each piece of the slice's work (null outside the slice).</param>
    /// <param name="fills">The filled Einsums (<see cref="FilterFills"/>): their filters do not make them scalar.</param>
    /// <param name="chunked">The Einsums run for a chunk of steps of their block (<see cref="StepChunk"/>): the block's rank is a loop of theirs.</param>
    private static EinsumPlan PlanEinsum(Cascade cascade, ExtendedEinsum e, IReadOnlyDictionary<string, TensorStorage> storage, HashSet<string> sparse, bool assumeDivisible, string? slice, bool rowBlocks, List<(string, string, string)> divisibility,
        LoweringChoice? choice, Action<string> reject, IReadOnlyList<string>? outerSlices, IReadOnlyDictionary<int, double> fills, IReadOnlyCollection<int> chunked)
    {
        var plan = PlanEinsum(cascade, e, storage, sparse, assumeDivisible, slice, rowBlocks, choice?.Kind == LoweringKind.Vector ? choice.Rank : null, out var vectorRanks, outerSlices, fills, chunked);
        if (choice is null || choice.Kind == LoweringKind.Contraction) return plan;
        if (choice.Kind == LoweringKind.Scalar)
            return plan.Lowering is EinsumLowering.Exact or EinsumLowering.Dense ? plan : plan with { Lowering = EinsumLowering.Dense, VectorRank = null, LoopOrder = ScalarLoopOrder(plan) };
        if (plan.VectorRank is null || (choice.Rank is { } r && plan.VectorRank != r))
        {
            var why = plan.Lowering == EinsumLowering.Exact
                ? $"'{e.Output.Name}' needs scalar code that tracks absent points (a filter on its output ranks, or a read that can fall outside a tensor or on an absent point), so no rank of it can be vectorised"
                : vectorRanks.Count == 0
                    ? $"no rank of the Einsum for '{e.Output.Name}' can be vectorised: a vector rank is its innermost reduced rank or innermost output rank, contiguous in every tensor it reads{(e.Filters.Count > 0 ? ", with no filter" : "")}"
                    : $"'{choice.Rank}' cannot be the vector rank of the Einsum for '{e.Output.Name}'; it can be vectorised over {string.Join(" or ", vectorRanks)}";
            reject(why + ". Write 'lower " + e.Output.Name + " " + (vectorRanks.Count > 0 && plan.Lowering != EinsumLowering.Exact ? "vector " + vectorRanks[0] : "scalar") + "' or remove the directive.");
        }
        return plan;
    }

    /// <summary>The loop order of a scalar lowering: output ranks (as stored), then reduced ranks.</summary>
    private static List<string> ScalarLoopOrder(EinsumPlan plan)
    {
        var reduced = plan.Einsum.ReducedRanks.ToList();
        return plan.LoopOrder.Where(r => !reduced.Contains(r)).Concat(reduced).ToList();
    }

    private static EinsumPlan PlanEinsum(Cascade cascade, ExtendedEinsum e, IReadOnlyDictionary<string, TensorStorage> storage, HashSet<string> sparse, bool assumeDivisible, string? slice, bool rowBlocks,
        string? wantedRank, out List<string> vectorRanks, IReadOnlyList<string>? outerSlices, IReadOnlyDictionary<int, double> fills, IReadOnlyCollection<int> chunked)
    {
        vectorRanks = new List<string>();
        var fixedRanks = new HashSet<string>(outerSlices ?? Array.Empty<string>(), StringComparer.Ordinal);
        if (slice is not null && !rowBlocks) fixedRanks.Add(slice);
        // One step at a time, except in a chunk of steps (StepChunk), where the block's rank is a loop over the chunk.
        if (e.IterativeRank is { } ir && !e.IsInit && e.OutputRanks.Contains(ir) && !chunked.Contains(e.Id)) fixedRanks.Add(ir);
        var outer = e.OutputRanks.Where(r => !fixedRanks.Contains(r)).ToList();
        // Output ranks in the order of the output's dimensions in memory, so stores walk memory forwards.
        var order = storage[e.Output.Name].StorageOrder;
        outer = outer.OrderBy(r => order.Select((d, position) => (d, position)).Where(x => e.OutputIndices[x.d].Variables().Contains(r))
            .Select(x => x.position).DefaultIfEmpty(int.MaxValue).First()).ToList();
        var reduced = e.ReducedRanks.ToList();

        if (NeedsExact(cascade, e, sparse, assumeDivisible, new List<(string, string, string)>(), fills))
            return new EinsumPlan(e, EinsumLowering.Exact, outer.Concat(reduced).ToList(), null, slice is not null);

        // The vector lowerings this Einsum allows, in the order of preference: a vectorised reduction, then a vectorised row.
        var options = new List<EinsumPlan>();
        var vectorOps = e.Reduction is null or ReduceOperator.Sum or ReduceOperator.Max or ReduceOperator.Min or ReduceOperator.Prod;
        // A filled Einsum's filters are applied after it runs (its fill stored at the points they leave out).
        if (e.Filters.Count == 0 || fills.ContainsKey(e.Id))
        {
            // log-sum-exp vectorises as a per-lane online (max, sum) pair, but not as a row accumulation.
            if (reduced.Count > 0 && (vectorOps || e.Reduction == ReduceOperator.LogSumExp))
            {
                var v = reduced[reduced.Count - 1];
                if (Contiguous(cascade, e, storage, v))
                    options.Add(new EinsumPlan(e, EinsumLowering.VectorReduce, outer.Concat(reduced).ToList(), v, slice is not null));
            }
            if (outer.Count > 0 && vectorOps)
            {
                var v = outer[outer.Count - 1];
                if (Contiguous(cascade, e, storage, v) && OutputContiguous(e, storage, v))
                {
                    var loopOrder = outer.Take(outer.Count - 1).Concat(reduced).Concat(new[] { v }).ToList();
                    options.Add(new EinsumPlan(e, EinsumLowering.VectorRow, loopOrder, v, slice is not null));
                }
            }
        }
        vectorRanks.AddRange(options.Select(o => o.VectorRank!));
        return options.FirstOrDefault(o => wantedRank is null || o.VectorRank == wantedRank) ?? options.FirstOrDefault()
            ?? new EinsumPlan(e, EinsumLowering.Dense, outer.Concat(reduced).ToList(), null, slice is not null);
    }

    /// <summary>
    /// The partition tiles a schedule may set (<c>tile M0 256</c>): those with a default size in the spec whose ranks
    /// index no input or output, so that the tile changes how the kernel walks the data and not the data's shapes.
    /// </summary>
    public static IEnumerable<Rank> SchedulableTiles(Cascade cascade) =>
        cascade.Ranks.Where(r => r.Kind == RankKind.PartitionInner && r.AliasOf is null && TileProblem(cascade, r.Size) is null);

    /// <summary>Why a schedule may not set the tile named <paramref name="size"/>, or null when it may.</summary>
    public static string? TileProblem(Cascade cascade, string size)
    {
        var inner = cascade.Ranks.FirstOrDefault(r => r.Kind == RankKind.PartitionInner && r.AliasOf is null && r.Size == size);
        if (inner is null)
        {
            var tiles = cascade.Ranks.Where(r => r.Kind == RankKind.PartitionInner && r.AliasOf is null).Select(r => r.Size).ToList();
            return tiles.Count == 0
                ? $"'{size}' is not a tile: the cascade partitions no rank ('partition M -> M1 x M0 with M0 = 64' makes the tile M0)."
                : $"'{size}' is not a tile of this cascade; its tiles are {string.Join(", ", tiles)}.";
        }
        if (inner.DefaultSize is null)
            return $"The spec gives the tile {size} no size ('with {size} = ...'), so the kernel takes it as an argument at run time; give it there, or write a default in the spec.";
        var ranks = new HashSet<string>(cascade.Ranks.Where(r => r.PartitionOf == inner.PartitionOf || r.AliasOf == inner.Index).Select(r => r.Index), StringComparer.Ordinal);
        foreach (var t in cascade.Tensors.Where(t => t.Role != TensorRole.Intermediate))
            if (t.Dims.FirstOrDefault(d => ranks.Contains(d.Rank)) is { } dim)
                return $"The tile {size} shapes the {(t.Role == TensorRole.Input ? "input" : "output")} {t.Name} (indexed by {dim.Rank}), so it is part of what the kernel computes, not how; write it in the spec ('with {size} = ...') instead.";
        return null;
    }

    private static string ParallelProblem(Cascade cascade, string rank)
    {
        var possible = cascade.Ranks.Where(r => CanSlice(cascade, r.Index)).Select(r => r.Index).ToList();
        var choices = possible.Count > 0 ? $"the ranks that can be parallel are {string.Join(", ", possible)}; write 'parallel {possible[0]}' or 'serial'" : "no rank of this cascade can be parallel; write 'serial'";
        return cascade.Ranks.Any(r => r.Index == rank)
            ? $"'{rank}' cannot be the parallel rank: some Einsum reduces it, shifts it, iterates over it or does not keep it, so its slices are not independent; {choices}."
            : $"The cascade has no rank '{rank}'; {choices}.";
    }

    private static string NotContractible(ExtendedEinsum e, List<ContractionShape>? candidates, ContractionShape? chosen, string? slice, bool rowBlocks, EinsumPlan plan)
    {
        var name = e.Output.Name;
        var fix = $"Write 'lower {name} {(plan.VectorRank is { } v ? "vector " + v : "scalar")}' or remove the directive.";
        if (candidates is null || candidates.Count == 0)
            return $"The Einsum for '{name}' is not a contraction (a sum over one rank of the product of two float tensors, each indexed by plain ranks, times factors that vary with none of the ranks of the product). {fix}";
        if (chosen is null)
            return $"The Einsum for '{name}' is a contraction, but its output is not stored with its column rank innermost, so the micro-kernel cannot write it. {fix}";
        if (plan.Lowering == EinsumLowering.Exact)
            return $"The Einsum for '{name}' needs scalar code that tracks absent points (a read that can fall outside a tensor or on an absent point). {fix}";
        if ((chosen.I == slice || chosen.J == slice) && !rowBlocks)
            return $"The contraction for '{name}' multiplies along the parallel rank '{slice}', which is a matrix product only for a block of its rows; add 'rows blocked' or {fix.Substring(0, 1).ToLowerInvariant() + fix.Substring(1)}";
        return $"The operands of the contraction for '{name}' are not contiguous along its summed and column ranks, or can be absent. {fix}";
    }

    private static int FirstDimMentioning(IReadOnlyList<IndexExpr> indices, string rank)
    {
        for (var d = 0; d < indices.Count; d++)
            if (indices[d].Variables().Contains(rank)) return d;
        return int.MaxValue;
    }

    /// <summary>Every read that mentions the rank has it, plus a constant, as the index of its last stored dimension.</summary>
    private static bool Contiguous(Cascade cascade, ExtendedEinsum e, IReadOnlyDictionary<string, TensorStorage> storage, string v)
    {
        foreach (var read in e.Reads())
        {
            var s = storage[read.Tensor.Name];
            if (!StrideOne(read.Indices, s, v, allowOffset: true)) return false;
        }
        return IndexValuesAffine(e.Body, v);
    }

    private static bool OutputContiguous(ExtendedEinsum e, IReadOnlyDictionary<string, TensorStorage> storage, string v) =>
        StrideOne(e.OutputIndices, storage[e.Output.Name], v, allowOffset: false);

    private static bool StrideOne(IReadOnlyList<IndexExpr> indices, TensorStorage s, string v, bool allowOffset)
    {
        var last = -1;
        foreach (var d in s.StorageOrder)
            if (s.Dims[d] != DimStorage.Dropped) last = d;
        for (var d = 0; d < indices.Count; d++)
        {
            if (!indices[d].Variables().Contains(v)) continue;
            if (d != last || s.Dims[d] is not (DimStorage.Kept or DimStorage.Blocked or DimStorage.Chunk)) return false;
            if (!indices[d].TryGetOffset(out var r, out var offset) || r != v) return false;
            if (!allowOffset && offset != 0) return false;
        }
        return true;
    }

    private static bool IndexValuesAffine(Expr body, string v) => body switch
    {
        IndexValue iv => !iv.Index.Variables().Contains(v) || AffineCoefficient(iv.Index, v) is not null,
        Unary u => IndexValuesAffine(u.Operand, v),
        Binary b => IndexValuesAffine(b.Left, v) && IndexValuesAffine(b.Right, v),
        _ => true,
    };

    /// <summary>The constant coefficient of <paramref name="v"/> in an index expression, or null when it is not affine with a constant coefficient.</summary>
    public static long? AffineCoefficient(IndexExpr e, string v)
    {
        switch (e)
        {
            case IndexConstant:
            case IndexSize:
                return 0;
            case IndexVariable x:
                return x.Rank == v ? 1 : 0;
            case IndexBinary b:
                var l = AffineCoefficient(b.Left, v);
                var r = AffineCoefficient(b.Right, v);
                if (l is null || r is null) return null;
                return b.Operator switch
                {
                    IndexOperator.Add => l + r,
                    IndexOperator.Subtract => l - r,
                    IndexOperator.Divide or IndexOperator.Modulo => l == 0 && r == 0 ? 0 : null,
                    _ => l == 0 && r == 0 ? 0
                        : l == 0 && b.Left is IndexConstant lc ? lc.Value * r
                        : r == 0 && b.Right is IndexConstant rc ? rc.Value * l
                        : null,
                };
            default:
                return null;
        }
    }
}
