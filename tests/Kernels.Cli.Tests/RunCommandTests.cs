using System.Text.Json;

namespace Kernels.Cli.Tests;

/// <summary>`kernels run` on tiny shapes: every built-in kernel runs, is checked against the interpreter, and reports its figures.</summary>
public class RunCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CliApp.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    // --settle 0: the other test assemblies run beside these in processes of their own, so the machine is never quiet.
    private static readonly string[] Tiny = { "--heads", "2", "--seq", "70", "--head-dim", "16", "--softmax", "5x300", "--linear-seq", "130", "--channels", "6", "--scan-seq", "40", "--state", "4", "--min-time", "0", "--settle", "0" };

    [Fact]
    public void Json_has_every_field_for_every_kernel_and_every_check_passes()
    {
        var (exit, stdout, stderr) = Run(new[] { "run", "--json" }.Concat(Tiny).ToArray());
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var rows = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(new[] { "Attention.MultiHead", "Attention.Causal", "Softmax.Rows", "LinearAttention.Causal", "SelectiveScan.Forward" }, rows.Select(r => r.GetProperty("kernel").GetString()));
        foreach (var row in rows)
        {
            foreach (var field in new[] { "kernel", "shape", "device", "seconds", "gflops", "gbps", "limit", "ratioToLimit", "peer", "ratioToPeer", "maxError", "verified", "peers", "otherCores" })
                Assert.True(row.TryGetProperty(field, out _), $"{row.GetProperty("kernel")} has no '{field}'");
            Assert.True(row.GetProperty("verified").GetBoolean());
            Assert.InRange(row.GetProperty("maxError").GetDouble(), 0, 1e-4);
            Assert.True(row.GetProperty("seconds").GetDouble() > 0);
            Assert.True(row.GetProperty("ratioToLimit").GetDouble() > 0);
            var others = row.GetProperty("otherCores");
            if (OperatingSystem.IsLinux()) Assert.InRange(others.GetDouble(), 0, Environment.ProcessorCount);
            else Assert.Equal(JsonValueKind.Null, others.ValueKind);
        }
        // Peers where one exists, null where none does.
        Assert.Equal("ONNX Runtime MultiHeadAttention", rows[0].GetProperty("peer").GetString());
        Assert.Equal("ONNX Runtime MultiHeadAttention, unidirectional", rows[1].GetProperty("peer").GetString());
        Assert.Equal(2, rows[2].GetProperty("peers").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, rows[3].GetProperty("peer").ValueKind);
        Assert.Equal(JsonValueKind.Null, rows[4].GetProperty("ratioToPeer").ValueKind);
        Assert.Contains("B=1 H=2 L=70 D=16", rows[0].GetProperty("shape").GetString());
    }

    [Fact]
    public void The_table_lists_the_kernels_and_a_filter_runs_only_those()
    {
        var (exit, stdout, stderr) = Run(new[] { "run", "--kernel", "softmax.rows", "--no-peers" }.Concat(Tiny).ToArray());
        Assert.True(exit == 0, stderr);
        Assert.Contains("Softmax.Rows", stdout);
        Assert.Contains("5x300", stdout);
        Assert.DoesNotContain("Attention.MultiHead", stdout);
        Assert.Contains("FMA peak", stdout);
        Assert.Contains(OperatingSystem.IsLinux() ? "cores busy while this ran" : "their load is not measured", stdout);
    }

    /// <summary>--device gpu runs a built-in's ILGPU kernels on the best accelerator (here ILGPU's CPU accelerator), says
    /// which, measures its limits, and checks the result against the CPU kernel.</summary>
    [Fact]
    public void The_gpu_device_runs_a_kernel_on_the_best_accelerator_and_checks_it_against_the_cpu()
    {
        // One kernel: ILGPU's CPU accelerator emulates every GPU thread, about 1 ms a group (all five kernels take minutes).
        var (exit, stdout, stderr) = Run("run", "--device", "gpu", "--kernel", "Softmax.Rows", "--softmax", "5x300", "--min-time", "0", "--settle", "0");
        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("device: ", stdout);
        Assert.Contains("limits (measured now)", stdout);
        Assert.Contains("Softmax.Rows", stdout);
        Assert.Contains("5x300", stdout);
        Assert.Single(stdout.Split('\n'), l => l.TrimEnd().EndsWith(" ok", StringComparison.Ordinal));
    }

    [Fact]
    public void A_failed_check_is_reported_and_exits_1()
    {
        Kernels.Cli.Run.RunCommand.ToleranceOverride = -1;
        try
        {
            var (exit, stdout, stderr) = Run(new[] { "run", "--kernel", "Attention.MultiHead", "--no-peers" }.Concat(Tiny).ToArray());
            Assert.Equal(1, exit);
            Assert.Contains("FAILED", stdout);
            Assert.Contains("Attention.MultiHead B=1 H=2 L=70 D=16: the result differs from the reference interpreter", stderr);
        }
        finally
        {
            Kernels.Cli.Run.RunCommand.ToleranceOverride = null;
        }
    }

    [Theory]
    [InlineData("--kernel", "Attention.Backward", "unknown kernel 'Attention.Backward'")]
    [InlineData("--softmax", "64by64", "--softmax expects ROWSxCOLUMNS")]
    [InlineData("--heads", "0", "--heads must be at least 1")]
    public void Bad_options_are_errors_that_say_what_to_write(string option, string value, string message)
    {
        var (exit, _, stderr) = Run("run", option, value);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }
}
