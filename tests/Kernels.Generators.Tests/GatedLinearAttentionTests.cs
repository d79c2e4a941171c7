namespace Kernels.Generators.Tests;

/// <summary>
/// Gated causal linear attention (<see cref="LinearAttention.Gated"/>, generated from linear_attention.gated.einsum), its
/// slope form with states and its decode step, against the recurrence S_t = exp(g_t) S_(t-1) + k_t^T v_t, o_t = q_t S_t
/// in double, and the streaming promise: a sequence in chunks, or one token at a time, gives the result of one call.
/// </summary>
public class GatedLinearAttentionTests
{
    /// <summary>Inputs of one problem in the layout [batch, heads, length, dim], with per-token log decays of every kind.</summary>
    private sealed class Problem
    {
        public readonly LinearAttentionShape Shape;
        public readonly float[] Q, K, V, G, State;

        public Problem(LinearAttentionShape shape, int seed, Func<Random, int, float>? gate = null)
        {
            Shape = shape;
            var r = new Random(seed);
            float[] Make(long n) => Enumerable.Range(0, (int)n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
            Q = Make(shape.Tokens(shape.KeyDim)); K = Make(shape.Tokens(shape.KeyDim)); V = Make(shape.Tokens(shape.ValueDim));
            State = Make(shape.StateElements);
            gate ??= Mixed;
            G = Enumerable.Range(0, (int)shape.Gates).Select(i => gate(r, i % Math.Max(shape.Length, 1))).ToArray();
        }

        /// <summary>No decay, decay near 1 (log near 0), ordinary gates, decay near 0 and resets (-inf, -1e30).</summary>
        public static float Mixed(Random r, int t) => (t % 37) switch
        {
            0 => 0f,
            5 => float.NegativeInfinity,
            11 => -1e30f,
            17 => -30f,
            _ => (t % 3) switch { 0 => -1e-4f, 1 => (float)(-0.5 * r.NextDouble()), _ => (float)(-3 * r.NextDouble()) },
        };

        /// <summary>o and the final state by the recurrence in double, from <paramref name="initial"/>; a log decay below
        /// <see cref="LinearAttention.FullReset"/> counts as it, as documented.</summary>
        public (double[] O, double[] Final) Loop(float[] initial)
        {
            var (bh, t, d, f) = (Shape.Batch * Shape.Heads, Shape.Length, Shape.KeyDim, Shape.ValueDim);
            var o = new double[Shape.Tokens(f)];
            var final = new double[Shape.StateElements];
            var s = new double[d * f];
            for (var p = 0; p < bh; p++)
            {
                for (var i = 0; i < d * f; i++) s[i] = initial[p * d * f + i];
                for (var l = 0; l < t; l++)
                {
                    var decay = Math.Exp(Math.Max(G[p * t + l], LinearAttention.FullReset));
                    var at = p * t + l;
                    for (var x = 0; x < d; x++)
                        for (var y = 0; y < f; y++)
                            s[x * f + y] = decay * s[x * f + y] + (double)K[at * d + x] * V[at * f + y];
                    for (var y = 0; y < f; y++)
                    {
                        double acc = 0;
                        for (var x = 0; x < d; x++) acc += (double)Q[at * d + x] * s[x * f + y];
                        o[at * f + y] = acc;
                    }
                }
                for (var i = 0; i < d * f; i++) final[p * d * f + i] = s[i];
            }
            return (o, final);
        }
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = 1 + expected.Select(Math.Abs).DefaultIfEmpty(0).Max();
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * scale, $"{what}[{i}]: {actual[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(2, 3, 150, 9, 17)]   // two whole blocks of 64 and a partial one; widths that are not powers of two
    [InlineData(1, 2, 64, 16, 16)]   // one whole block
    [InlineData(1, 1, 5, 64, 32)]    // fewer tokens than a block
    [InlineData(3, 1, 1, 4, 3)]      // one token
    public void Gated_attention_matches_the_recurrence_in_double(int batch, int heads, int length, int keyDim, int valueDim)
    {
        var p = new Problem(new LinearAttentionShape(batch, heads, length, keyDim, valueDim), seed: batch * 100 + length);
        var o = new float[p.Shape.Tokens(valueDim)];
        var final = new float[p.State.Length];
        LinearAttention.Gated(p.Q, p.K, p.V, p.G, o, p.Shape, p.State, final);
        var (eo, ef) = p.Loop(p.State);
        // With resets the cumulative log decay of a block reaches about -200, and a decay between two tokens is the exp of
        // the difference of two such sums in float: good to about 64 * 200 * 2^-24, 1e-4 relative (Mamba-2's chunked
        // kernels take the same differences).
        AssertClose(eo, o, 2e-4, "o");
        AssertClose(ef, final, 2e-4, "final state");

        var fromZero = new float[o.Length];
        LinearAttention.Gated(p.Q, p.K, p.V, p.G, fromZero, p.Shape);
        AssertClose(p.Loop(new float[p.State.Length]).O, fromZero, 2e-4, "o from zeros");
    }

    [Theory]
    [InlineData(0.0)]      // no decay: the state only grows
    [InlineData(-1e-6)]    // decay within float rounding of 1
    [InlineData(-20.0)]    // decay near 0: each token sees almost only itself
    public void Uniform_decays_near_one_and_near_zero_match_the_recurrence(double logDecay)
    {
        var p = new Problem(new LinearAttentionShape(1, 2, 130, 8, 8), seed: 3, gate: (_, _) => (float)logDecay);
        var o = new float[p.Shape.Tokens(8)];
        var final = new float[p.State.Length];
        LinearAttention.Gated(p.Q, p.K, p.V, p.G, o, p.Shape, p.State, final);
        var (eo, ef) = p.Loop(p.State);
        AssertClose(eo, o, 2e-5, "o");
        AssertClose(ef, final, 2e-5, "final state");
    }

    [Fact]
    public void A_sequence_in_chunks_gives_the_result_of_one_call()
    {
        var whole = new Problem(new LinearAttentionShape(2, 3, 150, 9, 17), seed: 7);
        var o = new float[whole.Shape.Tokens(17)];
        var final = new float[whole.State.Length];
        LinearAttention.Gated(whole.Q, whole.K, whole.V, whole.G, o, whole.Shape, whole.State, final);

        // The same tokens in chunks of 70, 1 and 79 (the kernel's blocks of 64 do not line up with them).
        InChunks(whole, o, final, new[] { 70, 1, 79 }, (start, length, shape, part, state, next) =>
            LinearAttention.Gated(Tokens(whole.Q, whole.Shape, 9, start, length), Tokens(whole.K, whole.Shape, 9, start, length), Tokens(whole.V, whole.Shape, 17, start, length),
                Tokens(whole.G, whole.Shape, 1, start, length), part, shape, state, next));
    }

    private delegate void Chunk(int start, int length, LinearAttentionShape shape, float[] part, float[] state, float[] next);

    /// <summary>Runs <paramref name="call"/> over consecutive chunks of <paramref name="whole"/> (D = 9, F = 17), each from the
    /// state the last returned, and asserts each chunk's output and the last state equal those of one call.</summary>
    private static void InChunks(Problem whole, float[] o, float[] final, int[] lengths, Chunk call)
    {
        var state = (float[])whole.State.Clone();
        var start = 0;
        foreach (var length in lengths)
        {
            var shape = whole.Shape with { Length = length };
            var part = new float[shape.Tokens(17)];
            var next = new float[state.Length];
            call(start, length, shape, part, state, next);
            AssertClose(Tokens(o, whole.Shape, 17, start, length).Select(x => (double)x).ToArray(), part, 1e-5, $"chunk at {start}: o");
            state = next;
            start += length;
        }
        AssertClose(final.Select(x => (double)x).ToArray(), state, 1e-5, "final state in chunks");
    }

    [Fact]
    public void Decode_steps_give_the_result_of_one_call()
    {
        var whole = new Problem(new LinearAttentionShape(2, 3, 20, 8, 5), seed: 8);
        var o = new float[whole.Shape.Tokens(5)];
        var final = new float[whole.State.Length];
        LinearAttention.Gated(whole.Q, whole.K, whole.V, whole.G, o, whole.Shape, whole.State, final);

        var state = (float[])whole.State.Clone();
        for (var l = 0; l < whole.Shape.Length; l++)
        {
            var step = new float[2 * 3 * 5];
            LinearAttention.Step(Tokens(whole.Q, whole.Shape, 8, l, 1), Tokens(whole.K, whole.Shape, 8, l, 1), Tokens(whole.V, whole.Shape, 5, l, 1), Tokens(whole.G, whole.Shape, 1, l, 1),
                step, state, 2, 3, 8, 5);
            AssertClose(Tokens(o, whole.Shape, 5, l, 1).Select(x => (double)x).ToArray(), step, 1e-5, $"step {l}: o");
        }
        AssertClose(final.Select(x => (double)x).ToArray(), state, 1e-5, "state after the steps");
    }

    /// <summary>The slope form with states equals the gated form with -slope at every token, the stateless slope kernel,
    /// and, in chunks, one call.</summary>
    [Fact]
    public void Slopes_with_states_stream_and_agree_with_the_stateless_kernel()
    {
        var slopes = new[] { 0f, 0.05f, 0.7f };
        var whole = new Problem(new LinearAttentionShape(2, 3, 150, 9, 17), seed: 9, gate: (_, _) => 0f);
        for (var i = 0; i < whole.G.Length; i++) whole.G[i] = -slopes[i / 150 % 3];
        var (eo, ef) = whole.Loop(whole.State);
        var o = new float[eo.Length];
        var final = new float[ef.Length];
        LinearAttention.Causal(whole.Q, whole.K, whole.V, o, whole.Shape, slopes, whole.State, final);
        AssertClose(eo, o, 2e-5, "o");
        AssertClose(ef, final, 2e-5, "final state");

        var stateless = new float[o.Length];
        LinearAttention.Causal(whole.Q, whole.K, whole.V, stateless, 2, 3, 150, 9, 17, slopes);
        var zero = new float[o.Length];
        LinearAttention.Causal(whole.Q, whole.K, whole.V, zero, whole.Shape, slopes, default, default);
        AssertClose(stateless.Select(x => (double)x).ToArray(), zero, 1e-5, "from zeros vs stateless kernel");

        InChunks(whole, o, final, new[] { 64, 3, 83 }, (start, length, shape, part, state, next) =>
            LinearAttention.Causal(Tokens(whole.Q, whole.Shape, 9, start, length), Tokens(whole.K, whole.Shape, 9, start, length), Tokens(whole.V, whole.Shape, 17, start, length),
                part, shape, slopes, state, next));
    }

    [Fact]
    public void Bad_arguments_name_the_public_parameter_before_memory_is_touched()
    {
        var p = new Problem(new LinearAttentionShape(1, 2, 8, 4, 3), seed: 10);
        var o = Enumerable.Repeat(42f, (int)p.Shape.Tokens(3)).ToArray();
        var final = Enumerable.Repeat(42f, p.State.Length).ToArray();
        void Gated(LinearAttentionShape shape, float[]? g = null, float[]? initial = null, float[]? finalState = null, float[]? v = null) =>
            LinearAttention.Gated(p.Q, p.K, v ?? p.V, g ?? p.G, o, shape, initial, finalState ?? final);
        float[] With(float x) { var g = (float[])p.G.Clone(); g[5] = x; return g; }

        Assert.Equal("logDecay", Assert.Throws<ArgumentOutOfRangeException>(() => Gated(p.Shape, g: With(float.NaN))).ParamName);
        Assert.Equal("logDecay", Assert.Throws<ArgumentOutOfRangeException>(() => Gated(p.Shape, g: With(0.01f))).ParamName);
        Assert.Equal("logDecay", Assert.Throws<ArgumentException>(() => Gated(p.Shape, g: new float[15])).ParamName);
        Assert.Equal("shape", Assert.Throws<ArgumentException>(() => Gated(p.Shape with { KeyDim = -1 })).ParamName);
        Assert.Equal("value", Assert.Throws<ArgumentException>(() => Gated(p.Shape, v: new float[47])).ParamName);
        Assert.Equal("initialState", Assert.Throws<ArgumentException>(() => Gated(p.Shape, initial: new float[23])).ParamName);
        Assert.Equal("finalState", Assert.Throws<ArgumentException>(() => Gated(p.Shape, finalState: new float[23])).ParamName);
        var both = new float[p.State.Length];
        Assert.Equal("finalState", Assert.Throws<ArgumentException>(() => LinearAttention.Gated(p.Q, p.K, p.V, p.G, o, p.Shape, both, both)).ParamName);
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => LinearAttention.Gated(p.Q, p.K, p.V, p.G, p.V.AsSpan(0, o.Length), p.Shape)).ParamName);
        Assert.Equal("slopes", Assert.Throws<ArgumentOutOfRangeException>(() => LinearAttention.Causal(p.Q, p.K, p.V, o, p.Shape, new[] { 0f, float.NaN }, default, final)).ParamName);
        Assert.Equal("state", Assert.Throws<ArgumentException>(() => LinearAttention.Step(new float[8], new float[8], new float[6], new float[2], new float[6], new float[23], 1, 2, 4, 3)).ParamName);
        Assert.Equal("logDecay", Assert.Throws<ArgumentOutOfRangeException>(() => LinearAttention.Step(new float[8], new float[8], new float[6], new[] { 0f, 1f }, new float[6], new float[24], 1, 2, 4, 3)).ParamName);
        Assert.All(o, x => Assert.Equal(42f, x));
        Assert.All(final, x => Assert.Equal(42f, x));
    }

    /// <summary>Tokens [start, start + length) of a [batch, heads, L, width] array.</summary>
    private static float[] Tokens(float[] x, LinearAttentionShape shape, int width, int start, int length)
    {
        var rows = shape.Batch * shape.Heads;
        var part = new float[rows * length * width];
        for (var r = 0; r < rows; r++) Array.Copy(x, ((long)r * shape.Length + start) * width, part, (long)r * length * width, (long)length * width);
        return part;
    }
}
