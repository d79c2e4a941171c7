using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Ir;

public enum ElementType
{
    Float32,
    Float16,
    BFloat16,

    /// <summary>32-bit signed integers, for inputs only: read exactly by filters (<c>m &lt; LEN[b]</c>) and as the
    /// nearest float by expressions.</summary>
    Int32,
}

public enum TensorRole
{
    Input,
    Output,
    Intermediate,
}

public enum RankKind
{
    /// <summary>An ordinary rank whose size is bound at run time.</summary>
    Plain,

    /// <summary>The tile index of a partitioned rank (<c>m1</c>, size <c>ceil(M / M0)</c>).</summary>
    PartitionOuter,

    /// <summary>The offset within a tile (<c>m0</c>, size <c>M0</c>, the tile size).</summary>
    PartitionInner,
}

public enum ReduceOperator
{
    Sum,
    Max,
    Min,
    Prod,
    LogSumExp,
}

/// <summary>A rank: an index name (<c>m1</c>) ranging over <c>0 .. Size-1</c>, where Size is the upper-case name.</summary>
/// <remarks>An alias (<c>index s in T</c>) is a second index over another rank's size; <see cref="AliasOf"/> names that rank.</remarks>
public sealed record Rank(string Index, RankKind Kind, string Root, string? PartitionOf, int? DefaultSize, bool IsIterative, string? AliasOf = null)
{
    /// <summary>The size's name: the upper-case index (<c>M</c> for <c>m</c>), or <c>B_size</c> when a tensor is named <c>B</c>.</summary>
    public string Size => SizeName ?? (AliasOf ?? Index).ToUpperInvariant();

    /// <summary>Set by the binder when a tensor takes the upper-case name, which the spec then never writes as a size.</summary>
    public string? SizeName { get; init; }
}

/// <summary>One dimension of a tensor: the rank it ranges over and an offset (a tensor written at
/// <c>m1+1</c> has extent <c>M1 + 1</c> along that rank).</summary>
public sealed record TensorDim(string Rank, int Offset)
{
    public override string ToString() => Offset == 0 ? Rank : $"{Rank}+{Offset}";
}

public sealed record Tensor(string Name, TensorRole Role, ElementType ElementType, IReadOnlyList<TensorDim> Dims, SourceSpan Span)
{
    public int Rank => Dims.Count;

    /// <summary>The dimension indexed by the iterative rank when the tensor is written at <c>r+1</c> in an
    /// 'iterate r' block and read at <c>r</c>: its value is carried from one step to the next.</summary>
    public int? CarriedDim { get; init; }

    public bool IsLoopCarried => CarriedDim.HasValue;

    public override string ToString() => Dims.Count == 0 ? Name : $"{Name}[{string.Join(",", Dims)}]";

    // Tensors are identified by name within a cascade; records would otherwise compare spans and lists.
    public bool Equals(Tensor? other) => other is not null && other.Name == Name && other.Role == Role;

    public override int GetHashCode() => Name.GetHashCode();
}

public enum ActionKind
{
    Map,
    Reduce,
    Populate,
}

/// <summary>One action of an extended Einsum with its compute and merge operators.</summary>
public sealed record EinsumAction(ActionKind Kind, string Compute, MergeOperator Merge);

/// <summary>
/// One extended Einsum: at every point of <see cref="Ranks"/> that passes the filters, evaluate
/// <see cref="Body"/> (map), combine over <see cref="ReducedRanks"/> with <see cref="Reduction"/>
/// (reduce), and write the output point (populate).
/// </summary>
public sealed record ExtendedEinsum(
    int Id,
    Tensor Output,
    IReadOnlyList<IndexExpr> OutputIndices,
    IReadOnlyList<string> Ranks,
    IReadOnlyList<string> ReducedRanks,
    ReduceOperator? Reduction,
    bool IsImplicitReduction,
    Expr Body,
    IReadOnlyList<Comparison> Filters,
    bool IsInit,
    string? IterativeRank,
    string Text,
    SourceSpan Span)
{
    public IReadOnlyList<string> OutputRanks => Ranks.Where(r => !ReducedRanks.Contains(r)).ToList();

    public IEnumerable<TensorRead> Reads() => Body.Reads();

    /// <summary>The map, reduce and populate actions, innermost first.</summary>
    public IReadOnlyList<EinsumAction> Actions()
    {
        var actions = new List<EinsumAction>();
        void Walk(Expr e)
        {
            switch (e)
            {
                case Unary u:
                    Walk(u.Operand);
                    actions.Add(new EinsumAction(ActionKind.Map, u.Function.ToString().ToLowerInvariant(), u.Merge));
                    break;
                case Binary b:
                    Walk(b.Left);
                    Walk(b.Right);
                    actions.Add(new EinsumAction(ActionKind.Map, b.Operator.ToString().ToLowerInvariant(), b.Merge));
                    break;
            }
        }
        Walk(Body);
        if (Reduction is { } r)
            actions.Add(new EinsumAction(ActionKind.Reduce, r.ToString().ToLowerInvariant(), MergeOperator.Union));
        actions.Add(new EinsumAction(ActionKind.Populate, Output.Name, MergeOperator.PassThrough));
        return actions;
    }

    public override string ToString() => Text;
}

/// <summary>An 'iterate r until cond { ... }' block: its inits run once, then its Einsums run for r = 0, 1, ... until the stop condition holds.</summary>
public sealed record IterationBlock(string Rank, Comparison Stop, IReadOnlyList<ExtendedEinsum> Inits, IReadOnlyList<ExtendedEinsum> Einsums, SourceSpan Span);

/// <summary>One step of the evaluation order: a single Einsum or a whole iteration block.</summary>
public sealed record CascadeStep(ExtendedEinsum? Einsum, IterationBlock? Block);

/// <summary>A bound, checked cascade of extended Einsums: the IR every sink consumes.</summary>
public sealed record Cascade(
    string Name,
    IReadOnlyList<Rank> Ranks,
    IReadOnlyList<Tensor> Tensors,
    IReadOnlyList<CascadeStep> Steps,
    string Source)
{
    /// <summary>Every Einsum in evaluation order (an iteration block's inits, then its body).</summary>
    public IReadOnlyList<ExtendedEinsum> Einsums =>
        Steps.SelectMany(s => s.Einsum is { } e ? new[] { e } : s.Block!.Inits.Concat(s.Block.Einsums)).ToList();

    public IEnumerable<IterationBlock> Blocks => Steps.Where(s => s.Block is not null).Select(s => s.Block!);

    public IEnumerable<Tensor> Inputs => Tensors.Where(t => t.Role == TensorRole.Input);

    public IEnumerable<Tensor> Outputs => Tensors.Where(t => t.Role == TensorRole.Output);

    public Tensor Tensor(string name) => Tensors.First(t => t.Name == name);

    public Rank Rank(string index) => Ranks.First(r => r.Index == index);

    /// <summary>The Einsum that writes the tensor (not its init), if any.</summary>
    public ExtendedEinsum? Writer(string tensor) => Einsums.FirstOrDefault(e => !e.IsInit && e.Output.Name == tensor);
}
