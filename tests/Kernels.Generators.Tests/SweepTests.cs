using System.Runtime.Intrinsics;
using Kernels.Runtime;

namespace Kernels.Generators.Tests;

/// <summary>
/// The row micro-kernels (<see cref="Sweep"/>) against scalar loops, at every width, for every length up to two vectors'
/// worth of each unrolled step and a tail (0 to 8 x the width + 3) and a few long rows: the exp-and-sum against a
/// double-precision exp (and, vector by vector, bit for bit against the width's exp, so the raw 256-bit loop is the
/// wrapper's exp), the maximum against <see cref="KernelMath.Max"/> folded over the row (NaN anywhere, signed zeros,
/// all -inf, empty), the divide against a multiply by the reciprocal (and zeros for a zero divisor whatever the row).
/// </summary>
public unsafe class SweepTests
{
    public static TheoryData<string> Widths => new() { "V512", "V256", "V128", "F32" };

    private static int CountOf(string width) => width switch { "V512" => V512.Count, "V256" => V256.Count, "V128" => V128.Count, _ => F32.Count };

    private static IEnumerable<int> Lengths(string width) =>
        Enumerable.Range(0, 8 * CountOf(width) + 4).Concat(new[] { 100, 1000, 4096 + 5 });

    private static float ExpSum(string width, float* source, float* destination, int count, float shift, bool nonPositive, bool base2 = false) => width switch
    {
        "V512" => Sweep.ExpSum<V512>(source, destination, count, shift, nonPositive, base2),
        "V256" => Sweep.ExpSum<V256>(source, destination, count, shift, nonPositive, base2),
        "V128" => Sweep.ExpSum<V128>(source, destination, count, shift, nonPositive, base2),
        _ => Sweep.ExpSum<F32>(source, destination, count, shift, nonPositive, base2),
    };

    /// <summary>The width's own exp of one vector at <paramref name="at"/> into <paramref name="result"/>.</summary>
    private static void WidthExp(string width, float* at, float shift, bool nonPositive, bool base2, float* result)
    {
        switch (width)
        {
            case "V512": WidthExp<V512>(at, shift, nonPositive, base2, result); break;
            case "V256": WidthExp<V256>(at, shift, nonPositive, base2, result); break;
            case "V128": WidthExp<V128>(at, shift, nonPositive, base2, result); break;
            default: WidthExp<F32>(at, shift, nonPositive, base2, result); break;
        }
    }

    private static void WidthExp<TV>(float* at, float shift, bool nonPositive, bool base2, float* result) where TV : unmanaged, ISimdFloat<TV>
    {
        var x = TV.Load(at) - TV.Create(shift);
        TV.Store(result, base2 ? (nonPositive ? TV.Exp2NonPositive(x) : TV.Exp2(x)) : nonPositive ? TV.ExpNonPositive(x) : TV.Exp(x));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Exp_and_sum_match_the_widths_exp_and_a_double_sum(string width)
    {
        var count = CountOf(width);
        var random = new Random(11);
        var failures = new List<string>();
        foreach (var n in Lengths(width))
        foreach (var nonPositive in new[] { true, false })
        foreach (var inPlace in new[] { false, true })
        foreach (var base2 in new[] { false, true })
        {
            // Scores below a maximum of 3 (so nonPositive holds), with -inf, the clamp's edge and subnormal results among them.
            var x = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 40 - 37)).ToArray();
            if (n > 2) { x[n / 2] = float.NegativeInfinity; x[n / 3] = base2 ? -149.5f : -103.5f; x[1] = 3f; }
            const float shift = 3f;
            var y = Enumerable.Repeat(float.NaN, n + 3).ToArray(); // stores past the row would show
            var original = (float[])x.Clone();
            float sum;
            fixed (float* px = x, py = y)
                sum = ExpSum(width, px, inPlace ? px : py, n, shift, nonPositive, base2);
            var result = inPlace ? x.Concat(new[] { float.NaN, float.NaN, float.NaN }).ToArray() : y;
            if (!inPlace && y.Skip(n).Any(v => !float.IsNaN(v))) failures.Add($"n={n}: wrote past the row");
            // Bit for bit the width's exp, vector by vector; the scalar exp for the tail.
            double expected = 0;
            var lane = new float[Math.Max(count, 1)];
            for (var i = 0; i < n; i++)
            {
                double e = base2 ? Math.Pow(2, original[i] - shift) : Math.Exp(original[i] - shift); // of the float difference, as the kernel computes it
                expected += e;
                if (Math.Abs(result[i] - e) > 4e-7 * e + 1e-37) failures.Add($"n={n} nonPositive={nonPositive} base2={base2}: y[{i}] = {result[i]:R}, exp = {e:R}");
            }
            var whole = n / count * count;
            fixed (float* po = original, pl = lane)
                for (var i = 0; i < whole; i += count)
                {
                    WidthExp(width, po + i, shift, nonPositive, base2, pl);
                    for (var l = 0; l < count; l++)
                        if (BitConverter.SingleToInt32Bits(pl[l]) != BitConverter.SingleToInt32Bits(result[i + l]))
                            failures.Add($"n={n} nonPositive={nonPositive} inPlace={inPlace} base2={base2}: y[{i + l}] = {result[i + l]:R}, the width's exp {pl[l]:R}");
                }
            for (var i = whole; i < n; i++)
            {
                var scalar = base2 ? KernelMath.Exp2(original[i] - shift) : KernelMath.Exp(original[i] - shift);
                if (BitConverter.SingleToInt32Bits(scalar) != BitConverter.SingleToInt32Bits(result[i]))
                    failures.Add($"n={n} base2={base2}: tail y[{i}] = {result[i]:R}, scalar exp {scalar:R}");
            }
            if (Math.Abs(sum - expected) > 1e-5 * expected) failures.Add($"n={n} nonPositive={nonPositive} base2={base2}: sum {sum:R}, expected {expected:R}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Exp_and_sum_in_place_equal_the_separate_rows(string width)
    {
        var random = new Random(12);
        foreach (var n in Lengths(width))
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * -30)).ToArray();
            var y = new float[n];
            var inPlace = (float[])x.Clone();
            float apart, together;
            fixed (float* px = x, py = y, pi = inPlace)
            {
                apart = ExpSum(width, px, py, n, 0f, nonPositive: true);
                together = ExpSum(width, pi, pi, n, 0f, nonPositive: true);
            }
            Assert.Equal(apart, together);
            Assert.Equal(y, inPlace);
        }
    }

    private static float Max(string width, float* source, int count) => width switch
    {
        "V512" => Sweep.Max<V512>(source, count),
        "V256" => Sweep.Max<V256>(source, count),
        "V128" => Sweep.Max<V128>(source, count),
        _ => Sweep.Max<F32>(source, count),
    };

    [Theory]
    [MemberData(nameof(Widths))]
    public void Max_matches_the_scalar_fold(string width)
    {
        var random = new Random(13);
        var failures = new List<string>();
        foreach (var n in Lengths(width))
        {
            var rows = new List<(string, float[])>
            {
                ("random", Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 200 - 100)).ToArray()),
                ("all -inf", Enumerable.Repeat(float.NegativeInfinity, n).ToArray()),
                ("zeros of both signs", Enumerable.Range(0, n).Select(i => i % 3 == 0 ? 0f : -0f).ToArray()),
                ("only -0 and negatives", Enumerable.Range(0, n).Select(i => i % 2 == 0 ? -0f : -1f).ToArray()),
            };
            for (var at = 0; at < n; at += Math.Max(1, n / 7))
            {
                var withNaN = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray();
                withNaN[at] = float.NaN;
                rows.Add(($"NaN at {at}", withNaN));
                var withInf = Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray();
                withInf[at] = float.PositiveInfinity;
                rows.Add(($"+inf at {at}", withInf));
            }
            foreach (var (name, row) in rows)
            {
                var expected = row.Aggregate(float.NegativeInfinity, KernelMath.Max);
                float actual;
                fixed (float* p = row) actual = Max(width, p, n);
                var same = float.IsNaN(expected) ? float.IsNaN(actual) : BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual);
                if (!same) failures.Add($"n={n} {name}: {actual:R}, expected {expected:R}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    private static void ExpSumRows(string width, float* source, nint sourcePitch, float* destination, nint destinationPitch, int rows, int count,
        float* shifts, nint shiftStride, float* sums, nint sumStride, bool nonPositive, bool base2)
    {
        switch (width)
        {
            case "V512": Sweep.ExpSum<V512>(source, sourcePitch, destination, destinationPitch, rows, count, shifts, shiftStride, sums, sumStride, nonPositive, base2); break;
            case "V256": Sweep.ExpSum<V256>(source, sourcePitch, destination, destinationPitch, rows, count, shifts, shiftStride, sums, sumStride, nonPositive, base2); break;
            case "V128": Sweep.ExpSum<V128>(source, sourcePitch, destination, destinationPitch, rows, count, shifts, shiftStride, sums, sumStride, nonPositive, base2); break;
            default: Sweep.ExpSum<F32>(source, sourcePitch, destination, destinationPitch, rows, count, shifts, shiftStride, sums, sumStride, nonPositive, base2); break;
        }
    }

    private static void MaxRows(string width, float* source, nint sourcePitch, int rows, int count, float* maxima, nint maximaStride)
    {
        switch (width)
        {
            case "V512": Sweep.Max<V512>(source, sourcePitch, rows, count, maxima, maximaStride); break;
            case "V256": Sweep.Max<V256>(source, sourcePitch, rows, count, maxima, maximaStride); break;
            case "V128": Sweep.Max<V128>(source, sourcePitch, rows, count, maxima, maximaStride); break;
            default: Sweep.Max<F32>(source, sourcePitch, rows, count, maxima, maximaStride); break;
        }
    }

    /// <summary>
    /// The forms for many rows (what the emitter calls for a block of rows) against one call per row, bit for bit: every
    /// row count 0 to 5 (odd counts leave the paired maximum a row of its own) and 8, 9 and 17 (the exp's sums are reduced
    /// across lanes eight rows at a time, with the rest after), row lengths 0 to 4 widths + 3, pitches
    /// wider than the rows (the gap must stay untouched), shifts and results strided or shared, NaN, -inf and signed
    /// zeros among the values.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Row_blocks_match_one_call_per_row(string width)
    {
        var random = new Random(17);
        var failures = new List<string>();
        foreach (var rows in Enumerable.Range(0, 6).Concat(new[] { 8, 9, 17 }))
        foreach (var n in Enumerable.Range(0, 4 * CountOf(width) + 4).Concat(new[] { 48, 128, 256 }))
        foreach (var (pitch, stride) in new[] { (n, 1), (n + 5, 3) })
        {
            var x = Enumerable.Range(0, rows * pitch + 1).Select(_ => (float)(random.NextDouble() * 40 - 37)).ToArray();
            for (var i = 0; i < x.Length; i += 1 + random.Next(17))
                x[i] = (i % 3) switch { 0 => float.NegativeInfinity, 1 => -0f, _ => i % 5 == 0 ? float.NaN : 0f };
            var shifts = Enumerable.Range(0, Math.Max(1, rows * stride)).Select(_ => (float)(random.NextDouble() * 6)).ToArray();
            foreach (var nonPositive in new[] { true, false })
            foreach (var base2 in new[] { false, true })
            {
                var together = Enumerable.Repeat(7f, x.Length).ToArray();
                var sums = Enumerable.Repeat(7f, Math.Max(1, rows * stride)).ToArray();
                var apart = (float[])together.Clone();
                var expectedSums = (float[])sums.Clone();
                fixed (float* px = x, pt = together, pa = apart, ps = shifts, pu = sums, pe = expectedSums)
                {
                    ExpSumRows(width, px, pitch, pt, pitch, rows, n, ps, stride, pu, stride, nonPositive, base2);
                    for (var r = 0; r < rows; r++)
                        pe[r * stride] = ExpSum(width, px + r * pitch, pa + r * pitch, n, ps[r * stride], nonPositive, base2);
                }
                if (!together.Select(BitConverter.SingleToInt32Bits).SequenceEqual(apart.Select(BitConverter.SingleToInt32Bits)))
                    failures.Add($"exp rows={rows} n={n} pitch={pitch} nonPositive={nonPositive} base2={base2}: the rows differ");
                if (!sums.Select(BitConverter.SingleToInt32Bits).SequenceEqual(expectedSums.Select(BitConverter.SingleToInt32Bits)))
                    failures.Add($"exp rows={rows} n={n} pitch={pitch} nonPositive={nonPositive}: sums [{string.Join(", ", sums)}], expected [{string.Join(", ", expectedSums)}]");
            }
            var maxima = Enumerable.Repeat(7f, Math.Max(1, rows * stride)).ToArray();
            var expectedMaxima = (float[])maxima.Clone();
            fixed (float* px = x, pm = maxima, pe = expectedMaxima)
            {
                MaxRows(width, px, pitch, rows, n, pm, stride);
                for (var r = 0; r < rows; r++) pe[r * stride] = Max(width, px + r * pitch, n);
            }
            if (!maxima.Select(BitConverter.SingleToInt32Bits).SequenceEqual(expectedMaxima.Select(BitConverter.SingleToInt32Bits)))
                failures.Add($"max rows={rows} n={n} pitch={pitch}: [{string.Join(", ", maxima)}], expected [{string.Join(", ", expectedMaxima)}]");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
    }

    private static void Divide(string width, float* source, float* destination, int count, float divisor)
    {
        switch (width)
        {
            case "V512": Sweep.Divide<V512>(source, destination, count, divisor); break;
            case "V256": Sweep.Divide<V256>(source, destination, count, divisor); break;
            case "V128": Sweep.Divide<V128>(source, destination, count, divisor); break;
            default: Sweep.Divide<F32>(source, destination, count, divisor); break;
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Divide_multiplies_by_the_reciprocal_and_gives_zero_for_a_zero_divisor(string width)
    {
        var random = new Random(14);
        foreach (var n in Lengths(width))
        foreach (var divisor in new[] { 3.7f, 0f, -0f, 1e-30f, float.NaN })
        foreach (var inPlace in new[] { false, true })
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 10 - 5)).ToArray();
            if (n > 3) { x[0] = float.PositiveInfinity; x[2] = float.NaN; }
            var original = (float[])x.Clone();
            var y = Enumerable.Repeat(42f, n + 3).ToArray();
            fixed (float* px = x, py = y) Divide(width, px, inPlace ? px : py, n, divisor);
            var result = inPlace ? x : y.Take(n).ToArray();
            if (!inPlace) Assert.All(y.Skip(n), v => Assert.Equal(42f, v));
            var inverse = 1f / divisor;
            for (var i = 0; i < n; i++)
            {
                var expected = divisor == 0f ? 0f : original[i] * inverse;
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(result[i]) || (float.IsNaN(expected) && float.IsNaN(result[i])),
                    $"n={n} divisor={divisor} inPlace={inPlace}: y[{i}] = {result[i]:R}, expected {expected:R}");
            }
        }
    }
}
