using System.Diagnostics;
using Kernels.Einsum;
using Kernels.Einsum.Analysis;
using Kernels.Einsum.Emit;
using Xunit.Abstractions;

namespace Kernels.Generators.Tests;

/// <summary>
/// 100,000 specs, mutated from specs/ and from random valid cascades or glued from random fragments, through the
/// parser, binder, pass analysis, planner and both emitters: no exception, at most 100 diagnostics plus KRN0034,
/// every diagnostic inside the text, and every distinct accepted spec compiles through the generator without a C#
/// error. A time budget keeps it inside CI on a slow machine; the count it reached is asserted and printed.
/// </summary>
public class CompilerFuzzTests(ITestOutputHelper output)
{
    private const int Target = 100_000;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(150);

    [Fact]
    public void A_hundred_thousand_mutated_specs_never_throw_and_accepted_ones_compile()
    {
        var random = new Random(2026);
        var seeds = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "specs"), "*.einsum").Select(File.ReadAllText)
            .Concat(RandomCascades.Generate(300, seed: 77).Select(c => c.Spec)).ToList();
        var clock = Stopwatch.StartNew();
        var accepted = new List<string>();
        var failures = new List<string>();
        int done = 0, rejected = 0;
        for (; done < Target && clock.Elapsed < Budget; done++)
        {
            var text = (done % 10) switch
            {
                0 => string.Concat(Enumerable.Range(0, random.Next(1, 40)).Select(_ => GeneratorRobustnessTests.Fragments[random.Next(GeneratorRobustnessTests.Fragments.Length)])),
                _ => GeneratorRobustnessTests.Mutate(seeds[random.Next(seeds.Count)], random),
            };
            try
            {
                var result = CascadeCompiler.Compile(text);
                if (result.Diagnostics.Count > CascadeCompiler.MaxDiagnostics + 1) failures.Add($"{result.Diagnostics.Count} diagnostics");
                foreach (var d in result.Diagnostics)
                    if (d.Span.Start < 0 || d.Span.Length < 0 || d.Span.Start + d.Span.Length > text.Length || d.Id is "KRN0999")
                        failures.Add($"{d} in:\n{text}");
                if (!result.Success) { rejected++; continue; }
                var cascade = result.Cascade!;
                PassAnalysis.Analyze(cascade);
                var signature = KernelSignature.Canonical(cascade);
                CSharpKernelEmitter.Emit(cascade, signature);
                DescriptorEmitter.Emit(cascade, signature);
                accepted.Add(text);
            }
            catch (Exception ex)
            {
                failures.Add($"{ex.GetType().Name}: {ex.Message} in:\n{text}");
            }
            if (failures.Count > 20) break;
        }
        output.WriteLine($"{done} specs in {clock.Elapsed.TotalSeconds:F1} s: {rejected} rejected, {done - rejected} accepted");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(10)));
        Assert.True(done >= Target / 2, $"only {done} specs within the budget");

        // Every distinct accepted spec through the generator and the C# compiler, 400 kernels per compilation.
        var distinct = accepted.Distinct().ToList();
        for (var start = 0; start < distinct.Count; start += 400)
        {
            var bench = new KernelBench(distinct.Skip(start).Take(400).Select((s, i) => new KernelCase("fuzz" + (start + i), s, Array.Empty<IReadOnlyDictionary<string, int>>())));
            var generated = bench.Generate();
            var errors = generated.GeneratorDiagnostics.Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error)
                .Concat(GeneratorHarness.CompileDiagnostics(generated.Output).Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error)).ToList();
            if (errors.Count > 0)
            {
                var file = errors[0].Location.SourceTree;
                var index = int.Parse(System.Text.RegularExpressions.Regex.Match(file?.FilePath ?? "Kernel0", @"Kernel(\d+)").Groups[1].Value);
                var line = errors[0].Location.GetLineSpan().StartLinePosition.Line;
                var lines = file?.GetText().Lines.Skip(Math.Max(0, line - 4)).Take(6).Select(l => l.ToString()) ?? Enumerable.Empty<string>();
                Assert.Fail($"{errors.Count} errors compiling accepted specs, e.g.:\n{string.Join("\n", errors.Take(5))}\n\nspec:\n{bench.Case(index).Spec}\n\ngenerated:\n{string.Join("\n", lines)}");
            }
        }
        output.WriteLine($"{distinct.Count} distinct accepted specs compiled in {clock.Elapsed.TotalSeconds:F1} s in all");
        Assert.True(distinct.Count >= 500, $"only {distinct.Count} distinct specs accepted");
    }
}
