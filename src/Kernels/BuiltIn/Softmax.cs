using System;

namespace Kernels;

/// <summary>Row-wise softmax, stable for any finite input (the row maximum is subtracted).</summary>
/// <remarks>Generated from specs/softmax.2pass.einsum: one pass for the row's log-sum-exp (online max and rescaled sum), one to write exp(x - lse).</remarks>
public static partial class Softmax
{
    [Einsum(SpecFile = "softmax.2pass.einsum")]
    private static partial void TwoPass(ReadOnlySpan<float> X, Span<float> Y, int P, int N);

    /// <summary>Writes softmax of each row of <paramref name="input"/> ([rows, columns]) to <paramref name="output"/>.</summary>
    /// <exception cref="ArgumentException">A span is shorter than rows x columns, a size is negative, or the spans overlap.</exception>
    public static void Rows(ReadOnlySpan<float> input, Span<float> output, int rows, int columns) => TwoPass(input, output, rows, columns);

    /// <summary>The cascade of <see cref="Rows"/> (softmax.2pass.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>RowsDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes P (rows) and N (columns).</summary>
    public static Kernels.Einsum.KernelDescriptor RowsDescriptor => TwoPassDescriptor;
}
