using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Planning;

namespace Kernels.Einsum.Loops;

// The loop-nest program of the C# sink: the same role as LoopProgram for the ILGPU sink, at the grain the CPU kernel is
// built from. A program is the plans a call may run and when; a plan is the Einsums run before the parallel loop and the
// parallel loop's body; a body is a list of nodes, each one of the lowerings the C# sink prints (an Einsum's loop nest, a
// fused map-and-reduce sweep, a micro-kernel call with a folded running sum, an iteration block's steps). Every decision
// (which plan, which nodes in which order, which loop a thread split takes, which steps a block skips) is made when the
// program is built (CpuLowering); the emitter prints it, and CpuInterpreter runs it as a second oracle.

/// <summary>A node of a plan's body.</summary>
public abstract record CpuNode;

/// <summary>A loop of an Einsum spread over the threads beyond the parallel rank: before the parallel loop
/// (<see cref="BeforeParallel"/>, its first loop) or, with rows run one at a time, its vector rank.</summary>
public sealed record ThreadSplit(string Rank, bool BeforeParallel);

/// <summary>
/// One Einsum's loop nest, as its plan says (lowering, loop order, vector rank), over every point the planner keeps;
/// with <see cref="Fill"/>, its filters (all on output ranks) run as a pass after it that stores the fill at the points
/// they leave out; with <see cref="Transpose"/>, a copy moved in blocks (the output's and the source's innermost ranks).
/// </summary>
public sealed record CEinsum(ExtendedEinsum Einsum, EinsumPlan Plan) : CpuNode
{
    public ThreadSplit? Split { get; init; }

    public double? Fill { get; init; }

    public (string Row, string Column)? Transpose { get; init; }

    /// <summary>Set when the Einsum is a row idiom one of the runtime's row micro-kernels computes (a maximum over a
    /// row, a row divided by a value invariant along it): its loop over the vector rank is one call.</summary>
    public RowKernelCall? Kernel { get; init; }

    /// <summary>A row maximum of this contraction's output computed in its micro-kernel call, as it stores
    /// (<see cref="KernelPlan.MaxFolds"/>): the maximum's Einsum runs here, not at its own place (<see cref="CMaxFolded"/>).</summary>
    public CEinsum? MaxFold { get; init; }
}

/// <summary>A row maximum computed in the micro-kernel call of the contraction before it (<see cref="CEinsum.MaxFold"/>):
/// nothing runs here.</summary>
public sealed record CMaxFolded(ExtendedEinsum Einsum, ExtendedEinsum Contraction) : CpuNode;

/// <summary>A vectorised map and the reduction of its output right after it, as one sweep: the map's value is stored
/// and reduced as it is written, not read back.</summary>
public sealed record CSweep(ExtendedEinsum Map, ExtendedEinsum Reduce, EinsumPlan MapPlan) : CpuNode
{
    public ThreadSplit? Split { get; init; }

    /// <summary>Set when the map is <c>exp(X[..v] - s)</c> (s invariant along v) and the reduction is its sum: the
    /// sweep is one call of the runtime's exp-and-sum row micro-kernel (<c>Sweep.ExpSum</c>).</summary>
    public RowKernelCall? Kernel { get; init; }
}

/// <summary>The row micro-kernels of the runtime (<c>Kernels.Runtime.Sweep</c>).</summary>
public enum RowKernel
{
    /// <summary><c>Y[v] = exp(X[v] - s)</c> (or <c>exp2</c>) stored, and its sum returned.</summary>
    ExpSum,

    /// <summary>The maximum of <c>X[v]</c> (NaN where one is NaN).</summary>
    Max,

    /// <summary><c>Y[v] = X[v] / d</c>, 0 where d is 0 (the language's divide), as a multiply by 1/d.</summary>
    Divide,
}

/// <summary>A call of a row micro-kernel: the row read (contiguous along the vector rank, as every read of a
/// vectorised Einsum), the value invariant along it (the exp's shift, the divisor; none for a maximum), and whether the
/// exp's argument is proved at most 0 (<see cref="KernelVariants.NonPositiveExps"/>).</summary>
public sealed record RowKernelCall(RowKernel Kernel, TensorRead Source, Expr? Operand, bool NonPositive = false)
{
    /// <summary>The exp is 2^x (<see cref="UnaryFunction.Exp2"/>, where <see cref="Planning.Log2Scores"/> folded log2(e) into the scores).</summary>
    public bool Base2 { get; init; }
}

/// <summary>An Einsum computed inside a <see cref="CFold"/>'s call (the contraction and the rescale of a running sum):
/// nothing runs here.</summary>
public sealed record CFolded(ExtendedEinsum Einsum) : CpuNode;

/// <summary>A running sum's update <c>X[r+1] = A*B + a*X[r]</c> with the contraction that produces A*B, as one
/// micro-kernel call that adds the rescaled previous sum as it stores.</summary>
public sealed record CFold(ExtendedEinsum Update, RescaleFold Fold, EinsumPlan Contraction) : CpuNode;

/// <summary>
/// An iteration block: its inits, then its steps in order. With <see cref="Skippers"/>, a step in which one of them has
/// no point for the rows at hand is skipped (it changes no carried tensor) and the carried tensors' two slots follow the
/// steps run. With <see cref="Clips"/>, a step's loops over a rank stop past the last point a filtered Einsum keeps.
/// With <see cref="Chunk"/>, the steps run a chunk at a time: <see cref="Before"/> for the whole chunk, <see cref="Body"/>
/// step by step, <see cref="After"/> for the whole chunk. <see cref="OwnMethod"/>: each step is printed as a method of its
/// own (a step of a blocked slice, so that the JIT inlines its vector operators).
/// </summary>
public sealed record CSteps(IterationBlock Block, IReadOnlyList<CpuNode> Inits, IReadOnlyList<CpuNode> Body) : CpuNode
{
    public IReadOnlyList<ExtendedEinsum> Skippers { get; init; } = Array.Empty<ExtendedEinsum>();

    public IReadOnlyList<FilterFills.StepClip> Clips { get; init; } = Array.Empty<FilterFills.StepClip>();

    public StepChunk? Chunk { get; init; }

    public IReadOnlyList<CpuNode> Before { get; init; } = Array.Empty<CpuNode>();

    public IReadOnlyList<CpuNode> After { get; init; } = Array.Empty<CpuNode>();

    public bool OwnMethod { get; init; }
}

/// <summary>
/// The loop over the parallel rank (<see cref="Rank"/>, with <see cref="OuterSlices"/> before it): the threads take ranges
/// of rows (of (outer point, row) pairs) and run <see cref="Body"/> for each row, or for each block of rows when
/// <see cref="RowBlocks"/> (<see cref="BlockRows"/> fixed by the schedule, else sized to the cache at run time). With
/// <see cref="RowByRow"/>, few long rows run one at a time instead, each Einsum's vector rank split across the threads.
/// </summary>
public sealed record CpuParallel(string Rank, IReadOnlyList<string> OuterSlices, bool RowBlocks, int? BlockRows, IReadOnlyList<CpuNode> Body)
{
    public IReadOnlyList<CpuNode>? RowByRow { get; init; }
}

/// <summary>One plan of a kernel: its name, the plan and the cascade it was made from, the nodes run once before the
/// parallel loop, and the parallel loop (null when no rank is independent across the cascade).</summary>
public sealed record CpuPlan(string Name, KernelPlan Plan, Cascade Cascade, IReadOnlyList<CpuNode> Hoisted, CpuParallel? Parallel);

/// <summary>
/// The C# kernel of a cascade as loop nests: its plans, in the order a call tries them (<see cref="Choose"/>), and the
/// outputs cleared before any runs (some of their points are written by no Einsum and read as 0).
/// </summary>
public sealed record CpuProgram(KernelVariants Variants, IReadOnlyList<CpuPlan> Plans, IReadOnlyList<string> ClearedOutputs)
{
    /// <summary>The plan for sizes that divide their tiles (or any, with partial tiles as loop bounds).</summary>
    public CpuPlan Main => Plans[0];

    /// <summary>The plan for the other sizes, when the kernel has one.</summary>
    public CpuPlan? General => Plans.FirstOrDefault(p => p.Name == "General");

    /// <summary>The plan for fewer than <see cref="FewRows"/> rows (a decode step), when the kernel has one.</summary>
    public CpuPlan? FewRowsPlan => Plans.FirstOrDefault(p => p.Name == "FewRows");

    /// <summary>The rows below which <see cref="FewRowsPlan"/> runs (<c>KernelRuntime.FewRows</c>).</summary>
    public const int FewRows = 64;

    /// <summary>True when <paramref name="plan"/> is exact for these sizes (by size name): it assumes no divisibility,
    /// bounds its partial tiles (with no sum over an empty rank), or the sizes divide its tiles.</summary>
    public static bool Serves(KernelPlan plan, Func<string, long> size)
    {
        if (!plan.AssumesDivisible || (plan.EdgeBounds is not null && plan.EdgeBoundsNeedNonEmpty.Count == 0)) return true;
        var divisible = plan.DivisibilityAssumed.All(d => size(plan.Cascade.Rank(d.Of).Size) % size(plan.Cascade.Rank(d.Inner).Size) == 0);
        return divisible || (plan.EdgeBounds is not null && plan.EdgeBoundsNeedNonEmpty.All(r => size(plan.Cascade.Rank(r).Size) != 0));
    }

    /// <summary>
    /// The program as an outline a reviewer reads next to the spec (<c>kernels emit --target loops</c>): each plan with
    /// when it runs, then its nodes in order, each with its spec line and its lowering, indented by the loops around it.
    /// </summary>
    public string Describe()
    {
        var w = new System.Text.StringBuilder();
        var c = Variants.Planned;
        w.Append("// The loop program of the C# kernel of '").Append(c.Name).Append("': the plans a call may run and their nodes, in the order the kernel runs them.\n");
        if (ClearedOutputs.Count > 0) w.Append("// cleared before any plan runs (some points no Einsum writes): ").Append(string.Join(", ", ClearedOutputs)).Append('\n');
        foreach (var alias in Variants.Aliases) w.Append("// ").Append(alias.Key).Append(" lives in ").Append(alias.Value.Name).Append("'s memory\n");
        foreach (var pair in Variants.Pairs) w.Append("// ").Append(pair).Append(" is kept as a (maximum, log of the sum) pair\n");
        foreach (var plan in Plans)
        {
            w.Append('\n').Append("plan ").Append(plan.Name).Append(plan.Name switch
            {
                "Dense" => ": when the sizes divide their tiles" + (plan.Plan.EdgeBounds is null ? "" : " (or every sum has a point; partial tiles are loop bounds)"),
                "General" => ": otherwise; points past a tensor's edge are absent",
                "FewRows" => $": fewer than {FewRows} rows of {plan.Plan.SliceRank}; tile copies read in place",
                _ => ": every size",
            }).Append('\n');
            var scratch = plan.Plan.Storage.Values.Where(x => x.Home != TensorHome.Argument && !Variants.Aliases.ContainsKey(x.Tensor.Name)).ToList();
            foreach (var home in new[] { TensorHome.Shared, TensorHome.SliceLocal })
                if (scratch.Where(x => x.Home == home).ToList() is { Count: > 0 } some)
                    w.Append(home == TensorHome.Shared ? "  scratch for the call: " : "  scratch of each thread: ").Append(string.Join("; ", some.Select(Stored))).Append('\n');
            if (plan.Hoisted.Count > 0)
            {
                w.Append(plan.Parallel is null ? "  on the calling thread:\n" : "  before the parallel loop:\n");
                Write(w, plan.Hoisted, 2);
            }
            if (plan.Parallel is { } par)
            {
                var over = string.Join(", ", par.OuterSlices.Append(par.Rank));
                w.Append("  parallel over ").Append(over).Append(par.RowBlocks ? $", {(par.BlockRows is { } n ? $"blocks of {n} rows of {par.Rank}" : $"blocks of {par.Rank}'s rows sized to the cache")}" : $", one {par.Rank} at a time").Append(":\n");
                Write(w, par.Body, 2);
                if (par.RowByRow is { } rows)
                {
                    w.Append("  or, with fewer rows than threads, one ").Append(par.Rank).Append(" at a time, each spread over the threads:\n");
                    Write(w, rows, 2);
                }
            }
        }
        return w.ToString();
    }

    /// <summary>A tensor's dimensions as stored: kept, not stored, two slots, the block's rows or a chunk of steps.</summary>
    private static string Stored(TensorStorage s) =>
        s.Tensor.Name + "[" + string.Join(", ", s.StorageOrder.Select(i => s.Tensor.Dims[i] + s.Dims[i] switch
        {
            DimStorage.Dropped => ": not stored",
            DimStorage.Rolling => ": two slots",
            DimStorage.Blocked => ": the block's rows",
            DimStorage.Chunk => ": a chunk of steps",
            _ => "",
        })) + "]" + (s.HasPresence ? " with presence flags" : "") + (s.Panels is { } p ? $" in the micro-kernel's panels of {s.Tensor.Dims[p.J]}" + (s.PanelsMayBeTheSource ? " (its source read in place where it has their layout)" : "") + (s.PanelFactors is null ? "" : ", scaled by its contraction's factors") : "");

    private static void Write(System.Text.StringBuilder w, IReadOnlyList<CpuNode> nodes, int depth)
    {
        var pad = new string(' ', 2 * depth);
        string Line(ExtendedEinsum e) => Emit.CodeWriter.OneLine(e.Text);
        foreach (var node in nodes)
        {
            switch (node)
            {
                case CFolded f:
                    w.Append(pad).Append(Line(f.Einsum)).Append("\n").Append(pad).Append("    (in the running sum's call below)\n");
                    break;
                case CMaxFolded f:
                    w.Append(pad).Append(Line(f.Einsum)).Append("\n").Append(pad).Append("    (in the micro-kernel call of ").Append(f.Contraction.Output.Name).Append(" above)\n");
                    break;
                case CFold f:
                    w.Append(pad).Append(Line(f.Update)).Append('\n').Append(pad).Append("    contraction over ").Append(f.Contraction.Contraction!.K)
                        .Append(" with the running sum rescaled by ").Append(f.Fold.Factor.Tensor.Name).Append(" as it stores: one micro-kernel call\n");
                    break;
                case CSweep s:
                    w.Append(pad).Append(Line(s.Map)).Append('\n').Append(pad).Append(Line(s.Reduce)).Append('\n').Append(pad)
                        .Append("    one sweep over ").Append(s.MapPlan.VectorRank).Append(": ").Append(s.Map.Output.Name).Append(" stored and reduced into ").Append(s.Reduce.Output.Name)
                        .Append(s.Split is { } sp ? $"; {sp.Rank} split across the threads" : "")
                        .Append(s.Kernel is not null ? "; exp and sum in one call of the row micro-kernel" : "").Append('\n');
                    break;
                case CEinsum e:
                    w.Append(pad).Append(Line(e.Einsum)).Append('\n').Append(pad).Append("    ").Append(e.Plan.Describe());
                    if (e.Plan.LoopOrder.Count > 1) w.Append("; loops ").Append(string.Join(" ", e.Plan.LoopOrder));
                    if (e.Transpose is { } t) w.Append($"; a blocked transpose ({t.Row} innermost in {e.Einsum.Output.Name}, {t.Column} in the source)");
                    if (e.Split is { } split) w.Append("; ").Append(split.Rank).Append(" split across the threads");
                    if (e.Kernel is { } k) w.Append("; the row in one call of the row micro-kernel ").Append(k.Kernel);
                    if (e.MaxFold is { } m) w.Append("; the row maxima ").Append(m.Einsum.Output.Name).Append(" taken as it stores");
                    if (e.Fill is { } fill) w.Append("; then the points its filters leave out filled with ").Append(fill.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
                    w.Append('\n');
                    break;
                case CSteps b:
                    Write(w, b.Inits, depth);
                    w.Append(pad).Append("iterate ").Append(b.Block.Rank).Append(" until ").Append(b.Block.Stop);
                    if (b.Chunk is { } chunk) w.Append($", {chunk.Steps} steps at a time");
                    if (b.Skippers.Count > 0) w.Append(", skipping a step where ").Append(string.Join(" or ", b.Skippers.Select(x => x.Output.Name))).Append(" has no point");
                    if (b.Clips.Count > 0) w.Append(", its loops over ").Append(string.Join(", ", b.Clips.Select(x => x.Rank).Distinct())).Append(" stopped past the last kept point");
                    if (b.OwnMethod) w.Append(" (each step a method of its own)");
                    w.Append(":\n");
                    if (b.Chunk is not null)
                    {
                        w.Append(pad).Append("  for the whole chunk:\n");
                        Write(w, b.Before, depth + 2);
                        w.Append(pad).Append("  step by step:\n");
                        Write(w, b.Body, depth + 2);
                        w.Append(pad).Append("  for the whole chunk:\n");
                        Write(w, b.After, depth + 2);
                    }
                    else Write(w, b.Body, depth + 1);
                    break;
            }
        }
    }

    /// <summary>The plan a call with these sizes runs: the few-rows plan below <see cref="FewRows"/> rows where it
    /// serves, else the main plan where it serves, else the general one.</summary>
    public CpuPlan Choose(Func<string, long> size)
    {
        if (FewRowsPlan is { } few && size(few.Cascade.Rank(few.Plan.SliceRank!).Size) < FewRows && Serves(few.Plan, size)) return few;
        if (General is not { } general || Serves(Main.Plan, size)) return Main;
        return general;
    }
}

/// <summary>Builds the <see cref="CpuProgram"/> of a cascade from its <see cref="KernelVariants"/>.</summary>
public static class CpuLowering
{
    public static CpuProgram Lower(KernelVariants variants)
    {
        if (variants is null) throw new ArgumentNullException(nameof(variants));
        var plans = new List<CpuPlan>();
        if (variants.TwoPlans)
        {
            plans.Add(Plan(variants, variants.Dense, variants.Planned, "Dense"));
            plans.Add(Plan(variants, variants.General, variants.Planned, "General"));
        }
        else plans.Add(Plan(variants, variants.Dense, variants.Planned, "Plan"));
        if (variants.FewRows is { } few) plans.Add(Plan(variants, few, variants.FewRowsCascade!, "FewRows"));
        var c = variants.Planned;
        return new CpuProgram(variants, plans, c.Outputs.Where(o => NeedsClearing(c, o)).Select(o => o.Name).ToList());
    }

    /// <summary>An output some of whose points may be written by no Einsum: one written under a filter, at an index
    /// that is not a plain rank, or by a block that may stop before its last step.</summary>
    private static bool NeedsClearing(Cascade c, Tensor output)
    {
        foreach (var e in c.Einsums.Where(e => e.Output.Name == output.Name))
        {
            if (e.Filters.Count > 0 || e.OutputIndices.Any(i => i is not IndexVariable)) return true;
            var block = c.Blocks.FirstOrDefault(b => b.Einsums.Contains(e));
            if (block is not null && !KernelPlanner.IsStandardStop(c, block)) return true;
        }
        return false;
    }

    private enum Context
    {
        /// <summary>Before the parallel loop: an Einsum splits its first loop across the threads.</summary>
        Hoisted,

        /// <summary>In a slice of rows.</summary>
        Slice,

        /// <summary>In a blocked slice: a block's steps are methods of their own.</summary>
        BlockedSlice,

        /// <summary>One row at a time, an Einsum's vector rank split across the threads.</summary>
        RowByRow,

        /// <summary>Inside an iteration block's step: too short to split.</summary>
        Step,
    }

    private static CpuPlan Plan(KernelVariants variants, KernelPlan plan, Cascade cascade, string name)
    {
        var choices = variants.ChoicesOf(plan);
        var hoisted = Nodes(variants, plan, choices, cascade, plan.Hoisted, Context.Hoisted);
        CpuParallel? parallel = null;
        if (plan.SliceRank is { } slice && plan.Sliced.Count > 0)
            parallel = new CpuParallel(slice, plan.OuterSlices, plan.RowBlocks, plan.BlockRows,
                Nodes(variants, plan, choices, cascade, plan.Sliced, plan.RowBlocks ? Context.BlockedSlice : Context.Slice))
            {
                RowByRow = choices.SplitsRows ? Nodes(variants, plan, choices, cascade, plan.Sliced, Context.RowByRow) : null,
            };
        return new CpuPlan(name, plan, cascade, hoisted, parallel);
    }

    /// <summary>
    /// The exp-and-sum idiom, recognised from the structure of a fused sweep: the map is <c>exp(R - s)</c> with R a read
    /// of a tensor along the vector rank (contiguous there, as every read of a vectorised row) and s a value that does
    /// not vary along it, neither kept as a log-sum-exp pair; the reduction is the sum of the map's output and nothing
    /// else. Null when the sweep is anything else.
    /// </summary>
    private static RowKernelCall? ExpSumOf(KernelVariants variants, ExtendedEinsum map, ExtendedEinsum reduce, string v)
    {
        if (reduce.Reduction != ReduceOperator.Sum || reduce.Body is not TensorRead summed || summed.Tensor.Name != map.Output.Name) return null;
        if (map.Body is not Unary { Function: UnaryFunction.Exp or UnaryFunction.Exp2, Operand: Binary { Operator: BinaryOperator.Subtract, Left: TensorRead source, Right: var shift } } exp) return null;
        if (!RowOperands(variants, source, shift, v)) return null;
        return new RowKernelCall(RowKernel.ExpSum, source, shift, variants.NonPositiveExps.Contains((map.Id, exp.ToString()))) { Base2 = exp.Function == UnaryFunction.Exp2 };
    }

    /// <summary>
    /// The row idioms of a single Einsum, recognised from its structure: a vectorised maximum over one rank of a plain
    /// read (<c>max[v] X[.., v]</c>), or a vectorised row that is a read divided by a value invariant along the row
    /// (<c>Y[.., v] = X[.., v] / d</c>). Null for anything else, and for Einsums with filters or fills.
    /// </summary>
    private static RowKernelCall? RowKernelOf(KernelVariants variants, KernelPlan plan, ExtendedEinsum e)
    {
        var p = plan.Einsums[e.Id];
        if (p.VectorRank is not { } v || e.Filters.Count > 0 || plan.Fills.ContainsKey(e.Id) || variants.Pairs.Contains(e.Output.Name)) return null;
        if (p.Lowering == EinsumLowering.VectorReduce && e.Reduction == ReduceOperator.Max && e.ReducedRanks.Count == 1 && e.Body is TensorRead row && RowOperands(variants, row, null, v))
            return new RowKernelCall(RowKernel.Max, row, null);
        if (p.Lowering == EinsumLowering.VectorRow && e.Reduction is null && e.Body is Binary { Operator: BinaryOperator.Divide, Left: TensorRead source, Right: var divisor } && RowOperands(variants, source, divisor, v))
            return new RowKernelCall(RowKernel.Divide, source, divisor);
        return null;
    }

    /// <summary>A row of floats read along <paramref name="v"/> (the micro-kernels read float rows; an integer input
    /// is converted as it is loaded) and an operand that does not vary along it, neither kept as a log-sum-exp pair
    /// (whose reads the emitter prints as two).</summary>
    private static bool RowOperands(KernelVariants variants, TensorRead row, Expr? invariant, string v) =>
        KernelPlanner.Mentions(row, v) && row.Tensor.ElementType == ElementType.Float32 && !variants.Pairs.Contains(row.Tensor.Name)
        && (invariant is null || (!KernelPlanner.Mentions(invariant, v) && !invariant.Reads().Any(r => variants.Pairs.Contains(r.Tensor.Name))));

    /// <summary>Steps in order: an Einsum folded into a running sum's call, the call, a map fused with the reduction after
    /// it, an Einsum alone, an iteration block.</summary>
    private static List<CpuNode> Nodes(KernelVariants variants, KernelPlan plan, ThreadAndCopyChoices choices, Cascade c, IReadOnlyList<CascadeStep> steps, Context context)
    {
        var nodes = new List<CpuNode>();
        for (var i = 0; i < steps.Count; i++)
        {
            if (steps[i].Einsum is { } folded && plan.Folded.Contains(folded.Id))
            {
                nodes.Add(new CFolded(folded));
                continue;
            }
            if (steps[i].Einsum is { } update && plan.Folds.TryGetValue(update.Id, out var fold))
            {
                nodes.Add(new CFold(update, fold, plan.Einsums[fold.Contraction.Id]));
                continue;
            }
            if (steps[i].Einsum is { } maximum && plan.MaxFolds.Values.Contains(maximum.Id))
            {
                var contraction = plan.MaxFolds.First(f => f.Value == maximum.Id).Key;
                nodes.Add(new CMaxFolded(maximum, c.Einsums.First(x => x.Id == contraction)));
                continue;
            }
            if (steps[i].Einsum is { } product && plan.MaxFolds.TryGetValue(product.Id, out var maxId))
            {
                nodes.Add(Einsum(variants, plan, choices, product, context) with { MaxFold = Einsum(variants, plan, choices, c.Einsums.First(x => x.Id == maxId), context) });
                continue;
            }
            if (i + 1 < steps.Count && steps[i].Einsum is { } map && steps[i + 1].Einsum is { } reduce && plan.Fusions.TryGetValue(map.Id, out var fused) && fused == reduce.Id)
            {
                nodes.Add(new CSweep(map, reduce, plan.Einsums[map.Id]) { Split = Split(choices, reduce, context), Kernel = ExpSumOf(variants, map, reduce, plan.Einsums[map.Id].VectorRank!) });
                i++;
                continue;
            }
            if (steps[i].Einsum is { } e)
            {
                nodes.Add(Einsum(variants, plan, choices, e, context));
                continue;
            }
            var block = steps[i].Block!;
            const Context inner = Context.Step;
            var inits = block.Inits.Select(x => (CpuNode)Einsum(variants, plan, choices, x, Context.Step)).ToList();
            var skippers = plan.SkipSteps.TryGetValue(block.Rank, out var ids) ? c.Einsums.Where(x => ids.Contains(x.Id)).ToList() : new List<ExtendedEinsum>();
            if (plan.Chunks.TryGetValue(block.Rank, out var chunk))
            {
                var moved = new HashSet<int>(chunk.Before.Concat(chunk.After));
                List<CpuNode> Moved(IReadOnlyList<int> which) => block.Einsums.Where(x => which.Contains(x.Id)).Select(x => (CpuNode)Einsum(variants, plan, choices, x, inner)).ToList();
                nodes.Add(new CSteps(block, inits, Nodes(variants, plan, choices, c, block.Einsums.Where(x => !moved.Contains(x.Id)).Select(x => new CascadeStep(x, null)).ToList(), inner))
                {
                    Skippers = skippers,
                    Chunk = chunk,
                    Before = Moved(chunk.Before),
                    After = Moved(chunk.After),
                });
                continue;
            }
            nodes.Add(new CSteps(block, inits, Nodes(variants, plan, choices, c, block.Einsums.Select(x => new CascadeStep(x, null)).ToList(), inner))
            {
                Skippers = skippers,
                Clips = plan.StepClips.TryGetValue(block.Rank, out var clips) ? clips : Array.Empty<FilterFills.StepClip>(),
                OwnMethod = context == Context.BlockedSlice,
            });
        }
        return nodes;
    }

    private static CEinsum Einsum(KernelVariants variants, KernelPlan plan, ThreadAndCopyChoices choices, ExtendedEinsum e, Context context) =>
        new(e, plan.Einsums[e.Id])
        {
            Kernel = RowKernelOf(variants, plan, e),
            Split = Split(choices, e, context),
            Fill = plan.Fills.TryGetValue(e.Id, out var fill) ? fill : null,
            Transpose = choices.Transposes.TryGetValue(e.Id, out var t) ? t : null,
        };

    private static ThreadSplit? Split(ThreadAndCopyChoices choices, ExtendedEinsum e, Context context) => context switch
    {
        Context.Hoisted when choices.HoistedSplits.TryGetValue(e.Id, out var r) => new ThreadSplit(r, BeforeParallel: true),
        Context.RowByRow when choices.RowSplits.TryGetValue(e.Id, out var r) => new ThreadSplit(r, BeforeParallel: false),
        _ => null,
    };
}
