using CsCheck;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Tests;

public class ParserTests
{
    [Fact]
    public void EveryConstructParses()
    {
        const string spec = """
            // a comment, and another style below
            kernel everything   # trailing comment
            input  X[p,e] : f16, W[e] : bf16, S
            input  K[m,e]
            output Y[p], Z[m,p]; output R[p]
            partition M -> M1 x M0 with M0 = 4
            index q in P
            SS[p]   = X[p,e] * X[p,e]
            N[p,e]  = X[p,e] * rsqrt(SS[p] / E + 1e-6) * W[e]
            MX[p]   = max[e] N[p,e]
            MN[p]   = min[e] N[p,e]
            PR[p]   = prod[e] (1 + abs(N[p,e]))
            L[p]    = logsumexp[e] N[p,e]
            G[p,e]  = gelu(N[p,e]) + relu(N[p,e]) - silu(N[p,e]) + sigmoid(N[p,e]) * tanh(N[p,e])
            H[p,e]  = softplus(G[p,e]) + exp(-G[p,e]) + log(2) + sqrt(4) + max(G[p,e], 0) + min(G[p,e], inf)
            Y[p]    = sum[e] (H[p,e]
                              + MX[p] + MN[p] + PR[p] + L[p]) * S
            BK[m1,m0,e] = K[m1*M0 + m0, e]
            Z[m1*M0 + m0, p] = BK[m1,m0,e] * X[p,e] where m1*M0 + m0 <= p and m0 != 3
            iterate m1 until m1 == M1 {
              init RS[0,p] = 0
              T[m1,p] = sum[m0] Z[m1*M0 + m0, p]
              RS[m1+1,p] = RS[m1,p] + T[m1,p]
            }
            C[p] = sum[q, e] X[q,e] where q < p
            R[p] = RS[M1,p] + C[p] + p - P
            """;
        var result = CascadeCompiler.Compile(spec);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        var cascade = result.Cascade!;
        Assert.Equal("everything", cascade.Name);
        Assert.Equal(ElementType.Float16, cascade.Tensor("X").ElementType);
        Assert.Equal(ElementType.BFloat16, cascade.Tensor("W").ElementType);
        Assert.Equal(0, cascade.Tensor("S").Rank);
        Assert.Equal(RankKind.PartitionOuter, cascade.Rank("m1").Kind);
        Assert.Equal(4, cascade.Rank("m0").DefaultSize);
        Assert.Equal("P", cascade.Rank("q").Size);
        var block = Assert.Single(cascade.Blocks);
        Assert.Equal("m1", block.Rank);
        Assert.Single(block.Inits);
        Assert.Equal(0, cascade.Tensor("RS").CarriedDim);
        Assert.Equal(ReduceOperator.LogSumExp, cascade.Writer("L")!.Reduction);
        Assert.True(cascade.Writer("SS")!.IsImplicitReduction);
        Assert.Equal(2, cascade.Writer("Z")!.Filters.Count);
        // Evaluation order follows the data: the block runs after Z and before R.
        var order = cascade.Einsums.Select(e => e.Output.Name).ToList();
        Assert.True(order.IndexOf("Z") < order.IndexOf("T") && order.IndexOf("RS") < order.LastIndexOf("R"));
    }

    [Fact]
    public void AllSpecsCompileWithoutDiagnostics()
    {
        Assert.Equal(25, Specs.Names.Count());
        foreach (var name in Specs.Names)
        {
            var result = CascadeCompiler.Compile(Specs.Text(name));
            Assert.True(result.Success, name + ": " + string.Join("\n", result.Diagnostics));
            Assert.Empty(result.Diagnostics);
        }
    }

    [Fact]
    public void EinsumsCarryTheirActions()
    {
        var cascade = Specs.Load("softmax.3pass");
        var y = cascade.Writer("Y")!;
        var actions = y.Actions();
        Assert.Contains(actions, a => a.Kind == ActionKind.Map && a.Compute == "divide" && a.Merge == MergeOperator.NonZeroDivisor);
        Assert.Equal(ActionKind.Populate, actions[^1].Kind);
        var sd = cascade.Writer("SD")!.Actions();
        Assert.Contains(sd, a => a.Kind == ActionKind.Reduce && a.Compute == "sum");
    }

    private static readonly string[] Fragments =
    {
        "input", "output", "kernel", "partition", "iterate", "until", "init", "where", "and", "index", "in", "with", "x",
        "X", "Y", "p", "e", "m1", "M1", "M0", "[", "]", "(", ")", "{", "}", ",", ":", ";", "\n", "=", "==", "<=", "->",
        "+", "-", "*", "/", "sum[e]", "max", "exp(", "1e-6", "2.", "inf", "#c\n", "$", "'", "\"", " ",
    };

    [Fact]
    public void RandomTextNeverThrowsAndEitherCompilesOrExplains()
    {
        Gen.Int[0, Fragments.Length - 1].Array[0, 40].Select(ix => string.Concat(ix.Select(i => Fragments[i] + " ")))
            .Sample(text => CheckOne(text), iter: 3000);
        Gen.String.Sample(text => CheckOne(text), iter: 2000);
    }

    [Fact]
    public void MutatedSpecsNeverThrowAndEitherCompileOrExplain()
    {
        var specs = Specs.Names.Select(Specs.Text).ToArray();
        Gen.Select(Gen.Int[0, specs.Length - 1], Gen.Int[0, 10_000], Gen.Int[0, 3], Gen.Int[0, Fragments.Length - 1])
            .Sample((s, at, kind, frag) =>
            {
                var text = specs[s];
                var i = at % Math.Max(1, text.Length);
                var mutated = kind switch
                {
                    0 => text.Remove(i, Math.Min(3, text.Length - i)),
                    1 => text.Insert(i, Fragments[frag]),
                    2 => text.Substring(0, i),
                    _ => text.Remove(i, Math.Min(1, text.Length - i)).Insert(i, Fragments[frag]),
                };
                CheckOne(mutated);
            }, iter: 3000);
    }

    private static void CheckOne(string text)
    {
        var result = CascadeCompiler.Compile(text); // must not throw
        Assert.DoesNotContain(result.Diagnostics, d => d.Id == "KRN0999");
        if (!result.Success) Assert.Contains(result.Diagnostics, d => d.IsError);
        else Assert.NotNull(result.Cascade);
        foreach (var d in result.Diagnostics)
        {
            Assert.InRange(d.Span.Start, 0, text.Length);
            Assert.InRange(d.Span.End, 0, text.Length);
        }
    }
}
