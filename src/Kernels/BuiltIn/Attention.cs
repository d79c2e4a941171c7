using System;

namespace Kernels;

/// <summary>Scaled dot-product attention, softmax(Q K^T / sqrt(E)) V, for one head.</summary>
/// <remarks>
/// Generated from specs/attention.fusemax.einsum: the one-pass cascade (FuseMax / FlashAttention-2)
/// whose per-query state is a running max, a running denominator and a running numerator of F
/// floats, so memory does not grow with the key length. Queries are split across threads.
/// </remarks>
public static partial class Attention
{
    [Einsum(SpecFile = "attention.fusemax.einsum")]
    private static partial void OnePass(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int P, int E, int M, int F, int M0);

    /// <summary>Computes attention for one head. All tensors are dense and row-major.</summary>
    /// <param name="query">[queryLength, headDim]</param>
    /// <param name="key">[keyLength, headDim]</param>
    /// <param name="value">[keyLength, valueDim]</param>
    /// <param name="output">[queryLength, valueDim]; must not overlap the inputs.</param>
    /// <param name="queryLength">Queries (P).</param>
    /// <param name="keyLength">Keys (M); 0 gives an output of zeros.</param>
    /// <param name="headDim">Query and key width (E); scores are scaled by 1/sqrt(headDim).</param>
    /// <param name="valueDim">Value width (F).</param>
    /// <exception cref="ArgumentException">A size is negative, a span is shorter than its shape, or the output overlaps an
    /// input; the exception names this method's parameter, and nothing has been written.</exception>
    public static void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int queryLength, int keyLength, int headDim, int valueDim)
    {
        Check(query, key, value, output, 1, 1, queryLength, keyLength, headDim, valueDim, multiHead: false);
        OnePass(query, key, value, output, queryLength, headDim, keyLength, valueDim, KeyTile(queryLength, headDim, valueDim));
    }

    /// <summary>The checks of the per-head <c>Forward</c> and <see cref="MultiHead"/>, naming their parameters.</summary>
    private static void Check(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output,
        int batch, int heads, int queryLength, int keyLength, int headDim, int valueDim, bool multiHead)
    {
        foreach (var (size, name) in new[] { (batch, nameof(batch)), (heads, nameof(heads)), (queryLength, nameof(queryLength)), (keyLength, nameof(keyLength)), (headDim, nameof(headDim)), (valueDim, nameof(valueDim)) })
            if (size < 0) throw new ArgumentOutOfRangeException(name, size, $"'{name}' is a size and must be zero or more.");
        var lead = multiHead ? "[batch, heads, " : "[";
        void Span(int length, int sequence, int width, string name, string sequenceName, string widthName)
        {
            var needed = Runtime.KernelRuntime.Elements(stackalloc long[] { batch, heads, sequence, width });
            if (length < needed)
                throw new ArgumentException($"'{name}' holds {length} floats but its shape {lead}{sequenceName}, {widthName}] = {(multiHead ? $"[{batch}, {heads}, " : "[")}{sequence}, {width}] needs {needed}.", name);
        }
        Span(query.Length, queryLength, headDim, nameof(query), nameof(queryLength), nameof(headDim));
        Span(key.Length, keyLength, headDim, nameof(key), nameof(keyLength), nameof(headDim));
        Span(value.Length, keyLength, valueDim, nameof(value), nameof(keyLength), nameof(valueDim));
        Span(output.Length, queryLength, valueDim, nameof(output), nameof(queryLength), nameof(valueDim));
        ReadOnlySpan<float> written = output;
        if (written.Overlaps(query) || written.Overlaps(key) || written.Overlaps(value))
            throw new ArgumentException("'output' overlaps an input; attention reads every input after it starts writing, so give it memory of its own.", nameof(output));
    }

    /// <summary>
    /// The key tile M0 the CPU kernels run with (the specs' default is 64): the number of keys whose scores a block of
    /// queries holds between the two contractions. Each tile costs a fixed amount per query row (the running max's
    /// horizontal reductions, the rescale of the numerator), so a prefill wants tiles as long as keep K's and V's tile
    /// (M0 (E + F) floats) within an eighth of the core's L2 (<see cref="Runtime.KernelRuntime.L2CacheBytes"/>) beside the
    /// scores: with 1 MB (an AVX-512 EPYC), at D = 64 a tile of 256 keys took 111-118 ms for B=1 H=8 L=4096 where 64 took
    /// 127-159 ms; with 512 KB (a Zen 3 EPYC, AVX2), B=1 H=8 L=2048 D=64 ran at 122-134 GFLOP/s with 128 keys, 95-121
    /// with 256 and 103-128 with 64 (two threads, two alternations). A decode step (a few rows) splits its keys across threads when it
    /// has fewer (sequence, key/value head) pairs than threads (<see cref="SplitKeys"/>);
    /// its tiles hold 256 keys whatever the head dim (one query per head over 8192 keys, 32 query heads, D = 128: 8 key/value
    /// heads 1.74-2.03 ms where 64 keys took 1.97-2.31, 32 heads 4.71-5.60 where 64 took 5.44-6.19). A masked kernel
    /// computes the whole tile where the mask cuts it, so its tiles stay shorter.
    /// </summary>
    /// <param name="rows">Query rows per head (query heads sharing a key/value head included).</param>
    /// <param name="headDim">E.</param>
    /// <param name="valueDim">F.</param>
    /// <param name="most">The longest tile the mask makes worthwhile.</param>
    /// <param name="l2Bytes">The core's L2 (0: <see cref="Runtime.KernelRuntime.L2CacheBytes"/>).</param>
    internal static int KeyTile(long rows, int headDim, int valueDim, int most = 512, long l2Bytes = 0)
    {
        if (rows <= 8) return Math.Min(256, most);
        var floats = (l2Bytes > 0 ? l2Bytes : Runtime.KernelRuntime.L2CacheBytes) / 8 / sizeof(float);
        var tile = 64;
        while (tile < most && (long)tile * 2 * ((long)headDim + valueDim) <= floats) tile *= 2;
        // At least 128 keys where their K and V tiles fit in a quarter of the L2: D = 128 on a 512 KB L2 (Zen 3), one
        // core, B1 H4 L2048, with the products' strips packed (Gemm.Strips): 74-75 GFLOP/s against 71-73 with 64 keys.
        if (tile < 128 && most >= 128 && 128L * ((long)headDim + valueDim) <= 2 * floats) tile = 128;
        return tile;
    }

    /// <summary>
    /// Key blocks a decode step splits its keys into, whatever the machine (0: chosen from the processors); for tests,
    /// so that the split runs on a machine of any size.
    /// </summary>
    internal static int ForcedKeyBlocks { get; set; }

    /// <summary>
    /// The key blocks of a decode step (flash-decoding): with fewer (sequence, key/value head) pairs than threads, each
    /// pair's keys are split into blocks, so that every core streams a part of the cache once instead of idling, or of
    /// two cores reading the same keys for different query heads. 0 or 1: no split. A split needs blocks of one length:
    /// the key length must divide into them, except for one pair, whose last keys then run as a block of their own.
    /// </summary>
    internal static int KeyBlocks(long pairs, long rows, int keys, int threads)
    {
        if (ForcedKeyBlocks > 0) return ForcedKeyBlocks;
        if (rows > KeyBlockRows || pairs >= threads || keys < 2 * KeyBlockLeast) return 0;
        var blocks = (int)Math.Min((2L * threads + pairs - 1) / pairs, keys / KeyBlockLeast);
        if (pairs == 1) return blocks;
        for (; blocks >= 2; blocks--)
            if (keys % blocks == 0) return blocks;
        return 0;
    }

    /// <summary>Rows (query heads of a key/value head times queries) up to which a step counts as decode.</summary>
    private const int KeyBlockRows = 64;

    /// <summary>The fewest keys a block holds: below about 2048 keys the partials' merge and the second kernel's start cost
    /// more than a second core gains.</summary>
    private const int KeyBlockLeast = 2048;

    /// <summary>
    /// Attention for a decode step with its keys split into blocks computed apart and merged (flash-decoding), when
    /// <see cref="KeyBlocks"/> asks for a split: the blocks run as the batch of the generated log-sum-exp kernel
    /// (specs/attention.lse.einsum, each block a sequence with its own key length, the G query heads of a key/value
    /// head as rows of one head), and <see cref="MergeBlocks"/> (generated too) weighs each block's output by
    /// exp(LSE_block - LSE). Only unmasked attention (or one query, causal aligned bottom-right, which sees every key)
    /// without a window or a soft cap, in the [batch, heads, sequence, dim] layout. Returns false when it does not apply.
    /// </summary>
    private static unsafe bool SplitKeys(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, ReadOnlySpan<int> lengths, float scale, Span<float> output, AttentionShape shape, AttentionOptions options, int groups)
    {
        var (b, kvh, p, m, e, f) = (shape.Batch, shape.KeyValueHeads, shape.QueryLength, shape.KeyLength, shape.HeadDim, shape.ValueDim);
        var seesEveryKey = !options.Causal || (p == 1 && options.Alignment == CausalAlignment.BottomRight && (options.Window == 0 || options.Window >= m));
        if (!seesEveryKey || options.SoftCap != 0 || options.Layout != AttentionLayout.BatchHeadSequence) return false;
        long pairs = (long)b * kvh, rows = (long)groups * p;
        if (pairs == 0 || rows == 0 || e == 0 || f == 0) return false;
        var blocks = KeyBlocks(pairs, rows, m, Environment.ProcessorCount);
        if (blocks < 2 || m < blocks) return false;
        var length = m / blocks;                   // keys per block
        var rest = m - blocks * length;            // the last keys of a single pair, as a block of their own
        if (rest != 0 && pairs != 1) return false;
        var parts = blocks + (rest != 0 ? 1 : 0);
        var (r, queryFloats) = ((int)rows, rows * e);
        // Every block's queries are the pair's queries (the kernel reads a batch of them); outputs and log-sum-exps per block.
        var q = Runtime.KernelRuntime.Allocate(pairs * parts * queryFloats);
        var o = Runtime.KernelRuntime.Allocate(pairs * parts * rows * f);
        var lse = Runtime.KernelRuntime.Allocate(pairs * parts * rows);
        var count = (int)(pairs * blocks);
        Span<int> blockLengths = count <= 256 ? stackalloc int[count] : new int[count];
        Span<int> lastLength = stackalloc int[1];
        try
        {
            for (long g = 0; g < pairs; g++)
            {
                var source = query.Slice((int)(g * queryFloats), (int)queryFloats);
                for (var s = 0; s < parts; s++) source.CopyTo(new Span<float>(q + (g * parts + s) * queryFloats, (int)queryFloats));
                for (var s = 0; s < blocks; s++) blockLengths[(int)(g * blocks + s)] = Math.Clamp(lengths[(int)(g / kvh)] - s * length, 0, length);
            }
            long blockRows = pairs * blocks;
            WithLogSumExp(new ReadOnlySpan<float>(q, (int)(blockRows * queryFloats)), key.Slice(0, (int)(blockRows * length * e)), value.Slice(0, (int)(blockRows * length * f)),
                blockLengths, scale, new Span<float>(o, (int)(blockRows * rows * f)), new Span<float>(lse, (int)(blockRows * rows)),
                (int)blockRows, 1, r, e, length, f, r + length, 2 * (r + length), 0, 1, KeyTile(rows, e, f));
            if (rest != 0)
            {
                // One pair: its last keys, after the whole blocks, as one more block written after them.
                lastLength[0] = Math.Clamp(lengths[0] - blocks * length, 0, rest);
                WithLogSumExp(new ReadOnlySpan<float>(q + blocks * queryFloats, (int)queryFloats), key.Slice(blocks * length * e, rest * e), value.Slice(blocks * length * f, rest * f),
                    lastLength, scale, new Span<float>(o + blocks * rows * f, (int)(rows * f)), new Span<float>(lse + blocks * rows, r),
                    1, 1, r, e, rest, f, r + rest, 2 * (r + rest), 0, 1, KeyTile(rows, e, f));
            }
            MergeBlocks(new ReadOnlySpan<float>(o, (int)(pairs * parts * rows * f)), new ReadOnlySpan<float>(lse, (int)(pairs * parts * rows)), output, (int)pairs, parts, r, f);
        }
        finally
        {
            Runtime.KernelRuntime.Free(lse);
            Runtime.KernelRuntime.Free(o);
            Runtime.KernelRuntime.Free(q);
        }
        return true;
    }

    /// <summary>
    /// Merges attention computed over blocks of keys apart: block s's output O and log-sum-exp L give the whole as
    /// sum_s exp(L_s - M) O_s / sum_s exp(L_s - M), M the largest L (at least the lowest finite float, so that a row no
    /// block has a key for gives 0 / 0, which the language's divide makes 0, not exp(-inf + inf) = NaN).
    /// </summary>
    [Einsum(@"
kernel attention_merge_blocks

input  O[g,s,r,f], L[g,s,r]
output AV[g,r,f]

LM[g,r]   = max[s] L[g,s,r]
M[g,r]    = max(LM[g,r], -3.4028235e38)
W[g,s,r]  = exp(L[g,s,r] - M[g,r])
D[g,r]    = sum[s] W[g,s,r]
N[g,r,f]  = sum[s] W[g,s,r] * O[g,s,r,f]
AV[g,r,f] = N[g,r,f] / D[g,r]
")]
    private static partial void MergeBlocks(ReadOnlySpan<float> O, ReadOnlySpan<float> L, Span<float> AV, int G, int S, int R, int F);

    /// <summary>The key tile of a causal or windowed kernel: a diagonal tile computes scores the mask then drops, about
    /// M0 / 2 per row, so at most 128 keys, and a quarter of the window.</summary>
    private static int MaskedKeyTile(long rows, int headDim, int valueDim, int window) =>
        KeyTile(rows, headDim, valueDim, window > 0 ? Math.Clamp(window / 4, 64, 128) : 128);

    [Einsum(SpecFile = "attention.mha.einsum")]
    private static partial void Batched(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int B, int H, int P, int E, int M, int F, int M0);

    /// <summary>
    /// Computes attention for every head of every sequence of a batch in one call, tensors laid out
    /// [batch, heads, sequence, dim] (PyTorch's <c>scaled_dot_product_attention</c> layout). The threads take (batch,
    /// head, block of queries) pieces, so a batch of short sequences or one head of a long one both use every core.
    /// </summary>
    /// <param name="query">[batch, heads, queryLength, headDim]</param>
    /// <param name="key">[batch, heads, keyLength, headDim]</param>
    /// <param name="value">[batch, heads, keyLength, valueDim]</param>
    /// <param name="output">[batch, heads, queryLength, valueDim]; must not overlap the inputs.</param>
    /// <param name="batch">Sequences (B).</param>
    /// <param name="heads">Heads per sequence (H).</param>
    /// <param name="queryLength">Queries (P).</param>
    /// <param name="keyLength">Keys (M); 0 gives an output of zeros.</param>
    /// <param name="headDim">Query and key width (E); scores are scaled by 1/sqrt(headDim).</param>
    /// <param name="valueDim">Value width (F).</param>
    /// <exception cref="ArgumentException">A size is negative, a span is shorter than its shape, or the output overlaps an
    /// input; the exception names this method's parameter, and nothing has been written.</exception>
    public static void MultiHead(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int batch, int heads, int queryLength, int keyLength, int headDim, int valueDim)
    {
        Check(query, key, value, output, batch, heads, queryLength, keyLength, headDim, valueDim, multiHead: true);
        Batched(query, key, value, output, batch, heads, queryLength, headDim, keyLength, valueDim, KeyTile(queryLength, headDim, valueDim));
    }

    [Einsum(SpecFile = "attention.gqa.causal.einsum")]
    private static partial void GroupedCausal(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int B, int H, int P, int E, int M, int F, int G, int M0);

    /// <summary>
    /// Computes attention for every query head of every sequence of a batch in one call, tensors laid out
    /// [batch, heads, sequence, dim] (PyTorch's <c>scaled_dot_product_attention</c> layout), with grouped-query heads
    /// and a causal mask as <paramref name="shape"/> and <paramref name="options"/> say. Generated from
    /// specs/attention.mha.einsum (unmasked, with the query heads of a key/value head as rows of one head) and
    /// attention.gqa.causal.einsum.
    /// </summary>
    /// <param name="query">[batch, heads, queryLength, headDim]</param>
    /// <param name="key">[batch, keyValueHeads, keyLength, headDim]</param>
    /// <param name="value">[batch, keyValueHeads, keyLength, valueDim]</param>
    /// <param name="output">[batch, heads, queryLength, valueDim]; must not overlap the inputs.</param>
    /// <param name="shape">The sizes; <see cref="AttentionShape.KeyValueHeads"/> must divide <see cref="AttentionShape.Heads"/>.</param>
    /// <param name="options">The mask: causal, and a sliding window (specs/attention.window.einsum).</param>
    /// <exception cref="ArgumentException">A size is negative, the key/value heads do not divide the heads, a span is
    /// shorter than its shape, the output overlaps an input, or the window is negative or set without the causal mask
    /// (named <c>options</c>); the exception names this method's parameter
    /// (<c>shape</c> for the sizes), and nothing has been written.</exception>
    public static void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, AttentionShape shape, AttentionOptions options = default)
    {
        var groups = Check(query, key, value, output, shape, options);
        var (b, h, kvh, p, m, e, f) = (shape.Batch, shape.Heads, shape.KeyValueHeads, shape.QueryLength, shape.KeyLength, shape.HeadDim, shape.ValueDim);
        var (c, w, t) = MaskSizes(shape, options);
        var scale = options.Scale == 0 ? 1 / MathF.Sqrt(e) : options.Scale;
        var tile = options.Causal ? MaskedKeyTile(p, e, f, options.Window) : KeyTile(p, e, f);
        var lengths = KeyLengths(options, shape, b <= 256 ? stackalloc int[b] : new int[b]);
        if (SplitKeys(query, key, value, lengths, scale, output, shape, options, groups)) return;
        if (options.Layout == AttentionLayout.BatchSequenceHead)
        {
            SequenceMajor(query, key, value, lengths, scale, output, b, h, p, e, m, f, c, w, t, groups, tile);
            return;
        }
        if (options.SoftCap > 0)
        {
            Softcapped(query, key, value, lengths, scale / options.SoftCap, options.SoftCap, output, b, h, p, e, m, f, c, w, t, groups, tile);
            return;
        }
        if (!options.KeyLengths.IsEmpty)
        {
            PaddedKernel(query, key, value, lengths, scale, output, b, h, p, e, m, f, c, w, t, groups, tile);
            return;
        }
        // The kernels below hold the causal mask aligned bottom-right; top-left differs from it where P != M.
        if ((options.Scale != 0 && options.Scale != 1 / MathF.Sqrt(e)) || (options.Causal && options.Alignment == CausalAlignment.TopLeft && p != m))
        {
            ScaledKernel(query, key, value, scale, output, b, h, p, e, m, f, c, w, t, groups, tile);
            return;
        }
        // A window as long as the keys leaves every key of a causal row in it: the causal kernel does the same work.
        if (options.Window > 0 && options.Window < m)
        {
            Windowed(query, key, value, output, b, h, p, e, m, f, options.Window, groups, MaskedKeyTile(p, e, f, options.Window));
            return;
        }
        // The G query heads of a key/value head are consecutive, so [B, H, P, E] is [B, KH, G * P, E] in place: without a
        // mask to tell their rows apart (unmasked, or one query, which sees every key even when causal), grouped-query
        // attention is multi-head attention over KH heads of G * P rows each, and each tile of K and V is read once for
        // all G heads (a decode step reads the cache once instead of G times).
        if (!options.Causal || p <= 1) Batched(query, key, value, output, b, kvh, groups * p, e, m, f, KeyTile((long)groups * p, e, f));
        else GroupedCausal(query, key, value, output, b, h, p, e, m, f, groups, MaskedKeyTile(p, e, f, 0));
    }

    /// <summary>
    /// Attention as <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, AttentionShape, AttentionOptions)"/>
    /// with an additive mask on the scaled scores, one per sequence shared by its heads: padding, prefix-LM or document
    /// masks (-inf leaves a key out; a row left without keys gives zeros). The causal mask and the window of
    /// <paramref name="options"/> apply too, and skip whole tiles; the mask's own -inf do not. With a soft cap the mask
    /// is added to the capped scores (Gemma 2 with padding). Generated from specs/attention.masked.einsum and
    /// attention.softcap.masked.einsum.
    /// </summary>
    /// <param name="query">[batch, heads, queryLength, headDim]</param>
    /// <param name="key">[batch, keyValueHeads, keyLength, headDim]</param>
    /// <param name="value">[batch, keyValueHeads, keyLength, valueDim]</param>
    /// <param name="output">[batch, heads, queryLength, valueDim]; must not overlap the inputs.</param>
    /// <param name="shape">The sizes.</param>
    /// <param name="options">Causal, window, scale and soft cap.</param>
    /// <param name="mask">[batch, queryLength, keyLength], added to the scaled scores.</param>
    /// <exception cref="ArgumentException">As the call without a mask, and when the mask is shorter than its shape or
    /// overlaps the output; the exception names the parameter.</exception>
    public static void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, AttentionShape shape, AttentionOptions options, ReadOnlySpan<float> mask)
    {
        var groups = Check(query, key, value, output, shape, options);
        var (b, h, p, m, e, f) = (shape.Batch, shape.Heads, shape.QueryLength, shape.KeyLength, shape.HeadDim, shape.ValueDim);
        var needed = Runtime.KernelRuntime.Elements(stackalloc long[] { b, p, m });
        if (mask.Length < needed)
            throw new ArgumentException($"'mask' holds {mask.Length} floats but its shape [Batch, QueryLength, KeyLength] = [{b}, {p}, {m}] needs {needed}.", nameof(mask));
        if (options.Layout != AttentionLayout.BatchHeadSequence)
            throw new ArgumentException("A mask is supported in the [batch, heads, sequence, dim] layout only; use AttentionLayout.BatchHeadSequence.", nameof(options));
        if (((ReadOnlySpan<float>)output).Overlaps(mask))
            throw new ArgumentException("'output' overlaps 'mask'; give it memory of its own.", nameof(output));
        var (c, w, t) = MaskSizes(shape, options);
        var scale = options.Scale == 0 ? 1 / MathF.Sqrt(e) : options.Scale;
        var tile = MaskedKeyTile(p, e, f, options.Causal ? options.Window : 0);
        var lengths = KeyLengths(options, shape, b <= 256 ? stackalloc int[b] : new int[b]);
        if (options.SoftCap > 0) SoftcappedMasked(query, key, value, lengths, mask, scale / options.SoftCap, options.SoftCap, output, b, h, p, e, m, f, c, w, t, groups, tile);
        else MaskedKernel(query, key, value, lengths, mask, scale, output, b, h, p, e, m, f, c, w, t, groups, tile);
    }

    /// <summary>
    /// Attention as <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, AttentionShape, AttentionOptions)"/>
    /// that also writes each query's log-sum-exp: <c>log(sum exp(s))</c> over the scaled scores s of the keys the query
    /// sees, -inf for a query that sees none. With it, attention over blocks of keys computed apart (ring attention, a
    /// cache split across devices) merges exactly (<c>o = sum_i exp(LSE_i - LSE) o_i</c>, <c>LSE = log sum_i exp(LSE_i)</c>),
    /// and a backward pass recomputes the probabilities as <c>exp(s - LSE)</c>. Causal, window, scale and key lengths as
    /// <paramref name="options"/> say. Generated from specs/attention.lse.einsum.
    /// </summary>
    /// <param name="query">[batch, heads, queryLength, headDim]</param>
    /// <param name="key">[batch, keyValueHeads, keyLength, headDim]</param>
    /// <param name="value">[batch, keyValueHeads, keyLength, valueDim]</param>
    /// <param name="output">[batch, heads, queryLength, valueDim]; must not overlap the inputs.</param>
    /// <param name="logSumExp">[batch, heads, queryLength]; must not overlap the inputs or the output.</param>
    /// <param name="shape">The sizes.</param>
    /// <param name="options">Causal, window, scale and key lengths; in the [batch, heads, sequence, dim] layout, without a soft cap.</param>
    /// <exception cref="ArgumentException">As the call without the log-sum-exp, and when <paramref name="logSumExp"/> is short
    /// or overlaps another span, or the options ask for the other layout or a soft cap; the exception names the parameter.</exception>
    public static void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, Span<float> logSumExp, AttentionShape shape, AttentionOptions options = default)
    {
        var groups = Check(query, key, value, output, shape, options);
        var (b, h, p, m, e, f) = (shape.Batch, shape.Heads, shape.QueryLength, shape.KeyLength, shape.HeadDim, shape.ValueDim);
        var needed = Runtime.KernelRuntime.Elements(stackalloc long[] { b, h, p });
        if (logSumExp.Length < needed)
            throw new ArgumentException($"'logSumExp' holds {logSumExp.Length} floats but its shape [Batch, Heads, QueryLength] = [{b}, {h}, {p}] needs {needed}.", nameof(logSumExp));
        ReadOnlySpan<float> lse = logSumExp;
        if (lse.Overlaps(query) || lse.Overlaps(key) || lse.Overlaps(value) || lse.Overlaps(output))
            throw new ArgumentException("'logSumExp' overlaps another span; give it memory of its own.", nameof(logSumExp));
        if (options.Layout != AttentionLayout.BatchHeadSequence)
            throw new ArgumentException("The log-sum-exp is written in the [batch, heads, sequence, dim] layout only; use AttentionLayout.BatchHeadSequence.", nameof(options));
        if (options.SoftCap != 0)
            throw new ArgumentException("The log-sum-exp is not written with options.SoftCap.", nameof(options));
        var lengths = KeyLengths(options, shape, b <= 256 ? stackalloc int[b] : new int[b]);
        var (c, w, t) = MaskSizes(shape, options);
        var scale = options.Scale == 0 ? 1 / MathF.Sqrt(e) : options.Scale;
        var tile = options.Causal ? MaskedKeyTile(p, e, f, options.Window) : KeyTile(p, e, f);
        WithLogSumExp(query, key, value, lengths, scale, output, logSumExp, b, h, p, e, m, f, c, w, t, groups, tile);
    }

    [Einsum(SpecFile = "attention.lse.einsum")]
    private static partial void WithLogSumExp(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, ReadOnlySpan<int> LEN, float SCALE, Span<float> AV, Span<float> LSE, int B, int H, int P, int E, int M, int F, int C, int W, int T, int G, int M0);

    /// <summary>The cascade of a <c>Forward</c> call that writes the log-sum-exp (attention.lse.einsum) as data.</summary>
    public static Kernels.Einsum.KernelDescriptor LogSumExpDescriptor => WithLogSumExpDescriptor;

    /// <summary>Checks the arguments every form of <c>Forward</c> with a shape shares; returns the query heads per key/value head.</summary>
    private static int Check(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, AttentionShape shape, AttentionOptions options)
    {
        var (b, h, kvh, p, m, e, f) = (shape.Batch, shape.Heads, shape.KeyValueHeads, shape.QueryLength, shape.KeyLength, shape.HeadDim, shape.ValueDim);
        foreach (var (size, name) in new[] { (b, "Batch"), (h, "Heads"), (kvh, "KeyValueHeads"), (p, "QueryLength"), (m, "KeyLength"), (e, "HeadDim"), (f, "ValueDim") })
            if (size < 0) throw new ArgumentOutOfRangeException(nameof(shape), size, $"shape.{name} is a size and must be zero or more.");
        if (h > 0 && (kvh == 0 || h % kvh != 0))
            throw new ArgumentException($"shape.KeyValueHeads ({kvh}) must divide shape.Heads ({h}): every key/value head serves the same number of query heads.", nameof(shape));
        if (h == 0 && kvh != 0)
            throw new ArgumentException($"shape.KeyValueHeads is {kvh} with no query heads; give 0 for both.", nameof(shape));
        // The element counts are the same in either layout; the message names the one the call uses.
        var bshd = options.Layout == AttentionLayout.BatchSequenceHead;
        void Span(int length, int heads, int sequence, int width, string name, string describe)
        {
            var needed = Runtime.KernelRuntime.Elements(stackalloc long[] { b, heads, sequence, width });
            var sizes = bshd ? $"[{b}, {sequence}, {heads}, {width}]" : $"[{b}, {heads}, {sequence}, {width}]";
            if (length < needed)
                throw new ArgumentException($"'{name}' holds {length} floats but its shape {describe} = {sizes} needs {needed}.", name);
        }
        Span(query.Length, h, p, e, nameof(query), bshd ? "[Batch, QueryLength, Heads, HeadDim]" : "[Batch, Heads, QueryLength, HeadDim]");
        Span(key.Length, kvh, m, e, nameof(key), bshd ? "[Batch, KeyLength, KeyValueHeads, HeadDim]" : "[Batch, KeyValueHeads, KeyLength, HeadDim]");
        Span(value.Length, kvh, m, f, nameof(value), bshd ? "[Batch, KeyLength, KeyValueHeads, ValueDim]" : "[Batch, KeyValueHeads, KeyLength, ValueDim]");
        Span(output.Length, h, p, f, nameof(output), bshd ? "[Batch, QueryLength, Heads, ValueDim]" : "[Batch, Heads, QueryLength, ValueDim]");
        if (options.Layout is not (AttentionLayout.BatchHeadSequence or AttentionLayout.BatchSequenceHead))
            throw new ArgumentOutOfRangeException(nameof(options), options.Layout, "options.Layout must be BatchHeadSequence or BatchSequenceHead.");
        if (bshd && options.SoftCap != 0)
            throw new ArgumentException("options.SoftCap is supported in the [batch, heads, sequence, dim] layout only; use AttentionLayout.BatchHeadSequence.", nameof(options));
        ReadOnlySpan<float> written = output;
        if (written.Overlaps(query) || written.Overlaps(key) || written.Overlaps(value))
            throw new ArgumentException("'output' overlaps an input; attention reads every input after it starts writing, so give it memory of its own.", nameof(output));
        if (options.Window < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.Window, "options.Window is a number of keys: zero (no window) or more.");
        if (options.Window > 0 && !options.Causal)
            throw new ArgumentException("options.Window slides over the keys at or before each query; set options.Causal too (a window without a causal mask is not supported).", nameof(options));
        if (options.Alignment is not (CausalAlignment.BottomRight or CausalAlignment.TopLeft))
            throw new ArgumentOutOfRangeException(nameof(options), options.Alignment, "options.Alignment must be BottomRight or TopLeft.");
        if (!float.IsFinite(options.Scale) || options.Scale < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.Scale, "options.Scale must be finite and positive (or 0: 1 / sqrt(HeadDim)).");
        if (!float.IsFinite(options.SoftCap) || options.SoftCap < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.SoftCap, "options.SoftCap must be finite and positive (or 0: no cap).");
        return h == 0 ? 1 : h / kvh;
    }

    /// <summary>
    /// Each sequence's key length, the specs' i32 input <c>LEN[b]</c>: <see cref="AttentionOptions.KeyLengths"/> as given
    /// (checked: one per sequence, each 0 to KeyLength), or, when none are given, KeyLength for every sequence, written into
    /// <paramref name="all"/>.
    /// </summary>
    private static ReadOnlySpan<int> KeyLengths(AttentionOptions options, AttentionShape shape, Span<int> all)
    {
        if (options.KeyLengths.IsEmpty)
        {
            all.Fill(shape.KeyLength);
            return all;
        }
        var given = options.KeyLengths.Span;
        if (given.Length != shape.Batch)
            throw new ArgumentException($"options.KeyLengths holds {given.Length} lengths; give one per sequence, shape.Batch = {shape.Batch}.", nameof(options));
        for (var i = 0; i < given.Length; i++)
            if (given[i] < 0 || given[i] > shape.KeyLength)
                throw new ArgumentOutOfRangeException(nameof(options), given[i], $"options.KeyLengths[{i}] is {given[i]}; a sequence's length is 0 to shape.KeyLength ({shape.KeyLength}).");
        return given;
    }

    [Einsum(SpecFile = "attention.padded.einsum")]
    private static partial void PaddedKernel(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, ReadOnlySpan<int> LEN, float SCALE, Span<float> AV, int B, int H, int P, int E, int M, int F, int C, int W, int T, int G, int M0);

    /// <summary>The cascade of a <c>Forward</c> call with <see cref="AttentionOptions.KeyLengths"/> (attention.padded.einsum) as data.</summary>
    public static Kernels.Einsum.KernelDescriptor PaddedDescriptor => PaddedKernelDescriptor;

    /// <summary>The sizes C, W and T of the masked, scaled and soft-capped cascades: key m is seen by query p when
    /// p + M - P + C - W &lt; m + T &lt;= p + M - P + C. Without a causal mask C reaches past every key and W before the
    /// first; aligned bottom-right T = C = 0; aligned top-left (m &lt;= p) T = M - P where P &lt; M, C = P - M where P &gt; M.</summary>
    private static (int C, int W, int T) MaskSizes(AttentionShape shape, AttentionOptions options)
    {
        var all = Math.Min(int.MaxValue, (long)shape.QueryLength + shape.KeyLength);
        if (!options.Causal) return ((int)all, (int)Math.Min(int.MaxValue, 2 * all), 0);
        var window = options.Window > 0 ? options.Window : (int)all;
        if (options.Alignment != CausalAlignment.TopLeft) return (0, window, 0);
        var shift = (long)shape.KeyLength - shape.QueryLength;
        return shift >= 0 ? (0, window, (int)shift) : ((int)-shift, window, 0);
    }

    [Einsum(SpecFile = "attention.scaled.einsum")]
    private static partial void ScaledKernel(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, float SCALE, Span<float> AV, int B, int H, int P, int E, int M, int F, int C, int W, int T, int G, int M0);

    [Einsum(SpecFile = "attention.masked.einsum")]
    private static partial void MaskedKernel(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, ReadOnlySpan<int> LEN, ReadOnlySpan<float> MASK, float SCALE, Span<float> AV, int B, int H, int P, int E, int M, int F, int C, int W, int T, int G, int M0);

    [Einsum(SpecFile = "attention.softcap.masked.einsum")]
    private static partial void SoftcappedMasked(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, ReadOnlySpan<int> LEN, ReadOnlySpan<float> MASK, float SC, float CAP, Span<float> AV, int B, int H, int P, int E, int M, int F, int C, int W, int T, int G, int M0);

    [Einsum(SpecFile = "attention.bshd.einsum")]
    private static partial void SequenceMajor(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, ReadOnlySpan<int> LEN, float SCALE, Span<float> AV, int B, int H, int P, int E, int M, int F, int C, int W, int T, int G, int M0);

    /// <summary>The cascade of a <c>Forward</c> call in the [batch, sequence, heads, dim] layout (attention.bshd.einsum) as data.</summary>
    public static Kernels.Einsum.KernelDescriptor SequenceMajorLayoutDescriptor => SequenceMajorDescriptor;

    [Einsum(SpecFile = "attention.softcap.einsum")]
    private static partial void Softcapped(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, ReadOnlySpan<int> LEN, float SC, float CAP, Span<float> AV, int B, int H, int P, int E, int M, int F, int C, int W, int T, int G, int M0);

    [Einsum(SpecFile = "attention.window.einsum")]
    private static partial void Windowed(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int B, int H, int P, int E, int M, int F, int W, int G, int M0);

    /// <summary>The cascade of a <c>Forward</c> call with a sliding window (attention.window.einsum) as data; its sizes are
    /// B, H, G, P, M, E, F, the window W and the tile M0.</summary>
    public static Kernels.Einsum.KernelDescriptor WindowDescriptor => WindowedDescriptor;

    /// <summary>The cascade of a <c>Forward</c> call with a scale of its own (attention.scaled.einsum) as data.</summary>
    public static Kernels.Einsum.KernelDescriptor ScaledDescriptor => ScaledKernelDescriptor;

    /// <summary>The cascade of a <c>Forward</c> call with an additive mask (attention.masked.einsum) as data.</summary>
    public static Kernels.Einsum.KernelDescriptor MaskedDescriptor => MaskedKernelDescriptor;

    /// <summary>The cascade of a <c>Forward</c> call with a soft cap (attention.softcap.einsum) as data.</summary>
    public static Kernels.Einsum.KernelDescriptor SoftCapDescriptor => SoftcappedDescriptor;

    /// <summary>The cascade of a <c>Forward</c> call with a soft cap and an additive mask (attention.softcap.masked.einsum) as data.</summary>
    public static Kernels.Einsum.KernelDescriptor SoftCapMaskedDescriptor => SoftcappedMaskedDescriptor;

    /// <summary>The cascade of a causal <c>Forward</c> call with an <see cref="AttentionShape"/> (attention.gqa.causal.einsum)
    /// as data; its sizes are B, H (query heads), G (query heads per key/value head), P, M, E, F and the tile M0.</summary>
    public static Kernels.Einsum.KernelDescriptor CausalDescriptor => GroupedCausalDescriptor;

    /// <summary>The cascade of <see cref="MultiHead"/> (attention.mha.einsum) as data.</summary>
    public static Kernels.Einsum.KernelDescriptor MultiHeadDescriptor => BatchedDescriptor;

    /// <summary>The cascade of the per-head <c>Forward</c> (attention.fusemax.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>ForwardDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes P (queries), M (keys), E, F and the tile M0.</summary>
    public static Kernels.Einsum.KernelDescriptor ForwardDescriptor => OnePassDescriptor;
}
