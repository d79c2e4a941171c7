using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kernels.Runtime;

/// <summary>
/// A tile copied with its two innermost ranks swapped: the copy of K's tiles that lets the score contraction read K
/// transposed as contiguous rows (<c>BK[m1,e,m0] = K[m1*M0 + m0, e]</c>). A scalar copy reads one float of each source
/// row per step (a cache line for four bytes) and cost 10% of attention at 512 keys; this one moves 8 x 8 blocks
/// through registers (eight row loads, 24 shuffles, eight column stores).
/// </summary>
public static unsafe class Transpose
{
    /// <summary><c>destination[j * destinationStride + i] = source[i * sourceStride + j]</c> for i &lt; rows, j &lt; columns.</summary>
    /// <remarks>Compiled optimised at once: at tier 0, <see cref="Block"/> was a call per 8 x 8 block, and the first calls
    /// of a kernel spent 2% of an attention call (L = 2048, one core) in it.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Copy(float* source, nint sourceStride, float* destination, nint destinationStride, int rows, int columns)
    {
        if (Avx.IsSupported) Blocks(source, sourceStride, destination, destinationStride, rows, columns);
        else Scalar(source, sourceStride, destination, destinationStride, 0, rows, 0, columns);
    }

    /// <summary>The copy without vector instructions (the fallback, and the edges of the blocked copy).</summary>
    internal static void Scalar(float* source, nint sourceStride, float* destination, nint destinationStride, int rowFrom, int rowTo, int columnFrom, int columnTo)
    {
        // Eight rows at a time, so that each destination line written is reused for eight floats.
        for (var i0 = rowFrom; i0 < rowTo; i0 += 8)
        {
            var i1 = System.Math.Min(i0 + 8, rowTo);
            for (var j = columnFrom; j < columnTo; j++)
                for (var i = i0; i < i1; i++)
                    destination[j * destinationStride + i] = source[i * sourceStride + j];
        }
    }

    /// <summary>8 x 8 blocks through AVX registers, the partial edges by <see cref="Scalar"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Blocks(float* source, nint sourceStride, float* destination, nint destinationStride, int rows, int columns)
    {
        var fullRows = rows & ~7;
        var fullColumns = columns & ~7;
        for (var i = 0; i < fullRows; i += 8)
            for (var j = 0; j < fullColumns; j += 8)
                Block(source + i * sourceStride + j, sourceStride, destination + j * destinationStride + i, destinationStride);
        Scalar(source, sourceStride, destination, destinationStride, 0, fullRows, fullColumns, columns);
        Scalar(source, sourceStride, destination, destinationStride, fullRows, rows, 0, columns);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block(float* s, nint ss, float* d, nint ds)
    {
        var r0 = Avx.LoadVector256(s);
        var r1 = Avx.LoadVector256(s + ss);
        var r2 = Avx.LoadVector256(s + 2 * ss);
        var r3 = Avx.LoadVector256(s + 3 * ss);
        var r4 = Avx.LoadVector256(s + 4 * ss);
        var r5 = Avx.LoadVector256(s + 5 * ss);
        var r6 = Avx.LoadVector256(s + 6 * ss);
        var r7 = Avx.LoadVector256(s + 7 * ss);
        // Pairs of rows interleaved: t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5], ...
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        // Four rows of a column in each 128-bit half: u0 = column 0 of rows 0-3 | column 4 of rows 0-3, ...
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        // The halves of rows 0-3 and 4-7 joined: column k of all eight rows.
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + ds, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * ds, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * ds, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * ds, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * ds, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * ds, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * ds, Avx.Permute2x128(u3, u7, 0x31));
    }
}
