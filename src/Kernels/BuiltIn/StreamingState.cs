using System;
using System.Buffers;

namespace Kernels;

/// <summary>
/// The two states a streaming kernel (a scan, linear attention) takes whole: the state before the call's first token and
/// the one after its last. An empty initial state reads as zeros and an unwanted final one goes to scratch, both pooled;
/// <see cref="InPlace"/> gives a decode step that updates one state (the kernels do not run in place, so the state in is
/// a pooled copy).
/// </summary>
internal ref struct StreamingState
{
    private float[]? _initial, _final;

    /// <summary>The state the kernel starts from.</summary>
    public ReadOnlySpan<float> Initial;

    /// <summary>The state the kernel ends with.</summary>
    public Span<float> Final;

    /// <summary>Stand-ins for an empty <paramref name="initial"/> (zeros) and an empty <paramref name="final"/> (scratch) of <paramref name="elements"/> floats.</summary>
    public StreamingState(ReadOnlySpan<float> initial, Span<float> final, long elements)
    {
        var count = checked((int)elements);
        if (initial.IsEmpty)
        {
            _initial = ArrayPool<float>.Shared.Rent(Math.Max(count, 1));
            Array.Clear(_initial, 0, count);
            initial = _initial.AsSpan(0, count);
        }
        if (final.IsEmpty)
        {
            _final = ArrayPool<float>.Shared.Rent(Math.Max(count, 1));
            final = _final.AsSpan(0, count);
        }
        Initial = initial;
        Final = final;
    }

    /// <summary>From <paramref name="state"/> (copied) to <paramref name="state"/>.</summary>
    public static StreamingState InPlace(Span<float> state, long elements)
    {
        var count = checked((int)elements);
        var copy = ArrayPool<float>.Shared.Rent(Math.Max(count, 1));
        state.Slice(0, count).CopyTo(copy);
        return new StreamingState(copy.AsSpan(0, count), state.Slice(0, count), elements) { _initial = copy };
    }

    /// <summary>Returns the pooled buffers.</summary>
    public void Dispose()
    {
        if (_initial is not null) ArrayPool<float>.Shared.Return(_initial);
        if (_final is not null) ArrayPool<float>.Shared.Return(_final);
        _initial = _final = null;
    }
}
