namespace Kernels.Generators.Tests;

/// <summary>Language features through the generator, every width path and the scalar tail, against the interpreter.</summary>
public class LanguageKernelTests
{
    /// <summary>Found by CompilerFuzzTests: an Einsum broken across lines inside brackets ended its own comment in the emitted code.</summary>
    [Fact]
    public void An_einsum_written_over_several_lines_compiles_and_runs()
    {
        var bench = new KernelBench(new[] { new KernelCase("multiline", "input X[p,e]\noutput Y[p]\nY[p] = sum[e\n] X[p,\ne] * 2 # twice the row sum\n",
            new IReadOnlyDictionary<string, int>[] { new Dictionary<string, int> { ["P"] = 3, ["E"] = 37 } }) });
        bench.Compile();
        Assert.Empty(bench.CompareAll(1e-5));
    }

    /// <summary>gelu_tanh, erf and pi through the generator, every width path and the scalar tail, against the interpreter.</summary>
    [Fact]
    public void Gelu_tanh_erf_and_pi_match_the_interpreter()
    {
        var bench = new KernelBench(new[] { new KernelCase("functions", "input X[p,e]\noutput Y[p,e], Z[p]\nY[p,e] = gelu_tanh(X[p,e]) * erf(X[p,e]) + pi\nZ[p] = sum[e] gelu_tanh(X[p,e] * pi)\n",
            new IReadOnlyDictionary<string, int>[] { new Dictionary<string, int> { ["P"] = 3, ["E"] = 37 }, new Dictionary<string, int> { ["P"] = 2, ["E"] = 3 } }, InputScale: 4) });
        bench.Compile();
        Assert.Empty(bench.CompareAll(1e-5));
    }

    /// <summary>Nested reductions as users write them first (cross-entropy, cosine similarity), lifted into intermediates.</summary>
    [Fact]
    public void Nested_reductions_match_the_interpreter()
    {
        var bench = new KernelBench(new[]
        {
            new KernelCase("crossentropy", "input Z[p,c], T[p,c]\noutput Y[p]\nY[p] = log(sum[c] exp(Z[p,c])) - sum[c] T[p,c] * Z[p,c]\n",
                new IReadOnlyDictionary<string, int>[] { new Dictionary<string, int> { ["P"] = 5, ["C"] = 37 }, new Dictionary<string, int> { ["P"] = 1, ["C"] = 1 } }),
            new KernelCase("cosine", "input A[p,e], B[q,e]\noutput S[p,q]\nS[p,q] = sum[e] A[p,e] * B[q,e] * rsqrt(sum[e] A[p,e] * A[p,e]) * rsqrt(sum[e] B[q,e] * B[q,e])\n",
                new IReadOnlyDictionary<string, int>[] { new Dictionary<string, int> { ["P"] = 4, ["Q"] = 7, ["E"] = 33 } }),
        });
        bench.Compile();
        Assert.Empty(bench.CompareAll(1e-5));
    }
}
