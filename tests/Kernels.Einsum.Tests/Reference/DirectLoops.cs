namespace Kernels.Einsum.Tests.Reference;

/// <summary>
/// Plain double-precision nested-loop implementations of the workloads, written straight from
/// the math. They are independent oracles for the cascade interpreter: no tiling, no
/// vectorisation, no cleverness. All arrays are row-major <see cref="double"/> arrays whose
/// dimensions are listed in the order given in each method's documentation.
/// </summary>
public static class DirectLoops
{
    /// <summary>
    /// Scaled dot-product attention for one head.
    /// <c>s[p,m] = (sum_e q[p,e] * k[m,e]) / sqrt(E)</c> over the allowed keys m (all m, or only
    /// <c>m &lt;= p</c> when <paramref name="causal"/>); <c>a[p,m] = softmax_m(s[p,m])</c> computed
    /// with max subtraction; <c>out[p,f] = sum_m a[p,m] * v[m,f]</c>.
    /// A query with no allowed key yields a row of zeros.
    /// </summary>
    /// <param name="q">Queries, [P, E].</param>
    /// <param name="k">Keys, [M, E].</param>
    /// <param name="v">Values, [M, F].</param>
    /// <param name="P">Number of queries.</param>
    /// <param name="M">Number of keys / values.</param>
    /// <param name="E">Query/key embedding size.</param>
    /// <param name="F">Value embedding size.</param>
    /// <param name="causal">When true, query p only attends to keys m with m &lt;= p.</param>
    /// <returns>The output, [P, F].</returns>
    public static double[] Attention(double[] q, double[] k, double[] v, int P, int M, int E, int F, bool causal)
    {
        CheckLength(q, (long)P * E, nameof(q));
        CheckLength(k, (long)M * E, nameof(k));
        CheckLength(v, (long)M * F, nameof(v));

        var output = new double[P * F];
        double scale = 1.0 / Math.Sqrt(E);

        for (int p = 0; p < P; p++)
        {
            int allowed = causal ? Math.Min(M, p + 1) : M;
            if (allowed <= 0)
            {
                continue; // no key: the row stays zero
            }

            // Scores.
            var scores = new double[allowed];
            for (int m = 0; m < allowed; m++)
            {
                double dot = 0.0;
                for (int e = 0; e < E; e++)
                {
                    dot += q[p * E + e] * k[m * E + e];
                }
                scores[m] = dot * scale;
            }

            // Softmax with max subtraction.
            double max = double.NegativeInfinity;
            for (int m = 0; m < allowed; m++)
            {
                max = Math.Max(max, scores[m]);
            }
            double denominator = 0.0;
            var weights = new double[allowed];
            for (int m = 0; m < allowed; m++)
            {
                weights[m] = Math.Exp(scores[m] - max);
                denominator += weights[m];
            }

            // Weighted sum of values.
            for (int f = 0; f < F; f++)
            {
                double sum = 0.0;
                for (int m = 0; m < allowed; m++)
                {
                    sum += weights[m] / denominator * v[m * F + f];
                }
                output[p * F + f] = sum;
            }
        }

        return output;
    }

    /// <summary>
    /// Row-wise softmax with max subtraction:
    /// <c>y[p,n] = exp(x[p,n] - max_j x[p,j]) / sum_j exp(x[p,j] - max_j x[p,j])</c>.
    /// </summary>
    /// <param name="x">Input, [P, N].</param>
    /// <param name="P">Number of rows.</param>
    /// <param name="N">Row length.</param>
    /// <returns>The softmax, [P, N].</returns>
    public static double[] Softmax(double[] x, int P, int N)
    {
        CheckLength(x, (long)P * N, nameof(x));

        var y = new double[P * N];
        for (int p = 0; p < P; p++)
        {
            double max = double.NegativeInfinity;
            for (int n = 0; n < N; n++)
            {
                max = Math.Max(max, x[p * N + n]);
            }

            double sum = 0.0;
            for (int n = 0; n < N; n++)
            {
                double e = Math.Exp(x[p * N + n] - max);
                y[p * N + n] = e;
                sum += e;
            }

            for (int n = 0; n < N; n++)
            {
                y[p * N + n] /= sum;
            }
        }

        return y;
    }

    /// <summary>
    /// Causal linear attention with decay, quadratic form (Lightning Attention reference):
    /// <c>o[t,f] = sum_{j &lt;= t} exp(-s * (t - j)) * (sum_d q[t,d] * k[j,d]) * v[j,f]</c>.
    /// The per-head decay is <c>lambda = exp(-s)</c>; <c>s = 0</c> means no decay. No softmax.
    /// </summary>
    /// <param name="q">Queries, [T, D].</param>
    /// <param name="k">Keys, [T, D].</param>
    /// <param name="v">Values, [T, F].</param>
    /// <param name="s">Decay slope; lambda = exp(-s).</param>
    /// <param name="T">Sequence length.</param>
    /// <param name="D">Query/key embedding size.</param>
    /// <param name="F">Value embedding size.</param>
    /// <returns>The output, [T, F].</returns>
    public static double[] LinearAttentionQuadratic(double[] q, double[] k, double[] v, double s, int T, int D, int F)
    {
        CheckLength(q, (long)T * D, nameof(q));
        CheckLength(k, (long)T * D, nameof(k));
        CheckLength(v, (long)T * F, nameof(v));

        var output = new double[T * F];
        for (int t = 0; t < T; t++)
        {
            for (int j = 0; j <= t; j++)
            {
                double dot = 0.0;
                for (int d = 0; d < D; d++)
                {
                    dot += q[t * D + d] * k[j * D + d];
                }
                double weight = Math.Exp(-s * (t - j)) * dot;

                for (int f = 0; f < F; f++)
                {
                    output[t * F + f] += weight * v[j * F + f];
                }
            }
        }

        return output;
    }

    /// <summary>
    /// Mamba selective scan for one batch element. For each channel d, with state
    /// <c>x[n] = 0</c> initially, for <c>l = 0 .. L-1</c>:
    /// <c>dt = softplus(delta[d,l] + deltaBias[d])</c>;
    /// <c>x[n] = exp(dt * a[d,n]) * x[n] + dt * b[n,l] * u[d,l]</c> for every n;
    /// <c>y = sum_n c[n,l] * x[n] + dSkip[d] * u[d,l]</c>;
    /// <c>out[d,l] = y * silu(z[d,l])</c>, where <c>softplus(y) = log(1 + exp(y))</c> and
    /// <c>silu(v) = v / (1 + exp(-v))</c>.
    /// </summary>
    /// <param name="u">Input, [D, L].</param>
    /// <param name="delta">Time-step input before softplus, [D, L].</param>
    /// <param name="a">State matrix A, [D, N].</param>
    /// <param name="b">Input matrix B, [N, L].</param>
    /// <param name="c">Output matrix C, [N, L].</param>
    /// <param name="dSkip">Skip connection D, [D].</param>
    /// <param name="z">Gate input, [D, L].</param>
    /// <param name="deltaBias">Bias added to delta before softplus, [D].</param>
    /// <param name="D">Number of channels.</param>
    /// <param name="L">Sequence length.</param>
    /// <param name="N">State size (d_state).</param>
    /// <returns>The output, [D, L].</returns>
    public static double[] SelectiveScan(
        double[] u, double[] delta, double[] a, double[] b, double[] c,
        double[] dSkip, double[] z, double[] deltaBias, int D, int L, int N)
    {
        CheckLength(u, (long)D * L, nameof(u));
        CheckLength(delta, (long)D * L, nameof(delta));
        CheckLength(a, (long)D * N, nameof(a));
        CheckLength(b, (long)N * L, nameof(b));
        CheckLength(c, (long)N * L, nameof(c));
        CheckLength(dSkip, D, nameof(dSkip));
        CheckLength(z, (long)D * L, nameof(z));
        CheckLength(deltaBias, D, nameof(deltaBias));

        var output = new double[D * L];
        var x = new double[N];
        for (int d = 0; d < D; d++)
        {
            Array.Clear(x);
            for (int l = 0; l < L; l++)
            {
                double uValue = u[d * L + l];
                double dt = Softplus(delta[d * L + l] + deltaBias[d]);

                double y = 0.0;
                for (int n = 0; n < N; n++)
                {
                    x[n] = Math.Exp(dt * a[d * N + n]) * x[n] + dt * b[n * L + l] * uValue;
                    y += c[n * L + l] * x[n];
                }
                y += dSkip[d] * uValue;

                output[d * L + l] = y * Silu(z[d * L + l]);
            }
        }

        return output;
    }

    /// <summary>
    /// Deterministic pseudo-random values, uniform in <c>[-scale, scale]</c>, drawn from
    /// <c>new Random(seed)</c>: <c>value = (2 * NextDouble() - 1) * scale</c>.
    /// </summary>
    /// <param name="length">Number of values.</param>
    /// <param name="seed">Seed for <see cref="Random"/>.</param>
    /// <param name="scale">Half-width of the interval.</param>
    /// <returns>An array of <paramref name="length"/> values.</returns>
    public static double[] RandomArray(int length, int seed, double scale = 1.0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);

        var random = new Random(seed);
        var values = new double[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = (2.0 * random.NextDouble() - 1.0) * scale;
        }
        return values;
    }

    /// <summary><c>softplus(y) = log(1 + exp(y))</c>, returning y itself for y &gt; 20.</summary>
    private static double Softplus(double y) => y > 20.0 ? y : Log1P(Math.Exp(y));

    /// <summary><c>silu(v) = v / (1 + exp(-v))</c>.</summary>
    private static double Silu(double v) => v / (1.0 + Math.Exp(-v));

    /// <summary>
    /// <c>log(1 + x)</c>, accurate for small x (the classic correction: with w = 1 + x rounded,
    /// <c>log(w) * x / (w - 1)</c>).
    /// </summary>
    private static double Log1P(double x)
    {
        double w = 1.0 + x;
        if (w == 1.0)
        {
            return x;
        }
        return Math.Log(w) * x / (w - 1.0);
    }

    private static void CheckLength(double[] array, long expected, string name)
    {
        ArgumentNullException.ThrowIfNull(array, name);
        if (array.Length != expected)
        {
            throw new ArgumentException($"Expected length {expected}, got {array.Length}.", name);
        }
    }
}
