using System.Text.RegularExpressions;
using Kernels.Einsum;
using Kernels.Einsum.Analysis;
using Kernels.Einsum.Emit;

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

    /// <summary>
    /// <c>exp2</c> as a user writes it: a map (every width and the scalar tail), and a softmax in base 2 whose exp of a row
    /// less its maximum is the row micro-kernel's base-2 sweep (clamped below only), against the interpreter.
    /// </summary>
    [Fact]
    public void Exp2_written_in_a_spec_matches_the_interpreter()
    {
        const string spec = "input X[p,m]\noutput Y[p,m], Z[p,m]\nY[p,m] = exp2(X[p,m]) * 0.5\nR[p] = max[m] X[p,m]\nE2[p,m] = exp2(X[p,m] - R[p])\nS[p] = sum[m] E2[p,m]\nZ[p,m] = E2[p,m] / S[p]\n";
        var cascade = CascadeCompiler.Compile(spec).Cascade!;
        var code = CSharpKernelEmitter.Emit(cascade, KernelSignature.Canonical(cascade));
        Assert.Contains("base2: true", code);
        Assert.Contains("_TV.Exp2(", code);
        var bench = new KernelBench(new[] { new KernelCase("exp2_softmax", spec, new IReadOnlyDictionary<string, int>[]
        {
            new Dictionary<string, int> { ["P"] = 5, ["M"] = 37 },
            new Dictionary<string, int> { ["P"] = 3, ["M"] = 64 },
        }, InputScale: 30) });
        bench.Compile();
        Assert.Empty(bench.CompareAll(1e-5));
    }

    /// <summary>
    /// The row micro-kernels over a block of rows (one call for the rows of p in a block, which a contraction makes the
    /// threads run): the exp's shift a read that varies with the rows, a scalar input or a constant (a local passed with
    /// a stride of 0), or an expression that varies with them (then one call per row); the maximum's rows. Every width,
    /// blocks and rows with and without a tail, against the interpreter; and the emitted code takes the form it should.
    /// </summary>
    [Fact]
    public void Row_kernels_over_a_block_of_rows_match_the_interpreter()
    {
        // R's maximum is taken in QK's micro-kernel call (a row maximum right after a contraction: Gemm.RunMax); the
        // maximum of Y, after the exp, is a row micro-kernel call of its own.
        const string scores = "QK[p,m] = Q[p,e] * K[m,e]\nR[p] = max[m] QK[p,m]\n";
        var cases = new (string Name, string Spec, int Calls)[]
        {
            ("shift read per row", "input Q[p,e], K[m,e], T[p]\noutput Y[p,m], S[p], R[p]\n" + scores + "Y[p,m] = exp(QK[p,m] - T[p])\nS[p] = sum[m] Y[p,m]\n", 1),
            ("scalar input shift", "input Q[p,e], K[m,e], s\noutput Y[p,m], S[p], R[p]\n" + scores + "Y[p,m] = exp(QK[p,m] - s)\nS[p] = sum[m] Y[p,m]\n", 1),
            ("constant shift", "input Q[p,e], K[m,e]\noutput Y[p,m], S[p], R[p]\n" + scores + "Y[p,m] = exp(QK[p,m] - 1.5)\nS[p] = sum[m] Y[p,m]\n", 1),
            ("shift computed per row", "input Q[p,e], K[m,e], T[p]\noutput Y[p,m], S[p], R[p]\n" + scores + "Y[p,m] = exp(QK[p,m] - T[p] * 2)\nS[p] = sum[m] Y[p,m]\n", 0),
            ("maximum of the exp", "input Q[p,e], K[m,e], T[p]\noutput Y[p,m], S[p], R[p]\nQK[p,m] = Q[p,e] * K[m,e]\nY[p,m] = exp(QK[p,m] - T[p])\nS[p] = sum[m] Y[p,m]\nR[p] = max[m] Y[p,m]\n", 2),
        };
        var sizes = new IReadOnlyDictionary<string, int>[]
        {
            new Dictionary<string, int> { ["P"] = 13, ["M"] = 37, ["E"] = 5 },
            new Dictionary<string, int> { ["P"] = 7, ["M"] = 16, ["E"] = 8 },
            new Dictionary<string, int> { ["P"] = 1, ["M"] = 3, ["E"] = 2 },
        };
        foreach (var (name, spec, calls) in cases)
        {
            var cascade = CascadeCompiler.Compile(spec).Cascade!;
            var code = CSharpKernelEmitter.Emit(cascade, KernelSignature.Canonical(cascade));
            Assert.True(Regex.Matches(code, "all the rows of p in one call").Count == calls, $"{name}: calls over the rows\n{code}");
            Assert.True(code.Contains("Gemm.RunMax<_TV>", StringComparison.Ordinal) == spec.Contains("max[m] QK", StringComparison.Ordinal), $"{name}: the maximum of QK taken in its call\n{code}");
            var bench = new KernelBench(new[] { new KernelCase(name.Replace(' ', '_'), spec, sizes, InputScale: 2,
                Scalars: spec.Contains(", s\n") ? new Dictionary<string, double> { ["s"] = 1.25 } : null) });
            bench.Compile();
            Assert.Empty(bench.CompareAll(1e-5));
        }
    }

    /// <summary>A tensor may take the name of a size the spec never writes: the batched matmul over rank b with a
    /// tensor B binds its batch size as B_size; the interpreter, the generated kernel and the signature agree.</summary>
    [Fact]
    public void A_tensor_named_like_an_unwritten_size_renames_the_size()
    {
        const string bmm = "input A[b,m,k], B[b,k,n]\noutput C[b,m,n]\nC[b,m,n] = A[b,m,k] * B[b,k,n]\nM[b,m] = max[n] C[b,m,n]\n";
        var cascade = CascadeCompiler.Compile(bmm).Cascade!;
        Assert.Equal(new[] { "B_size", "M_size", "K", "N" }, cascade.Ranks.Select(r => r.Size));
        Assert.Equal(new[] { "A", "B", "C", "B_size", "M_size", "K", "N" }, KernelSignature.Canonical(cascade).Parameters.Select(p => p.Name));
        var bench = new KernelBench(new[] { new KernelCase("bmm", bmm.Replace("output C[b,m,n]", "output C[b,m,n], M[b,m]"),
            new IReadOnlyDictionary<string, int>[] { new Dictionary<string, int> { ["B_size"] = 3, ["M_size"] = 5, ["K"] = 7, ["N"] = 19 } }) });
        bench.Compile();
        Assert.Empty(bench.CompareAll(1e-5));
    }

    /// <summary>
    /// i32 inputs: read as the nearest floats by expressions (vectors of them converted, a scalar input, a sum), never by
    /// the micro-kernel (a product of an i32 and a float tensor is a loop), and exactly by filters: a bound of 2^24 + 1,
    /// which is 2^24 as a float, keeps one key where a float read would keep none.
    /// </summary>
    [Fact]
    public void I32_inputs_are_read_as_floats_by_expressions_and_exactly_by_filters()
    {
        static IReadOnlyDictionary<string, int> S(params (string, int)[] sizes) => sizes.ToDictionary(x => x.Item1, x => x.Item2);
        var bench = new KernelBench(new[]
        {
            new KernelCase("values", "input X[p,e] : i32, W[e], N : i32\noutput Y[p,e], S[p]\nY[p,e] = X[p,e] * W[e] + N\nS[p] = sum[e] X[p,e] / (N + 1)\n",
                new[] { S(("P", 5), ("E", 37)), S(("P", 1), ("E", 1)), S(("P", 3), ("E", 64)) }, 10.0, new Dictionary<string, double> { ["N"] = -7 }),
            new KernelCase("product", "input A[b,i,k] : i32, B[b,k,j]\noutput C[b,i,j]\nC[b,i,j] = A[b,i,k] * B[b,k,j]\n",
                new[] { S(("B_size", 2), ("I", 13), ("K", 17), ("J", 35)) }),
            new KernelCase("bound", "input V[p,m], L[p] : i32\noutput Y[p]\nY[p] = sum[m] V[p,m] where m + 16777216 < L[p]\n",
                new[] { S(("P", 6), ("M", 37)) },
                Values: new Dictionary<string, Func<IReadOnlyDictionary<string, int>, double[]>> { ["L"] = _ => new double[] { 16777217, 16777219, 16777216, 16777216 + 37, 16777233, int.MinValue } }),
        });
        bench.Compile();
        Assert.Empty(bench.CompareAll(1e-5));
        var inputs = new Dictionary<string, double[]> { ["V"] = Enumerable.Repeat(1.0, 6 * 37).ToArray(), ["L"] = new double[] { 16777217, 16777219, 16777216, 16777216 + 37, 16777233, int.MinValue } };
        Assert.Equal(new float[] { 1, 3, 0, 37, 17, 0 }, bench.Run(2, S(("P", 6), ("M", 37)), inputs)["Y"]);
        // The product is a loop that reads A as floats, not the micro-kernel, which it is when A holds floats.
        static string Emitted(string spec)
        {
            var cascade = CascadeCompiler.Compile(spec).Cascade!;
            return CSharpKernelEmitter.Emit(cascade, KernelSignature.Canonical(cascade));
        }
        Assert.DoesNotContain("Gemm.", Emitted(bench.Case(1).Spec));
        Assert.Contains("Gemm.", Emitted(bench.Case(1).Spec.Replace(" : i32", "")));
    }

    /// <summary>Grouped-query attention (query heads h read key/value head h / G) and a remainder in a subscript, through
    /// the generator at every width, on head counts that G divides and does not divide (the last group is partial).</summary>
    [Fact]
    public void Index_division_and_remainder_match_the_interpreter()
    {
        const string gqa = """
            input Q[h,p,e], K[kh,m,e], V[kh,m,f]
            output AV[h,p,f]
            partition H -> KH x G
            QK[h,p,m] = Q[h,p,e] * K[h / G, m, e] * rsqrt(E)
            GM[h,p]   = max[m] QK[h,p,m]
            SN[h,p,m] = exp(QK[h,p,m] - GM[h,p])
            SD[h,p]   = sum[m] SN[h,p,m]
            AV[h,p,f] = SN[h,p,m] * V[h / G, m, f] / SD[h,p]
            """;
        IReadOnlyDictionary<string, int> S(int h, int g, int p, int m) => new Dictionary<string, int> { ["H"] = h, ["G"] = g, ["P"] = p, ["M"] = m, ["E"] = 16, ["F"] = 8 };
        var bench = new KernelBench(new[]
        {
            new KernelCase("gqa", gqa, new[] { S(8, 4, 5, 33), S(7, 3, 2, 17), S(2, 1, 1, 1) }),
            new KernelCase("remainder", "input X[i], W[j]\noutput Y[i,j]\nY[i,j] = X[(i + j) % I] * W[j] + X[(i - 3) / 2]\n",
                new IReadOnlyDictionary<string, int>[] { new Dictionary<string, int> { ["I"] = 19, ["J"] = 21 } }),
        });
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

    /// <summary>Loops the emitted code opens over a root rank (its partitions and aliases included): scalar loops and
    /// iteration blocks ('for (int e = '), vector loops ('int e = 0;', or the start of a part, before their main and tail loops), micro-kernel calls,
    /// and the points of a batch rank split across threads.</summary>
    private static int LoopsOver(Kernels.Einsum.Ir.Cascade cascade, string root)
    {
        var code = CSharpKernelEmitter.Emit(cascade, KernelSignature.Canonical(cascade));
        var ranks = cascade.Ranks.Where(r => r.Root == root).ToList();
        // A micro-kernel call loops over its rows, columns and summed rank: Gemm.Run<_TV>(rows, columns, depth, ...), or
        // Gemm.RunMax<_TV> with a row maximum taken as it stores.
        var inCalls = Regex.Matches(code, @"Gemm\.Run(?:Scaled)?(?:Panels)?(?:Max)?<_TV>\(([^,]+), ([^,]+), ([^,]+),")
            .Sum(m => Enumerable.Range(1, 3).Count(g => ranks.Any(r => r.Size == m.Groups[g].Value)));
        // A batch rank split across threads with the parallel rank takes its points from the work item: 'int h = (int)(_op'.
        // A parallel rank in blocks of rows loops over its blocks: '// this block is f in [_pb, _pe)'.
        return inCalls + ranks.Sum(r => Regex.Matches(code, $@"(for \(int {Regex.Escape(CSharpKernelEmitter.Id(r.Index))} = |\bint {Regex.Escape(CSharpKernelEmitter.Id(r.Index))} = (0|_rs|_pb|\(int\)\(?_op[^;]*);|this block is {Regex.Escape(r.Index)} in \[_pb)").Count);
    }

    [Fact]
    public void Welford_layer_norm_runs_two_passes_and_matches_the_interpreter()
    {
        var cascade = CascadeCompiler.Compile(Kernels.Einsum.Tests.UserCascades.Welford).Cascade!;
        Assert.Equal(2, PassAnalysis.Analyze(cascade).PassesOver("e"));
        Assert.True(LoopsOver(cascade, "e") >= 2);
        var bench = new KernelBench(new[] { new KernelCase("welford", Kernels.Einsum.Tests.UserCascades.Welford,
            new IReadOnlyDictionary<string, int>[] { new Dictionary<string, int> { ["P"] = 5, ["E"] = 37 } }) });
        bench.Compile();
        Assert.Empty(bench.CompareAll(1e-4));
    }

    /// <summary>No cascade is analysed as taking more passes over a rank than the generated code makes loops over it.</summary>
    [Fact]
    public void Analysed_passes_never_exceed_the_emitted_loops()
    {
        var specs = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "specs"), "*.einsum").Select(File.ReadAllText)
            .Concat(RandomCascades.Generate(200, seed: 20261123).Select(c => c.Spec)).Append(Kernels.Einsum.Tests.UserCascades.Welford);
        foreach (var spec in specs)
        {
            // The kernel computes the cascade with its tile copies as views (TileViews): no loop for a copy.
            var cascade = Kernels.Einsum.Planning.TileViews.Apply(CascadeCompiler.Compile(spec).Cascade!);
            foreach (var passes in PassAnalysis.Analyze(cascade).Passes)
                Assert.True(passes.Passes <= LoopsOver(cascade, passes.Rank), $"{passes.Passes} passes over {passes.Rank} but {LoopsOver(cascade, passes.Rank)} loops:\n{spec}");
        }
    }

    /// <summary>x ^ 2 and x ^ 3 as products, pow with a negative base and integer exponents, and a general power.</summary>
    [Fact]
    public void Powers_match_the_interpreter()
    {
        var bench = new KernelBench(new[]
        {
            new KernelCase("rmsnorm", "input X[p,e], W[e]\noutput Y[p,e]\nSS[p] = sum[e] X[p,e] ^ 2\nY[p,e] = X[p,e] * rsqrt(SS[p] / E + 0.000001) * W[e]\n",
                new IReadOnlyDictionary<string, int>[] { new Dictionary<string, int> { ["P"] = 3, ["E"] = 37 } }),
            new KernelCase("powers", "input X[p], N[p]\noutput Y[p], Z[p]\nY[p] = X[p] ^ 3 - pow(X[p], 4) + pow(X[p], -1)\nZ[p] = pow(abs(X[p]) + 0.5, N[p] * 3)\n",
                new IReadOnlyDictionary<string, int>[] { new Dictionary<string, int> { ["P"] = 41 } }, InputScale: 2),
        });
        bench.Compile();
        Assert.Empty(bench.CompareAll(2e-5));
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
