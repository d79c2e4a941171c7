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
    /// <exception cref="ArgumentException">A span is shorter than its shape or a size is negative; the exception names the parameter of the generated kernel (Q, K, V, AV, P, M, E, F).</exception>
    public static void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int queryLength, int keyLength, int headDim, int valueDim) =>
        OnePass(query, key, value, output, queryLength, headDim, keyLength, valueDim);

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
    /// <exception cref="ArgumentException">A span is shorter than its shape or a size is negative; the exception names the parameter of the generated kernel (Q, K, V, AV, B, H, P, M, E, F).</exception>
    public static void MultiHead(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int batch, int heads, int queryLength, int keyLength, int headDim, int valueDim) =>
        Batched(query, key, value, output, batch, heads, queryLength, headDim, keyLength, valueDim);

    /// <summary>The cascade of <see cref="MultiHead"/> (attention.mha.einsum) as data.</summary>
    public static Kernels.Einsum.KernelDescriptor MultiHeadDescriptor => BatchedDescriptor;

    /// <summary>The cascade of <see cref="Forward"/> (attention.fusemax.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>ForwardDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes P (queries), M (keys), E, F and the tile M0.</summary>
    public static Kernels.Einsum.KernelDescriptor ForwardDescriptor => OnePassDescriptor;
}
