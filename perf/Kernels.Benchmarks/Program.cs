using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Running;
using Kernels.Benchmarks;

// Every run exports the full JSON report and measures allocations.
var config = DefaultConfig.Instance.AddExporter(JsonExporter.Full).AddDiagnoser(MemoryDiagnoser.Default);

if (args.Length > 0 && args[0] == "smoke")
{
    // `smoke [filter]`: every benchmark once at its smallest parameters, in this process.
    Smoke.Run(args.Length > 1 ? args[1] : null, Console.Out);
    return 0;
}

if (args.Length > 0 && args[0] == "paired")
{
    // `paired [FILTER] [--rounds 5] [--params Name=Value,...] [--settle 20] [--ort-without-avx512]`: ours, the peers and the limits taking turns in this
    // process, ratios formed within each round; prints their medians and ranges.
    var rest = args.Skip(1).ToList();
    string? Option(string name)
    {
        var i = rest.IndexOf(name);
        if (i < 0 || i + 1 >= rest.Count) return null;
        var value = rest[i + 1];
        rest.RemoveRange(i, 2);
        return value;
    }
    if (rest.Remove("--ort-without-avx512"))
    {
        // The targets "without AVX-512" on a machine with it: ORT's AVX2 kernels against our 256-bit path.
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            Console.Error.WriteLine("paired: --ort-without-avx512 sets ORT's AVX2 kernels against ours; set DOTNET_EnableAVX512=0 as well, so that ours run their 256-bit path.");
            return 2;
        }
        Kernels.Measure.OnnxRuntimeWithoutAvx512.UseCopy(Console.Error.WriteLine);
    }
    var rounds = int.Parse(Option("--rounds") ?? "5", System.Globalization.CultureInfo.InvariantCulture);
    var fixedParameters = (Option("--params") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
        .Select(p => p.Split('=', 2)).ToDictionary(p => p[0].Trim(), p => p.Length > 1 ? p[1].Trim() : "");
    // As `kernels run`: under `dotnet run` the SDK's process keeps a core busy for seconds after the build.
    Kernels.Measure.MachineLoad.Settle(double.Parse(Option("--settle") ?? "20", System.Globalization.CultureInfo.InvariantCulture), 0.1, Console.Error.WriteLine);
    var start = Kernels.Measure.MachineLoad.Take();
    var ratios = Paired.Run(rest.FirstOrDefault(), fixedParameters, new Paired.Options(rounds), Console.Out);
    if (ratios.Count == 0)
    {
        Console.Error.WriteLine("paired: no ratios (does the filter name a suite, and do the --params values match its [Params]?).");
        return 2;
    }
    Paired.Report(ratios, Console.Out);
    if (start is { } from && Kernels.Measure.MachineLoad.Take() is { } to)
        Console.WriteLine(FormattableString.Invariant($"other processes: {Kernels.Measure.MachineLoad.Others(from, to):F2} of {to.Cpus} cores busy while this ran"));
    return 0;
}

if (args.Length > 0 && args[0] == "plot")
{
    // `plot [RESULTS_DIR] [OUTPUT_DIR]`: SVG charts of the latest full JSON reports.
    var results = Plots.Read(args.Length > 1 ? args[1] : Path.Combine("BenchmarkDotNet.Artifacts", "results"));
    if (results.Count == 0)
    {
        Console.Error.WriteLine("plot: no *-report-full.json results found; run the suite (or `gate`) first.");
        return 2;
    }
    foreach (var file in Plots.Write(results, args.Length > 2 ? args[2] : Path.Combine("BenchmarkDotNet.Artifacts", "plots"))) Console.WriteLine("plot: wrote " + file);
    return 0;
}

if (args.Length > 0 && args[0] == "gate")
{
    // `gate [--update] [--baseline FILE] [--tolerance 0.25] [BenchmarkDotNet arguments]`: run the suite (or the part
    // that --filter selects), compare its ratios with the baseline, exit 1 on a regression.
    var rest = args.Skip(1).ToList();
    string Take(string name, string fallback)
    {
        var i = rest.IndexOf(name);
        if (i < 0 || i + 1 >= rest.Count) return fallback;
        var value = rest[i + 1];
        rest.RemoveRange(i, 2);
        return value;
    }
    var update = rest.Remove("--update");
    var baselinePath = Take("--baseline", Path.Combine(FindRepositoryRoot(), "perf", "baseline.json"));
    var (baseline, savedTolerance) = Gate.Load(baselinePath);
    var tolerance = double.Parse(Take("--tolerance", savedTolerance.ToString(System.Globalization.CultureInfo.InvariantCulture)), System.Globalization.CultureInfo.InvariantCulture);
    if (!rest.Contains("--filter")) rest.AddRange(new[] { "--filter", "*" });
    if (!rest.Contains("--job") && !rest.Contains("-j")) rest.AddRange(new[] { "--job", "short" });
    var summaries = BenchmarkSwitcher.FromAssembly(typeof(Gate).Assembly).Run(rest.ToArray(), config).ToList();
    var ratios = Gate.Ratios(summaries);
    if (ratios.Count == 0)
    {
        Console.Error.WriteLine("gate: no ratios were measured (did the filter select any benchmark with ours and a peer or a limit?).");
        return 2;
    }
    var regressions = Gate.Report(Gate.Compare(baseline, ratios, tolerance), tolerance, Console.Out);
    if (update)
    {
        Gate.Save(baselinePath, baseline, ratios, tolerance, $"{Environment.ProcessorCount} threads, {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "AVX-512" : "AVX2")}, {DateTime.UtcNow:yyyy-MM-dd}");
        Console.WriteLine($"gate: wrote {ratios.Count} ratios to {baselinePath}.");
        return 0;
    }
    return regressions > 0 ? 1 : 0;
}

BenchmarkSwitcher.FromAssembly(typeof(Gate).Assembly).Run(args, config);
return 0;

static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln"))) return dir.FullName;
    return Directory.GetCurrentDirectory();
}
