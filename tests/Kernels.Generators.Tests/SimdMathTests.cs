using System.Runtime.Intrinsics;
using Kernels.Einsum.Interpretation;
using Kernels.Runtime;
using Xunit.Abstractions;

namespace Kernels.Generators.Tests;

/// <summary>
/// The error of each vectorised function against the double-precision definition the interpreter
/// uses, over a dense sweep of its useful range, in ulps of the float result (with an absolute floor
/// of 1e-38 so that results near 0 are measured relative to float's smallest normal). The bounds
/// asserted here are the ones docs/simd-math.md states.
/// </summary>
public class SimdMathTests(ITestOutputHelper output)
{
    private static double Ulps(float actual, double expected)
    {
        if (double.IsNaN(expected)) return float.IsNaN(actual) ? 0 : double.PositiveInfinity;
        if (double.IsInfinity(expected) || Math.Abs(expected) > float.MaxValue) return (double)actual == expected || float.IsInfinity(actual) && Math.Sign(actual) == Math.Sign(expected) ? 0 : double.PositiveInfinity;
        var e = (float)expected;
        var ulp = Math.Max(MathF.BitIncrement(MathF.Abs(e)) - MathF.Abs(e), 1.2e-38);
        return Math.Abs(actual - expected) / ulp;
    }

    private static unsafe double MaxUlps<TV>(Func<TV, TV> f, Func<double, double> reference, float from, float to, int points) where TV : unmanaged, ISimdFloat<TV>
    {
        var worst = 0.0;
        var input = new float[TV.Count];
        var result = new float[TV.Count];
        for (var i = 0; i < points; i += TV.Count)
        {
            for (var l = 0; l < TV.Count; l++) input[l] = from + (to - from) * (float)((double)(i + l) / points);
            fixed (float* pi = input, pr = result) TV.Store(pr, f(TV.Load(pi)));
            for (var l = 0; l < TV.Count; l++) worst = Math.Max(worst, Ulps(result[l], reference(input[l])));
        }
        return worst;
    }

    public static TheoryData<string, float, float, double> Functions => new()
    {
        { "exp", -87f, 88f, 2 },
        { "exp (subnormal results)", -103.9f, -87f, 2 },
        { "exp2", -126f, 127.9f, 2 },
        { "exp2 (subnormal results)", -149.9f, -126f, 2 },
        { "log", 1e-30f, 1e30f, 2 },
        { "sigmoid", -80f, 80f, 4 },
        { "silu", -80f, 80f, 4 },
        { "softplus", -80f, 80f, 4 },
        { "tanh", -10f, 10f, 2 },
        { "tanh (near 0)", -0.01f, 0.01f, 2 },
        { "expm1 (near 0)", -0.01f, 0.01f, 6 },
        { "log1p (near 0)", -0.01f, 0.01f, 6 },
        { "rsqrt", 1e-20f, 1e20f, 2 },
        { "gelu", -10f, 10f, 1 },
        { "gelu_tanh", -4f, 10f, 20 },
        { "gelu_tanh (negative tail)", -10f, -4f, 256 },
        { "erf", -6f, 6f, 1 },
    };

    [Theory]
    [MemberData(nameof(Functions))]
    public void Vector_functions_stay_within_the_documented_error(string name, float from, float to, double bound)
    {
        var (f, reference) = Pick<V256>(name);
        var worst256 = MaxUlps(f, reference, from, to, 1 << 18);
        var worst = worst256;
        // V512 runs on every machine: in hardware with AVX-512, emulated (fewer points) without it.
        var (f512, _) = Pick<V512>(name);
        worst = Math.Max(worst, MaxUlps(f512, reference, from, to, Vector512.IsHardwareAccelerated ? 1 << 18 : 1 << 15));
        var (f128, _) = Pick<V128>(name);
        worst = Math.Max(worst, MaxUlps(f128, reference, from, to, 1 << 16));
        output.WriteLine($"{name}: max error {worst:F2} ulp over [{from}, {to}]");
        Assert.True(worst <= bound, $"{name}: {worst:F2} ulp > {bound}");
    }

    private static (Func<TV, TV>, Func<double, double>) Pick<TV>(string name) where TV : unmanaged, ISimdFloat<TV> => name switch
    {
        "exp" or "exp (subnormal results)" => (TV.Exp, Math.Exp),
        "exp2" or "exp2 (subnormal results)" => (TV.Exp2, ScalarMath.Exp2),
        "log" => (TV.Log, Math.Log),
        "sigmoid" => (TV.Sigmoid, ScalarMath.Sigmoid),
        "silu" => (TV.Silu, ScalarMath.Silu),
        "softplus" => (TV.Softplus, ScalarMath.Softplus),
        "rsqrt" => (TV.Rsqrt, ScalarMath.Rsqrt),
        "gelu" => (TV.Gelu, ScalarMath.Gelu),
        "gelu_tanh" or "gelu_tanh (negative tail)" => (TV.GeluTanh, ScalarMath.GeluTanh),
        "erf" => (TV.Erf, ScalarMath.Erf),
        "expm1 (near 0)" => (TV.Expm1, x => Math.Abs(x) < 1e-5 ? x + x * x / 2 + x * x * x / 6 : Math.Exp(x) - 1),
        "log1p (near 0)" => (TV.Log1P, ScalarMath.Log1P),
        _ => (TV.Tanh, Math.Tanh),
    };

    [Fact]
    public void Exp_of_special_values_in_every_width()
    {
        foreach (var exp in new Func<float, float>[] { Apply<V512>, Apply<V256>, Apply<V128>, Apply<F32> })
        {
            Assert.True(float.IsNaN(exp(float.NaN)));
            Assert.Equal(float.PositiveInfinity, exp(float.PositiveInfinity));
            Assert.Equal(float.PositiveInfinity, exp(88.73f));
            Assert.Equal(float.PositiveInfinity, exp(1e30f));
            Assert.Equal(0f, exp(float.NegativeInfinity));
            Assert.Equal(0f, exp(-1e30f));
            Assert.Equal(0f, exp(-104f));
            Assert.Equal(1f, exp(0f));
            Assert.Equal((float)Math.Exp(88.72f), exp(88.72f));
            Assert.Equal((float)Math.Exp(-100f), exp(-100f)); // subnormal
        }

        static float Apply<TV>(float x) where TV : unmanaged, ISimdFloat<TV> => TV.GetLane(TV.Exp(TV.Create(x)), 0);
    }

    /// <summary>
    /// The exp of an argument the compiler proved at most 0 (clamped below only) is Exp bit for bit on every such
    /// argument, in every width, and so is Exp2NonPositive Exp2: 20000 random arguments down to -120 (-170 for base 2;
    /// subnormal and zero results included), the arguments at the clamps, -0, -inf and NaN; whole vectors of distinct
    /// lanes, so that a lane mix-up shows.
    /// </summary>
    [Fact]
    public void Exp_of_a_non_positive_argument_is_exp_in_every_width()
    {
        var random = new Random(17);
        var specials = new[] { 0f, -0f, -87.3f, -103.99f, -104f, -104.01f, -126f, -149.99f, -150f, -150.01f, -1e30f, float.NegativeInfinity, float.NaN, -float.Epsilon };
        var xs = Enumerable.Range(0, 20000).Select(i => -(float)(random.NextDouble() * (i % 2 == 0 ? 120 : 1))).Concat(specials).ToArray();
        var xs2 = Enumerable.Range(0, 20000).Select(i => -(float)(random.NextDouble() * (i % 2 == 0 ? 170 : 1))).Concat(specials).ToArray();
        Check<V512>(xs, V512.Exp, V512.ExpNonPositive);
        Check<V256>(xs, V256.Exp, V256.ExpNonPositive);
        // The AVX2 form (integer scaling) runs on AVX-512 machines too, where ExpNonPositive takes vscalefps.
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) Check<V256>(xs, V256.Exp, V256.ExpNonPositiveAvx2);
        Check<V128>(xs, Exp<V128>, Bounded<V128>);
        Check<F32>(xs, Exp<F32>, Bounded<F32>);

        Check<V512>(xs2, V512.Exp2, V512.Exp2NonPositive);
        Check<V256>(xs2, V256.Exp2, V256.Exp2NonPositive);
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) Check<V256>(xs2, V256.Exp2, V256.Exp2NonPositiveAvx2);
        Check<V128>(xs2, Exp2<V128>, Bounded2<V128>);
        Check<F32>(xs2, Exp2<F32>, Bounded2<F32>);

        static TV Exp<TV>(TV x) where TV : unmanaged, ISimdFloat<TV> => TV.Exp(x);
        static TV Bounded<TV>(TV x) where TV : unmanaged, ISimdFloat<TV> => TV.ExpNonPositive(x);
        static TV Exp2<TV>(TV x) where TV : unmanaged, ISimdFloat<TV> => TV.Exp2(x);
        static TV Bounded2<TV>(TV x) where TV : unmanaged, ISimdFloat<TV> => TV.Exp2NonPositive(x);

        static unsafe void Check<TV>(float[] xs, Func<TV, TV> exp, Func<TV, TV> expNonPositive) where TV : unmanaged, ISimdFloat<TV>
        {
            var lanes = new float[TV.Count];
            var expected = new float[TV.Count];
            var bounded = new float[TV.Count];
            for (var i = 0; i < xs.Length; i += TV.Count)
            {
                for (var l = 0; l < TV.Count; l++) lanes[l] = xs[(i + l) % xs.Length];
                TV x;
                fixed (float* p = lanes) x = TV.Load(p);
                for (var l = 0; l < TV.Count; l++)
                {
                    expected[l] = TV.GetLane(exp(x), l);
                    bounded[l] = TV.GetLane(expNonPositive(x), l);
                }
                for (var l = 0; l < TV.Count; l++)
                    Assert.True(BitConverter.SingleToInt32Bits(expected[l]) == BitConverter.SingleToInt32Bits(bounded[l]) || (float.IsNaN(expected[l]) && float.IsNaN(bounded[l])),
                        $"{typeof(TV).Name}: {exp.Method.Name}({lanes[l]:R}) = {expected[l]:R}, the non-positive form gave {bounded[l]:R}");
            }
        }
    }

    /// <summary>2^x's special values in every width: NaN, the infinities, the ends of the range, exact powers of two
    /// (subnormal ones included) and 2^0 = 1.</summary>
    [Fact]
    public void Exp2_of_special_values_in_every_width()
    {
        foreach (var exp2 in new Func<float, float>[] { Apply<V512>, Apply<V256>, Apply<V128>, Apply<F32> })
        {
            Assert.True(float.IsNaN(exp2(float.NaN)));
            Assert.Equal(float.PositiveInfinity, exp2(float.PositiveInfinity));
            Assert.Equal(float.PositiveInfinity, exp2(128f));
            Assert.Equal(float.PositiveInfinity, exp2(1e30f));
            Assert.Equal(0f, exp2(float.NegativeInfinity));
            Assert.Equal(0f, exp2(-1e30f));
            Assert.Equal(0f, exp2(-150f));
            Assert.Equal(1f, exp2(0f));
            Assert.Equal(0.5f, exp2(-1f));
            Assert.Equal(MathF.ScaleB(1f, 127), exp2(127f));
            Assert.Equal(MathF.ScaleB(1f, -149), exp2(-149f)); // the smallest subnormal
            Assert.Equal(MathF.ScaleB(1f, -130), exp2(-130f));
        }

        static float Apply<TV>(float x) where TV : unmanaged, ISimdFloat<TV> => TV.GetLane(TV.Exp2(TV.Create(x)), 0);
    }

    /// <summary>Vector tanh's special values in every width (F32 is the scalar Math.Tanh): NaN stays NaN, the infinities
    /// and large arguments give +-1, the sign of zero is kept, and the two formulas meet at 0.55 within the bound.</summary>
    [Fact]
    public void Tanh_of_special_values_in_every_width()
    {
        foreach (var tanh in new Func<float, float>[] { Apply<V512>, Apply<V256>, Apply<V128>, Apply<F32> })
        {
            Assert.True(float.IsNaN(tanh(float.NaN)));
            Assert.Equal(1f, tanh(float.PositiveInfinity));
            Assert.Equal(-1f, tanh(float.NegativeInfinity));
            Assert.Equal(1f, tanh(1e30f));
            Assert.Equal(-1f, tanh(-20f));
            Assert.True(float.IsNegative(tanh(-0f)) && tanh(-0f) == 0);
            foreach (var x in new[] { 0.55f, MathF.BitIncrement(0.55f), -0.55f, MathF.BitDecrement(-0.55f) })
                Assert.True(Math.Abs(tanh(x) - Math.Tanh(x)) <= 2 * (MathF.BitIncrement(MathF.Abs(MathF.Tanh(x))) - MathF.Abs(MathF.Tanh(x))), $"tanh({x:R}) = {tanh(x):R}");
        }

        static float Apply<TV>(float x) where TV : unmanaged, ISimdFloat<TV> => TV.GetLane(TV.Tanh(TV.Create(x)), 0);
    }

    /// <summary>ScaleB, portable (machines without AVX-512) and native, in every width, against MathF.ScaleB: normal, subnormal
    /// and overflowing results, and the floor of a fractional exponent (the table exp passes n/16), as vscalefps.</summary>
    [Fact]
    public void Portable_scaleb_is_exact_in_every_width()
    {
        var xs = new[] { 1f, 0.7f, 1.4142135f, -1.9999999f, 3.0000002f, 0f, float.NaN, float.PositiveInfinity };
        for (var n = -252; n <= 254; n++)
        {
            foreach (var fraction in new[] { 0f, 0.0625f, 0.5f, 0.9375f })
            {
                foreach (var x in xs)
                {
                    var expected = MathF.ScaleB(x, n);
                    var e = n + fraction;
                    Assert.Equal(expected, V512.GetLane(V512.ScaleBPortable(V512.Create(x), V512.Create(e)), 3));
                    Assert.Equal(expected, V256.GetLane(V256.ScaleBPortable(V256.Create(x), V256.Create(e)), 5));
                    Assert.Equal(expected, V128.GetLane(V128.ScaleBPortable(V128.Create(x), V128.Create(e)), 1));
                    Assert.Equal(expected, V512.GetLane(V512.ScaleB(V512.Create(x), V512.Create(e)), 3));
                    Assert.Equal(expected, V256.GetLane(V256.ScaleB(V256.Create(x), V256.Create(e)), 5));
                    Assert.Equal(expected, V128.GetLane(V128.ScaleB(V128.Create(x), V128.Create(e)), 1));
                    Assert.Equal(expected, F32.ScaleB(F32.Create(x), F32.Create(e)).Value);
                }
            }
        }
    }

    /// <summary>The exp tables hold 2^(k/K) rounded once, and the lookup, native (vpermps) and portable (a shuffle), takes the
    /// index from the low bits of a biased float as the table exp forms it, for every index and for negative n.</summary>
    [Fact]
    public void Exp_table_lookup_takes_the_low_bits_in_every_width()
    {
        for (var n = -2400; n <= 2100; n++)
        {
            var biased16 = 786432f + n / 16f;
            var biased8 = 1572864f + n / 8f;
            var expected16 = (float)Math.Pow(2, (((n % 16) + 16) % 16) / 16.0);
            var expected8 = (float)Math.Pow(2, (((n % 8) + 8) % 8) / 8.0);
            Assert.Equal(expected16, V512.GetLane(V512.ExpTableLookup(V512.Create(biased16)), 7));
            Assert.Equal(expected16, V512.GetLane(V512.ExpTableLookupPortable(V512.Create(biased16)), 7));
            Assert.Equal(expected8, V256.GetLane(V256.ExpTableLookup(V256.Create(biased8)), 3));
            Assert.Equal(expected8, V256.GetLane(V256.ExpTableLookupPortable(V256.Create(biased8)), 3));
        }
    }

    [Fact]
    public void Pow_follows_math_pow_in_every_width()
    {
        var cases = new (float X, float Y)[] { (2, 10), (-2, 3), (-2, 4), (-2, 0.5f), (0, 0), (float.NaN, 0), (1, float.NaN), (0, -1), (0, 2), (9, 0.5f), (-0.5f, -3), (1e-3f, 2.5f) };
        foreach (var pow in new Func<float, float, float>[] { Apply<V512>, Apply<V256>, Apply<V128>, Apply<F32> })
            foreach (var (x, y) in cases)
            {
                var expected = (float)Math.Pow(x, y);
                var actual = pow(x, y);
                Assert.True(float.IsNaN(expected) ? float.IsNaN(actual) : Math.Abs(actual - expected) <= 4e-7 * Math.Abs(expected) || actual == expected, $"pow({x}, {y}) = {actual}, Math.Pow gives {expected}");
            }

        static float Apply<TV>(float x, float y) where TV : unmanaged, ISimdFloat<TV> => TV.GetLane(TV.Pow(TV.Create(x), TV.Create(y)), 0);
    }

    [Fact]
    public void Clamp_keeps_nan_in_every_width()
    {
        foreach (var clamp in new Func<float, float>[] { Apply<V512>, Apply<V256>, Apply<V128>, Apply<F32> })
        {
            Assert.True(float.IsNaN(clamp(float.NaN)));
            Assert.Equal(-1f, clamp(float.NegativeInfinity));
            Assert.Equal(2f, clamp(float.PositiveInfinity));
            Assert.Equal(0.5f, clamp(0.5f));
        }

        static float Apply<TV>(float x) where TV : unmanaged, ISimdFloat<TV> => TV.GetLane(TV.Clamp(TV.Create(x), -1f, 2f), 0);
    }

    [Fact]
    public void Max_and_min_propagate_nan_in_every_width()
    {
        Assert.True(float.IsNaN(V512.MaxAcross(V512.Max(V512.Create(float.NaN), V512.Create(1)))));
        Assert.True(float.IsNaN(V256.MaxAcross(V256.Max(V256.Create(1), V256.Create(float.NaN)))));
        Assert.True(float.IsNaN(V128.MinAcross(V128.Min(V128.Create(float.NaN), V128.Create(1)))));
        Assert.True(float.IsNaN(F32.Max(F32.Create(float.NaN), F32.Create(1)).Value));
        Assert.Equal(0f, DivideOrZero<V256>(3, 0));
        Assert.Equal(1.5f, DivideOrZero<V512>(3, 2));
        Assert.Equal(0f, DivideOrZero<F32>(3, 0));
    }

    /// <summary>
    /// Max and min folded as the emitted reductions fold them (MaxUnlessNaN per vector, TakeNaN into a flag, the flag
    /// taken into the result) against MathF.Max and MathF.Min, bit for bit: NaN anywhere, signed zeros, infinities.
    /// </summary>
    [Fact]
    public void Extremum_reductions_keep_nan_and_order_signed_zeros_in_every_width()
    {
        var random = new Random(5);
        float[] special = { float.NaN, 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.Epsilon };
        float[] zeros = { 0f, -0f, -0f, -0f, -1f };
        for (var trial = 0; trial < 400; trial++)
        {
            var data = new float[16 * (1 + trial % 4)];
            for (var i = 0; i < data.Length; i++)
                data[i] = trial % 5 == 4
                    ? (trial % 10 == 4 ? 1 : -1) * zeros[random.Next(zeros.Length)] // the maximum (minimum) is a zero: its sign matters
                    : random.Next(4) == 0 ? special[random.Next(trial % 2 == 0 ? 1 : 0, special.Length)] : (float)(random.NextDouble() * 4 - 2);
            float max = float.NegativeInfinity, min = float.PositiveInfinity;
            foreach (var x in data) { max = MathF.Max(max, x); min = MathF.Min(min, x); }
            foreach (var fold in new Func<float[], bool, float>[] { Fold<V512>, Fold<V256>, Fold<V128>, Fold<F32>, FoldAvx })
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(max), BitConverter.SingleToInt32Bits(Canonical(fold(data, true))));
                Assert.Equal(BitConverter.SingleToInt32Bits(min), BitConverter.SingleToInt32Bits(Canonical(fold(data, false))));
            }
        }

        static float Canonical(float x) => float.IsNaN(x) ? float.NaN : x;

        static float Fold<TV>(float[] data, bool isMax) where TV : unmanaged, ISimdFloat<TV> =>
            FoldWith<TV>(data, isMax, TV.MaxUnlessNaN, TV.MinUnlessNaN, TV.TakeNaN);

        // V256's AVX forms, which an AVX-512 machine does not take: run here wherever AVX is, so both are tested anywhere.
        static float FoldAvx(float[] data, bool isMax) => System.Runtime.Intrinsics.X86.Avx.IsSupported
            ? FoldWith<V256>(data, isMax, V256.MaxUnlessNaNAvx, V256.MinUnlessNaNAvx, V256.TakeNaNAvx)
            : Fold<V256>(data, isMax);

        static float FoldWith<TV>(float[] data, bool isMax, Func<TV, TV, TV> max, Func<TV, TV, TV> min, Func<TV, TV, TV> takeNaN)
            where TV : unmanaged, ISimdFloat<TV>
        {
            var acc = TV.Create(isMax ? float.NegativeInfinity : float.PositiveInfinity);
            var flag = TV.Create(0f);
            var lanes = new float[TV.Count];
            for (var i = 0; i < data.Length; i += TV.Count)
            {
                for (var l = 0; l < TV.Count; l++) lanes[l] = data[i + l];
                var x = Load<TV>(lanes);
                acc = isMax ? max(acc, x) : min(acc, x);
                flag = takeNaN(flag, x);
            }
            var whole = takeNaN(acc, flag);
            return isMax ? TV.MaxAcross(whole) : TV.MinAcross(whole);
        }

        static unsafe TV Load<TV>(float[] lanes) where TV : unmanaged, ISimdFloat<TV>
        {
            fixed (float* p = lanes) return TV.Load(p);
        }
    }

    private static float DivideOrZero<TV>(float x, float y) where TV : unmanaged, ISimdFloat<TV> => TV.GetLane(TV.DivideOrZero(TV.Create(x), TV.Create(y)), 0);
}
