using System.Collections.Generic;
using System.Globalization;

namespace Kernels.Einsum.Ir;

public enum UnaryFunction
{
    Negate,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Abs,
    Softplus,
    Silu,
    Sigmoid,
    Tanh,
    Relu,
    Gelu,
    GeluTanh,
    Erf,

    /// <summary>2^x: what exp becomes where the compiler folds log2(e) into the scale of its argument (Planning.Log2Scores).</summary>
    Exp2,
}

public enum BinaryOperator
{
    Add,
    Subtract,
    Multiply,
    Divide,
    Max,
    Min,
    Power,
}

/// <summary>
/// How a map action combines the presence of its operands (FuseMax's merge operators): union (a
/// result exists where either operand does), intersection (where both do), or, for division, where
/// the divisor exists and is non-zero, so <c>x / 0 = 0</c>.
/// </summary>
public enum MergeOperator
{
    Intersection,
    NonZeroDivisor,
    PassThrough,
    Union,
}

/// <summary>The map expression of an Einsum, evaluated at every point of its iteration space.</summary>
public abstract record Expr
{
    /// <summary>Number of arithmetic operations (each operator and function counts one).</summary>
    public abstract int OperationCount { get; }

    public IEnumerable<TensorRead> Reads()
    {
        var list = new List<TensorRead>();
        CollectReads(list);
        return list;
    }

    /// <summary>This expression with each tensor read for which <paramref name="replace"/> gives an expression replaced by
    /// it (a read it gives null for stays); the rewrites of a cascade before planning substitute reads this way.</summary>
    public Expr ReplaceReads(System.Func<TensorRead, Expr?> replace) => this switch
    {
        TensorRead r => replace(r) ?? r,
        Unary u => u with { Operand = u.Operand.ReplaceReads(replace) },
        Binary b => b with { Left = b.Left.ReplaceReads(replace), Right = b.Right.ReplaceReads(replace) },
        _ => this,
    };

    internal abstract void CollectReads(List<TensorRead> reads);
}

public sealed record Constant(double Value) : Expr
{
    public override int OperationCount => 0;

    internal override void CollectReads(List<TensorRead> reads) { }

    public override string ToString() => double.IsPositiveInfinity(Value) ? "inf" : double.IsNegativeInfinity(Value) ? "-inf" : Value.ToString("R", CultureInfo.InvariantCulture);
}

public sealed record TensorRead(Tensor Tensor, IReadOnlyList<IndexExpr> Indices) : Expr
{
    public override int OperationCount => 0;

    internal override void CollectReads(List<TensorRead> reads) => reads.Add(this);

    public override string ToString() => Tensor.Rank == 0 ? Tensor.Name : $"{Tensor.Name}[{string.Join(",", Indices)}]";
}

/// <summary>A size bound at run time, used as a value (<c>SS[p] / E</c>).</summary>
public sealed record SizeValue(string Size) : Expr
{
    public override int OperationCount => 0;

    internal override void CollectReads(List<TensorRead> reads) { }

    public override string ToString() => Size;
}

/// <summary>An index used as a value (<c>exp(-S * (t - s))</c>).</summary>
public sealed record IndexValue(IndexExpr Index) : Expr
{
    public override int OperationCount => 0;

    internal override void CollectReads(List<TensorRead> reads) { }

    public override string ToString() => Index.ToString();
}

public sealed record Unary(UnaryFunction Function, Expr Operand) : Expr
{
    public override int OperationCount => 1 + Operand.OperationCount;

    public MergeOperator Merge => MergeOperator.PassThrough;

    internal override void CollectReads(List<TensorRead> reads) => Operand.CollectReads(reads);

    public override string ToString() => Function == UnaryFunction.Negate ? $"-{Operand}" : $"{Function.ToString().ToLowerInvariant()}({Operand})";
}

public sealed record Binary(BinaryOperator Operator, Expr Left, Expr Right) : Expr
{
    public override int OperationCount => 1 + Left.OperationCount + Right.OperationCount;

    /// <summary>FuseMax's merge: + max min take the union (an absent operand is the identity), * and - the
    /// intersection, / exists only where the divisor is present and non-zero.</summary>
    public MergeOperator Merge => Operator switch
    {
        BinaryOperator.Add or BinaryOperator.Max or BinaryOperator.Min => MergeOperator.Union,
        BinaryOperator.Divide => MergeOperator.NonZeroDivisor,
        _ => MergeOperator.Intersection,
    };

    internal override void CollectReads(List<TensorRead> reads)
    {
        Left.CollectReads(reads);
        Right.CollectReads(reads);
    }

    public override string ToString() => Operator switch
    {
        BinaryOperator.Max => $"max({Left}, {Right})",
        BinaryOperator.Min => $"min({Left}, {Right})",
        BinaryOperator.Add => $"({Left} + {Right})",
        BinaryOperator.Subtract => $"({Left} - {Right})",
        BinaryOperator.Multiply => $"{Left} * {Right}",
        BinaryOperator.Power => $"({Left} ^ {Right})",
        _ => $"{Left} / {Right}",
    };
}
