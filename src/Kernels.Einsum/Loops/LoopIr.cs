using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Loops;

// The loop-nest IR: what a sink prints, with every decision already made. A program is a sequence of stages run by the
// host (kernel launches and the serial steps of iteration blocks); a kernel is a grid of independent points, each running
// a list of statements over locals, loads and stores. Index arithmetic stays symbolic (IndexExpr over ranks and sizes),
// so one program serves every size; values are floats or booleans.

/// <summary>A value a statement computes: a float, or a boolean where noted.</summary>
public abstract record LoopValue;

/// <summary>A float constant (infinities included).</summary>
public sealed record LNumber(double Value) : LoopValue;

/// <summary>A boolean constant.</summary>
public sealed record LBool(bool Value) : LoopValue
{
    public static LBool True { get; } = new(true);

    public static LBool False { get; } = new(false);
}

/// <summary>A local declared by <see cref="SDeclare"/>.</summary>
public sealed record LLocal(string Name) : LoopValue;

/// <summary>The element of a tensor at a point that lies inside it (the lowering guards every read that may not).</summary>
public sealed record LLoad(string Tensor, IReadOnlyList<IndexExpr> Indices) : LoopValue;

/// <summary>Boolean: every index lies inside the tensor's extents.</summary>
public sealed record LInBounds(string Tensor, IReadOnlyList<IndexExpr> Indices) : LoopValue;

/// <summary>Boolean: the presence flag of a point that lies inside the tensor (only tensors that keep flags).</summary>
public sealed record LFlag(string Tensor, IReadOnlyList<IndexExpr> Indices) : LoopValue;

/// <summary>An index expression (ranks and sizes) as a float.</summary>
public sealed record LIndex(IndexExpr Index) : LoopValue;

/// <summary>A function of the cascade language, with its semantics (docs/language.md).</summary>
public sealed record LUnary(UnaryFunction Function, LoopValue Operand) : LoopValue;

/// <summary>An operator of the cascade language: <c>x / 0 = 0</c>; max and min propagate NaN.</summary>
public sealed record LBinary(BinaryOperator Operator, LoopValue Left, LoopValue Right) : LoopValue;

/// <summary>Boolean: a filter (a comparison of index expressions).</summary>
public sealed record LFilter(Comparison Comparison) : LoopValue;

/// <summary>The comparisons of floats the lowering needs.</summary>
public enum FloatComparison
{
    Greater,
    Equal,
}

/// <summary>Boolean: a comparison of two floats (false when either is NaN).</summary>
public sealed record LCompare(FloatComparison Operator, LoopValue Left, LoopValue Right) : LoopValue;

/// <summary>Boolean: the float is NaN.</summary>
public sealed record LIsNaN(LoopValue Operand) : LoopValue;

/// <summary>Boolean conjunction (<see cref="Or"/> false) or disjunction, evaluated left to right and short-circuited.</summary>
public sealed record LLogic(bool Or, LoopValue Left, LoopValue Right) : LoopValue;

/// <summary>Boolean negation.</summary>
public sealed record LNot(LoopValue Operand) : LoopValue;

/// <summary>The value of one branch, chosen by a boolean; only the chosen branch is evaluated (it may guard a load).</summary>
public sealed record LSelect(LoopValue Condition, LoopValue IfTrue, LoopValue IfFalse) : LoopValue;

/// <summary>
/// The element of a staged tile (<see cref="StagedTile"/>) at the current values of its ranks when the launch gave the
/// tile shared memory, else <see cref="Load"/> from the tensor: the same value either way.
/// </summary>
public sealed record LTileLoad(string Tile, LLoad Load) : LoopValue;

/// <summary>A statement of a kernel's body.</summary>
public abstract record LoopStmt;

/// <summary>Declares a local (a float unless <see cref="IsBool"/>) with its first value.</summary>
public sealed record SDeclare(string Name, bool IsBool, LoopValue Value) : LoopStmt;

/// <summary>Gives a declared local a new value.</summary>
public sealed record SAssign(string Name, LoopValue Value) : LoopStmt;

/// <summary>A serial loop of <see cref="Variable"/> over <c>0 .. Extent-1</c>.</summary>
public sealed record SFor(string Variable, IndexExpr Extent, IReadOnlyList<LoopStmt> Body) : LoopStmt;

/// <summary>A branch on a boolean.</summary>
public sealed record SIf(LoopValue Condition, IReadOnlyList<LoopStmt> Then, IReadOnlyList<LoopStmt> Else) : LoopStmt;

/// <summary>Stores a float at a point inside the tensor.</summary>
public sealed record SStore(string Tensor, IReadOnlyList<IndexExpr> Indices, LoopValue Value) : LoopStmt;

/// <summary>Sets the presence flag of a point inside the tensor.</summary>
public sealed record SSetFlag(string Tensor, IReadOnlyList<IndexExpr> Indices, LoopValue Present) : LoopStmt;

/// <summary>
/// Every point of <see cref="Ranks"/> (each over <c>0 .. extent-1</c>), split across the threads of the group that runs
/// the kernel's grid point: the points are flattened row-major and thread <c>t</c> of <c>G</c> takes points
/// <c>t, t + G, ...</c>. With one thread per grid point it is a plain loop nest.
/// </summary>
public sealed record SGroupFor(IReadOnlyList<string> Ranks, IReadOnlyList<IndexExpr> Extents, IReadOnlyList<LoopStmt> Body) : LoopStmt;

/// <summary>How <see cref="SGroupCombine"/> merges the threads' partial values.</summary>
public enum GroupCombineOperator
{
    Sum,
    Prod,
    Max,
    Min,

    /// <summary>Booleans: true if any thread's is.</summary>
    Or,

    /// <summary>A log-sum-exp accumulator and its running maximum (<see cref="SGroupCombine.Scale"/>): NaN if any thread
    /// saw NaN, +inf if any saw +inf, else the sums rescaled to the larger maximum.</summary>
    LogSumExp,
}

/// <summary>
/// Merges a local's value across the group's threads (after an <see cref="SGroupFor"/>): afterwards every thread holds
/// the merged value. With one thread per grid point it does nothing.
/// </summary>
public sealed record SGroupCombine(string Local, GroupCombineOperator Operator, string? Scale = null) : LoopStmt;

/// <summary>
/// Waits until every thread of the group has reached it; what the threads stored before is then visible to all of them.
/// It separates the Einsums of a fused iteration block. With one thread per grid point it does nothing.
/// </summary>
public sealed record SBarrier : LoopStmt;

/// <summary>
/// The steps of an iteration block run inside a kernel: <see cref="Body"/> for <c>Rank = 0, 1, ...</c> until
/// <see cref="Stop"/> holds (the host checked before launching that it holds within the rank's extent).
/// </summary>
public sealed record SLoop(string Rank, Comparison Stop, IReadOnlyList<LoopStmt> Body) : LoopStmt;

/// <summary>
/// Declares the index <see cref="Rank"/> as <see cref="Value"/> and runs <see cref="Body"/> only when it lies below
/// <see cref="Limit"/>: a rank split into blocks across groups (<c>p = _blk_p * 64 + _in_p</c>, the last block partial).
/// </summary>
public sealed record SLet(string Rank, IndexExpr Value, IndexExpr Limit, IReadOnlyList<LoopStmt> Body) : LoopStmt;

/// <summary>
/// The steps <c>0 .. Extent-1</c> of <see cref="Rank"/> split into contiguous chunks, one per thread of the group in
/// thread order (thread t of G takes steps <c>t*c .. t*c+c-1</c>, c = ceil(Extent / G)), each run in order by its
/// thread. With one thread it is a plain loop.
/// </summary>
public sealed record SGroupChunks(string Rank, IndexExpr Extent, IReadOnlyList<LoopStmt> Body) : LoopStmt;

/// <summary>
/// The steps of <see cref="Rank"/> before this thread's chunk of <see cref="SGroupChunks"/> over the same extent, run in
/// order by this thread (none for the first thread, and with one thread).
/// </summary>
public sealed record SGroupPrefix(string Rank, IndexExpr Extent, IReadOnlyList<LoopStmt> Body) : LoopStmt;

/// <summary>
/// The affine maps <c>x -> A*x + B</c> of the group's threads (locals <see cref="A"/> and <see cref="B"/>, one per chunk
/// of <see cref="SGroupChunks"/>) replaced by the composition of the maps of the threads before it, in thread order
/// (the identity, A = 1 and B = 0, for the first): an exclusive scan with the associative operator
/// <c>(a1, b1) after (a0, b0) = (a1*a0, a1*b0 + b1)</c>. With one thread it sets the identity.
/// </summary>
public sealed record SGroupScan(string A, string B) : LoopStmt;

/// <summary>
/// The group copies <see cref="Tile"/>'s points that lie inside its tensor into the tile's shared memory (when the launch
/// gave it some; each thread a share of the points); a barrier must follow before any thread reads the tile.
/// </summary>
public sealed record SStage(string Tile) : LoopStmt;

/// <summary>
/// The group copies its points of a <see cref="GroupBuffer"/> (values and flags) from device memory into its shared copy
/// (<see cref="Out"/> false) or back (true), when the launch gave the buffer shared memory; a barrier must follow.
/// </summary>
public sealed record SGroupCopy(string Tensor, bool Out) : LoopStmt;

/// <summary>Boolean: this thread is its group's first (the one that stores a grouped reduction's result); always true
/// with one thread per grid point.</summary>
public sealed record LLeader : LoopValue;

/// <summary>A line for the reader of printed code (the spec line a loop nest computes).</summary>
public sealed record SComment(string Text) : LoopStmt;

/// <summary>
/// A tile of a tensor that a fused block's group reads from shared memory during a step: the points of
/// <see cref="Tensor"/> at <see cref="Indices"/> for every value of <see cref="Ranks"/> (each over its extent, row-major,
/// the last fastest), the block's step and the group's grid point fixed. It is what every row of the group's block of rows
/// reads (a key tile of attention, shared by the 64 queries), so one copy per step replaces a read per row. A tile is staged
/// only when the launch can give it shared memory (the kernel's tiles in order, as many as fit); otherwise its reads go to
/// the tensor, so any size runs.
/// </summary>
public sealed record StagedTile(string Name, string Tensor, IReadOnlyList<IndexExpr> Indices, IReadOnlyList<string> Ranks, IReadOnlyList<IndexExpr> Extents);

/// <summary>
/// A tensor that a fused block writes and reads only at its group's points (its state and step intermediates), kept in
/// the group's shared memory for the whole kernel when the launch has room: copied in before the steps
/// (<see cref="SGroupCopy"/>, the inits' values), copied out after them (what the cascade reads after the block), and
/// every load, store and flag of it in between goes to the copy. Dimension d of the tensor is a common rank's point
/// (<see cref="Ranks"/>[d] not null and not <see cref="Blocked"/>: one point, the group's), the group's block of rows
/// (<see cref="Blocked"/>: <see cref="Rows"/> points from <see cref="RowBase"/>), or whole (null: its storage extent,
/// folded slots included).
/// </summary>
public sealed record GroupBuffer(string Tensor, IReadOnlyList<string?> Ranks, string? Blocked, IndexExpr RowBase, int Rows);

/// <summary>
/// One kernel: every point of <see cref="Grid"/> (ranks, each over <c>0 .. size-1</c>) runs <see cref="Body"/>
/// independently of the others, so a sink may run the points in any order or all at once. Inside an iteration block
/// <see cref="StepRank"/> names the block's rank, whose current step the host passes in.
/// </summary>
public sealed record LoopKernel(string Name, string Text, IReadOnlyList<string> Grid, string? StepRank, IReadOnlyList<LoopStmt> Body)
{
    /// <summary>The extent of each grid rank; null when every grid rank is a rank of the cascade, over its size.</summary>
    public IReadOnlyList<IndexExpr>? GridExtents { get; init; }

    /// <summary>True when the kernel runs a whole iteration block (<see cref="SLoop"/>): one group per point of the
    /// block's common ranks, each Einsum's points split across the group, a barrier after each.</summary>
    public bool FusedBlock { get; init; }

    /// <summary>True when the kernel runs an iteration block's linear recurrence as a parallel scan over its steps
    /// (<see cref="SGroupChunks"/>, <see cref="SGroupScan"/>): one group per point of the state.</summary>
    public bool LinearScan { get; init; }

    /// <summary>The tiles its groups stage in shared memory at each step (<see cref="SStage"/>, <see cref="LTileLoad"/>), in
    /// the order the launch gives them memory.</summary>
    public IReadOnlyList<StagedTile> Tiles { get; init; } = System.Array.Empty<StagedTile>();

    /// <summary>The tensors its groups keep in shared memory for the whole kernel (<see cref="GroupBuffer"/>).</summary>
    public IReadOnlyList<GroupBuffer> GroupBuffers { get; init; } = System.Array.Empty<GroupBuffer>();

    /// <summary>
    /// The tiles and group buffers by name, in the order a launch offers them shared memory: each gets it when it fits in
    /// what the earlier ones left (first fit), the others stay in device memory.
    /// </summary>
    public IReadOnlyList<string> SharedOrder { get; init; } = System.Array.Empty<string>();

    /// <summary>The extents of <see cref="Grid"/>.</summary>
    public IReadOnlyList<IndexExpr> Extents(Cascade cascade) =>
        GridExtents ?? Grid.Select(r => (IndexExpr)new IndexSize(cascade.Rank(r).Size)).ToList();

    /// <summary>Threads per grid point: 1, or a power of two when the point's reduction is split across a group
    /// (<see cref="SGroupFor"/>, <see cref="SGroupCombine"/>).</summary>
    public int GroupSize { get; init; } = 1;
}

/// <summary>
/// The choices of the GPU schedule: whether an Einsum that reduces runs one group of <see cref="GroupSize"/> threads per
/// output point (the threads split the reduced points and merge their partial results), or one thread; and whether an
/// iteration block whose points are independent along some ranks runs as one kernel (<see cref="FuseBlocks"/>: one group
/// of <see cref="GroupSize"/> threads per point of those ranks loops over the steps, each Einsum's points split across
/// the group, a barrier after each; the state stays with its group, so the host launches once instead of once per Einsum
/// and step), with a rank whose points share a contraction operand taken <see cref="BlockRows"/> at a time per group
/// (attention's query rows share each key tile). A block whose only state is a linear recurrence
/// (<c>X[.., r+1] = a*X[.., r] + b</c>, a and b free of X: a selective scan, linear attention's KV) runs, with
/// <see cref="ScanBlocks"/>, as its Einsums before the recurrence over every step at once, the recurrence as a chunked
/// parallel scan, and the Einsums after it over every step at once.
/// </summary>
/// <para>
/// In a fused block with a rank taken a block of rows at a time, <see cref="StageTiles"/> copies each step's tiles of the
/// tensors every row reads (attention's key and value tiles) into the group's shared memory once, and
/// <see cref="SkipMaskedSteps"/> skips a step in which a filtered Einsum leaves out every point of the group's rows (the
/// key tiles after a causal block's last query) when the cascade proves such a step changes no state: the state is copied
/// to the next step instead of recomputed.
/// </para>
public sealed record GpuSchedule(bool GroupReductions = true, int GroupSize = 128, bool FuseBlocks = true, int BlockRows = 64, bool ScanBlocks = true, bool StageTiles = true, bool SkipMaskedSteps = true)
{
    /// <summary>One thread per output point everywhere, a launch per Einsum and step.</summary>
    public static GpuSchedule ThreadPerPoint { get; } = new(GroupReductions: false, FuseBlocks: false, ScanBlocks: false);

    public static GpuSchedule Default { get; } = new();

    public override string ToString() =>
        (GroupReductions ? $"reductions grouped, {GroupSize} threads per output point" : "one thread per output point")
        + (ScanBlocks ? $"; linear recurrences scanned in parallel over their steps ({GroupSize} chunks a group)" : "")
        + (FuseBlocks ? $"; iteration blocks fused into one kernel where their points are independent ({GroupSize} threads a group, {BlockRows} rows of a shared operand per group"
            + (StageTiles ? ", its tiles staged in shared memory" : "") + (SkipMaskedSteps ? ", steps a mask leaves empty skipped" : "") + ")" : "");
}

/// <summary>A stage the host runs: a kernel launch, or an iteration block's steps.</summary>
public abstract record LoopStage;

/// <summary>Runs a kernel over its grid.</summary>
public sealed record SLaunch(LoopKernel Kernel) : LoopStage;

/// <summary>Runs <see cref="Body"/> for <c>Rank = 0, 1, ...</c> until <see cref="Stop"/> holds (an <c>iterate</c> block).</summary>
public sealed record SSteps(string Rank, Comparison Stop, IReadOnlyList<LoopStage> Body) : LoopStage;

/// <summary>
/// A tensor's storage: its extents (index expressions over sizes, in declaration order, row-major), whether the caller
/// passes it (inputs and outputs) or the program allocates it, and whether it keeps a presence flag per element.
/// Every buffer and output starts at zero, flags at absent, so an absent point of an output reads as 0.
/// </summary>
public sealed record LoopBuffer(Tensor Tensor, IReadOnlyList<IndexExpr> Extents, bool HasFlags)
{
    /// <summary>
    /// The dimension (an iteration block's rank) whose storage is folded to <see cref="FoldSlots"/> slots, index
    /// <c>i</c> kept in slot <c>i mod FoldSlots</c>, or -1: every step's value is read within a slot's lifetime (the
    /// running max of attention, written at <c>m1+1</c> and read at <c>m1</c> and <c>m1+1</c>, needs two), so memory does
    /// not grow with the number of steps. Bounds are still those of <see cref="Extents"/>.
    /// </summary>
    public int FoldDim { get; init; } = -1;

    public int FoldSlots { get; init; }

    /// <summary>The extents of the memory allocated: <see cref="Extents"/> with the folded dimension's slots.</summary>
    public IReadOnlyList<IndexExpr> StorageExtents => FoldDim < 0 ? Extents : Extents.Select((e, d) => d == FoldDim ? new IndexConstant(FoldSlots) : e).ToList();

    /// <summary>The index of dimension <paramref name="dim"/> in storage.</summary>
    public IndexExpr StorageIndex(int dim, IndexExpr index) => dim != FoldDim ? index
        : FoldSlots == 1 ? new IndexConstant(0)
        : index is IndexConstant c ? new IndexConstant(((c.Value % FoldSlots) + FoldSlots) % FoldSlots)
        : new IndexBinary(IndexOperator.Modulo, index, new IndexConstant(FoldSlots));

    public string Name => Tensor.Name;

    public bool IsArgument => Tensor.Role != TensorRole.Intermediate;
}

/// <summary>
/// A cascade lowered to loop nests: the sizes the caller binds, the sizes derived from them (<c>M1 = (M + M0 - 1) / M0</c>),
/// the storage of every tensor and the stages in order.
/// </summary>
public sealed record LoopProgram(
    Cascade Cascade,
    GpuSchedule Schedule,
    IReadOnlyList<string> Sizes,
    IReadOnlyList<(string Name, IndexExpr Value)> DerivedSizes,
    IReadOnlyList<LoopBuffer> Buffers,
    IReadOnlyList<LoopStage> Stages)
{
    public LoopBuffer Buffer(string name) => Buffers.First(b => b.Name == name);

    /// <summary>The extents of a group buffer's shared copy, per dimension of its tensor: 1 for a common rank's point,
    /// the rows of the group's block, the storage extent of a whole dimension.</summary>
    public IReadOnlyList<IndexExpr> LocalExtents(GroupBuffer g) =>
        Buffer(g.Tensor).StorageExtents.Select((e, d) => g.Ranks[d] is null ? e : g.Ranks[d] == g.Blocked ? new IndexConstant(g.Rows) : (IndexExpr)new IndexConstant(1)).ToList();

    /// <summary>The values of a group buffer's shared copy.</summary>
    public IndexExpr LocalCount(GroupBuffer g) => Product(LocalExtents(g));

    /// <summary>The floats of shared memory a kernel's tile or group buffer takes: a buffer's values, then its flags
    /// (1 or 0, a float each: one view of the memory serves both).</summary>
    public IndexExpr SharedFloats(LoopKernel k, string name)
    {
        if (k.Tiles.FirstOrDefault(t => t.Name == name) is { } tile) return Product(tile.Extents);
        var g = k.GroupBuffers.First(x => x.Tensor == name);
        var n = LocalCount(g);
        return Buffer(g.Tensor).HasFlags ? new IndexBinary(IndexOperator.Multiply, new IndexConstant(2), n) : n;
    }

    private static IndexExpr Product(IReadOnlyList<IndexExpr> extents) =>
        extents.Where(e => e is not IndexConstant { Value: 1 }).Aggregate((IndexExpr?)null, (a, e) => a is null ? e : new IndexBinary(IndexOperator.Multiply, a, e)) ?? new IndexConstant(1);

    /// <summary>Every kernel, in program order.</summary>
    public IEnumerable<LoopKernel> Kernels => Walk(Stages);

    private static IEnumerable<LoopKernel> Walk(IEnumerable<LoopStage> stages)
    {
        foreach (var s in stages)
        {
            if (s is SLaunch l) yield return l.Kernel;
            else foreach (var k in Walk(((SSteps)s).Body)) yield return k;
        }
    }
}
