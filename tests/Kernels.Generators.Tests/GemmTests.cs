using Kernels.Runtime;

namespace Kernels.Generators.Tests;

/// <summary>
/// The contraction micro-kernel against a double-precision loop: every row count up to two register tiles and one
/// more and around the dot products' limit, every column count up to two pairs of vectors and one more (every tail), eight vectors (one row's widest
/// block) and nine and one, several depths, A row- or
/// column-major, B with j contiguous or k contiguous (the packed path), at every width.
/// </summary>
public unsafe class GemmTests
{
    public static TheoryData<string> Widths => new() { "V512", "V256", "V128", "F32" };

    [Theory]
    [MemberData(nameof(Widths))]
    public void Every_tile_and_tail_matches_a_scalar_loop(string width)
    {
        var count = width switch { "V512" => V512.Count, "V256" => V256.Count, "V128" => V128.Count, _ => F32.Count };
        var random = new Random(7);
        var failures = new List<string>();
        var cases = 0;
        // Past the dot products' rows too (Gemm.DotRows), where B stored k-innermost is copied into a panel.
        foreach (var m in Enumerable.Range(0, 2 * Gemm.RowTile + 2).Concat(new[] { Gemm.DotRows - 1, Gemm.DotRows, Gemm.DotRows + 7 }))
        foreach (var n in Enumerable.Range(0, 4 * count + 2).Where(x => x <= 2 * count + 1 || x % count <= 1 || x == 4 * count + 1).Concat(new[] { 8 * count, 9 * count + 1 }))
        // 2 * count + 3: the dot products' two accumulators, one vector and a tail; 3 * count + 3 adds a step of one vector;
        // 53: three whole blocks of B's rows and a part (the four-row tile of 256-bit vectors runs B 16 rows at a time);
        // 6, 16, 17, 19: the six-row tile's steps of four k with none, two, one and three left over.
        foreach (var k in new[] { 0, 1, 3, 6, 16, 17, 2 * count + 3, 3 * count + 3, 53 })
        foreach (var aColumnMajor in new[] { false, true })
        foreach (var bKInner in new[] { false, true })
        {
            var a = Enumerable.Range(0, m * k).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
            var c = Enumerable.Repeat(float.NaN, m * (n + 3)).ToArray(); // a row stride wider than n: stores stay inside their row
            const float alpha = 0.75f;
            nint aRow = aColumnMajor ? 1 : k, aCol = aColumnMajor ? m : 1;
            nint bRow = bKInner ? 1 : n, bCol = bKInner ? k : 1;
            fixed (float* pa = a, pb = b, pc = c)
            {
                switch (width)
                {
                    case "V512": Gemm.Run<V512>(m, n, k, alpha, pa, aRow, aCol, pb, bRow, bCol, pc, n + 3); break;
                    case "V256": Gemm.Run<V256>(m, n, k, alpha, pa, aRow, aCol, pb, bRow, bCol, pc, n + 3); break;
                    case "V128": Gemm.Run<V128>(m, n, k, alpha, pa, aRow, aCol, pb, bRow, bCol, pc, n + 3); break;
                    default: Gemm.Run<F32>(m, n, k, alpha, pa, aRow, aCol, pb, bRow, bCol, pc, n + 3); break;
                }
            }
            cases++;
            for (var i = 0; i < m; i++)
            for (var j = 0; j < n + 3; j++)
            {
                var actual = c[i * (n + 3) + j];
                if (j >= n)
                {
                    if (!float.IsNaN(actual)) failures.Add($"m={m} n={n} k={k}: wrote C[{i},{j}] past the row");
                    continue;
                }
                double expected = 0, magnitude = 0;
                for (var kk = 0; kk < k; kk++)
                {
                    var product = (double)a[i * aRow + kk * aCol] * b[kk * bRow + j * bCol];
                    expected += product;
                    magnitude += Math.Abs(product);
                }
                expected *= alpha;
                if (Math.Abs(actual - expected) > 1e-6 * (magnitude + 1) || float.IsNaN(actual))
                    failures.Add($"m={m} n={n} k={k} aColumnMajor={aColumnMajor} bKInner={bKInner}: C[{i},{j}] = {actual}, expected {expected}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases} cases failed, e.g.:\n" + string.Join("\n", failures.Take(10)));
    }

    /// <summary>
    /// B starting 0 to 15 floats past a 64-byte boundary (an input read in place), with a row stride that is a whole
    /// number of vectors and one that is not, and 25 rows: the same products as a double loop, plain and rescaled.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void A_misaligned_B_gives_the_same_products(string width)
    {
        var count = width switch { "V512" => V512.Count, "V256" => V256.Count, "V128" => V128.Count, _ => F32.Count };
        var random = new Random(13);
        var failures = new List<string>();
        const int m = 4 * Gemm.RowTile + 1, k = 17;
        var b = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)(k * (4 * count + 8) + 16) * sizeof(float), 64);
        try
        {
            foreach (var n in new[] { count, 2 * count + 3, 4 * count + 1 })
            foreach (var bRow in new[] { n, n + 1 })
            foreach (var offset in new[] { 0, 1, 4, 15 })
            foreach (var rescaled in new[] { false, true })
            {
                float R() => (float)(random.NextDouble() * 2 - 1);
                var a = Enumerable.Range(0, m * k).Select(_ => R()).ToArray();
                var pb = b + offset;
                for (var i = 0; i < k * bRow; i++) pb[i] = R();
                var previous = Enumerable.Range(0, m * n).Select(_ => R()).ToArray();
                var scale = Enumerable.Range(0, m).Select(_ => R()).ToArray();
                var c = new float[m * n];
                fixed (float* pa = a, pc = c, pp = previous, ps = scale)
                {
                    float* c0 = rescaled ? pp : null, s = rescaled ? ps : null;
                    switch (width)
                    {
                        case "V512": Gemm.RunScaled<V512>(m, n, k, 1f, pa, k, 1, pb, bRow, 1, pc, n, c0, n, s, 1); break;
                        case "V256": Gemm.RunScaled<V256>(m, n, k, 1f, pa, k, 1, pb, bRow, 1, pc, n, c0, n, s, 1); break;
                        case "V128": Gemm.RunScaled<V128>(m, n, k, 1f, pa, k, 1, pb, bRow, 1, pc, n, c0, n, s, 1); break;
                        default: Gemm.RunScaled<F32>(m, n, k, 1f, pa, k, 1, pb, bRow, 1, pc, n, c0, n, s, 1); break;
                    }
                }
                for (var i = 0; i < m; i++)
                for (var j = 0; j < n; j++)
                {
                    double expected = rescaled ? (double)scale[i] * previous[i * n + j] : 0;
                    for (var kk = 0; kk < k; kk++) expected += (double)a[i * k + kk] * pb[kk * bRow + j];
                    if (!(Math.Abs(c[i * n + j] - expected) <= 1e-5 * (k + 2)))
                        failures.Add($"n={n} bRow={bRow} offset={offset} rescaled={rescaled}: C[{i},{j}] = {c[i * n + j]}, expected {expected}");
                }
            }
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(b);
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
    }

    /// <summary>The running-sum form, C = alpha A*B + scale[i] C0 (C0 in place of C or apart), at every width and tail, with
    /// alpha = 1 (the register tiles then start from scale[i] C0) and not.</summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void The_rescaled_running_sum_matches_a_scalar_loop(string width)
    {
        var random = new Random(11);
        var failures = new List<string>();
        foreach (var m in new[] { 0, 1, 5, 6, 7, 13 })
        foreach (var n in new[] { 1, 3, 16, 17, 33, 64, 65 })
        foreach (var k in new[] { 0, 2, 19, 53 })
        foreach (var inPlace in new[] { false, true })
        foreach (var alpha in new[] { 0.5f, 1f })
        {
            float R() => (float)(random.NextDouble() * 2 - 1);
            var a = Enumerable.Range(0, m * k).Select(_ => R()).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => R()).ToArray();
            var previous = Enumerable.Range(0, m * n).Select(_ => R()).ToArray();
            var scale = Enumerable.Range(0, 2 * m).Select(_ => R()).ToArray();
            var c = inPlace ? (float[])previous.Clone() : new float[m * n];
            fixed (float* pa = a, pb = b, pc = c, pp = previous, ps = scale)
            {
                var c0 = inPlace ? pc : pp;
                switch (width)
                {
                    case "V512": Gemm.RunScaled<V512>(m, n, k, alpha, pa, k, 1, pb, n, 1, pc, n, c0, n, ps, 2); break;
                    case "V256": Gemm.RunScaled<V256>(m, n, k, alpha, pa, k, 1, pb, n, 1, pc, n, c0, n, ps, 2); break;
                    case "V128": Gemm.RunScaled<V128>(m, n, k, alpha, pa, k, 1, pb, n, 1, pc, n, c0, n, ps, 2); break;
                    default: Gemm.RunScaled<F32>(m, n, k, alpha, pa, k, 1, pb, n, 1, pc, n, c0, n, ps, 2); break;
                }
            }
            for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double expected = 0;
                for (var kk = 0; kk < k; kk++) expected += (double)a[i * k + kk] * b[kk * n + j];
                expected = alpha * expected + (double)scale[2 * i] * previous[i * n + j];
                if (Math.Abs(c[i * n + j] - expected) > 1e-5 * (k + 2))
                    failures.Add($"m={m} n={n} k={k} inPlace={inPlace} alpha={alpha}: C[{i},{j}] = {c[i * n + j]}, expected {expected}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
    }

    /// <summary>
    /// B packed into panels (Gemm.Pack) and read from them (Gemm.RunScaledPanels) gives the products of B read in place,
    /// row by row, bit for bit: blocks of one panel, two and a part, B filling all of the block or part of it (a partial last
    /// tile: fewer rows and columns than the layout), B with j contiguous, k contiguous (the transposed copy) or neither,
    /// row counts around the register tiles, with and without a running sum. The packing writes inside the block only.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Panels_give_the_products_of_B_read_in_place(string width)
    {
        var failures = new List<string>();
        var cases = width switch
        {
            "V512" => PanelCases<V512>(failures),
            "V256" => PanelCases<V256>(failures),
            "V128" => PanelCases<V128>(failures),
            _ => PanelCases<F32>(failures),
        };
        Assert.True(cases > 100, $"only {cases} cases ran");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases} cases failed, e.g.:\n" + string.Join("\n", failures.Take(10)));
    }

    private static int PanelCases<TV>(List<string> failures) where TV : unmanaged, ISimdFloat<TV>
    {
        var w = Gemm.PanelColumns<TV>();
        var random = new Random(13);
        float R() => (float)(random.NextDouble() * 2 - 1);
        var cases = 0;
        foreach (var (rows, columns) in new[] { (7, w), (19, 2 * w + 5), (64, 2 * w) })
        foreach (var (k, n) in new[] { (rows, columns), (rows - 3, columns), (rows, columns - 1), (rows - 1, Math.Min(w + 3, columns)), (1, 1), (0, columns) })
        foreach (var m in new[] { 1, 5, 6, 13, 24 })
        foreach (var layout in new[] { "j-contiguous", "k-contiguous", "strided" })
        foreach (var rescaled in new[] { false, true })
        {
            cases++;
            // B[kk, j] at kk * bRow + j * bCol, with room around it.
            nint bRow = layout == "j-contiguous" ? n + 2 : layout == "k-contiguous" ? 1 : 2 * n + 1;
            nint bCol = layout == "j-contiguous" ? 1 : layout == "k-contiguous" ? k + 3 : 2;
            var b = Enumerable.Range(0, (int)(Math.Max(k, 1) * bRow + Math.Max(n, 1) * bCol + 4)).Select(_ => R()).ToArray();
            var a = Enumerable.Range(0, m * Math.Max(k, 1)).Select(_ => R()).ToArray();
            var previous = Enumerable.Range(0, m * n).Select(_ => R()).ToArray();
            var scale = Enumerable.Range(0, m).Select(_ => R()).ToArray();
            var block = Enumerable.Repeat(float.NaN, rows * columns + 8).ToArray();
            var expected = new float[m * n];
            var actual = new float[m * n];
            fixed (float* pa = a, pb = b, pp = previous, ps = scale, pk = block, pe = expected, pc = actual)
            {
                float* c0 = rescaled ? pp : null, sc = rescaled ? ps : null;
                // The reference reads B row by row (a copy of it with j contiguous): B stored k-innermost would run as dot
                // products for a few rows, whose sums run in another order.
                var rowMajor = new float[Math.Max(k * n, 1)];
                for (var kk = 0; kk < k; kk++)
                    for (var j = 0; j < n; j++) rowMajor[kk * n + j] = pb[kk * bRow + j * bCol];
                fixed (float* pr = rowMajor) Gemm.RunScaled<TV>(m, n, k, 0.75f, pa, Math.Max(k, 1), 1, pr, n, 1, pe, n, c0, n, sc, 1);
                Gemm.Pack<TV>(k, n, pb, bRow, bCol, pk + 4, rows, columns);
                Gemm.RunScaledPanels<TV>(m, n, k, 0.75f, pa, Math.Max(k, 1), 1, pk + 4, rows, columns, pc, n, c0, n, sc, 1);
            }
            var where = $"{typeof(TV).Name} block {rows}x{columns}, k={k} n={n} m={m} {layout}{(rescaled ? " rescaled" : "")}";
            if (block.Take(4).Concat(block.Skip(4 + rows * columns)).Any(x => !float.IsNaN(x))) failures.Add($"{where}: wrote outside the block");
            for (var i = 0; i < m * n; i++)
                if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                {
                    failures.Add($"{where}: C[{i / n},{i % n}] = {actual[i]} from the panels, {expected[i]} from B in place");
                    break;
                }
        }
        return cases;
    }

    /// <summary>
    /// The products with their row maxima (Gemm.RunPanelsMax, Gemm.RunMax) give the products of RunPanels and RunScaled
    /// bit for bit, and maxima bit for bit those of Sweep.Max over the stored rows: row counts around the register tiles
    /// and the two tiles the folded path needs, whole and partial panels (two panels of 64 with AVX-512), rows with a NaN, rows of zeros of either sign
    /// (whose maximum's sign the sweep decides), rows of -inf, and a stride between the maxima.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Row_maxima_taken_as_the_product_stores_are_those_of_the_sweep(string width)
    {
        var failures = new List<string>();
        var cases = width switch
        {
            "V512" => RowMaxCases<V512>(failures),
            "V256" => RowMaxCases<V256>(failures),
            "V128" => RowMaxCases<V128>(failures),
            _ => RowMaxCases<F32>(failures),
        };
        Assert.True(cases > 100, $"only {cases} cases ran");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases} cases failed, e.g.:\n" + string.Join("\n", failures.Take(10)));
    }

    private static int RowMaxCases<TV>(List<string> failures) where TV : unmanaged, ISimdFloat<TV>
    {
        var random = new Random(17);
        float R() => (float)(random.NextDouble() * 2 - 1);
        var cases = 0;
        foreach (var n in new[] { 16, 32, 48, 64, 128, 40, 8, 1, 0 })
        foreach (var k in new[] { 64, 7, 1 })
        foreach (var m in new[] { 1, 5, 6, 11, 12, 13, 18, 23, 48 })
        foreach (var special in new[] { "none", "nan", "zeros", "negative zeros", "-inf" })
        {
            cases++;
            var columns = (n + 63) / 64 * 64 + 64; // the block: room for any panel width
            var a = Enumerable.Range(0, m * k).Select(_ => R()).ToArray();
            var b = Enumerable.Range(0, k * Math.Max(n, 1)).Select(_ => R()).ToArray();
            // Row 1 (or 0) of A picks the special row of C: a NaN in A's row makes that row of C NaN; a row of zeros in A
            // makes C's row zeros, negative with a negative alpha... zeros times a positive sum stay +0, so the signs
            // come from B's values instead: -0 = 0 * -x.
            var row = Math.Min(1, m - 1);
            if (special == "nan") a[row * k + k / 2] = float.NaN;
            if (special is "zeros" or "negative zeros") for (var kk = 0; kk < k; kk++) a[row * k + kk] = special == "zeros" ? 0f : -0f;
            if (special == "-inf") for (var kk = 0; kk < k; kk++) a[row * k + kk] = float.NegativeInfinity;
            var packed = new float[k * columns + 8];
            var expected = new float[m * Math.Max(n, 1)];
            var actual = new float[m * Math.Max(n, 1)];
            var other = new float[m * Math.Max(n, 1)];
            var expectedMax = new float[m];
            var actualMax = Enumerable.Repeat(float.NaN, 2 * m).ToArray();
            var otherMax = Enumerable.Repeat(float.NaN, m).ToArray();
            fixed (float* pa = a, pb = b, pk = packed, pe = expected, pc = actual, po = other, pem = expectedMax, pam = actualMax, pom = otherMax)
            {
                Gemm.Pack<TV>(k, n, pb, Math.Max(n, 1), 1, pk, k, columns);
                Gemm.RunPanels<TV>(m, n, k, 0.5f, pa, k, 1, pk, k, columns, pe, Math.Max(n, 1));
                Sweep.Max<TV>(pe, Math.Max(n, 1), m, n, pem, 1);
                Gemm.RunPanelsMax<TV>(m, n, k, 0.5f, pa, k, 1, pk, k, columns, pc, Math.Max(n, 1), pam, 2);
                Gemm.RunMax<TV>(m, n, k, 0.5f, pa, k, 1, pb, Math.Max(n, 1), 1, po, Math.Max(n, 1), pom, 1);
            }
            var where = $"{typeof(TV).Name} m={m} n={n} k={k} {special}";
            static bool Same(float x, float y) => BitConverter.SingleToInt32Bits(x) == BitConverter.SingleToInt32Bits(y) || (float.IsNaN(x) && float.IsNaN(y));
            if (!expected.Zip(actual).All(p => Same(p.First, p.Second))) failures.Add($"{where}: the panels' products differ from RunPanels'");
            for (var i = 0; i < m; i++)
            {
                if (!Same(actualMax[2 * i], expectedMax[i])) { failures.Add($"{where}: row {i}'s maximum {actualMax[2 * i]} from RunPanelsMax, {expectedMax[i]} from the sweep"); break; }
                if (!float.IsNaN(actualMax[2 * i + 1])) { failures.Add($"{where}: RunPanelsMax wrote between the maxima"); break; }
            }
            var sweptOther = new float[m];
            fixed (float* po = other, ps = sweptOther) Sweep.Max<TV>(po, Math.Max(n, 1), m, n, ps, 1);
            if (!sweptOther.Zip(otherMax).All(p => Same(p.First, p.Second))) failures.Add($"{where}: RunMax's maxima are not the sweep's of its products");
        }
        return cases;
    }

    /// <summary>
    /// A contraction's factor folded into the pack (Gemm.Pack with a factor, TensorStorage.PanelFactors): where
    /// Gemm.FactorFoldsIntoPanels allows it (finite, at most 1 in magnitude), each packed value is B's times the factor,
    /// bit for bit, and the products with a factor of 1 and their row maxima (RunPanelsMax, whose tiles then skip the
    /// multiply) are within float rounding of the products with the factor applied to the sums; elsewhere (2, 1e30, NaN,
    /// infinity) the panels are B's as they stand. Partial panels and row counts around the register tiles.
    /// </summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void A_factor_folded_into_the_panels_scales_the_products(string width)
    {
        var failures = new List<string>();
        var cases = width switch
        {
            "V512" => FactorCases<V512>(failures),
            "V256" => FactorCases<V256>(failures),
            "V128" => FactorCases<V128>(failures),
            _ => FactorCases<F32>(failures),
        };
        Assert.True(cases > 100, $"only {cases} cases ran");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases} cases failed, e.g.:\n" + string.Join("\n", failures.Take(10)));
    }

    private static int FactorCases<TV>(List<string> failures) where TV : unmanaged, ISimdFloat<TV>
    {
        var random = new Random(29);
        float R() => (float)(random.NextDouble() * 2 - 1);
        var cases = 0;
        foreach (var factor in new[] { 0.180336878f, -0.5f, 1f, 1e-20f, 2f, 1e30f, float.NaN, float.PositiveInfinity })
        foreach (var n in new[] { 64, 128, 40, 16, 1 })
        foreach (var k in new[] { 64, 7 })
        foreach (var m in new[] { 5, 12, 13, 96 })
        {
            cases++;
            var folds = Gemm.FactorFoldsIntoPanels(factor);
            if (folds != (float.IsFinite(factor) && Math.Abs(factor) <= 1f)) failures.Add($"FactorFoldsIntoPanels({factor}) = {folds}");
            var columns = (n + 63) / 64 * 64 + 64;
            var a = Enumerable.Range(0, m * k).Select(_ => R()).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => R()).ToArray();
            // NaN where the packs write nothing (the block past a partial panel's columns).
            var plain = Enumerable.Repeat(float.NaN, k * columns).ToArray();
            var scaled = Enumerable.Repeat(float.NaN, k * columns).ToArray();
            var expected = new float[m * n];
            var actual = new float[m * n];
            var expectedMax = new float[m];
            var actualMax = new float[m];
            fixed (float* pa = a, pb = b, pp = plain, ps = scaled, pe = expected, pc = actual, pem = expectedMax, pam = actualMax)
            {
                Gemm.Pack<TV>(k, n, pb, n, 1, pp, k, columns);
                Gemm.Pack<TV>(k, n, pb, n, 1, ps, k, columns, factor);
                Gemm.RunScaled<TV>(m, n, k, factor, pa, k, 1, pb, n, 1, pe, n, null, 0, null, 0);
                Sweep.Max<TV>(pe, n, m, n, pem, 1);
                Gemm.RunPanelsMax<TV>(m, n, k, folds ? 1f : factor, pa, k, 1, ps, k, columns, pc, n, pam, 1);
            }
            var where = $"{typeof(TV).Name} factor {factor} m={m} n={n} k={k}";
            for (var i = 0; i < plain.Length; i++)
            {
                var want = folds ? plain[i] * factor : plain[i];
                if (BitConverter.SingleToInt32Bits(scaled[i]) != BitConverter.SingleToInt32Bits(want) && !(float.IsNaN(scaled[i]) && float.IsNaN(want))) { failures.Add($"{where}: panel value {i} is {scaled[i]}, not {want}"); break; }
            }
            static bool Near(float x, float y, float bound) => (float.IsNaN(x) && float.IsNaN(y)) || x == y || Math.Abs(x - y) <= bound;
            // Each sum has k terms of |a b factor| < |factor|: rounding of the factor's place moves it by a few ulp of k |factor|.
            var bound = 4e-6f * k * Math.Abs(factor);
            for (var i = 0; i < m * n; i++)
                if (!Near(actual[i], expected[i], bound)) { failures.Add($"{where}: C[{i / n},{i % n}] = {actual[i]}, {expected[i]} with the factor on the sums"); break; }
            for (var i = 0; i < m; i++)
                if (!Near(actualMax[i], expectedMax[i], bound)) { failures.Add($"{where}: row {i}'s maximum {actualMax[i]}, {expectedMax[i]} with the factor on the sums"); break; }
        }
        return cases;
    }

    [Fact]
    public void Panels_refuse_more_rows_or_columns_than_their_block_holds()
    {
        var b = new float[64];
        var c = new float[64];
        fixed (float* pb = b, pc = c)
        {
            var pbi = (nint)pb;
            var pci = (nint)pc;
            Assert.Equal("n", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Pack<V256>(2, 5, (float*)pbi, 5, 1, (float*)pci, 2, 4)).ParamName);
            Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Pack<V256>(3, 4, (float*)pbi, 4, 1, (float*)pci, 2, 4)).ParamName);
            Assert.Equal("n", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.RunPanels<V256>(1, 5, 2, 1f, (float*)pbi, 2, 1, (float*)pci, 2, 4, (float*)pbi, 5)).ParamName);
            Assert.Equal("k", Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.RunPanels<V256>(1, 4, 3, 1f, (float*)pbi, 3, 1, (float*)pci, 2, 4, (float*)pbi, 4)).ParamName);
        }
    }
}
