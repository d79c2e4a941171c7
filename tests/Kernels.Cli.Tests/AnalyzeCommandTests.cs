using System.Text.Json;

namespace Kernels.Cli.Tests;

public class AnalyzeCommandTests
{
    private static string Spec(string name) => Path.Combine(AppContext.BaseDirectory, "specs", name + ".einsum");

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CliApp.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void JsonHasStableFieldsAndThePassCounts()
    {
        var specs = new[] { "attention.3pass", "attention.2pass", "attention.fusemax", "softmax.3pass", "softmax.2pass" };
        var (exit, output, error) = Run(new[] { "analyze" }.Concat(specs.Select(Spec)).Append("--json").ToArray());
        Assert.True(exit == 0, error);
        using var doc = JsonDocument.Parse(output);
        var reports = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(new[] { 3, 2, 1 }, reports.Take(3).Select(r => r.GetProperty("passes").GetProperty("m").GetInt32()));
        Assert.Equal(new[] { 3, 2 }, reports.Skip(3).Select(r => r.GetProperty("passes").GetProperty("n").GetInt32()));
        foreach (var r in reports)
            foreach (var field in new[] { "kernel", "passes", "fusionGroups", "tensors", "einsums" })
                Assert.True(r.TryGetProperty(field, out _), field);
    }

    [Fact]
    public void SizesGiveNumericCounts()
    {
        var (exit, output, _) = Run("analyze", Spec("attention.3pass"), "--json", "--size", "P=8,M=16,E=4,F=2");
        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        var qk = doc.RootElement.GetProperty("einsums").EnumerateArray().First(e => e.GetProperty("output").GetString() == "QK");
        Assert.Equal(4.0 * 8 * 16 * 4, qk.GetProperty("flopsValue").GetDouble());
    }

    [Fact]
    public void TableNamesEveryPass()
    {
        var (exit, output, _) = Run("analyze", Spec("attention.fusemax"));
        Assert.Equal(0, exit);
        Assert.Contains("kernel attention_fusemax", output);
        Assert.Matches(@"m \(m,m1,m0\)\s+1\s", output);
    }

    [Fact]
    public void ErrorsPrintInCompilerFormatAndExitWithOne()
    {
        var file = Path.Combine(Path.GetTempPath(), $"bad-{Guid.NewGuid():N}.einsum");
        File.WriteAllText(file, "input X[p,e]\noutput Y[p]\nY[p] = Z[p,e]\n");
        try
        {
            var (exit, _, error) = Run("analyze", file);
            Assert.Equal(1, exit);
            Assert.Contains($"{file}(3,8): error KRN0005: Unknown tensor 'Z'", error);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void MissingFileAndBadSizeAreErrors()
    {
        Assert.Equal(1, Run("analyze", "/nonexistent/x.einsum").Exit);
        Assert.Equal(2, Run("analyze", Spec("softmax.3pass"), "--size", "N=abc").Exit);
    }
}
