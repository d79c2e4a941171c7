extern alias gen;

using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Kernels.Generators.Tests;

/// <summary>An AdditionalFiles item for the driver.</summary>
public sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
{
    public override string Path { get; } = path;

    public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text);
}

/// <summary>Runs the generator the way the compiler does (CSharpGeneratorDriver) and compiles and loads the result.</summary>
public static class GeneratorHarness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var tpa = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        // The generator is an analyzer, never a reference of user code (it carries its own copy of Kernels.Einsum's types).
        // Nor do user projects reference the GPU runtime unless they opt in (GpuReferences).
        var list = tpa.Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && !Path.GetFileName(p).Equals("Kernels.Generators.dll", StringComparison.OrdinalIgnoreCase) && !IsGpu(p))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
        list.Add(MetadataReference.CreateFromFile(typeof(EinsumAttribute).Assembly.Location));
        return list.ToImmutableArray();
    });

    private static bool IsGpu(string path) => Path.GetFileName(path) is var f && (f.StartsWith("ILGPU", StringComparison.OrdinalIgnoreCase) || f.Equals("Kernels.Gpu.dll", StringComparison.OrdinalIgnoreCase));

    /// <summary>The GPU runtime (Kernels.Gpu and ILGPU), for a compilation that opts in to GPU output.</summary>
    public static IEnumerable<MetadataReference> GpuReferences { get; } = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
        .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && IsGpu(p)).Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();

    public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.Latest);

    public static CSharpCompilation Compilation(string source, bool allowUnsafe = true, string assemblyName = "UserKernels") =>
        CSharpCompilation.Create(
            assemblyName,
            new[] { CSharpSyntaxTree.ParseText(source, ParseOptions, path: "UserKernels.cs") },
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: allowUnsafe, optimizationLevel: OptimizationLevel.Release, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver(IEnumerable<AdditionalText>? additional = null, bool trackSteps = true) =>
        CSharpGeneratorDriver.Create(
            new[] { new gen::Kernels.Generators.EinsumGenerator().AsSourceGenerator() },
            additional ?? Array.Empty<AdditionalText>(),
            ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: trackSteps));

    public sealed record Result(Compilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics, GeneratorDriverRunResult Run, GeneratorDriver Driver);

    public static Result Generate(string source, IEnumerable<AdditionalText>? additional = null, bool allowUnsafe = true)
    {
        var compilation = Compilation(source, allowUnsafe);
        var driver = Driver(additional).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        return new Result(output, diagnostics, driver.GetRunResult(), driver);
    }

    /// <summary>All errors and warnings of the compiled output (generated code included).</summary>
    public static IReadOnlyList<Diagnostic> CompileDiagnostics(Compilation output) =>
        output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();

    /// <summary>Emits and loads the output into a collectible context; the runtime (Kernels.dll) comes from the test's own context.</summary>
    public static Assembly Load(Compilation output)
    {
        using var stream = new MemoryStream();
        var emit = output.Emit(stream);
        if (!emit.Success)
            throw new InvalidOperationException("The generated code does not compile:\n" + string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(20)));
        stream.Position = 0;
        return new AssemblyLoadContext("kernels-test", isCollectible: true).LoadFromStream(stream);
    }
}
