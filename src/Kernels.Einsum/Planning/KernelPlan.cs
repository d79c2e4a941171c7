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

    /// <summary>The parallel rank, kept for one block of rows (<c>_PB</c> points from <c>_pb</c>) and stored outermost:
    /// each thread runs the cascade for a block of rows at a time, so a contraction over them is a matrix product.</summary>
    Blocked,

    /// <summary>An iteration block's rank, kept for one chunk of its steps (<see cref="StepChunk.Steps"/> points from the
    /// chunk's first step) and stored outermost: the block's Einsums that do not depend on its carried state run for a
    /// whole chunk at once, vectorised along the steps (<see cref="KernelPlan.Chunks"/>).</summary>
    Chunk,
}

/// <summary>
/// An iteration block run a chunk of steps at a time: first the Einsums that do not depend on the carried state
/// (<see cref="Before"/>) for every step of the chunk, then the serial chain of the others step by step, then the
/// Einsums that only read that chain's results (<see cref="After"/>) for the whole chunk again.
/// </summary>
/// <param name="Steps">The steps of one chunk.</param>
/// <param name="Before">The Einsums run ahead for the chunk, in order (ids).</param>
/// <param name="After">The Einsums run after the chunk's serial steps, in order (ids).</param>
public sealed record StepChunk(int Steps, IReadOnlyList<int> Before, IReadOnlyList<int> After);

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

    /// <summary>The order of the dimensions in memory, outermost first, when it is not the declaration order (a
    /// contraction reads its right operand with the output's rank innermost).</summary>
    public IReadOnlyList<int>? Order { get; init; }

    /// <summary>
    /// The dimensions (summed rank, column rank) of a copy read only as the right operand of contractions, when it is
    /// stored in the micro-kernel's panels (<c>Gemm.Pack</c>): they are the two innermost of <see cref="StorageOrder"/>,
    /// and each block of them holds panels of <c>Gemm.PanelColumns</c> columns with their rows contiguous, not rows of
    /// the column rank. The block's place among the other dimensions is unchanged, so the offset of its first point is
    /// that of the plain layout. Null: stored plainly.
    /// </summary>
    public (int K, int J)? Panels { get; init; }

    /// <summary>
    /// With <see cref="Panels"/>: the copy's source is an input whose column rank is its innermost, contiguous
    /// dimension, so that where its block is one panel and its rows are as far apart as the block is wide
    /// (<c>Gemm.PanelsInPlace</c>, a test at run time: the panels' width is the vector width's) the copy would write the
    /// source's own layout. The kernel then skips the copy and the contractions read the source in place (attention's
    /// V at F = 64 with 512-bit vectors).
    /// </summary>
    public bool PanelsMayBeTheSource { get; init; }

    /// <summary>
    /// With <see cref="Panels"/>: the factors of the one contraction that reads the copy, where they are the same at every
    /// point (constants, sizes, scalar inputs) and the copy is never skipped for its source. The pack multiplies the
    /// panels by their product as it writes them and the contraction runs with a factor of 1, so that its micro-kernel
    /// does not multiply every sum as it stores it; where the product could overflow a panel's values (above 1 in
    /// magnitude, or not finite: <c>Gemm.FactorFoldsIntoPanels</c>, a test at run time) both keep it as before.
    /// Null: none.
    /// </summary>
    public IReadOnlyList<Expr>? PanelFactors { get; init; }

    /// <summary>The dimensions in memory order, outermost first: <see cref="Order"/>, else rolling dimensions, then a
    /// blocked one, then the others in declaration order. So per-row state (<c>RM[r+1,p]</c>) is contiguous across the
    /// block's rows, and a block's rows are the outer dimension of its tiles (the rows of a matrix product).</summary>
    public IReadOnlyList<int> StorageOrder => Order ?? System.Linq.Enumerable.ToList(System.Linq.Enumerable.OrderBy(
        System.Linq.Enumerable.Range(0, Dims.Count), d => Dims[d] switch { DimStorage.Rolling or DimStorage.Chunk => 0, DimStorage.Blocked => 1, _ => 2 }));
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

    /// <summary>A sum over one rank of the product of two tensors (and invariant factors): a call of the register-blocked
    /// micro-kernel <c>Gemm.Run</c> per point of the batch ranks.</summary>
    Contraction,
}

/// <summary>
/// The shape of a contraction <c>C[.., i, .., j] = alpha * sum[k] A[.., i, k] * B[.., k, j]</c>: the row rank
/// <see cref="I"/> (in A and C, not in B), the column rank <see cref="J"/> (in B and C, not in A; innermost in C), the summed
/// rank <see cref="K"/>, the other ranks of C (<see cref="Batch"/>, looped around the micro-kernel), and the factors
/// that vary with none of them (alpha).
/// </summary>
public sealed record ContractionShape(string I, string J, string K, IReadOnlyList<string> Batch, TensorRead A, TensorRead B, IReadOnlyList<Expr> Factors);

/// <summary>A rescaled running sum folded into a contraction: the contraction's Einsum, the separate rescale (if any), the
/// sum's previous value as read (<c>X[r, ..]</c>) and the factor per row.</summary>
public sealed record RescaleFold(ExtendedEinsum Contraction, ExtendedEinsum? Rescale, TensorRead Previous, TensorRead Factor);

/// <summary>The lowering chosen for one Einsum, with its loop order (outermost first).</summary>
public sealed record EinsumPlan(ExtendedEinsum Einsum, EinsumLowering Lowering, IReadOnlyList<string> LoopOrder, string? VectorRank, bool InSlice)
{
    /// <summary>The operands of a <see cref="EinsumLowering.Contraction"/>.</summary>
    public ContractionShape? Contraction { get; init; }

    public string Describe() => Lowering switch
    {
        EinsumLowering.Contraction when Contraction is { } g =>
            $"contraction over {g.K}: {Einsum.Output.Name}[{g.I},{g.J}] = sum[{g.K}] {g.A.Tensor.Name}[{g.I},{g.K}] * {g.B.Tensor.Name}[{g.K},{g.J}]{(g.Batch.Count > 0 ? $" for each {string.Join(", ", g.Batch)}" : "")}, register-blocked micro-kernel",
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
    /// <summary>True when each thread runs the sliced Einsums for a block of rows of the parallel rank at a time (one
    /// Einsum over the whole block, then the next), so that a contraction over those rows is a matrix product.</summary>
    public bool RowBlocks { get; init; }

    /// <summary>Rows per block when <see cref="RowBlocks"/>, as the schedule fixed them; null: sized at run time to the cache.</summary>
    public int? BlockRows { get; init; }

    /// <summary>
    /// Set when this plan (made assuming divisible sizes) is also exact for sizes that do not divide their tiles: every
    /// point past a partition's edge is absent wherever it appears, so each Einsum over such points runs its inner rank
    /// only up to the edge of the last tile. Maps an Einsum's id to the ranks it bounds: the inner rank (or an alias of
    /// it) and the tile rank, of the partition of <c>Of</c>.
    /// </summary>
    public IReadOnlyDictionary<int, IReadOnlyList<(string Inner, string Outer, string Of)>>? EdgeBounds { get; init; }

    /// <summary>
    /// Rescaled running sums folded into the contraction that feeds them (FlashAttention-2's "rescale once per block"),
    /// by the id of the Einsum that updates the sum: <c>X[r+1] = B + X[r] * a</c> (or <c>B + S</c> with <c>S = X[r] * a</c>)
    /// where B is a contraction's output and a a factor per row. The micro-kernel then writes
    /// <c>X[r+1] = A*B + a * X[r]</c> as it stores, and B and S are never stored.
    /// </summary>
    public IReadOnlyDictionary<int, RescaleFold> Folds { get; init; } = new Dictionary<int, RescaleFold>();

    /// <summary>
    /// Einsums whose filters (all on output ranks) run as a pass after them that stores a fill at the points they leave
    /// out, by id, with the fill (<see cref="FilterFills"/>); the Einsums themselves keep their vector or micro-kernel path.
    /// </summary>
    public IReadOnlyDictionary<int, double> Fills { get; init; } = new Dictionary<int, double>();

    /// <summary>
    /// Iteration blocks (by rank) whose steps the kernel skips when one of the listed filled Einsums leaves out every
    /// point of the step for the rows at hand: such a step provably changes no carried tensor.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> SkipSteps { get; init; } = new Dictionary<string, IReadOnlyList<int>>();

    /// <summary>
    /// Upper bounds at which the steps of an iteration block (by rank) stop their loops over a rank, for the rows at hand
    /// (<see cref="FilterFills.ClippableBy"/>): a causal block's diagonal tile of keys ends at its last row's key.
    /// Only for blocks in <see cref="SkipSteps"/>, whose storage keeps what a step writes inside the step.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<FilterFills.StepClip>> StepClips { get; init; } = new Dictionary<string, IReadOnlyList<FilterFills.StepClip>>();

    /// <summary>Iteration blocks (by rank) run a chunk of steps at a time (<see cref="StepChunk"/>).</summary>
    public IReadOnlyDictionary<string, StepChunk> Chunks { get; init; } = new Dictionary<string, StepChunk>();

    /// <summary>
    /// Row maxima folded into the contraction whose output they reduce, by the contraction's id, with the id of the
    /// maximum's Einsum: <c>LM[.., i] = max[j] C[.., j, i]</c> right after <c>C = A*B</c> (attention's local maximum of
    /// the scores). The micro-kernel call stores C and takes each row's maximum as it stores it
    /// (<c>Gemm.RunPanelsMax</c>), so the rows of C are not swept again.
    /// </summary>
    public IReadOnlyDictionary<int, int> MaxFolds { get; init; } = new Dictionary<int, int>();

    /// <summary>Einsums computed inside a <see cref="Folds"/> entry's call instead of on their own.</summary>
    public IReadOnlyCollection<int> Folded { get; init; } = System.Array.Empty<int>();

    /// <summary>Maps fused with the reduction right after them into one sweep (a row reduction with a pointwise prologue),
    /// by the map's id, with the reduction's id: the map's row is reduced as it is written and not read back.</summary>
    public IReadOnlyDictionary<int, int> Fusions { get; init; } = new Dictionary<int, int>();

    /// <summary>Every (map, reduction) pair that could fuse, fused or kept apart by the schedule (<c>fuse MAP off</c>).</summary>
    public IReadOnlyList<(int Map, int Reduce)> FusionCandidates { get; init; } = System.Array.Empty<(int, int)>();

    /// <summary>Ranks whose sizes must not be 0 for <see cref="EdgeBounds"/> to hold: a sum over an empty rank is 0 and
    /// present even where its operands are absent, so the points past the edge would exist.</summary>
    public IReadOnlyList<string> EdgeBoundsNeedNonEmpty { get; init; } = System.Array.Empty<string>();

    /// <summary>
    /// Other ranks split across threads with the slice rank (batch, heads): every Einsum of the slice keeps them, so each
    /// piece of work is one point of them and a range of the slice rank, and the slice's scratch does not keep them.
    /// </summary>
    public IReadOnlyList<string> OuterSlices { get; init; } = System.Array.Empty<string>();

    /// <summary>The choices of the schedule the plan was asked for that it could not honour (KRN0036, at the directive).</summary>
    public IReadOnlyList<ScheduleError> ScheduleErrors { get; init; } = System.Array.Empty<ScheduleError>();

    /// <summary>The schedule's fold choice (null: fold wherever possible).</summary>
    public bool? FoldsAsked { get; init; }

    /// <summary>The schedule this plan follows, every choice made: planning again with it gives the same plan.</summary>
    public Schedule Schedule => new()
    {
        Serial = SliceRank is null,
        Parallel = SliceRank,
        RowBlocks = SliceRank is null ? null : RowBlocks,
        BlockRows = BlockRows,
        Tiles = System.Linq.Enumerable.ToList(System.Linq.Enumerable.Select(KernelPlanner.SchedulableTiles(Cascade), r => new KeyValuePair<string, int>(r.Size, r.DefaultSize!.Value))),
        Lowerings = System.Linq.Enumerable.ToList(System.Linq.Enumerable.Select(
            System.Linq.Enumerable.Where(Cascade.Einsums, e => !e.IsInit),
            e => new KeyValuePair<string, LoweringChoice>(e.Output.Name, Einsums[e.Id] switch
            {
                { Lowering: EinsumLowering.Contraction } => new LoweringChoice(LoweringKind.Contraction),
                { VectorRank: { } v } => new LoweringChoice(LoweringKind.Vector, v),
                _ => new LoweringChoice(LoweringKind.Scalar),
            }))),
        Orders = System.Linq.Enumerable.ToList(System.Linq.Enumerable.Select(
            System.Linq.Enumerable.Where(Cascade.Einsums, e => !e.IsInit && Einsums[e.Id].LoopOrder.Count >= 2 && Cascade.Writer(e.Output.Name) == e
                && !System.Linq.Enumerable.Contains(Folded, e.Id) && !Folds.ContainsKey(e.Id) && !System.Linq.Enumerable.Contains(MaxFolds.Values, e.Id)),
            e => new KeyValuePair<string, IReadOnlyList<string>>(e.Output.Name, Einsums[e.Id].LoopOrder))),
        Fusions = System.Linq.Enumerable.ToList(System.Linq.Enumerable.Select(FusionCandidates,
            c => new KeyValuePair<string, string?>(Name(c.Map), Fusions.TryGetValue(c.Map, out var r) ? Name(r) : null))),
        Folds = Folds.Count > 0 || MaxFolds.Count > 0 ? true : FoldsAsked == false ? false : null,
    };

    private string Name(int einsum) => System.Linq.Enumerable.First(Cascade.Einsums, e => e.Id == einsum).Output.Name;

    /// <summary>True when two plans emit the same code (the general plan is then not emitted).</summary>
    public bool SameLoweringAs(KernelPlan other)
    {
        foreach (var pair in Einsums)
            if (!other.Einsums.TryGetValue(pair.Key, out var o) || o.Lowering != pair.Value.Lowering || o.VectorRank != pair.Value.VectorRank)
                return false;
        foreach (var pair in Storage)
            if (other.Storage[pair.Key].HasPresence != pair.Value.HasPresence) return false;
        return MaxFolds.Count == other.MaxFolds.Count && System.Linq.Enumerable.All(MaxFolds, f => other.MaxFolds.TryGetValue(f.Key, out var m) && m == f.Value);
    }
}
