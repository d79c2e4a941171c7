using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Tests;

/// <summary>Loads the files of specs/ (copied next to the test binaries) and compiles inline cascades.</summary>
internal static class Specs
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "specs");

    public static IEnumerable<string> Names => System.IO.Directory.GetFiles(Directory, "*.einsum").Select(Path.GetFileNameWithoutExtension).OfType<string>().OrderBy(n => n);

    public static string Text(string name) => File.ReadAllText(Path.Combine(Directory, name + ".einsum"));

    public static Cascade Load(string name) => Compile(Text(name));

    public static Cascade Compile(string text)
    {
        var result = CascadeCompiler.Compile(text);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        return result.Cascade!;
    }

    public static Dictionary<string, int> Sizes(params (string Name, int Value)[] sizes) => sizes.ToDictionary(s => s.Name, s => s.Value);

    public static void AssertClose(double[] expected, double[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            var scale = Math.Max(1.0, Math.Abs(expected[i]));
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * scale, $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }
}
