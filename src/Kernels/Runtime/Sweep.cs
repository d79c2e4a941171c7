using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kernels.Runtime;

/// <summary>
/// Row micro-kernels for the row idioms the compiler recognises by their structure: a map <c>Y[v] = exp(X[v] - s)</c>
/// (s the same along the row) fused with the sum of Y over v, the numerator and denominator of every softmax and of
/// each step of one-pass attention; the maximum over a row; a row divided by one value. Generated kernels call them
/// with a row's first element and its length; rows are contiguous. The results are those of the generic loops the
/// emitter would print (the same exp and the same reciprocal, bit for bit; sums in a different order, as any
/// vectorised sum).
/// </summary>
/// <remarks>
/// Why a call and not a printed loop: through the width wrappers the JIT broadcasts each of the exp's nine constants
/// again for every vector and copies registers before its multiply-adds, and four vectors' chains with four
/// accumulators do not fit in AVX2's sixteen registers, so the generated 256-bit sweep ran at 2.9-3.2 ns a vector on
/// Zen 3 where a loop over raw vectors with the constants in registers and two chains interleaved runs at 2.2
/// (perf/README.md, twenty-second session).
/// </remarks>
public static unsafe class Sweep
{
    /// <summary>
    /// <c>destination[i] = exp(source[i] - shift)</c> for <c>i &lt; count</c>; returns the sum of the values stored.
    /// <paramref name="nonPositive"/>: the compiler proved every argument at most 0 (shift is a maximum over the row),
    /// so the exp is clamped only below (<see cref="ISimdFloat{TSelf}.ExpNonPositive"/>). <paramref name="base2"/>: the
    /// source is in base 2 (the compiler multiplied it by log2(e)) and the map is <c>2^(source[i] - shift)</c>
    /// (<see cref="ISimdFloat{TSelf}.Exp2"/>). The rows may be the same memory; otherwise they must not overlap.
    /// </summary>
    /// <remarks>
    /// While it computes, it asks for the <paramref name="count"/> floats after the source row to be brought into the
    /// cache (prefetcht0, which never faults): in a row-major tensor of contiguous rows, the next row, which the
    /// next row's first pass then reads from cache instead of memory. The exp sweep is bound by its arithmetic, so the
    /// memory works beside it: softmax of 4096 x 4096 on two Zen 3 cores took 6.2 ms without it and 4.9-5.1 with it
    /// (a copy of the array 4.7). Prefetching the destination's next row as well made it slower (5.5-5.7).
    /// </remarks>
    public static float ExpSum<TV>(float* source, float* destination, int count, float shift, bool nonPositive, bool base2 = false)
        where TV : unmanaged, ISimdFloat<TV>
    {
        if (typeof(TV) == typeof(V256) && nonPositive && Avx2.IsSupported && Fma.IsSupported)
            return base2 ? ExpNonPositiveSumAvx2<Base2>(source, destination, count, shift) : ExpNonPositiveSumAvx2<BaseE>(source, destination, count, shift);
        if (typeof(TV) == typeof(V512) && nonPositive && Avx512F.IsSupported)
        {
            float sum;
            if (base2) ExpNonPositiveSumAvx512<Base2>(source, count, destination, count, 1, count, &shift, 0, &sum, 0);
            else ExpNonPositiveSumAvx512<BaseE>(source, count, destination, count, 1, count, &shift, 0, &sum, 0);
            return sum;
        }
        if (base2)
            return nonPositive ? ExpSumGeneric<TV, NonPositiveExp2>(source, destination, count, shift) : ExpSumGeneric<TV, AnyExp2>(source, destination, count, shift);
        return nonPositive ? ExpSumGeneric<TV, NonPositiveExp>(source, destination, count, shift) : ExpSumGeneric<TV, AnyExp>(source, destination, count, shift);
    }

    private interface IExpKind { static abstract bool ClampedBelowOnly { get; } static abstract bool Base2 { get; } }
    private struct NonPositiveExp : IExpKind { public static bool ClampedBelowOnly => true; public static bool Base2 => false; }
    private struct AnyExp : IExpKind { public static bool ClampedBelowOnly => false; public static bool Base2 => false; }
    private struct NonPositiveExp2 : IExpKind { public static bool ClampedBelowOnly => true; public static bool Base2 => true; }
    private struct AnyExp2 : IExpKind { public static bool ClampedBelowOnly => false; public static bool Base2 => true; }

    /// <summary>The loop the emitter printed before this call existed: four vectors a step, each with its accumulator.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ExpSumGeneric<TV, TKind>(float* source, float* destination, int count, float shift)
        where TV : unmanaged, ISimdFloat<TV> where TKind : struct, IExpKind
    {
        var s = TV.Create(shift);
        TV a0 = TV.Create(0f), a1 = a0, a2 = a0, a3 = a0;
        var i = 0;
        for (; i <= count - 4 * TV.Count; i += 4 * TV.Count)
        {
            PrefetchNext<TV>(source + count + i, i);
            var y0 = Exp<TV, TKind>(TV.Load(source + i) - s);
            TV.Store(destination + i, y0);
            var y1 = Exp<TV, TKind>(TV.Load(source + i + TV.Count) - s);
            TV.Store(destination + i + TV.Count, y1);
            var y2 = Exp<TV, TKind>(TV.Load(source + i + 2 * TV.Count) - s);
            TV.Store(destination + i + 2 * TV.Count, y2);
            var y3 = Exp<TV, TKind>(TV.Load(source + i + 3 * TV.Count) - s);
            TV.Store(destination + i + 3 * TV.Count, y3);
            a0 += y0;
            a1 += y1;
            a2 += y2;
            a3 += y3;
        }
        a0 = a0 + a1 + a2 + a3;
        for (; i <= count - TV.Count; i += TV.Count)
        {
            var y = Exp<TV, TKind>(TV.Load(source + i) - s);
            TV.Store(destination + i, y);
            a0 += y;
        }
        return Tail(source, destination, i, count, shift, TV.SumAcross(a0), TKind.Base2);
    }

    /// <summary>Prefetches the cache lines of one unrolled step's worth of floats at <paramref name="at"/> (one line per
    /// 16 floats; with narrow vectors, at every 16th float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchNext<TV>(float* at, int i) where TV : unmanaged, ISimdFloat<TV>
    {
        if (!Sse.IsSupported) return;
        if (4 * TV.Count >= 16)
            for (var line = 0; line < 4 * TV.Count; line += 16) Sse.Prefetch0(at + line);
        else if ((i & 15) == 0) Sse.Prefetch0(at);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Exp<TV, TKind>(TV x) where TV : unmanaged, ISimdFloat<TV> where TKind : struct, IExpKind =>
        TKind.Base2 ? (TKind.ClampedBelowOnly ? TV.Exp2NonPositive(x) : TV.Exp2(x)) : TKind.ClampedBelowOnly ? TV.ExpNonPositive(x) : TV.Exp(x);

    /// <summary>The elements past the last whole vector, one at a time (the scalar exp, or exp2 in base 2, as the
    /// generated tails).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tail(float* source, float* destination, int from, int count, float shift, float sum, bool base2)
    {
        for (var i = from; i < count; i++)
        {
            var y = base2 ? KernelMath.Exp2(source[i] - shift) : KernelMath.Exp(source[i] - shift);
            destination[i] = y;
            sum += y;
        }
        return sum;
    }

    /// <summary>
    /// <see cref="ExpSum{TV}(float*, float*, int, float, bool, bool)"/> for <paramref name="rows"/> rows at once: row r reads <c>source + r * sourcePitch</c>,
    /// writes <c>destination + r * destinationPitch</c>, subtracts <c>shifts[r * shiftStride]</c> and stores its sum at
    /// <c>sums[r * sumStride]</c>, bit for bit what <see cref="ExpSum{TV}(float*, float*, int, float, bool, bool)"/> returns for that row. A row's source and
    /// destination may be the same memory; otherwise no two rows may overlap.
    /// </summary>
    /// <remarks>
    /// Why a call for the rows and not one per row: a softmax step of attention has rows of 64-128 keys (8-16 vectors),
    /// where the call, the constants and the horizontal sum of each row cost a third of the row's exps (2.8 ns a vector
    /// one row per call, 2.4 with the rows in one call, 162 rows of 128 on Zen 3; perf/README.md, twenty-fourth
    /// session).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ExpSum<TV>(float* source, nint sourcePitch, float* destination, nint destinationPitch, int rows, int count,
        float* shifts, nint shiftStride, float* sums, nint sumStride, bool nonPositive, bool base2 = false)
        where TV : unmanaged, ISimdFloat<TV>
    {
        if (typeof(TV) == typeof(V256) && nonPositive && Avx2.IsSupported && Fma.IsSupported)
        {
            if (base2) ExpNonPositiveSumAvx2<Base2>(source, sourcePitch, destination, destinationPitch, rows, count, shifts, shiftStride, sums, sumStride);
            else ExpNonPositiveSumAvx2<BaseE>(source, sourcePitch, destination, destinationPitch, rows, count, shifts, shiftStride, sums, sumStride);
            return;
        }
        if (typeof(TV) == typeof(V512) && nonPositive && Avx512F.IsSupported)
        {
            if (base2) ExpNonPositiveSumAvx512<Base2>(source, sourcePitch, destination, destinationPitch, rows, count, shifts, shiftStride, sums, sumStride);
            else ExpNonPositiveSumAvx512<BaseE>(source, sourcePitch, destination, destinationPitch, rows, count, shifts, shiftStride, sums, sumStride);
            return;
        }
        for (var r = 0; r < rows; r++)
            sums[r * sumStride] = ExpSum<TV>(source + r * sourcePitch, destination + r * destinationPitch, count, shifts[r * shiftStride], nonPositive, base2);
    }

    /// <summary>
    /// The base of the non-positive exp sweeps: e, the argument as the cascade computes it, or 2, an argument the
    /// compiler multiplied by log2(e) beforehand (Kernels.Einsum's Log2Scores folds it into the scale of attention's
    /// scores). Each stage of one vector's exp, inlined where the sweeps interleave four vectors stage by stage; the
    /// other stages (the clamp, the table's power of two, the final multiply-add) are the same in both.
    /// </summary>
    private interface IExpBase
    {
        /// <summary>The clamp below: the argument under which the result is 0 in float (-104 in base e, -150 in base 2).</summary>
        static abstract float Floor { get; }

        /// <summary>x log2(e) + bias, or x + bias: n/K in the low bits (K the table's entries).</summary>
        static abstract Vector256<float> Biased(Vector256<float> x, Vector256<float> bias);

        static abstract Vector512<float> Biased(Vector512<float> x, Vector512<float> bias);

        /// <summary>t = x - (n/K) ln2 (two multiply-adds), or x - n/K (exact).</summary>
        static abstract Vector256<float> Reduced(Vector256<float> x, Vector256<float> n);

        static abstract Vector512<float> Reduced(Vector512<float> x, Vector512<float> n);

        /// <summary>The polynomial's first stage (<see cref="SimdExp.ByTable"/>, <see cref="SimdExp.ByTable2"/>).</summary>
        static abstract Vector256<float> Polynomial(Vector256<float> t);

        static abstract Vector512<float> Polynomial(Vector512<float> t);

        /// <summary>The polynomial's second stage: q, with the result <c>table (1 + q)</c>.</summary>
        static abstract Vector256<float> Finish(Vector256<float> p, Vector256<float> t);

        static abstract Vector512<float> Finish(Vector512<float> p, Vector512<float> t);

        /// <summary>One vector's exp, as the vector functions compute it (a row's last vectors).</summary>
        static abstract Vector256<float> One(Vector256<float> x);

        static abstract Vector512<float> One(Vector512<float> x);

        static abstract bool IsBase2 { get; }
    }

    private struct BaseE : IExpBase
    {
        public static float Floor => -104f;
        public static bool IsBase2 => false;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Biased(Vector256<float> x, Vector256<float> bias) => Fma.MultiplyAdd(x, Vector256.Create(1.44269504f), bias);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Biased(Vector512<float> x, Vector512<float> bias) => Avx512F.FusedMultiplyAdd(x, Vector512.Create(1.44269504f), bias);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Reduced(Vector256<float> x, Vector256<float> n) =>
            Fma.MultiplyAdd(n, Vector256.Create(2.12194440e-4f), Fma.MultiplyAdd(n, Vector256.Create(-0.693359375f), x));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Reduced(Vector512<float> x, Vector512<float> n) =>
            Avx512F.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), Avx512F.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Polynomial(Vector256<float> t) => Fma.MultiplyAdd(Vector256.Create(0.16664298f), t, Vector256.Create(0.5000648f));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Polynomial(Vector512<float> t) => Avx512F.FusedMultiplyAdd(Vector512.Create(0.16666074f), t, Vector512.Create(0.5000162f));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Finish(Vector256<float> p, Vector256<float> t) => Fma.MultiplyAdd(p, t * t, t);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Finish(Vector512<float> p, Vector512<float> t) => Avx512F.FusedMultiplyAdd(p, t * t, t);
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> One(Vector256<float> x) => V256.ExpNonPositiveAvx2(new V256(x)).Value;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> One(Vector512<float> x) => V512.ExpNonPositive(new V512(x)).Value;
    }

    private struct Base2 : IExpBase
    {
        public static float Floor => -150f;
        public static bool IsBase2 => true;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Biased(Vector256<float> x, Vector256<float> bias) => x + bias;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Biased(Vector512<float> x, Vector512<float> bias) => x + bias;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Reduced(Vector256<float> x, Vector256<float> n) => x - n;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Reduced(Vector512<float> x, Vector512<float> n) => x - n;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Polynomial(Vector256<float> t) =>
            Fma.MultiplyAdd(Fma.MultiplyAdd(Vector256.Create(0.0554962195f), t, Vector256.Create(0.240257636f)), t, Vector256.Create(0.693147182f));
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Polynomial(Vector512<float> t) =>
            Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAdd(Vector512.Create(0.0555021353f), t, Vector512.Create(0.2402343f)), t, Vector512.Create(0.693147182f));
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Finish(Vector256<float> p, Vector256<float> t) => p * t;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Finish(Vector512<float> p, Vector512<float> t) => p * t;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> One(Vector256<float> x) => V256.Exp2NonPositiveAvx2(new V256(x)).Value;
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> One(Vector512<float> x) => V512.Exp2NonPositive(new V512(x)).Value;
    }

    /// <summary>One row of <see cref="ExpNonPositiveSumAvx2{TBase}(float*, nint, float*, nint, int, int, float*, nint, float*, nint)"/>.</summary>
    private static float ExpNonPositiveSumAvx2<TBase>(float* source, float* destination, int count, float shift) where TBase : struct, IExpBase
    {
        float sum;
        ExpNonPositiveSumAvx2<TBase>(source, count, destination, count, 1, count, &shift, 0, &sum, 0);
        return sum;
    }

    /// <summary>
    /// <see cref="V256.ExpNonPositiveAvx2"/> over raw vectors, bit for bit: four vectors' chains of a row interleaved
    /// stage by stage (then one step of two), the even vectors summed into one accumulator and the odd into another, and
    /// the rows' sums reduced across their lanes eight rows at a time, after the rows.
    /// </summary>
    /// <remarks>
    /// The sweep is bound neither by the FMA pipes nor by the length of one vector's chain (about 35 cycles) alone but
    /// by how many of its operations wait in the out-of-order window at once: on Zen 3 (rows of 128, 192 rows, one core)
    /// the two-vector loop ran at 2.41 ns a vector; four vectors a step, 2.31; each row's sum reduced across its lanes
    /// when the row ends (a chain of six operations behind the last exp) cost as much again, and reduced later, eight
    /// rows together, 2.08 (perf/README.md, twenty-eighth session). The constants are written where they are used, so
    /// that the JIT loads them as operands rather than keeping ten registers live through four chains.
    /// Two things that do not help (Zen 5, this code, one core; thirtieth session): run after a 6 x 16 tile of products,
    /// the exp of 48 vectors takes as long as alone (108 + 72 ns, 180-183 together), so fusing it into the micro-kernel
    /// would hide nothing; and a base-2 reduction (<c>t = x log2(e)</c>, a polynomial in base 2) has as many
    /// operations, ran 1.58 against 1.49 ns a vector, and loses accuracy as the argument grows (64 ulp near -87).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ExpNonPositiveSumAvx2<TBase>(float* sources, nint sourcePitch, float* destinations, nint destinationPitch, int rows, int count,
        float* shifts, nint shiftStride, float* sums, nint sumStride) where TBase : struct, IExpBase
    {
        // Rows whose count is a whole number of two-vector steps leave their two accumulators' sum here, to be reduced
        // across lanes eight rows at a time; other rows end in RowEnd, each with its own.
        var partial = stackalloc float[8 * 8];
        var deferred = (count & 15) == 0;
        var pending = 0;
        for (var r = 0; r < rows; r++)
        {
            var source = sources + r * sourcePitch;
            var destination = destinations + r * destinationPitch;
            var shift = shifts[r * shiftStride];
            var s = Vector256.Create(shift);
            Vector256<float> sum0 = Vector256<float>.Zero, sum1 = Vector256<float>.Zero;
            var i = 0;
            for (; i <= count - 32; i += 32)
            {
                Sse.Prefetch0(source + sourcePitch + i); // the next row (see ExpSum)
                Sse.Prefetch0(source + sourcePitch + i + 16);
                var x0 = Avx.Max(Vector256.Create(TBase.Floor), Avx.LoadVector256(source + i) - s);
                var x1 = Avx.Max(Vector256.Create(TBase.Floor), Avx.LoadVector256(source + i + 8) - s);
                var x2 = Avx.Max(Vector256.Create(TBase.Floor), Avx.LoadVector256(source + i + 16) - s);
                var x3 = Avx.Max(Vector256.Create(TBase.Floor), Avx.LoadVector256(source + i + 24) - s);
                var b0 = TBase.Biased(x0, Vector256.Create(1572864f));
                var b1 = TBase.Biased(x1, Vector256.Create(1572864f));
                var b2 = TBase.Biased(x2, Vector256.Create(1572864f));
                var b3 = TBase.Biased(x3, Vector256.Create(1572864f));
                var n0 = b0 - Vector256.Create(1572864f);
                var n1 = b1 - Vector256.Create(1572864f);
                var n2 = b2 - Vector256.Create(1572864f);
                var n3 = b3 - Vector256.Create(1572864f);
                x0 = TBase.Reduced(x0, n0);
                x1 = TBase.Reduced(x1, n1);
                x2 = TBase.Reduced(x2, n2);
                x3 = TBase.Reduced(x3, n3);
                b0 = Scaled(b0);
                b1 = Scaled(b1);
                b2 = Scaled(b2);
                b3 = Scaled(b3);
                n0 = TBase.Polynomial(x0);
                n1 = TBase.Polynomial(x1);
                n2 = TBase.Polynomial(x2);
                n3 = TBase.Polynomial(x3);
                n0 = TBase.Finish(n0, x0);
                n1 = TBase.Finish(n1, x1);
                n2 = TBase.Finish(n2, x2);
                n3 = TBase.Finish(n3, x3);
                b0 = Fma.MultiplyAdd(b0, n0, b0) * Vector256.Create(2.98023224e-8f); // 2^-25
                b1 = Fma.MultiplyAdd(b1, n1, b1) * Vector256.Create(2.98023224e-8f);
                b2 = Fma.MultiplyAdd(b2, n2, b2) * Vector256.Create(2.98023224e-8f);
                b3 = Fma.MultiplyAdd(b3, n3, b3) * Vector256.Create(2.98023224e-8f);
                Avx.Store(destination + i, b0);
                Avx.Store(destination + i + 8, b1);
                Avx.Store(destination + i + 16, b2);
                Avx.Store(destination + i + 24, b3);
                sum0 += b0;
                sum1 += b1;
                sum0 += b2;
                sum1 += b3;
            }
            if (i <= count - 16)
            {
                Sse.Prefetch0(source + sourcePitch + i);
                var xa = Avx.Max(Vector256.Create(TBase.Floor), Avx.LoadVector256(source + i) - s);
                var xb = Avx.Max(Vector256.Create(TBase.Floor), Avx.LoadVector256(source + i + 8) - s);
                var ba = TBase.Biased(xa, Vector256.Create(1572864f));
                var bb = TBase.Biased(xb, Vector256.Create(1572864f));
                var na = ba - Vector256.Create(1572864f);
                var nb = bb - Vector256.Create(1572864f);
                xa = TBase.Reduced(xa, na);
                xb = TBase.Reduced(xb, nb);
                ba = Scaled(ba);
                bb = Scaled(bb);
                na = TBase.Polynomial(xa);
                nb = TBase.Polynomial(xb);
                na = TBase.Finish(na, xa);
                nb = TBase.Finish(nb, xb);
                ba = Fma.MultiplyAdd(ba, na, ba) * Vector256.Create(2.98023224e-8f);
                bb = Fma.MultiplyAdd(bb, nb, bb) * Vector256.Create(2.98023224e-8f);
                Avx.Store(destination + i, ba);
                Avx.Store(destination + i + 8, bb);
                sum0 += ba;
                sum1 += bb;
                i += 16;
            }
            sum0 += sum1;
            if (!deferred)
            {
                sums[r * sumStride] = RowEnd<TBase>(source, destination, i, count, shift, sum0);
                continue;
            }
            sum0.Store(partial + 8 * pending);
            if (++pending == 8)
            {
                SumsAcross(partial, pending, sums + (r - 7) * sumStride, sumStride);
                pending = 0;
            }
        }
        if (pending > 0) SumsAcross(partial, pending, sums + (rows - pending) * sumStride, sumStride);

        // 2^(n + 25 + j/8) from the biased value (V256.ExpNonPositiveAvx2): the table's entry j plus n in the exponent.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<float> Scaled(Vector256<float> biased) =>
            (Avx2.PermuteVar8x32(V256.ScaledExpTable, biased.AsInt32()).AsInt32() + Avx2.ShiftLeftLogical(biased.AsInt32(), 20)).AsSingle();
    }

    /// <summary>
    /// <see cref="V512.ExpNonPositive"/> over raw vectors with AVX-512, bit for bit, laid out as
    /// <see cref="ExpNonPositiveSumAvx2{TBase}(float*, nint, float*, nint, int, int, float*, nint, float*, nint)"/>: four
    /// vectors' chains of a row interleaved stage by stage (then one step of two), the even vectors summed into one
    /// accumulator and the odd into another, the rows' sums reduced across their lanes after the rows, eight at a time.
    /// </summary>
    /// <remarks>
    /// Where the kernels ran the generic loop (a row a call, four chains one after the other, each row's sum reduced at
    /// its end): 1.99 ns a 16-float vector there, 1.58-1.62 here; the same loop with each vector's exp written as one
    /// inlined call, 1.66 (Zen 5, one core, 96 rows of 256: attention's step at D = 64; perf/README.md, twenty-ninth
    /// session). 2^n by the bits of a scaled table, as with AVX2, instead of vscalefps: 1.9-2.5.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ExpNonPositiveSumAvx512<TBase>(float* sources, nint sourcePitch, float* destinations, nint destinationPitch, int rows, int count,
        float* shifts, nint shiftStride, float* sums, nint sumStride) where TBase : struct, IExpBase
    {
        var partial = stackalloc float[8 * 16];
        var deferred = (count & 31) == 0;
        var pending = 0;
        var table = Vector512.Create(V512.ExpTable);
        for (var r = 0; r < rows; r++)
        {
            var source = sources + r * sourcePitch;
            var destination = destinations + r * destinationPitch;
            var shift = shifts[r * shiftStride];
            var s = Vector512.Create(shift);
            Vector512<float> sum0 = Vector512<float>.Zero, sum1 = Vector512<float>.Zero;
            var i = 0;
            for (; i <= count - 64; i += 64)
            {
                Sse.Prefetch0(source + sourcePitch + i);
                Sse.Prefetch0(source + sourcePitch + i + 16);
                Sse.Prefetch0(source + sourcePitch + i + 32);
                Sse.Prefetch0(source + sourcePitch + i + 48);
                var x0 = Avx512F.Max(Vector512.Create(TBase.Floor), Avx512F.LoadVector512(source + i) - s);
                var x1 = Avx512F.Max(Vector512.Create(TBase.Floor), Avx512F.LoadVector512(source + i + 16) - s);
                var x2 = Avx512F.Max(Vector512.Create(TBase.Floor), Avx512F.LoadVector512(source + i + 32) - s);
                var x3 = Avx512F.Max(Vector512.Create(TBase.Floor), Avx512F.LoadVector512(source + i + 48) - s);
                var b0 = TBase.Biased(x0, Vector512.Create(786432f));
                var b1 = TBase.Biased(x1, Vector512.Create(786432f));
                var b2 = TBase.Biased(x2, Vector512.Create(786432f));
                var b3 = TBase.Biased(x3, Vector512.Create(786432f));
                var n0 = b0 - Vector512.Create(786432f);
                var n1 = b1 - Vector512.Create(786432f);
                var n2 = b2 - Vector512.Create(786432f);
                var n3 = b3 - Vector512.Create(786432f);
                x0 = TBase.Reduced(x0, n0);
                x1 = TBase.Reduced(x1, n1);
                x2 = TBase.Reduced(x2, n2);
                x3 = TBase.Reduced(x3, n3);
                b0 = Avx512F.PermuteVar16x32(table, b0.AsInt32());
                b1 = Avx512F.PermuteVar16x32(table, b1.AsInt32());
                b2 = Avx512F.PermuteVar16x32(table, b2.AsInt32());
                b3 = Avx512F.PermuteVar16x32(table, b3.AsInt32());
                var p0 = TBase.Polynomial(x0);
                var p1 = TBase.Polynomial(x1);
                var p2 = TBase.Polynomial(x2);
                var p3 = TBase.Polynomial(x3);
                p0 = TBase.Finish(p0, x0);
                p1 = TBase.Finish(p1, x1);
                p2 = TBase.Finish(p2, x2);
                p3 = TBase.Finish(p3, x3);
                b0 = Avx512F.Scale(Avx512F.FusedMultiplyAdd(b0, p0, b0), n0);
                b1 = Avx512F.Scale(Avx512F.FusedMultiplyAdd(b1, p1, b1), n1);
                b2 = Avx512F.Scale(Avx512F.FusedMultiplyAdd(b2, p2, b2), n2);
                b3 = Avx512F.Scale(Avx512F.FusedMultiplyAdd(b3, p3, b3), n3);
                Avx512F.Store(destination + i, b0);
                Avx512F.Store(destination + i + 16, b1);
                Avx512F.Store(destination + i + 32, b2);
                Avx512F.Store(destination + i + 48, b3);
                sum0 += b0;
                sum1 += b1;
                sum0 += b2;
                sum1 += b3;
            }
            if (i <= count - 32)
            {
                Sse.Prefetch0(source + sourcePitch + i);
                Sse.Prefetch0(source + sourcePitch + i + 16);
                var ya = TBase.One(Avx512F.LoadVector512(source + i) - s);
                var yb = TBase.One(Avx512F.LoadVector512(source + i + 16) - s);
                Avx512F.Store(destination + i, ya);
                Avx512F.Store(destination + i + 16, yb);
                sum0 += ya;
                sum1 += yb;
                i += 32;
            }
            sum0 += sum1;
            if (!deferred)
            {
                sums[r * sumStride] = RowEnd<TBase>(source, destination, i, count, shift, sum0);
                continue;
            }
            sum0.Store(partial + 16 * pending);
            if (++pending == 8)
            {
                SumsAcross16(partial, pending, sums + (r - 7) * sumStride, sumStride);
                pending = 0;
            }
        }
        if (pending > 0) SumsAcross16(partial, pending, sums + (rows - pending) * sumStride, sumStride);
    }

    /// <summary>The sums across the lanes of <paramref name="count"/> rows' 512-bit vectors at <paramref name="partial"/>
    /// (sixteen floats a row), stored <paramref name="stride"/> apart from <paramref name="sums"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void SumsAcross16(float* partial, int count, float* sums, nint stride)
    {
        for (var q = 0; q < count; q++) sums[q * stride] = V512.SumAcross(new V512(Vector512.Load(partial + 16 * q)));
    }

    /// <summary>The end of a row of <see cref="ExpNonPositiveSumAvx512{TBase}"/> past its last pair of vectors: one more vector,
    /// then the tail; returns the row's sum (a method of its own, as <see cref="RowEnd{TBase}(float*, float*, int, int, float, Vector256{float})"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float RowEnd<TBase>(float* source, float* destination, int i, int count, float shift, Vector512<float> sum) where TBase : struct, IExpBase
    {
        if (i <= count - 16)
        {
            var y = TBase.One(Avx512F.LoadVector512(source + i) - Vector512.Create(shift));
            Avx512F.Store(destination + i, y);
            sum += y;
            i += 16;
        }
        return Tail(source, destination, i, count, shift, V512.SumAcross(new V512(sum)), TBase.IsBase2);
    }

    /// <summary>The sums across the lanes of <paramref name="count"/> rows' vectors at <paramref name="partial"/> (eight
    /// floats a row), stored <paramref name="stride"/> apart from <paramref name="sums"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // else tier 0 for a while, V256.SumAcross called
    private static void SumsAcross(float* partial, int count, float* sums, nint stride)
    {
        for (var q = 0; q < count; q++) sums[q * stride] = V256.SumAcross(new V256(Vector256.Load(partial + 8 * q)));
    }

    /// <summary>The end of a row of <see cref="ExpNonPositiveSumAvx2{TBase}(float*, nint, float*, nint, int, int, float*, nint, float*, nint)"/>
    /// past its last pair of vectors: one more vector, then the tail; returns the row's sum. A method of its own, so that
    /// its registers do not push the main loop's constants out of theirs (the JIT then reloaded eight of them from the
    /// stack at every step, and the sweep took 3.1 ns a vector instead of 2.4).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float RowEnd<TBase>(float* source, float* destination, int i, int count, float shift, Vector256<float> sum) where TBase : struct, IExpBase
    {
        if (i <= count - 8)
        {
            var y = TBase.One(Avx.LoadVector256(source + i) - Vector256.Create(shift));
            Avx.Store(destination + i, y);
            sum += y;
            i += 8;
        }
        return Tail(source, destination, i, count, shift, V256.SumAcross(new V256(sum)), TBase.IsBase2);
    }

    /// <summary>
    /// The maximum of <c>source[i]</c>, <c>i &lt; count</c>: -inf for no elements, NaN where one is NaN, +0 above -0 (the
    /// language's max reduction, <see cref="KernelMath.Max"/> folded over the row).
    /// </summary>
    public static float Max<TV>(float* source, int count) where TV : unmanaged, ISimdFloat<TV>
    {
        if (typeof(TV) == typeof(V256) && Avx.IsSupported && !Avx512DQ.VL.IsSupported) return MaxAvx(source, count);
        return MaxGeneric<TV>(source, count);
    }

    /// <summary>The loop the emitter printed before this call existed (<see cref="ISimdFloat{TSelf}.MaxUnlessNaN"/>
    /// with the NaNs kept apart by <see cref="ISimdFloat{TSelf}.TakeNaN"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float MaxGeneric<TV>(float* source, int count) where TV : unmanaged, ISimdFloat<TV>
    {
        TV a0 = TV.Create(float.NegativeInfinity), a1 = a0, a2 = a0, a3 = a0;
        TV n0 = TV.Create(0f), n1 = n0;
        var i = 0;
        for (; i <= count - 4 * TV.Count; i += 4 * TV.Count)
        {
            var x0 = TV.Load(source + i);
            a0 = TV.MaxUnlessNaN(a0, x0); n0 = TV.TakeNaN(n0, x0);
            var x1 = TV.Load(source + i + TV.Count);
            a1 = TV.MaxUnlessNaN(a1, x1); n1 = TV.TakeNaN(n1, x1);
            var x2 = TV.Load(source + i + 2 * TV.Count);
            a2 = TV.MaxUnlessNaN(a2, x2); n0 = TV.TakeNaN(n0, x2);
            var x3 = TV.Load(source + i + 3 * TV.Count);
            a3 = TV.MaxUnlessNaN(a3, x3); n1 = TV.TakeNaN(n1, x3);
        }
        for (; i <= count - TV.Count; i += TV.Count)
        {
            var x = TV.Load(source + i);
            a0 = TV.MaxUnlessNaN(a0, x); n0 = TV.TakeNaN(n0, x);
        }
        var max = TV.MaxAcross(TV.TakeNaN(TV.MaxUnlessNaN(TV.MaxUnlessNaN(a0, a1), TV.MaxUnlessNaN(a2, a3)), n0 + n1));
        for (; i < count; i++) max = KernelMath.Max(max, source[i]);
        return max;
    }

    /// <summary>
    /// <see cref="Max{TV}(float*, int)"/> with AVX: four accumulators of plain vmaxps, the row's value first (a NaN there
    /// leaves the accumulator as it was), and one unordered compare per two vectors ORed into a flag for the NaNs. A plain
    /// vmaxps may keep -0 over +0, so a row whose maximum comes out zero is taken again with
    /// <see cref="V256.MaxUnlessNaNAvx"/> (vmaxps both ways round, ANDed: +0 above -0): one operation a vector instead of
    /// three, for the rows whose maximum is not zero.
    /// </summary>
    private static float MaxAvx(float* source, int count)
    {
        var max = MaxAvx<PlainMax>(source, count);
        return max == 0f ? MaxAvx<SignedZerosMax>(source, count) : max;
    }

    /// <summary>How <see cref="MaxAvx{TStep}"/> and <see cref="MaxTwoAvx"/> fold a vector into a running maximum that
    /// holds no NaN (the NaNs are flagged apart).</summary>
    private interface IMaxStep { static abstract Vector256<float> Step(Vector256<float> accumulator, Vector256<float> x); }

    /// <summary>vmaxps, x first: a NaN x leaves the accumulator; -0 and +0 may come out either way.</summary>
    private struct PlainMax : IMaxStep
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Step(Vector256<float> accumulator, Vector256<float> x) => Avx.Max(x, accumulator);
    }

    /// <summary>vmaxps both ways round, ANDed: +0 above -0.</summary>
    private struct SignedZerosMax : IMaxStep
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Step(Vector256<float> accumulator, Vector256<float> x) => Avx.And(Avx.Max(accumulator, x), Avx.Max(x, accumulator));
    }

    /// <summary>The maximum of a row with four accumulators folded by <typeparamref name="TStep"/> and the NaNs flagged
    /// by unordered compares (one per two vectors); the last count % 8 elements by <see cref="KernelMath.Max"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float MaxAvx<TStep>(float* source, int count) where TStep : struct, IMaxStep
    {
        var a0 = Vector256.Create(float.NegativeInfinity);
        Vector256<float> a1 = a0, a2 = a0, a3 = a0, nan = Vector256<float>.Zero;
        var i = 0;
        for (; i <= count - 32; i += 32)
        {
            var x0 = Avx.LoadVector256(source + i);
            var x1 = Avx.LoadVector256(source + i + 8);
            var x2 = Avx.LoadVector256(source + i + 16);
            var x3 = Avx.LoadVector256(source + i + 24);
            a0 = TStep.Step(a0, x0);
            a1 = TStep.Step(a1, x1);
            a2 = TStep.Step(a2, x2);
            a3 = TStep.Step(a3, x3);
            nan = Avx.Or(nan, Avx.Or(Avx.CompareUnordered(x0, x1), Avx.CompareUnordered(x2, x3)));
        }
        for (; i <= count - 8; i += 8)
        {
            var x = Avx.LoadVector256(source + i);
            a0 = TStep.Step(a0, x);
            nan = Avx.Or(nan, Avx.CompareUnordered(x, x));
        }
        var max = Avx.MoveMask(nan) != 0 ? float.NaN : V256.MaxAcross(new V256(TStep.Step(TStep.Step(a0, a1), TStep.Step(a2, a3))));
        for (; i < count; i++) max = KernelMath.Max(max, source[i]);
        return max;
    }

    /// <summary>
    /// <see cref="Max{TV}(float*, int)"/> for <paramref name="rows"/> rows at once: row r reads <c>source + r * sourcePitch</c>
    /// and its maximum is stored at <c>maxima[r * maximaStride]</c>, exactly what <see cref="Max{TV}(float*, int)"/> returns for it (a
    /// maximum does not depend on the order it is taken in).
    /// </summary>
    /// <remarks>
    /// With AVX, two rows are swept side by side and their horizontal maxima taken in one pass of shuffles: for rows of
    /// 128 keys a row's call and its reduction had cost as much as its loads (0.95 ns a vector one row per call, 0.60
    /// two rows at a time, on Zen 3; perf/README.md, twenty-fourth session).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Max<TV>(float* source, nint sourcePitch, int rows, int count, float* maxima, nint maximaStride)
        where TV : unmanaged, ISimdFloat<TV>
    {
        var r = 0;
        if (typeof(TV) == typeof(V256) && Avx.IsSupported && !Avx512DQ.VL.IsSupported)
            for (; r + 1 < rows; r += 2)
                MaxTwoAvx(source + r * sourcePitch, source + (r + 1) * sourcePitch, count, maxima + r * maximaStride, maxima + (r + 1) * maximaStride);
        for (; r < rows; r++) maxima[r * maximaStride] = Max<TV>(source + r * sourcePitch, count);
    }

    /// <summary>The maxima of two rows of <paramref name="count"/> floats, as <see cref="MaxAvx(float*, int)"/> takes them (plain vmaxps,
    /// a row whose maximum is zero taken again with the signs of zeros): two accumulators and a NaN flag per row, then
    /// both rows' lanes reduced together.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxTwoAvx(float* a, float* b, int count, float* maxA, float* maxB)
    {
        var a0 = Vector256.Create(float.NegativeInfinity);
        Vector256<float> a1 = a0, b0 = a0, b1 = a0, nanA = Vector256<float>.Zero, nanB = Vector256<float>.Zero;
        var i = 0;
        for (; i <= count - 16; i += 16)
        {
            var x0 = Avx.LoadVector256(a + i);
            var x1 = Avx.LoadVector256(a + i + 8);
            var y0 = Avx.LoadVector256(b + i);
            var y1 = Avx.LoadVector256(b + i + 8);
            a0 = Avx.Max(x0, a0);
            a1 = Avx.Max(x1, a1);
            b0 = Avx.Max(y0, b0);
            b1 = Avx.Max(y1, b1);
            nanA = Avx.Or(nanA, Avx.CompareUnordered(x0, x1));
            nanB = Avx.Or(nanB, Avx.CompareUnordered(y0, y1));
        }
        if (i <= count - 8)
        {
            var x = Avx.LoadVector256(a + i);
            var y = Avx.LoadVector256(b + i);
            a0 = Avx.Max(x, a0);
            b0 = Avx.Max(y, b0);
            nanA = Avx.Or(nanA, Avx.CompareUnordered(x, x));
            nanB = Avx.Or(nanB, Avx.CompareUnordered(y, y));
            i += 8;
        }
        a0 = Avx.Max(a0, a1);
        b0 = Avx.Max(b0, b1);
        // Lanes 0-3: row a's halves folded; lanes 4-7: row b's. Then pairs, then neighbours, within each half.
        var low = Avx.Permute2x128(a0, b0, 0x20);
        var high = Avx.Permute2x128(a0, b0, 0x31);
        var m = Avx.Max(low, high);
        m = Avx.Max(m, Avx.Permute(m, 0b01_00_11_10));
        m = Avx.Max(m, Avx.Permute(m, 0b10_11_00_01));
        var ma = Avx.MoveMask(nanA) != 0 ? float.NaN : m.ToScalar();
        var mb = Avx.MoveMask(nanB) != 0 ? float.NaN : m.GetElement(4);
        for (var j = i; j < count; j++)
        {
            ma = KernelMath.Max(ma, a[j]);
            mb = KernelMath.Max(mb, b[j]);
        }
        *maxA = ma == 0f ? MaxAvx<SignedZerosMax>(a, count) : ma;
        *maxB = mb == 0f ? MaxAvx<SignedZerosMax>(b, count) : mb;
    }

    /// <summary>
    /// <c>destination[i] = source[i] / divisor</c>, <c>i &lt; count</c>, as the emitter prints a quotient by a value
    /// invariant along the row: a multiply by the reciprocal, and 0 everywhere when <paramref name="divisor"/> is 0 (the
    /// language's divide). The rows may be the same memory; otherwise they must not overlap.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Divide<TV>(float* source, float* destination, int count, float divisor) where TV : unmanaged, ISimdFloat<TV>
    {
        if (divisor == 0f)
        {
            new System.Span<float>(destination, count).Clear();
            return;
        }
        var inverse = 1f / divisor;
        var f = TV.Create(inverse);
        var i = 0;
        for (; i <= count - 4 * TV.Count; i += 4 * TV.Count)
        {
            var y0 = TV.Load(source + i) * f;
            var y1 = TV.Load(source + i + TV.Count) * f;
            var y2 = TV.Load(source + i + 2 * TV.Count) * f;
            var y3 = TV.Load(source + i + 3 * TV.Count) * f;
            TV.Store(destination + i, y0);
            TV.Store(destination + i + TV.Count, y1);
            TV.Store(destination + i + 2 * TV.Count, y2);
            TV.Store(destination + i + 3 * TV.Count, y3);
        }
        for (; i <= count - TV.Count; i += TV.Count) TV.Store(destination + i, TV.Load(source + i) * f);
        for (; i < count; i++) destination[i] = source[i] * inverse;
    }
}
