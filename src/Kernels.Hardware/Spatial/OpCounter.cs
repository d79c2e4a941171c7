using Kernels.Einsum.Ir;

namespace Kernels.Hardware.Spatial;

/// <summary>
/// Operations per point of an Einsum, by kind, read off its map and reduce actions.
/// </summary>
/// <remarks>
/// Three rewrites a hardware mapper makes, applied here so that the counts match what a PE executes:
/// <list type="bullet">
/// <item>A sum of products is a MAC: the multiply under a sum reduction fuses with its add (<c>sum[e] Q*K</c> costs one MAC per point).</item>
/// <item>Loop-invariant values cost nothing per point: a sub-expression that reads no rank (<c>rsqrt(E)</c>, a scalar input) is
/// computed once, and multiplying by it is folded into an operand (pre-scaled Q).</item>
/// <item><c>exp(a - b)</c> costs one exp: the range reduction's first MAC (<c>a*log2e - b*log2e</c>) absorbs the subtraction.</item>
/// </list>
/// An Einsum whose body is a single read (<c>BK[m1,m0,e] = K[m1*M0 + m0, e]</c>) is a copy: a layout change, no operations.
/// </remarks>
public static class OpCounter
{
    public static bool IsCopy(ExtendedEinsum e) => e.Reduction is null && e.Body is TensorRead;

    /// <summary>Operation counts per point of the iteration space: mac, mul, add, max, div, exp and the other functions by name.</summary>
    public static IReadOnlyDictionary<string, double> PerPoint(ExtendedEinsum e)
    {
        var ops = new Dictionary<string, double>(StringComparer.Ordinal);
        if (e.IsInit || IsCopy(e)) return ops;
        var body = StripInvariantScale(e.Body);
        if (e.Reduction == ReduceOperator.Sum && body is Binary { Operator: BinaryOperator.Multiply } product)
        {
            Count(product.Left, ops);
            Count(product.Right, ops);
            Add(ops, "mac", 1);
            return ops;
        }
        Count(body, ops);
        switch (e.Reduction)
        {
            case ReduceOperator.Sum: Add(ops, "add", 1); break;
            case ReduceOperator.Max or ReduceOperator.Min: Add(ops, "max", 1); break;
            case ReduceOperator.Prod: Add(ops, "mul", 1); break;
            case ReduceOperator.LogSumExp:
                // Online log-sum-exp: compare with the running maximum, exp of the difference, accumulate.
                Add(ops, "max", 1);
                Add(ops, "exp", 1);
                Add(ops, "add", 1);
                break;
        }
        return ops;
    }

    /// <summary>Total operations per point (each kind counts one).</summary>
    public static double Total(IReadOnlyDictionary<string, double> ops) => ops.Values.Sum();

    /// <summary>True when the expression reads no rank: it can be computed once, outside every loop.</summary>
    public static bool IsInvariant(Expr e) => e switch
    {
        Constant or SizeValue => true,
        IndexValue => false,
        TensorRead r => r.Tensor.Rank == 0,
        Unary u => IsInvariant(u.Operand),
        Binary b => IsInvariant(b.Left) && IsInvariant(b.Right),
        _ => false,
    };

    private static Expr StripInvariantScale(Expr e)
    {
        if (e is Binary { Operator: BinaryOperator.Multiply } b)
        {
            if (IsInvariant(b.Right) && !IsInvariant(b.Left)) return StripInvariantScale(b.Left);
            if (IsInvariant(b.Left) && !IsInvariant(b.Right)) return StripInvariantScale(b.Right);
            return new Binary(BinaryOperator.Multiply, StripInvariantScale(b.Left), StripInvariantScale(b.Right));
        }
        return e;
    }

    private static void Count(Expr e, Dictionary<string, double> ops)
    {
        if (IsInvariant(e)) return;
        switch (e)
        {
            case Unary { Function: UnaryFunction.Exp or UnaryFunction.Exp2, Operand: Binary { Operator: BinaryOperator.Add or BinaryOperator.Subtract } inner }:
                Count(inner.Left, ops);
                Count(inner.Right, ops);
                Add(ops, "exp", 1);
                break;
            case Unary u:
                Count(u.Operand, ops);
                Add(ops, Name(u.Function), 1);
                break;
            case Binary { Operator: BinaryOperator.Multiply } m when IsInvariant(m.Left) || IsInvariant(m.Right):
                Count(IsInvariant(m.Left) ? m.Right : m.Left, ops);
                break;
            case Binary b:
                Count(b.Left, ops);
                Count(b.Right, ops);
                Add(ops, b.Operator switch
                {
                    BinaryOperator.Add or BinaryOperator.Subtract => "add",
                    BinaryOperator.Multiply => "mul",
                    BinaryOperator.Divide => "div",
                    BinaryOperator.Power => "pow",
                    _ => "max",
                }, 1);
                break;
        }
    }

    private static string Name(UnaryFunction f) => f switch
    {
        UnaryFunction.Negate => "neg",
        UnaryFunction.Exp2 => "exp", // an exponential unit either way
        _ => f.ToString().ToLowerInvariant(),
    };

    private static void Add(Dictionary<string, double> ops, string op, double n)
    {
        ops.TryGetValue(op, out var c);
        ops[op] = c + n;
    }
}
