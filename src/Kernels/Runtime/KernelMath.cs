using System;
using System.Runtime.CompilerServices;
using Kernels.Einsum.Interpretation;

namespace Kernels.Runtime;

/// <summary>
/// The scalar functions of the cascade language on floats, as generated scalar code calls them.
/// Each is evaluated in double with the reference interpreter's own definition
/// (<see cref="ScalarMath"/>) and rounded once, so the scalar paths are correctly rounded or within
/// one ulp.
/// </summary>
public static class KernelMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Exp(float x) => (float)Math.Exp(x);

    /// <summary>2^x, rounded once from double (<see cref="ScalarMath.Exp2"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Exp2(float x) => (float)ScalarMath.Exp2(x);

    /// <summary>A subscript's <c>a / b</c>: rounded down; -1 (a point outside every tensor, so absent) when b is 0 or less.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static long FloorDivide(long a, long b) => Kernels.Einsum.Ir.IndexArithmetic.FloorDivide(a, b);

    /// <summary>A subscript's <c>a % b</c>: in [0, b); -1 (absent) when b is 0 or less.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static long FloorModulo(long a, long b) => Kernels.Einsum.Ir.IndexArithmetic.FloorModulo(a, b);

    /// <summary>A value a filter reads (<c>where m &lt; LEN[b]</c>) as an integer: rounded down, clamped to +-2^40; NaN reads as 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static long IndexOf(float v) => Kernels.Einsum.Ir.IndexArithmetic.FromValue(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Log(float x) => (float)Math.Log(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float x) => MathF.Sqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Rsqrt(float x) => (float)ScalarMath.Rsqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Abs(float x) => MathF.Abs(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Softplus(float x) => (float)ScalarMath.Softplus(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sigmoid(float x) => (float)ScalarMath.Sigmoid(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Silu(float x) => (float)ScalarMath.Silu(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Tanh(float x) => (float)Math.Tanh(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Relu(float x) => (float)ScalarMath.Relu(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Gelu(float x) => (float)ScalarMath.Gelu(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GeluTanh(float x) => (float)ScalarMath.GeluTanh(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Erf(float x) => (float)ScalarMath.Erf(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Pow(float x, float y) => (float)Math.Pow(x, y);

    /// <summary>The larger operand, NaN when either is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Max(float x, float y) => MathF.Max(x, y);

    /// <summary>The smaller operand, NaN when either is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Min(float x, float y) => MathF.Min(x, y);

    /// <summary>The language's divide: <c>x / y</c>, and 0 where <paramref name="y"/> is 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float DivideOrZero(float x, float y) => y == 0f ? 0f : x / y;

    /// <summary>Adds <paramref name="x"/> to an online log-sum-exp kept as <c>scale + log(sum)</c>.</summary>
    public static void LogSumExpAdd(ref float scale, ref float sum, float x)
    {
        if (float.IsNaN(x) || float.IsNaN(sum)) { sum = float.NaN; return; }
        if (float.IsNegativeInfinity(x)) return;
        if (float.IsPositiveInfinity(x)) { scale = float.PositiveInfinity; sum = 1; return; }
        if (float.IsPositiveInfinity(scale)) return;
        if (x > scale)
        {
            sum = sum * (float)Math.Exp(scale - x) + 1f;
            scale = x;
        }
        else
        {
            sum += (float)Math.Exp(x - scale);
        }
    }

    /// <summary>Adds a group whose maximum is <paramref name="max"/> and whose sum of exp(x - max) is <paramref name="total"/>.</summary>
    /// <remarks>A group whose maximum is +inf is +inf whatever its total (which may be NaN from inf - inf); a NaN element makes the maximum NaN.</remarks>
    public static void LogSumExpMerge(ref float scale, ref float sum, float max, float total)
    {
        if (float.IsNaN(max) || float.IsNaN(sum)) { sum = float.NaN; return; }
        if (float.IsPositiveInfinity(max)) { scale = float.PositiveInfinity; sum = 1; return; }
        if (float.IsNaN(total)) { sum = float.NaN; return; }
        if (float.IsNegativeInfinity(max)) return;
        if (float.IsPositiveInfinity(scale)) return;
        if (max > scale)
        {
            sum = sum * (float)Math.Exp(scale - max) + total;
            scale = max;
        }
        else
        {
            sum += total * (float)Math.Exp(max - scale);
        }
    }

    /// <summary>Two online log-sum-exps (scale, sum of exp(x - scale)) of disjoint parts merged into one.</summary>
    public static (float Scale, float Sum) LogSumExpPair((float Scale, float Sum) left, (float Scale, float Sum) right)
    {
        var (scale, sum) = left;
        LogSumExpMerge(ref scale, ref sum, right.Scale, right.Sum);
        return (scale, sum);
    }

    /// <summary>Merges the lanes of a vector online log-sum-exp (<see cref="ISimdFloat{TSelf}.LogSumExpStep"/>) into a scalar one.</summary>
    public static void LogSumExpMergeLanes<TV>(ref float scale, ref float sum, TV max, TV total) where TV : unmanaged, ISimdFloat<TV>
    {
        for (var lane = 0; lane < TV.Count; lane++) LogSumExpMerge(ref scale, ref sum, TV.GetLane(max, lane), TV.GetLane(total, lane));
    }

    /// <summary>The larger part of a log-sum-exp kept as two floats (<see cref="LogSumExpLow"/> is the other): the maximum, or the value when it is not finite.</summary>
    public static float LogSumExpHigh(float scale, float sum) => float.IsNaN(sum) ? float.NaN : scale;

    /// <summary>The smaller part of a log-sum-exp kept as two floats: log of the sum of exp(x - max), in [0, log n]; 0 when the value is infinite.</summary>
    public static float LogSumExpLow(float scale, float sum) =>
        float.IsNaN(sum) ? float.NaN : float.IsInfinity(scale) ? 0f : (float)Math.Log(sum);

    /// <summary>The value of an online log-sum-exp; -inf for an empty one.</summary>
    public static float LogSumExpResult(float scale, float sum) =>
        float.IsNaN(sum) ? float.NaN
        : float.IsNegativeInfinity(scale) ? float.NegativeInfinity
        : float.IsPositiveInfinity(scale) ? float.PositiveInfinity
        : scale + (float)Math.Log(sum);
}
