using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kernels.Runtime;

// The four register widths. Each member is one instruction or a library intrinsic; the composite
// functions live once in ISimdFloat. Max and Min are the IEEE 754-2019 maximum and minimum, which
// propagate NaN as Math.Max does (System.Runtime.Intrinsics, .NET 9 and later).

/// <summary>16 floats in an AVX-512 register.</summary>
public readonly struct V512(Vector512<float> value) : ISimdFloat<V512>
{
    public readonly Vector512<float> Value = value;

    public static int Count => Vector512<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe V512 Load(float* source) => new(Vector512.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe V512 Load(int* source) => new(Vector512.ConvertToSingle(Vector512.Load(source)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe void Store(float* destination, V512 value) => value.Value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Create(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Affine(float start, float step) => new(Vector512.Create(start) + Vector512.Create(step) * Compat512.Indices);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator +(V512 l, V512 r) => new(l.Value + r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator -(V512 l, V512 r) => new(l.Value - r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator *(V512 l, V512 r) => new(l.Value * r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator /(V512 l, V512 r) => new(l.Value / r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 operator -(V512 x) => new(-x.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Max(V512 l, V512 r) => new(Compat512.Max(l.Value, r.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Min(V512 l, V512 r) => new(Compat512.Min(l.Value, r.Value));
    // vrangeps: imm 0b0101 the maximum, 0b0100 the minimum, the sign from the comparison (so -0 < +0); a NaN operand
    // gives the other operand. vfixupimmps with table 1: the second operand where it is a NaN, the first elsewhere.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 MaxUnlessNaN(V512 l, V512 r) => System.Runtime.Intrinsics.X86.Avx512DQ.IsSupported ? new(System.Runtime.Intrinsics.X86.Avx512DQ.Range(l.Value, r.Value, 0b0101)) : Max(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 MinUnlessNaN(V512 l, V512 r) => System.Runtime.Intrinsics.X86.Avx512DQ.IsSupported ? new(System.Runtime.Intrinsics.X86.Avx512DQ.Range(l.Value, r.Value, 0b0100)) : Min(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 TakeNaN(V512 flag, V512 value) => System.Runtime.Intrinsics.X86.Avx512DQ.IsSupported ? new(System.Runtime.Intrinsics.X86.Avx512F.Fixup(flag.Value, value.Value, Vector512.Create(1), 0)) : flag;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Abs(V512 x) => new(Vector512.Abs(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Sqrt(V512 x) => new(Vector512.Sqrt(x.Value));
    // x86 minps/maxps return their second operand when either is NaN, so the bound goes first; Arm's propagate NaN.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Clamp(V512 x, float low, float high) => new(Compat512.MaxNative(Vector512.Create(low), Compat512.MinNative(Vector512.Create(high), x.Value)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 AtLeast(V512 x, float low) => new(Compat512.MaxNative(Vector512.Create(low), x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 MultiplyAdd(V512 a, V512 b, V512 c) => new(Compat512.FusedMultiplyAdd(a.Value, b.Value, c.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Round(V512 x) => new(Compat512.Round(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 ScaleB(V512 x, V512 n)
    {
        // AVX-512 has the whole operation as one instruction (vscalefps), subnormals and overflow included.
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return new(System.Runtime.Intrinsics.X86.Avx512F.Scale(x.Value, n.Value));
        return ScaleBPortable(x, n);
    }

    /// <summary><see cref="ScaleB"/> without AVX-512: 2^n as two normal powers of two built in the exponent bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 ScaleBPortable(V512 x, V512 n)
    {
        var whole = Vector512.ConvertToInt32(Vector512.Floor(n.Value));
        var half = Vector512.ShiftRightArithmetic(whole, 1);
        var first = Vector512.ShiftLeft(half + Vector512.Create(127), 23).AsSingle();
        var second = Vector512.ShiftLeft(whole - half + Vector512.Create(127), 23).AsSingle();
        return new(x.Value * first * second);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Log(V512 x) => new(Compat512.Log(x.Value));
    /// <summary>exp by a table of 16 powers of two (SimdExp.ByTable; minimax error of the polynomial 1.6e-9).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Exp(V512 value) => SimdExp.ByTable(value, 786432f, 0.5000162f, 0.16666074f);

    /// <summary><see cref="Exp"/> of an argument at most 0: clamped below only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 ExpNonPositive(V512 value) => SimdExp.ByTable(value, 786432f, 0.5000162f, 0.16666074f, nonPositive: true);

    /// <summary>2^x by the table (<see cref="SimdExp.ByTable2"/>), with <see cref="Exp"/>'s polynomial.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Exp2(V512 value) => SimdExp.ByTable2(value, 786432f, 0.2402343f, 0.0555021353f);

    /// <summary><see cref="Exp2"/> clamped only below.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Exp2NonPositive(V512 value) => SimdExp.ByTable2(value, 786432f, 0.2402343f, 0.0555021353f, nonPositive: true);

    /// <summary>Per lane, 2^(k/16) for k the four low bits of <paramref name="biased"/>: one vpermps with AVX-512, a shuffle elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 ExpTableLookup(V512 biased)
    {
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return new(System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32(Vector512.Create(ExpTable), biased.Value.AsInt32()));
        return ExpTableLookupPortable(biased);
    }

    /// <summary><see cref="ExpTableLookup"/> without AVX-512.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 ExpTableLookupPortable(V512 biased) => new(Vector512.Shuffle(Vector512.Create(ExpTable), biased.Value.AsInt32() & Vector512.Create(15)));

    /// <summary>2^(k/16), k = 0..15, each rounded to float once; data in the assembly rather than a static field, so V512 has
    /// no static constructor and a kernel no class-initialisation check.</summary>
    internal static System.ReadOnlySpan<float> ExpTable =>
    [
        1f, 1.0442737f, 1.0905077f, 1.1387886f, 1.1892071f, 1.2418578f, 1.2968396f, 1.3542556f,
        1.4142135f, 1.4768262f, 1.5422108f, 1.6104903f, 1.6817929f, 1.7562522f, 1.8340081f, 1.9152066f,
    ];

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 EqualMask(V512 l, V512 r) => new(Vector512.Equals(l.Value, r.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Select(V512 m, V512 t, V512 f) => new(Vector512.ConditionalSelect(m.Value, t.Value, f.Value));
    /// <summary>Halves added down to one lane (Vector512.Sum measured at about 10 ns here: 40% of the selective scan's time).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(V512 x) => V256.SumAcross(new V256(x.Value.GetLower() + x.Value.GetUpper()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(V512 x) => V256.MaxAcross(new V256(Compat256.Max(x.Value.GetLower(), x.Value.GetUpper())));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MinAcross(V512 x) => V256.MinAcross(new V256(Compat256.Min(x.Value.GetLower(), x.Value.GetUpper())));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ProductAcross(V512 x) => V256.ProductAcross(new V256(x.Value.GetLower() * x.Value.GetUpper()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GetLane(V512 x, int lane) => x.Value.GetElement(lane);
}

/// <summary>8 floats in an AVX register.</summary>
public readonly struct V256(Vector256<float> value) : ISimdFloat<V256>
{
    public readonly Vector256<float> Value = value;

    public static int Count => Vector256<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe V256 Load(float* source) => new(Vector256.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe V256 Load(int* source) => new(Vector256.ConvertToSingle(Vector256.Load(source)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe void Store(float* destination, V256 value) => value.Value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Create(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Affine(float start, float step) => new(Vector256.Create(start) + Vector256.Create(step) * Compat256.Indices);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator +(V256 l, V256 r) => new(l.Value + r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator -(V256 l, V256 r) => new(l.Value - r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator *(V256 l, V256 r) => new(l.Value * r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator /(V256 l, V256 r) => new(l.Value / r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 operator -(V256 x) => new(-x.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Max(V256 l, V256 r) => new(Compat256.Max(l.Value, r.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Min(V256 l, V256 r) => new(Compat256.Min(l.Value, r.Value));
    // As V512's, with AVX-512VL; with AVX alone, the forms below.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 MaxUnlessNaN(V256 l, V256 r) => System.Runtime.Intrinsics.X86.Avx512DQ.VL.IsSupported ? new(System.Runtime.Intrinsics.X86.Avx512DQ.VL.Range(l.Value, r.Value, 0b0101)) : System.Runtime.Intrinsics.X86.Avx.IsSupported ? MaxUnlessNaNAvx(l, r) : Max(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 MinUnlessNaN(V256 l, V256 r) => System.Runtime.Intrinsics.X86.Avx512DQ.VL.IsSupported ? new(System.Runtime.Intrinsics.X86.Avx512DQ.VL.Range(l.Value, r.Value, 0b0100)) : System.Runtime.Intrinsics.X86.Avx.IsSupported ? MinUnlessNaNAvx(l, r) : Min(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 TakeNaN(V256 flag, V256 value) => System.Runtime.Intrinsics.X86.Avx512DQ.VL.IsSupported ? new(System.Runtime.Intrinsics.X86.Avx512F.VL.Fixup(flag.Value, value.Value, Vector256.Create(1), 0)) : System.Runtime.Intrinsics.X86.Avx.IsSupported ? TakeNaNAvx(flag, value) : flag;

    /// <summary>
    /// <see cref="MaxUnlessNaN"/> with AVX: vmaxps both ways round, ANDed. Where the operands differ both give the larger;
    /// where they are zeros of two signs, one gives each and the AND is +0; where one is NaN the AND is some value, which
    /// the fold's <see cref="TakeNaNAvx"/> replaces with the NaN. Three operations where the IEEE maximum takes nine on
    /// AVX2 (a row max of softmax or attention, 32 rows of 4096 on one Zen 3 core: 12.6-16.1 -> 9.3-11.3 us).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 MaxUnlessNaNAvx(V256 l, V256 r) =>
        new(System.Runtime.Intrinsics.X86.Avx.And(System.Runtime.Intrinsics.X86.Avx.Max(l.Value, r.Value), System.Runtime.Intrinsics.X86.Avx.Max(r.Value, l.Value)));

    /// <summary><see cref="MinUnlessNaN"/> with AVX: vminps both ways round, ORed (-0 where the zeros differ in sign).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 MinUnlessNaNAvx(V256 l, V256 r) =>
        new(System.Runtime.Intrinsics.X86.Avx.Or(System.Runtime.Intrinsics.X86.Avx.Min(l.Value, r.Value), System.Runtime.Intrinsics.X86.Avx.Min(r.Value, l.Value)));

    /// <summary><see cref="TakeNaN"/> with AVX: <paramref name="value"/> where it is unordered with itself, by vblendvps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 TakeNaNAvx(V256 flag, V256 value) =>
        new(System.Runtime.Intrinsics.X86.Avx.BlendVariable(flag.Value, value.Value, System.Runtime.Intrinsics.X86.Avx.CompareUnordered(value.Value, value.Value)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Abs(V256 x) => new(Vector256.Abs(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Sqrt(V256 x) => new(Vector256.Sqrt(x.Value));
    // x86 minps/maxps return their second operand when either is NaN, so the bound goes first; Arm's propagate NaN.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Clamp(V256 x, float low, float high) => new(Compat256.MaxNative(Vector256.Create(low), Compat256.MinNative(Vector256.Create(high), x.Value)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 AtLeast(V256 x, float low) => new(Compat256.MaxNative(Vector256.Create(low), x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 MultiplyAdd(V256 a, V256 b, V256 c) => new(Compat256.FusedMultiplyAdd(a.Value, b.Value, c.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Round(V256 x) => new(Compat256.Round(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ScaleB(V256 x, V256 n)
    {
        // AVX-512 has the whole operation as one instruction (vscalefps), subnormals and overflow included.
        if (System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported) return new(System.Runtime.Intrinsics.X86.Avx512F.VL.Scale(x.Value, n.Value));
        return ScaleBPortable(x, n);
    }

    /// <summary><see cref="ScaleB"/> without AVX-512: 2^n as two normal powers of two built in the exponent bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ScaleBPortable(V256 x, V256 n)
    {
        var whole = Vector256.ConvertToInt32(Vector256.Floor(n.Value));
        var half = Vector256.ShiftRightArithmetic(whole, 1);
        var first = Vector256.ShiftLeft(half + Vector256.Create(127), 23).AsSingle();
        var second = Vector256.ShiftLeft(whole - half + Vector256.Create(127), 23).AsSingle();
        return new(x.Value * first * second);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Log(V256 x) => new(Compat256.Log(x.Value));
    /// <summary>exp by a table of 8 powers of two (SimdExp.ByTable; minimax error of the polynomial 2.5e-8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Exp(V256 value) => SimdExp.ByTable(value, 1572864f, 0.5000648f, 0.16664298f);

    /// <summary><see cref="Exp"/> of an argument at most 0: clamped below only. With AVX2 and without AVX-512 the power
    /// of two comes from integer operations on the table's bits (<see cref="ExpNonPositiveAvx2"/>), bit for bit the same.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ExpNonPositive(V256 value) =>
        System.Runtime.Intrinsics.X86.Avx2.IsSupported && !System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported
            ? ExpNonPositiveAvx2(value)
            : SimdExp.ByTable(value, 1572864f, 0.5000648f, 0.16664298f, nonPositive: true);

    /// <summary>
    /// <see cref="ExpNonPositive"/> with AVX2, where 2^n has no instruction (<see cref="ScaleBPortable"/> spends ten
    /// operations of an exp sweep's twenty on it). <c>biased = x log2(e) + 1.5 * 2^20</c> holds k = round(8 x log2(e))
    /// in its low bits, k = 8n + j: shifted left by 20 they are <c>(n &lt;&lt; 23) + (j &lt;&lt; 20)</c>, so adding them to
    /// the bits of 2^(j/8) 2^25 less <c>j &lt;&lt; 20</c> (<see cref="ScaledExpTable"/>, looked up by j with vpermps) gives
    /// 2^(n + 25 + j/8), normal for every n down to -150 (x &gt;= -104) and up to 0. The polynomial is applied to that
    /// scaled power, exactly as to 2^(j/8), and one multiply by 2^-25 rounds the result once, subnormals included, as
    /// vscalefps does: bit for bit <see cref="Exp"/> (SimdMathTests), in thirteen operations instead of twenty.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ExpNonPositiveAvx2(V256 value)
    {
        var bias = Vector256.Create(1572864f);
        var x = Compat256.MaxNative(Vector256.Create(-104f), value.Value);
        var biased = Compat256.FusedMultiplyAdd(x, Vector256.Create(1.44269504f), bias);
        var n = biased - bias; // k/8, exact
        var t = Compat256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        t = Compat256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), t);
        var bits = biased.AsInt32();
        var scaled = (System.Runtime.Intrinsics.X86.Avx2.PermuteVar8x32(ScaledExpTable, bits).AsInt32() + Vector256.ShiftLeft(bits, 20)).AsSingle();
        var p = Compat256.FusedMultiplyAdd(Vector256.Create(0.16664298f), t, Vector256.Create(0.5000648f));
        var q = Compat256.FusedMultiplyAdd(p, t * t, t);
        return new(Compat256.FusedMultiplyAdd(scaled, q, scaled) * Vector256.Create(2.98023224e-8f)); // 2^-25
    }

    /// <summary>2^x by the table (<see cref="SimdExp.ByTable2"/>), with <see cref="Exp"/>'s polynomial.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Exp2(V256 value) => SimdExp.ByTable2(value, 1572864f, 0.240257636f, 0.0554962195f);

    /// <summary><see cref="Exp2"/> clamped only below; with AVX2 and without AVX-512, the power of two from the table's
    /// bits (<see cref="Exp2NonPositiveAvx2"/>), bit for bit the same.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Exp2NonPositive(V256 value) =>
        System.Runtime.Intrinsics.X86.Avx2.IsSupported && !System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported
            ? Exp2NonPositiveAvx2(value)
            : SimdExp.ByTable2(value, 1572864f, 0.240257636f, 0.0554962195f, nonPositive: true);

    /// <summary><see cref="Exp2NonPositive"/> as <see cref="ExpNonPositiveAvx2"/> computes base e's: x clamped at -150,
    /// so 2^(n + 25 + j/8) stays normal, and one multiply by 2^-25 rounds the result once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Exp2NonPositiveAvx2(V256 value)
    {
        var bias = Vector256.Create(1572864f);
        var x = Compat256.MaxNative(Vector256.Create(-150f), value.Value);
        var biased = x + bias;
        var n = biased - bias; // k/8, exact
        var t = x - n; // exact
        var bits = biased.AsInt32();
        var scaled = (System.Runtime.Intrinsics.X86.Avx2.PermuteVar8x32(ScaledExpTable, bits).AsInt32() + Vector256.ShiftLeft(bits, 20)).AsSingle();
        var p = Compat256.FusedMultiplyAdd(Vector256.Create(0.0554962195f), t, Vector256.Create(0.240257636f));
        p = Compat256.FusedMultiplyAdd(p, t, Vector256.Create(0.693147182f));
        return new(Compat256.FusedMultiplyAdd(scaled, p * t, scaled) * Vector256.Create(2.98023224e-8f)); // 2^-25
    }

    /// <summary>The bits of 2^(j/8) (<see cref="ExpTable"/>) times 2^25, less <c>j &lt;&lt; 20</c>, j = 0..7.</summary>
    internal static Vector256<float> ScaledExpTable
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector256.Create(0x4C000000, 0x4C0B95C2 - (1 << 20), 0x4C1837F0 - (2 << 20), 0x4C25FED7 - (3 << 20),
            0x4C3504F3 - (4 << 20), 0x4C45672A - (5 << 20), 0x4C5744FD - (6 << 20), 0x4C6AC0C7 - (7 << 20)).AsSingle();
    }

    /// <summary>Per lane, 2^(k/8) for k the three low bits of <paramref name="biased"/>: one vpermps with AVX2, a shuffle elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ExpTableLookup(V256 biased)
    {
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) return new(System.Runtime.Intrinsics.X86.Avx2.PermuteVar8x32(Vector256.Create(ExpTable), biased.Value.AsInt32()));
        return ExpTableLookupPortable(biased);
    }

    /// <summary><see cref="ExpTableLookup"/> without AVX2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 ExpTableLookupPortable(V256 biased) => new(Vector256.Shuffle(Vector256.Create(ExpTable), biased.Value.AsInt32() & Vector256.Create(7)));

    /// <summary>2^(k/8), k = 0..7, each rounded to float once (data in the assembly: see V512.ExpTable).</summary>
    internal static System.ReadOnlySpan<float> ExpTable => [1f, 1.0905077f, 1.1892071f, 1.2968396f, 1.4142135f, 1.5422108f, 1.6817929f, 1.8340081f];
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 EqualMask(V256 l, V256 r) => new(Vector256.Equals(l.Value, r.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Select(V256 m, V256 t, V256 f) => new(Vector256.ConditionalSelect(m.Value, t.Value, f.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(V256 x) => V128.SumAcross(new V128(x.Value.GetLower() + x.Value.GetUpper()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(V256 x) => V128.MaxAcross(new V128(Compat128.Max(x.Value.GetLower(), x.Value.GetUpper())));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MinAcross(V256 x) => V128.MinAcross(new V128(Compat128.Min(x.Value.GetLower(), x.Value.GetUpper())));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ProductAcross(V256 x) => V128.ProductAcross(new V128(x.Value.GetLower() * x.Value.GetUpper()));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GetLane(V256 x, int lane) => x.Value.GetElement(lane);
}

/// <summary>4 floats in an SSE or Neon register.</summary>
public readonly struct V128(Vector128<float> value) : ISimdFloat<V128>
{
    public readonly Vector128<float> Value = value;

    public static int Count => Vector128<float>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe V128 Load(float* source) => new(Vector128.Load(source));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe V128 Load(int* source) => new(Vector128.ConvertToSingle(Vector128.Load(source)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe void Store(float* destination, V128 value) => value.Value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Create(float value) => new(Vector128.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Affine(float start, float step) => new(Vector128.Create(start) + Vector128.Create(step) * Compat128.Indices);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator +(V128 l, V128 r) => new(l.Value + r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator -(V128 l, V128 r) => new(l.Value - r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator *(V128 l, V128 r) => new(l.Value * r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator /(V128 l, V128 r) => new(l.Value / r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 operator -(V128 x) => new(-x.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Max(V128 l, V128 r) => new(Compat128.Max(l.Value, r.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Min(V128 l, V128 r) => new(Compat128.Min(l.Value, r.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Abs(V128 x) => new(Vector128.Abs(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Sqrt(V128 x) => new(Vector128.Sqrt(x.Value));
    // x86 minps/maxps return their second operand when either is NaN, so the bound goes first; Arm's propagate NaN.
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Clamp(V128 x, float low, float high) => new(Compat128.MaxNative(Vector128.Create(low), Compat128.MinNative(Vector128.Create(high), x.Value)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 AtLeast(V128 x, float low) => new(Compat128.MaxNative(Vector128.Create(low), x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 MultiplyAdd(V128 a, V128 b, V128 c) => new(Compat128.FusedMultiplyAdd(a.Value, b.Value, c.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Round(V128 x) => new(Compat128.Round(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 ScaleB(V128 x, V128 n)
    {
        // AVX-512 has the whole operation as one instruction (vscalefps), subnormals and overflow included.
        if (System.Runtime.Intrinsics.X86.Avx512F.VL.IsSupported) return new(System.Runtime.Intrinsics.X86.Avx512F.VL.Scale(x.Value, n.Value));
        return ScaleBPortable(x, n);
    }

    /// <summary><see cref="ScaleB"/> without AVX-512: 2^n as two normal powers of two built in the exponent bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V128 ScaleBPortable(V128 x, V128 n)
    {
        var whole = Vector128.ConvertToInt32(Vector128.Floor(n.Value));
        var half = Vector128.ShiftRightArithmetic(whole, 1);
        var first = Vector128.ShiftLeft(half + Vector128.Create(127), 23).AsSingle();
        var second = Vector128.ShiftLeft(whole - half + Vector128.Create(127), 23).AsSingle();
        return new(x.Value * first * second);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Log(V128 x) => new(Compat128.Log(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 EqualMask(V128 l, V128 r) => new(Vector128.Equals(l.Value, r.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V128 Select(V128 m, V128 t, V128 f) => new(Vector128.ConditionalSelect(m.Value, t.Value, f.Value));
    /// <summary>(x0 + x2) + (x1 + x3) by two in-register shuffles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumAcross(V128 x)
    {
        var pairs = x.Value + Vector128.Shuffle(x.Value, Vector128.Create(2, 3, 0, 1));
        return (pairs + Vector128.Shuffle(pairs, Vector128.Create(1, 0, 3, 2))).ToScalar();
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(V128 x) => System.MathF.Max(System.MathF.Max(x.Value[0], x.Value[1]), System.MathF.Max(x.Value[2], x.Value[3]));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MinAcross(V128 x) => System.MathF.Min(System.MathF.Min(x.Value[0], x.Value[1]), System.MathF.Min(x.Value[2], x.Value[3]));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ProductAcross(V128 x) => x.Value[0] * x.Value[1] * (x.Value[2] * x.Value[3]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GetLane(V128 x, int lane) => x.Value.GetElement(lane);
}

