using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kernels.Runtime;

// .NET 8 has no Vector*.Indices, MaxNative, MinNative, FusedMultiplyAdd, Round or Log, and its Max and Min return
// the second operand where either is NaN (.NET 9 made them IEEE 754-2019 maximum and minimum, which propagate NaN as
// Math.Max does). On .NET 9 and later these forward to the runtime; on .NET 8 they are built from what it has (the
// Portable classes, written so that they behave the same on every runtime and are tested on .NET 10): the native
// maximum as a compare and select (the second operand where either is NaN, as x86 maxps), the IEEE one from it with
// NaN passed through (a zero of either sign may come out as the other), FMA where the processor has it (else a
// multiply and an add), rounding to nearest even by adding and subtracting 2^23, and a lane-by-lane MathF.Log.

/// <summary>The 512-bit operations of .NET 9 and later that .NET 8 lacks or defines differently (see the file's remarks).</summary>
internal static class Compat512
{
#if NET9_0_OR_GREATER
    public static Vector512<float> Indices => Vector512<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> l, Vector512<float> r) => Vector512.Max(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> l, Vector512<float> r) => Vector512.Min(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MaxNative(Vector512<float> l, Vector512<float> r) => Vector512.MaxNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MinNative(Vector512<float> l, Vector512<float> r) => Vector512.MinNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> FusedMultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Round(Vector512<float> x) => Vector512.Round(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Log(Vector512<float> x) => Vector512.Log(x);
#else
    public static Vector512<float> Indices => Portable512.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> l, Vector512<float> r) => Portable512.Max(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> l, Vector512<float> r) => Portable512.Min(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MaxNative(Vector512<float> l, Vector512<float> r) => Portable512.MaxNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MinNative(Vector512<float> l, Vector512<float> r) => Portable512.MinNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> FusedMultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Portable512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Round(Vector512<float> x) => Portable512.Round(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Log(Vector512<float> x) => Portable512.Log(x);
#endif
}

/// <summary>The 512-bit operations built from what .NET 8 has; compiled on every target so the tests check them against .NET 10's.</summary>
internal static class Portable512
{
    public static readonly Vector512<float> Indices = Vector512.Create(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f, 12f, 13f, 14f, 15f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> l, Vector512<float> r) => Vector512.ConditionalSelect(Vector512.Equals(l, l) & Vector512.Equals(r, r), MaxNative(l, r), l + r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Min(Vector512<float> l, Vector512<float> r) => Vector512.ConditionalSelect(Vector512.Equals(l, l) & Vector512.Equals(r, r), MinNative(l, r), l + r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MaxNative(Vector512<float> l, Vector512<float> r) => Vector512.ConditionalSelect(Vector512.GreaterThan(l, r), l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MinNative(Vector512<float> l, Vector512<float> r) => Vector512.ConditionalSelect(Vector512.LessThan(l, r), l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> FusedMultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? System.Runtime.Intrinsics.X86.Avx512F.FusedMultiplyAdd(a, b, c) : a * b + c;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Round(Vector512<float> x)
    {
        var magnitude = Vector512.Abs(x);
        var rounded = (magnitude + Vector512.Create(8388608f)) - Vector512.Create(8388608f);
        return Vector512.ConditionalSelect(Vector512.LessThan(magnitude, Vector512.Create(8388608f)), rounded | (x & Vector512.Create(-0f)), x);
    }
    public static Vector512<float> Log(Vector512<float> x)
    {
        System.Span<float> lanes = stackalloc float[Vector512<float>.Count];
        x.CopyTo(lanes);
        for (var i = 0; i < lanes.Length; i++) lanes[i] = System.MathF.Log(lanes[i]);
        return Vector512.Create<float>(lanes);
    }
}

/// <summary>The 256-bit operations of .NET 9 and later that .NET 8 lacks or defines differently (see the file's remarks).</summary>
internal static class Compat256
{
#if NET9_0_OR_GREATER
    public static Vector256<float> Indices => Vector256<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> l, Vector256<float> r) => Vector256.Max(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> l, Vector256<float> r) => Vector256.Min(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MaxNative(Vector256<float> l, Vector256<float> r) => Vector256.MaxNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MinNative(Vector256<float> l, Vector256<float> r) => Vector256.MinNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> FusedMultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Round(Vector256<float> x) => Vector256.Round(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Log(Vector256<float> x) => Vector256.Log(x);
#else
    public static Vector256<float> Indices => Portable256.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> l, Vector256<float> r) => Portable256.Max(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> l, Vector256<float> r) => Portable256.Min(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MaxNative(Vector256<float> l, Vector256<float> r) => Portable256.MaxNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MinNative(Vector256<float> l, Vector256<float> r) => Portable256.MinNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> FusedMultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Portable256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Round(Vector256<float> x) => Portable256.Round(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Log(Vector256<float> x) => Portable256.Log(x);
#endif
}

/// <summary>The 256-bit operations built from what .NET 8 has; compiled on every target so the tests check them against .NET 10's.</summary>
internal static class Portable256
{
    public static readonly Vector256<float> Indices = Vector256.Create(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> l, Vector256<float> r) => Vector256.ConditionalSelect(Vector256.Equals(l, l) & Vector256.Equals(r, r), MaxNative(l, r), l + r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Min(Vector256<float> l, Vector256<float> r) => Vector256.ConditionalSelect(Vector256.Equals(l, l) & Vector256.Equals(r, r), MinNative(l, r), l + r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MaxNative(Vector256<float> l, Vector256<float> r) => Vector256.ConditionalSelect(Vector256.GreaterThan(l, r), l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MinNative(Vector256<float> l, Vector256<float> r) => Vector256.ConditionalSelect(Vector256.LessThan(l, r), l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> FusedMultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : a * b + c;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Round(Vector256<float> x)
    {
        var magnitude = Vector256.Abs(x);
        var rounded = (magnitude + Vector256.Create(8388608f)) - Vector256.Create(8388608f);
        return Vector256.ConditionalSelect(Vector256.LessThan(magnitude, Vector256.Create(8388608f)), rounded | (x & Vector256.Create(-0f)), x);
    }
    public static Vector256<float> Log(Vector256<float> x)
    {
        System.Span<float> lanes = stackalloc float[Vector256<float>.Count];
        x.CopyTo(lanes);
        for (var i = 0; i < lanes.Length; i++) lanes[i] = System.MathF.Log(lanes[i]);
        return Vector256.Create<float>(lanes);
    }
}

/// <summary>The 128-bit operations of .NET 9 and later that .NET 8 lacks or defines differently (see the file's remarks).</summary>
internal static class Compat128
{
#if NET9_0_OR_GREATER
    public static Vector128<float> Indices => Vector128<float>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> l, Vector128<float> r) => Vector128.Max(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Min(Vector128<float> l, Vector128<float> r) => Vector128.Min(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MaxNative(Vector128<float> l, Vector128<float> r) => Vector128.MaxNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MinNative(Vector128<float> l, Vector128<float> r) => Vector128.MinNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> FusedMultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Round(Vector128<float> x) => Vector128.Round(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Log(Vector128<float> x) => Vector128.Log(x);
#else
    public static Vector128<float> Indices => Portable128.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> l, Vector128<float> r) => Portable128.Max(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Min(Vector128<float> l, Vector128<float> r) => Portable128.Min(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MaxNative(Vector128<float> l, Vector128<float> r) => Portable128.MaxNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MinNative(Vector128<float> l, Vector128<float> r) => Portable128.MinNative(l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> FusedMultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Portable128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Round(Vector128<float> x) => Portable128.Round(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Log(Vector128<float> x) => Portable128.Log(x);
#endif
}

/// <summary>The 128-bit operations built from what .NET 8 has; compiled on every target so the tests check them against .NET 10's.</summary>
internal static class Portable128
{
    public static readonly Vector128<float> Indices = Vector128.Create(0f, 1f, 2f, 3f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> l, Vector128<float> r) => Vector128.ConditionalSelect(Vector128.Equals(l, l) & Vector128.Equals(r, r), MaxNative(l, r), l + r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Min(Vector128<float> l, Vector128<float> r) => Vector128.ConditionalSelect(Vector128.Equals(l, l) & Vector128.Equals(r, r), MinNative(l, r), l + r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MaxNative(Vector128<float> l, Vector128<float> r) => Vector128.ConditionalSelect(Vector128.GreaterThan(l, r), l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MinNative(Vector128<float> l, Vector128<float> r) => Vector128.ConditionalSelect(Vector128.LessThan(l, r), l, r);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> FusedMultiplyAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : a * b + c;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Round(Vector128<float> x)
    {
        var magnitude = Vector128.Abs(x);
        var rounded = (magnitude + Vector128.Create(8388608f)) - Vector128.Create(8388608f);
        return Vector128.ConditionalSelect(Vector128.LessThan(magnitude, Vector128.Create(8388608f)), rounded | (x & Vector128.Create(-0f)), x);
    }
    public static Vector128<float> Log(Vector128<float> x)
    {
        System.Span<float> lanes = stackalloc float[Vector128<float>.Count];
        x.CopyTo(lanes);
        for (var i = 0; i < lanes.Length; i++) lanes[i] = System.MathF.Log(lanes[i]);
        return Vector128.Create<float>(lanes);
    }
}
