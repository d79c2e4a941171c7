using System.Text;
using System.Text.RegularExpressions;
using Kernels.Einsum;
using Kernels.Einsum.Emit;
using Microsoft.CodeAnalysis.CSharp;

namespace Kernels.Generators.Tests;

/// <summary>
/// Spec names can never collide with the generated code: every identifier the emitter writes for the specs, every
/// C# keyword and contextual keyword, and the names that used to break the build (a, Args, TV, _acc, _pX, an
/// intermediate named like a size) are used as an input, an intermediate, an output and an index. Each spec is either
/// rejected with a KRN diagnostic inside the text, or its generated kernel compiles without a C# error.
/// </summary>
public class NameTests
{
    private static IEnumerable<string> Names()
    {
        var emitted = new StringBuilder();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "specs"), "*.einsum"))
        {
            var cascade = CascadeCompiler.Compile(File.ReadAllText(file)).Cascade!;
            emitted.Append(CSharpKernelEmitter.Emit(cascade, KernelSignature.Canonical(cascade)));
        }
        var identifiers = Regex.Matches(emitted.ToString(), @"\b[A-Za-z_][A-Za-z0-9_]*\b").Select(m => m.Value);
        var keywords = SyntaxFacts.GetKeywordKinds().Concat(SyntaxFacts.GetContextualKeywordKinds()).Select(SyntaxFacts.GetText);
        return identifiers.Concat(keywords).Concat(new[] { "a", "Args", "TV", "_acc", "_pX", "_", "__", "nameof", "var", "global", "value" })
            .Where(n => n.Length > 0).Distinct().OrderBy(n => n, StringComparer.Ordinal);
    }

    private static IEnumerable<(string Role, string Spec)> Uses(string name)
    {
        yield return ("input", $"input {name}[p]\noutput Y[p]\nY[p] = {name}[p] * 2");
        yield return ("intermediate", $"input X[p]\noutput Y[p]\n{name}[p] = X[p] + 1\nY[p] = {name}[p] * 2");
        yield return ("output", $"input X[p]\noutput {name}[p]\n{name}[p] = X[p] + 1");
        yield return ("scalar", $"input X[p], {name}\noutput Y[p]\nY[p] = X[p] * {name}");
        yield return ("index", $"input X[{name}]\noutput Y[{name}]\nY[{name}] = X[{name}] + 1");
        yield return ("intermediate named like a size", $"input X[m]\noutput Y[m]\nM[m] = X[m] + 1\nY[m] = M[m] * 2");
    }

    [Fact]
    public void No_spec_name_collides_with_the_generated_code()
    {
        var accepted = new List<KernelCase>();
        var rejected = 0;
        var problems = new List<string>();
        foreach (var name in Names())
        {
            foreach (var (role, spec) in Uses(name))
            {
                var result = CascadeCompiler.Compile(spec);
                if (result.Success)
                {
                    accepted.Add(new KernelCase($"{name} as {role}", spec, Array.Empty<IReadOnlyDictionary<string, int>>()));
                    continue;
                }
                rejected++;
                foreach (var d in result.Diagnostics.Where(d => d.IsError))
                    if (!d.Id.StartsWith("KRN", StringComparison.Ordinal) || d.Id == "KRN0999" || d.Span.Start < 0 || d.Span.Start + d.Span.Length > spec.Length)
                        problems.Add($"{name} as {role}: {d}");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(20)));

        var bench = new KernelBench(accepted.DistinctBy(c => c.Spec));
        var generated = bench.Generate();
        var errors = generated.GeneratorDiagnostics.Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error)
            .Concat(GeneratorHarness.CompileDiagnostics(generated.Output).Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error)).ToList();
        Assert.True(errors.Count == 0, $"{errors.Count} errors in the generated code, e.g.:\n" + string.Join("\n", errors.Take(20)));
        Assert.True(accepted.Count > 300 && rejected > 50, $"{accepted.Count} accepted, {rejected} rejected");
    }
}
