using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Kernels.Runtime;

/// <summary>
/// The contraction micro-kernel: <c>C[i, j] = alpha * sum_k A[i, k] * B[k, j]</c> for <c>i &lt; m</c>, <c>j &lt; n</c>,
/// overwriting C. Generated kernels call it for an Einsum that sums a product of two tensors over one rank (the
/// contraction idiom), with each operand addressed by its strides, so any layout of A is read in place.
/// </summary>
/// <remarks>
/// <para>Register blocking: <see cref="RowTile"/> rows of C by two vectors are held in
/// twelve registers while k runs; each step loads two vectors of B's row k and broadcasts one element of A per row,
/// so twelve fused multiply-adds cost eight loads. Rows past the last full tile run one at a time; columns past the
/// last pair of vectors run one vector, then one element, at a time. The sum runs in k order for every element, except
/// in the dot products below.</para>
/// <para>B is read with j contiguous. When its j stride is not 1 (B stored with k innermost) it is first copied into a
/// per-thread panel with j contiguous: that costs k*n moves per call, so the generator prefers a layout of B in which
/// j is innermost. Fewer rows than a register tile with A and B both contiguous along k (a decode step: one query
/// against a tile of keys read in place) are dot products instead, with no panel.</para>
/// </remarks>
public static unsafe class Gemm
{
    /// <summary>Rows below which a product with B stored k-innermost runs as dot products when vectors hold 16 floats
    /// (four rows share each load of B): a decode step's 8 query heads of a key/value head (B=4, P=8, 16384 keys, D =
    /// 128) took 15.7 ms through the panel, whose copy was a scalar loop then.</summary>
    internal const int DotRows = 16;

    /// <summary>Rows of C per register tile.</summary>
    public const int RowTile = 6;


    [ThreadStatic] private static float* t_panel;
    [ThreadStatic] private static long t_panelFloats;

    /// <param name="m">Rows of C (the extent of i).</param>
    /// <param name="n">Columns of C (the extent of j).</param>
    /// <param name="k">The extent of the summed rank.</param>
    /// <param name="alpha">A factor applied to every sum.</param>
    /// <param name="a">A[0, 0].</param>
    /// <param name="aRow">Elements between A[i, k] and A[i+1, k].</param>
    /// <param name="aCol">Elements between A[i, k] and A[i, k+1].</param>
    /// <param name="b">B[0, 0].</param>
    /// <param name="bRow">Elements between B[k, j] and B[k+1, j].</param>
    /// <param name="bCol">Elements between B[k, j] and B[k, j+1].</param>
    /// <param name="c">C[0, 0]; C[i, j] is at <c>c + i * cRow + j</c>.</param>
    /// <param name="cRow">Elements between C[i, j] and C[i+1, j].</param>
    public static void Run<TV>(int m, int n, int k, float alpha, float* a, nint aRow, nint aCol, float* b, nint bRow, nint bCol, float* c, nint cRow)
        where TV : unmanaged, ISimdFloat<TV> =>
        RunScaled<TV>(m, n, k, alpha, a, aRow, aCol, b, bRow, bCol, c, cRow, null, 0, null, 0);

    /// <summary>
    /// <c>C[i, j] = alpha * sum_k A[i, k] * B[k, j] + scale[i] * C0[i, j]</c>: a running sum rescaled per row and
    /// updated with a contraction in one pass (FlashAttention-2's accumulator), added as each register tile is stored.
    /// With <paramref name="c0"/> null it is <see cref="Run{TV}"/>.
    /// </summary>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The extent of the summed rank.</param>
    /// <param name="alpha">A factor applied to every sum.</param>
    /// <param name="a">A[0, 0].</param>
    /// <param name="aRow">A's row stride.</param>
    /// <param name="aCol">A's stride along k.</param>
    /// <param name="b">B[0, 0].</param>
    /// <param name="bRow">B's stride along k.</param>
    /// <param name="bCol">B's stride along j.</param>
    /// <param name="c">C[0, 0].</param>
    /// <param name="cRow">C's row stride (j is contiguous).</param>
    /// <param name="c0">C0[0, 0], the sum's previous value (may not overlap C unless it is C).</param>
    /// <param name="c0Row">Elements between C0[i, j] and C0[i+1, j]; j is contiguous.</param>
    /// <param name="scale">The factor of row 0.</param>
    /// <param name="scaleStride">Elements between the factors of rows i and i+1 (0: one factor for all rows).</param>
    public static void RunScaled<TV>(int m, int n, int k, float alpha, float* a, nint aRow, nint aCol, float* b, nint bRow, nint bCol, float* c, nint cRow,
        float* c0, nint c0Row, float* scale, nint scaleStride)
        where TV : unmanaged, ISimdFloat<TV>
    {
        if (m <= 0 || n <= 0) return;
        var tail = new Epilogue(c0, c0Row, scale, scaleStride);
        if (k <= 0)
        {
            for (var i = 0; i < m; i++)
                for (var j = 0; j < n; j++) c[i * cRow + j] = tail.Apply(i, j, 0f);
            return;
        }
        if (bCol != 1 && n > 1 && bRow == 1 && aCol == 1 && m < (TV.Count == 16 ? DotRows : RowTile))
        {
            // A few rows against B stored k-innermost (one query against a tile of keys, or the query heads of a
            // key/value head): dot products along k read B with whole vectors, four rows at a time with 512-bit
            // vectors, where a panel would cost k*n moves for m rows of work.
            Dots<TV>(m, n, k, alpha, a, aRow, b, bCol, c, cRow, tail);
            return;
        }
        if (bCol != 1 && n > 1)
        {
            // The panel's rows are a whole number of vectors, 64-byte aligned, in this thread's buffer.
            var pitch = (nint)((n + TV.Count - 1) / TV.Count * TV.Count);
            var packed = Panel((long)k * pitch);
            Transposed(k, n, b, bRow, bCol, packed, pitch);
            Rows<TV>(m, n, k, alpha, a, aRow, aCol, packed, pitch, c, cRow, tail);
            return;
        }
        Rows<TV>(m, n, k, alpha, a, aRow, aCol, b, bRow, c, cRow, tail);
    }

    /// <summary>
    /// Columns per panel of a right operand packed by <see cref="Pack{TV}(int, int, float*, nint, nint, float*, int, int)"/>: the width of the widest register tile
    /// the micro-kernel runs with <typeparamref name="TV"/> (four 512-bit vectors, else two 256-bit ones), so that each
    /// tile reads its panel's rows contiguously, one after the other.
    /// </summary>
    public static int PanelColumns<TV>() where TV : unmanaged, ISimdFloat<TV> => TV.Count == 16 ? 64 : 16;

    /// <summary>
    /// True when <see cref="Pack{TV}(int, int, float*, nint, nint, float*, int, int)"/> of a block of <paramref name="columns"/> columns from rows <paramref name="rowStride"/>
    /// apart, its columns <paramref name="columnStride"/> apart, would write the source's own layout: one panel (at most
    /// <see cref="PanelColumns{TV}"/> columns), the columns contiguous and the rows as far apart as the block is wide.
    /// The generated kernels then skip the copy and hand the source to <see cref="RunScaledPanels{TV}"/> (attention's V
    /// at F = 64 with 512-bit vectors: the copy had taken 5% of B1 H8 L512 D64 on two Zen 5 cores).
    /// </summary>
    public static bool PanelsInPlace<TV>(int columns, nint rowStride, nint columnStride) where TV : unmanaged, ISimdFloat<TV> =>
        columnStride == 1 && columns > 0 && rowStride == columns && columns <= PanelColumns<TV>();

    /// <summary>
    /// Packs B (k x n, strides <paramref name="bRow"/> along k and <paramref name="bCol"/> along j) into the panels of
    /// a block of <paramref name="panelRows"/> x <paramref name="panelColumns"/> floats for <see cref="RunPanels{TV}"/>:
    /// panel q holds columns [qW, qW + w) with W = <see cref="PanelColumns{TV}"/> and w = min(W, panelColumns - qW),
    /// as panelRows rows of w floats at <c>packed + qW * panelRows</c>; no padding. B may fill only part of the block
    /// (a partial last tile), which <see cref="RunPanels{TV}"/> then reads with the same layout. A copy
    /// of B made once for every block of rows that reads it (K's tiles in attention) then needs no strip copied per
    /// call: read with a stride, each strip's rows missed L1 at a stall each (6% of attention at
    /// L = 2048, D = 64, one core, in the copy's two loads).
    /// </summary>
    /// <param name="k">B's rows (the summed rank).</param>
    /// <param name="n">B's columns.</param>
    /// <param name="b">B[0, 0].</param>
    /// <param name="bRow">Elements between B[k, j] and B[k+1, j].</param>
    /// <param name="bCol">Elements between B[k, j] and B[k, j+1].</param>
    /// <param name="packed">The block: panelRows * panelColumns floats, not overlapping B.</param>
    /// <param name="panelRows">The block's rows (at least <paramref name="k"/>).</param>
    /// <param name="panelColumns">The block's columns (at least <paramref name="n"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">B does not fit in the block.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack<TV>(int k, int n, float* b, nint bRow, nint bCol, float* packed, int panelRows, int panelColumns) where TV : unmanaged, ISimdFloat<TV>
    {
        if (k > panelRows) throw new ArgumentOutOfRangeException(nameof(k), k, $"The panels hold {panelRows} rows.");
        if (n > panelColumns) throw new ArgumentOutOfRangeException(nameof(n), n, $"The panels hold {panelColumns} columns.");
        if (k <= 0 || n <= 0) return;
        var width = PanelColumns<TV>();
        if (bCol == 1 && width == 16 && n % 16 == 0 && panelColumns >= n)
        {
            // Whole 16-column panels of rows that are contiguous (V's tiles in attention, F = 64, 256-bit vectors): B read
            // row by row, each row's 16-float pieces written to their panels, where a panel at a time read B in passes
            // of one line a row, 256 bytes apart.
            for (var kk = 0; kk < k; kk++)
            {
                var row = b + kk * bRow;
                var to = packed + kk * 16;
                for (var j = 0; j < n; j += 16, to += 16 * (nint)panelRows)
                {
                    Vector256.Store(Vector256.Load(row + j), to);
                    Vector256.Store(Vector256.Load(row + j + 8), to + 8);
                }
            }
            return;
        }
        for (var j = 0; j < n; j += width)
        {
            var w = Math.Min(width, panelColumns - j);
            var panel = packed + (nint)j * panelRows;
            var columns = Math.Min(width, n - j);
            var source = b + j * bCol;
            if (bRow == 1)
                Transpose.Copy(source, bCol, panel, w, columns, k); // B's columns are rows of k floats
            else if (bCol == 1 && columns == 16)
                // A whole 16-column panel (V's tiles in attention): two vectors a row, where a MemoryCopy call per row of
                // 64 bytes took 0.8% of attention (B1 H8 L2048 D64, two cores).
                for (var kk = 0; kk < k; kk++)
                {
                    Vector256.Store(Vector256.Load(source + kk * bRow), panel + kk * w);
                    Vector256.Store(Vector256.Load(source + kk * bRow + 8), panel + kk * w + 8);
                }
            else if (bCol == 1)
                for (var kk = 0; kk < k; kk++) Buffer.MemoryCopy(source + kk * bRow, panel + kk * w, columns * sizeof(float), columns * sizeof(float));
            else
                for (var kk = 0; kk < k; kk++)
                    for (var jj = 0; jj < columns; jj++) panel[kk * w + jj] = source[kk * bRow + jj * bCol];
        }
    }

    /// <summary>
    /// <see cref="Pack{TV}(int, int, float*, nint, nint, float*, int, int)"/> that also multiplies the panels by
    /// <paramref name="factor"/> where <see cref="FactorFoldsIntoPanels"/> allows it: a contraction's factor that is the
    /// same everywhere (attention's rsqrt(E) log2(e)) is then applied once per element of B, as it is copied, instead of
    /// to every sum as the micro-kernel stores it (twelve multiplies a 6 x 16 tile, on the FMA pipes). The products then
    /// run with a factor of <c>FactorFoldsIntoPanels(factor) ? 1 : factor</c>; the results differ by float rounding.
    /// </summary>
    /// <param name="k">B's rows (the summed rank).</param>
    /// <param name="n">B's columns.</param>
    /// <param name="b">B[0, 0].</param>
    /// <param name="bRow">Elements between B[k, j] and B[k+1, j].</param>
    /// <param name="bCol">Elements between B[k, j] and B[k, j+1].</param>
    /// <param name="packed">The block: panelRows * panelColumns floats, not overlapping B.</param>
    /// <param name="panelRows">The block's rows (at least <paramref name="k"/>).</param>
    /// <param name="panelColumns">The block's columns (at least <paramref name="n"/>).</param>
    /// <param name="factor">The contraction's factor.</param>
    /// <exception cref="ArgumentOutOfRangeException">B does not fit in the block.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack<TV>(int k, int n, float* b, nint bRow, nint bCol, float* packed, int panelRows, int panelColumns, float factor) where TV : unmanaged, ISimdFloat<TV>
    {
        Pack<TV>(k, n, b, bRow, bCol, packed, panelRows, panelColumns);
        if (!FactorFoldsIntoPanels(factor) || factor == 1f || k <= 0 || n <= 0) return;
        var width = PanelColumns<TV>();
        var f = TV.Create(factor);
        for (var j = 0; j < n; j += width)
        {
            var w = Math.Min(width, panelColumns - j);
            var columns = Math.Min(width, n - j);
            var panel = packed + (nint)j * panelRows;
            // The panel just written, still in L1: its rows are contiguous where it is whole.
            var (rows, count, pitch) = columns == w ? (1, k * w, 0) : (k, columns, w);
            for (var r = 0; r < rows; r++)
            {
                var row = panel + (nint)r * pitch;
                var i = 0;
                for (; i <= count - TV.Count; i += TV.Count) TV.Store(row + i, TV.Load(row + i) * f);
                for (; i < count; i++) row[i] *= factor;
            }
        }
    }

    /// <summary>
    /// Whether <see cref="Pack{TV}(int, int, float*, nint, nint, float*, int, int, float)"/> applies
    /// <paramref name="factor"/> to the panels: where it is finite and at most 1 in magnitude, so that no packed value
    /// overflows where the scaled sum would not. Otherwise the products apply it as before.
    /// </summary>
    public static bool FactorFoldsIntoPanels(float factor) => float.IsFinite(factor) && Math.Abs(factor) <= 1f;

    /// <summary><see cref="RunScaledPanels{TV}"/> without a running sum: <c>C = alpha * A * B</c>, B in panels.</summary>
    /// <inheritdoc cref="RunScaledPanels{TV}" path="/param"/>
    public static void RunPanels<TV>(int m, int n, int k, float alpha, float* a, nint aRow, nint aCol, float* panels, int panelRows, int panelColumns, float* c, nint cRow)
        where TV : unmanaged, ISimdFloat<TV> =>
        RunScaledPanels<TV>(m, n, k, alpha, a, aRow, aCol, panels, panelRows, panelColumns, c, cRow, null, 0, null, 0);

    /// <summary>
    /// <see cref="RunScaled{TV}"/> with B packed by <see cref="Pack{TV}(int, int, float*, nint, nint, float*, int, int)"/> into a block of panelRows x panelColumns:
    /// each panel is read in place, with its rows contiguous, by every tile of rows. The sums are those of
    /// <see cref="RunScaled{TV}"/> bit for bit (each runs in k order either way).
    /// </summary>
    /// <param name="n">Columns of C, at most <paramref name="panelColumns"/>.</param>
    /// <param name="k">The extent of the summed rank, at most <paramref name="panelRows"/>.</param>
    /// <param name="panels">B as <see cref="Pack{TV}(int, int, float*, nint, nint, float*, int, int)"/> wrote it.</param>
    /// <param name="panelRows">The rows of the block B was packed into (the layout of its panels; the sum may take fewer).</param>
    /// <param name="panelColumns">The columns of that block (C may take fewer).</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="alpha">A factor applied to every sum.</param>
    /// <param name="a">A[0, 0].</param>
    /// <param name="aRow">A's row stride.</param>
    /// <param name="aCol">A's stride along k.</param>
    /// <param name="c">C[0, 0].</param>
    /// <param name="cRow">C's row stride (j is contiguous).</param>
    /// <param name="c0">C0[0, 0], the sum's previous value (may not overlap C unless it is C), or null.</param>
    /// <param name="c0Row">Elements between C0[i, j] and C0[i+1, j]; j is contiguous.</param>
    /// <param name="scale">The factor of row 0.</param>
    /// <param name="scaleStride">Elements between the factors of rows i and i+1 (0: one factor for all rows).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> or <paramref name="n"/> is more than the block holds.</exception>
    public static void RunScaledPanels<TV>(int m, int n, int k, float alpha, float* a, nint aRow, nint aCol, float* panels, int panelRows, int panelColumns, float* c, nint cRow,
        float* c0, nint c0Row, float* scale, nint scaleStride)
        where TV : unmanaged, ISimdFloat<TV>
    {
        if (k > panelRows) throw new ArgumentOutOfRangeException(nameof(k), k, $"The panels hold {panelRows} rows.");
        if (n > panelColumns) throw new ArgumentOutOfRangeException(nameof(n), n, $"The panels hold {panelColumns} columns.");
        if (m <= 0 || n <= 0) return;
        var width = PanelColumns<TV>();
        for (var j = 0; j < n; j += width)
            RunScaled<TV>(m, Math.Min(width, n - j), k, alpha, a, aRow, aCol, panels + (nint)j * panelRows, Math.Min(width, panelColumns - j), 1,
                c + j, cRow, c0 == null ? null : c0 + j, c0Row, scale, scaleStride);
    }

    /// <summary>
    /// <see cref="Run{TV}"/> that also takes each row's maximum of C: <c>rowMax[i * rowMaxStride] = max_j C[i, j]</c>,
    /// exactly what <see cref="Sweep.Max{TV}(float*, nint, int, int, float*, nint)"/> gives over the stored rows (a NaN anywhere in a row gives NaN; a
    /// maximum of zero has the sign that sweep gives it). A row maximum after a contraction (attention's
    /// <c>LM = max[m0] BQK</c>) folded into the product, so that the rows are not read again.
    /// </summary>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The extent of the summed rank.</param>
    /// <param name="alpha">A factor applied to every sum.</param>
    /// <param name="a">A[0, 0].</param>
    /// <param name="aRow">A's row stride.</param>
    /// <param name="aCol">A's stride along k.</param>
    /// <param name="b">B[0, 0].</param>
    /// <param name="bRow">B's stride along k.</param>
    /// <param name="bCol">B's stride along j.</param>
    /// <param name="c">C[0, 0].</param>
    /// <param name="cRow">C's row stride (j is contiguous).</param>
    /// <param name="rowMax">The maximum of row 0.</param>
    /// <param name="rowMaxStride">Elements between the maxima of rows i and i+1.</param>
    public static void RunMax<TV>(int m, int n, int k, float alpha, float* a, nint aRow, nint aCol, float* b, nint bRow, nint bCol, float* c, nint cRow, float* rowMax, nint rowMaxStride)
        where TV : unmanaged, ISimdFloat<TV>
    {
        RunScaled<TV>(m, n, k, alpha, a, aRow, aCol, b, bRow, bCol, c, cRow, null, 0, null, 0);
        if (m > 0) Sweep.Max<TV>(c, cRow, m, Math.Max(n, 0), rowMax, rowMaxStride);
    }

    /// <summary>
    /// <see cref="RunPanels{TV}"/> that also takes each row's maximum of C, as <see cref="RunMax{TV}"/> does. With 256-bit
    /// vectors and whole 16-column panels, the six-row tiles fold their sums into each row's running maximum as they
    /// store them (one vmaxps and one unordered compare a row, into a thread buffer of 16 floats a row), so that only the
    /// rows with a NaN or a maximum of zero are read again; with AVX-512 and whole 64-column panels, the same from
    /// <see cref="Wide6{TV, TStore}"/>'s four vectors a row, folded to eight lanes (the sweep after the product had taken 1.7% of
    /// attention's time at B1 H8 L2048 D64 on Zen 5); otherwise the rows are swept after the product.
    /// </summary>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The extent of the summed rank.</param>
    /// <param name="alpha">A factor applied to every sum.</param>
    /// <param name="a">A[0, 0].</param>
    /// <param name="aRow">A's row stride.</param>
    /// <param name="aCol">A's stride along k.</param>
    /// <param name="panels">B as <see cref="Pack{TV}(int, int, float*, nint, nint, float*, int, int)"/> wrote it.</param>
    /// <param name="panelRows">The rows of the block B was packed into.</param>
    /// <param name="panelColumns">The columns of that block.</param>
    /// <param name="c">C[0, 0].</param>
    /// <param name="cRow">C's row stride (j is contiguous).</param>
    /// <param name="rowMax">The maximum of row 0.</param>
    /// <param name="rowMaxStride">Elements between the maxima of rows i and i+1.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunPanelsMax<TV>(int m, int n, int k, float alpha, float* a, nint aRow, nint aCol, float* panels, int panelRows, int panelColumns, float* c, nint cRow,
        float* rowMax, nint rowMaxStride)
        where TV : unmanaged, ISimdFloat<TV>
    {
        if (k > panelRows) throw new ArgumentOutOfRangeException(nameof(k), k, $"The panels hold {panelRows} rows.");
        if (n > panelColumns) throw new ArgumentOutOfRangeException(nameof(n), n, $"The panels hold {panelColumns} columns.");
        if (m <= 0) return;
        var tiled = m / RowTile * RowTile;
        var pairs = typeof(TV) == typeof(V256) && tiled >= 2 * RowTile && n > 0 && n % 16 == 0 && k > 0 && Avx.IsSupported;
        var wide = typeof(TV) == typeof(V512) && tiled > 0 && n > 0 && n % 64 == 0 && k > 0 && Avx512F.IsSupported;
        if (!pairs && !wide)
        {
            RunScaledPanels<TV>(m, n, k, alpha, a, aRow, aCol, panels, panelRows, panelColumns, c, cRow, null, 0, null, 0);
            Sweep.Max<TV>(c, cRow, m, Math.Max(n, 0), rowMax, rowMaxStride);
            return;
        }
        // Per row: eight running maxima, then eight NaN flags (the first strip writes them).
        var partial = RowMaxima(16L * tiled);
        if (pairs)
            for (var j = 0; j < n; j += 16)
                Pairs6<TV>(j, tiled, k, &alpha, a, aRow, aCol, panels + (nint)j * panelRows, 16, c + j, cRow, default, false, partial);
        else
        {
            // Sixteen running maxima a row and one NaN flag for them all, then folded to the layout of the pairs.
            var nan = false;
            for (var j = 0; j < n; j += 64)
                for (var i = 0; i < tiled; i += RowTile)
                    nan |= Wide6<TV, FoldMaxima>(j, k, alpha, a + i * aRow, aRow, aCol, panels + (nint)j * panelRows, 64, c + i * cRow + j, cRow, default, partial + 16 * i, j == 0);
            var flags = nan ? Vector256<float>.AllBitsSet : Vector256<float>.Zero;
            for (var i = 0; i < tiled; i++)
            {
                var most = Vector512.Load(partial + 16 * i);
                Avx.Max(most.GetLower(), most.GetUpper()).Store(partial + 16 * i);
                flags.Store(partial + 16 * i + 8);
            }
        }
        if (tiled < m)
            RunScaledPanels<TV>(m - tiled, n, k, alpha, a + tiled * aRow, aRow, aCol, panels, panelRows, panelColumns, c + tiled * cRow, cRow, null, 0, null, 0);
        var r = 0;
        for (; r + 8 <= tiled; r += 8)
        {
            // Eight rows' lanes reduced together; a row with a NaN or a maximum of zero (whose sign depends on the order
            // of the folds) is taken again by its own sweep.
            var most = MaxAcross8(partial + 16 * r, 16);
            var flags = Vector256.Load(partial + 16 * r + 8);
            for (var q = 1; q < 8; q++) flags = Avx.Or(flags, Vector256.Load(partial + 16 * (r + q) + 8));
            var zeros = Avx.MoveMask(Avx.CompareEqual(most, Vector256<float>.Zero));
            if (rowMaxStride == 1) most.Store(rowMax + r);
            else
                for (var q = 0; q < 8; q++) rowMax[(r + q) * rowMaxStride] = most.GetElement(q);
            if (zeros != 0 || !Avx.TestZ(flags, flags))
                for (var q = 0; q < 8; q++)
                {
                    var f = Vector256.Load(partial + 16 * (r + q) + 8);
                    if ((zeros & (1 << q)) != 0 || !Avx.TestZ(f, f)) rowMax[(r + q) * rowMaxStride] = Sweep.Max<TV>(c + (r + q) * cRow, n);
                }
        }
        for (; r < tiled; r++)
        {
            var flags = Vector256.Load(partial + 16 * r + 8);
            var most = V256.MaxAcross(new V256(Vector256.Load(partial + 16 * r)));
            rowMax[r * rowMaxStride] = Avx.TestZ(flags, flags) && most != 0f ? most : Sweep.Max<TV>(c + r * cRow, n);
        }
        if (tiled < m) Sweep.Max<TV>(c + tiled * cRow, cRow, m - tiled, n, rowMax + tiled * rowMaxStride, rowMaxStride);
    }

    /// <summary>The maxima across the lanes of eight vectors <paramref name="pitch"/> floats apart, lane q of the result
    /// row q's: pairs unpacked and folded, then quads, then the halves (21 operations, where one row at a time took 6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MaxAcross8(float* rows, nint pitch)
    {
        Vector256<float> Pair(float* x)
        {
            var u = Vector256.Load(x);
            var v = Vector256.Load(x + pitch);
            // Per 128-bit half: (u0 u2 v0 v2) and (u1 u3 v1 v3) folded: u's two maxima, v's two, interleaved.
            return Avx.Max(Avx.UnpackLow(u, v), Avx.UnpackHigh(u, v));
        }
        var t01 = Pair(rows);
        var t23 = Pair(rows + 2 * pitch);
        var t45 = Pair(rows + 4 * pitch);
        var t67 = Pair(rows + 6 * pitch);
        // Per half: rows 0-3 (4-7), each the maximum of its half's four lanes.
        var u0 = Avx.Max(Avx.Shuffle(t01, t23, 0x44), Avx.Shuffle(t01, t23, 0xEE));
        var u1 = Avx.Max(Avx.Shuffle(t45, t67, 0x44), Avx.Shuffle(t45, t67, 0xEE));
        return Avx.Max(Avx.Permute2x128(u0, u1, 0x20), Avx.Permute2x128(u0, u1, 0x31));
    }

    [ThreadStatic] private static float* t_rowMaxima;
    [ThreadStatic] private static long t_rowMaximaFloats;

    /// <summary>This thread's buffer of running row maxima for <see cref="RunPanelsMax{TV}"/>.</summary>
    private static float* RowMaxima(long floats) => Grown(ref t_rowMaxima, ref t_rowMaximaFloats, floats);

    /// <summary>B read along k (contiguous when B is stored k-innermost) and written to the panel along j (compiled
    /// optimised at once: a scalar double loop of k*n moves ran at tier 0 for the first calls of RunScaled).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transposed(int k, int n, float* b, nint bRow, nint bCol, float* packed, nint pitch)
    {
        if (bRow == 1)
        {
            // B's columns are contiguous rows of k floats: 8 x 8 blocks through registers, where the scalar loop wrote
            // one float per panel row per step.
            Transpose.Copy(b, bCol, packed, pitch, n, k);
            return;
        }
        for (var j = 0; j < n; j++)
        {
            var source = b + j * bCol;
            var target = packed + j;
            for (var kk = 0; kk < k; kk++) target[kk * pitch] = source[kk * bRow];
        }
    }

    /// <summary>This thread's panel: 64-byte aligned, at least <paramref name="floats"/> long, kept between calls (the
    /// worker threads live as long as the process).</summary>
    private static float* Panel(long floats) => Grown(ref t_panel, ref t_panelFloats, floats);

    /// <summary><paramref name="buffer"/> (of <paramref name="size"/> floats, 64-byte aligned) made at least
    /// <paramref name="floats"/> long.</summary>
    private static float* Grown(ref float* buffer, ref long size, long floats)
    {
        if (size < floats)
        {
            if (buffer != null) NativeMemory.AlignedFree(buffer);
            size = Math.Max(floats, 4096);
            buffer = (float*)NativeMemory.AlignedAlloc((nuint)(size * sizeof(float)), 64);
        }
        return buffer;
    }

    /// <summary><c>C[i, j] = alpha * dot(A[i, :], B[:, j])</c> with both contiguous along k: two rows by four columns at a
    /// time (eight vector accumulators, six loads for eight FMAs, each column of B read once for both rows), then the rest
    /// row by row; then the lanes, then the last k % width terms.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dots<TV>(int m, int n, int k, float alpha, float* a, nint aRow, float* b, nint bCol, float* c, nint cRow, Epilogue tail)
        where TV : unmanaged, ISimdFloat<TV>
    {
        if (typeof(TV) == typeof(V256))
        {
            DotsByKey<TV>(m, n, k, alpha, a, aRow, b, bCol, c, cRow, tail);
            return;
        }
        var i = 0;
        // 512-bit vectors come with 32 registers: four rows by four columns (sixteen accumulators), so that the query
        // heads of a grouped key/value head read each key once (two rows at a time read the tile of keys twice).
        if (TV.Count == 16)
            for (; i + 4 <= m; i += 4)
            {
                var j = 0;
                for (; j + 4 <= n; j += 4)
                {
                    var t = new Quad<TV>(a + i * aRow, aRow, b + j * bCol, bCol, k);
                    for (var r = 0; r < 4; r++)
                    for (var col = 0; col < 4; col++)
                        c[(i + r) * cRow + j + col] = tail.Apply(i + r, j + col, alpha * t[r, col]);
                }
                for (var r = 0; r < 4; r++) DotRow<TV>(i + r, j, n, k, alpha, a, aRow, b, bCol, c, cRow, tail);
            }
        for (; i + 2 <= m; i += 2)
        {
            float* row0 = a + i * aRow, row1 = row0 + aRow;
            var j = 0;
            for (; j + 4 <= n; j += 4)
            {
                float* b0 = b + j * bCol, b1 = b0 + bCol, b2 = b1 + bCol, b3 = b2 + bCol;
                float* ahead = b + (j + 8) * bCol;
                TV s00 = TV.Create(0f), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
                var kk = 0;
                for (; kk + TV.Count <= k; kk += TV.Count)
                {
                    Prefetch4(ahead + kk, bCol);
                    var x0 = TV.Load(row0 + kk);
                    var x1 = TV.Load(row1 + kk);
                    var y = TV.Load(b0 + kk);
                    s00 = TV.MultiplyAdd(x0, y, s00);
                    s10 = TV.MultiplyAdd(x1, y, s10);
                    y = TV.Load(b1 + kk);
                    s01 = TV.MultiplyAdd(x0, y, s01);
                    s11 = TV.MultiplyAdd(x1, y, s11);
                    y = TV.Load(b2 + kk);
                    s02 = TV.MultiplyAdd(x0, y, s02);
                    s12 = TV.MultiplyAdd(x1, y, s12);
                    y = TV.Load(b3 + kk);
                    s03 = TV.MultiplyAdd(x0, y, s03);
                    s13 = TV.MultiplyAdd(x1, y, s13);
                }
                float t00 = TV.SumAcross(s00), t01 = TV.SumAcross(s01), t02 = TV.SumAcross(s02), t03 = TV.SumAcross(s03);
                float t10 = TV.SumAcross(s10), t11 = TV.SumAcross(s11), t12 = TV.SumAcross(s12), t13 = TV.SumAcross(s13);
                for (; kk < k; kk++)
                {
                    float x0 = row0[kk], x1 = row1[kk];
                    t00 = MathF.FusedMultiplyAdd(x0, b0[kk], t00); t10 = MathF.FusedMultiplyAdd(x1, b0[kk], t10);
                    t01 = MathF.FusedMultiplyAdd(x0, b1[kk], t01); t11 = MathF.FusedMultiplyAdd(x1, b1[kk], t11);
                    t02 = MathF.FusedMultiplyAdd(x0, b2[kk], t02); t12 = MathF.FusedMultiplyAdd(x1, b2[kk], t12);
                    t03 = MathF.FusedMultiplyAdd(x0, b3[kk], t03); t13 = MathF.FusedMultiplyAdd(x1, b3[kk], t13);
                }
                float* c0 = c + i * cRow + j, c1 = c0 + cRow;
                c0[0] = tail.Apply(i, j, alpha * t00); c0[1] = tail.Apply(i, j + 1, alpha * t01);
                c0[2] = tail.Apply(i, j + 2, alpha * t02); c0[3] = tail.Apply(i, j + 3, alpha * t03);
                c1[0] = tail.Apply(i + 1, j, alpha * t10); c1[1] = tail.Apply(i + 1, j + 1, alpha * t11);
                c1[2] = tail.Apply(i + 1, j + 2, alpha * t12); c1[3] = tail.Apply(i + 1, j + 3, alpha * t13);
            }
            DotRow<TV>(i, j, n, k, alpha, a, aRow, b, bCol, c, cRow, tail);
            DotRow<TV>(i + 1, j, n, k, alpha, a, aRow, b, bCol, c, cRow, tail);
        }
        for (; i < m; i++) DotRow<TV>(i, 0, n, k, alpha, a, aRow, b, bCol, c, cRow, tail);
    }

    /// <summary>
    /// <see cref="Dots{TV}"/> with 256-bit vectors: one column of B (a key) at a time, read from its start to its end,
    /// against every row: four rows at a time with two accumulators each (the column's vectors loaded once for the four,
    /// the four sums folded by three horizontal adds), then single rows with four; the key sixteen columns ahead is asked
    /// for as the column starts. Read out of memory, columns in order are one sequential stream. Measured on one Zen 3
    /// core, tiles of 256 keys at D = 128 out of a 32 MB cache: four query rows 8-9 -> 15-17 GB/s (two rows by four
    /// columns read each column twice, as four streams 512 bytes apart), one row 11-12 -> 16; a vector sum reads 15-19.
    /// Over <see cref="Vector256{T}"/> in a method of its own, as <see cref="Pairs6{TV}"/>: through the V256 wrapper each
    /// product was a load, a vfmadd213ps and a register move.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotsByKey<TV>(int m, int n, int k, float alpha, float* a, nint aRow, float* b, nint bCol, float* c, nint cRow, Epilogue tail)
        where TV : unmanaged, ISimdFloat<TV>
    {
        const int w = 8;
        for (var j = 0; j < n; j++)
        {
            var column = b + j * bCol;
            PrefetchSpan(column + 16 * bCol, k);
            var i = 0;
            for (; i + 4 <= m; i += 4)
            {
                var sums = Dot4(k, a + i * aRow, aRow, column) * alpha;
                var ci = c + i * cRow + j;
                if (tail.None)
                {
                    ci[0] = sums.GetElement(0); ci[cRow] = sums.GetElement(1); ci[2 * cRow] = sums.GetElement(2); ci[3 * cRow] = sums.GetElement(3);
                }
                else
                    for (var r = 0; r < 4; r++) ci[r * cRow] = tail.Apply(i + r, j, sums.GetElement(r));
            }
            for (; i < m; i++)
            {
                var row = a + i * aRow;
                Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
                var kk = 0;
                for (; kk + 4 * w <= k; kk += 4 * w)
                {
                    s0 = Compat256.FusedMultiplyAdd(Vector256.Load(row + kk), Vector256.Load(column + kk), s0);
                    s1 = Compat256.FusedMultiplyAdd(Vector256.Load(row + kk + w), Vector256.Load(column + kk + w), s1);
                    s2 = Compat256.FusedMultiplyAdd(Vector256.Load(row + kk + 2 * w), Vector256.Load(column + kk + 2 * w), s2);
                    s3 = Compat256.FusedMultiplyAdd(Vector256.Load(row + kk + 3 * w), Vector256.Load(column + kk + 3 * w), s3);
                }
                for (; kk + w <= k; kk += w) s0 = Compat256.FusedMultiplyAdd(Vector256.Load(row + kk), Vector256.Load(column + kk), s0);
                var d = Vector256.Sum((s0 + s1) + (s2 + s3));
                for (; kk < k; kk++) d = MathF.FusedMultiplyAdd(row[kk], column[kk], d);
                c[i * cRow + j] = tail.Apply(i, j, alpha * d);
            }
        }
    }

    /// <summary>The dot products of four rows of A (<paramref name="aRow"/> apart) with one column of B, all contiguous
    /// along k, as lanes 0-3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Dot4(int k, float* r0, nint aRow, float* column)
    {
        const int w = 8;
        float* r2 = r0 + 2 * aRow;
        Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        var kk = 0;
        for (; kk + 2 * w <= k; kk += 2 * w)
        {
            var y = Vector256.Load(column + kk);
            var z = Vector256.Load(column + kk + w);
            s0 = Compat256.FusedMultiplyAdd(Vector256.Load(r0 + kk), y, s0); t0 = Compat256.FusedMultiplyAdd(Vector256.Load(r0 + kk + w), z, t0);
            s1 = Compat256.FusedMultiplyAdd(Vector256.Load(r0 + aRow + kk), y, s1); t1 = Compat256.FusedMultiplyAdd(Vector256.Load(r0 + aRow + kk + w), z, t1);
            s2 = Compat256.FusedMultiplyAdd(Vector256.Load(r2 + kk), y, s2); t2 = Compat256.FusedMultiplyAdd(Vector256.Load(r2 + kk + w), z, t2);
            s3 = Compat256.FusedMultiplyAdd(Vector256.Load(r2 + aRow + kk), y, s3); t3 = Compat256.FusedMultiplyAdd(Vector256.Load(r2 + aRow + kk + w), z, t3);
        }
        if (kk + w <= k)
        {
            var y = Vector256.Load(column + kk);
            s0 = Compat256.FusedMultiplyAdd(Vector256.Load(r0 + kk), y, s0); s1 = Compat256.FusedMultiplyAdd(Vector256.Load(r0 + aRow + kk), y, s1);
            s2 = Compat256.FusedMultiplyAdd(Vector256.Load(r2 + kk), y, s2); s3 = Compat256.FusedMultiplyAdd(Vector256.Load(r2 + aRow + kk), y, s3);
            kk += w;
        }
        var sums = SumAcross4(s0 + t0, s1 + t1, s2 + t2, s3 + t3);
        for (; kk < k; kk++)
        {
            var y = Vector128.Create(column[kk]);
            sums = Compat128.FusedMultiplyAdd(Vector128.Create(r0[kk], r0[aRow + kk], r2[kk], r2[aRow + kk]), y, sums);
        }
        return sums;
    }

    /// <summary>[sum of x0's lanes, x1's, x2's, x3's]: three horizontal adds and one add of halves with AVX (28
    /// operations as four <see cref="Vector256.Sum{T}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> SumAcross4(Vector256<float> x0, Vector256<float> x1, Vector256<float> x2, Vector256<float> x3)
    {
        if (System.Runtime.Intrinsics.X86.Avx.IsSupported)
        {
            var h = System.Runtime.Intrinsics.X86.Avx.HorizontalAdd(
                System.Runtime.Intrinsics.X86.Avx.HorizontalAdd(x0, x1), System.Runtime.Intrinsics.X86.Avx.HorizontalAdd(x2, x3));
            return h.GetLower() + h.GetUpper();
        }
        return Vector128.Create(Vector256.Sum(x0), Vector256.Sum(x1), Vector256.Sum(x2), Vector256.Sum(x3));
    }

    /// <summary>The sixteen dot products of four rows of A with four columns of B (both contiguous along k).</summary>
    [System.Runtime.CompilerServices.InlineArray(16)]
    private struct Sums16 { private float _first; }

    private readonly ref struct Quad<TV> where TV : unmanaged, ISimdFloat<TV>
    {
        private readonly Sums16 _sums;

        public float this[int row, int column] => _sums[row * 4 + column];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Quad(float* a, nint aRow, float* b, nint bCol, int k)
        {
            float* row0 = a, row1 = a + aRow, row2 = a + 2 * aRow, row3 = a + 3 * aRow;
            float* b0 = b, b1 = b + bCol, b2 = b + 2 * bCol, b3 = b + 3 * bCol;
            float* ahead = b + 16 * bCol;
            TV s00 = TV.Create(0f), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
            TV s20 = s00, s21 = s00, s22 = s00, s23 = s00, s30 = s00, s31 = s00, s32 = s00, s33 = s00;
            var kk = 0;
            for (; kk + TV.Count <= k; kk += TV.Count)
            {
                Prefetch4(ahead + kk, bCol);
                var x0 = TV.Load(row0 + kk);
                var x1 = TV.Load(row1 + kk);
                var x2 = TV.Load(row2 + kk);
                var x3 = TV.Load(row3 + kk);
                var y = TV.Load(b0 + kk);
                s00 = TV.MultiplyAdd(x0, y, s00); s10 = TV.MultiplyAdd(x1, y, s10); s20 = TV.MultiplyAdd(x2, y, s20); s30 = TV.MultiplyAdd(x3, y, s30);
                y = TV.Load(b1 + kk);
                s01 = TV.MultiplyAdd(x0, y, s01); s11 = TV.MultiplyAdd(x1, y, s11); s21 = TV.MultiplyAdd(x2, y, s21); s31 = TV.MultiplyAdd(x3, y, s31);
                y = TV.Load(b2 + kk);
                s02 = TV.MultiplyAdd(x0, y, s02); s12 = TV.MultiplyAdd(x1, y, s12); s22 = TV.MultiplyAdd(x2, y, s22); s32 = TV.MultiplyAdd(x3, y, s32);
                y = TV.Load(b3 + kk);
                s03 = TV.MultiplyAdd(x0, y, s03); s13 = TV.MultiplyAdd(x1, y, s13); s23 = TV.MultiplyAdd(x2, y, s23); s33 = TV.MultiplyAdd(x3, y, s33);
            }
            if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported && typeof(TV) == typeof(V512))
            {
                // The sixteen sums at once: halves, then quarters, then the lanes of four vectors together.
                var sums = SumAcross16(
                    SumHalves(As(s00), As(s10)), SumHalves(As(s20), As(s30)), SumHalves(As(s01), As(s11)), SumHalves(As(s21), As(s31)),
                    SumHalves(As(s02), As(s12)), SumHalves(As(s22), As(s32)), SumHalves(As(s03), As(s13)), SumHalves(As(s23), As(s33)));
                fixed (float* sp = &_sums[0]) sums.Store(sp);
            }
            else
            {
                _sums[0] = TV.SumAcross(s00); _sums[1] = TV.SumAcross(s01); _sums[2] = TV.SumAcross(s02); _sums[3] = TV.SumAcross(s03);
                _sums[4] = TV.SumAcross(s10); _sums[5] = TV.SumAcross(s11); _sums[6] = TV.SumAcross(s12); _sums[7] = TV.SumAcross(s13);
                _sums[8] = TV.SumAcross(s20); _sums[9] = TV.SumAcross(s21); _sums[10] = TV.SumAcross(s22); _sums[11] = TV.SumAcross(s23);
                _sums[12] = TV.SumAcross(s30); _sums[13] = TV.SumAcross(s31); _sums[14] = TV.SumAcross(s32); _sums[15] = TV.SumAcross(s33);
            }
            for (; kk < k; kk++)
            {
                float x0 = row0[kk], x1 = row1[kk], x2 = row2[kk], x3 = row3[kk], y0 = b0[kk], y1 = b1[kk], y2 = b2[kk], y3 = b3[kk];
                _sums[0] = MathF.FusedMultiplyAdd(x0, y0, _sums[0]); _sums[1] = MathF.FusedMultiplyAdd(x0, y1, _sums[1]); _sums[2] = MathF.FusedMultiplyAdd(x0, y2, _sums[2]); _sums[3] = MathF.FusedMultiplyAdd(x0, y3, _sums[3]);
                _sums[4] = MathF.FusedMultiplyAdd(x1, y0, _sums[4]); _sums[5] = MathF.FusedMultiplyAdd(x1, y1, _sums[5]); _sums[6] = MathF.FusedMultiplyAdd(x1, y2, _sums[6]); _sums[7] = MathF.FusedMultiplyAdd(x1, y3, _sums[7]);
                _sums[8] = MathF.FusedMultiplyAdd(x2, y0, _sums[8]); _sums[9] = MathF.FusedMultiplyAdd(x2, y1, _sums[9]); _sums[10] = MathF.FusedMultiplyAdd(x2, y2, _sums[10]); _sums[11] = MathF.FusedMultiplyAdd(x2, y3, _sums[11]);
                _sums[12] = MathF.FusedMultiplyAdd(x3, y0, _sums[12]); _sums[13] = MathF.FusedMultiplyAdd(x3, y1, _sums[13]); _sums[14] = MathF.FusedMultiplyAdd(x3, y2, _sums[14]); _sums[15] = MathF.FusedMultiplyAdd(x3, y3, _sums[15]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> As<TV>(TV value) where TV : unmanaged => Unsafe.As<TV, Vector512<float>>(ref value);

    /// <summary>[x's 256-bit halves added, y's 256-bit halves added]: two sums' partial vectors in one register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SumHalves(Vector512<float> x, Vector512<float> y) =>
        System.Runtime.Intrinsics.X86.Avx512F.Shuffle4x128(x, y, 0b01_00_01_00) + System.Runtime.Intrinsics.X86.Avx512F.Shuffle4x128(x, y, 0b11_10_11_10);

    /// <summary>
    /// The sixteen sums of the vectors whose halves <see cref="SumHalves"/> paired as (v0, v1), (v2, v3), ..., (v14, v15)
    /// into p0 ... p7: lane 4r + c of the result is the sum of v(4c + r)'s sixteen lanes, so the vectors of a quad given
    /// column by column come out row by row. 45 operations where sixteen horizontal sums take 128.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SumAcross16(
        Vector512<float> p0, Vector512<float> p1, Vector512<float> p2, Vector512<float> p3,
        Vector512<float> p4, Vector512<float> p5, Vector512<float> p6, Vector512<float> p7)
    {
        // Quarters: lane q of w holds v(4t + q)'s four-float partial sum, for w = w0 ... w3 and t its number.
        static Vector512<float> Quarters(Vector512<float> a, Vector512<float> b) =>
            System.Runtime.Intrinsics.X86.Avx512F.Shuffle4x128(a, b, 0b10_00_10_00) + System.Runtime.Intrinsics.X86.Avx512F.Shuffle4x128(a, b, 0b11_01_11_01);
        var w0 = Quarters(p0, p1);
        var w1 = Quarters(p2, p3);
        var w2 = Quarters(p4, p5);
        var w3 = Quarters(p6, p7);
        // Within each 128-bit lane: the four floats of w0 ... w3 added, w_t's total at position t.
        var x01 = System.Runtime.Intrinsics.X86.Avx512F.UnpackLow(w0, w1) + System.Runtime.Intrinsics.X86.Avx512F.UnpackHigh(w0, w1);
        var x23 = System.Runtime.Intrinsics.X86.Avx512F.UnpackLow(w2, w3) + System.Runtime.Intrinsics.X86.Avx512F.UnpackHigh(w2, w3);
        var lo = System.Runtime.Intrinsics.X86.Avx512F.UnpackLow(x01.AsDouble(), x23.AsDouble()).AsSingle();
        var hi = System.Runtime.Intrinsics.X86.Avx512F.UnpackHigh(x01.AsDouble(), x23.AsDouble()).AsSingle();
        return lo + hi;
    }

    /// <summary>
    /// Asks for the cache lines at <paramref name="p"/> in four rows <paramref name="stride"/> apart: the dot products ask
    /// for the keys eight columns ahead (4 KB at D = 128; the quads of 512-bit widths sixteen, 8 KB), so that reading a key
    /// tile from memory overlaps the arithmetic on the one before (the next tile's first keys follow the last ones in
    /// memory); a prefetch never faults, so an address past the end of B is harmless. Measured on a decode step (4 query
    /// heads per key/value head, 8192 keys, D = 128): 2.19-2.29 ms instead of 2.53-2.66 ms with eight columns; sixteen,
    /// with V's rows asked for whole by <see cref="Tile4{TV}"/>, 0.95-1.09 ms where eight took 1.34-1.37.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch4(float* p, nint stride)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        System.Runtime.Intrinsics.X86.Sse.Prefetch0(p);
        System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + stride);
        System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + 2 * stride);
        System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + 3 * stride);
    }

    /// <summary>Asks for the cache lines of <paramref name="floats"/> floats from <paramref name="p"/> (a prefetch never faults).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchSpan(float* p, int floats)
    {
        if (!System.Runtime.Intrinsics.X86.Sse.IsSupported) return;
        for (var l = 0; l < floats; l += 16) System.Runtime.Intrinsics.X86.Sse.Prefetch0(p + l);
    }

    /// <summary>Columns [j, n) of row i of <see cref="Dots"/>: four columns at a time with a vector accumulator each (the
    /// rest one at a time with two).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotRow<TV>(int i, int j, int n, int k, float alpha, float* a, nint aRow, float* b, nint bCol, float* c, nint cRow, Epilogue tail)
        where TV : unmanaged, ISimdFloat<TV>
    {
        var row = a + i * aRow;
        // Four columns at a time: four independent streams of B in flight, one load of A for all of them.
        for (; j + 4 <= n; j += 4)
        {
            float* b0 = b + j * bCol, b1 = b0 + bCol, b2 = b1 + bCol, b3 = b2 + bCol;
            float* ahead = b + (j + 8) * bCol;
            TV s0 = TV.Create(0f), s1 = s0, s2 = s0, s3 = s0;
            var kk = 0;
            for (; kk + TV.Count <= k; kk += TV.Count)
            {
                Prefetch4(ahead + kk, bCol);
                var x = TV.Load(row + kk);
                s0 = TV.MultiplyAdd(x, TV.Load(b0 + kk), s0);
                s1 = TV.MultiplyAdd(x, TV.Load(b1 + kk), s1);
                s2 = TV.MultiplyAdd(x, TV.Load(b2 + kk), s2);
                s3 = TV.MultiplyAdd(x, TV.Load(b3 + kk), s3);
            }
            float t0 = TV.SumAcross(s0), t1 = TV.SumAcross(s1), t2 = TV.SumAcross(s2), t3 = TV.SumAcross(s3);
            for (; kk < k; kk++)
            {
                t0 = MathF.FusedMultiplyAdd(row[kk], b0[kk], t0);
                t1 = MathF.FusedMultiplyAdd(row[kk], b1[kk], t1);
                t2 = MathF.FusedMultiplyAdd(row[kk], b2[kk], t2);
                t3 = MathF.FusedMultiplyAdd(row[kk], b3[kk], t3);
            }
            c[i * cRow + j] = tail.Apply(i, j, alpha * t0);
            c[i * cRow + j + 1] = tail.Apply(i, j + 1, alpha * t1);
            c[i * cRow + j + 2] = tail.Apply(i, j + 2, alpha * t2);
            c[i * cRow + j + 3] = tail.Apply(i, j + 3, alpha * t3);
        }
        for (; j < n; j++)
        {
            var column = b + j * bCol;
            TV s0 = TV.Create(0f), s1 = s0;
            var kk = 0;
            for (; kk + 2 * TV.Count <= k; kk += 2 * TV.Count)
            {
                s0 = TV.MultiplyAdd(TV.Load(row + kk), TV.Load(column + kk), s0);
                s1 = TV.MultiplyAdd(TV.Load(row + kk + TV.Count), TV.Load(column + kk + TV.Count), s1);
            }
            if (kk + TV.Count <= k)
            {
                s0 = TV.MultiplyAdd(TV.Load(row + kk), TV.Load(column + kk), s0);
                kk += TV.Count;
            }
            var sum = TV.SumAcross(s0 + s1);
            for (; kk < k; kk++) sum = MathF.FusedMultiplyAdd(row[kk], column[kk], sum);
            c[i * cRow + j] = tail.Apply(i, j, alpha * sum);
        }
    }

    /// <summary>What is added to <c>alpha * A*B</c> as C is stored: nothing, or a row's factor times C0.</summary>
    private readonly struct Epilogue(float* c0, nint c0Row, float* scale, nint scaleStride)
    {
        public bool None => c0 == null;

        /// <summary>
        /// For the columns left after the whole vectors (j + w &gt; n): moves j back to n - w, so that the last w columns
        /// are computed again as one vector (each column's sum runs in the same order, so the values stored twice are
        /// the same bit for bit), and returns true; false (the scalar column loop then runs) when there are fewer than
        /// w columns, or when C is its own running sum's previous value (a column stored twice would be rescaled twice).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool LastVector(ref int j, int n, int w, float* c)
        {
            if (n < w || c0 == c) return false;
            j = n - w;
            return true;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)] // once per six-row tile in Pairs6; a call there took 0.7% of attention
        public Epilogue Rows(int first) => None ? this : new Epilogue(c0 + first * c0Row, c0Row, scale + first * scaleStride, scaleStride);

        /// <summary>The epilogue of the columns from <paramref name="first"/> on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Epilogue Columns(int first) => None ? this : new Epilogue(c0 + first, c0Row, scale, scaleStride);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Vector<TV>(int row, int j, TV value) where TV : unmanaged, ISimdFloat<TV> =>
            None ? value : TV.MultiplyAdd(TV.Create(scale[row * scaleStride]), TV.Load(c0 + row * c0Row + j), value);

        /// <summary><c>scale[row] * C0[row, j..]</c>, where C0 is there.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Previous<TV>(int row, int j) where TV : unmanaged, ISimdFloat<TV> =>
            TV.Create(scale[row * scaleStride]) * TV.Load(c0 + row * c0Row + j);

        public float Apply(int row, int j, float value) =>
            None ? value : MathF.FusedMultiplyAdd(scale[row * scaleStride], c0[row * c0Row + j], value);
    }

    private static void Rows<TV>(int m, int n, int k, float alpha, float* a, nint aRow, nint aCol, float* b, nint bRow, float* c, nint cRow, Epilogue tail)
        where TV : unmanaged, ISimdFloat<TV>
    {
        // Every whole tile of six rows in one call: a call per tile cost 4% of a 96x64x64 product (224 against 233
        // GFLOP/s on one core whose FMA peak is 232).
        var i = m / RowTile * RowTile;
        if (typeof(TV) == typeof(V256) && i >= 2 * RowTile && n == 16 && bRow == 16)
        {
            // B is one strip already (a panel of Pack): every tile reads it in place.
            Pairs6<TV>(0, i, k, &alpha, a, aRow, aCol, b, 16, c, cRow, tail, !tail.None && alpha == 1f);
        }
        else if (typeof(TV) == typeof(V256) && i >= 2 * RowTile && n >= 16 && bRow != 16)
        {
            var strips = n / 16 * 16;
            Strips<TV>(i, strips, k, alpha, a, aRow, aCol, b, bRow, c, cRow, tail);
            if (strips < n) Tile6<TV>(i, n - strips, k, alpha, a, aRow, aCol, b + strips, bRow, c + strips, cRow, tail.Columns(strips));
        }
        else if (i > 0) Tile6<TV>(i, n, k, alpha, a, aRow, aCol, b, bRow, c, cRow, tail);
        // Four or five rows left (the query heads of a key/value head in a decode step): eight accumulators keep both FMA
        // pipes busy, where one row at a time waits on its two.
        if (i + 4 <= m)
        {
            Tile4<TV>(n, k, alpha, a + i * aRow, aRow, aCol, b, bRow, c + i * cRow, cRow, tail.Rows(i));
            i += 4;
        }
        for (; i < m; i++)
            Tile1<TV>(n, k, alpha, a + i * aRow, aCol, b, bRow, c + i * cRow, tail.Rows(i));
    }

    /// <summary>The first <paramref name="m"/> rows of C (a multiple of six), six at a time: fours of 512-bit vectors, then
    /// pairs of vectors, then single vectors, then single columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile6<TV>(int m, int n, int k, float alpha, float* a, nint aRow, nint aCol, float* b, nint bRow, float* c, nint cRow, Epilogue rowsTail)
        where TV : unmanaged, ISimdFloat<TV>
    {
        var w = TV.Count;
        var scale = TV.Create(alpha);
        // A rescaled running sum with alpha = 1 (FlashAttention's P*V) starts its accumulators at scale * C0, so that the
        // tile is stored as it stands: the rescale then overlaps the previous tile's products, where applied at the
        // store it waited for the last of them (a 96x64x64 product in L1: 214 -> see the commit, GFLOP/s on one core).
        var preload = !rowsTail.None && alpha == 1f;
        for (var i = 0; i < m; i += RowTile, a += RowTile * aRow, c += RowTile * cRow)
        {
            var tail = rowsTail.Rows(i);
            float* a0 = a, a1 = a + aRow, a2 = a + 2 * aRow, a3 = a + 3 * aRow, a4 = a + 4 * aRow, a5 = a + 5 * aRow;
            var j = 0;
            // With AVX-512's 32 registers, four vectors a row: 24 sums, 4 of B and a broadcast. Each broadcast of A then
            // feeds four products, not two, which took the attention-shaped products (96x256x64 and 96x64x256, B from L2)
            // from 90% to 95% of one core's FMA peak.
            if (TV.Count == 16)
                for (; j + 4 * w <= n; j += 4 * w)
                    Wide6<TV, StoreOnly>(j, k, alpha, a, aRow, aCol, b + j, bRow, c + j, cRow, tail);
            // 256-bit vectors: the same tile in a method of its own over Vector256 (Pairs6).
            if (typeof(TV) == typeof(V256))
                for (; j + 2 * w <= n; j += 2 * w)
                    Pairs6<TV>(j, RowTile, k, &alpha, a, aRow, aCol, b + j, bRow, c + j, cRow, tail, preload);
            for (; j + 2 * w <= n; j += 2 * w)
            {
                TV c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
                if (preload)
                {
                    c00 = tail.Previous<TV>(0, j); c01 = tail.Previous<TV>(0, j + w); c10 = tail.Previous<TV>(1, j); c11 = tail.Previous<TV>(1, j + w);
                    c20 = tail.Previous<TV>(2, j); c21 = tail.Previous<TV>(2, j + w); c30 = tail.Previous<TV>(3, j); c31 = tail.Previous<TV>(3, j + w);
                    c40 = tail.Previous<TV>(4, j); c41 = tail.Previous<TV>(4, j + w); c50 = tail.Previous<TV>(5, j); c51 = tail.Previous<TV>(5, j + w);
                }
                else
                {
                    c00 = TV.Create(0f); c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00;
                    c30 = c00; c31 = c00; c40 = c00; c41 = c00; c50 = c00; c51 = c00;
                }
                var bk = b + j;
                nint ak = 0;
                for (var kk = 0; kk < k; kk++, bk += bRow, ak += aCol)
                {
                    var b0 = TV.Load(bk);
                    var b1 = TV.Load(bk + w);
                    var x = TV.Create(a0[ak]);
                    c00 = TV.MultiplyAdd(x, b0, c00);
                    c01 = TV.MultiplyAdd(x, b1, c01);
                    x = TV.Create(a1[ak]);
                    c10 = TV.MultiplyAdd(x, b0, c10);
                    c11 = TV.MultiplyAdd(x, b1, c11);
                    x = TV.Create(a2[ak]);
                    c20 = TV.MultiplyAdd(x, b0, c20);
                    c21 = TV.MultiplyAdd(x, b1, c21);
                    x = TV.Create(a3[ak]);
                    c30 = TV.MultiplyAdd(x, b0, c30);
                    c31 = TV.MultiplyAdd(x, b1, c31);
                    x = TV.Create(a4[ak]);
                    c40 = TV.MultiplyAdd(x, b0, c40);
                    c41 = TV.MultiplyAdd(x, b1, c41);
                    x = TV.Create(a5[ak]);
                    c50 = TV.MultiplyAdd(x, b0, c50);
                    c51 = TV.MultiplyAdd(x, b1, c51);
                }
                var cj = c + j;
                if (preload)
                {
                    TV.Store(cj, c00); TV.Store(cj + w, c01); cj += cRow;
                    TV.Store(cj, c10); TV.Store(cj + w, c11); cj += cRow;
                    TV.Store(cj, c20); TV.Store(cj + w, c21); cj += cRow;
                    TV.Store(cj, c30); TV.Store(cj + w, c31); cj += cRow;
                    TV.Store(cj, c40); TV.Store(cj + w, c41); cj += cRow;
                    TV.Store(cj, c50); TV.Store(cj + w, c51);
                    continue;
                }
                TV.Store(cj, tail.Vector(0, j, c00 * scale)); TV.Store(cj + w, tail.Vector(0, j + w, c01 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(1, j, c10 * scale)); TV.Store(cj + w, tail.Vector(1, j + w, c11 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(2, j, c20 * scale)); TV.Store(cj + w, tail.Vector(2, j + w, c21 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(3, j, c30 * scale)); TV.Store(cj + w, tail.Vector(3, j + w, c31 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(4, j, c40 * scale)); TV.Store(cj + w, tail.Vector(4, j + w, c41 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(5, j, c50 * scale)); TV.Store(cj + w, tail.Vector(5, j + w, c51 * scale));
            }
            for (; j < n; j += w)
            {
                if (j + w > n && !tail.LastVector(ref j, n, w, c)) break;
                TV c0, c1, c2, c3, c4, c5;
                if (preload)
                {
                    c0 = tail.Previous<TV>(0, j); c1 = tail.Previous<TV>(1, j); c2 = tail.Previous<TV>(2, j);
                    c3 = tail.Previous<TV>(3, j); c4 = tail.Previous<TV>(4, j); c5 = tail.Previous<TV>(5, j);
                }
                else
                {
                    c0 = TV.Create(0f); c1 = c0; c2 = c0; c3 = c0; c4 = c0; c5 = c0;
                }
                var bk = b + j;
                nint ak = 0;
                for (var kk = 0; kk < k; kk++, bk += bRow, ak += aCol)
                {
                    var b0 = TV.Load(bk);
                    c0 = TV.MultiplyAdd(TV.Create(a0[ak]), b0, c0);
                    c1 = TV.MultiplyAdd(TV.Create(a1[ak]), b0, c1);
                    c2 = TV.MultiplyAdd(TV.Create(a2[ak]), b0, c2);
                    c3 = TV.MultiplyAdd(TV.Create(a3[ak]), b0, c3);
                    c4 = TV.MultiplyAdd(TV.Create(a4[ak]), b0, c4);
                    c5 = TV.MultiplyAdd(TV.Create(a5[ak]), b0, c5);
                }
                var cj = c + j;
                if (preload)
                {
                    TV.Store(cj, c0); cj += cRow; TV.Store(cj, c1); cj += cRow; TV.Store(cj, c2); cj += cRow;
                    TV.Store(cj, c3); cj += cRow; TV.Store(cj, c4); cj += cRow; TV.Store(cj, c5);
                    continue;
                }
                TV.Store(cj, tail.Vector(0, j, c0 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(1, j, c1 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(2, j, c2 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(3, j, c3 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(4, j, c4 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(5, j, c5 * scale));
            }
            if (j < n)
                for (var r = 0; r < RowTile; r++)
                    Columns(j, n, k, alpha, a + r * aRow, aCol, b, bRow, c + r * cRow, tail.Rows(r));
        }
    }

    /// <summary>
    /// Six rows by four vectors of C (columns j to j + 4w), for 512-bit vectors: a method of its own, so that the JIT
    /// allocates its 29 vector registers afresh. <paramref name="b"/> and <paramref name="c"/> point at column j. Nothing
    /// else is live in the k loop: alpha becomes a vector after it, and A is read through two pointers (rows 0-2 and 3-5,
    /// at 0, aRow and 2*aRow from each), so that no sum or pointer is spilled to the stack. A rescaled running sum is
    /// added as the tile is stored, as in the pairs' tiles without the preload: starting the sums at the rescaled C0 here
    /// gained nothing (96x64x256, one core: 209-214 against 210-214 GFLOP/s) and, with a branch between the two starts,
    /// made the JIT keep five sums on the stack through the k loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Wide6<TV, TStore>(int j, int k, float alpha, float* a, nint aRow, nint aCol, float* b, nint bRow, float* c, nint cRow, Epilogue tail,
        float* maxima = null, bool first = false)
        where TV : unmanaged, ISimdFloat<TV> where TStore : struct
    {
        var w = TV.Count;
        TV c00 = TV.Create(0f), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        TV c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        TV c40 = c00, c41 = c00, c42 = c00, c43 = c00, c50 = c00, c51 = c00, c52 = c00, c53 = c00;
        var bk = b;
        float* ap = a, aq = a + 3 * aRow;
        var aRow2 = 2 * aRow;
        for (var kk = 0; kk < k; kk++, bk += bRow, ap += aCol, aq += aCol)
        {
            var b0 = TV.Load(bk);
            var b1 = TV.Load(bk + w);
            var b2 = TV.Load(bk + 2 * w);
            var b3 = TV.Load(bk + 3 * w);
            var x = TV.Create(ap[0]);
            c00 = TV.MultiplyAdd(x, b0, c00); c01 = TV.MultiplyAdd(x, b1, c01); c02 = TV.MultiplyAdd(x, b2, c02); c03 = TV.MultiplyAdd(x, b3, c03);
            x = TV.Create(ap[aRow]);
            c10 = TV.MultiplyAdd(x, b0, c10); c11 = TV.MultiplyAdd(x, b1, c11); c12 = TV.MultiplyAdd(x, b2, c12); c13 = TV.MultiplyAdd(x, b3, c13);
            x = TV.Create(ap[aRow2]);
            c20 = TV.MultiplyAdd(x, b0, c20); c21 = TV.MultiplyAdd(x, b1, c21); c22 = TV.MultiplyAdd(x, b2, c22); c23 = TV.MultiplyAdd(x, b3, c23);
            x = TV.Create(aq[0]);
            c30 = TV.MultiplyAdd(x, b0, c30); c31 = TV.MultiplyAdd(x, b1, c31); c32 = TV.MultiplyAdd(x, b2, c32); c33 = TV.MultiplyAdd(x, b3, c33);
            x = TV.Create(aq[aRow]);
            c40 = TV.MultiplyAdd(x, b0, c40); c41 = TV.MultiplyAdd(x, b1, c41); c42 = TV.MultiplyAdd(x, b2, c42); c43 = TV.MultiplyAdd(x, b3, c43);
            x = TV.Create(aq[aRow2]);
            c50 = TV.MultiplyAdd(x, b0, c50); c51 = TV.MultiplyAdd(x, b1, c51); c52 = TV.MultiplyAdd(x, b2, c52); c53 = TV.MultiplyAdd(x, b3, c53);
        }
        var scale = TV.Create(alpha);
        if (typeof(TStore) == typeof(FoldMaxima))
        {
            // No epilogue (RunPanelsMax): each row stored and folded into its running maxima from the registers.
            // A factor of 1 (folded into B's panels as they were packed) multiplies nothing.
            if (alpha != 1f)
            {
                c00 *= scale; c01 *= scale; c02 *= scale; c03 *= scale; c10 *= scale; c11 *= scale; c12 *= scale; c13 *= scale;
                c20 *= scale; c21 *= scale; c22 *= scale; c23 *= scale; c30 *= scale; c31 *= scale; c32 *= scale; c33 *= scale;
                c40 *= scale; c41 *= scale; c42 *= scale; c43 *= scale; c50 *= scale; c51 *= scale; c52 *= scale; c53 *= scale;
            }
            var nan = FoldRow(c, maxima, c00, c01, c02, c03, first);
            nan |= FoldRow(c + cRow, maxima + 16, c10, c11, c12, c13, first);
            nan |= FoldRow(c + 2 * cRow, maxima + 32, c20, c21, c22, c23, first);
            nan |= FoldRow(c + 3 * cRow, maxima + 48, c30, c31, c32, c33, first);
            nan |= FoldRow(c + 4 * cRow, maxima + 64, c40, c41, c42, c43, first);
            nan |= FoldRow(c + 5 * cRow, maxima + 80, c50, c51, c52, c53, first);
            return nan.ExtractMostSignificantBits() != 0;
        }
        StoreRow(c, j, 0, c00, c01, c02, c03, tail, scale);
        StoreRow(c + cRow, j, 1, c10, c11, c12, c13, tail, scale);
        StoreRow(c + 2 * cRow, j, 2, c20, c21, c22, c23, tail, scale);
        StoreRow(c + 3 * cRow, j, 3, c30, c31, c32, c33, tail, scale);
        StoreRow(c + 4 * cRow, j, 4, c40, c41, c42, c43, tail, scale);
        StoreRow(c + 5 * cRow, j, 5, c50, c51, c52, c53, tail, scale);
        return false;
    }

    /// <summary><see cref="Wide6{TV, TStore}"/>'s tile stored through the epilogue.</summary>
    private struct StoreOnly;

    /// <summary><see cref="Wide6{TV, TStore}"/>'s tile stored and folded into its rows' running maxima (RunPanelsMax): a
    /// type argument rather than a flag, so that each instantiation imports only its own stores (with both, the JIT ran
    /// past its inlining budget and called StoreRow unoptimised).</summary>
    private struct FoldMaxima;

    /// <summary>
    /// Six rows by two 256-bit vectors of C (columns j to j + 16), for <see cref="V256"/>: twelve sums, two vectors of B
    /// and a broadcast, in a method of its own over <see cref="Vector256{T}"/> (so nothing else is live in the k loop,
    /// alpha is read after it, and A through two pointers as in <see cref="Wide6{TV, TStore}"/>). Written through the V256
    /// wrapper, the JIT kept each row's second sum in a temporary: a vfmadd213ps into the broadcast's register and a
    /// vmovaps back, six moves in 32 instructions a step (dotnet/runtime#107538); here every product is one vfmadd231ps.
    /// Measured on a 2-core Zen 3 VM (AVX2), one core, best of six alternations: 96x64x256 (P*V) 76-79 -> 85-87 GFLOP/s,
    /// 96x256x64 (Q*K) 68-70 -> 72-75, 96x128x128 (D = 128) 70-78 -> 74-85, where the VM ran slow; where it ran fast,
    /// 90-95 either way against a peak of 102 (the moves cost only when the core's front end is shared).
    /// It runs <paramref name="m"/> rows (a multiple of six), a tile of six at a time down the same columns: called once
    /// per tile from <see cref="Strips{TV}"/>, the calls' argument moves and the drain at each return took 12% of one core
    /// in attention (B1 H4 L2048 D64, perf samples), and one call per strip took it from 71.5 to 75.5 GFLOP/s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pairs6<TV>(int j, int m, int k, float* alpha, float* a, nint aRow, nint aCol, float* b, nint bRow, float* c, nint cRow, Epilogue tail, bool preload,
        float* maxima = null)
        where TV : unmanaged, ISimdFloat<TV>
    {
        const int w = 8;
        for (var i = 0; i < m; i += RowTile, a += RowTile * aRow, c += RowTile * cRow, tail = tail.Rows(RowTile), maxima += maxima == null ? 0 : 16 * RowTile)
        {
            Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
            if (preload)
            {
                c00 = V(tail.Previous<TV>(0, j)); c01 = V(tail.Previous<TV>(0, j + w)); c10 = V(tail.Previous<TV>(1, j)); c11 = V(tail.Previous<TV>(1, j + w));
                c20 = V(tail.Previous<TV>(2, j)); c21 = V(tail.Previous<TV>(2, j + w)); c30 = V(tail.Previous<TV>(3, j)); c31 = V(tail.Previous<TV>(3, j + w));
                c40 = V(tail.Previous<TV>(4, j)); c41 = V(tail.Previous<TV>(4, j + w)); c50 = V(tail.Previous<TV>(5, j)); c51 = V(tail.Previous<TV>(5, j + w));
            }
            else
            {
                c00 = Vector256<float>.Zero; c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00;
                c30 = c00; c31 = c00; c40 = c00; c41 = c00; c50 = c00; c51 = c00;
            }
            var bk = b;
            float* ap = a, aq = a + 3 * aRow;
            var aRow2 = 2 * aRow;
            var kk = 0;
            if (aCol == 1)
            {
                // A's rows contiguous along k (attention's Q and P): four steps a trip, A read at constant offsets. The
                // loop's own increments and branch then take a quarter of the front end's slots they took one step a
                // trip: P*V (192x128 by 128x64) 96.7-97.4 -> 99.8-99.9 GFLOP/s on one Zen 3 core (perf/README.md,
                // twenty-eighth session). The sums run in k order as before, bit for bit.
                for (; kk <= k - 4; kk += 4, bk += 4 * bRow, ap += 4, aq += 4)
                {
                var b00 = Vector256.Load(bk);
                var b10 = Vector256.Load(bk + w);
                var x0 = Vector256.Create(ap[0]);
                c00 = Compat256.FusedMultiplyAdd(x0, b00, c00); c01 = Compat256.FusedMultiplyAdd(x0, b10, c01);
                x0 = Vector256.Create(ap[aRow + 0]);
                c10 = Compat256.FusedMultiplyAdd(x0, b00, c10); c11 = Compat256.FusedMultiplyAdd(x0, b10, c11);
                x0 = Vector256.Create(ap[aRow2 + 0]);
                c20 = Compat256.FusedMultiplyAdd(x0, b00, c20); c21 = Compat256.FusedMultiplyAdd(x0, b10, c21);
                x0 = Vector256.Create(aq[0]);
                c30 = Compat256.FusedMultiplyAdd(x0, b00, c30); c31 = Compat256.FusedMultiplyAdd(x0, b10, c31);
                x0 = Vector256.Create(aq[aRow + 0]);
                c40 = Compat256.FusedMultiplyAdd(x0, b00, c40); c41 = Compat256.FusedMultiplyAdd(x0, b10, c41);
                x0 = Vector256.Create(aq[aRow2 + 0]);
                c50 = Compat256.FusedMultiplyAdd(x0, b00, c50); c51 = Compat256.FusedMultiplyAdd(x0, b10, c51);
                var b01 = Vector256.Load(bk + bRow);
                var b11 = Vector256.Load(bk + bRow + w);
                var x1 = Vector256.Create(ap[1]);
                c00 = Compat256.FusedMultiplyAdd(x1, b01, c00); c01 = Compat256.FusedMultiplyAdd(x1, b11, c01);
                x1 = Vector256.Create(ap[aRow + 1]);
                c10 = Compat256.FusedMultiplyAdd(x1, b01, c10); c11 = Compat256.FusedMultiplyAdd(x1, b11, c11);
                x1 = Vector256.Create(ap[aRow2 + 1]);
                c20 = Compat256.FusedMultiplyAdd(x1, b01, c20); c21 = Compat256.FusedMultiplyAdd(x1, b11, c21);
                x1 = Vector256.Create(aq[1]);
                c30 = Compat256.FusedMultiplyAdd(x1, b01, c30); c31 = Compat256.FusedMultiplyAdd(x1, b11, c31);
                x1 = Vector256.Create(aq[aRow + 1]);
                c40 = Compat256.FusedMultiplyAdd(x1, b01, c40); c41 = Compat256.FusedMultiplyAdd(x1, b11, c41);
                x1 = Vector256.Create(aq[aRow2 + 1]);
                c50 = Compat256.FusedMultiplyAdd(x1, b01, c50); c51 = Compat256.FusedMultiplyAdd(x1, b11, c51);
                var b02 = Vector256.Load(bk + 2 * bRow);
                var b12 = Vector256.Load(bk + 2 * bRow + w);
                var x2 = Vector256.Create(ap[2]);
                c00 = Compat256.FusedMultiplyAdd(x2, b02, c00); c01 = Compat256.FusedMultiplyAdd(x2, b12, c01);
                x2 = Vector256.Create(ap[aRow + 2]);
                c10 = Compat256.FusedMultiplyAdd(x2, b02, c10); c11 = Compat256.FusedMultiplyAdd(x2, b12, c11);
                x2 = Vector256.Create(ap[aRow2 + 2]);
                c20 = Compat256.FusedMultiplyAdd(x2, b02, c20); c21 = Compat256.FusedMultiplyAdd(x2, b12, c21);
                x2 = Vector256.Create(aq[2]);
                c30 = Compat256.FusedMultiplyAdd(x2, b02, c30); c31 = Compat256.FusedMultiplyAdd(x2, b12, c31);
                x2 = Vector256.Create(aq[aRow + 2]);
                c40 = Compat256.FusedMultiplyAdd(x2, b02, c40); c41 = Compat256.FusedMultiplyAdd(x2, b12, c41);
                x2 = Vector256.Create(aq[aRow2 + 2]);
                c50 = Compat256.FusedMultiplyAdd(x2, b02, c50); c51 = Compat256.FusedMultiplyAdd(x2, b12, c51);
                var b03 = Vector256.Load(bk + 3 * bRow);
                var b13 = Vector256.Load(bk + 3 * bRow + w);
                var x3 = Vector256.Create(ap[3]);
                c00 = Compat256.FusedMultiplyAdd(x3, b03, c00); c01 = Compat256.FusedMultiplyAdd(x3, b13, c01);
                x3 = Vector256.Create(ap[aRow + 3]);
                c10 = Compat256.FusedMultiplyAdd(x3, b03, c10); c11 = Compat256.FusedMultiplyAdd(x3, b13, c11);
                x3 = Vector256.Create(ap[aRow2 + 3]);
                c20 = Compat256.FusedMultiplyAdd(x3, b03, c20); c21 = Compat256.FusedMultiplyAdd(x3, b13, c21);
                x3 = Vector256.Create(aq[3]);
                c30 = Compat256.FusedMultiplyAdd(x3, b03, c30); c31 = Compat256.FusedMultiplyAdd(x3, b13, c31);
                x3 = Vector256.Create(aq[aRow + 3]);
                c40 = Compat256.FusedMultiplyAdd(x3, b03, c40); c41 = Compat256.FusedMultiplyAdd(x3, b13, c41);
                x3 = Vector256.Create(aq[aRow2 + 3]);
                c50 = Compat256.FusedMultiplyAdd(x3, b03, c50); c51 = Compat256.FusedMultiplyAdd(x3, b13, c51);
                }
            }
            for (; kk < k; kk++, bk += bRow, ap += aCol, aq += aCol)
            {
                var b0 = Vector256.Load(bk);
                var b1 = Vector256.Load(bk + w);
                var x = Vector256.Create(ap[0]);
                c00 = Compat256.FusedMultiplyAdd(x, b0, c00); c01 = Compat256.FusedMultiplyAdd(x, b1, c01);
                x = Vector256.Create(ap[aRow]);
                c10 = Compat256.FusedMultiplyAdd(x, b0, c10); c11 = Compat256.FusedMultiplyAdd(x, b1, c11);
                x = Vector256.Create(ap[aRow2]);
                c20 = Compat256.FusedMultiplyAdd(x, b0, c20); c21 = Compat256.FusedMultiplyAdd(x, b1, c21);
                x = Vector256.Create(aq[0]);
                c30 = Compat256.FusedMultiplyAdd(x, b0, c30); c31 = Compat256.FusedMultiplyAdd(x, b1, c31);
                x = Vector256.Create(aq[aRow]);
                c40 = Compat256.FusedMultiplyAdd(x, b0, c40); c41 = Compat256.FusedMultiplyAdd(x, b1, c41);
                x = Vector256.Create(aq[aRow2]);
                c50 = Compat256.FusedMultiplyAdd(x, b0, c50); c51 = Compat256.FusedMultiplyAdd(x, b1, c51);
            }
            if (preload)
            {
                var cc = c;
                c00.Store(cc); c01.Store(cc + w); cc += cRow;
                c10.Store(cc); c11.Store(cc + w); cc += cRow;
                c20.Store(cc); c21.Store(cc + w); cc += cRow;
                c30.Store(cc); c31.Store(cc + w); cc += cRow;
                c40.Store(cc); c41.Store(cc + w); cc += cRow;
                c50.Store(cc); c51.Store(cc + w);
                continue;
            }
            var scale = TV.Create(*alpha);
            if (maxima != null)
            {
                // No epilogue here (RunPanelsMax): each row's two vectors stored, then folded into its running maximum.
                if (*alpha != 1f) // a factor of 1 (folded into B's panels as they were packed) multiplies nothing
                {
                    var sv = V(scale);
                    c00 *= sv; c01 *= sv; c10 *= sv; c11 *= sv; c20 *= sv; c21 *= sv;
                    c30 *= sv; c31 *= sv; c40 *= sv; c41 *= sv; c50 *= sv; c51 *= sv;
                }
                var first = j == 0;
                FoldRow(c, maxima, c00, c01, first);
                FoldRow(c + cRow, maxima + 16, c10, c11, first);
                FoldRow(c + 2 * cRow, maxima + 32, c20, c21, first);
                FoldRow(c + 3 * cRow, maxima + 48, c30, c31, first);
                FoldRow(c + 4 * cRow, maxima + 64, c40, c41, first);
                FoldRow(c + 5 * cRow, maxima + 80, c50, c51, first);
                continue;
            }
            var cs = c;
            TV.Store(cs, tail.Vector(0, j, T(c00) * scale)); TV.Store(cs + w, tail.Vector(0, j + w, T(c01) * scale)); cs += cRow;
            TV.Store(cs, tail.Vector(1, j, T(c10) * scale)); TV.Store(cs + w, tail.Vector(1, j + w, T(c11) * scale)); cs += cRow;
            TV.Store(cs, tail.Vector(2, j, T(c20) * scale)); TV.Store(cs + w, tail.Vector(2, j + w, T(c21) * scale)); cs += cRow;
            TV.Store(cs, tail.Vector(3, j, T(c30) * scale)); TV.Store(cs + w, tail.Vector(3, j + w, T(c31) * scale)); cs += cRow;
            TV.Store(cs, tail.Vector(4, j, T(c40) * scale)); TV.Store(cs + w, tail.Vector(4, j + w, T(c41) * scale)); cs += cRow;
            TV.Store(cs, tail.Vector(5, j, T(c50) * scale)); TV.Store(cs + w, tail.Vector(5, j + w, T(c51) * scale));
        }

        static Vector256<float> V(TV value) => Unsafe.As<TV, Vector256<float>>(ref value);
        static TV T(Vector256<float> value) => Unsafe.As<Vector256<float>, TV>(ref value);
    }

    /// <summary>Stores a row's two vectors of C and folds them into its running maximum (vmaxps: a NaN is left out of
    /// it and flagged apart, as <c>Sweep.Max</c> does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FoldRow(float* c, float* maxima, Vector256<float> x0, Vector256<float> x1, bool first)
    {
        x0.Store(c);
        x1.Store(c + 8);
        // vmaxps(x, y) gives y where either is NaN: x1's NaN would come through the first, so it is flagged and
        // then left out by the second (or replaced by the next strip's values; the flag stays).
        Fold(maxima, Avx.Max(x0, x1), Avx.CompareUnordered(x0, x1), first);
    }

    /// <summary>
    /// Stores a row's four 512-bit vectors of C (<see cref="Wide6{TV, TStore}"/>) and folds them into its sixteen running
    /// maxima at <paramref name="maxima"/> (the first panel writes them); returns the lanes where one of them is NaN.
    /// vmaxps gives its second operand where either is NaN, so a NaN may be left out of the maxima: the caller then sweeps
    /// the rows again.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> FoldRow<TV>(float* c, float* maxima, TV v0, TV v1, TV v2, TV v3, bool first) where TV : unmanaged, ISimdFloat<TV>
    {
        Vector512<float> x0 = Unsafe.As<TV, Vector512<float>>(ref v0), x1 = Unsafe.As<TV, Vector512<float>>(ref v1);
        Vector512<float> x2 = Unsafe.As<TV, Vector512<float>>(ref v2), x3 = Unsafe.As<TV, Vector512<float>>(ref v3);
        x0.Store(c);
        x1.Store(c + 16);
        x2.Store(c + 32);
        x3.Store(c + 48);
        var most = Avx512F.Max(Avx512F.Max(x0, x1), Avx512F.Max(x2, x3));
        (first ? most : Avx512F.Max(most, Vector512.Load(maxima))).Store(maxima);
        return Avx512F.CompareUnordered(x0, x1) | Avx512F.CompareUnordered(x2, x3);
    }

    /// <summary>A row's eight running maxima and NaN flags at <paramref name="maxima"/>: written by the first strip,
    /// then folded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fold(float* maxima, Vector256<float> most, Vector256<float> nan, bool first)
    {
        if (first)
        {
            most.Store(maxima);
            nan.Store(maxima + 8);
            return;
        }
        Avx.Max(most, Vector256.Load(maxima)).Store(maxima);
        Avx.Or(Vector256.Load(maxima + 8), nan).Store(maxima + 8);
    }

    /// <summary>Four vectors of one row of C at <paramref name="c"/> (column j): the sums times alpha plus the epilogue's term.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TV>(float* c, int j, int row, TV s0, TV s1, TV s2, TV s3, Epilogue tail, TV scale)
        where TV : unmanaged, ISimdFloat<TV>
    {
        var w = TV.Count;
        TV.Store(c, tail.Vector(row, j, s0 * scale)); TV.Store(c + w, tail.Vector(row, j + w, s1 * scale));
        TV.Store(c + 2 * w, tail.Vector(row, j + 2 * w, s2 * scale)); TV.Store(c + 3 * w, tail.Vector(row, j + 3 * w, s3 * scale));
    }

    /// <summary>
    /// The first <paramref name="m"/> rows (a multiple of six, at least two tiles) and <paramref name="n"/> columns (a
    /// multiple of 16) of C with 256-bit vectors, a strip of 16 columns at a time: the strip of B is copied into a
    /// contiguous k x 16 buffer of this thread, then every tile of six rows runs <see cref="Pairs6{TV}"/> over it. Read in
    /// place, a strip's rows a power of two apart (the 512 bytes of a transposed tile of 128 keys, the 256 of V's rows at
    /// D = 64) fall in a few of the 64 sets of a 32 KB 8-way L1 and evict each other and A between the row tiles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Strips<TV>(int m, int n, int k, float alpha, float* a, nint aRow, nint aCol, float* b, nint bRow, float* c, nint cRow, Epilogue tail)
        where TV : unmanaged, ISimdFloat<TV>
    {
        var strip = Strip(16L * k);
        var preload = !tail.None && alpha == 1f;
        for (var j = 0; j < n; j += 16)
        {
            var source = b + j;
            for (var kk = 0; kk < k; kk++, source += bRow)
            {
                Vector256.Load(source).Store(strip + 16 * kk);
                Vector256.Load(source + 8).Store(strip + 16 * kk + 8);
            }
            Pairs6<TV>(j, m, k, &alpha, a, aRow, aCol, strip, 16, c + j, cRow, tail, preload);
        }
    }

    [ThreadStatic] private static float* t_strip;
    [ThreadStatic] private static long t_stripFloats;

    /// <summary>This thread's strip buffer for <see cref="Strips{TV}"/> (apart from the panel, which may hold B).</summary>
    private static float* Strip(long floats) => Grown(ref t_strip, ref t_stripFloats, floats);

    /// <summary>Four rows of C: pairs of vectors, then single vectors, then single columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4<TV>(int n, int k, float alpha, float* a, nint aRow, nint aCol, float* b, nint bRow, float* c, nint cRow, Epilogue tail)
        where TV : unmanaged, ISimdFloat<TV>
    {
        var w = TV.Count;
        var scale = TV.Create(alpha);
        float* a0 = a, a1 = a + aRow, a2 = a + 2 * aRow, a3 = a + 3 * aRow;
        var j = 0;
        // Narrower vectors: the pairs of vectors a block of B's rows at a time (see Tile4Blocked).
        if (typeof(TV) == typeof(V256) && k > Tile4Block && n >= 2 * w && n <= Tile4MaxColumns)
            j = Tile4Blocked<TV>(n, k, alpha, a, aRow, aCol, b, bRow, c, cRow, tail);
        // 512-bit vectors come with 32 registers: four vectors of each row (sixteen accumulators), half the passes over B.
        // B's rows are asked for 16 rows ahead: whole rows on the first pass when they are at most 1 KB (a decode step's
        // tile of V, which the later passes then find in the cache), else the pass's four vectors.
        var wholeRows = n <= 256;
        if (TV.Count == 16)
            for (; j + 4 * w <= n; j += 4 * w)
            {
                TV c00 = TV.Create(0f), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
                TV c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
                var bk = b + j;
                nint ak = 0;
                for (var kk = 0; kk < k; kk++, bk += bRow, ak += aCol)
                {
                    if (j == 0 || !wholeRows) PrefetchSpan(bk + 16 * bRow, wholeRows ? n : 4 * w);
                    var b0 = TV.Load(bk);
                    var b1 = TV.Load(bk + w);
                    var b2 = TV.Load(bk + 2 * w);
                    var b3 = TV.Load(bk + 3 * w);
                    var x = TV.Create(a0[ak]);
                    c00 = TV.MultiplyAdd(x, b0, c00); c01 = TV.MultiplyAdd(x, b1, c01); c02 = TV.MultiplyAdd(x, b2, c02); c03 = TV.MultiplyAdd(x, b3, c03);
                    x = TV.Create(a1[ak]);
                    c10 = TV.MultiplyAdd(x, b0, c10); c11 = TV.MultiplyAdd(x, b1, c11); c12 = TV.MultiplyAdd(x, b2, c12); c13 = TV.MultiplyAdd(x, b3, c13);
                    x = TV.Create(a2[ak]);
                    c20 = TV.MultiplyAdd(x, b0, c20); c21 = TV.MultiplyAdd(x, b1, c21); c22 = TV.MultiplyAdd(x, b2, c22); c23 = TV.MultiplyAdd(x, b3, c23);
                    x = TV.Create(a3[ak]);
                    c30 = TV.MultiplyAdd(x, b0, c30); c31 = TV.MultiplyAdd(x, b1, c31); c32 = TV.MultiplyAdd(x, b2, c32); c33 = TV.MultiplyAdd(x, b3, c33);
                }
                var cj = c + j;
                TV.Store(cj, tail.Vector(0, j, c00 * scale)); TV.Store(cj + w, tail.Vector(0, j + w, c01 * scale)); TV.Store(cj + 2 * w, tail.Vector(0, j + 2 * w, c02 * scale)); TV.Store(cj + 3 * w, tail.Vector(0, j + 3 * w, c03 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(1, j, c10 * scale)); TV.Store(cj + w, tail.Vector(1, j + w, c11 * scale)); TV.Store(cj + 2 * w, tail.Vector(1, j + 2 * w, c12 * scale)); TV.Store(cj + 3 * w, tail.Vector(1, j + 3 * w, c13 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(2, j, c20 * scale)); TV.Store(cj + w, tail.Vector(2, j + w, c21 * scale)); TV.Store(cj + 2 * w, tail.Vector(2, j + 2 * w, c22 * scale)); TV.Store(cj + 3 * w, tail.Vector(2, j + 3 * w, c23 * scale)); cj += cRow;
                TV.Store(cj, tail.Vector(3, j, c30 * scale)); TV.Store(cj + w, tail.Vector(3, j + w, c31 * scale)); TV.Store(cj + 2 * w, tail.Vector(3, j + 2 * w, c32 * scale)); TV.Store(cj + 3 * w, tail.Vector(3, j + 3 * w, c33 * scale));
            }
        for (; j + 2 * w <= n; j += 2 * w)
        {
            TV c00 = TV.Create(0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            var bk = b + j;
            nint ak = 0;
            for (var kk = 0; kk < k; kk++, bk += bRow, ak += aCol)
            {
                if (System.Runtime.Intrinsics.X86.Sse.IsSupported) System.Runtime.Intrinsics.X86.Sse.Prefetch0(bk + 8 * bRow);
                var b0 = TV.Load(bk);
                var b1 = TV.Load(bk + w);
                var x = TV.Create(a0[ak]);
                c00 = TV.MultiplyAdd(x, b0, c00);
                c01 = TV.MultiplyAdd(x, b1, c01);
                x = TV.Create(a1[ak]);
                c10 = TV.MultiplyAdd(x, b0, c10);
                c11 = TV.MultiplyAdd(x, b1, c11);
                x = TV.Create(a2[ak]);
                c20 = TV.MultiplyAdd(x, b0, c20);
                c21 = TV.MultiplyAdd(x, b1, c21);
                x = TV.Create(a3[ak]);
                c30 = TV.MultiplyAdd(x, b0, c30);
                c31 = TV.MultiplyAdd(x, b1, c31);
            }
            var cj = c + j;
            TV.Store(cj, tail.Vector(0, j, c00 * scale)); TV.Store(cj + w, tail.Vector(0, j + w, c01 * scale)); cj += cRow;
            TV.Store(cj, tail.Vector(1, j, c10 * scale)); TV.Store(cj + w, tail.Vector(1, j + w, c11 * scale)); cj += cRow;
            TV.Store(cj, tail.Vector(2, j, c20 * scale)); TV.Store(cj + w, tail.Vector(2, j + w, c21 * scale)); cj += cRow;
            TV.Store(cj, tail.Vector(3, j, c30 * scale)); TV.Store(cj + w, tail.Vector(3, j + w, c31 * scale));
        }
        for (; j < n; j += w)
        {
            if (j + w > n && !tail.LastVector(ref j, n, w, c)) break;
            TV c0 = TV.Create(0f), c1 = c0, c2 = c0, c3 = c0;
            var bk = b + j;
            nint ak = 0;
            for (var kk = 0; kk < k; kk++, bk += bRow, ak += aCol)
            {
                var b0 = TV.Load(bk);
                c0 = TV.MultiplyAdd(TV.Create(a0[ak]), b0, c0);
                c1 = TV.MultiplyAdd(TV.Create(a1[ak]), b0, c1);
                c2 = TV.MultiplyAdd(TV.Create(a2[ak]), b0, c2);
                c3 = TV.MultiplyAdd(TV.Create(a3[ak]), b0, c3);
            }
            var cj = c + j;
            TV.Store(cj, tail.Vector(0, j, c0 * scale)); cj += cRow;
            TV.Store(cj, tail.Vector(1, j, c1 * scale)); cj += cRow;
            TV.Store(cj, tail.Vector(2, j, c2 * scale)); cj += cRow;
            TV.Store(cj, tail.Vector(3, j, c3 * scale));
        }
        if (j < n)
            for (var r = 0; r < 4; r++)
                Columns(j, n, k, alpha, a + r * aRow, aCol, b, bRow, c + r * cRow, tail.Rows(r));
    }

    /// <summary>Rows of B per block of <see cref="Tile4Blocked{TV}"/>: 16 rows of 128 floats are 8 KB.</summary>
    private const int Tile4Block = 16;

    /// <summary>Columns up to which <see cref="Tile4Blocked{TV}"/> keeps its partial sums on the stack (16 KB).</summary>
    private const int Tile4MaxColumns = 1024;

    /// <summary>
    /// The pairs of vectors of <see cref="Tile4{TV}"/> (four rows of C, columns [0, returned)) for vectors narrower than 512
    /// bits, whose 16 registers hold four rows by two vectors: B's rows <see cref="Tile4Block"/> at a time, every pair of
    /// columns over the block before the next, so that the passes over the columns read the block from L1 and B from
    /// memory is read once, row after row; the partial sums wait on the stack between blocks, and each sum still runs in
    /// k order. The first pass over a block asks for the rows two blocks ahead; without it a decode step (four query heads
    /// a key/value head, 8192 keys, H = 32, D = 128, two Zen 3 cores) took 1.5-1.85x the time of a vector read of K and V,
    /// with it 1.3-1.4x. The k loop is <see cref="Pairs4"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Tile4Blocked<TV>(int n, int k, float alpha, float* a, nint aRow, nint aCol, float* b, nint bRow, float* c, nint cRow, Epilogue tail)
        where TV : unmanaged, ISimdFloat<TV>
    {
        const int w = 8;
        var pairs = n / (2 * w) * (2 * w);
        var sums = stackalloc float[4 * pairs];
        for (var k0 = 0; k0 < k; k0 += Tile4Block)
            Pairs4(Math.Min(k - k0, Tile4Block), pairs, a + k0 * aCol, aRow, aCol, b + k0 * bRow, bRow, sums, k0 == 0);
        var scale = TV.Create(alpha);
        for (var j = 0; j < pairs; j += w)
        {
            float* s = sums + j, cj = c + j;
            for (var r = 0; r < 4; r++, s += pairs, cj += cRow) TV.Store(cj, tail.Vector(r, j, TV.Load(s) * scale));
        }
        return pairs;
    }

    /// <summary>
    /// One block of <see cref="Tile4Blocked{TV}"/>: <paramref name="steps"/> rows of B against four rows of A, every pair
    /// of 256-bit vectors of the first <paramref name="pairs"/> columns in turn, the sums started at zero or at
    /// <paramref name="sums"/> (four rows of <paramref name="pairs"/>) and stored back there. The pass over the first
    /// pair asks for the rows two blocks ahead. Over <see cref="Vector256{T}"/> in a method of its own, so that every
    /// product is one vfmadd231ps (through the V256 wrapper the JIT added four register moves and kept a row's pointer
    /// on the stack), and one call a block, not a pair: on one Zen 3 core, four rows by 128 columns by 256 of k in L2,
    /// a call a pair ran 55 GFLOP/s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pairs4(int steps, int pairs, float* a, nint aRow, nint aCol, float* b, nint bRow, float* sums, bool first)
    {
        const int w = 8;
        float* aq = a + 2 * aRow;
        for (var j = 0; j < pairs; j += 2 * w, b += 2 * w, sums += 2 * w)
        {
            Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31;
            if (first)
            {
                c00 = Vector256<float>.Zero; c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
            }
            else
            {
                c00 = Vector256.Load(sums); c01 = Vector256.Load(sums + w); c10 = Vector256.Load(sums + pairs); c11 = Vector256.Load(sums + pairs + w);
                c20 = Vector256.Load(sums + 2 * pairs); c21 = Vector256.Load(sums + 2 * pairs + w); c30 = Vector256.Load(sums + 3 * pairs); c31 = Vector256.Load(sums + 3 * pairs + w);
            }
            var bk = b;
            nint ak = 0;
            for (var kk = 0; kk < steps; kk++, bk += bRow, ak += aCol)
            {
                if (j == 0) PrefetchSpan(bk + 2 * Tile4Block * bRow, pairs);
                var b0 = Vector256.Load(bk);
                var b1 = Vector256.Load(bk + w);
                var x = Vector256.Create(a[ak]);
                c00 = Compat256.FusedMultiplyAdd(x, b0, c00); c01 = Compat256.FusedMultiplyAdd(x, b1, c01);
                x = Vector256.Create(a[ak + aRow]);
                c10 = Compat256.FusedMultiplyAdd(x, b0, c10); c11 = Compat256.FusedMultiplyAdd(x, b1, c11);
                x = Vector256.Create(aq[ak]);
                c20 = Compat256.FusedMultiplyAdd(x, b0, c20); c21 = Compat256.FusedMultiplyAdd(x, b1, c21);
                x = Vector256.Create(aq[ak + aRow]);
                c30 = Compat256.FusedMultiplyAdd(x, b0, c30); c31 = Compat256.FusedMultiplyAdd(x, b1, c31);
            }
            c00.Store(sums); c01.Store(sums + w); c10.Store(sums + pairs); c11.Store(sums + pairs + w);
            c20.Store(sums + 2 * pairs); c21.Store(sums + 2 * pairs + w); c30.Store(sums + 3 * pairs); c31.Store(sums + 3 * pairs + w);
        }
    }

    /// <summary>One row of C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1<TV>(int n, int k, float alpha, float* a, nint aCol, float* b, nint bRow, float* c, Epilogue tail)
        where TV : unmanaged, ISimdFloat<TV>
    {
        var w = TV.Count;
        var scale = TV.Create(alpha);
        var j = 0;
        // Eight vectors of the row at once, so that B's rows are read whole in one pass with 512-bit vectors (a decode
        // step's P*V, D = 128, reads each row of V once where pairs of vectors read it in four strided passes), in two with
        // 256-bit ones (eight accumulators fit their 16 registers): one query head per key/value head, decode step of 8192
        // keys, H = 32, D = 128, on a 2-core Zen 3: 1.45x -> 1.2x the time of a vector read of K and V.
        if (TV.Count >= 8)
            for (; j + 8 * w <= n; j += 8 * w)
            {
                TV c0 = TV.Create(0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
                var bk = b + j;
                nint ak = 0;
                for (var kk = 0; kk < k; kk++, bk += bRow, ak += aCol)
                {
                    var x = TV.Create(a[ak]);
                    c0 = TV.MultiplyAdd(x, TV.Load(bk), c0);
                    c1 = TV.MultiplyAdd(x, TV.Load(bk + w), c1);
                    c2 = TV.MultiplyAdd(x, TV.Load(bk + 2 * w), c2);
                    c3 = TV.MultiplyAdd(x, TV.Load(bk + 3 * w), c3);
                    c4 = TV.MultiplyAdd(x, TV.Load(bk + 4 * w), c4);
                    c5 = TV.MultiplyAdd(x, TV.Load(bk + 5 * w), c5);
                    c6 = TV.MultiplyAdd(x, TV.Load(bk + 6 * w), c6);
                    c7 = TV.MultiplyAdd(x, TV.Load(bk + 7 * w), c7);
                }
                TV.Store(c + j, tail.Vector(0, j, c0 * scale));
                TV.Store(c + j + w, tail.Vector(0, j + w, c1 * scale));
                TV.Store(c + j + 2 * w, tail.Vector(0, j + 2 * w, c2 * scale));
                TV.Store(c + j + 3 * w, tail.Vector(0, j + 3 * w, c3 * scale));
                TV.Store(c + j + 4 * w, tail.Vector(0, j + 4 * w, c4 * scale));
                TV.Store(c + j + 5 * w, tail.Vector(0, j + 5 * w, c5 * scale));
                TV.Store(c + j + 6 * w, tail.Vector(0, j + 6 * w, c6 * scale));
                TV.Store(c + j + 7 * w, tail.Vector(0, j + 7 * w, c7 * scale));
            }
        for (; j + 2 * w <= n; j += 2 * w)
        {
            TV c0 = TV.Create(0f), c1 = c0;
            var bk = b + j;
            nint ak = 0;
            for (var kk = 0; kk < k; kk++, bk += bRow, ak += aCol)
            {
                var x = TV.Create(a[ak]);
                c0 = TV.MultiplyAdd(x, TV.Load(bk), c0);
                c1 = TV.MultiplyAdd(x, TV.Load(bk + w), c1);
            }
            TV.Store(c + j, tail.Vector(0, j, c0 * scale));
            TV.Store(c + j + w, tail.Vector(0, j + w, c1 * scale));
        }
        for (; j < n; j += w)
        {
            if (j + w > n && !tail.LastVector(ref j, n, w, c)) break;
            var c0 = TV.Create(0f);
            var bk = b + j;
            nint ak = 0;
            for (var kk = 0; kk < k; kk++, bk += bRow, ak += aCol)
                c0 = TV.MultiplyAdd(TV.Create(a[ak]), TV.Load(bk), c0);
            TV.Store(c + j, tail.Vector(0, j, c0 * scale));
        }
        if (j < n) Columns(j, n, k, alpha, a, aCol, b, bRow, c, tail);
    }

    /// <summary>Columns [j, n) of one row, one element at a time, fused as the vector lanes are.</summary>
    private static void Columns(int j, int n, int k, float alpha, float* a, nint aCol, float* b, nint bRow, float* c, Epilogue tail)
    {
        for (; j < n; j++)
        {
            var sum = 0f;
            var bk = b + j;
            nint ak = 0;
            for (var kk = 0; kk < k; kk++, bk += bRow, ak += aCol) sum = MathF.FusedMultiplyAdd(a[ak], *bk, sum);
            c[j] = tail.Apply(0, j, sum * alpha);
        }
    }
}
