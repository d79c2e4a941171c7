using System;

namespace Kernels;

/// <summary>
/// The sizes of one attention call: <see cref="Batch"/> sequences of <see cref="Heads"/> query heads, of which every
/// <c>Heads / KeyValueHeads</c> share one key/value head (grouped-query attention; equal counts are multi-head
/// attention, one key/value head is multi-query attention).
/// </summary>
/// <param name="Batch">Sequences in the batch.</param>
/// <param name="Heads">Query heads per sequence.</param>
/// <param name="KeyValueHeads">Key and value heads per sequence; divides <paramref name="Heads"/>.</param>
/// <param name="QueryLength">Queries per head.</param>
/// <param name="KeyLength">Keys (and values) per head: with a KV cache, the cached tokens and the new ones.</param>
/// <param name="HeadDim">Width of queries and keys; scores are scaled by 1/sqrt(HeadDim).</param>
/// <param name="ValueDim">Width of values and of the output.</param>
public readonly record struct AttentionShape(int Batch, int Heads, int KeyValueHeads, int QueryLength, int KeyLength, int HeadDim, int ValueDim)
{
    /// <summary>Multi-head attention: as many key/value heads as query heads, and values as wide as keys.</summary>
    public static AttentionShape MultiHead(int batch, int heads, int queryLength, int keyLength, int headDim) =>
        new(batch, heads, heads, queryLength, keyLength, headDim, headDim);
}

/// <summary>Options of an attention call.</summary>
/// <param name="Causal">
/// Each query sees only the keys at or before its own position, aligned as <paramref name="Alignment"/> says; by default
/// bottom-right: query p (of P) sees key m (of M) when <c>m &lt;= p + M - P</c>, so with a KV cache the new queries are
/// the last P tokens. With P == M this is the usual lower-triangular mask. Tiles of keys that no query of a block sees
/// are skipped, so a causal call does about half the work. A query that sees no key (P &gt; M, the first P - M rows)
/// gives zeros.
/// </param>
/// <param name="Window">
/// With <paramref name="Causal"/>, a sliding window (Mistral's <c>sliding_window</c>): each query sees only the
/// <c>Window</c> most recent keys up to its own position, key m for query p when
/// <c>p + M - P - Window &lt; m &lt;= p + M - P</c>. 0: no window. Tiles of keys outside every window of a block of queries
/// are skipped, so the work grows with the window, not with the key length.
/// </param>
/// <param name="Scale">The factor of the scores, q . k * Scale; 0: 1 / sqrt(HeadDim). Finite and positive otherwise.</param>
/// <param name="SoftCap">
/// A soft cap on the scaled scores, <c>SoftCap * tanh(s / SoftCap)</c> (Gemma 2 uses 50 in attention), so no score leaves
/// (-SoftCap, SoftCap); 0: none. Finite and positive otherwise.
/// </param>
/// <param name="Layout">How query, key, value and output are laid out: [batch, heads, sequence, dim] (the default, PyTorch's
/// <c>scaled_dot_product_attention</c>) or [batch, sequence, heads, dim] (what the projections produce, ONNX Runtime's
/// MultiHeadAttention), read in place either way.</param>
/// <param name="KeyLengths">
/// Each sequence's number of keys, one per sequence of the batch, from 0 to <see cref="AttentionShape.KeyLength"/>: a batch
/// of sequences of different lengths padded to KeyLength keys (a key-padding mask, or a KV cache filled to a different
/// length per sequence). Query p of sequence b sees key m only when <c>m &lt; KeyLengths[b]</c> (and the causal mask and
/// window allow it, aligned to KeyLength as without lengths); tiles of keys past a sequence's length are skipped, so the
/// work follows the lengths. A query that sees no key gives zeros. Empty (the default): every sequence has KeyLength keys.
/// With every other option and with an additive mask (specs/attention.padded.einsum; the masked, soft-capped and
/// [batch, sequence, heads, dim] specs read the same LEN[b]).
/// </param>
/// <param name="Alignment">
/// Where the causal mask (and the window) sits when P != M: <see cref="CausalAlignment.BottomRight"/> (the default; the
/// last query sees the last key, as with a KV cache and PyTorch's <c>causal_lower_right</c>) or
/// <see cref="CausalAlignment.TopLeft"/> (query p sees keys 0..p, PyTorch's <c>is_causal=True</c> and
/// <c>causal_upper_left</c>; with a window, the keys p - Window &lt; m &lt;= p). The same mask where P == M.
/// </param>
public readonly record struct AttentionOptions(bool Causal = false, int Window = 0, float Scale = 0, float SoftCap = 0, AttentionLayout Layout = AttentionLayout.BatchHeadSequence, ReadOnlyMemory<int> KeyLengths = default, CausalAlignment Alignment = CausalAlignment.BottomRight);

/// <summary>Where a causal mask sits when the queries and the keys differ in number (<see cref="AttentionOptions.Alignment"/>).</summary>
public enum CausalAlignment
{
    /// <summary>Query p of P sees key m of M when <c>m &lt;= p + M - P</c>: the queries are the last P positions (a KV cache).</summary>
    BottomRight = 0,
    /// <summary>Query p sees key m when <c>m &lt;= p</c>: the queries are the first P positions.</summary>
    TopLeft = 1,
}

/// <summary>The order of the dimensions of attention's tensors.</summary>
public enum AttentionLayout
{
    /// <summary>[batch, heads, sequence, dim]: each head's rows contiguous.</summary>
    BatchHeadSequence = 0,

    /// <summary>[batch, sequence, heads, dim]: each token's heads contiguous, as a projection x W viewed as [B, L, H, E] is.</summary>
    BatchSequenceHead = 1,
}
