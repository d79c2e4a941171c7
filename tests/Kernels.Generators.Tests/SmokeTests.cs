using Kernels.Einsum;

namespace Kernels.Generators.Tests;

public class SmokeTests
{
    [Fact]
    public void Specs_generate_compile_without_warnings()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "specs"), "*.einsum"))
        {
            var source = "using System; using Kernels; namespace User; public static partial class K { [Einsum(SpecFile = \"" + Path.GetFileName(file) + "\")] public static partial void Run(" + Signature(file) + "); }";
            var result = GeneratorHarness.Generate(source, new[] { new InMemoryAdditionalText(file, File.ReadAllText(file)) });
            Assert.Empty(result.GeneratorDiagnostics);
            var problems = GeneratorHarness.CompileDiagnostics(result.Output);
            Assert.True(problems.Count == 0, Path.GetFileName(file) + ":\n" + string.Join("\n", problems.Take(10)) + "\n" + result.Run.GeneratedTrees.FirstOrDefault()?.ToString());
        }
    }

    private static string Signature(string file)
    {
        var c = CascadeCompiler.Compile(File.ReadAllText(file)).Cascade!;
        var sig = Kernels.Einsum.Emit.KernelSignature.Canonical(c);
        return string.Join(", ", sig.Parameters.Select(p => Kernels.Einsum.Emit.CSharpKernelEmitter.ParameterType(p.Kind) + " " + p.Name));
    }
}

public class EmitCommandTests
{
    [Fact]
    public void Cli_emit_csharp_prints_exactly_what_the_generator_writes_for_the_canonical_declaration()
    {
        var file = Path.Combine(AppContext.BaseDirectory, "specs", "attention.fusemax.einsum");
        var cascade = CascadeCompiler.Compile(File.ReadAllText(file)).Cascade!;
        var sig = Kernels.Einsum.Emit.KernelSignature.Canonical(cascade);
        var parameters = string.Join(", ", sig.Parameters.Select(p => Kernels.Einsum.Emit.CSharpKernelEmitter.ParameterType(p.Kind) + " " + p.Name));
        var source = $"namespace Kernels.Generated; public static partial class {sig.ContainingTypes[0].Name} {{ [Kernels.Einsum(SpecFile = \"attention.fusemax.einsum\")] public static partial void Run({parameters}); }}";
        var trees = GeneratorHarness.Generate(source, new[] { new InMemoryAdditionalText(file, File.ReadAllText(file)) }).Run.GeneratedTrees;
        Assert.Equal(2, trees.Length);
        var kernel = trees.Single(t => !t.FilePath.EndsWith(".Descriptor.g.cs", StringComparison.Ordinal)).ToString();
        var descriptor = trees.Single(t => t.FilePath.EndsWith(".Descriptor.g.cs", StringComparison.Ordinal)).ToString();
        Assert.Equal(kernel, Kernels.Einsum.Emit.CSharpKernelEmitter.Emit(cascade, sig));
        Assert.Equal(descriptor, Kernels.Einsum.Emit.DescriptorEmitter.Emit(cascade, sig with { SpecFile = "attention.fusemax.einsum" }));
    }
}
