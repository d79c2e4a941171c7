using Kernels.Einsum;
using Kernels.Einsum.Interpretation;

namespace Kernels.Generators.Tests;

/// <summary>The package's own kernels (generated from specs/ at build time) against the interpreter, hard inputs and bad arguments.</summary>
public class BuiltInKernelTests
{
    private static double[] Random(int n, int seed, double scale) { var r = new Random(seed); return Enumerable.Range(0, n).Select(_ => (double)(float)((r.NextDouble() * 2 - 1) * scale)).ToArray(); }

    private static float[] F(double[] x) => x.Select(v => (float)v).ToArray();

    private static double[] Reference(string spec, Dictionary<string, int> sizes, Dictionary<string, double[]> inputs, string output)
    {
        var cascade = CascadeCompiler.Compile(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "specs", spec + ".einsum"))).Cascade!;
        return ReferenceInterpreter.Run(cascade, sizes, inputs)[output];
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance)
    {
        var scale = Math.Max(1, expected.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max());
        for (var i = 0; i < expected.Length; i++)
            Assert.True(KernelBench.Close(actual[i], expected[i], tolerance * scale), $"[{i}] {actual[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(7, 256, 64, 64)]
    [InlineData(13, 100, 40, 24)]
    [InlineData(2, 1, 3, 5)]
    public void Attention_matches_the_interpreter(int p, int m, int e, int f)
    {
        var q = Random(p * e, 1, 3); var k = Random(m * e, 2, 3); var v = Random(m * f, 3, 1);
        var output = new float[p * f];
        Attention.Forward(F(q), F(k), F(v), output, p, m, e, f);
        var expected = Reference("attention.fusemax", new() { ["P"] = p, ["M"] = m, ["E"] = e, ["F"] = f }, new() { ["Q"] = q, ["K"] = k, ["V"] = v }, "AV");
        AssertClose(expected, output, 2e-5);
    }

    /// <summary>[b, outer, inner, width] -> [b, inner, outer, width]: [batch, heads, sequence, dim] to [batch, sequence, heads, dim] and back.</summary>
    private static double[] Swap(double[] x, int b, int outer, int inner, int width)
    {
        var y = new double[x.Length];
        for (var i = 0; i < b; i++)
            for (var o = 0; o < outer; o++)
                for (var n = 0; n < inner; n++)
                    Array.Copy(x, ((i * outer + o) * inner + n) * width, y, ((i * inner + n) * outer + o) * width, width);
        return y;
    }

    /// <summary>Attention in double, written out directly (no cascade): for each query, the keys it sees (all, or those at
    /// or before it, aligned bottom-right or top-left, and of those the last <paramref name="window"/> when it is set),
    /// softmax of the scaled scores, times the values; 0 for a query that sees none.</summary>
    private static double[] AttentionLoop(double[] q, double[] k, double[] v, AttentionShape s, bool causal, int window = 0, double scale = 0, double cap = 0, double[]? mask = null, int[]? lengths = null, double[]? lse = null, bool topLeft = false)
    {
        var (b, h, kvh, p, m, e, f) = (s.Batch, s.Heads, s.KeyValueHeads, s.QueryLength, s.KeyLength, s.HeadDim, s.ValueDim);
        var output = new double[b * h * p * f];
        var scores = new double[m];
        for (var bi = 0; bi < b; bi++)
            for (var hi = 0; hi < h; hi++)
            {
                var kh = hi / (h / kvh);
                for (var pi = 0; pi < p; pi++)
                {
                    var last = topLeft ? pi : pi + m - p; // the last key a causal row sees
                    var seen = Math.Min(causal ? Math.Clamp(last + 1, 0, m) : m, lengths?[bi] ?? m);
                    var first = window > 0 ? Math.Max(0, last - window + 1) : 0;
                    var max = double.NegativeInfinity;
                    for (var mi = first; mi < seen; mi++)
                    {
                        var dot = 0.0;
                        for (var ei = 0; ei < e; ei++) dot += q[((bi * h + hi) * p + pi) * e + ei] * k[((bi * kvh + kh) * m + mi) * e + ei];
                        var x = scale > 0 ? dot * scale : dot / Math.Sqrt(e);
                        if (cap > 0) x = cap * Math.Tanh(x / cap);
                        if (mask is not null) x += mask[(bi * p + pi) * m + mi];
                        scores[mi] = x;
                        max = Math.Max(max, scores[mi]);
                    }
                    var sum = 0.0;
                    for (var mi = first; mi < seen; mi++) sum += scores[mi] = max == double.NegativeInfinity ? 0 : Math.Exp(scores[mi] - max);
                    if (lse is not null) lse[(bi * h + hi) * p + pi] = seen > first && sum > 0 ? max + Math.Log(sum) : double.NegativeInfinity;
                    for (var fi = 0; fi < f && seen > first && sum > 0; fi++)
                    {
                        var acc = 0.0;
                        for (var mi = first; mi < seen; mi++) acc += scores[mi] * v[((bi * kvh + kh) * m + mi) * f + fi];
                        output[((bi * h + hi) * p + pi) * f + fi] = acc / sum;
                    }
                }
            }
        return output;
    }

    /// <summary>
    /// A decode step with its keys split into blocks computed apart and merged (flash-decoding), forced here so that it
    /// runs on a machine of any size: one sequence and key/value head with a remainder block (1000 keys in 3 blocks),
    /// several with blocks that divide the keys, grouped query heads (8 of them: the dot products' four-row quads twice),
    /// a few queries unmasked, one query causal, a scale, and key lengths that end inside a block, at a block's edge,
    /// in the remainder and at 0 (a row with no key gives zeros); against the double loop, as is the call the machine chooses.
    /// </summary>
    [Theory]
    [InlineData(1, 4, 1, 1, 1000, 64, 48, 3, false, null)]
    [InlineData(1, 8, 1, 1, 1000, 32, 16, 4, true, new[] { 999 })]
    [InlineData(1, 2, 1, 3, 700, 16, 8, 2, false, new[] { 351 })]
    [InlineData(2, 4, 2, 1, 600, 24, 40, 3, false, new[] { 600, 0 })]
    [InlineData(2, 6, 3, 2, 512, 16, 16, 4, false, new[] { 128, 300 })]
    [InlineData(1, 1, 1, 1, 4097, 128, 128, 5, true, new[] { 4096 })]
    public void A_decode_step_split_over_key_blocks_matches_the_double_loop(int batch, int heads, int kvHeads, int p, int m, int e, int f, int blocks, bool causal, int[]? lengths)
    {
        var shape = new AttentionShape(batch, heads, kvHeads, p, m, e, f);
        var q = Random(batch * heads * p * e, 11, 3); var k = Random(batch * kvHeads * m * e, 12, 3); var v = Random(batch * kvHeads * m * f, 13, 1);
        var options = new AttentionOptions(Causal: causal, Scale: 0.2f, KeyLengths: lengths);
        var split = new float[batch * heads * p * f];
        var whole = new float[split.Length]; // as the machine chooses: split or not
        Attention.ForcedKeyBlocks = blocks;
        try
        {
            Attention.Forward(F(q), F(k), F(v), split, shape, options);
        }
        finally
        {
            Attention.ForcedKeyBlocks = 0;
        }
        Attention.Forward(F(q), F(k), F(v), whole, shape, options);
        var expected = AttentionLoop(q, k, v, shape, causal, scale: 0.2f, lengths: lengths);
        AssertClose(expected, split, 2e-5);
        AssertClose(expected, whole, 2e-5);
        if (lengths is not null && lengths.Contains(0))
            Assert.All(split.Skip(Array.IndexOf(lengths, 0) * heads * p * f).Take(heads * p * f), x => Assert.Equal(0f, x));
    }

    [Fact]
    public void Key_blocks_are_chosen_for_few_pairs_and_long_caches_and_divide_the_keys_of_several()
    {
        Assert.Equal(0, Attention.KeyBlocks(pairs: 8, rows: 4, keys: 8192, threads: 2));      // every core has a pair
        Assert.Equal(4, Attention.KeyBlocks(pairs: 1, rows: 32, keys: 65536, threads: 2));    // two blocks per core
        Assert.Equal(0, Attention.KeyBlocks(pairs: 1, rows: 1, keys: 4095, threads: 2));      // too few keys to split
        Assert.Equal(2, Attention.KeyBlocks(pairs: 1, rows: 1, keys: 4097, threads: 16));     // blocks of 2048 keys at least
        Assert.Equal(0, Attention.KeyBlocks(pairs: 1, rows: 65, keys: 1 << 20, threads: 2));  // a prefill, not a decode step
        Assert.Equal(4, Attention.KeyBlocks(pairs: 4, rows: 8, keys: 16384, threads: 8));     // 4 divides the keys
        Assert.Equal(3, Attention.KeyBlocks(pairs: 4, rows: 8, keys: 3 * 4099, threads: 8));  // 4 does not: 3 does
        Assert.Equal(0, Attention.KeyBlocks(pairs: 4, rows: 8, keys: 16381, threads: 8));     // neither 4, 3 nor 2: no split
    }

    /// <summary>Multi-head, grouped-query (2 and all heads per key/value head) and causal attention, on shapes that divide no
    /// tile: a KV cache (fewer queries than keys), as many, and more queries than keys (the first rows see no key: zeros).</summary>
    /// <summary>A prefill's key tile keeps K's and V's tile within an eighth of the core's L2 (whole powers of two from 64,
    /// capped by the mask's most); a decode step's is 256 whatever the cache; the L2 read from the machine is a sane size.</summary>
    [Fact]
    public void Key_tiles_follow_the_cores_L2()
    {
        Assert.Equal(256, Attention.KeyTile(96, 64, 64, l2Bytes: 1 << 20));
        Assert.Equal(128, Attention.KeyTile(96, 64, 64, l2Bytes: 512 << 10));
        Assert.Equal(128, Attention.KeyTile(96, 128, 128, l2Bytes: 1 << 20));
        Assert.Equal(128, Attention.KeyTile(96, 128, 128, l2Bytes: 512 << 10)); // the floor of 128 keys (K and V in L2/4)
        Assert.Equal(64, Attention.KeyTile(96, 128, 128, l2Bytes: 256 << 10));
        Assert.Equal(64, Attention.KeyTile(96, 256, 256, l2Bytes: 256 << 10));
        Assert.Equal(128, Attention.KeyTile(96, 64, 64, most: 128, l2Bytes: 4 << 20));
        Assert.Equal(256, Attention.KeyTile(4, 128, 128, l2Bytes: 256 << 10));
        Assert.InRange(Kernels.Runtime.KernelRuntime.L2CacheBytes, 256L << 10, 4L << 20);
    }

    [Theory]
    [InlineData(2, 4, 4, 37, 100, 16, 8, false)]
    [InlineData(2, 4, 4, 37, 100, 16, 8, true)]
    [InlineData(1, 6, 3, 70, 70, 32, 32, true)]
    [InlineData(1, 6, 3, 70, 200, 32, 32, false)]
    [InlineData(2, 4, 1, 130, 65, 8, 12, true)]
    [InlineData(1, 8, 2, 1, 300, 64, 64, true)]
    [InlineData(2, 4, 1, 5, 33, 8, 8, false)]
    [InlineData(1, 32, 8, 1, 129, 128, 128, false)]
    [InlineData(1, 2, 2, 3, 0, 4, 4, true)]
    // Key tiles longer than the specs' 64 (Attention.KeyTile: 128 or 256 keys at D = 64 by the L2, 128 when causal), several of them and a partial one.
    [InlineData(1, 4, 2, 40, 1100, 64, 64, false)]
    [InlineData(1, 2, 2, 300, 700, 64, 64, true)]
    public void Attention_with_shape_and_options_matches_a_double_loop(int batch, int heads, int kvHeads, int p, int m, int e, int f, bool causal)
    {
        var shape = new AttentionShape(batch, heads, kvHeads, p, m, e, f);
        var q = Random(batch * heads * p * e, 4, 3); var k = Random(batch * kvHeads * m * e, 5, 3); var v = Random(batch * kvHeads * m * f, 6, 1);
        var output = new float[batch * heads * p * f];
        Attention.Forward(F(q), F(k), F(v), output, shape, new AttentionOptions(Causal: causal));
        AssertClose(AttentionLoop(q, k, v, shape, causal), output, 2e-5);
        if (causal && p > m) Assert.All(output.Take((p - m) * f), y => Assert.Equal(0f, y)); // the first head's rows that see no key
    }

    /// <summary>A sliding window (causal): one key, fewer keys than a tile, a window that crosses tiles, one as long as the
    /// keys (the causal kernel), a KV cache, more queries than keys, a decode step, grouped and multi-query heads.</summary>
    [Theory]
    [InlineData(1, 2, 2, 50, 50, 8, 8, 1)]
    [InlineData(2, 4, 2, 100, 100, 16, 8, 17)]
    [InlineData(1, 4, 1, 37, 200, 16, 16, 70)]
    [InlineData(1, 2, 1, 130, 65, 8, 12, 64)]
    [InlineData(2, 6, 3, 70, 70, 32, 32, 70)]
    [InlineData(1, 8, 2, 1, 300, 64, 64, 129)]
    [InlineData(1, 3, 3, 200, 257, 8, 4, 100)]
    [InlineData(1, 2, 1, 300, 700, 16, 16, 600)]
    public void Attention_with_a_sliding_window_matches_a_double_loop(int batch, int heads, int kvHeads, int p, int m, int e, int f, int window)
    {
        var shape = new AttentionShape(batch, heads, kvHeads, p, m, e, f);
        var q = Random(batch * heads * p * e, 7, 3); var k = Random(batch * kvHeads * m * e, 8, 3); var v = Random(batch * kvHeads * m * f, 9, 1);
        var output = new float[batch * heads * p * f];
        Attention.Forward(F(q), F(k), F(v), output, shape, new AttentionOptions(Causal: true, Window: window));
        AssertClose(AttentionLoop(q, k, v, shape, causal: true, window), output, 2e-5);
    }

    /// <summary>A scale of its own, a soft cap, and an additive mask (with keys and whole rows left out by -inf), each
    /// with and without the causal mask and a window, grouped heads, shapes that divide no tile.</summary>
    [Theory]
    [InlineData(false, 0, 0.05, 0.0, false)]
    [InlineData(true, 0, 0.3, 0.0, false)]
    [InlineData(true, 40, 0.1, 0.0, false)]
    [InlineData(false, 0, 0.0, 5.0, false)]
    [InlineData(true, 0, 0.5, 2.0, false)]
    [InlineData(true, 30, 0.0, 50.0, false)]
    [InlineData(false, 0, 0.0, 0.0, true)]
    [InlineData(true, 0, 0.2, 0.0, true)]
    [InlineData(true, 50, 0.0, 0.0, true)]
    // A soft cap and a mask together (attention.softcap.masked): the mask is added to the capped scores.
    [InlineData(false, 0, 0.0, 5.0, true)]
    [InlineData(true, 40, 0.2, 2.0, true)]
    // Each with sequences of different lengths (AttentionOptions.KeyLengths), one of them without keys.
    [InlineData(false, 0, 0.0, 5.0, false, "130,60")]
    [InlineData(true, 0, 0.0, 0.0, true, "17,130")]
    [InlineData(true, 40, 0.2, 2.0, true, "100,0")]
    public void Attention_with_scale_soft_cap_or_mask_matches_a_double_loop(bool causal, int window, double scale, double cap, bool masked, string? lengths = null)
    {
        var lens = lengths?.Split(',').Select(int.Parse).ToArray();
        var shape = new AttentionShape(2, 4, 2, 90, 130, 16, 12);
        var q = Random(2 * 4 * 90 * 16, 10, 3); var k = Random(2 * 2 * 130 * 16, 11, 3); var v = Random(2 * 2 * 130 * 12, 12, 1);
        double[]? mask = null;
        if (masked)
        {
            // Padding of the second sequence past key 100, a random bias, some keys left out, and one row with no key.
            var r = new Random(13);
            mask = new double[2 * 90 * 130];
            for (var i = 0; i < mask.Length; i++)
            {
                var (bi, pi, mi) = (i / (90 * 130), i / 130 % 90, i % 130);
                mask[i] = (bi == 1 && mi >= 100) || r.Next(10) == 0 || (bi == 0 && pi == 7) ? double.NegativeInfinity : (float)(r.NextDouble() * 4 - 2);
            }
        }
        var output = new float[2 * 4 * 90 * 12];
        var options = new AttentionOptions(Causal: causal, Window: window, Scale: (float)scale, SoftCap: (float)cap, KeyLengths: lens);
        if (mask is null) Attention.Forward(F(q), F(k), F(v), output, shape, options);
        else Attention.Forward(F(q), F(k), F(v), output, shape, options, F(mask));
        var expected = AttentionLoop(q, k, v, shape, causal, window, (float)scale, (float)cap, mask, lens);
        AssertClose(expected, output, 2e-5);
        if (masked) Assert.All(output.Skip(7 * 12).Take(12), y => Assert.Equal(0f, y)); // the row the mask leaves without keys
    }

    /// <summary>The [batch, sequence, heads, dim] layout, read in place: the same attention as the default layout's double
    /// loop on the transposed tensors, unmasked, causal, with a window and a scale, grouped heads, a KV cache.</summary>
    [Theory]
    [InlineData(2, 4, 2, 90, 130, 16, 12, false, 0, 0.0)]
    [InlineData(1, 6, 3, 70, 70, 32, 32, true, 0, 0.0)]
    [InlineData(2, 4, 1, 37, 100, 8, 8, true, 20, 0.25)]
    [InlineData(1, 8, 8, 1, 129, 64, 64, true, 0, 0.0)]
    // Sequences of different lengths (AttentionOptions.KeyLengths): a right-padded prefill with one of no keys, decode steps.
    [InlineData(3, 4, 2, 100, 100, 16, 12, true, 0, 0.0, "100,37,0")]
    [InlineData(4, 8, 2, 1, 300, 64, 64, false, 0, 0.0, "300,129,1,64")]
    public void Attention_in_the_sequence_major_layout_matches_a_double_loop(int batch, int heads, int kvHeads, int p, int m, int e, int f, bool causal, int window, double scale, string? lengths = null)
    {
        var lens = lengths?.Split(',').Select(int.Parse).ToArray();
        var shape = new AttentionShape(batch, heads, kvHeads, p, m, e, f);
        var q = Random(batch * heads * p * e, 14, 3); var k = Random(batch * kvHeads * m * e, 15, 3); var v = Random(batch * kvHeads * m * f, 16, 1);
        var output = new float[batch * heads * p * f];
        Attention.Forward(F(Swap(q, batch, heads, p, e)), F(Swap(k, batch, kvHeads, m, e)), F(Swap(v, batch, kvHeads, m, f)), output, shape,
            new AttentionOptions(Causal: causal, Window: window, Scale: (float)scale, Layout: AttentionLayout.BatchSequenceHead, KeyLengths: lens));
        AssertClose(Swap(AttentionLoop(q, k, v, shape, causal, window, (float)scale, lengths: lens), batch, heads, p, f), output, 2e-5);
    }

    /// <summary>Sequences of different lengths padded to the keys (AttentionOptions.KeyLengths): a right-padded prefill with a
    /// sequence of no keys, decode steps against caches filled to different lengths, a KV cache with a window, lengths that
    /// cut the long key tiles, a scale of its own; grouped heads, shapes that divide no tile.</summary>
    [Theory]
    [InlineData(3, 4, 2, 100, 100, 16, 12, true, 0, 0.0, "100,37,0")]
    [InlineData(4, 8, 2, 1, 300, 64, 64, false, 0, 0.0, "300,129,1,64")]
    [InlineData(2, 2, 1, 37, 200, 16, 16, true, 50, 0.0, "150,200")]
    [InlineData(2, 2, 2, 40, 1100, 64, 64, false, 0, 0.0, "1100,513")]
    [InlineData(2, 4, 4, 5, 33, 8, 8, false, 0, 0.25, "33,17")]
    [InlineData(3, 2, 1, 130, 65, 8, 12, true, 0, 0.0, "65,0,64")]
    public void Attention_over_sequences_of_different_lengths_matches_a_double_loop(int batch, int heads, int kvHeads, int p, int m, int e, int f, bool causal, int window, double scale, string lengths)
    {
        var shape = new AttentionShape(batch, heads, kvHeads, p, m, e, f);
        var lens = lengths.Split(',').Select(int.Parse).ToArray();
        var q = Random(batch * heads * p * e, 17, 3); var k = Random(batch * kvHeads * m * e, 18, 3); var v = Random(batch * kvHeads * m * f, 19, 1);
        var output = new float[batch * heads * p * f];
        Attention.Forward(F(q), F(k), F(v), output, shape, new AttentionOptions(Causal: causal, Window: window, Scale: (float)scale, KeyLengths: lens));
        AssertClose(AttentionLoop(q, k, v, shape, causal, window, (float)scale, lengths: lens), output, 2e-5);
        for (var b = 0; b < batch; b++)
            if (lens[b] == 0) Assert.All(output.Skip(b * heads * p * f).Take(heads * p * f), y => Assert.Equal(0f, y)); // no key: zeros
    }

    /// <summary>The causal mask aligned top-left (query p sees keys 0..p): fewer queries than keys (where it differs from
    /// bottom-right), as many (where they agree), more (the last P - M rows see every key), one query (a decode step sees
    /// only key 0), with a window, key lengths, a scale, a soft cap, an additive mask, the other layout and the log-sum-exp.</summary>
    [Theory]
    [InlineData(2, 4, 2, 37, 100, 16, 8, 0, 0.0, null, "")]
    [InlineData(1, 6, 3, 70, 70, 32, 32, 0, 0.0, null, "")]
    [InlineData(2, 4, 1, 130, 65, 8, 12, 0, 0.0, null, "")]
    [InlineData(1, 8, 2, 1, 300, 64, 64, 0, 0.0, null, "")]
    [InlineData(2, 2, 1, 90, 300, 16, 16, 40, 0.0, null, "")]
    [InlineData(1, 2, 2, 300, 700, 64, 64, 0, 0.0, null, "")]
    [InlineData(3, 4, 2, 60, 100, 16, 12, 0, 0.2, "100,37,0", "")]
    [InlineData(2, 4, 2, 37, 100, 16, 8, 20, 0.0, null, "softcap")]
    [InlineData(2, 4, 2, 37, 100, 16, 8, 0, 0.0, "100,50", "mask")]
    [InlineData(2, 4, 1, 37, 100, 8, 8, 20, 0.25, null, "bshd")]
    [InlineData(2, 4, 2, 130, 65, 16, 8, 0, 0.0, "65,30", "lse")]
    public void Attention_with_the_causal_mask_aligned_top_left_matches_a_double_loop(int batch, int heads, int kvHeads, int p, int m, int e, int f, int window, double scale, string? lengths, string variant)
    {
        var shape = new AttentionShape(batch, heads, kvHeads, p, m, e, f);
        var lens = lengths?.Split(',').Select(int.Parse).ToArray();
        var q = Random(batch * heads * p * e, 23, 3); var k = Random(batch * kvHeads * m * e, 24, 3); var v = Random(batch * kvHeads * m * f, 25, 1);
        var output = new float[batch * heads * p * f];
        var options = new AttentionOptions(Causal: true, Window: window, Scale: (float)scale, KeyLengths: lens, Alignment: CausalAlignment.TopLeft);
        var cap = variant == "softcap" ? 3.0 : 0.0;
        var mask = variant == "mask" ? Random(batch * p * m, 26, 2) : null;
        var lse = variant == "lse" ? new double[batch * heads * p] : null;
        var expected = AttentionLoop(q, k, v, shape, true, window, (float)scale, cap, mask, lens, lse, topLeft: true);
        var logSumExp = new float[batch * heads * p];
        switch (variant)
        {
            case "softcap": Attention.Forward(F(q), F(k), F(v), output, shape, options with { SoftCap = (float)cap }); break;
            case "mask": Attention.Forward(F(q), F(k), F(v), output, shape, options, F(mask!)); break;
            case "lse": Attention.Forward(F(q), F(k), F(v), output, logSumExp, shape, options); break;
            case "bshd":
                Attention.Forward(F(Swap(q, batch, heads, p, e)), F(Swap(k, batch, kvHeads, m, e)), F(Swap(v, batch, kvHeads, m, f)), output, shape, options with { Layout = AttentionLayout.BatchSequenceHead });
                expected = Swap(expected, batch, heads, p, f);
                break;
            default: Attention.Forward(F(q), F(k), F(v), output, shape, options); break;
        }
        AssertClose(expected, output, 2e-5);
        if (lse is not null)
            for (var i = 0; i < lse.Length; i++)
                Assert.True(double.IsNegativeInfinity(lse[i]) ? float.IsNegativeInfinity(logSumExp[i]) : Math.Abs(logSumExp[i] - lse[i]) <= 1e-4 * Math.Max(1, Math.Abs(lse[i])), $"LSE[{i}] = {logSumExp[i]}, expected {lse[i]}");
        // Where P < M, top-left differs from bottom-right: the first query sees one key, not M - P + 1.
        if (p < m && variant == "" && lens is null)
        {
            var bottomRight = new float[output.Length];
            Attention.Forward(F(q), F(k), F(v), bottomRight, shape, options with { Alignment = CausalAlignment.BottomRight });
            Assert.NotEqual(bottomRight.Take(f), output.Take(f));
        }
    }

    /// <summary>Each query's log-sum-exp beside the output: unmasked, causal with a KV cache and more queries than keys
    /// (rows of no key: -inf and zeros), a window, key lengths with a sequence of none, a scale of its own.</summary>
    [Theory]
    [InlineData(2, 4, 2, 37, 100, 16, 8, false, 0, 0.0, null)]
    [InlineData(1, 6, 3, 130, 65, 32, 32, true, 0, 0.0, null)]
    [InlineData(2, 2, 1, 90, 300, 16, 16, true, 40, 0.0, null)]
    [InlineData(3, 4, 2, 100, 100, 16, 12, true, 0, 0.2, "100,37,0")]
    [InlineData(4, 8, 2, 1, 300, 64, 64, false, 0, 0.0, "300,129,1,64")]
    public void Attention_writes_each_querys_log_sum_exp(int batch, int heads, int kvHeads, int p, int m, int e, int f, bool causal, int window, double scale, string? lengths)
    {
        var shape = new AttentionShape(batch, heads, kvHeads, p, m, e, f);
        var lens = lengths?.Split(',').Select(int.Parse).ToArray();
        var q = Random(batch * heads * p * e, 20, 3); var k = Random(batch * kvHeads * m * e, 21, 3); var v = Random(batch * kvHeads * m * f, 22, 1);
        var output = new float[batch * heads * p * f];
        var lse = new float[batch * heads * p];
        Attention.Forward(F(q), F(k), F(v), output, lse, shape, new AttentionOptions(Causal: causal, Window: window, Scale: (float)scale, KeyLengths: lens));
        var expected = new double[lse.Length];
        AssertClose(AttentionLoop(q, k, v, shape, causal, window, (float)scale, lengths: lens, lse: expected), output, 2e-5);
        for (var i = 0; i < lse.Length; i++)
        {
            if (double.IsNegativeInfinity(expected[i])) Assert.Equal(float.NegativeInfinity, lse[i]);
            else Assert.True(Math.Abs(lse[i] - expected[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"LSE[{i}] = {lse[i]}, expected {expected[i]}");
        }
        Assert.Contains(expected, x => double.IsFinite(x));
    }

    [Fact]
    public void The_log_sum_exp_span_is_checked_before_memory_is_touched()
    {
        var x = new float[64];
        var y = new float[64];
        var lse = new float[8];
        var shape = new AttentionShape(2, 2, 1, 2, 2, 2, 2);
        Assert.Equal("logSumExp", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, lse.AsSpan(0, 7), shape)).ParamName);
        Assert.Equal("logSumExp", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, y.AsSpan(16, 8), shape)).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, lse, shape, new AttentionOptions(SoftCap: 5))).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, lse, shape, new AttentionOptions(Layout: AttentionLayout.BatchSequenceHead))).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, lse, shape, new AttentionOptions(KeyLengths: new[] { 1 }))).ParamName);
        Assert.All(y, v => Assert.Equal(0f, v));
        Assert.All(lse, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Key_lengths_are_checked_before_memory_is_touched()
    {
        var x = new float[64];
        var y = new float[64];
        var shape = new AttentionShape(2, 2, 1, 2, 2, 2, 2);
        var options = new AttentionOptions(KeyLengths: new[] { 2, 1 });
        foreach (var bad in new[]
        {
            options with { KeyLengths = new[] { 2 } },
            options with { KeyLengths = new[] { 2, 1, 0 } },
            options with { KeyLengths = new[] { 3, 1 } },
        })
            Assert.Equal("options", Assert.ThrowsAny<ArgumentException>(() => Attention.Forward(x, x, x, y, shape, bad)).ParamName);
        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(x, x, x, y, shape, options with { KeyLengths = new[] { 2, -1 } }));
        Assert.Contains("options.KeyLengths[1] is -1", negative.Message);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(x, x, x, y, shape, options with { KeyLengths = new[] { 3, 1 } }, new float[8])).ParamName);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Scale_soft_cap_and_mask_arguments_are_checked_before_memory_is_touched()
    {
        var x = new float[64];
        var y = new float[64];
        var shape = new AttentionShape(1, 2, 1, 2, 2, 2, 2);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(x, x, x, y, shape, new AttentionOptions(Scale: float.NaN))).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(x, x, x, y, shape, new AttentionOptions(SoftCap: -1))).ParamName);
        Assert.Equal("mask", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, shape, default, new float[3])).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(x, x, x, y, shape, new AttentionOptions(SoftCap: float.PositiveInfinity), new float[4])).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, shape, default, y.AsSpan(0, 4))).ParamName);
        var sequenceMajor = new AttentionOptions(Layout: AttentionLayout.BatchSequenceHead);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, shape, sequenceMajor with { SoftCap = 30 })).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, shape, sequenceMajor, new float[4])).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(x, x, x, y, shape, new AttentionOptions(Layout: (AttentionLayout)7))).ParamName);
        Assert.Contains("[Batch, QueryLength, Heads, HeadDim] = [1, 3, 2, 2]", Assert.Throws<ArgumentException>(() => Attention.Forward(new float[11], x, x, y, shape with { QueryLength = 3 }, sequenceMajor)).Message);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_window_needs_the_causal_mask_and_a_size_of_zero_or_more()
    {
        var x = new float[64];
        var y = new float[64];
        var shape = new AttentionShape(1, 2, 1, 2, 2, 2, 2);
        Assert.Equal("options", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, shape, new AttentionOptions(Window: 4))).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(x, x, x, y, shape, new AttentionOptions(Causal: true, Window: -1))).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(x, x, x, y, shape, new AttentionOptions(Causal: true, Alignment: (CausalAlignment)2))).ParamName);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Attention_with_shape_names_shape_for_bad_sizes_and_the_span_that_is_short()
    {
        var x = new float[64];
        var y = new float[64];
        Assert.Equal("shape", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, y, new AttentionShape(1, 4, 3, 2, 2, 2, 2))).ParamName);
        Assert.Equal("shape", Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(x, x, x, y, new AttentionShape(1, -1, 1, 2, 2, 2, 2))).ParamName);
        Assert.Equal("key", Assert.Throws<ArgumentException>(() => Attention.Forward(x, new float[3], x, y, new AttentionShape(1, 2, 1, 2, 2, 2, 2))).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => Attention.Forward(x, x, x, x, new AttentionShape(1, 2, 1, 2, 2, 2, 2), new AttentionOptions(Causal: true))).ParamName);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Softmax_handles_huge_infinite_and_nan_inputs_as_the_interpreter_does()
    {
        double[] x =
        {
            100, 200, 89, 3e38,                       // huge logits: no overflow
            double.NegativeInfinity, 0, 1, 2,         // -inf gets probability 0
            double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity, // fully masked row
            1, double.NaN, 2, 3,                      // NaN propagates
        };
        var output = new float[x.Length];
        Softmax.Rows(F(x), output, 4, 4);
        var expected = Reference("softmax.3pass", new() { ["P"] = 4, ["N"] = 4 }, new() { ["X"] = x }, "Y");
        AssertClose(expected, output, 1e-6);
        Assert.Equal(1f, output[3]);
        Assert.Equal(0f, output[4]);
        Assert.All(output.Skip(12), y => Assert.True(float.IsNaN(y)));
    }

    /// <summary>
    /// Rows of every magnitude up to 1e30 against softmax in double over the same float inputs (max subtracted, so
    /// the reference itself loses nothing). Before the log-sum-exp was kept as (max, log sum), [1e4, 1e4] gave 0.49989
    /// and [1e7, 1e7] 0.3679. Bound: 2e-7 absolute plus 1e-6 relative per probability (docs/simd-math.md).
    /// </summary>
    [Theory]
    [InlineData(0.0)]
    [InlineData(1e4)]
    [InlineData(-1e4)]
    [InlineData(1e7)]
    [InlineData(3e15)]
    [InlineData(1e30)]
    [InlineData(-1e30)]
    public void Softmax_is_exact_to_float_rounding_for_rows_of_any_magnitude(double offset)
    {
        var random = new Random(3);
        foreach (var n in new[] { 1, 2, 3, 15, 16, 17, 64, 100, 1000, 4099 })
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)(offset + (random.NextDouble() * 2 - 1) * 12)).ToArray();
            var y = new float[n];
            Softmax.Rows(x, y, 1, n);
            var max = x.Max();
            var sum = x.Sum(v => Math.Exp((double)v - max));
            for (var i = 0; i < n; i++)
            {
                var expected = Math.Exp((double)x[i] - max) / sum;
                Assert.True(Math.Abs(y[i] - expected) <= 2e-7 + 1e-6 * expected, $"n={n} [{i}]: {y[i]:R}, expected {expected:R}");
            }
        }
        var two = new float[2];
        Softmax.Rows(new[] { (float)offset, (float)offset }, two, 1, 2);
        Assert.Equal(new[] { 0.5f, 0.5f }, two);
    }

    /// <summary>The two-pass cascade (log-sum-exp kept as (max, log sum)), generated as a user's kernel, is exact for any magnitude too.</summary>
    [Fact]
    public void Two_pass_softmax_is_exact_to_float_rounding_for_rows_of_any_magnitude()
    {
        var bench = new KernelBench(new[] { new KernelCase("softmax2", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "specs", "softmax.2pass.einsum")), Array.Empty<IReadOnlyDictionary<string, int>>()) });
        bench.Compile();
        var random = new Random(5);
        foreach (var offset in new[] { 0.0, 1e4, -1e4, 1e7, 3e15, 1e30, -1e30 })
            foreach (var n in new[] { 2, 17, 100, 1000, 4099 })
            {
                var x = Enumerable.Range(0, n).Select(_ => (double)(float)(offset + (random.NextDouble() * 2 - 1) * 12)).ToArray();
                if (n == 2) x[1] = x[0];
                var y = bench.Run(0, new Dictionary<string, int> { ["P"] = 1, ["N"] = n }, new Dictionary<string, double[]> { ["X"] = x })["Y"];
                var max = x.Max();
                var sum = x.Sum(v => Math.Exp(v - max));
                for (var i = 0; i < n; i++)
                {
                    var expected = Math.Exp(x[i] - max) / sum;
                    Assert.True(Math.Abs(y[i] - expected) <= 2e-7 + 1e-6 * expected, $"offset {offset}, n={n} [{i}]: {y[i]:R}, expected {expected:R}");
                }
            }
    }

    /// <summary>Long rows (every vector path: four-vector steps, single vectors, the scalar tail) with infinities and NaN in every position class.</summary>
    [Theory]
    [InlineData(0, 5)]
    [InlineData(70, 300)]
    [InlineData(299, 300)]
    [InlineData(131, 1027)]
    public void Softmax_of_long_rows_with_infinities_and_nan_matches_the_interpreter(int at, int n)
    {
        var random = new Random(at);
        var specials = new[] { double.PositiveInfinity, double.NegativeInfinity, double.NaN };
        foreach (var special in specials)
        {
            foreach (var rowKind in new[] { "one special", "all special" })
            {
                var x = Enumerable.Range(0, n).Select(_ => rowKind == "all special" ? special : (double)(float)(random.NextDouble() * 40 - 20)).ToArray();
                x[at] = special;
                var y = new float[n];
                Softmax.Rows(F(x), y, 1, n);
                var expected = Reference("softmax.3pass", new() { ["P"] = 1, ["N"] = n }, new() { ["X"] = x }, "Y");
                for (var i = 0; i < n; i++)
                    Assert.True(KernelBench.Close(y[i], expected[i], 1e-6), $"{rowKind} {special} at {at}: [{i}] {y[i]} vs {expected[i]}");
            }
        }
    }

    /// <summary>
    /// Rows of at least <see cref="Softmax.LongRow"/> columns run the two-pass cascade with 512-bit vectors, the three-pass
    /// one otherwise (both orders run here, whatever the machine): the same results as the interpreter's three-pass
    /// cascade, against softmax in double, at magnitudes up to 1e30, and with the rows the two cascades define
    /// differently (a row holding +inf: NaN throughout, where exp(x - LSE) alone gives 0 at the finite entries); a row
    /// split across threads (one row) and rows of their own (three).
    /// </summary>
    [Theory]
    [InlineData(1, true)]
    [InlineData(3, true)]
    [InlineData(1, false)]
    [InlineData(3, false)]
    public void Softmax_of_rows_longer_than_the_cache_matches_the_three_pass_result(int rows, bool twoPass)
    {
        var n = Softmax.LongRow + 37;
        var random = new Random(rows);
        var x = new double[rows * n];
        for (var i = 0; i < x.Length; i++) x[i] = (float)((random.NextDouble() * 2 - 1) * 12 + (i / n == 1 ? 1e30 : 0));
        var special = new[] { double.PositiveInfinity, double.NaN, double.NegativeInfinity };
        x[(rows - 1) * n + 12345] = special[0]; // the last row (the only one when rows = 1) holds +inf
        if (rows == 3) for (var i = 0; i < n; i++) x[i] = double.NegativeInfinity; // the first is fully masked
        var y = new float[x.Length];
        Softmax.Rows(F(x), y, rows, n, twoPass);
        var expected = Reference("softmax.3pass", new() { ["P"] = rows, ["N"] = n }, new() { ["X"] = x }, "Y");
        for (var i = 0; i < x.Length; i++)
            Assert.True(KernelBench.Close(y[i], expected[i], 1e-6), $"[{i / n}, {i % n}] {y[i]} vs {expected[i]}");
        Assert.All(y.Skip((rows - 1) * n).Take(n), v => Assert.True(float.IsNaN(v)));
        if (rows == 3)
        {
            // The row at 1e30: exact to float rounding against the double reference.
            var row = x.Skip(n).Take(n).ToArray();
            var max = row.Max();
            var sum = row.Sum(v => Math.Exp(v - max));
            for (var i = 0; i < n; i++)
            {
                var want = Math.Exp(row[i] - max) / sum;
                Assert.True(Math.Abs(y[n + i] - want) <= 2e-7 + 1e-6 * want, $"[{i}] {y[n + i]:R}, expected {want:R}");
            }
        }
        var nan = (double[])x.Clone();
        nan[(rows - 1) * n] = special[1]; // NaN beside the +inf: NaN throughout too
        Softmax.Rows(F(nan), y, rows, n, twoPass);
        Assert.All(y.Skip((rows - 1) * n).Take(n), v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void Linear_attention_and_selective_scan_match_the_interpreter()
    {
        const int T = 150, D = 16, Fv = 20;
        var q = Random(T * D, 4, 1); var k = Random(T * D, 5, 1); var v = Random(T * Fv, 6, 1);
        var o = new float[T * Fv];
        LinearAttention.Causal(F(q), F(k), F(v), o, T, D, Fv, 0.05f);
        AssertClose(Reference("linear_attention.causal", new() { ["T"] = T, ["D"] = D, ["F"] = Fv }, new() { ["Q"] = q, ["K"] = k, ["V"] = v, ["slope"] = new[] { 0.05 } }, "O"), o, 2e-5);

        const int C = 12, L = 40, N = 16;
        var u = Random(C * L, 7, 1); var delta = Random(C * L, 8, 1); var a = Random(C * N, 9, 1).Select(x => -Math.Abs(x)).ToArray();
        var b = Random(N * L, 10, 1); var c = Random(N * L, 11, 1); var ds = Random(C, 12, 1); var z = Random(C * L, 13, 1); var db = Random(C, 14, 1);
        var y = new float[C * L];
        SelectiveScan.Forward(F(u), F(delta), F(a), F(b), F(c), F(ds), F(z), F(db), y, C, L, N);
        var expected = Reference("selective_scan", new() { ["D"] = C, ["L"] = L, ["N"] = N },
            new() { ["U"] = u, ["DELTA"] = delta, ["A"] = a, ["B"] = b, ["C"] = c, ["DS"] = ds, ["Z"] = z, ["DB"] = db }, "Y");
        AssertClose(expected, y, 2e-5);
    }

    /// <summary>Linear attention over a batch of heads, each with its own slope (none, slow and fast decay), against the
    /// definition in double: o_t = sum over s &lt;= t of exp(-slope (t - s)) (q_t . k_s) v_s; blocks of 64 with a partial one.</summary>
    [Fact]
    public void Linear_attention_over_heads_matches_its_definition_in_double()
    {
        const int B = 2, H = 3, T = 150, D = 9, Fv = 17;
        var slopes = new[] { 0f, 0.05f, 0.3f };
        var q = Random(B * H * T * D, 21, 1); var k = Random(B * H * T * D, 22, 1); var v = Random(B * H * T * Fv, 23, 1);
        var o = new float[B * H * T * Fv];
        LinearAttention.Causal(F(q), F(k), F(v), o, B, H, T, D, Fv, slopes);
        var expected = new double[o.Length];
        for (var bh = 0; bh < B * H; bh++)
            for (var t = 0; t < T; t++)
                for (var s2 = 0; s2 <= t; s2++)
                {
                    var dot = 0.0;
                    for (var d = 0; d < D; d++) dot += q[(bh * T + t) * D + d] * k[(bh * T + s2) * D + d];
                    var w = dot * Math.Exp(-(double)slopes[bh % H] * (t - s2));
                    for (var f = 0; f < Fv; f++) expected[(bh * T + t) * Fv + f] += w * v[(bh * T + s2) * Fv + f];
                }
        AssertClose(expected, o, 2e-5);

        Assert.Equal("slopes", Assert.Throws<ArgumentOutOfRangeException>(() => LinearAttention.Causal(F(q), F(k), F(v), o, B, H, T, D, Fv, new[] { 0f, -0.1f, 0f })).ParamName);
        Assert.Equal("slopes", Assert.Throws<ArgumentException>(() => LinearAttention.Causal(F(q), F(k), F(v), o, B, H, T, D, Fv, new[] { 0f })).ParamName);
        Assert.Equal("value", Assert.Throws<ArgumentException>(() => LinearAttention.Causal(F(q), F(k), new float[5], o, B, H, T, D, Fv, slopes)).ParamName);
    }

    [Fact]
    public void Bad_arguments_throw_before_memory_is_touched()
    {
        var output = new float[12];
        Array.Fill(output, 42f);
        // Attention names its own parameters (issue 10), not the generated kernel's.
        var e1 = Assert.Throws<ArgumentException>(() => Attention.Forward(new float[11], new float[20], new float[20], output, 3, 5, 4, 4));
        Assert.Equal("query", e1.ParamName);
        Assert.Contains("[queryLength, headDim] = [3, 4] needs 12", e1.Message);
        var e2 = Assert.ThrowsAny<ArgumentException>(() => Attention.Forward(new float[12], new float[20], new float[20], output, 3, -5, 4, 4));
        Assert.Equal("keyLength", e2.ParamName);
        var e5 = Assert.Throws<ArgumentException>(() => Attention.MultiHead(new float[48], new float[80], new float[80], output, 2, 2, 3, 5, 4, 4));
        Assert.Equal("output", e5.ParamName);
        Assert.Contains("[batch, heads, queryLength, valueDim] = [2, 2, 3, 4] needs 48", e5.Message);
        var qkv = new float[60];
        var e6 = Assert.Throws<ArgumentException>(() => Attention.Forward(qkv.AsSpan(0, 12), qkv.AsSpan(12, 20), qkv.AsSpan(32, 20), qkv.AsSpan(40, 12), 3, 5, 4, 4));
        Assert.Equal("output", e6.ParamName);
        Assert.Equal(0f, qkv[40]);
        Assert.Equal("value", Assert.Throws<ArgumentException>(() => Attention.MultiHead(new float[48], new float[80], new float[79], new float[48], 2, 2, 3, 5, 4, 4)).ParamName);
        var e3 = Assert.Throws<ArgumentException>(() => Softmax.Rows(new float[12], output.AsSpan(0, 11), 3, 4));
        Assert.Equal("output", e3.ParamName);
        Assert.Equal("input", Assert.Throws<ArgumentException>(() => Softmax.Rows(new float[11], output.AsSpan(0, 12), 3, 4)).ParamName);
        Assert.Equal("columns", Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.Rows(new float[12], output.AsSpan(0, 12), 3, -4)).ParamName);
        var shared = new float[24];
        var e4 = Assert.Throws<ArgumentException>(() => Softmax.Rows(shared.AsSpan(0, 12), shared.AsSpan(6, 12), 3, 4));
        Assert.Equal("output", e4.ParamName);
        Assert.All(output, x => Assert.Equal(42f, x));
    }
}
