using Kernels.Einsum;
using Kernels.Einsum.Ir;

namespace Kernels.Hardware.Tests;

/// <summary>Loads the files of specs/ (copied next to the test binaries) and compiles inline cascades.</summary>
internal static class Specs
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "specs");

    public static IEnumerable<string> Names => System.IO.Directory.GetFiles(Directory, "*.einsum").Select(Path.GetFileNameWithoutExtension).OfType<string>().OrderBy(n => n);

    public static string Path_(string name) => Path.Combine(Directory, name + ".einsum");

    public static Cascade Load(string name) => Compile(File.ReadAllText(Path_(name)), name.Replace('.', '_'));

    public static Cascade Compile(string text, string? name = null)
    {
        var result = CascadeCompiler.Compile(text, name);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        return result.Cascade!;
    }

    public static Dictionary<string, int> Sizes(params (string Name, int Value)[] sizes) => sizes.ToDictionary(s => s.Name, s => s.Value);
}
