extern alias gen;

using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Kernels.Generators.Tests;

/// <summary>Diagnostics land at the right place with the right ID; the generator never throws; its model holds no symbols; unrelated edits stay cached.</summary>
public class GeneratorDiagnosticTests
{
    private const string Header = "using System;\nusing Kernels;\nnamespace User;\n";

    private static (Diagnostic Diagnostic, string Marked) Single(string source, string id, IEnumerable<AdditionalText>? files = null, bool allowUnsafe = true)
    {
        var result = GeneratorHarness.Generate(source, files, allowUnsafe);
        var matches = result.GeneratorDiagnostics.Where(d => d.Id == id).ToList();
        Assert.True(matches.Count == 1, $"expected one {id}, got: {string.Join("; ", result.GeneratorDiagnostics)}");
        var d = matches[0];
        // Generators report file locations (path, span, line span), as the model holds no syntax tree.
        Assert.Equal("UserKernels.cs", d.Location.GetLineSpan().Path);
        var marked = source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length);
        return (d, marked);
    }

    [Fact]
    public void Spec_error_in_a_regular_string_points_at_the_characters()
    {
        var source = Header + "public static partial class K { [Einsum(\"input X[i]\\noutput Y[i]\\nY[i] = X[i] * Q[i]\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I); }";
        var (d, marked) = Single(source, "KRN0005");
        Assert.Equal("Q", marked);
        Assert.Contains("Unknown tensor 'Q'", d.GetMessage());
    }

    [Fact]
    public void An_unclosed_parenthesis_points_at_it_and_an_empty_spec_at_the_literal_never_past_the_quotes()
    {
        var source = Header + "public static partial class K { [Einsum(\"input X[i]\\noutput Y[i]\\nY[i] = (X[i] * 2\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I); }";
        var (d, marked) = Single(source, "KRN0002");
        Assert.Equal("(", marked);
        Assert.Contains("')' to close this '('", d.GetMessage());

        var empty = Header + "public static partial class K { [Einsum(\"\")] public static partial void Run(); }";
        var result = GeneratorHarness.Generate(empty);
        var literal = empty.IndexOf("\"\"", StringComparison.Ordinal);
        var spec = result.GeneratorDiagnostics.Where(x => x.Id.StartsWith("KRN00", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(spec);
        Assert.All(spec, x => Assert.InRange(x.Location.SourceSpan.Start, literal, literal + 1));
    }

    [Fact]
    public void Spec_error_in_a_raw_string_points_at_the_line_and_column()
    {
        var source = Header + "public static partial class K\n{\n    [Einsum(\"\"\"\n        input X[i]\n        output Y[i]\n        Y[i] = exp(X[i]) + Z[i]\n        \"\"\")]\n    public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I);\n}\n";
        var (d, marked) = Single(source, "KRN0005");
        Assert.Equal("Z", marked);
        var span = d.Location.GetLineSpan().Span;
        var line = source.Split('\n')[span.Start.Line];
        Assert.Equal("        Y[i] = exp(X[i]) + Z[i]", line);
        Assert.Equal(line.IndexOf("Z[", StringComparison.Ordinal), span.Start.Character);
    }

    [Fact]
    public void Spec_error_in_a_verbatim_string_with_doubled_quotes_maps_through_them()
    {
        var source = Header + "public static partial class K { [Einsum(@\"input X[i]\n# a \"\"quoted\"\" comment\noutput Y[i]\nY[i] = X[i] $ 2\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I); }";
        var (_, marked) = Single(source, "KRN0001");
        Assert.Equal("$", marked);
    }

    [Fact]
    public void Spec_error_in_a_spec_file_points_into_the_file()
    {
        var spec = "input X[i]\noutput Y[i]\nY[i] = X[i] * W[i]\n";
        var source = Header + "public static partial class K { [Einsum(SpecFile = \"my.einsum\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I); }";
        var result = GeneratorHarness.Generate(source, new[] { new InMemoryAdditionalText("/project/specs/my.einsum", spec) });
        var d = Assert.Single(result.GeneratorDiagnostics, x => x.Id == "KRN0005");
        Assert.Equal("/project/specs/my.einsum", d.Location.GetLineSpan().Path);
        Assert.Equal(2, d.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Equal(14, d.Location.GetLineSpan().StartLinePosition.Character);
        Assert.Equal(spec.IndexOf("W[", StringComparison.Ordinal), d.Location.SourceSpan.Start);
    }

    private const string RowSum = "\"input X[i,j]\\noutput Y[i]\\nY[i] = X[i,j]\"";

    [Fact]
    public void A_schedule_syntax_error_points_at_the_word_in_the_attribute()
    {
        var source = Header + "public static partial class K { [Einsum(" + RowSum + ", Schedule = \"rows blocked; fold sometimes\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I, int J); }";
        var (d, marked) = Single(source, "KRN0035");
        Assert.Equal("sometimes", marked);
        Assert.Contains("write 'fold on' or 'fold off'", d.GetMessage());
    }

    [Fact]
    public void An_illegal_schedule_choice_points_at_its_directive_and_lists_the_legal_ones()
    {
        var source = Header + "public static partial class K { [Einsum(" + RowSum + ", Schedule = \"parallel j\\nlower Y vector i\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I, int J); }";
        var result = GeneratorHarness.Generate(source);
        var errors = result.GeneratorDiagnostics.Where(d => d.Id == "KRN0036").ToList();
        Assert.Equal(2, errors.Count);
        var marked = errors.Select(d => source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length)).ToList();
        Assert.Equal(new[] { "parallel j", "lower Y vector i" }, marked);
        Assert.Contains("write 'parallel i' or 'serial'", errors[0].GetMessage());
        Assert.Contains("Write 'lower Y vector j'", errors[1].GetMessage());
        Assert.Empty(result.Run.GeneratedTrees);
    }

    /// <summary>The source of a method whose attribute gives <paramref name="spec"/> (a C# string literal) and then
    /// <paramref name="more"/> (", Schedule = ..." or nothing), taking X and Y over I and J.</summary>
    private static string XyMethod(string spec, string more) =>
        Header + "public static partial class K { [Einsum(" + spec + more + ")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I, int J); }";

    /// <summary>The kernel generated for <see cref="XyMethod"/>, which must have no diagnostic.</summary>
    private static string XyKernel(string spec, string more)
    {
        var result = GeneratorHarness.Generate(XyMethod(spec, more));
        Assert.Empty(result.GeneratorDiagnostics);
        return result.Run.GeneratedTrees.Single(t => !t.FilePath.Contains("Descriptor", StringComparison.Ordinal)).ToString();
    }

    private const string TileCopy = "\"input X[i,j]\\noutput Y[i,j]\\npartition J -> J1 x J0 with J0 = 4\\nB[i,j1,j0] = X[i, j1*J0 + j0]\\nY[i, j1*J0 + j0] = B[i,j1,j0] * 2\"";

    private const string ExpSum = "\"input X[i,j]\\noutput Y[i]\\nS[i,j] = exp(X[i,j])\\nY[i] = sum[j] S[i,j]\"";

    [Fact]
    public void A_schedule_keeps_a_fusion_apart_and_a_bad_loop_order_points_at_its_directive()
    {
        var fused = XyKernel(ExpSum, "");
        Assert.Contains("one sweep over j: S vectorised and stored, and reduced into Y as it is written", fused, StringComparison.Ordinal);
        Assert.Contains("//   fuse S Y", fused, StringComparison.Ordinal);
        var apart = XyKernel(ExpSum, ", Schedule = \"fuse S off\"");
        Assert.DoesNotContain("one sweep over", apart, StringComparison.Ordinal);
        Assert.Contains("//   fuse S off", apart, StringComparison.Ordinal);

        var (d, marked) = Single(XyMethod(ExpSum, ", Schedule = \"serial; order Y j i\""), "KRN0036");
        Assert.Equal("order Y j i", marked);
        Assert.Contains("its output ranks loop outside its reduced ranks and its vector rank j is innermost. Write 'order Y i j'", d.GetMessage());
    }

    [Fact]
    public void A_schedule_directive_on_a_tile_copy_read_in_place_says_so()
    {
        var (d, marked) = Single(XyMethod(TileCopy, ", Schedule = \"lower B scalar\""), "KRN0036");
        Assert.Equal("lower B scalar", marked);
        Assert.Contains("'B' is a tile copy of an input that the kernel reads in place (a view): no Einsum computes it, so 'lower B' has nothing to apply to; remove the directive.", d.GetMessage());
    }

    [Fact]
    public void A_schedule_places_a_tile_copy_in_scratch_and_rejects_a_place_of_anything_else()
    {
        var view = XyKernel(TileCopy, "");
        Assert.Contains("//   place B view", view, StringComparison.Ordinal);
        Assert.Contains("B is a view", view, StringComparison.Ordinal);
        var stored = XyKernel(TileCopy, ", Schedule = \"place B copy\"");
        Assert.Contains("//   place B copy", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("B is a view", stored, StringComparison.Ordinal);
        Assert.Contains("float* B = global::Kernels.Runtime.KernelRuntime.Allocate", stored, StringComparison.Ordinal);

        var (d, marked) = Single(XyMethod(TileCopy, ", Schedule = \"place X view\""), "KRN0036");
        Assert.Equal("place X view", marked);
        Assert.Contains("'X' is not a tile copy of an input that can be read in place", d.GetMessage());
        Assert.Contains("this cascade's are B. Remove the directive.", d.GetMessage());
    }

    private const string TiledSum = "\"input X[i,j]\\noutput Y[i]\\npartition J -> J1 x J0 with J0 = 4\\nY[i] = X[i, j1*J0 + j0]\"";

    [Fact]
    public void A_schedule_tile_sets_the_partition_and_one_the_method_binds_is_KRN0036()
    {
        var good = GeneratorHarness.Generate(Header + "public static partial class K { [Einsum(" + TiledSum + ", Schedule = \"tile J0 16; rows blocked 12\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I, int J); }");
        Assert.Empty(good.GeneratorDiagnostics);
        var kernel = good.Run.GeneratedTrees.Single(t => !t.FilePath.Contains("Descriptor", StringComparison.Ordinal)).ToString();
        Assert.Contains("int J0 = 16; // the schedule's tile", kernel, StringComparison.Ordinal);
        Assert.Contains("//   tile J0 16", kernel, StringComparison.Ordinal);
        // The descriptor describes the cascade the kernel runs: the tile as its default size.
        var descriptor = good.Run.GeneratedTrees.Single(t => t.FilePath.Contains("Descriptor", StringComparison.Ordinal)).ToString();
        Assert.Contains("tileSize: 16", descriptor, StringComparison.Ordinal);

        // With J0 a parameter of the method, the call sets the tile and the schedule's would never be used.
        var source = Header + "public static partial class K { [Einsum(" + TiledSum + ", Schedule = \"serial; tile J0 16\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I, int J, int J0); }";
        var (d, marked) = Single(source, "KRN0036");
        Assert.Equal("tile J0 16", marked);
        Assert.Contains("remove the parameter or the 'tile' directive", d.GetMessage());
    }

    [Fact]
    public void A_schedule_file_beside_the_spec_file_applies_and_its_errors_point_into_it()
    {
        var spec = "input X[i,j]\noutput Y[i]\nY[i] = X[i,j]\n";
        var source = Header + "public static partial class K { [Einsum(SpecFile = \"my.einsum\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I, int J); }";
        var good = GeneratorHarness.Generate(source, new AdditionalText[] { new InMemoryAdditionalText("/p/my.einsum", spec), new InMemoryAdditionalText("/p/my.schedule", "# one thread\nserial\nlower Y scalar\n") });
        Assert.Empty(good.GeneratorDiagnostics);
        var kernel = good.Run.GeneratedTrees.Single(t => !t.FilePath.Contains("Descriptor", StringComparison.Ordinal)).ToString();
        Assert.Matches(@"//   serial\r?\n\s*//   lower Y scalar\r?\n", kernel);

        // The attribute's Schedule overrides the file's choices; an error in the file is reported in the file.
        var bad = GeneratorHarness.Generate(source.Replace("SpecFile = \"my.einsum\"", "SpecFile = \"my.einsum\", Schedule = \"lower Y vector\""),
            new AdditionalText[] { new InMemoryAdditionalText("/p/my.einsum", spec), new InMemoryAdditionalText("/p/my.schedule", "serial\nparallel q\n") });
        var d = Assert.Single(bad.GeneratorDiagnostics);
        Assert.Equal("KRN0035", d.Id);
        Assert.Equal("/p/my.schedule", d.Location.GetLineSpan().Path);
        Assert.Equal(1, d.Location.GetLineSpan().StartLinePosition.Line);
    }

    [Fact]
    public void Missing_spec_file_is_reported_on_the_attribute()
    {
        var source = Header + "public static partial class K { [Einsum(SpecFile = \"nope.einsum\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I); }";
        var (d, marked) = Single(source, "KRN0105");
        Assert.StartsWith("Einsum(", marked);
        Assert.Contains("AdditionalFiles", d.GetMessage());
    }

    private const string Good = "\"input X[i]\\noutput Y[i]\\nY[i] = X[i] * 2\"";

    [Theory]
    [InlineData("public static void Run(ReadOnlySpan<float> X, Span<float> Y, int I) { }", "KRN0100", "Run")]
    [InlineData("public partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I);", "KRN0100", "Run")]
    [InlineData("public static partial int Run(ReadOnlySpan<float> X, Span<float> Y, int I);", "KRN0101", "Run")]
    [InlineData("public static partial void Run(ReadOnlySpan<float> X, int I);", "KRN0102", "Run")]
    [InlineData("public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I, int Extra);", "KRN0103", "Extra")]
    [InlineData("public static partial void Run(Span<float> X, Span<float> Y, int I);", "KRN0104", "X")]
    [InlineData("public static partial void Run(ReadOnlySpan<float> X, ReadOnlySpan<float> Y, int I);", "KRN0104", "Y")]
    [InlineData("public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, long I);", "KRN0104", "I")]
    [InlineData("public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, ref int I);", "KRN0104", "I")]
    public void Signature_errors_point_at_the_declaration(string declaration, string id, string marked)
    {
        var partialOk = id == "KRN0100" && !declaration.Contains("partial") ? "" : "";
        var source = Header + "public static partial class K { [Einsum(" + Good + ")] " + declaration + partialOk + " }";
        var (d, at) = Single(source, id);
        Assert.Equal(marked, at);
        Assert.False(string.IsNullOrWhiteSpace(d.GetMessage()));
    }

    [Fact]
    public void Unsafe_code_must_be_allowed()
    {
        var source = Header + "public static partial class K { [Einsum(" + Good + ")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I); }";
        var (d, _) = Single(source, "KRN0107", allowUnsafe: false);
        Assert.Contains("AllowUnsafeBlocks", d.GetMessage());
    }

    [Fact]
    public void Containing_type_must_be_partial()
    {
        var source = Header + "public static class K { [Einsum(" + Good + ")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I); }";
        var (_, marked) = Single(source, "KRN0109");
        Assert.Equal("K", marked);
    }

    [Fact]
    public void A_parallel_rank_that_cannot_be_split_is_a_warning_and_the_kernel_is_still_generated()
    {
        var source = Header + "public static partial class K { [Einsum(\"input X[i,j]\\noutput Y[i]\\nY[i] = X[i,j]\", ParallelRank = \"j\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I, int J); }";
        var result = GeneratorHarness.Generate(source);
        Assert.Equal(DiagnosticSeverity.Warning, Assert.Single(result.GeneratorDiagnostics).Severity);
        Assert.Empty(GeneratorHarness.CompileDiagnostics(result.Output));
    }

    [Fact]
    public void A_member_with_the_descriptor_name_is_reported_instead_of_a_duplicate_definition()
    {
        var source = Header + "public static partial class K { public static int RunDescriptor => 1; [Einsum(" + Good + ")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I); }";
        var (d, marked) = Single(source, "KRN0110");
        Assert.Equal("Run", marked);
        Assert.Contains("'RunDescriptor'", d.GetMessage());
        var result = GeneratorHarness.Generate(source);
        Assert.DoesNotContain(GeneratorHarness.CompileDiagnostics(result.Output), x => x.Id == "CS0102");
    }

    [Fact]
    public void Overloaded_kernels_are_reported_on_each_declaration()
    {
        var source = Header + "public static partial class K {\n" +
                     "  [Einsum(" + Good + ")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I);\n" +
                     "  [Einsum(" + Good + ")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y);\n}";
        var result = GeneratorHarness.Generate(source);
        var reported = result.GeneratorDiagnostics.Where(d => d.Id == "KRN0111").ToList();
        Assert.Equal(2, reported.Count);
        Assert.Equal(2, reported.Select(d => d.Location.GetLineSpan().StartLinePosition.Line).Distinct().Count());
        Assert.All(reported, d => Assert.Contains("2 [Einsum] methods named 'Run'", d.GetMessage()));
        // Reported, not thrown: no duplicate hint name (CS8785) and no duplicate member in generated code.
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Id is "CS8785" or "KRN0998");
    }

    [Fact]
    public void Unrelated_edit_leaves_every_step_cached()
    {
        var source = Header + "public static partial class K { [Einsum(" + Good + ")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I); }";
        var compilation = GeneratorHarness.Compilation(source);
        var driver = GeneratorHarness.Driver().RunGenerators(compilation);
        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace User; public static class Other { public static int Answer() => 42; }", GeneratorHarness.ParseOptions));
        var run = driver.RunGenerators(edited).GetRunResult().Results.Single();
        foreach (var name in new[] { gen::Kernels.Generators.TrackingNames.Declarations, gen::Kernels.Generators.TrackingNames.Outputs, gen::Kernels.Generators.TrackingNames.Sources })
        {
            var outputs = run.TrackedSteps[name].SelectMany(s => s.Outputs).ToList();
            Assert.NotEmpty(outputs);
            Assert.All(outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{name}: {o.Reason}"));
        }
    }

    [Fact]
    public void Model_holds_no_symbols_syntax_or_compilation()
    {
        var source = Header + "public static partial class K { [Einsum(\"\"\"\n    input X[i]\n    output Y[i]\n    Y[i] = X[i] * 2\n    \"\"\")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I); }";
        var run = GeneratorHarness.Generate(source).Run.Results.Single();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var checkedCount = 0;
        foreach (var step in run.TrackedSteps[gen::Kernels.Generators.TrackingNames.Declarations].Concat(run.TrackedSteps[gen::Kernels.Generators.TrackingNames.Outputs]))
            foreach (var (value, _) in step.Outputs)
                checkedCount += Walk(value, seen, "model");
        Assert.True(checkedCount > 10);
    }

    private static int Walk(object? value, HashSet<object> seen, string path)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum) return 1;
        Assert.False(value is ISymbol or SyntaxNode or Compilation or SemanticModel or SyntaxTree, $"{path} holds a {value.GetType().Name}");
        if (!value.GetType().IsValueType && !seen.Add(value)) return 0;
        var count = 1;
        if (value is IEnumerable items)
        {
            var i = 0;
            foreach (var item in items) count += Walk(item, seen, $"{path}[{i++}]");
            return count;
        }
        foreach (var field in value.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            count += Walk(field.GetValue(value), seen, path + "." + field.Name);
        return count;
    }
}
