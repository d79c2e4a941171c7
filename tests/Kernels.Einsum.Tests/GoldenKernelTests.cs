using Kernels.Einsum.Emit;

namespace Kernels.Einsum.Tests;

/// <summary>
/// The C# kernel emitted for every spec in specs/ (its canonical declaration, as <c>kernels emit --target csharp</c>
/// prints it) against a reviewed copy in Golden/. A change to the emitter or planner shows up as a diff of the
/// generated code in review. To accept a change, run the tests with KERNELS_UPDATE_GOLDEN=1 and review the diff.
/// </summary>
public class GoldenKernelTests
{
    public static TheoryData<string> SpecNames() => new(Specs.Names);

    [Theory]
    [MemberData(nameof(SpecNames))]
    public void Emitted_kernel_matches_its_reviewed_copy(string name)
    {
        var cascade = Specs.Load(name);
        AssertGolden(name, ".cs.txt", CSharpKernelEmitter.Emit(cascade, KernelSignature.Canonical(cascade)));
    }

    /// <summary>The GPU sink's ILGPU code for every spec (as <c>kernels emit --target ilgpu</c> prints it), reviewed the same way.</summary>
    [Theory]
    [MemberData(nameof(SpecNames))]
    public void Emitted_ilgpu_kernels_match_their_reviewed_copy(string name)
    {
        var cascade = Specs.Load(name);
        AssertGolden(name, ".ilgpu.cs.txt", IlgpuKernelEmitter.Emit(Loops.LoopLowering.Lower(cascade), KernelSignature.Canonical(cascade)));
    }

    private static void AssertGolden(string name, string extension, string emitted)
    {
        var actual = emitted.Replace("\r\n", "\n");
        var path = Path.Combine(GoldenDirectory(), name + extension);
        if (Environment.GetEnvironmentVariable("KERNELS_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"No reviewed copy of the code for {name}: run the tests with KERNELS_UPDATE_GOLDEN=1 to write {path}, then review it.");
        var expected = File.ReadAllText(path).Replace("\r\n", "\n");
        if (expected == actual) return;
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        var line = Enumerable.Range(0, Math.Min(e.Length, a.Length)).FirstOrDefault(i => e[i] != a[i], Math.Min(e.Length, a.Length));
        Assert.Fail($"The code emitted for {name} differs from {path} from line {line + 1}:\n" +
                    $"  reviewed: {(line < e.Length ? e[line].Trim() : "<end>")}\n  emitted:  {(line < a.Length ? a[line].Trim() : "<end>")}\n" +
                    "If the change is intended, run the tests with KERNELS_UPDATE_GOLDEN=1 and review the diff of Golden/.");
    }

    /// <summary>
    /// The Golden folder of the test sources, so an update writes the reviewed copies: found from the test binaries
    /// (the first folder above them with Kernels.sln), not [CallerFilePath], which a CI build maps to /_/.
    /// </summary>
    private static string GoldenDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln"))) return Path.Combine(dir.FullName, "tests", "Kernels.Einsum.Tests", "Golden");
        throw new InvalidOperationException($"No Kernels.sln above {AppContext.BaseDirectory}: the golden kernels are read from the checkout.");
    }
}
