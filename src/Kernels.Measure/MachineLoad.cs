using System.Diagnostics;
using System.Globalization;

namespace Kernels.Measure;

/// <summary>
/// How many cores other processes keep busy, from the kernel's CPU accounting (<c>/proc/stat</c> less this process's
/// own time in <c>/proc/self/stat</c>; Linux only, null elsewhere).
/// </summary>
/// <remarks>
/// Why <c>kernels run</c> and <c>paired</c> look: under the README's <c>dotnet run</c>, the SDK's own process keeps recompiling its code for
/// several seconds after the build, a whole core of a two-core machine while the first kernels were timed. Attention then
/// took 12.8 ms instead of 6.6 (B1 H8 L1024 D64, Zen 5) and the table showed it slower than ONNX Runtime.
/// </remarks>
public static class MachineLoad
{
    /// <summary>Cumulative clock ticks: every CPU's busy time (steal included: another guest's use of this core), all of
    /// their time, how many CPUs, and this process's own time.</summary>
    public readonly record struct Sample(long Busy, long Total, int Cpus, long Self);

    /// <summary>The counters now, or null where the system does not publish them.</summary>
    public static Sample? Take()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            return Parse(File.ReadAllText("/proc/stat"), File.ReadAllText("/proc/self/stat"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The counters from the texts of <c>/proc/stat</c> (its first line: user, nice, system, idle, iowait, irq, softirq,
    /// steal, ... ticks over all CPUs; one <c>cpuN</c> line per CPU) and <c>/proc/PID/stat</c> (utime and stime, the 14th
    /// and 15th fields, counted after the command name in parentheses, which may hold spaces). Null when either is not
    /// in that form.
    /// </summary>
    public static Sample? Parse(string stat, string selfStat)
    {
        var lines = stat.Split('\n');
        var first = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (first.Length < 5 || first[0] != "cpu") return null;
        var ticks = new long[Math.Min(first.Length - 1, 8)];
        for (var i = 0; i < ticks.Length; i++)
            if (!long.TryParse(first[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out ticks[i])) return null;
        var idle = ticks[3] + (ticks.Length > 4 ? ticks[4] : 0);
        var total = ticks.Sum();
        var cpus = lines.Count(l => l.Length > 3 && l.StartsWith("cpu", StringComparison.Ordinal) && char.IsAsciiDigit(l[3]));
        var close = selfStat.LastIndexOf(')');
        if (cpus == 0 || close < 0) return null;
        var fields = selfStat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // fields[0] is the 3rd field (the state): utime and stime are the 14th and 15th.
        if (fields.Length < 13
            || !long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var user)
            || !long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var system)) return null;
        return new Sample(total - idle, total, cpus, user + system);
    }

    /// <summary>The cores that processes other than this one kept busy, on average, between two samples.</summary>
    public static double Others(Sample from, Sample to)
    {
        var elapsed = (to.Total - from.Total) / (double)to.Cpus; // ticks of one CPU
        if (elapsed <= 0) return 0;
        return Math.Max(0, (to.Busy - from.Busy - (to.Self - from.Self)) / elapsed);
    }

    /// <summary>
    /// Waits, up to <paramref name="maxSeconds"/>, until other processes keep less than <paramref name="quietCores"/>
    /// cores busy in four quarter-seconds in a row; <paramref name="report"/> hears what it waits for. Returns the seconds
    /// waited and the load of the last quarter-second (null, without waiting, where it cannot be measured or
    /// <paramref name="maxSeconds"/> is not positive).
    /// </summary>
    public static (double Seconds, double? Others) Settle(double maxSeconds, double quietCores, Action<string> report)
    {
        var watch = Stopwatch.StartNew();
        if (maxSeconds <= 0 || Take() is not { } previous) return (0, null);
        double others;
        var quiet = 0;
        var said = false;
        do
        {
            Thread.Sleep(250);
            if (Take() is not { } now) return (watch.Elapsed.TotalSeconds, null);
            others = Others(previous, now);
            previous = now;
            quiet = others < quietCores ? quiet + 1 : 0;
            if (quiet == 0 && !said && watch.Elapsed.TotalSeconds < maxSeconds)
            {
                report(string.Create(CultureInfo.InvariantCulture,
                    $"other processes keep {others:F1} of {now.Cpus} cores busy: waiting up to {maxSeconds:F0} s for them to finish (--settle)"));
                said = true;
            }
        }
        while (quiet < 4 && watch.Elapsed.TotalSeconds < maxSeconds);
        return (watch.Elapsed.TotalSeconds, others);
    }
}
