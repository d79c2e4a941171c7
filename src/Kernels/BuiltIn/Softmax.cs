using System;

namespace Kernels;

/// <summary>Row-wise softmax, exact to float rounding for any finite input (the row maximum is subtracted).</summary>
/// <remarks>
/// Generated from specs/softmax.3pass.einsum. The compiler fuses the numerator with its sum into one sweep, keeps
/// the numerator in the output's memory (no scratch, however long the row) and scales by one reciprocal per row:
/// a pass for the maximum, a pass that writes exp(x - max) and sums it, a pass that scales in place. Measured
/// faster here than softmax.2pass (whose log-sum-exp pass evaluates exp about 1.25 times per element before the
/// output pass evaluates it again); perf/README.md has the figures.
/// </remarks>
public static partial class Softmax
{
    [Einsum(SpecFile = "softmax.3pass.einsum")]
    private static partial void ThreePass(ReadOnlySpan<float> X, Span<float> Y, int P, int N);

    /// <summary>Writes softmax of each row of <paramref name="input"/> ([rows, columns]) to <paramref name="output"/>.</summary>
    /// <remarks>
    /// -inf gets probability 0. A row whose entries are all -inf, or that holds +inf or NaN, is NaN throughout
    /// (exp(x - max) is NaN where x and the maximum are the same infinity, and the row's sum is NaN), as in
    /// PyTorch and ONNX Runtime.
    /// </remarks>
    /// <exception cref="ArgumentException">A span is shorter than rows x columns, a size is negative, or the spans overlap.</exception>
    public static void Rows(ReadOnlySpan<float> input, Span<float> output, int rows, int columns) => ThreePass(input, output, rows, columns);

    /// <summary>The cascade of <see cref="Rows"/> (softmax.3pass.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>RowsDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes P (rows) and N (columns).</summary>
    public static Kernels.Einsum.KernelDescriptor RowsDescriptor => ThreePassDescriptor;
}
