using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Kernels.Einsum.Ir;

public enum IndexOperator
{
    Add,
    Subtract,
    Multiply,

    /// <summary>Floor division by a positive integer or a size (<c>h / G</c>: the key head of query head h).</summary>
    Divide,

    /// <summary>The remainder of floor division, from 0 to the divisor minus 1 (<c>h % G</c>).</summary>
    Modulo,
}

/// <summary>Integer arithmetic of subscripts, the same in the interpreter, the generated kernels and the hardware models.</summary>
public static class IndexArithmetic
{
    /// <summary>a / b rounded down; -1 (a point outside every tensor, so absent) when b is 0 or less.</summary>
    public static long FloorDivide(long a, long b)
    {
        if (b <= 0) return -1;
        var q = a / b;
        return a % b != 0 && a < 0 ? q - 1 : q;
    }

    /// <summary>a - b * FloorDivide(a, b), in [0, b); -1 (absent) when b is 0 or less.</summary>
    public static long FloorModulo(long a, long b) => b <= 0 ? -1 : a - b * FloorDivide(a, b);

    /// <summary>The largest magnitude a value read as an index keeps (2^40): far past any size, and far from overflow when added to one.</summary>
    public const long ValueLimit = 1L << 40;

    /// <summary>A tensor's value as an integer in an index expression: rounded down, clamped to +-<see cref="ValueLimit"/>; NaN reads as 0.</summary>
    public static long FromValue(double v) =>
        double.IsNaN(v) ? 0 : v >= ValueLimit ? ValueLimit : v <= -ValueLimit ? -ValueLimit : (long)Math.Floor(v);

    public static long Apply(IndexOperator op, long a, long b) => op switch
    {
        IndexOperator.Add => a + b,
        IndexOperator.Subtract => a - b,
        IndexOperator.Multiply => a * b,
        IndexOperator.Divide => FloorDivide(a, b),
        _ => FloorModulo(a, b),
    };
}

/// <summary>
/// An integer expression over indices, sizes and constants: a tensor subscript (<c>m1*M0 + m0</c>),
/// a side of a filter (<c>m &lt;= p</c>) or of a stop condition.
/// </summary>
public abstract record IndexExpr
{
    /// <summary>The index variables it mentions, in order of appearance, without repeats.</summary>
    public IReadOnlyList<string> Variables()
    {
        var list = new List<string>();
        Collect(list);
        return list;
    }

    internal abstract void Collect(List<string> variables);

    /// <summary>True when the expression reads a tensor's value (<see cref="IndexRead"/>), so that sizes alone do not give it.</summary>
    public bool ReadsValues() => this switch
    {
        IndexRead => true,
        IndexBinary b => b.Left.ReadsValues() || b.Right.ReadsValues(),
        _ => false,
    };

    /// <summary>True when the expression is <c>rank + constant</c> (constant may be 0 or negative).</summary>
    public bool TryGetOffset(out string rank, out long offset)
    {
        switch (this)
        {
            case IndexVariable v:
                rank = v.Rank;
                offset = 0;
                return true;
            case IndexBinary { Operator: IndexOperator.Add, Left: IndexVariable v, Right: IndexConstant c }:
                rank = v.Rank;
                offset = c.Value;
                return true;
            case IndexBinary { Operator: IndexOperator.Add, Left: IndexConstant c, Right: IndexVariable v }:
                rank = v.Rank;
                offset = c.Value;
                return true;
            case IndexBinary { Operator: IndexOperator.Subtract, Left: IndexVariable v, Right: IndexConstant c }:
                rank = v.Rank;
                offset = -c.Value;
                return true;
            default:
                rank = string.Empty;
                offset = 0;
                return false;
        }
    }
}

public sealed record IndexConstant(long Value) : IndexExpr
{
    internal override void Collect(List<string> variables) { }

    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The current value of a rank's index.</summary>
public sealed record IndexVariable(string Rank) : IndexExpr
{
    internal override void Collect(List<string> variables)
    {
        if (!variables.Contains(Rank)) variables.Add(Rank);
    }

    public override string ToString() => Rank;
}

/// <summary>A size bound at run time (<c>M0</c>).</summary>
public sealed record IndexSize(string Size) : IndexExpr
{
    internal override void Collect(List<string> variables) { }

    public override string ToString() => Size;
}

public sealed record IndexBinary(IndexOperator Operator, IndexExpr Left, IndexExpr Right) : IndexExpr
{
    internal override void Collect(List<string> variables)
    {
        Left.Collect(variables);
        Right.Collect(variables);
    }

    public override string ToString() => Operator switch
    {
        IndexOperator.Add => $"{Left}+{Right}",
        IndexOperator.Subtract => $"{Left}-{Wrap(Right)}",
        IndexOperator.Multiply => $"{Wrap(Left)}*{Wrap(Right)}",
        IndexOperator.Divide => $"{Wrap(Left)}/{WrapAll(Right)}",
        _ => $"{Wrap(Left)}%{WrapAll(Right)}",
    };

    private static string Wrap(IndexExpr e) => e is IndexBinary { Operator: IndexOperator.Add or IndexOperator.Subtract } ? $"({e})" : e.ToString();

    private static string WrapAll(IndexExpr e) => e is IndexBinary ? $"({e})" : e.ToString();
}

/// <summary>
/// The value of an input tensor at a point, as an integer (<see cref="IndexArithmetic.FromValue"/>): a filter's bound that
/// differs per batch or per row (<c>where m &lt; LEN[b]</c>, each sequence's key length). Only filters read values, and only
/// at the tensor's declared ranks (<c>LEN[b]</c> for <c>input LEN[b]</c>), so a read is always in range.
/// </summary>
public sealed record IndexRead(string Tensor, IReadOnlyList<IndexExpr> Subscripts) : IndexExpr
{
    internal override void Collect(List<string> variables)
    {
        foreach (var s in Subscripts) s.Collect(variables);
    }

    public override string ToString() => Subscripts.Count == 0 ? Tensor : $"{Tensor}[{string.Join(",", Subscripts)}]";

    // Compared by the subscripts' values, not the list's identity, as the other index expressions are.
    public bool Equals(IndexRead? other) => other is not null && other.Tensor == Tensor && other.Subscripts.SequenceEqual(Subscripts);

    public override int GetHashCode() => Subscripts.Aggregate(Tensor.GetHashCode(), (h, s) => h * 31 + s.GetHashCode());
}

public enum ComparisonOperator
{
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Equal,
    NotEqual,
}

/// <summary>One comparison of a filter (<c>where m &lt;= p</c>) or a stop condition.</summary>
public sealed record Comparison(IndexExpr Left, ComparisonOperator Operator, IndexExpr Right)
{
    public bool Holds(long left, long right) => Operator switch
    {
        ComparisonOperator.Less => left < right,
        ComparisonOperator.LessEqual => left <= right,
        ComparisonOperator.Greater => left > right,
        ComparisonOperator.GreaterEqual => left >= right,
        ComparisonOperator.Equal => left == right,
        _ => left != right,
    };

    /// <summary>The operator as written in specs, which is also its C and C# spelling.</summary>
    public static string Text(ComparisonOperator op) => op switch
    {
        ComparisonOperator.Less => "<",
        ComparisonOperator.LessEqual => "<=",
        ComparisonOperator.Greater => ">",
        ComparisonOperator.GreaterEqual => ">=",
        ComparisonOperator.Equal => "==",
        _ => "!=",
    };

    public override string ToString()
    {
        return $"{Left} {Text(Operator)} {Right}";
    }
}
