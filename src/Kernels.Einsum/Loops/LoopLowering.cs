using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Planning;

namespace Kernels.Einsum.Loops;

/// <summary>
/// Lowers any valid cascade to a <see cref="LoopProgram"/> with one kernel per Einsum, one grid point per output point
/// (the output ranks, less an iteration block's rank, whose step the host runs), a reduction run serially by its point,
/// and absent points tracked exactly as the reference interpreter does: a tensor whose points can be absent keeps a flag
/// per element, a read outside a tensor is absent, + max min take the union of their operands, a reduction over points
/// that are all absent is absent, over no point (every point filtered out) the identity. Every tensor is stored in full.
/// This is the schedule every cascade has (the GPU sink's general one); faster schedules are other lowerings of the same
/// cascade into the same IR.
/// </summary>
public static class LoopLowering
{
    public static LoopProgram Lower(Cascade cascade, GpuSchedule? schedule = null)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        schedule ??= GpuSchedule.Default;
        if (schedule.GroupReductions && (schedule.GroupSize < 2 || (schedule.GroupSize & (schedule.GroupSize - 1)) != 0 || schedule.GroupSize > 1024))
            throw new ArgumentException($"A group has a power of two from 2 to 1024 threads; got {schedule.GroupSize}.", nameof(schedule));
        if ((schedule.FuseBlocks || schedule.ScanBlocks) && (schedule.GroupSize < 1 || (schedule.GroupSize & (schedule.GroupSize - 1)) != 0 || schedule.GroupSize > 1024 || schedule.BlockRows < 1))
            throw new ArgumentException($"A fused block runs groups of a power of two from 1 to 1024 threads and 1 or more rows a group; got {schedule.GroupSize} and {schedule.BlockRows}.", nameof(schedule));
        // The planner's presence analysis (exact filters, sizes that need not divide their tiles) says which tensors can
        // have absent points; those keep flags.
        var storage = KernelPlanner.Plan(cascade, assumeDivisible: false, fillFilters: false).Storage;
        var buffers = cascade.Tensors.Select(t => new LoopBuffer(t,
            t.Dims.Select(d => Plus(new IndexSize(cascade.Rank(d.Rank).Size), d.Offset)).ToList(),
            t.Role != TensorRole.Input && storage.TryGetValue(t.Name, out var s) && s.MayBeAbsent)).ToList();
        var scans = schedule.ScanBlocks
            ? cascade.Blocks.Select(b => LinearScan(cascade, b, buffers.ToDictionary(x => x.Name))).OfType<ScanPlan>().ToDictionary(p => p.Block)
            : new Dictionary<IterationBlock, ScanPlan>();
        var folds = Folds(cascade, scans.Keys.ToList());
        buffers = buffers.Select(b => folds.TryGetValue(b.Name, out var f) ? b with { FoldDim = f.Dim, FoldSlots = f.Slots } : b).ToList();
        var sizes = CascadeShapesNames(cascade);
        var derived = cascade.Ranks.Where(r => r.Kind == RankKind.PartitionOuter && r.AliasOf is null).Select(r =>
        {
            var inner = cascade.Ranks.First(x => x.Kind == RankKind.PartitionInner && x.AliasOf is null && x.PartitionOf == r.PartitionOf);
            var whole = new IndexSize(cascade.Rank(r.PartitionOf!).Size);
            var tile = new IndexSize(inner.Size);
            // ceil(whole / tile), the number of tiles
            return (r.Size, (IndexExpr)new IndexBinary(IndexOperator.Divide, new IndexBinary(IndexOperator.Subtract, new IndexBinary(IndexOperator.Add, whole, tile), new IndexConstant(1)), tile));
        }).ToList();
        var lowering = new Lowerer(cascade, buffers.ToDictionary(b => b.Name), schedule);
        var stages = new List<LoopStage>();
        foreach (var step in cascade.Steps)
        {
            if (step.Einsum is { } e)
            {
                stages.Add(new SLaunch(lowering.Kernel(e, null)));
                continue;
            }
            var block = step.Block!;
            stages.AddRange(block.Inits.Select(i => new SLaunch(lowering.Kernel(i, null))));
            if (scans.TryGetValue(block, out var scan) && lowering.Scan(scan) is { } scanned)
            {
                // Every step at once before and after the recurrence, whose steps are scanned in parallel.
                stages.AddRange(scan.Before.Select(x => new SLaunch(lowering.Kernel(x, null))));
                stages.Add(new SLaunch(scanned));
                stages.AddRange(scan.After.Select(x => new SLaunch(lowering.Kernel(x, null))));
                continue;
            }
            if (schedule.FuseBlocks && lowering.Fused(block) is { } fused)
            {
                stages.Add(new SLaunch(fused));
                continue;
            }
            stages.Add(new SSteps(block.Rank, block.Stop, block.Einsums.Select(x => (LoopStage)new SLaunch(lowering.Kernel(x, block.Rank))).ToList()));
        }
        return new LoopProgram(cascade, schedule, sizes, derived, buffers, stages);
    }

    /// <summary>
    /// The intermediates of iteration blocks whose storage folds along the block's rank: written by one Einsum of the block
    /// at <c>r + k</c>, read inside the block at <c>r + j</c> (j from k - slots + 1 to k; at j = k only after the writer),
    /// set by the block's inits at a constant in the same window, and read after the block only at its last step (the
    /// stop's bound when <c>until r == S</c> and k = 1). Then index i can live in slot i mod slots: no value is overwritten
    /// before its last read, and the memory of attention's scores or a scan's discretised inputs stops growing with the
    /// number of steps.
    /// </summary>
    internal static Dictionary<string, (int Dim, int Slots)> Folds(Cascade cascade, IReadOnlyCollection<IterationBlock> whole)
    {
        var folds = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        var order = cascade.Steps.SelectMany((s, i) => (s.Einsum is { } e ? new[] { e } : s.Block!.Inits.Concat(s.Block.Einsums)).Select(e => (e, i))).ToList();
        for (var si = 0; si < cascade.Steps.Count; si++)
        {
            if (cascade.Steps[si].Block is not { } block || whole.Contains(block)) continue;
            var r = block.Rank;
            foreach (var group in block.Einsums.Select((e, i) => (e, i)).GroupBy(x => x.e.Output.Name))
            {
                var tensor = cascade.Tensor(group.Key);
                if (tensor.Role != TensorRole.Intermediate || group.Count() != 1) continue;
                var (writer, wi) = group.First();
                if (order.Count(x => x.e.Output.Name == tensor.Name) != 1 + block.Inits.Count(i => i.Output.Name == tensor.Name)) continue;
                var dims = writer.OutputIndices.Select((x, d) => (x, d)).Where(t => t.x.Variables().Contains(r)).ToList();
                if (dims.Count != 1 || StepOffset(dims[0].x, r) is not { } k) continue;
                var dim = dims[0].d;
                var ok = true;
                var least = k;
                foreach (var (reader, ri) in block.Einsums.Select((e, i) => (e, i)))
                    foreach (var read in reader.Reads().Where(x => x.Tensor.Name == tensor.Name))
                    {
                        if (StepOffset(read.Indices[dim], r) is not { } j || j > k || (j == k && ri <= wi)) ok = false;
                        else least = Math.Min(least, j);
                    }
                var slots = (int)(k - least + 1);
                foreach (var init in block.Inits)
                {
                    if (init.Reads().Any(x => x.Tensor.Name == tensor.Name)) ok = false;
                    if (init.Output.Name == tensor.Name && (init.OutputIndices[dim] is not IndexConstant c || c.Value < k - slots + 1 || c.Value > k)) ok = false;
                }
                // Read elsewhere: only after the block, only its last step.
                foreach (var (other, step) in order.Where(x => x.i != si))
                    foreach (var read in other.Reads().Where(x => x.Tensor.Name == tensor.Name))
                        if (step < si || k != 1 || block.Stop.Operator != ComparisonOperator.Equal || !(block.Stop.Left is IndexVariable v && v.Rank == r) || !read.Indices[dim].Equals(block.Stop.Right))
                            ok = false;
                if (ok) folds[tensor.Name] = (dim, slots);
            }
        }
        return folds;
    }

    /// <summary>
    /// An iteration block whose only state is a linear recurrence: <see cref="Writer"/> sets <c>X[.., r+1] =
    /// Factor * X[.., r] + Term</c> at <see cref="Dim"/>, with Factor and Term free of X; the block's other Einsums are
    /// step-local (written and read at <c>r</c>), split into those X does not reach (<see cref="Before"/>) and those it does.
    /// </summary>
    internal sealed record ScanPlan(IterationBlock Block, ExtendedEinsum Writer, Expr Factor, Expr Term, int Dim, IReadOnlyList<ExtendedEinsum> Before, IReadOnlyList<ExtendedEinsum> After);

    /// <summary>
    /// The scan plan of a block, or null: the block runs <c>until r == R</c> over its rank's whole size, one Einsum writes
    /// its state at <c>r + 1</c> as an affine function of the state at <c>r</c> (no filter, no reduction, no absent
    /// points), every other Einsum writes and reads the block's tensors at <c>r</c> only (the state at <c>r</c> or
    /// <c>r + 1</c>), and the only init is the state's.
    /// </summary>
    internal static ScanPlan? LinearScan(Cascade cascade, IterationBlock block, IReadOnlyDictionary<string, LoopBuffer> buffers)
    {
        var r = block.Rank;
        if (block.Stop is not { Operator: ComparisonOperator.Equal, Left: IndexVariable left, Right: IndexSize bound } || left.Rank != r || bound.Size != cascade.Rank(r).Size)
            return null;
        var writers = block.Einsums.Where(e => e.OutputIndices.Any(x => StepOffset(x, r) == 1)).ToList();
        if (writers.Count != 1) return null;
        var w = writers[0];
        var state = w.Output;
        if (state.Role == TensorRole.Input || w.Reduction is not null || w.Filters.Count > 0) return null;
        if (block.Inits.Any(i => i.Output.Name != state.Name) || block.Einsums.Count(e => e.Output.Name == state.Name) != 1) return null;
        // A state that keeps flags is always present all the same when its init sets every point (no filter, reads of
        // whole tensors that have no absent points): a present state times a present factor is present, and + keeps it.
        var init = block.Inits.FirstOrDefault();
        if (buffers[state.Name].HasFlags && (init is null || init.Filters.Count > 0 || init.Reduction is not null
            || !new HashSet<string>(init.OutputRanks).SetEquals(w.OutputRanks.Where(x => x != r))
            || init.Reads().Any(x => buffers[x.Tensor.Name].HasFlags || x.Indices.Any(i => i is not IndexVariable))))
            return null;
        var dims = w.OutputIndices.Select((x, d) => (x, d)).Where(t => t.x.Variables().Contains(r)).ToList();
        if (dims.Count != 1) return null;
        var dim = dims[0].d;
        var previous = w.OutputIndices.Select((x, d) => d == dim ? new IndexVariable(r) : x).ToList();
        bool IsState(Expr e) => e is TensorRead t && t.Tensor.Name == state.Name && t.Indices.SequenceEqual(previous);
        if (w.Body is not Binary { Operator: BinaryOperator.Add } sum) return null;
        (Expr, Expr)? Affine(Expr product, Expr term) => product is Binary { Operator: BinaryOperator.Multiply } m
            ? IsState(m.Right) ? (m.Left, term) : IsState(m.Left) ? (m.Right, term) : null
            : null;
        if ((Affine(sum.Left, sum.Right) ?? Affine(sum.Right, sum.Left)) is not var (factor, term)) return null;
        // Step-local: every other Einsum of the block writes at r and reads the block's tensors at r (the state at r or r+1).
        var written = new HashSet<string>(block.Einsums.Select(e => e.Output.Name), StringComparer.Ordinal);
        var reached = new HashSet<string>(StringComparer.Ordinal) { state.Name };
        foreach (var e in block.Einsums.Where(e => e != w))
        {
            var at = e.OutputIndices.Select((x, d) => (x, d)).Where(t => t.x.Variables().Contains(r)).ToList();
            if (at.Count != 1 || StepOffset(at[0].x, r) != 0 || e.Output.Role == TensorRole.Input) return null;
            foreach (var read in e.Reads().Where(x => written.Contains(x.Tensor.Name)))
            {
                var d = read.Tensor.Name == state.Name ? dim : block.Einsums.First(x => x.Output.Name == read.Tensor.Name).OutputIndices.Select((x, i) => (x, i)).First(t => t.x.Variables().Contains(r)).i;
                var offset = StepOffset(read.Indices[d], r);
                if (offset is null || offset > (read.Tensor.Name == state.Name ? 1 : 0)) return null;
            }
            if (e.Reads().Any(x => reached.Contains(x.Tensor.Name))) reached.Add(e.Output.Name);
        }
        // The factor and the term come from before the recurrence.
        if (factor.Reads().Concat(term.Reads()).Any(x => reached.Contains(x.Tensor.Name))) return null;
        var others = block.Einsums.Where(e => e != w).ToList();
        return new ScanPlan(block, w, factor, term, dim, others.Where(e => !reached.Contains(e.Output.Name)).ToList(), others.Where(e => reached.Contains(e.Output.Name)).ToList());
    }

    /// <summary>k when <paramref name="index"/> is <c>r</c> or <c>r + k</c> (k 0 or more), else null.</summary>
    private static long? StepOffset(IndexExpr index, string r) => index switch
    {
        IndexVariable v when v.Rank == r => 0,
        IndexBinary { Operator: IndexOperator.Add, Left: IndexVariable v, Right: IndexConstant c } when v.Rank == r && c.Value >= 0 => c.Value,
        IndexBinary { Operator: IndexOperator.Add, Left: IndexConstant c, Right: IndexVariable v } when v.Rank == r && c.Value >= 0 => c.Value,
        _ => null,
    };

    /// <summary>The sizes a caller binds, in the order <see cref="Interpretation.CascadeShapes.RequiredSizes"/> gives.</summary>
    private static List<string> CascadeShapesNames(Cascade cascade) =>
        Interpretation.CascadeShapes.RequiredSizes(cascade).Select(s => s.Size).ToList();

    private static IndexExpr Plus(IndexExpr e, int offset) => offset == 0 ? e : new IndexBinary(IndexOperator.Add, e, new IndexConstant(offset));

    internal static LoopValue And(LoopValue a, LoopValue b) =>
        a is LBool { Value: true } ? b : b is LBool { Value: true } ? a : a is LBool { Value: false } || b is LBool { Value: false } ? LBool.False : new LLogic(false, a, b);

    internal static LoopValue Or(LoopValue a, LoopValue b) =>
        a is LBool { Value: false } ? b : b is LBool { Value: false } ? a : a is LBool { Value: true } || b is LBool { Value: true } ? LBool.True : new LLogic(true, a, b);

    private sealed class Lowerer(Cascade cascade, Dictionary<string, LoopBuffer> buffers, GpuSchedule schedule)
    {
        private int _temp;
        private readonly HashSet<string> _names = new(StringComparer.Ordinal);

        public LoopKernel Kernel(ExtendedEinsum e, string? stepRank)
        {
            var grid = e.OutputRanks.Where(r => r != stepRank).ToList();
            var name = Name($"E{e.Id}_{e.Output.Name}{(e.IsInit ? "_init" : "")}");
            return new LoopKernel(name, Text(e), grid, stepRank, Point(e, grid.Append(stepRank ?? ""), Grouped(e)))
            {
                GroupSize = Grouped(e) ? schedule.GroupSize : 1,
            };
        }

        private static string Text(ExtendedEinsum e) => string.Join(" ", e.Text.Split('\n').Select(l => l.Split('#')[0].Trim()).Where(l => l.Length > 0));

        /// <summary>
        /// The statements that compute one output point of <paramref name="e"/> whose ranks <paramref name="known"/> are
        /// bound (the others are reduced): the spec line, the filters that involve only known ranks, the bounds of the
        /// output, the value (or the reduction, split across the group when <paramref name="grouped"/>) and its store.
        /// </summary>
        private List<LoopStmt> Point(ExtendedEinsum e, IEnumerable<string> known, bool grouped)
        {
            _temp = 0;
            var bound = new HashSet<string>(known, StringComparer.Ordinal);
            var outerFilters = e.Filters.Where(f => f.Left.Variables().Concat(f.Right.Variables()).All(bound.Contains)).ToList();
            var innerFilters = e.Filters.Except(outerFilters).ToList();
            var output = buffers[e.Output.Name];
            var inBounds = Bounds(e.Output.Name, e.OutputIndices);
            var body = new List<LoopStmt>();
            if (e.Reduction is not { } op)
            {
                var (value, present) = Eval(e.Body, body);
                Write(body, output, e.OutputIndices, value, present);
            }
            else
                Reduce(e, op, innerFilters, output, body, grouped);
            var pass = outerFilters.Aggregate((LoopValue)LBool.True, (c, f) => And(c, new LFilter(f)));
            // A point a filter skips is absent: its flag is cleared (it starts cleared; this keeps the rule local).
            var skipped = output.HasFlags ? new List<LoopStmt> { new SSetFlag(output.Name, e.OutputIndices, LBool.False) } : new List<LoopStmt>();
            IReadOnlyList<LoopStmt> statements = pass is LBool { Value: true } ? body : new[] { new SIf(pass, body, skipped.Count > 0 ? skipped : Array.Empty<LoopStmt>()) };
            if (inBounds is not LBool { Value: true }) statements = new[] { new SIf(inBounds, statements, Array.Empty<LoopStmt>()) };
            return new LoopStmt[] { new SComment(Text(e)) }.Concat(statements).ToList();
        }

        /// <summary>
        /// An iteration block as one kernel, when its points are independent along the ranks every Einsum of the block keeps
        /// (the common ranks: attention's b, h, p; a scan's batch and channel): then a tensor the block writes is read inside
        /// the block only at the reader's own point of those ranks, so one group per point of them can run every step with
        /// its state, with no other group's data. Each Einsum's remaining points are split across the group's threads (a
        /// reduction serial per point), a barrier after each Einsum. A common rank whose points share a contraction operand
        /// (attention's query rows p and a key tile) is taken <see cref="GpuSchedule.BlockRows"/> points per group. With no
        /// common rank (one sequence of linear attention) one group runs the block. Null when the block reads its own state
        /// at another point of a common rank: then each step needs every group's results, a launch per Einsum and step.
        /// </summary>
        public LoopKernel? Fused(IterationBlock block)
        {
            var einsums = block.Einsums;
            if (einsums.Count == 0) return null;
            var common = einsums[0].OutputRanks.Where(r => r != block.Rank && einsums.All(e => e.OutputRanks.Contains(r))).ToList();
            // Where each writer keeps each common rank: a plain index of its output.
            var written = new Dictionary<string, List<Dictionary<int, string>>>(StringComparer.Ordinal);
            foreach (var e in einsums)
            {
                var at = new Dictionary<int, string>();
                foreach (var c in common)
                {
                    var d = -1;
                    for (var i = 0; i < e.OutputIndices.Count && d < 0; i++)
                        if (e.OutputIndices[i] is IndexVariable v && v.Rank == c) d = i;
                    if (d < 0) return null;
                    at[d] = c;
                }
                if (!written.TryGetValue(e.Output.Name, out var list)) written[e.Output.Name] = list = new();
                list.Add(at);
            }
            // Every read of a tensor the block writes is at the reader's own point of the common ranks.
            foreach (var e in einsums)
                foreach (var read in e.Reads())
                    if (written.TryGetValue(read.Tensor.Name, out var writers))
                        foreach (var at in writers)
                            foreach (var kv in at)
                                if (read.Indices[kv.Key] is not IndexVariable v || v.Rank != kv.Value)
                                    return null;
            // The rank taken a block of rows at a time: the last common rank that some contraction operand does not depend on.
            var blocked = common.LastOrDefault(c => einsums.Any(e => e.Reduction is not null && e.Reads().Any(r =>
                !r.Indices.SelectMany(i => i.Variables()).Contains(c) && r.Indices.SelectMany(i => i.Variables()).Any(e.ReducedRanks.Contains))));
            if (schedule.BlockRows <= 1) blocked = null;
            var rows = new IndexConstant(schedule.BlockRows);
            var grid = common.Select(c => c == blocked ? "_blk_" + c : c).ToList();
            var extents = common.Select(c =>
            {
                IndexExpr size = new IndexSize(cascade.Rank(c).Size);
                return c == blocked ? new IndexBinary(IndexOperator.Divide, new IndexBinary(IndexOperator.Add, size, new IndexConstant(schedule.BlockRows - 1)), rows) : size;
            }).ToList();
            // The points of an Einsum of the block (or of a copy of its output) split across the group: its ranks less the
            // step's and the common ones, and the group's block of rows.
            LoopStmt Spread(ExtendedEinsum e, IReadOnlyList<LoopStmt> point)
            {
                var rest = e.OutputRanks.Where(r => r != block.Rank && !common.Contains(r)).ToList();
                var ranks = rest.Select(r => (IndexExpr)new IndexSize(cascade.Rank(r).Size)).ToList();
                if (blocked is null) return new SGroupFor(rest, ranks, point);
                point = new LoopStmt[]
                {
                    new SLet(blocked, new IndexBinary(IndexOperator.Add, new IndexBinary(IndexOperator.Multiply, new IndexVariable("_blk_" + blocked), rows), new IndexVariable("_in_" + blocked)),
                        new IndexSize(cascade.Rank(blocked).Size), point),
                };
                return new SGroupFor(rest.Prepend("_in_" + blocked).ToList(), ranks.Prepend(rows).ToList(), point);
            }
            var tiles = blocked is not null && schedule.StageTiles ? Tiles(block, common, blocked, written.Keys) : new List<StagedTile>();
            _staged = tiles.ToDictionary(t => TileKey(t.Tensor, t.Indices), StringComparer.Ordinal);
            var steps = new List<LoopStmt>();
            steps.AddRange(tiles.Select(t => new SStage(t.Name)));
            if (tiles.Count > 0) steps.Add(new SBarrier());
            foreach (var e in einsums)
            {
                steps.Add(Spread(e, Point(e, e.OutputRanks.Append(block.Rank), grouped: false)));
                steps.Add(new SBarrier());
            }
            _staged = new Dictionary<string, StagedTile>(StringComparer.Ordinal);
            if (schedule.SkipMaskedSteps && Skip(block, common, blocked) is { } skip)
            {
                // The state moves on unchanged: each carried tensor's point at the next step is its point at this one.
                var copies = skip.Carried.Select(w =>
                {
                    var dim = w.Output.CarriedDim!.Value;
                    var now = w.OutputIndices.Select((x, d) => d == dim ? new IndexVariable(block.Rank) : x).ToList();
                    var copy = new List<LoopStmt> { new SStore(w.Output.Name, w.OutputIndices, new LLoad(w.Output.Name, now)) };
                    if (buffers[w.Output.Name].HasFlags) copy.Add(new SSetFlag(w.Output.Name, w.OutputIndices, new LFlag(w.Output.Name, now)));
                    var inside = And(Bounds(w.Output.Name, w.OutputIndices), Bounds(w.Output.Name, now));
                    return Spread(w, inside is LBool { Value: true } ? copy : new LoopStmt[] { new SIf(inside, copy, Array.Empty<LoopStmt>()) });
                }).ToList();
                copies.Insert(0, new SComment($"{string.Join(", ", skip.Masked.Select(x => x.Output.Name))} has no point in this step for the group's rows ('where' leaves every one out): the step changes no state"));
                copies.Add(new SBarrier());
                steps = new List<LoopStmt> { new SIf(skip.Condition, copies, steps) };
            }
            var text = $"iterate {block.Rank} until {block.Stop} {{ {string.Join("; ", einsums.Select(Text))} }}";
            IReadOnlyList<LoopStmt> body = new LoopStmt[] { new SLoop(block.Rank, block.Stop, steps) };
            var own = schedule.StageTiles ? GroupBuffers(block, written, blocked) : new List<GroupBuffer>();
            if (own.Count > 0)
            {
                // The group's state and step tensors in shared memory: in from device memory (the inits' values), out after
                // the steps where the cascade reads them after the block.
                // A step tensor is written before it is read in each step (the fold guarantees it); the state starts from
                // its inits, which ran before this kernel.
                var inside = new HashSet<int>(einsums.Concat(block.Inits).Select(e => e.Id));
                var initialised = own.Where(g => block.Inits.Any(i => i.Output.Name == g.Tensor)).ToList();
                var readAfter = own.Where(g => cascade.Einsums.Any(e => !inside.Contains(e.Id) && e.Reads().Any(r => r.Tensor.Name == g.Tensor))).ToList();
                body = (initialised.Count > 0 ? initialised.Select(g => (LoopStmt)new SGroupCopy(g.Tensor, false)).Append(new SBarrier()) : Enumerable.Empty<LoopStmt>()).Concat(body)
                    .Concat(readAfter.Count > 0 ? readAfter.Select(g => (LoopStmt)new SGroupCopy(g.Tensor, true)).Prepend(new SBarrier()) : Enumerable.Empty<LoopStmt>()).ToList();
            }
            // Shared memory goes first to the tiles (each element read by every row of the block), then to the carried
            // state (read and written every step), then to the step tensors.
            var carried = own.Where(g => cascade.Tensor(g.Tensor).IsLoopCarried).Select(g => g.Tensor).ToList();
            var order = tiles.Select(t => t.Name).Concat(carried).Concat(own.Select(g => g.Tensor).Except(carried)).ToList();
            return new LoopKernel(Name($"Block_{block.Rank}"), text, grid, null, body)
            {
                GridExtents = extents,
                GroupSize = schedule.GroupSize,
                FusedBlock = true,
                Tiles = tiles,
                GroupBuffers = own,
                SharedOrder = order,
            };
        }

        /// <summary>
        /// The tensors of a fused block that can live in its group's shared memory: intermediates the block writes whose
        /// storage is folded along the block's rank (so the group's share does not grow with the steps), each writer
        /// keeping the same common ranks at the same dimensions (the fusion already checked that every read inside the
        /// block is at the reader's own point of them).
        /// </summary>
        private List<GroupBuffer> GroupBuffers(IterationBlock block, Dictionary<string, List<Dictionary<int, string>>> written, string? blocked)
        {
            var rowBase = blocked is null ? (IndexExpr)new IndexConstant(0) : new IndexBinary(IndexOperator.Multiply, new IndexVariable("_blk_" + blocked), new IndexConstant(schedule.BlockRows));
            var list = new List<GroupBuffer>();
            foreach (var e in block.Einsums)
            {
                var name = e.Output.Name;
                var b = buffers[name];
                if (b.IsArgument || b.FoldDim < 0 || list.Any(g => g.Tensor == name)) continue;
                var maps = written[name];
                if (maps.Any(m => m.Count != maps[0].Count || m.Any(kv => !maps[0].TryGetValue(kv.Key, out var c) || c != kv.Value))) continue;
                var ranks = Enumerable.Range(0, b.Extents.Count).Select(d => maps[0].TryGetValue(d, out var c) ? c : null).ToList();
                list.Add(new GroupBuffer(name, ranks, blocked, rowBase, blocked is null ? 1 : schedule.BlockRows));
            }
            return list;
        }

        // The staged tiles of the fused block being lowered, by tensor and indices: Eval reads them instead of the tensor.
        private Dictionary<string, StagedTile> _staged = new(StringComparer.Ordinal);

        private static string TileKey(string tensor, IReadOnlyList<IndexExpr> indices) => tensor + "[" + string.Join(",", indices) + "]";

        /// <summary>
        /// The tiles worth staging in a fused block: reads of a tensor the block does not write, at indices free of the
        /// blocked rank (so every row of the group's block reads the same points) that vary over some of the Einsum's own
        /// ranks (the tile's); the common ranks and the step are fixed for the group during a step. Attention's
        /// <c>K[b,h,m1*M0+m0,e]</c> is a tile over (m0, e).
        /// </summary>
        private List<StagedTile> Tiles(IterationBlock block, IReadOnlyList<string> common, string blocked, IEnumerable<string> written)
        {
            var writes = new HashSet<string>(written, StringComparer.Ordinal);
            var tiles = new List<StagedTile>();
            var keys = new HashSet<string>(StringComparer.Ordinal);
            foreach (var e in block.Einsums)
                foreach (var read in e.Reads())
                {
                    var variables = read.Indices.SelectMany(i => i.Variables()).Distinct().ToList();
                    var ranks = variables.Where(v => v != block.Rank && !common.Contains(v)).ToList();
                    if (writes.Contains(read.Tensor.Name) || variables.Contains(blocked) || ranks.Count == 0 || !keys.Add(TileKey(read.Tensor.Name, read.Indices))) continue;
                    var n = tiles.Count(t => t.Tensor == read.Tensor.Name);
                    var name = read.Tensor.Name + (n > 0 ? "_" + (n + 1) : "");
                    while (writes.Contains(name) || tiles.Any(t => t.Name == name)) name += "_";
                    tiles.Add(new StagedTile(name, read.Tensor.Name, read.Indices, ranks, ranks.Select(r => (IndexExpr)new IndexSize(cascade.Rank(r).Size)).ToList()));
                }
            return tiles;
        }

        /// <summary>
        /// When a fused block's step can be skipped: a filtered Einsum that <see cref="FilterFills.SkippableBy"/> proves
        /// changes no carried state when it has no point, whose filters' ranges over the group's points (the step and the
        /// common ranks fixed, the blocked rank over the group's rows, the Einsum's other ranks over their sizes) can tell
        /// that none holds; and the block's other tensors live within a step (read only after their writer, at the same
        /// step, and not after the block), so a step not run leaves nothing stale. The condition is a union over the
        /// filters, so it is exact per filter and conservative over the block of rows (the last block may be partial).
        /// </summary>
        private (LoopValue Condition, IReadOnlyList<ExtendedEinsum> Masked, IReadOnlyList<ExtendedEinsum> Carried)? Skip(IterationBlock block, IReadOnlyList<string> common, string? blocked)
        {
            var r = block.Rank;
            var filtered = block.Einsums.Where(e => e.Filters.Count > 0 && e.Filters.All(f => FilterFills.OnOutput(e, f))).ToDictionary(e => e.Id, _ => 0.0);
            if (filtered.Count == 0) return null;
            var masked = FilterFills.SkippableBy(cascade, block, filtered).Select(id => block.Einsums.First(e => e.Id == id)).ToList();
            if (masked.Count == 0) return null;
            static bool NextStep(IndexExpr x, string rank) => StepOffset(x, rank) == 1 && x is not IndexVariable;
            var carried = block.Einsums.Where(e => e.Output.CarriedDim is { } c && NextStep(e.OutputIndices[c], r)).ToList();
            var inside = new HashSet<int>(block.Einsums.Concat(block.Inits).Select(e => e.Id));
            for (var wi = 0; wi < block.Einsums.Count; wi++)
            {
                var w = block.Einsums[wi];
                if (carried.Contains(w)) continue;
                var stepDims = w.OutputIndices.Select((x, d) => (x, d)).Where(t => t.x.Variables().Contains(r)).ToList();
                if (cascade.Einsums.Any(x => !inside.Contains(x.Id) && x.Reads().Any(t => t.Tensor.Name == w.Output.Name))) return null;
                if (block.Inits.Any(x => x.Reads().Any(t => t.Tensor.Name == w.Output.Name))) return null;
                for (var ri = 0; ri < block.Einsums.Count; ri++)
                    foreach (var read in block.Einsums[ri].Reads().Where(t => t.Tensor.Name == w.Output.Name))
                        if (ri <= wi || stepDims.Any(t => !read.Indices[t.d].Equals(t.x))) return null;
            }
            var rows = (long)schedule.BlockRows;
            LoopValue condition = LBool.False;
            foreach (var x in masked)
                foreach (var f in x.Filters)
                    if (NoPoint(x, f) is { } none) condition = Or(condition, none);
            return condition is LBool { Value: false } ? null : (condition, masked, carried);

            // True when the filter holds at no point of x's that the group computes in this step.
            LoopValue? NoPoint(ExtendedEinsum x, Comparison f)
            {
                if (!IndexAffine.TryLinear(new IndexBinary(IndexOperator.Subtract, f.Left, f.Right), out var terms, out var constant)) return null;
                IndexExpr? min = null, max = null;
                LoopValue nonEmpty = LBool.True;
                // acc + coefficient * x, printed as a reader would write it (no 0 terms, no factors of 1).
                static IndexExpr? Term(IndexExpr? acc, IndexExpr coefficient, IndexExpr x)
                {
                    if (x is IndexConstant { Value: 0 } || coefficient is IndexConstant { Value: 0 }) return acc;
                    var negative = coefficient is IndexConstant { Value: < 0 };
                    var size = coefficient is IndexConstant c ? Math.Abs(c.Value) : 0;
                    var product = size == 1 ? x : new IndexBinary(IndexOperator.Multiply, size > 1 ? new IndexConstant(size) : coefficient, x);
                    if (acc is null) return negative ? new IndexBinary(IndexOperator.Subtract, new IndexConstant(0), product) : product;
                    return new IndexBinary(negative ? IndexOperator.Subtract : IndexOperator.Add, acc, product);
                }
                foreach (var (rank, coefficient) in terms)
                {
                    IndexExpr lo, hi;
                    if (rank == r || (common.Contains(rank) && rank != blocked)) lo = hi = new IndexVariable(rank);
                    else if (coefficient is not IndexConstant) return null;
                    else if (rank == blocked)
                    {
                        lo = new IndexBinary(IndexOperator.Multiply, new IndexVariable("_blk_" + rank), new IndexConstant(rows));
                        hi = new IndexBinary(IndexOperator.Add, lo, new IndexConstant(rows - 1));
                    }
                    else
                    {
                        var size = new IndexSize(cascade.Rank(rank).Size);
                        nonEmpty = And(nonEmpty, new LFilter(new Comparison(size, ComparisonOperator.Greater, new IndexConstant(0))));
                        lo = new IndexConstant(0);
                        hi = new IndexBinary(IndexOperator.Subtract, size, new IndexConstant(1));
                    }
                    var negative = coefficient is IndexConstant { Value: < 0 };
                    min = Term(min, coefficient, negative ? hi : lo);
                    max = Term(max, coefficient, negative ? lo : hi);
                }
                var one = new IndexConstant(1);
                min = Term(min, one, constant) ?? new IndexConstant(0);
                max = Term(max, one, constant) ?? new IndexConstant(0);
                var zero = new IndexConstant(0);
                // The filter fails everywhere: its negation holds at the extreme of Left - Right that is hardest for it.
                LoopValue fails = f.Operator switch
                {
                    ComparisonOperator.LessEqual => new LFilter(new Comparison(min, ComparisonOperator.Greater, zero)),
                    ComparisonOperator.Less => new LFilter(new Comparison(min, ComparisonOperator.GreaterEqual, zero)),
                    ComparisonOperator.GreaterEqual => new LFilter(new Comparison(max, ComparisonOperator.Less, zero)),
                    ComparisonOperator.Greater => new LFilter(new Comparison(max, ComparisonOperator.LessEqual, zero)),
                    ComparisonOperator.Equal => Or(new LFilter(new Comparison(min, ComparisonOperator.Greater, zero)), new LFilter(new Comparison(max, ComparisonOperator.Less, zero))),
                    _ => And(new LFilter(new Comparison(min, ComparisonOperator.Equal, zero)), new LFilter(new Comparison(max, ComparisonOperator.Equal, zero))),
                };
                return And(nonEmpty, fails);
            }
        }

        /// <summary>
        /// The recurrence of a scan plan as one kernel: one group per point of the state (its ranks less the block's); each
        /// thread composes the affine maps of its chunk of steps, the group scans the chunks' maps, and each thread reruns
        /// its chunk from the state its predecessors leave, storing every step. An absent term adds nothing (the union of
        /// +); null when the factor can be absent (then the product would be, and the state would forget its past). The
        /// plan made sure the state is present at every step (flags, if it keeps them, are set).
        /// </summary>
        public LoopKernel? Scan(ScanPlan plan)
        {
            _temp = 0;
            var w = plan.Writer;
            var r = plan.Block.Rank;
            var steps = new IndexSize(cascade.Rank(r).Size);
            List<LoopStmt>? Maps()
            {
                var list = new List<LoopStmt>();
                var (a, pa) = Eval(plan.Factor, list);
                var (b, pb) = Eval(plan.Term, list);
                if (pa is not LBool { Value: true }) return null;
                list.Add(new SDeclare("_a", false, a));
                // An absent term leaves the product alone, as + does with an absent operand: the map x -> a*x.
                list.Add(new SDeclare("_b", false, pb is LBool { Value: true } ? b : new LSelect(pb, b, new LNumber(0))));
                return list;
            }
            if (Maps() is not { } compose || Maps() is not { } rerun || Maps() is not { } again) return null;
            var (A, B, x, ax, bx) = (new LLocal("_A"), new LLocal("_B"), new LLocal("_x"), new LLocal("_a"), new LLocal("_b"));
            compose.Add(new SAssign("_B", new LBinary(BinaryOperator.Add, new LBinary(BinaryOperator.Multiply, ax, B), bx)));
            compose.Add(new SAssign("_A", new LBinary(BinaryOperator.Multiply, ax, A)));
            rerun.Add(new SAssign("_x", new LBinary(BinaryOperator.Add, new LBinary(BinaryOperator.Multiply, ax, x), bx)));
            rerun.Add(new SStore(w.Output.Name, w.OutputIndices, x));
            if (buffers[w.Output.Name].HasFlags) rerun.Add(new SSetFlag(w.Output.Name, w.OutputIndices, LBool.True));
            var first = w.OutputIndices.Select((i, d) => d == plan.Dim ? new IndexConstant(0) : i).ToList();
            again.Add(new SAssign("_x", new LBinary(BinaryOperator.Add, new LBinary(BinaryOperator.Multiply, ax, x), bx)));
            LoopValue NotFinite(LoopValue v) => new LIsNaN(new LBinary(BinaryOperator.Subtract, v, v));
            var body = new List<LoopStmt>
            {
                new SComment(Text(w)),
                new SDeclare("_A", false, new LNumber(1)),
                new SDeclare("_B", false, new LNumber(0)),
                new SGroupChunks(r, steps, compose),
                new SGroupScan("_A", "_B"),
                new SDeclare("_x", false, new LBinary(BinaryOperator.Add, new LBinary(BinaryOperator.Multiply, A, new LLoad(w.Output.Name, first)), B)),
                // The composed factor can overflow or underflow where the steps' values do not (1e30 * 1e30 against a state
                // of 0, or a state of inf against factors whose product is 0): then the carry comes from the steps themselves.
                new SIf(new LLogic(true, NotFinite(x), NotFinite(A)), new LoopStmt[]
                {
                    new SAssign("_x", new LLoad(w.Output.Name, first)),
                    new SGroupPrefix(r, steps, again),
                }, Array.Empty<LoopStmt>()),
                new SGroupChunks(r, steps, rerun),
            };
            return new LoopKernel(Name($"Scan_{w.Output.Name}"), Text(w), w.OutputRanks.Where(x => x != r).ToList(), null, body)
            {
                GroupSize = schedule.GroupSize,
                LinearScan = true,
            };
        }

        /// <summary>A reduction runs one group per output point when the schedule asks for it.</summary>
        private bool Grouped(ExtendedEinsum e) => schedule.GroupReductions && e.Reduction is not null && e.ReducedRanks.Count > 0;

        private string Name(string name)
        {
            var unique = name;
            for (var i = 2; !_names.Add(unique); i++) unique = name + "_" + i;
            return unique;
        }

        private static void Write(List<LoopStmt> body, LoopBuffer output, IReadOnlyList<IndexExpr> indices, LoopValue value, LoopValue present)
        {
            if (output.HasFlags) body.Add(new SSetFlag(output.Name, indices, present));
            if (present is LBool { Value: true }) body.Add(new SStore(output.Name, indices, value));
            else body.Add(new SIf(present, new LoopStmt[] { new SStore(output.Name, indices, value) }, Array.Empty<LoopStmt>()));
        }

        private void Reduce(ExtendedEinsum e, ReduceOperator op, List<Comparison> innerFilters, LoopBuffer output, List<LoopStmt> body, bool grouped)
        {
            var inner = new List<LoopStmt>();
            var (value, present) = Eval(e.Body, inner);
            // Over a filtered-out (empty) fiber the result is the identity; over one whose points are all absent, absent.
            var tracks = present is not LBool { Value: true };
            if (tracks)
            {
                body.Add(new SDeclare("_any_point", true, LBool.False));
                body.Add(new SDeclare("_any_present", true, LBool.False));
                inner.Insert(0, new SAssign("_any_point", LBool.True));
            }
            body.Add(new SDeclare("_acc", false, new LNumber(op switch
            {
                ReduceOperator.Prod => 1.0,
                ReduceOperator.Max => double.NegativeInfinity,
                ReduceOperator.Min => double.PositiveInfinity,
                _ => 0.0,
            })));
            if (op == ReduceOperator.LogSumExp) body.Add(new SDeclare("_lse_max", false, new LNumber(double.NegativeInfinity)));
            var update = new List<LoopStmt>();
            if (tracks) update.Add(new SAssign("_any_present", LBool.True));
            var x = value;
            if (op == ReduceOperator.LogSumExp && value is not LLocal)
            {
                update.Add(new SDeclare("_x", false, value));
                x = new LLocal("_x");
            }
            update.AddRange(Accumulate(op, x));
            if (tracks) inner.Add(new SIf(present, update, Array.Empty<LoopStmt>()));
            else inner.AddRange(update);
            IReadOnlyList<LoopStmt> loop = innerFilters.Count == 0 ? inner
                : new[] { new SIf(innerFilters.Aggregate((LoopValue)LBool.True, (c, f) => And(c, new LFilter(f))), inner, Array.Empty<LoopStmt>()) };
            if (grouped)
            {
                // The group's threads split the reduced points, then merge their partial results.
                body.Add(new SGroupFor(e.ReducedRanks, e.ReducedRanks.Select(r => (IndexExpr)new IndexSize(cascade.Rank(r).Size)).ToList(), loop));
                body.Add(op == ReduceOperator.LogSumExp ? new SGroupCombine("_acc", GroupCombineOperator.LogSumExp, "_lse_max")
                    : new SGroupCombine("_acc", op switch { ReduceOperator.Sum => GroupCombineOperator.Sum, ReduceOperator.Prod => GroupCombineOperator.Prod, ReduceOperator.Max => GroupCombineOperator.Max, _ => GroupCombineOperator.Min }));
                if (tracks)
                {
                    body.Add(new SGroupCombine("_any_point", GroupCombineOperator.Or));
                    body.Add(new SGroupCombine("_any_present", GroupCombineOperator.Or));
                }
            }
            else
            {
                for (var i = e.ReducedRanks.Count - 1; i >= 0; i--)
                    loop = new[] { new SFor(e.ReducedRanks[i], new IndexSize(cascade.Rank(e.ReducedRanks[i]).Size), loop) };
                body.AddRange(loop);
            }
            LoopValue result = new LLocal("_acc");
            if (op == ReduceOperator.LogSumExp)
            {
                // The online log-sum-exp of the interpreter: NaN if any point is NaN, +inf if any is +inf, -inf if all are -inf.
                var max = new LLocal("_lse_max");
                result = new LSelect(new LIsNaN(result), result,
                    new LSelect(new LLogic(true, new LCompare(FloatComparison.Equal, max, new LNumber(double.NegativeInfinity)), new LCompare(FloatComparison.Equal, max, new LNumber(double.PositiveInfinity))), max,
                        new LBinary(BinaryOperator.Add, max, new LUnary(UnaryFunction.Log, result))));
            }
            var store = new List<LoopStmt>();
            Write(store, output, e.OutputIndices, result, tracks ? Or(new LNot(new LLocal("_any_point")), new LLocal("_any_present")) : LBool.True);
            if (grouped) body.Add(new SIf(new LLeader(), store, Array.Empty<LoopStmt>()));
            else body.AddRange(store);
        }

        private static IEnumerable<LoopStmt> Accumulate(ReduceOperator op, LoopValue x)
        {
            var acc = new LLocal("_acc");
            switch (op)
            {
                case ReduceOperator.Sum: yield return new SAssign("_acc", new LBinary(BinaryOperator.Add, acc, x)); break;
                case ReduceOperator.Prod: yield return new SAssign("_acc", new LBinary(BinaryOperator.Multiply, acc, x)); break;
                case ReduceOperator.Max: yield return new SAssign("_acc", new LBinary(BinaryOperator.Max, acc, x)); break;
                case ReduceOperator.Min: yield return new SAssign("_acc", new LBinary(BinaryOperator.Min, acc, x)); break;
                default:
                {
                    var max = new LLocal("_lse_max");
                    var inf = new LNumber(double.PositiveInfinity);
                    var rescale = new LoopStmt[]
                    {
                        new SAssign("_acc", new LBinary(BinaryOperator.Add, new LBinary(BinaryOperator.Multiply, acc, new LUnary(UnaryFunction.Exp, new LBinary(BinaryOperator.Subtract, max, x))), new LNumber(1))),
                        new SAssign("_lse_max", x),
                    };
                    var add = new LoopStmt[] { new SAssign("_acc", new LBinary(BinaryOperator.Add, acc, new LUnary(UnaryFunction.Exp, new LBinary(BinaryOperator.Subtract, x, max)))) };
                    // NaN poisons the sum; -inf adds nothing; +inf fixes the result at +inf; otherwise the running maximum rescales.
                    yield return new SIf(new LLogic(true, new LIsNaN(x), new LIsNaN(acc)), new LoopStmt[] { new SAssign("_acc", new LNumber(double.NaN)) },
                        new LoopStmt[]
                        {
                            new SIf(new LCompare(FloatComparison.Equal, x, inf), new LoopStmt[] { new SAssign("_lse_max", inf), new SAssign("_acc", new LNumber(1)) },
                                new LoopStmt[]
                                {
                                    new SIf(new LLogic(false, new LNot(new LCompare(FloatComparison.Equal, x, new LNumber(double.NegativeInfinity))), new LNot(new LCompare(FloatComparison.Equal, max, inf))),
                                        new LoopStmt[] { new SIf(new LCompare(FloatComparison.Greater, x, max), rescale, add) }, Array.Empty<LoopStmt>()),
                                }),
                        });
                    break;
                }
            }
        }

        /// <summary>True where every index lies inside the tensor: a plain rank index over the tensor's own dimension (offset
        /// 0 or more), or a constant below the dimension's offset (<c>RM[0,p]</c> of <c>RM[m1+1,p]</c>), needs no check.</summary>
        private LoopValue Bounds(string tensor, IReadOnlyList<IndexExpr> indices)
        {
            var dims = buffers[tensor].Tensor.Dims;
            for (var d = 0; d < indices.Count; d++)
            {
                if (indices[d] is IndexVariable v && SameSize(v.Rank, dims[d].Rank) && dims[d].Offset >= 0) continue;
                if (indices[d] is IndexConstant c && c.Value >= 0 && c.Value < dims[d].Offset) continue; // extent = size + offset

                return new LInBounds(tensor, indices);
            }
            return LBool.True;
        }

        private bool SameSize(string a, string b) => a == b || cascade.Rank(a).Size == cascade.Rank(b).Size;

        /// <summary>
        /// A map expression: its value and whether it exists (<see cref="LBool.True"/> when it always does), as the
        /// interpreter merges presence. Operands of a union that can be absent go to locals, so that none is computed twice.
        /// </summary>
        private (LoopValue Value, LoopValue Present) Eval(Expr e, List<LoopStmt> statements)
        {
            switch (e)
            {
                case Constant c: return (new LNumber(c.Value), LBool.True);
                case SizeValue s: return (new LIndex(new IndexSize(s.Size)), LBool.True);
                case IndexValue i: return (new LIndex(i.Index), LBool.True);
                case TensorRead r:
                {
                    var name = r.Tensor.Name;
                    var check = Bounds(name, r.Indices);
                    LoopValue flag = buffers[name].HasFlags ? new LFlag(name, r.Indices) : LBool.True;
                    LoopValue load = new LLoad(name, r.Indices);
                    if (_staged.TryGetValue(TileKey(name, r.Indices), out var tile)) load = new LTileLoad(tile.Name, (LLoad)load);
                    if (check is LBool { Value: true }) return (load, flag);
                    return (new LSelect(check, load, new LNumber(0)), flag is LBool { Value: true } ? check : new LLogic(false, check, flag));
                }
                case Unary u:
                {
                    var (x, p) = Eval(u.Operand, statements);
                    return (new LUnary(u.Function, x), p);
                }
                case Binary b:
                {
                    var (l, pl) = Eval(b.Left, statements);
                    var (r, pr) = Eval(b.Right, statements);
                    if (pl is LBool { Value: true } && pr is LBool { Value: true }) return (new LBinary(b.Operator, l, r), LBool.True);
                    if (b.Merge != MergeOperator.Union) return (new LBinary(b.Operator, l, r), And(pl, pr));
                    (l, pl) = Temporary(l, pl, statements);
                    (r, pr) = Temporary(r, pr, statements);
                    return (new LSelect(And(pl, pr), new LBinary(b.Operator, l, r), new LSelect(pl, l, r)), Or(pl, pr));
                }
                default:
                    throw new InvalidOperationException("unknown expression " + e.GetType().Name);
            }
        }

        private (LoopValue, LoopValue) Temporary(LoopValue value, LoopValue present, List<LoopStmt> statements)
        {
            var n = ++_temp;
            statements.Add(new SDeclare($"_v{n}", false, value));
            if (present is LBool { Value: true }) return (new LLocal($"_v{n}"), LBool.True);
            statements.Add(new SDeclare($"_p{n}", true, present));
            return (new LLocal($"_v{n}"), new LLocal($"_p{n}"));
        }
    }
}
