using System;

namespace Kernels;

/// <summary>Row-wise softmax, exact to float rounding for any finite input (the row maximum is subtracted).</summary>
/// <remarks>
/// Generated from specs/softmax.3pass.einsum. The compiler fuses the numerator with its sum into one sweep, keeps
/// the numerator in the output's memory (no scratch, however long the row) and scales by one reciprocal per row:
/// a pass for the maximum, a pass that writes exp(x - max) and sums it, a pass that scales in place. That is the
/// fastest order while a row stays in a core's cache between its passes; a row longer than that
/// (<see cref="LongRow"/>) is read from memory at each pass, and with 512-bit vectors runs softmax.2pass.lse.einsum
/// instead: one read for the log-sum-exp (kept as (max, log sum), so exact for any magnitude), one read and one write
/// for exp(x - LSE). perf/README.md has the figures.
/// </remarks>
public static partial class Softmax
{
    [Einsum(SpecFile = "softmax.3pass.einsum")]
    private static partial void ThreePass(ReadOnlySpan<float> X, Span<float> Y, int P, int N);

    [Einsum(SpecFile = "softmax.2pass.lse.einsum")]
    private static partial void TwoPass(ReadOnlySpan<float> X, Span<float> Y, Span<float> L, int P, int N);

    /// <summary>
    /// Columns from which a row runs the two-pass cascade: 2^18 floats (1 MB), more than a core's L2 cache holds beside
    /// the output, so the three-pass order would read the row from memory three times. Measured on one row of 16M
    /// floats: 4.4 ms in two passes against 5.4 ms in three; on 4096 x 4096, 4.3 ms against 3.2 ms.
    /// </summary>
    internal const int LongRow = 1 << 18;

    /// <summary>
    /// Whether rows of <see cref="LongRow"/> columns or more run the two-pass cascade: where kernels run 512-bit vectors.
    /// Its exps are general ones (no maximum bounds their argument), whose power of two takes one vscalefps with
    /// AVX-512 and ten operations without; on a two-core Zen 3 with AVX2 one row of 16M floats took 14.9 ms in two
    /// passes and 9.6 ms in three (ONNX Runtime 15.4), so there the three passes' extra read costs less.
    /// </summary>
    internal static bool TwoPassLongRows => Kernels.Runtime.KernelRuntime.Width == 512;

    /// <summary>Writes softmax of each row of <paramref name="input"/> ([rows, columns]) to <paramref name="output"/>.</summary>
    /// <remarks>
    /// -inf gets probability 0. A row whose entries are all -inf, or that holds +inf or NaN, is NaN throughout
    /// (exp(x - max) is NaN where x and the maximum are the same infinity, and the row's sum is NaN), as in
    /// PyTorch and ONNX Runtime, however long the row.
    /// </remarks>
    /// <exception cref="ArgumentException">A span is shorter than rows x columns, a size is negative, or the spans
    /// overlap; the exception names this method's parameter, and nothing has been written.</exception>
    public static void Rows(ReadOnlySpan<float> input, Span<float> output, int rows, int columns) =>
        Rows(input, output, rows, columns, TwoPassLongRows);

    /// <summary><see cref="Rows(ReadOnlySpan{float}, Span{float}, int, int)"/> with the order of long rows chosen by the caller
    /// (the tests run both on any machine).</summary>
    internal static void Rows(ReadOnlySpan<float> input, Span<float> output, int rows, int columns, bool twoPassLongRows)
    {
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "'rows' is a size and must be zero or more.");
        if (columns < 0) throw new ArgumentOutOfRangeException(nameof(columns), columns, "'columns' is a size and must be zero or more.");
        var needed = (long)rows * columns;
        if (input.Length < needed) throw new ArgumentException($"'input' holds {input.Length} floats but [rows, columns] = [{rows}, {columns}] needs {needed}.", nameof(input));
        if (output.Length < needed) throw new ArgumentException($"'output' holds {output.Length} floats but [rows, columns] = [{rows}, {columns}] needs {needed}.", nameof(output));
        ReadOnlySpan<float> written = output;
        if (needed > 0 && written.Slice(0, (int)needed).Overlaps(input.Slice(0, (int)needed)))
            throw new ArgumentException("'output' overlaps 'input'; softmax reads each row after it starts writing it, so give it memory of its own.", nameof(output));
        if (columns < LongRow || !twoPassLongRows)
        {
            ThreePass(input, output, rows, columns);
            return;
        }
        // One log-sum-exp per row; +inf where the row holds +inf (and no NaN), whose finite entries exp(x - inf) made 0.
        var lse = new float[rows];
        TwoPass(input, output, lse, rows, columns);
        for (var p = 0; p < rows; p++)
            if (float.IsPositiveInfinity(lse[p])) output.Slice(p * columns, columns).Fill(float.NaN);
    }

    /// <summary>The cascade of <see cref="Rows(ReadOnlySpan{float}, Span{float}, int, int)"/> (softmax.3pass.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>RowsDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes P (rows) and N (columns).</summary>
    public static Kernels.Einsum.KernelDescriptor RowsDescriptor => ThreePassDescriptor;
}
