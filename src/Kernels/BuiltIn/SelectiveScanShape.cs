using System;

namespace Kernels;

/// <summary>
/// The sizes of one selective-scan call: <see cref="Batch"/> sequences of <see cref="Length"/> tokens and
/// <see cref="Channels"/> channels, each channel carrying <see cref="StateSize"/> states, and the input-dependent B and C
/// shared by <see cref="Groups"/> groups of <c>Channels / Groups</c> consecutive channels (Mamba-2's ngroups; 1 is
/// Mamba's own layout).
/// </summary>
/// <param name="Batch">Sequences in the batch.</param>
/// <param name="Channels">Channels (d_inner, D).</param>
/// <param name="Length">Tokens per sequence in this call (1 for a decode step).</param>
/// <param name="StateSize">States per channel (d_state, N).</param>
/// <param name="Groups">Groups of channels sharing B and C; divides <paramref name="Channels"/>.</param>
public readonly record struct SelectiveScanShape(int Batch, int Channels, int Length, int StateSize, int Groups = 1)
{
    /// <summary>Throws an ArgumentException naming <paramref name="parameter"/> when a size is negative or the groups do
    /// not divide the channels.</summary>
    internal void Validate(string parameter)
    {
        if (Batch < 0 || Channels < 0 || Length < 0 || StateSize < 0)
            throw new ArgumentException($"Every size must be zero or more; got {this}.", parameter);
        if (Groups < 1 || Channels % Groups != 0)
            throw new ArgumentException($"Groups ({Groups}) must be 1 or more and divide Channels ({Channels}): each group is Channels / Groups consecutive channels.", parameter);
    }

    /// <summary>Elements of u, delta, z and y: [Batch, Channels, Length].</summary>
    internal long TokenElements => (long)Batch * Channels * Length;

    /// <summary>Elements of B and C: [Batch, Groups, StateSize, Length].</summary>
    internal long GroupElements => (long)Batch * Groups * StateSize * Length;

    /// <summary>Elements of a state: [Batch, Channels, StateSize].</summary>
    internal long StateElements => (long)Batch * Channels * StateSize;
}
