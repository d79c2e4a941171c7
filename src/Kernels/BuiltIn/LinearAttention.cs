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

    /// <summary>The cascade of <see cref="Causal"/> (linear_attention.causal.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>CausalDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes T, D, F and the block size.</summary>
    public static Kernels.Einsum.KernelDescriptor CausalDescriptor => BlockedDescriptor;
}
