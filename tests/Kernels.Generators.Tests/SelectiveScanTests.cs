namespace Kernels.Generators.Tests;

/// <summary>
/// The batched, grouped, streaming selective scan (<see cref="SelectiveScan.Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, SelectiveScanShape, ReadOnlySpan{float}, Span{float})"/>
/// and <see cref="SelectiveScan.Step"/>, generated from selective_scan.grouped.einsum) against a direct loop in double,
/// and its streaming promise: a sequence in chunks, or one token at a time, gives the result of one call.
/// </summary>
public class SelectiveScanTests
{
    /// <summary>Inputs of one problem, in the public layouts, with A negative (a decaying state).</summary>
    private sealed class Problem
    {
        public readonly SelectiveScanShape Shape;
        public readonly float[] U, Delta, A, B, C, D, Z, Bias, State;

        public Problem(SelectiveScanShape shape, int seed)
        {
            Shape = shape;
            var r = new Random(seed);
            float[] Make(long n, double scale) => Enumerable.Range(0, (int)n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();
            var (b, d, l, n, g) = (shape.Batch, shape.Channels, shape.Length, shape.StateSize, shape.Groups);
            U = Make((long)b * d * l, 1); Delta = Make((long)b * d * l, 1); Z = Make((long)b * d * l, 1);
            A = Make((long)d * n, 1).Select(x => -0.2f - Math.Abs(x)).ToArray();
            B = Make((long)b * g * n * l, 1); C = Make((long)b * g * n * l, 1);
            D = Make(d, 1); Bias = Make(d, 0.5); State = Make((long)b * d * n, 1);
        }

        /// <summary>y and the final state by the recurrence in double, from <paramref name="initial"/>.</summary>
        public (double[] Y, double[] Final) Loop(float[] initial)
        {
            var (bs, ds, ls, ns, dg) = (Shape.Batch, Shape.Channels, Shape.Length, Shape.StateSize, Shape.Channels / Shape.Groups);
            var y = new double[(long)bs * ds * ls];
            var final = new double[(long)bs * ds * ns];
            var x = new double[ns];
            for (var b = 0; b < bs; b++)
                for (var d = 0; d < ds; d++)
                {
                    var g = d / dg;
                    for (var n = 0; n < ns; n++) x[n] = initial[(b * ds + d) * ns + n];
                    for (var l = 0; l < ls; l++)
                    {
                        var at = (b * ds + d) * ls + l;
                        var v = (double)Delta[at] + Bias[d];
                        var dt = Math.Max(v, 0) + Math.Log(1 + Math.Exp(-Math.Abs(v)));
                        double acc = 0;
                        for (var n = 0; n < ns; n++)
                        {
                            var bc = ((b * Shape.Groups + g) * ns + n) * ls + l;
                            x[n] = Math.Exp(dt * A[d * ns + n]) * x[n] + dt * B[bc] * U[at];
                            acc += C[bc] * x[n];
                        }
                        y[at] = (acc + D[d] * (double)U[at]) * Z[at] / (1 + Math.Exp(-Z[at]));
                    }
                    for (var n = 0; n < ns; n++) final[(b * ds + d) * ns + n] = x[n];
                }
            return (y, final);
        }
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"{what}[{i}]: {actual[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(2, 6, 150, 5, 2)]   // several chunks of 64 steps and a partial one; groups of 3 channels
    [InlineData(1, 16, 64, 16, 1)]  // one group (Mamba's layout), one whole chunk, a vector of states
    [InlineData(3, 4, 7, 3, 4)]     // one channel per group, fewer steps than a chunk
    [InlineData(1, 5, 1, 1, 5)]     // one step, one state
    [InlineData(2, 3, 70, 256, 1)]  // Mamba-2's largest d_state: a state of 256 per channel
    public void Batched_grouped_scan_matches_a_loop_in_double(int batch, int channels, int length, int stateSize, int groups)
    {
        var p = new Problem(new SelectiveScanShape(batch, channels, length, stateSize, groups), seed: batch * 100 + channels);
        var y = new float[p.U.Length];
        var final = new float[p.State.Length];
        SelectiveScan.Forward(p.U, p.Delta, p.A, p.B, p.C, p.D, p.Z, p.Bias, y, p.Shape, p.State, final);
        var (ey, ef) = p.Loop(p.State);
        AssertClose(ey, y, 2e-5, "y");
        AssertClose(ef, final, 2e-5, "final state");

        // No initial state means zeros; no final state means it is not returned.
        var fromZero = new float[p.U.Length];
        SelectiveScan.Forward(p.U, p.Delta, p.A, p.B, p.C, p.D, p.Z, p.Bias, fromZero, p.Shape);
        AssertClose(p.Loop(new float[p.State.Length]).Y, fromZero, 2e-5, "y from zeros");
    }

    /// <summary>Time-invariant B and C ([channels, stateSize], the same for every token and sequence) against the loop over
    /// the same values spread over every token, as the grouped layout with a group per channel holds them; in chunks too.</summary>
    [Theory]
    [InlineData(2, 6, 150, 5)]
    [InlineData(1, 16, 64, 16)]
    [InlineData(1, 3, 1, 7)]
    public void Time_invariant_scan_matches_a_loop_in_double(int batch, int channels, int length, int stateSize)
    {
        var p = new Problem(new SelectiveScanShape(batch, channels, length, stateSize, channels), seed: 31 + length);
        var r = new Random(5);
        var b = Enumerable.Range(0, channels * stateSize).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        var c = Enumerable.Range(0, channels * stateSize).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        for (var i = 0; i < p.B.Length; i++)
        {
            var dn = i / length % (channels * stateSize); // [batch, groups = channels, stateSize, length] -> (channel, state)
            p.B[i] = b[dn];
            p.C[i] = c[dn];
        }
        var y = new float[p.U.Length];
        var final = new float[p.State.Length];
        SelectiveScan.TimeInvariant(p.U, p.Delta, p.A, b, c, p.D, p.Z, p.Bias, y, p.Shape, p.State, final);
        var (ey, ef) = p.Loop(p.State);
        AssertClose(ey, y, 2e-5, "y");
        AssertClose(ef, final, 2e-5, "final state");

        if (length < 2) return;
        var half = length / 2;
        var (y1, y2, s1, s2) = (new float[batch * channels * half], new float[batch * channels * (length - half)], new float[p.State.Length], new float[p.State.Length]);
        SelectiveScan.TimeInvariant(Tokens(p.U, p.Shape, 0, half), Tokens(p.Delta, p.Shape, 0, half), p.A, b, c, p.D, Tokens(p.Z, p.Shape, 0, half), p.Bias, y1, p.Shape with { Length = half }, p.State, s1);
        SelectiveScan.TimeInvariant(Tokens(p.U, p.Shape, half, length - half), Tokens(p.Delta, p.Shape, half, length - half), p.A, b, c, p.D, Tokens(p.Z, p.Shape, half, length - half), p.Bias, y2,
            p.Shape with { Length = length - half }, s1, s2);
        AssertClose(Tokens(y, p.Shape, half, length - half).Select(x => (double)x).ToArray(), y2, 1e-5, "second half");
        AssertClose(final.Select(x => (double)x).ToArray(), s2, 1e-5, "state after two halves");
        Assert.Equal("b", Assert.Throws<ArgumentException>(() => SelectiveScan.TimeInvariant(p.U, p.Delta, p.A, b.AsSpan(1), c, p.D, p.Z, p.Bias, y, p.Shape)).ParamName);
    }

    [Fact]
    public void A_sequence_in_chunks_gives_the_result_of_one_call()
    {
        var whole = new Problem(new SelectiveScanShape(2, 6, 150, 5, 2), seed: 7);
        var y = new float[whole.U.Length];
        var final = new float[whole.State.Length];
        SelectiveScan.Forward(whole.U, whole.Delta, whole.A, whole.B, whole.C, whole.D, whole.Z, whole.Bias, y, whole.Shape, whole.State, final);

        // The same tokens in chunks of 70, 1 and 79 (chunks of 64 steps inside the kernel do not line up with them).
        var state = (float[])whole.State.Clone();
        var start = 0;
        foreach (var length in new[] { 70, 1, 79 })
        {
            var shape = whole.Shape with { Length = length };
            var (u, delta, z) = (Tokens(whole.U, whole.Shape, start, length), Tokens(whole.Delta, whole.Shape, start, length), Tokens(whole.Z, whole.Shape, start, length));
            var (b, c) = (GroupTokens(whole.B, whole.Shape, start, length), GroupTokens(whole.C, whole.Shape, start, length));
            var part = new float[u.Length];
            var next = new float[state.Length];
            SelectiveScan.Forward(u, delta, whole.A, b, c, whole.D, z, whole.Bias, part, shape, state, next);
            var expected = Tokens(y, whole.Shape, start, length);
            for (var i = 0; i < part.Length; i++)
                Assert.True(Math.Abs(part[i] - expected[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"chunk at {start}: y[{i}] {part[i]} vs {expected[i]}");
            state = next;
            start += length;
        }
        for (var i = 0; i < final.Length; i++)
            Assert.True(Math.Abs(state[i] - final[i]) <= 1e-5f * (1 + Math.Abs(final[i])), $"final state [{i}]: {state[i]} vs {final[i]}");
    }

    [Fact]
    public void Decode_steps_give_the_result_of_one_call()
    {
        var whole = new Problem(new SelectiveScanShape(2, 6, 20, 4, 3), seed: 8);
        var y = new float[whole.U.Length];
        var final = new float[whole.State.Length];
        SelectiveScan.Forward(whole.U, whole.Delta, whole.A, whole.B, whole.C, whole.D, whole.Z, whole.Bias, y, whole.Shape, whole.State, final);

        var state = (float[])whole.State.Clone();
        var (batch, channels, stateSize, groups) = (whole.Shape.Batch, whole.Shape.Channels, whole.Shape.StateSize, whole.Shape.Groups);
        for (var l = 0; l < whole.Shape.Length; l++)
        {
            var step = new float[batch * channels];
            SelectiveScan.Step(Tokens(whole.U, whole.Shape, l, 1), Tokens(whole.Delta, whole.Shape, l, 1), whole.A, GroupTokens(whole.B, whole.Shape, l, 1), GroupTokens(whole.C, whole.Shape, l, 1),
                whole.D, Tokens(whole.Z, whole.Shape, l, 1), whole.Bias, step, state, batch, channels, stateSize, groups);
            var expected = Tokens(y, whole.Shape, l, 1);
            for (var i = 0; i < step.Length; i++)
                Assert.True(Math.Abs(step[i] - expected[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"step {l}: y[{i}] {step[i]} vs {expected[i]}");
        }
        for (var i = 0; i < final.Length; i++)
            Assert.True(Math.Abs(state[i] - final[i]) <= 1e-5f * (1 + Math.Abs(final[i])), $"state after the steps [{i}]: {state[i]} vs {final[i]}");
    }

    [Fact]
    public void Bad_arguments_name_the_public_parameter_before_memory_is_touched()
    {
        var p = new Problem(new SelectiveScanShape(1, 4, 8, 2, 2), seed: 9);
        var y = Enumerable.Repeat(42f, p.U.Length).ToArray();
        var state = new float[p.State.Length];
        void Forward(SelectiveScanShape shape, float[]? b = null, float[]? initial = null, float[]? final = null, float[]? output = null) =>
            SelectiveScan.Forward(p.U, p.Delta, p.A, b ?? p.B, p.C, p.D, p.Z, p.Bias, output ?? y, shape, initial, final);

        Assert.Equal("shape", Assert.Throws<ArgumentException>(() => Forward(p.Shape with { Groups = 3 })).ParamName);
        Assert.Equal("shape", Assert.Throws<ArgumentException>(() => Forward(p.Shape with { Length = -1 })).ParamName);
        Assert.Equal("b", Assert.Throws<ArgumentException>(() => Forward(p.Shape, b: new float[p.B.Length - 1])).ParamName);
        Assert.Equal("initialState", Assert.Throws<ArgumentException>(() => Forward(p.Shape, initial: new float[3])).ParamName);
        Assert.Equal("finalState", Assert.Throws<ArgumentException>(() => Forward(p.Shape, final: new float[3])).ParamName);
        var both = new float[p.State.Length];
        Assert.Equal("finalState", Assert.Throws<ArgumentException>(() => Forward(p.Shape, initial: both, final: both)).ParamName);
        Assert.Equal("y", Assert.Throws<ArgumentException>(() => SelectiveScan.Forward(p.U, p.Delta, p.A, p.B, p.C, p.D, p.Z, p.Bias, p.U.AsSpan(), p.Shape)).ParamName);
        Assert.Equal("state", Assert.Throws<ArgumentException>(() => SelectiveScan.Step(new float[4], new float[4], p.A, new float[4], new float[4], p.D, new float[4], p.Bias, new float[4], new float[7], 1, 4, 2, 2)).ParamName);
        Assert.Equal("channels", Assert.Throws<ArgumentException>(() => SelectiveScan.Step(new float[4], new float[4], p.A, new float[4], new float[4], p.D, new float[4], p.Bias, new float[4], state, 1, 4, 2, 3)).ParamName);
        Assert.All(y, v => Assert.Equal(42f, v));
    }

    /// <summary>Tokens [start, start + length) of a [batch, channels, L] array.</summary>
    private static float[] Tokens(float[] x, SelectiveScanShape shape, int start, int length)
    {
        var rows = shape.Batch * shape.Channels;
        var part = new float[rows * length];
        for (var r = 0; r < rows; r++) Array.Copy(x, (long)r * shape.Length + start, part, (long)r * length, length);
        return part;
    }

    /// <summary>Tokens [start, start + length) of a [batch, groups, stateSize, L] array.</summary>
    private static float[] GroupTokens(float[] x, SelectiveScanShape shape, int start, int length) =>
        Tokens(x, shape with { Batch = shape.Batch * shape.Groups * shape.StateSize, Channels = 1 }, start, length);
}
