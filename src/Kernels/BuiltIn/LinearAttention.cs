using System;

namespace Kernels;

/// <summary>Causal linear attention with per-head exponential decay (Lightning Attention-2).</summary>
/// <remarks>Generated from specs/linear_attention.causal.einsum: blocks of 64 tokens, the D x F state carried from block to block, so the cost is linear in the sequence length.</remarks>
public static partial class LinearAttention
{
    [Einsum(SpecFile = "linear_attention.causal.einsum")]
    private static partial void Blocked(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, float slope, Span<float> O, int T, int D, int F);

    /// <summary>o_t = sum over s &lt;= t of exp(-slope (t - s)) (q_t . k_s) v_s.</summary>
    /// <param name="query">[length, keyDim]</param>
    /// <param name="key">[length, keyDim]</param>
    /// <param name="value">[length, valueDim]</param>
    /// <param name="output">[length, valueDim]</param>
    /// <param name="length">Tokens (T).</param>
    /// <param name="keyDim">Query and key width (D).</param>
    /// <param name="valueDim">Value width (F).</param>
    /// <param name="slope">Decay per token, finite and zero or more (0: no decay). A negative slope would grow the
    /// weights as exp(|slope| t) and overflow float within a block, so it is rejected.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="slope"/> is NaN, infinite or negative.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its shape or a size is negative; the exception names the parameter of the generated kernel (Q, K, V, O, T, D, F).</exception>
    public static void Causal(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int length, int keyDim, int valueDim, float slope)
    {
        if (!float.IsFinite(slope) || slope < 0)
            throw new ArgumentOutOfRangeException(nameof(slope), slope, "The decay slope must be a finite number, zero or more.");
        Blocked(query, key, value, slope, output, length, keyDim, valueDim);
    }

    [Einsum(SpecFile = "linear_attention.heads.einsum")]
    private static partial void Batched(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, ReadOnlySpan<float> SLOPE, Span<float> O, int B, int H, int T, int D, int F);

    /// <summary>
    /// Causal linear attention for every head of every sequence of a batch in one call, tensors laid out
    /// [batch, heads, length, dim], each head with its own decay slope (ALiBi-style slopes, as Lightning Attention uses;
    /// 0 is no decay): o_t = sum over s &lt;= t of exp(-slopes[h] (t - s)) (q_t . k_s) v_s. The threads take (sequence,
    /// head) pairs. Generated from specs/linear_attention.heads.einsum.
    /// </summary>
    /// <param name="query">[batch, heads, length, keyDim]</param>
    /// <param name="key">[batch, heads, length, keyDim]</param>
    /// <param name="value">[batch, heads, length, valueDim]</param>
    /// <param name="output">[batch, heads, length, valueDim]; must not overlap the inputs.</param>
    /// <param name="batch">Sequences (B).</param>
    /// <param name="heads">Heads per sequence (H).</param>
    /// <param name="length">Tokens per sequence (T).</param>
    /// <param name="keyDim">Query and key width (D).</param>
    /// <param name="valueDim">Value width (F).</param>
    /// <param name="slopes">[heads], each finite and zero or more.</param>
    /// <exception cref="ArgumentOutOfRangeException">A slope is NaN, infinite or negative (named <paramref name="slopes"/>).</exception>
    /// <exception cref="ArgumentException">A size is negative, a span is shorter than its shape, or the output overlaps an
    /// input; the exception names this method's parameter.</exception>
    public static void Causal(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int batch, int heads, int length, int keyDim, int valueDim, ReadOnlySpan<float> slopes)
    {
        foreach (var (size, name) in new[] { (batch, nameof(batch)), (heads, nameof(heads)), (length, nameof(length)), (keyDim, nameof(keyDim)), (valueDim, nameof(valueDim)) })
            if (size < 0) throw new ArgumentOutOfRangeException(name, size, "A size must be zero or more.");
        void Need(int have, long width, string name, string layout)
        {
            var needed = Runtime.KernelRuntime.Elements(stackalloc long[] { batch, heads, length, width });
            if (have < needed) throw new ArgumentException($"'{name}' holds {have} floats but its shape {layout} = [{batch}, {heads}, {length}, {width}] needs {needed}.", name);
        }
        Need(query.Length, keyDim, nameof(query), "[batch, heads, length, keyDim]");
        Need(key.Length, keyDim, nameof(key), "[batch, heads, length, keyDim]");
        Need(value.Length, valueDim, nameof(value), "[batch, heads, length, valueDim]");
        Need(output.Length, valueDim, nameof(output), "[batch, heads, length, valueDim]");
        if (slopes.Length < heads) throw new ArgumentException($"'slopes' holds {slopes.Length} floats but needs one per head ({heads}).", nameof(slopes));
        for (var h = 0; h < heads; h++)
            if (!float.IsFinite(slopes[h]) || slopes[h] < 0)
                throw new ArgumentOutOfRangeException(nameof(slopes), slopes[h], $"slopes[{h}] must be a finite number, zero or more: a negative slope grows the weights as exp(|slope| t) and overflows float.");
        ReadOnlySpan<float> written = output;
        if (written.Overlaps(query) || written.Overlaps(key) || written.Overlaps(value) || written.Overlaps(slopes))
            throw new ArgumentException("'output' overlaps an input; give it memory of its own.", nameof(output));
        Batched(query, key, value, slopes, output, batch, heads, length, keyDim, valueDim);
    }

    /// <summary>The cascade of the batched <c>Causal</c> (linear_attention.heads.einsum) as data, with the sizes B, H, T, D, F and the block size.</summary>
    public static Kernels.Einsum.KernelDescriptor HeadsDescriptor => BatchedDescriptor;

    /// <summary>The cascade of <see cref="Causal(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, float)"/> (linear_attention.causal.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>CausalDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes T, D, F and the block size.</summary>
    public static Kernels.Einsum.KernelDescriptor CausalDescriptor => BlockedDescriptor;
}
