namespace Kernels.Generators.Tests;

/// <summary>Every spec in specs/, generated and run, against the interpreter on shapes that divide and do not divide the tiles and vector widths.</summary>
public class SpecKernelTests
{
    private static string Spec(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "specs", name + ".einsum"));

    private static Dictionary<string, int> S(params (string, int)[] sizes) => sizes.ToDictionary(p => p.Item1, p => p.Item2);

    public static IEnumerable<KernelCase> Cases()
    {
        var attention = new[] { S(("P", 5), ("M", 128), ("E", 64), ("F", 64)), S(("P", 37), ("M", 100), ("E", 19), ("F", 33)), S(("P", 1), ("M", 1), ("E", 1), ("F", 1)), S(("P", 3), ("M", 0), ("E", 4), ("F", 5)) };
        foreach (var name in new[] { "attention.3pass", "attention.2pass", "attention.fusemax" })
            yield return new KernelCase(name, Spec(name), attention, 2.0);
        var softmax = new[] { S(("P", 3), ("N", 1000)), S(("P", 17), ("N", 33)), S(("P", 1), ("N", 1)) };
        foreach (var name in new[] { "softmax.3pass", "softmax.2pass" })
            yield return new KernelCase(name, Spec(name), softmax, 30.0);
        var linear = new[] { S(("T", 128), ("D", 16), ("F", 24)), S(("T", 77), ("D", 9), ("F", 17)), S(("T", 1), ("D", 1), ("F", 1)) };
        foreach (var name in new[] { "linear_attention.quadratic", "linear_attention.causal" })
            yield return new KernelCase(name, Spec(name), linear, 1.0, new Dictionary<string, double> { ["slope"] = 0.05 });
        yield return new KernelCase("selective_scan", Spec("selective_scan"),
            new[] { S(("D", 24), ("N", 16), ("L", 50)), S(("D", 5), ("N", 3), ("L", 7)), S(("D", 1), ("N", 1), ("L", 1)) }, 1.0);
    }

    [Fact]
    public void Every_spec_matches_the_interpreter()
    {
        var bench = new KernelBench(Cases());
        bench.Compile();
        var failures = bench.CompareAll(2e-5);
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }
}
