using System.Diagnostics;
using Kernels.Measure;

namespace Kernels.Cli.Tests;

/// <summary>`run` waits for other processes to leave the cores and reports their load: the counters it reads and a
/// real busy process seen through them.</summary>
public class MachineLoadTests
{
    // The first lines of /proc/stat on a two-core machine, and a process whose name holds a space and a parenthesis.
    private const string Stat = "cpu  1000 10 200 5000 40 0 6 4 0 0\ncpu0 500 5 100 2500 20 0 3 2 0 0\ncpu1 500 5 100 2500 20 0 3 2 0 0\nintr 1 2 3\n";
    private const string Self = "4242 (my (odd) name) R 1 2 3 0 -1 4194304 100 0 0 0 70 30 0 0 20 0 1 0 973701 3133440 380";

    [Fact]
    public void The_counters_are_read_from_the_kernels_texts()
    {
        var sample = MachineLoad.Parse(Stat, Self);
        Assert.NotNull(sample);
        // Busy: user + nice + system + irq + softirq + steal; idle and iowait are not.
        Assert.Equal(new MachineLoad.Sample(Busy: 1220, Total: 6260, Cpus: 2, Self: 100), sample.Value);
    }

    [Theory]
    [InlineData("intr 1 2 3\n", Self)]
    [InlineData("cpu  a b c d e\ncpu0 1 2 3 4 5\n", Self)]
    [InlineData(Stat, "4242 no parenthesis R 1 2 3")]
    [InlineData(Stat, "4242 (short) R 1 2")]
    public void Texts_in_another_form_give_no_sample(string stat, string self) => Assert.Null(MachineLoad.Parse(stat, self));

    [Fact]
    public void Others_are_the_busy_ticks_less_this_process_over_one_cpus_ticks()
    {
        var start = new MachineLoad.Sample(Busy: 1000, Total: 4000, Cpus: 2, Self: 300);
        // 200 ticks of each CPU went by; 250 busy ticks, 100 of them this process's: 150 / 200 = 0.75 of a core.
        Assert.Equal(0.75, MachineLoad.Others(start, start with { Busy = 1250, Total = 4400, Self = 400 }), 12);
        // This process alone: nobody else.
        Assert.Equal(0, MachineLoad.Others(start, start with { Busy = 1100, Total = 4400, Self = 400 }), 12);
        // No time went by.
        Assert.Equal(0, MachineLoad.Others(start, start));
    }

    [Fact]
    public void A_busy_process_is_seen_and_this_ones_own_work_is_not()
    {
        if (!OperatingSystem.IsLinux()) return; // the counters are Linux's; elsewhere Take() is null and run says so
        Assert.NotNull(MachineLoad.Take());

        // This process spinning on one core: not another process's load.
        var own = MachineLoad.Take()!.Value;
        var spin = Stopwatch.StartNew();
        var x = 0.0;
        while (spin.ElapsedMilliseconds < 600) x += Math.Sqrt(x + 1);
        var afterOwn = MachineLoad.Take()!.Value;
        Assert.True(afterOwn.Self - own.Self >= 20, $"600 ms of spinning counted {afterOwn.Self - own.Self} ticks of this process ({x})");

        // Another process spinning: at least a third of a core, with the other test assemblies beside it on two cores.
        using var busy = Process.Start(new ProcessStartInfo("sh", "-c \"while :; do :; done\"") { UseShellExecute = false })!;
        try
        {
            Thread.Sleep(100);
            var before = MachineLoad.Take()!.Value;
            Thread.Sleep(800);
            var after = MachineLoad.Take()!.Value;
            Assert.InRange(MachineLoad.Others(before, after), 0.33, after.Cpus);
        }
        finally
        {
            busy.Kill();
            busy.WaitForExit();
        }
    }
}
