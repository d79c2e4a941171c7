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
        var shape = new LinearAttentionShape(batch, heads, length, keyDim, valueDim);
        CheckTokens(query, key, value, output, shape);
        CheckSlopes(slopes, heads);
        Apart(output, nameof(output), slopes, nameof(slopes));
        Batched(query, key, value, slopes, output, batch, heads, length, keyDim, valueDim);
    }

    /// <summary>
    /// Causal linear attention with per-head decay slopes, as <see cref="Causal(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, int, int, ReadOnlySpan{float})"/>,
    /// from a given state and to a returned one: processing a sequence in chunks of any lengths, each call starting from the
    /// state the last one returned, gives the result of one call over the whole sequence (to float rounding). Runs the gated
    /// kernel (<see cref="Gated"/>) with the log decay -slopes[h] at every token.
    /// </summary>
    /// <param name="query">[batch, heads, length, keyDim]</param>
    /// <param name="key">[batch, heads, length, keyDim]</param>
    /// <param name="value">[batch, heads, length, valueDim]</param>
    /// <param name="output">[batch, heads, length, valueDim]; must not overlap the inputs.</param>
    /// <param name="shape">The sizes.</param>
    /// <param name="slopes">[heads], each finite and zero or more.</param>
    /// <param name="initialState">[batch, heads, keyDim, valueDim], the sum of exp(-slope (t0 - s)) k_s^T v_s over the tokens
    /// before this call (t0 the last of them); empty: zeros.</param>
    /// <param name="finalState">[batch, heads, keyDim, valueDim], written with the state after this call's last token; empty:
    /// not returned. It must not overlap <paramref name="initialState"/>.</param>
    /// <exception cref="ArgumentException">A size is negative, a span is shorter than its shape, a state span is neither
    /// empty nor whole, a slope is NaN, infinite or negative, or the output overlaps an input; the exception names the
    /// parameter.</exception>
    public static void Causal(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, LinearAttentionShape shape, ReadOnlySpan<float> slopes,
        ReadOnlySpan<float> initialState, Span<float> finalState)
    {
        shape.Validate(nameof(shape));
        CheckSlopes(slopes, shape.Heads);
        var gates = System.Buffers.ArrayPool<float>.Shared.Rent((int)Math.Max(1, Math.Min(shape.Gates, int.MaxValue)));
        try
        {
            var logDecay = gates.AsSpan(0, checked((int)shape.Gates));
            for (var bh = 0; bh < shape.Batch * shape.Heads; bh++)
                logDecay.Slice(bh * shape.Length, shape.Length).Fill(-slopes[bh % shape.Heads]);
            Gated(query, key, value, logDecay, output, shape, initialState, finalState);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(gates);
        }
    }

    [Einsum(SpecFile = "linear_attention.gated.einsum")]
    private static partial void GatedKernel(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, ReadOnlySpan<float> G, ReadOnlySpan<float> KV0, Span<float> O, Span<float> KVL, int B, int H, int T, int D, int F);

    /// <summary>The log decay below which a token forgets the past completely (in float): exp(-64) ~ 1.6e-28.</summary>
    public const float FullReset = -64f;

    /// <summary>
    /// Causal linear attention with a data-dependent decay per token and head, the gated form of Mamba-2 (SSD), RetNet with
    /// a learned gate and GLA with a scalar gate: S_t = exp(g_t) S_(t-1) + k_t^T v_t and o_t = q_t S_t, the state S of a head
    /// keyDim x valueDim. Blocks of 64 tokens run as matrix products, the state carried from block to block, across threads
    /// by (sequence, head). From a given state and to a returned one, so a sequence processed in chunks of any lengths gives
    /// the result of one call. Generated from specs/linear_attention.gated.einsum.
    /// </summary>
    /// <param name="query">[batch, heads, length, keyDim]</param>
    /// <param name="key">[batch, heads, length, keyDim]</param>
    /// <param name="value">[batch, heads, length, valueDim]</param>
    /// <param name="logDecay">[batch, heads, length], g_t: zero (no decay) or negative; values below <see cref="FullReset"/>
    /// (-inf included, a reset) count as <see cref="FullReset"/>.</param>
    /// <param name="output">[batch, heads, length, valueDim]; must not overlap the inputs.</param>
    /// <param name="shape">The sizes.</param>
    /// <param name="initialState">[batch, heads, keyDim, valueDim], the state before this call's first token; empty: zeros.</param>
    /// <param name="finalState">[batch, heads, keyDim, valueDim], written with the state after this call's last token; empty:
    /// not returned. It must not overlap <paramref name="initialState"/> (<see cref="Step"/> updates a state in place).</param>
    /// <exception cref="ArgumentException">A size is negative, a span is shorter than its shape, a state span is neither
    /// empty nor whole, a log decay is NaN or positive (a growing state), or the output overlaps an input; the exception
    /// names the parameter.</exception>
    public static void Gated(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, ReadOnlySpan<float> logDecay, Span<float> output, LinearAttentionShape shape,
        ReadOnlySpan<float> initialState = default, Span<float> finalState = default)
    {
        shape.Validate(nameof(shape));
        CheckTokens(query, key, value, output, shape);
        var gateCount = shape.Gates;
        if (logDecay.Length < gateCount)
            throw new ArgumentException($"'logDecay' holds {logDecay.Length} floats but its shape [batch, heads, length] needs {gateCount} for {shape}.", nameof(logDecay));
        logDecay = logDecay.Slice(0, (int)gateCount);
        var clamp = false;
        for (var i = 0; i < logDecay.Length; i++)
        {
            var g = logDecay[i];
            if (!(g <= 0))
                throw new ArgumentOutOfRangeException(nameof(logDecay), g, $"logDecay[{i}] must be zero or negative (the state decays by exp(logDecay)); NaN and positive values are undefined.");
            clamp |= g < FullReset;
        }
        var stateCount = shape.StateElements;
        if (!initialState.IsEmpty && initialState.Length < stateCount)
            throw new ArgumentException($"'initialState' holds {initialState.Length} floats but its shape [batch, heads, keyDim, valueDim] needs {stateCount} for {shape} (or give none: zeros).", nameof(initialState));
        if (!finalState.IsEmpty && finalState.Length < stateCount)
            throw new ArgumentException($"'finalState' holds {finalState.Length} floats but its shape [batch, heads, keyDim, valueDim] needs {stateCount} for {shape} (or give none: not returned).", nameof(finalState));
        if (!finalState.IsEmpty && !initialState.IsEmpty && initialState.Overlaps(finalState))
            throw new ArgumentException("'finalState' overlaps 'initialState'; to update a state in place, call Step.", nameof(finalState));
        Apart(output, nameof(output), logDecay, nameof(logDecay));
        Apart(output, nameof(output), initialState, nameof(initialState));
        Apart(finalState, nameof(finalState), query, nameof(query)); Apart(finalState, nameof(finalState), key, nameof(key)); Apart(finalState, nameof(finalState), value, nameof(value));
        Apart(finalState, nameof(finalState), logDecay, nameof(logDecay)); Apart(finalState, nameof(finalState), output, nameof(output));

        float[]? clamped = null;
        try
        {
            if (clamp)
            {
                // The kernel expects log decays of FullReset or more: a cumulative sum over a block of larger magnitudes
                // would lose the digits of the differences it takes.
                clamped = System.Buffers.ArrayPool<float>.Shared.Rent(logDecay.Length);
                for (var i = 0; i < logDecay.Length; i++) clamped[i] = Math.Max(logDecay[i], FullReset);
                logDecay = clamped.AsSpan(0, logDecay.Length);
            }
            using var states = new StreamingState(initialState, finalState, stateCount);
            GatedKernel(query, key, value, logDecay, states.Initial, output, states.Final, shape.Batch, shape.Heads, shape.Length, shape.KeyDim, shape.ValueDim);
        }
        finally
        {
            if (clamped is not null) System.Buffers.ArrayPool<float>.Shared.Return(clamped);
        }
    }

    /// <summary>
    /// One decode step of gated linear attention: the next token of every (sequence, head), its output, and the state
    /// updated in place, as <see cref="Gated"/> with a length of 1 gives from and to that state. For per-head slopes, pass
    /// -slopes[h] as the log decay.
    /// </summary>
    /// <param name="query">[batch, heads, keyDim]</param>
    /// <param name="key">[batch, heads, keyDim]</param>
    /// <param name="value">[batch, heads, valueDim]</param>
    /// <param name="logDecay">[batch, heads], zero or negative.</param>
    /// <param name="output">[batch, heads, valueDim], written.</param>
    /// <param name="state">[batch, heads, keyDim, valueDim], read and updated.</param>
    /// <param name="batch">Sequences.</param>
    /// <param name="heads">Heads per sequence.</param>
    /// <param name="keyDim">Query and key width.</param>
    /// <param name="valueDim">Value width.</param>
    /// <exception cref="ArgumentException">As <see cref="Gated"/>; the exception names the parameter.</exception>
    public static void Step(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, ReadOnlySpan<float> logDecay, Span<float> output, Span<float> state,
        int batch, int heads, int keyDim, int valueDim)
    {
        var shape = new LinearAttentionShape(batch, heads, 1, keyDim, valueDim);
        shape.Validate(nameof(batch));
        if (state.Length < shape.StateElements)
            throw new ArgumentException($"'state' holds {state.Length} floats but its shape [batch, heads, keyDim, valueDim] needs {shape.StateElements} for {shape}.", nameof(state));
        // The kernel does not run in place: the state in goes through a pooled copy.
        using var states = StreamingState.InPlace(state, shape.StateElements);
        Gated(query, key, value, logDecay, output, shape, states.Initial, states.Final);
    }

    private static void CheckTokens(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, LinearAttentionShape shape)
    {
        void Need(int have, int width, string name, string layout)
        {
            var needed = shape.Tokens(width);
            if (have < needed) throw new ArgumentException($"'{name}' holds {have} floats but its shape {layout} = [{shape.Batch}, {shape.Heads}, {shape.Length}, {width}] needs {needed}.", name);
        }
        Need(query.Length, shape.KeyDim, nameof(query), "[batch, heads, length, keyDim]");
        Need(key.Length, shape.KeyDim, nameof(key), "[batch, heads, length, keyDim]");
        Need(value.Length, shape.ValueDim, nameof(value), "[batch, heads, length, valueDim]");
        Need(output.Length, shape.ValueDim, nameof(output), "[batch, heads, length, valueDim]");
        Apart(output, nameof(output), query, nameof(query)); Apart(output, nameof(output), key, nameof(key)); Apart(output, nameof(output), value, nameof(value));
    }

    private static void CheckSlopes(ReadOnlySpan<float> slopes, int heads)
    {
        if (slopes.Length < heads) throw new ArgumentException($"'slopes' holds {slopes.Length} floats but needs one per head ({heads}).", nameof(slopes));
        for (var h = 0; h < heads; h++)
            if (!float.IsFinite(slopes[h]) || slopes[h] < 0)
                throw new ArgumentOutOfRangeException(nameof(slopes), slopes[h], $"slopes[{h}] must be a finite number, zero or more: a negative slope grows the weights as exp(|slope| t) and overflows float.");
    }

    /// <summary>Throws, naming <paramref name="writtenName"/>, when <paramref name="written"/> overlaps <paramref name="input"/>: the kernels do not run in place.</summary>
    private static void Apart(ReadOnlySpan<float> written, string writtenName, ReadOnlySpan<float> input, string inputName)
    {
        if (!written.IsEmpty && !input.IsEmpty && written.Overlaps(input))
            throw new ArgumentException($"'{writtenName}' overlaps '{inputName}'; give it memory of its own.", writtenName);
    }

    /// <summary>The cascade of the batched <c>Causal</c> (linear_attention.heads.einsum) as data, with the sizes B, H, T, D, F and the block size.</summary>
    public static Kernels.Einsum.KernelDescriptor HeadsDescriptor => BatchedDescriptor;

    /// <summary>The cascade of <see cref="Gated"/> (linear_attention.gated.einsum) as data, with the sizes B, H, T, D, F and the block size.</summary>
    public static Kernels.Einsum.KernelDescriptor GatedDescriptor => GatedKernelDescriptor;

    /// <summary>The cascade of <see cref="Causal(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, float)"/> (linear_attention.causal.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>CausalDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes T, D, F and the block size.</summary>
    public static Kernels.Einsum.KernelDescriptor CausalDescriptor => BlockedDescriptor;
}
