using System;

namespace Kernels;

/// <summary>Mamba's selective scan: one sequence (<c>Forward(..., channels, length, stateSize)</c>), or a batch with
/// B and C per group of channels, streaming its state from call to call (<c>Forward(..., shape, initialState,
/// finalState)</c>, <see cref="Step"/>).</summary>
/// <remarks>Generated from specs/selective_scan.einsum; channels are split across threads and the N-wide state of each channel is carried along the sequence in registers-sized scratch.</remarks>
public static partial class SelectiveScan
{
    [Einsum(SpecFile = "selective_scan.einsum")]
    private static partial void Scan(ReadOnlySpan<float> U, ReadOnlySpan<float> DELTA, ReadOnlySpan<float> A, ReadOnlySpan<float> B, ReadOnlySpan<float> C, ReadOnlySpan<float> DS, ReadOnlySpan<float> Z, ReadOnlySpan<float> DB, Span<float> Y, int D, int L, int N);

    /// <summary>y = (C . x_l + D u) * silu(z), x_{l+1} = exp(dt A) x_l + dt B u, dt = softplus(delta + deltaBias).</summary>
    /// <param name="u">[channels, length]</param>
    /// <param name="delta">[channels, length]</param>
    /// <param name="a">[channels, stateSize]</param>
    /// <param name="b">[stateSize, length]</param>
    /// <param name="c">[stateSize, length]</param>
    /// <param name="d">[channels], the skip.</param>
    /// <param name="z">[channels, length], the gate.</param>
    /// <param name="deltaBias">[channels]</param>
    /// <param name="y">[channels, length]</param>
    /// <param name="channels">D.</param>
    /// <param name="length">L.</param>
    /// <param name="stateSize">N.</param>
    public static void Forward(ReadOnlySpan<float> u, ReadOnlySpan<float> delta, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, ReadOnlySpan<float> d, ReadOnlySpan<float> z, ReadOnlySpan<float> deltaBias, Span<float> y, int channels, int length, int stateSize) =>
        Scan(u, delta, a, b, c, d, z, deltaBias, y, channels, length, stateSize);

    [Einsum(SpecFile = "selective_scan.grouped.einsum")]
    private static partial void Grouped(ReadOnlySpan<float> U, ReadOnlySpan<float> DELTA, ReadOnlySpan<float> A, ReadOnlySpan<float> B, ReadOnlySpan<float> C, ReadOnlySpan<float> DS, ReadOnlySpan<float> Z, ReadOnlySpan<float> DB, ReadOnlySpan<float> X0, Span<float> Y, Span<float> XL, int BT, int D, int L, int N, int DG);

    /// <summary>
    /// The selective scan over a batch, with input-dependent B and C per group of channels, from a given state and to a
    /// returned one: processing a sequence in chunks, each call starting from the state the last one returned, gives the
    /// result of one call over the whole sequence (to float rounding), and a call with <c>Length = 1</c> is a decode step
    /// (<see cref="Step"/>).
    /// </summary>
    /// <param name="u">[batch, channels, length]</param>
    /// <param name="delta">[batch, channels, length], before the bias and softplus.</param>
    /// <param name="a">[channels, stateSize]; Mamba's A = -exp(A_log), negative so that the state decays.</param>
    /// <param name="b">[batch, groups, stateSize, length]</param>
    /// <param name="c">[batch, groups, stateSize, length]</param>
    /// <param name="d">[channels], the skip.</param>
    /// <param name="z">[batch, channels, length], the gate.</param>
    /// <param name="deltaBias">[channels]</param>
    /// <param name="y">[batch, channels, length], written.</param>
    /// <param name="shape">The sizes; <c>Groups</c> divides <c>Channels</c>, channel i reading group i / (Channels / Groups).</param>
    /// <param name="initialState">[batch, channels, stateSize], the state before the first token; empty: zeros.</param>
    /// <param name="finalState">[batch, channels, stateSize], written with the state after the last token; empty: not
    /// returned. It must not overlap <paramref name="initialState"/> (<see cref="Step"/> updates a state in place).</param>
    /// <exception cref="ArgumentException">A size is negative, the groups do not divide the channels, or a span is shorter
    /// than its shape (or a state span is neither empty nor whole); the exception names the parameter.</exception>
    public static void Forward(ReadOnlySpan<float> u, ReadOnlySpan<float> delta, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, ReadOnlySpan<float> d, ReadOnlySpan<float> z, ReadOnlySpan<float> deltaBias,
        Span<float> y, SelectiveScanShape shape, ReadOnlySpan<float> initialState = default, Span<float> finalState = default)
    {
        Check(u, delta, a, d, z, deltaBias, y, shape, initialState, finalState);
        Need(b.Length, shape.GroupElements, nameof(b), "[batch, groups, stateSize, length]", shape);
        Need(c.Length, shape.GroupElements, nameof(c), "[batch, groups, stateSize, length]", shape);
        Apart(y, b, nameof(b)); Apart(y, c, nameof(c));
        if (shape.TokenElements == 0 && finalState.IsEmpty) return;

        // The kernel takes both states whole: zeros stand in for an empty initial state, scratch for an unwanted final one.
        using var states = new StreamingState(initialState, finalState, shape.StateElements);
        Grouped(u, delta, a, b, c, d, z, deltaBias, states.Initial, y, states.Final, shape.Batch, shape.Channels, shape.Length, shape.StateSize, shape.Channels / shape.Groups);
    }

    /// <summary>The checks every form of the scan shares: sizes, the spans but B and C, the states, and y apart from the inputs.</summary>
    private static void Check(ReadOnlySpan<float> u, ReadOnlySpan<float> delta, ReadOnlySpan<float> a, ReadOnlySpan<float> d, ReadOnlySpan<float> z, ReadOnlySpan<float> deltaBias,
        Span<float> y, SelectiveScanShape shape, ReadOnlySpan<float> initialState, Span<float> finalState)
    {
        shape.Validate(nameof(shape));
        Need(u.Length, shape.TokenElements, nameof(u), "[batch, channels, length]", shape);
        Need(delta.Length, shape.TokenElements, nameof(delta), "[batch, channels, length]", shape);
        Need(a.Length, (long)shape.Channels * shape.StateSize, nameof(a), "[channels, stateSize]", shape);
        Need(d.Length, shape.Channels, nameof(d), "[channels]", shape);
        Need(z.Length, shape.TokenElements, nameof(z), "[batch, channels, length]", shape);
        Need(deltaBias.Length, shape.Channels, nameof(deltaBias), "[channels]", shape);
        Need(y.Length, shape.TokenElements, nameof(y), "[batch, channels, length]", shape);
        var stateCount = shape.StateElements;
        if (!initialState.IsEmpty) Need(initialState.Length, stateCount, nameof(initialState), "[batch, channels, stateSize] (or empty: zeros)", shape);
        if (!finalState.IsEmpty) Need(finalState.Length, stateCount, nameof(finalState), "[batch, channels, stateSize] (or empty: not returned)", shape);
        if (!finalState.IsEmpty && !initialState.IsEmpty && initialState.Overlaps(finalState))
            throw new ArgumentException("finalState overlaps initialState; to update a state in place, call Step.", nameof(finalState));
        Apart(y, u, nameof(u)); Apart(y, delta, nameof(delta)); Apart(y, a, nameof(a));
        Apart(y, d, nameof(d)); Apart(y, z, nameof(z)); Apart(y, deltaBias, nameof(deltaBias)); Apart(y, initialState, nameof(initialState));
    }

    [Einsum(SpecFile = "selective_scan.shared.einsum")]
    private static partial void Shared(ReadOnlySpan<float> U, ReadOnlySpan<float> DELTA, ReadOnlySpan<float> A, ReadOnlySpan<float> B, ReadOnlySpan<float> C, ReadOnlySpan<float> DS, ReadOnlySpan<float> Z, ReadOnlySpan<float> DB, ReadOnlySpan<float> X0, Span<float> Y, Span<float> XL, int BT, int D, int L, int N);

    /// <summary>
    /// The scan with time-invariant B and C, one (stateSize) vector per channel for every token (S4, and Mamba's
    /// non-selective ablation): only delta depends on the input. Batch, states and streaming as
    /// <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, SelectiveScanShape, ReadOnlySpan{float}, Span{float})"/>;
    /// <c>shape.Groups</c> is not used. Generated from specs/selective_scan.shared.einsum.
    /// </summary>
    /// <param name="u">[batch, channels, length]</param>
    /// <param name="delta">[batch, channels, length], before the bias and softplus.</param>
    /// <param name="a">[channels, stateSize], negative so that the state decays.</param>
    /// <param name="b">[channels, stateSize]</param>
    /// <param name="c">[channels, stateSize]</param>
    /// <param name="d">[channels], the skip.</param>
    /// <param name="z">[batch, channels, length], the gate.</param>
    /// <param name="deltaBias">[channels]</param>
    /// <param name="y">[batch, channels, length], written.</param>
    /// <param name="shape">The sizes.</param>
    /// <param name="initialState">[batch, channels, stateSize], the state before the first token; empty: zeros.</param>
    /// <param name="finalState">[batch, channels, stateSize], written with the state after the last token; empty: not returned.</param>
    /// <exception cref="ArgumentException">A size is negative, a span is shorter than its shape (or a state span is neither
    /// empty nor whole), or y overlaps an input; the exception names the parameter.</exception>
    public static void TimeInvariant(ReadOnlySpan<float> u, ReadOnlySpan<float> delta, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, ReadOnlySpan<float> d, ReadOnlySpan<float> z, ReadOnlySpan<float> deltaBias,
        Span<float> y, SelectiveScanShape shape, ReadOnlySpan<float> initialState = default, Span<float> finalState = default)
    {
        shape = shape with { Groups = 1 };
        Check(u, delta, a, d, z, deltaBias, y, shape, initialState, finalState);
        Need(b.Length, (long)shape.Channels * shape.StateSize, nameof(b), "[channels, stateSize]", shape);
        Need(c.Length, (long)shape.Channels * shape.StateSize, nameof(c), "[channels, stateSize]", shape);
        Apart(y, b, nameof(b)); Apart(y, c, nameof(c));
        if (shape.TokenElements == 0 && finalState.IsEmpty) return;
        using var states = new StreamingState(initialState, finalState, shape.StateElements);
        Shared(u, delta, a, b, c, d, z, deltaBias, states.Initial, y, states.Final, shape.Batch, shape.Channels, shape.Length, shape.StateSize);
    }

    /// <summary>
    /// One decode step: the next token of every sequence, its output, and the state updated in place, as
    /// <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, SelectiveScanShape, ReadOnlySpan{float}, Span{float})"/>
    /// with <c>Length = 1</c> gives from and to that state.
    /// </summary>
    /// <param name="u">[batch, channels]</param>
    /// <param name="delta">[batch, channels]</param>
    /// <param name="a">[channels, stateSize]</param>
    /// <param name="b">[batch, groups, stateSize]</param>
    /// <param name="c">[batch, groups, stateSize]</param>
    /// <param name="d">[channels]</param>
    /// <param name="z">[batch, channels]</param>
    /// <param name="deltaBias">[channels]</param>
    /// <param name="y">[batch, channels], written.</param>
    /// <param name="state">[batch, channels, stateSize], read and updated.</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="channels">Channels.</param>
    /// <param name="stateSize">States per channel.</param>
    /// <param name="groups">Groups of channels sharing B and C.</param>
    public static void Step(ReadOnlySpan<float> u, ReadOnlySpan<float> delta, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, ReadOnlySpan<float> d, ReadOnlySpan<float> z, ReadOnlySpan<float> deltaBias,
        Span<float> y, Span<float> state, int batch, int channels, int stateSize, int groups = 1)
    {
        var shape = new SelectiveScanShape(batch, channels, 1, stateSize, groups);
        shape.Validate(nameof(channels));
        Need(state.Length, shape.StateElements, nameof(state), "[batch, channels, stateSize]", shape);
        // The kernel does not run in place: the state in goes through a pooled copy.
        using var states = StreamingState.InPlace(state, shape.StateElements);
        Forward(u, delta, a, b, c, d, z, deltaBias, y, shape, states.Initial, states.Final);
    }

    private static void Apart(Span<float> y, ReadOnlySpan<float> input, string name)
    {
        if (!input.IsEmpty && y.Overlaps(input)) throw new ArgumentException($"y overlaps {name}; the scan does not run in place.", "y");
    }

    private static void Need(int length, long needed, string parameter, string layout, SelectiveScanShape shape)
    {
        if (length < needed)
            throw new ArgumentException($"{parameter} holds {length} elements but its shape {layout} needs {needed} for {shape}.", parameter);
    }

    /// <summary>The cascade of <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, SelectiveScanShape, ReadOnlySpan{float}, Span{float})"/>
    /// (selective_scan.grouped.einsum) as data, with the sizes BT, D, L, N and DG.</summary>
    public static Kernels.Einsum.KernelDescriptor StreamingDescriptor => GroupedDescriptor;

    /// <summary>The cascade of <see cref="TimeInvariant"/> (selective_scan.shared.einsum) as data, with the sizes BT, D, L and N.</summary>
    public static Kernels.Einsum.KernelDescriptor TimeInvariantDescriptor => SharedDescriptor;

    /// <summary>The cascade of <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int)"/> (selective_scan.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>ForwardDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes D, L, N.</summary>
    public static Kernels.Einsum.KernelDescriptor ForwardDescriptor => ScanDescriptor;
}
