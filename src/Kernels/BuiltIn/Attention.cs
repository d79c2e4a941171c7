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
    private static partial void OnePass(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int P, int E, int M, int F);

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
        OnePass(query, key, value, output, queryLength, headDim, keyLength, valueDim);
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

    [Einsum(SpecFile = "attention.mha.einsum")]
    private static partial void Batched(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int B, int H, int P, int E, int M, int F);

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
        Batched(query, key, value, output, batch, heads, queryLength, headDim, keyLength, valueDim);
    }

    [Einsum(SpecFile = "attention.gqa.causal.einsum")]
    private static partial void GroupedCausal(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int B, int H, int P, int E, int M, int F, int G);

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
        var (b, h, kvh, p, m, e, f) = (shape.Batch, shape.Heads, shape.KeyValueHeads, shape.QueryLength, shape.KeyLength, shape.HeadDim, shape.ValueDim);
        foreach (var (size, name) in new[] { (b, "Batch"), (h, "Heads"), (kvh, "KeyValueHeads"), (p, "QueryLength"), (m, "KeyLength"), (e, "HeadDim"), (f, "ValueDim") })
            if (size < 0) throw new ArgumentOutOfRangeException(nameof(shape), size, $"shape.{name} is a size and must be zero or more.");
        if (h > 0 && (kvh == 0 || h % kvh != 0))
            throw new ArgumentException($"shape.KeyValueHeads ({kvh}) must divide shape.Heads ({h}): every key/value head serves the same number of query heads.", nameof(shape));
        if (h == 0 && kvh != 0)
            throw new ArgumentException($"shape.KeyValueHeads is {kvh} with no query heads; give 0 for both.", nameof(shape));
        void Span(int length, int heads, int sequence, int width, string name, string describe)
        {
            var needed = Runtime.KernelRuntime.Elements(stackalloc long[] { b, heads, sequence, width });
            if (length < needed)
                throw new ArgumentException($"'{name}' holds {length} floats but its shape {describe} = [{b}, {heads}, {sequence}, {width}] needs {needed}.", name);
        }
        Span(query.Length, h, p, e, nameof(query), "[Batch, Heads, QueryLength, HeadDim]");
        Span(key.Length, kvh, m, e, nameof(key), "[Batch, KeyValueHeads, KeyLength, HeadDim]");
        Span(value.Length, kvh, m, f, nameof(value), "[Batch, KeyValueHeads, KeyLength, ValueDim]");
        Span(output.Length, h, p, f, nameof(output), "[Batch, Heads, QueryLength, ValueDim]");
        ReadOnlySpan<float> written = output;
        if (written.Overlaps(query) || written.Overlaps(key) || written.Overlaps(value))
            throw new ArgumentException("'output' overlaps an input; attention reads every input after it starts writing, so give it memory of its own.", nameof(output));
        if (options.Window < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.Window, "options.Window is a number of keys: zero (no window) or more.");
        if (options.Window > 0 && !options.Causal)
            throw new ArgumentException("options.Window slides over the keys at or before each query; set options.Causal too (a window without a causal mask is not supported).", nameof(options));
        var groups = h == 0 ? 1 : h / kvh;
        // A window as long as the keys leaves every key of a causal row in it: the causal kernel does the same work.
        if (options.Window > 0 && options.Window < m)
        {
            Windowed(query, key, value, output, b, h, p, e, m, f, options.Window, groups);
            return;
        }
        // The G query heads of a key/value head are consecutive, so [B, H, P, E] is [B, KH, G * P, E] in place: without a
        // mask to tell their rows apart (unmasked, or one query, which sees every key even when causal), grouped-query
        // attention is multi-head attention over KH heads of G * P rows each, and each tile of K and V is read once for
        // all G heads (a decode step reads the cache once instead of G times).
        if (!options.Causal || p <= 1) Batched(query, key, value, output, b, kvh, groups * p, e, m, f);
        else GroupedCausal(query, key, value, output, b, h, p, e, m, f, groups);
    }

    [Einsum(SpecFile = "attention.window.einsum")]
    private static partial void Windowed(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int B, int H, int P, int E, int M, int F, int W, int G);

    /// <summary>The cascade of a <c>Forward</c> call with a sliding window (attention.window.einsum) as data; its sizes are
    /// B, H, G, P, M, E, F, the window W and the tile M0.</summary>
    public static Kernels.Einsum.KernelDescriptor WindowDescriptor => WindowedDescriptor;

    /// <summary>The cascade of a causal <c>Forward</c> call with an <see cref="AttentionShape"/> (attention.gqa.causal.einsum)
    /// as data; its sizes are B, H (query heads), G (query heads per key/value head), P, M, E, F and the tile M0.</summary>
    public static Kernels.Einsum.KernelDescriptor CausalDescriptor => GroupedCausalDescriptor;

    /// <summary>The cascade of <see cref="MultiHead"/> (attention.mha.einsum) as data.</summary>
    public static Kernels.Einsum.KernelDescriptor MultiHeadDescriptor => BatchedDescriptor;

    /// <summary>The cascade of the per-head <c>Forward</c> (attention.fusemax.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>ForwardDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes P (queries), M (keys), E, F and the tile M0.</summary>
    public static Kernels.Einsum.KernelDescriptor ForwardDescriptor => OnePassDescriptor;
}
