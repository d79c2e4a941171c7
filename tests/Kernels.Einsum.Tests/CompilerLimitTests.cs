using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Tests;

/// <summary>
/// Specs built to exhaust the compiler: nesting and operator chains far past any real cascade, and long garbage.
/// Before the depth bound these overflowed the stack in the parser and the binder, which kills the whole compiler
/// process (a StackOverflowException cannot be caught). The compile runs on a thread with a 1 MiB stack (the default for a thread on Windows),
/// no larger than the compiler, an IDE or the CLI gives it, so a regression fails here rather than elsewhere.
/// </summary>
public class CompilerLimitTests
{
    private const string Header = "input X[p]\noutput Y[p]\n";

    private static CompilationResult CompileOnSmallStack(string text)
    {
        CompilationResult? result = null;
        var thread = new Thread(() => result = CascadeCompiler.Compile(text), maxStackSize: 1024 * 1024);
        thread.Start();
        thread.Join();
        return result!;
    }

    public static TheoryData<string, string> Deep() => new()
    {
        { "parentheses", Header + "Y[p] = " + new string('(', 6000) + "X[p]" + new string(')', 6000) },
        { "unary minus", Header + "Y[p] = " + new string('-', 13400) + "X[p]" },
        { "a chain of additions", Header + "Y[p] = X[p]" + string.Concat(Enumerable.Repeat(" + X[p]", 20000)) },
        { "a chain of products", Header + "Y[p] = X[p]" + string.Concat(Enumerable.Repeat(" * X[p]", 20000)) },
        { "nested calls", Header + "Y[p] = " + string.Concat(Enumerable.Repeat("exp(", 5000)) + "X[p]" + new string(')', 5000) },
        { "nested subscripts", Header + "Y[p] = X[" + string.Concat(Enumerable.Repeat("(", 5000)) + "p" + new string(')', 5000) + "]" },
        { "nested reductions", Header + "Y[p] = X[p] * " + string.Concat(Enumerable.Repeat("sum[p] ", 5000)) + "X[p]" },
        { "a deep filter", Header + "Y[p] = X[p] where " + new string('(', 6000) + "p" + new string(')', 6000) + " > 0" },
    };

    [Theory]
    [MemberData(nameof(Deep))]
    public void Expressions_nested_past_the_bound_are_KRN0033_at_the_place_not_a_crash(string what, string text)
    {
        var result = CompileOnSmallStack(text);
        Assert.False(result.Success, what);
        var d = Assert.Single(result.Diagnostics, x => x.Id == "KRN0033");
        Assert.InRange(d.Span.Start, Header.Length, text.Length);
        Assert.InRange(d.Span.Start + d.Span.Length, d.Span.Start, text.Length);
        Assert.Contains("intermediate Einsum", d.Message);
        Assert.DoesNotContain(result.Diagnostics, x => x.Id == "KRN0999");
    }

    [Fact]
    public void Expressions_just_inside_the_bound_compile_and_run()
    {
        var levels = CascadeParser.MaxExpressionDepth - 10;
        var text = Header + "T[p] = " + new string('(', levels) + "X[p]" + new string(')', levels) + "\nY[p] = T[p]" + string.Concat(Enumerable.Repeat(" + 1", levels));
        var result = CompileOnSmallStack(text);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        var y = Interpretation.ReferenceInterpreter.Run(result.Cascade!, new Dictionary<string, int> { ["P"] = 2 }, new Dictionary<string, double[]> { ["X"] = new[] { 1.0, 2.0 } })["Y"];
        Assert.Equal(new[] { 1.0 + levels, 2.0 + levels }, y);
    }

    [Fact]
    public void Garbage_gives_at_most_a_hundred_diagnostics_and_counts_the_rest()
    {
        var random = new Random(50);
        const string alphabet = "abcXYZ[](){},;=+-*/<>#\n 0123456789.$@!'\"\\\t_";
        var text = new string(Enumerable.Range(0, 50_000).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
        var result = CompileOnSmallStack(text);
        Assert.Equal(CascadeCompiler.MaxDiagnostics + 1, result.Diagnostics.Count);
        var last = result.Diagnostics[^1];
        Assert.Equal("KRN0034", last.Id);
        Assert.Matches(@"^\d+ more diagnostics after the first 100", last.Message);
        Assert.All(result.Diagnostics, d => Assert.InRange(d.Span.Start + d.Span.Length, 0, text.Length));
    }
}
