using System.Runtime.CompilerServices;

namespace Kernels.Runtime;

/// <summary>
/// A register of <see cref="Count"/> floats. Generated kernels are generic over it, so one emitted
/// loop body runs as <see cref="V512"/>, <see cref="V256"/>, <see cref="V128"/> or, for tails and
/// machines without SIMD, <see cref="F32"/>; the JIT specialises each instantiation.
/// </summary>
/// <remarks>
/// The width types implement the primitives. The functions of the cascade language that have no
/// instruction (sigmoid, softplus, tanh, ...) are composed here once from those primitives;
/// docs/simd-math.md states the measured error of each.
/// </remarks>
public interface ISimdFloat<TSelf> where TSelf : unmanaged, ISimdFloat<TSelf>
{
    static abstract int Count { get; }

    static abstract unsafe TSelf Load(float* source);

    /// <summary>Count 32-bit integers, each as the nearest float (exact up to 2^24): an <c>i32</c> input read as a value.</summary>
    static abstract unsafe TSelf Load(int* source);

    static abstract unsafe void Store(float* destination, TSelf value);

    static abstract TSelf Create(float value);

    /// <summary><c>start + step * lane</c> for lanes 0 .. Count-1: an index used as a value.</summary>
    static abstract TSelf Affine(float start, float step);

    static abstract TSelf operator +(TSelf left, TSelf right);

    static abstract TSelf operator -(TSelf left, TSelf right);

    static abstract TSelf operator *(TSelf left, TSelf right);

    static abstract TSelf operator /(TSelf left, TSelf right);

    static abstract TSelf operator -(TSelf value);

    /// <summary>The larger operand, NaN when either is NaN (as <see cref="System.Math.Max(float, float)"/>).</summary>
    static abstract TSelf Max(TSelf left, TSelf right);

    /// <summary>The smaller operand, NaN when either is NaN.</summary>
    static abstract TSelf Min(TSelf left, TSelf right);

    static abstract TSelf Abs(TSelf value);

    static abstract TSelf Sqrt(TSelf value);

    /// <summary>
    /// <see cref="Max"/> where neither operand is NaN (signed zeros ordered); where one is, any value. With AVX-512
    /// one instruction (vrangeps), where the IEEE <see cref="Max"/> takes three (nine with AVX2). A reduction keeps its NaN with
    /// <see cref="TakeNaN"/>: max over x is <c>TakeNaN(MaxUnlessNaN-fold, TakeNaN-fold of 0)</c>.
    /// </summary>
    static virtual TSelf MaxUnlessNaN(TSelf left, TSelf right) => TSelf.Max(left, right);

    /// <summary><see cref="Min"/> where neither operand is NaN; where one is, any value (see <see cref="MaxUnlessNaN"/>).</summary>
    static virtual TSelf MinUnlessNaN(TSelf left, TSelf right) => TSelf.Min(left, right);

    /// <summary>
    /// <paramref name="value"/> in the lanes where it is NaN, <paramref name="flag"/> in the others, wherever
    /// <see cref="MaxUnlessNaN"/> and <see cref="MinUnlessNaN"/> may lose a NaN (one vfixupimmps with AVX-512); where they
    /// keep it (the IEEE operations), <paramref name="flag"/>.
    /// </summary>
    static virtual TSelf TakeNaN(TSelf flag, TSelf value) => flag;

    /// <summary>
    /// <paramref name="value"/> limited to [<paramref name="low"/>, <paramref name="high"/>], NaN staying NaN: one min
    /// and one max instruction, where the IEEE <see cref="Max"/> and <see cref="Min"/> take three each on x86.
    /// </summary>
    static abstract TSelf Clamp(TSelf value, float low, float high);

    /// <summary><paramref name="value"/> limited below by <paramref name="low"/>, NaN staying NaN: one max instruction
    /// with the vector widths.</summary>
    static virtual TSelf AtLeast(TSelf value, float low) => TSelf.Clamp(value, low, float.PositiveInfinity);

    /// <summary><c>a * b + c</c> rounded once (a fused multiply-add).</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);

    /// <summary>Rounds to the nearest integer, ties to even.</summary>
    static abstract TSelf Round(TSelf value);

    /// <summary>
    /// <c>x * 2^floor(n)</c> for <paramref name="n"/> in [-252, 255), rounded once, so results in the subnormal range and
    /// overflow to infinity are exact (AVX-512's vscalefps; elsewhere the scale is applied as two normal powers of two).
    /// </summary>
    static abstract TSelf ScaleB(TSelf x, TSelf n);

    static abstract TSelf Log(TSelf value);

    /// <summary>
    /// Per lane, 2^(k/K) for k the low bits of <paramref name="biased"/>'s bit pattern, K the entries of a table held in
    /// one register (16 for V512, 8 for V256), for <see cref="SimdExp.ByTable"/>. Widths without one use the Cody-Waite exp.
    /// </summary>
    static virtual TSelf ExpTableLookup(TSelf biased) => throw new System.NotSupportedException("this width has no exp table");

    /// <summary>All bits set in the lanes where <paramref name="left"/> equals <paramref name="right"/>.</summary>
    static abstract TSelf EqualMask(TSelf left, TSelf right);

    /// <summary>Per lane: <paramref name="whenTrue"/> where <paramref name="mask"/> is set, otherwise <paramref name="whenFalse"/>.</summary>
    static abstract TSelf Select(TSelf mask, TSelf whenTrue, TSelf whenFalse);

    static abstract float SumAcross(TSelf value);

    static abstract float MaxAcross(TSelf value);

    static abstract float MinAcross(TSelf value);

    static abstract float ProductAcross(TSelf value);

    static abstract float GetLane(TSelf value, int lane);

    // ---- Composite functions: one definition for every width. ----

    /// <summary>
    /// exp(x) for an argument the compiler proved at most 0 (<c>x - max x</c>; Kernels.Einsum's ExpBounds): the same
    /// value as <see cref="Exp"/> for every x &lt;= 0, -inf and NaN, clamped only below, which saves one of the fourteen
    /// operations an exp sweep spends per vector. Positive arguments are not its business (the widths with a table
    /// still give exp(x) up to about 1e7, but +inf gives NaN).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf ExpNonPositive(TSelf value) => TSelf.Exp(value);

    /// <summary>
    /// 2^x, the exp of an argument already multiplied by log2(e): attention's scores, when the compiler folds log2(e)
    /// into their scale (Kernels.Einsum's Log2Scores), need no multiply by it inside the exp, and the reduction
    /// <c>t = x - n</c> is one exact subtraction where base e takes two multiply-adds. Here, for the widths without a
    /// table: x = n + t with n = round(x) and |t| &lt;= 1/2 (exact), 2^t = exp(t ln2) by <see cref="Exp"/>, scaled by
    /// 2^n. x is clamped to [-150, 129], outside which the result is 0 or +inf in float anyway; NaN propagates.
    /// V512 and V256 use <see cref="SimdExp.ByTable2"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Exp2(TSelf value)
    {
        var x = TSelf.Clamp(value, -150f, 129f);
        var n = TSelf.Round(x);
        return TSelf.ScaleB(TSelf.Exp((x - n) * TSelf.Create(0.693147182f)), n);
    }

    /// <summary><see cref="Exp2"/> for an argument the compiler proved at most 0, as <see cref="ExpNonPositive"/> is to
    /// <see cref="Exp"/>: the same value for every x &lt;= 0, -inf and NaN, clamped only below.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Exp2NonPositive(TSelf value) => TSelf.Exp2(value);

    /// <summary>
    /// exp(x) in float: x = n ln2 + t with n = round(x / ln2) and |t| &lt;= ln2/2 (Cody-Waite, ln2 in two parts,
    /// exact with the fused multiply-add), exp(t) by a degree-6 polynomial (Chebyshev interpolation,
    /// 2e-8 relative), then scaled by 2^n. x is clamped to [-104, 89], outside which the result is 0 or +inf in
    /// float anyway; NaN propagates through t. About 1 ulp (docs/simd-math.md). V512 and V256 use
    /// <see cref="SimdExp.ByTable"/> instead.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Exp(TSelf value)
    {
        var x = TSelf.Clamp(value, -104f, 89f);
        var n = TSelf.Round(x * TSelf.Create(1.44269504f));
        var t = TSelf.MultiplyAdd(n, TSelf.Create(-0.693145751953125f), x);
        t = TSelf.MultiplyAdd(n, TSelf.Create(-1.42860677e-06f), t);
        var p = TSelf.MultiplyAdd(TSelf.Create(0.0013941108f), t, TSelf.Create(0.008375126f));
        p = TSelf.MultiplyAdd(p, t, TSelf.Create(0.04166635f));
        p = TSelf.MultiplyAdd(p, t, TSelf.Create(0.16666415f));
        p = TSelf.MultiplyAdd(p, t, TSelf.Create(0.5f));
        p = TSelf.MultiplyAdd(p, t, TSelf.Create(1f));
        p = TSelf.MultiplyAdd(p, t, TSelf.Create(1f));
        return TSelf.ScaleB(p, n);
    }


    /// <summary><c>left / right</c>, and 0 where <paramref name="right"/> is 0 (the language's divide).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf DivideOrZero(TSelf left, TSelf right)
    {
        var zero = TSelf.Create(0f);
        return TSelf.Select(TSelf.EqualMask(right, zero), zero, left / right);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Rsqrt(TSelf value) => TSelf.Create(1f) / TSelf.Sqrt(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Relu(TSelf value) => TSelf.Max(value, TSelf.Create(0f));

    /// <summary>1 / (1 + exp(-x)); exp overflows to +inf for x below about -88, giving exactly 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Sigmoid(TSelf value)
    {
        var one = TSelf.Create(1f);
        return one / (one + TSelf.Exp(-value));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Silu(TSelf value) => value * TSelf.Sigmoid(value);

    /// <summary>log(1 + x) with Goldberg's correction: log(u) * x / (u - 1) for u = 1 + x cancels the rounding of u.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Log1P(TSelf value)
    {
        var one = TSelf.Create(1f);
        var u = one + value;
        var corrected = TSelf.Log(u) * (value / (u - one));
        // u == 1: x is below half an ulp of 1 and log1p(x) = x; u == inf: the quotient is inf/inf.
        var result = TSelf.Select(TSelf.EqualMask(u, one), value, corrected);
        return TSelf.Select(TSelf.EqualMask(u, TSelf.Create(float.PositiveInfinity)), u, result);
    }

    /// <summary>exp(x) - 1 with Kahan's correction: (u - 1) * x / log(u) for u = exp(x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Expm1(TSelf value)
    {
        var one = TSelf.Create(1f);
        var u = TSelf.Exp(value);
        var corrected = (u - one) * (value / TSelf.Log(u));
        var result = TSelf.Select(TSelf.EqualMask(u, one), value, corrected);
        // u == 0 (x below about -104): the result is -1; u == inf: the result is inf.
        result = TSelf.Select(TSelf.EqualMask(u, TSelf.Create(0f)), -one, result);
        return TSelf.Select(TSelf.EqualMask(u, TSelf.Create(float.PositiveInfinity)), u, result);
    }

    /// <summary>log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): no overflow for large x, no cancellation for small.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Softplus(TSelf value) =>
        TSelf.Max(value, TSelf.Create(0f)) + TSelf.Log1P(TSelf.Exp(-TSelf.Abs(value)));

    /// <summary>
    /// For |x| at most 0.55 the odd Taylor polynomial to x^17 (its truncation is below 1e-8 there); beyond, the sign of x
    /// times 1 - 2 / (exp(2|x|) + 1), |x| clamped to 10 (tanh(10) rounds to 1 in float), where the subtraction loses at
    /// most a bit. One exp and one division (expm1 would cost an exp, a log and two divisions). Not inlined: its body is
    /// large, and inlined into a kernel it spent the JIT's inline budget of the kernel's method, so that adds, loads and
    /// exps further on became calls (a soft-capped attention ran at half the speed of the plain one).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static virtual TSelf Tanh(TSelf value)
    {
        var one = TSelf.Create(1f);
        var ax = TSelf.Abs(value);
        var e = TSelf.Exp(TSelf.Min(ax + ax, TSelf.Create(20f)));
        var far = one - TSelf.Create(2f) / (e + one);
        far = TSelf.Select(TSelf.EqualMask(TSelf.Max(value, TSelf.Create(0f)), value), far, -far);
        var x2 = value * value;
        // Horner in x^2 on the series' coefficients, x^17 down to x^3: 6404582/10854718875, ..., 2/15, -1/3.
        var poly = TSelf.MultiplyAdd(x2, TSelf.Create(0.00059002744094558595f), TSelf.Create(-0.0014558343870513183f));
        poly = TSelf.MultiplyAdd(x2, poly, TSelf.Create(0.0035921280365724811f));
        poly = TSelf.MultiplyAdd(x2, poly, TSelf.Create(-0.0088632355299021973f));
        poly = TSelf.MultiplyAdd(x2, poly, TSelf.Create(0.021869488536155203f));
        poly = TSelf.MultiplyAdd(x2, poly, TSelf.Create(-0.053968253968253971f));
        poly = TSelf.MultiplyAdd(x2, poly, TSelf.Create(0.13333333333333333f));
        poly = TSelf.MultiplyAdd(x2, poly, TSelf.Create(-0.33333333333333331f));
        var near = TSelf.MultiplyAdd(value * x2, poly, value);
        var limit = TSelf.Create(0.55f);
        var result = TSelf.Select(TSelf.EqualMask(TSelf.Min(ax, limit), ax), near, far);
        // NaN stays NaN, and zero keeps its sign (the polynomial's -0 * x^2 * poly is +0).
        return TSelf.Select(TSelf.EqualMask(value, value), TSelf.Select(TSelf.EqualMask(ax, TSelf.Create(0f)), value, result), value);
    }

    /// <summary>
    /// One step of a per-lane online log-sum-exp kept as (running max, sum of exp(x - max)). Lanes that
    /// have seen only -inf keep a sum of 0; +inf and NaN are resolved when the lanes are merged
    /// (<see cref="KernelMath.LogSumExpMergeLanes{TV}"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual void LogSumExpStep(ref TSelf max, ref TSelf sum, TSelf x)
    {
        var one = TSelf.Create(1f);
        var newMax = TSelf.Max(max, x);
        var rescale = TSelf.Select(TSelf.EqualMask(max, newMax), one, TSelf.Exp(max - newMax));
        var term = TSelf.Select(TSelf.EqualMask(x, newMax), one, TSelf.Exp(x - newMax));
        sum = TSelf.Select(TSelf.EqualMask(newMax, TSelf.Create(float.NegativeInfinity)), TSelf.Create(0f), sum * rescale + term);
        max = newMax;
    }

    /// <summary>
    /// Four vectors into a per-lane online log-sum-exp at once: one new maximum and one rescale for the block, so
    /// the running sum costs about 1.25 exps per element instead of 2. Differences are taken from the maximum
    /// clamped to a finite float, so no element meets inf - inf: a lane whose maximum is +inf may carry any sum,
    /// and is resolved as +inf when the lanes merge (<see cref="KernelMath.LogSumExpMerge"/>); a NaN makes the
    /// lane's maximum NaN for good. Lanes that have seen only -inf keep a sum of 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual void LogSumExpStep4(ref TSelf max, ref TSelf sum, TSelf a, TSelf b, TSelf c, TSelf d)
    {
        var newMax = TSelf.Max(max, TSelf.Max(TSelf.Max(a, b), TSelf.Max(c, d)));
        var reference = TSelf.Min(newMax, TSelf.Create(float.MaxValue));
        var terms = TSelf.Exp(a - reference) + TSelf.Exp(b - reference) + (TSelf.Exp(c - reference) + TSelf.Exp(d - reference));
        var next = TSelf.MultiplyAdd(sum, TSelf.Exp(max - reference), terms);
        sum = TSelf.Select(TSelf.EqualMask(newMax, TSelf.Create(float.NegativeInfinity)), TSelf.Create(0f), next);
        max = newMax;
    }

    /// <summary>
    /// GELU in the tanh approximation (PyTorch's approximate='tanh'): 0.5 x (1 + tanh(u)) with
    /// u = sqrt(2/pi) (x + 0.044715 x^3), written as x * sigmoid(2u) so that it is vectorised and cannot overflow.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf GeluTanh(TSelf value)
    {
        // 2u = x (2 sqrt(2/pi) + 2 sqrt(2/pi) 0.044715 x^2): three roundings, the fewest for this polynomial.
        var u2 = value * TSelf.MultiplyAdd(value * value, TSelf.Create(0.0713548162726f), TSelf.Create(1.5957691216f));
        return value * TSelf.Sigmoid(u2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Square(TSelf value) => value * value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Cube(TSelf value) => value * value * value;

    /// <summary>
    /// x^y as exp(y log|x|), with Math.Pow's conventions where they matter for tensors: a negative base gives a real
    /// result for an integer exponent (negative when it is odd) and NaN otherwise; x^0 = 1 and 1^y = 1 even for NaN.
    /// The error grows with |y log x| (docs/simd-math.md); constant exponents 2 and 3 are emitted as products.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static virtual TSelf Pow(TSelf x, TSelf y)
    {
        var one = TSelf.Create(1f);
        var magnitude = TSelf.Exp(y * TSelf.Log(TSelf.Abs(x)));
        var integer = TSelf.EqualMask(TSelf.Round(y), y);
        var half = y * TSelf.Create(0.5f);
        var even = TSelf.EqualMask(TSelf.Round(half), half);
        var negativeBase = TSelf.Select(integer, TSelf.Select(even, magnitude, -magnitude), TSelf.Create(float.NaN));
        var result = TSelf.Select(TSelf.EqualMask(TSelf.Abs(x), x), magnitude, negativeBase);
        result = TSelf.Select(TSelf.EqualMask(x, one), one, result);
        return TSelf.Select(TSelf.EqualMask(y, TSelf.Create(0f)), one, result);
    }

    /// <summary>erf per lane in double precision: not vectorised (docs/simd-math.md).</summary>
    static virtual unsafe TSelf Erf(TSelf value)
    {
        var lanes = stackalloc float[TSelf.Count];
        for (var i = 0; i < TSelf.Count; i++) lanes[i] = KernelMath.Erf(TSelf.GetLane(value, i));
        return TSelf.Load(lanes);
    }

    /// <summary>The exact GELU, x * Phi(x), per lane in double precision: not vectorised.</summary>
    static virtual unsafe TSelf Gelu(TSelf value)
    {
        var lanes = stackalloc float[TSelf.Count];
        for (var i = 0; i < TSelf.Count; i++) lanes[i] = KernelMath.Gelu(TSelf.GetLane(value, i));
        return TSelf.Load(lanes);
    }
}

/// <summary>The exp of the widths with a table (V512, V256).</summary>
public static class SimdExp
{
    /// <summary>
    /// exp(x) from a table of K powers 2^(k/K) in one register (<see cref="ISimdFloat{TSelf}.ExpTableLookup"/>): x = (n/K) ln2 + t with
    /// |t| &lt;= ln2/(2K), and exp(x) = 2^floor(n/K) * 2^((n mod K)/K) * exp(t). n/K comes from one fused multiply-add
    /// with <paramref name="bias"/> = 1.5 * 2^23 / K, whose last place is 1/K, so the biased value's low bits are the
    /// table index; ln2 in two parts, the first with 9 significant bits so that (n/K) ln2hi is exact; exp(t) by a
    /// degree-3 polynomial with coefficients <paramref name="c2"/> and <paramref name="c3"/> of t^2 and t^3 (minimax for
    /// the relative error, fitted by Lawson's iteration). Eight operations on the multiply-add pipes where the
    /// Cody-Waite form takes ten; softmax is bound by them. Clamped as <see cref="ISimdFloat{TSelf}.Exp"/>; ScaleB keeps subnormal results.
    /// </summary>
    /// <param name="value">x.</param>
    /// <param name="bias">1.5 * 2^23 / K.</param>
    /// <param name="c2">The coefficient of t^2.</param>
    /// <param name="c3">The coefficient of t^3.</param>
    /// <param name="nonPositive">True for an x the compiler proved at most 0 (<see cref="ISimdFloat{TSelf}.ExpNonPositive"/>):
    /// clamped below only. A constant at every call, so the JIT keeps one of the two clamps and the kernels inline one
    /// method whichever exp they call (PerfSuiteTests checks that no vector operation of a kernel is left a call).</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TSelf ByTable<TSelf>(TSelf value, float bias, float c2, float c3, bool nonPositive = false) where TSelf : unmanaged, ISimdFloat<TSelf>
    {
        var x = nonPositive ? TSelf.AtLeast(value, -104f) : TSelf.Clamp(value, -104f, 89f);
        var biased = TSelf.MultiplyAdd(x, TSelf.Create(1.44269504f), TSelf.Create(bias));
        var n = biased - TSelf.Create(bias); // n/K, exact
        var t = TSelf.MultiplyAdd(n, TSelf.Create(-0.693359375f), x);
        t = TSelf.MultiplyAdd(n, TSelf.Create(2.12194440e-4f), t); // ln2 - 0.693359375
        var table = TSelf.ExpTableLookup(biased);
        // t + c2 t^2 + c3 t^3 as (c3 t + c2) t^2 + t: t^2 runs beside the first multiply-add, so the chain from t to
        // the result is three operations deep instead of four (the exp sweep of softmax and attention is bound by how
        // many vectors can be in flight, not by the pipes: 6.2 cycles a vector instead of 6.5 on a 4096-float row).
        var p = TSelf.MultiplyAdd(TSelf.Create(c3), t, TSelf.Create(c2));
        var q = TSelf.MultiplyAdd(p, t * t, t);
        return TSelf.ScaleB(TSelf.MultiplyAdd(table, q, table), n);
    }

    /// <summary>
    /// 2^x (<see cref="ISimdFloat{TSelf}.Exp2"/>) by the table of <see cref="ByTable"/>: <c>x + bias</c> rounds x to a
    /// multiple of 1/K and holds it in its low bits, so n/K comes from an add and <c>t = x - n/K</c>, |t| &lt;= 1/(2K),
    /// is exact; 2^t - 1 is <see cref="ByTable"/>'s polynomial at r = t ln2, with ln2 folded into its coefficients:
    /// <c>t (ln2 + t (c2 ln2^2 + t c3 ln2^3))</c>. Five operations on the multiply-add pipes where base e takes eight.
    /// Clamped to [-150, 129] (below only for <paramref name="nonPositive"/>), the range of base e's [-104, 89].
    /// </summary>
    /// <param name="value">x.</param>
    /// <param name="bias">1.5 * 2^23 / K.</param>
    /// <param name="c2">The coefficient of t^2 (base e's c2 times ln2^2).</param>
    /// <param name="c3">The coefficient of t^3 (base e's c3 times ln2^3).</param>
    /// <param name="nonPositive">As for <see cref="ByTable"/>.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TSelf ByTable2<TSelf>(TSelf value, float bias, float c2, float c3, bool nonPositive = false) where TSelf : unmanaged, ISimdFloat<TSelf>
    {
        var x = nonPositive ? TSelf.AtLeast(value, -150f) : TSelf.Clamp(value, -150f, 129f);
        var biased = x + TSelf.Create(bias);
        var n = biased - TSelf.Create(bias); // n/K, exact
        var t = x - n; // exact
        var table = TSelf.ExpTableLookup(biased);
        var p = TSelf.MultiplyAdd(TSelf.Create(c3), t, TSelf.Create(c2));
        p = TSelf.MultiplyAdd(p, t, TSelf.Create(0.693147182f));
        return TSelf.ScaleB(TSelf.MultiplyAdd(table, p * t, table), n);
    }
}
