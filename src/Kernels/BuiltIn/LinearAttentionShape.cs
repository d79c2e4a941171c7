using System;

namespace Kernels;

/// <summary>
/// The sizes of one linear-attention call over tensors laid out [batch, heads, length, dim]: <see cref="Batch"/>
/// sequences of <see cref="Length"/> tokens, <see cref="Heads"/> heads each, queries and keys <see cref="KeyDim"/> wide,
/// values <see cref="ValueDim"/> wide; the state of a head is KeyDim x ValueDim.
/// </summary>
/// <param name="Batch">Sequences in the batch.</param>
/// <param name="Heads">Heads per sequence.</param>
/// <param name="Length">Tokens per sequence in this call (1 for a decode step).</param>
/// <param name="KeyDim">Query and key width (D).</param>
/// <param name="ValueDim">Value width (F).</param>
public readonly record struct LinearAttentionShape(int Batch, int Heads, int Length, int KeyDim, int ValueDim)
{
    /// <summary>Throws an ArgumentException naming <paramref name="parameter"/> when a size is negative.</summary>
    internal void Validate(string parameter)
    {
        if (Batch < 0 || Heads < 0 || Length < 0 || KeyDim < 0 || ValueDim < 0)
            throw new ArgumentException($"Every size must be zero or more; got {this}.", parameter);
    }

    /// <summary>Elements of a [Batch, Heads, Length, width] tensor.</summary>
    internal long Tokens(int width) => (long)Batch * Heads * Length * width;

    /// <summary>Elements of the log decays: [Batch, Heads, Length].</summary>
    internal long Gates => (long)Batch * Heads * Length;

    /// <summary>Elements of a state: [Batch, Heads, KeyDim, ValueDim].</summary>
    internal long StateElements => (long)Batch * Heads * KeyDim * ValueDim;
}
