using System.Runtime.Intrinsics;
using Kernels.Runtime;

namespace Kernels.Generators.Tests;

/// <summary>
/// The operations the runtime builds itself on .NET 8 (Portable512/256/128) against .NET 10's own, lane by lane, on
/// values that matter: NaN, infinities, zeros of both signs, halves (rounding to even), large and tiny magnitudes.
/// </summary>
public class SimdCompatTests
{
    private static readonly float[] Special =
    {
        float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 1e-40f, -1e-40f,
        8388607.5f, 8388608f, -8388609f, 1e30f, -1e30f, 3.4e38f, 1f, -1f, 0.49999997f, 123.456f, -7.5f, 1e-3f,
    };

    private static float[] Values(int count, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, count).Select(i => i < Special.Length && r.Next(2) == 0 ? Special[r.Next(Special.Length)] : (float)((r.NextDouble() * 2 - 1) * Math.Pow(10, r.Next(-5, 9)))).ToArray();
    }

    private static void Same(float expected, float actual, string what)
    {
        if (float.IsNaN(expected)) Assert.True(float.IsNaN(actual), $"{what}: expected NaN, got {actual}");
        else Assert.True(expected == actual, $"{what}: expected {expected:R}, got {actual:R}"); // a zero of either sign is accepted
    }

    [Fact]
    public void Portable_operations_match_the_runtimes_at_every_width()
    {
        for (var seed = 0; seed < 400; seed++)
        {
            var a = Values(16, seed);
            var b = Values(16, seed + 1000);
            var c = Values(16, seed + 2000);
            Check(Vector512.Create(a), Vector512.Create(b), Vector512.Create(c));
            Check(Vector256.Create(a.AsSpan(0, 8)), Vector256.Create(b.AsSpan(0, 8)), Vector256.Create(c.AsSpan(0, 8)));
            Check(Vector128.Create(a.AsSpan(0, 4)), Vector128.Create(b.AsSpan(0, 4)), Vector128.Create(c.AsSpan(0, 4)));
        }
    }

    private static void Check(Vector512<float> a, Vector512<float> b, Vector512<float> c)
    {
        Lanes("Indices", Vector512<float>.Indices, Portable512.Indices);
        Lanes("Max", Vector512.Max(a, b), Portable512.Max(a, b));
        Lanes("Min", Vector512.Min(a, b), Portable512.Min(a, b));
        Lanes("Round", Vector512.Round(a), Portable512.Round(a));
        Lanes("Log", Vector512.Log(Vector512.Abs(a)), Portable512.Log(Vector512.Abs(a)), ulps: 2);
        Lanes("FusedMultiplyAdd", Vector512.FusedMultiplyAdd(a, b, c), Portable512.FusedMultiplyAdd(a, b, c), fused: System.Runtime.Intrinsics.X86.Avx512F.IsSupported);
        // The native forms: x86's maxps and minps, which return the second operand where either is NaN.
        for (var i = 0; i < Vector512<float>.Count; i++)
        {
            Same(a[i] > b[i] ? a[i] : b[i], Portable512.MaxNative(a, b)[i], "MaxNative");
            Same(a[i] < b[i] ? a[i] : b[i], Portable512.MinNative(a, b)[i], "MinNative");
        }
    }

    private static void Check(Vector256<float> a, Vector256<float> b, Vector256<float> c)
    {
        Lanes("Indices", Vector256<float>.Indices.ToVector512(), Portable256.Indices.ToVector512());
        Lanes("Max", Vector256.Max(a, b).ToVector512(), Portable256.Max(a, b).ToVector512());
        Lanes("Min", Vector256.Min(a, b).ToVector512(), Portable256.Min(a, b).ToVector512());
        Lanes("Round", Vector256.Round(a).ToVector512(), Portable256.Round(a).ToVector512());
        Lanes("Log", Vector256.Log(Vector256.Abs(a)).ToVector512(), Portable256.Log(Vector256.Abs(a)).ToVector512(), ulps: 2);
        Lanes("FusedMultiplyAdd", Vector256.FusedMultiplyAdd(a, b, c).ToVector512(), Portable256.FusedMultiplyAdd(a, b, c).ToVector512(), fused: System.Runtime.Intrinsics.X86.Fma.IsSupported);
    }

    private static void Check(Vector128<float> a, Vector128<float> b, Vector128<float> c)
    {
        Lanes("Indices", Vector128<float>.Indices.ToVector256().ToVector512(), Portable128.Indices.ToVector256().ToVector512());
        Lanes("Max", Vector128.Max(a, b).ToVector256().ToVector512(), Portable128.Max(a, b).ToVector256().ToVector512());
        Lanes("Min", Vector128.Min(a, b).ToVector256().ToVector512(), Portable128.Min(a, b).ToVector256().ToVector512());
        Lanes("Round", Vector128.Round(a).ToVector256().ToVector512(), Portable128.Round(a).ToVector256().ToVector512());
        Lanes("FusedMultiplyAdd", Vector128.FusedMultiplyAdd(a, b, c).ToVector256().ToVector512(), Portable128.FusedMultiplyAdd(a, b, c).ToVector256().ToVector512(), fused: System.Runtime.Intrinsics.X86.Fma.IsSupported);
    }

    /// <param name="what">The operation, for the message.</param>
    /// <param name="expected">The runtime's result.</param>
    /// <param name="actual">The portable form's result.</param>
    /// <param name="ulps">Units in the last place allowed (log: the runtime's vector log against MathF.Log).</param>
    /// <param name="fused">False where the processor has no FMA and the portable form is a multiply and an add, which can
    /// differ from a fused result by any amount under cancellation: not compared.</param>
    private static void Lanes(string what, Vector512<float> expected, Vector512<float> actual, int ulps = 0, bool fused = true)
    {
        for (var i = 0; i < Vector512<float>.Count; i++)
        {
            float e = expected[i], a = actual[i];
            if (!fused) continue;
            if (float.IsNaN(e) || float.IsInfinity(e) || ulps == 0) { Same(e, a, $"{what} lane {i}"); continue; }
            var tolerance = ulps * Math.Max(float.Epsilon, MathF.BitIncrement(MathF.Abs(e)) - MathF.Abs(e));
            Assert.True(Math.Abs(e - a) <= tolerance, $"{what} lane {i}: expected {e:R}, got {a:R}");
        }
    }
}
