using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json;
using Kernels.Measure;
using Spectre.Console;

namespace Kernels.Cli.Run;

/// <summary>One line of the result: a kernel on a shape, its time, its rates, the machine's limit, the peers and the check.</summary>
internal sealed record RunResult(
    string Kernel,
    string Shape,
    string Device,
    double Seconds,
    double Gflops,
    double Gbps,
    string Limit,
    double RatioToLimit,
    string? Peer,
    double? RatioToPeer,
    double? MaxError,
    bool? Verified,
    IReadOnlyList<PeerResult> Peers);

internal sealed record PeerResult(string Name, double Seconds);

/// <summary>
/// <c>kernels run</c>: every built-in kernel on realistic shapes, timed next to its peers and the machine's limits
/// measured in the same run, each result checked against the reference interpreter on a sample.
/// </summary>
internal static class RunCommand
{
    private static readonly string[] KernelNames = { "Attention.MultiHead", "Attention.Causal", "Softmax.Rows", "LinearAttention.Causal", "SelectiveScan.Forward" };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var defaults = new RunShapes();
        var kernel = new Option<string[]>("--kernel", "-k") { Description = "Run only these kernels (" + string.Join(", ", KernelNames) + "); repeat or separate with commas.", AllowMultipleArgumentsPerToken = true };
        var heads = new Option<int>("--heads") { Description = "Attention: heads.", DefaultValueFactory = _ => defaults.Heads };
        var seq = new Option<int>("--seq") { Description = "Attention: query and key length.", DefaultValueFactory = _ => defaults.SequenceLength };
        var headDim = new Option<int>("--head-dim") { Description = "Attention and linear attention: head dim (query, key and value width).", DefaultValueFactory = _ => defaults.HeadDim };
        var softmax = new Option<string>("--softmax") { Description = "Softmax: ROWSxCOLUMNS.", DefaultValueFactory = _ => $"{defaults.SoftmaxRows}x{defaults.SoftmaxColumns}" };
        var linear = new Option<int>("--linear-seq") { Description = "Linear attention: sequence length.", DefaultValueFactory = _ => defaults.LinearLength };
        var channels = new Option<int>("--channels") { Description = "Selective scan: channels (d_inner).", DefaultValueFactory = _ => defaults.Channels };
        var scanLength = new Option<int>("--scan-seq") { Description = "Selective scan: sequence length.", DefaultValueFactory = _ => defaults.ScanLength };
        var state = new Option<int>("--state") { Description = "Selective scan: state size (d_state).", DefaultValueFactory = _ => defaults.StateSize };
        var minTime = new Option<double>("--min-time") { Description = "Seconds to time each kernel and peer for (at least 3 runs; the median run is reported).", DefaultValueFactory = _ => 0.3 };
        var noPeers = new Option<bool>("--no-peers") { Description = "Do not run the peers (ONNX Runtime, TensorPrimitives)." };
        var settle = new Option<double>("--settle") { Description = "Before timing anything, wait up to this many seconds for other processes to leave the cores (0: do not wait); the load they leave is printed with the results.", DefaultValueFactory = _ => 20 };
        var device = new Option<string>("--device") { Description = "cpu: the generated CPU kernels (default); gpu: their ILGPU kernels on the best accelerator (CUDA, OpenCL, else ILGPU's CPU accelerator), checked against the CPU kernels.", DefaultValueFactory = _ => "cpu" };
        device.AcceptOnlyFromAmong("cpu", "gpu");
        var json = new Option<bool>("--json") { Description = "Print a JSON array (kernel, shape, device, seconds, gflops, gbps, limit, ratioToLimit, peer, ratioToPeer, maxError, verified, peers, otherCores) instead of a table." };
        var command = new Command("run", "Run every built-in kernel on realistic shapes: time, GFLOP/s and GB/s, the ratio to this machine's limit (FMA peak or copy bandwidth, measured in the same run) and to the peers (ONNX Runtime, TensorPrimitives), and the largest error against the reference interpreter on a sample. Exits 1 if a check fails.")
        {
            kernel, heads, seq, headDim, softmax, linear, channels, scanLength, state, minTime, noPeers, settle, json, device,
        };
        command.SetAction(r =>
        {
            var softmaxShape = r.GetValue(softmax)!.Split('x');
            if (softmaxShape.Length != 2 || !int.TryParse(softmaxShape[0], NumberStyles.None, CultureInfo.InvariantCulture, out var rows)
                || !int.TryParse(softmaxShape[1], NumberStyles.None, CultureInfo.InvariantCulture, out var columns) || rows < 1 || columns < 1)
            {
                stderr.WriteLine($"error: --softmax expects ROWSxCOLUMNS with positive integers, e.g. --softmax 4096x4096; got '{r.GetValue(softmax)}'.");
                return 2;
            }
            var shapes = new RunShapes(r.GetValue(heads), r.GetValue(seq), r.GetValue(headDim), rows, columns, r.GetValue(linear), r.GetValue(channels), r.GetValue(scanLength), r.GetValue(state));
            foreach (var (name, value) in new[] { ("--heads", shapes.Heads), ("--seq", shapes.SequenceLength), ("--head-dim", shapes.HeadDim), ("--linear-seq", shapes.LinearLength), ("--channels", shapes.Channels), ("--scan-seq", shapes.ScanLength), ("--state", shapes.StateSize) })
            {
                if (value >= 1) continue;
                stderr.WriteLine($"error: {name} must be at least 1; got {value}.");
                return 2;
            }
            var selected = (r.GetValue(kernel) ?? Array.Empty<string>()).SelectMany(k => k.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
            var unknown = selected.Where(k => !KernelNames.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList();
            if (unknown.Count > 0)
            {
                stderr.WriteLine($"error: unknown kernel '{unknown[0]}'; the kernels are {string.Join(", ", KernelNames)}.");
                return 2;
            }
            var names = selected.Count == 0 ? KernelNames : KernelNames.Where(k => selected.Contains(k, StringComparer.OrdinalIgnoreCase)).ToArray();
            var waited = r.GetValue(settle) > 0 ? MachineLoad.Settle(r.GetValue(settle), QuietCores, stderr.WriteLine).Seconds : 0;
            if (r.GetValue(device) == "gpu")
            {
                var explicitShapes = new Option[] { heads, seq, headDim, softmax, linear, channels, scanLength, state }.Any(o => r.GetResult(o) is { Implicit: false });
                return GpuRun.Execute(names, shapes, explicitShapes, Math.Max(0.0, r.GetValue(minTime)), stdout, stderr);
            }
            return Execute(names, shapes, Math.Max(0.0, r.GetValue(minTime)), !r.GetValue(noPeers), r.GetValue(json), waited, stdout, stderr);
        });
        return command;
    }

    private static Workload Make(string name, RunShapes shapes) => name switch
    {
        "Attention.MultiHead" => new AttentionWorkload(shapes),
        "Attention.Causal" => new AttentionWorkload(shapes, causal: true),
        "Softmax.Rows" => new SoftmaxWorkload(shapes),
        "LinearAttention.Causal" => new LinearAttentionWorkload(shapes),
        _ => new SelectiveScanWorkload(shapes),
    };

    /// <summary>Other processes' load (in cores) below which <c>--settle</c> counts the machine as quiet (four
    /// quarter-seconds in a row), and the load during the run above which the results come with a warning. Under
    /// <c>dotnet run</c> the SDK's process is still at 0.1-0.3 of a core for a second after it drops from a whole one.</summary>
    private const double QuietCores = 0.1, BusyCores = 0.25;

    private static int Execute(IReadOnlyList<string> names, RunShapes shapes, double minTime, bool peers, bool json, double waited, TextWriter stdout, TextWriter stderr)
    {
        var device = Device();
        var results = new List<RunResult>();
        double peak = 0, bandwidth = 0;
        // The progress display goes to standard error, and only to a terminal: the table or the JSON is the output.
        var interactive = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        var progress = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr), Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No });
        void Work(Action<Action<string>> body)
        {
            if (interactive)
            {
                progress.Progress().AutoClear(true).Columns(new SpinnerColumn(), new TaskDescriptionColumn(), new ProgressBarColumn(), new ElapsedTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("limits", maxValue: names.Count * 3 + 1);
                        body(step =>
                        {
                            task.Description = Markup.Escape(step);
                            task.Increment(1);
                        });
                    });
            }
            else
            {
                body(step => stderr.WriteLine(step));
            }
        }

        var start = MachineLoad.Take();
        Work(report =>
        {
            report("measuring this machine's limits: FMA peak and copy bandwidth");
            peak = Limits.MeasureFmaPeak(seconds: 0.1, repeats: 5); // best of five: three of 50 ms varied by 10% (405-450 GFLOP/s, Zen 5)
            bandwidth = Limits.MeasureCopyBandwidth();
            foreach (var name in names)
            {
                using var workload = Make(name, shapes);
                report($"{name} {workload.Shape}: setting up");
                workload.Setup();
                report($"{name} {workload.Shape}: timing");
                var seconds = Time(workload.Run, minTime);
                var peerTimes = peers ? workload.Peers.Select(p => new PeerResult(p.Name, Time(p.Run, minTime))).ToList() : new List<PeerResult>();
                report($"{name} {workload.Shape}: checking against the interpreter");
                workload.Run();
                var error = workload.Verify();
                results.Add(Result(workload, device, seconds, peak, bandwidth, peerTimes, error));
            }
        });

        var end = MachineLoad.Take();
        double? others = start is { } from && end is { } to ? MachineLoad.Others(from, to) : null;
        var load = others is { } busy
            ? Invariant($"other processes: {busy:F2} of {end!.Value.Cpus} cores busy while this ran") + (waited >= 0.5 ? Invariant($" (after waiting {waited:F1} s for them to settle)") : "")
            : "other processes: their load is not measured on this system";
        if (json) WriteJson(results, others, stdout);
        else WriteTable(results, device, peak, bandwidth, load, stdout);
        if (others >= BusyCores)
            stderr.WriteLine(Invariant($"warning: other processes kept {others:F2} cores busy while this ran: the times and the limits are lower than this machine's; run it again when it is quiet (--settle waits longer)."));
        var failed = results.Where(x => x.Verified == false).ToList();
        foreach (var f in failed)
            stderr.WriteLine($"error: {f.Kernel} {f.Shape}: the result differs from the reference interpreter by {f.MaxError:G3} (relative), more than its tolerance.");
        return failed.Count > 0 ? 1 : 0;
    }

    /// <summary>Replaces every workload's tolerance (tests use 0 to see a failed check fail the command).</summary>
    internal static double? ToleranceOverride { get; set; }

    private static RunResult Result(Workload w, string device, double seconds, double peak, double bandwidth, IReadOnlyList<PeerResult> peers, double error)
    {
        var report = w.Descriptor.Analyze(w.Sizes);
        var flops = (w.NominalFlops ?? report.Einsums.Sum(e => e.FlopsValue ?? 0)) * w.Calls;
        // Compulsory traffic: every input read once and every output written once.
        var bytes = report.Tensors.Where(t => t.Role is "input" or "output").Sum(t => (t.Extents ?? Array.Empty<long>()).Aggregate(1.0, (a, b) => a * b) * 4) * w.Calls;
        // The roofline: the FMA peak, or the copy bandwidth times the arithmetic intensity, whichever binds.
        var memoryBound = flops / bytes < peak / bandwidth;
        var floor = memoryBound ? bytes / (bandwidth * 1e9) : flops / (peak * 1e9);
        var best = peers.OrderBy(p => p.Seconds).FirstOrDefault();
        return new RunResult(w.Kernel, w.Shape, device, seconds, flops / seconds / 1e9, bytes / seconds / 1e9,
            memoryBound ? Invariant($"copy {bandwidth:F1} GB/s") : Invariant($"FMA {peak:F0} GFLOP/s"), floor / seconds,
            best?.Name, best is null ? null : best.Seconds / seconds, error, error <= (ToleranceOverride ?? w.Tolerance), peers);
    }

    /// <summary>
    /// The median of at least 3 runs over about <paramref name="minTime"/> seconds, after a warm-up that lasts until the
    /// time per run stops improving (two batches of about 50 ms in a row within 5% of the best, at most 3 s): the
    /// runtime recompiles hot methods with full optimisation only some time after their first calls, and a peer's code
    /// (TensorPrimitives) measured before that looks up to ten times slower.
    /// </summary>
    private static double Time(Action run, double minTime)
    {
        run();
        var warm = Stopwatch.StartNew();
        var best = double.MaxValue;
        var steady = 0;
        while (steady < 2 && warm.Elapsed.TotalSeconds < 3)
        {
            var batch = Stopwatch.StartNew();
            var runs = 0;
            do { run(); runs++; } while (batch.Elapsed.TotalSeconds < 0.05);
            var perRun = batch.Elapsed.TotalSeconds / runs;
            steady = perRun > best * 0.95 ? steady + 1 : 0;
            best = Math.Min(best, perRun);
        }
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 3 || (total.Elapsed.TotalSeconds < minTime && times.Count < 1000))
        {
            var watch = Stopwatch.StartNew();
            run();
            times.Add(watch.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    private static string Device()
    {
        var width = Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : Vector128.IsHardwareAccelerated ? "128-bit SIMD" : "scalar";
        return Invariant($"CPU {RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}, {Environment.ProcessorCount} threads, {width}");
    }

    private static void WriteTable(IReadOnlyList<RunResult> results, string device, double peak, double bandwidth, string load, TextWriter stdout)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No });
        console.Profile.Width = 200;
        var table = new Table().Border(TableBorder.Simple)
            .Title(Markup.Escape(Invariant($"{device}: FMA peak {peak:F0} GFLOP/s, copy bandwidth {bandwidth:F1} GB/s (measured now)")));
        foreach (var column in new[] { "kernel", "shape", "time", "GFLOP/s", "GB/s", "limit", "of limit", "peer", "vs peer", "max error", "check" })
            table.AddColumn(new TableColumn(column));
        foreach (var r in results)
            table.AddRow(new[]
            {
                r.Kernel, r.Shape, Duration(r.Seconds), Invariant($"{r.Gflops:F1}"), Invariant($"{r.Gbps:F1}"), r.Limit, Invariant($"{r.RatioToLimit:P0}"),
                r.Peer ?? "-", r.RatioToPeer is { } ratio ? Invariant($"{ratio:F2}x") : "-", r.MaxError is { } e ? Invariant($"{e:G2}") : "-",
                r.Verified switch { true => "ok", false => "FAILED", null => "-" },
            }.Select(Markup.Escape).ToArray());
        console.Write(table);
        console.WriteLine("vs peer: the fastest peer's time over ours (above 1: ours is faster). of limit: the time the machine's limit allows over ours.");
        console.WriteLine("GFLOP/s: attention counts its two matrix products (4 L^2 D per head), the others the cascade's operations (kernels analyze). GB/s: each input read and each output written once.");
        console.WriteLine(load + ".");
        foreach (var r in results.Where(x => x.Peers.Count > 1))
            console.WriteLine($"{r.Kernel} peers: {string.Join(", ", r.Peers.Select(p => $"{p.Name} {Duration(p.Seconds)}"))}");
    }

    private static string Duration(double seconds) => seconds >= 1 ? Invariant($"{seconds:F2} s") : seconds >= 1e-3 ? Invariant($"{seconds * 1e3:F2} ms") : Invariant($"{seconds * 1e6:F1} us");

    /// <summary>The results as a JSON array, each object with <paramref name="otherCores"/>: the cores other processes
    /// kept busy while the kernels ran (null where that is not measured).</summary>
    private static void WriteJson(IReadOnlyList<RunResult> results, double? otherCores, TextWriter stdout)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteString("kernel", r.Kernel);
                w.WriteString("shape", r.Shape);
                w.WriteString("device", r.Device);
                w.WriteNumber("seconds", r.Seconds);
                w.WriteNumber("gflops", r.Gflops);
                w.WriteNumber("gbps", r.Gbps);
                w.WriteString("limit", r.Limit);
                w.WriteNumber("ratioToLimit", r.RatioToLimit);
                if (r.Peer is null) w.WriteNull("peer"); else w.WriteString("peer", r.Peer);
                if (r.RatioToPeer is { } ratio) w.WriteNumber("ratioToPeer", ratio); else w.WriteNull("ratioToPeer");
                if (r.MaxError is { } e && double.IsFinite(e)) w.WriteNumber("maxError", e); else if (r.MaxError is null) w.WriteNull("maxError"); else w.WriteString("maxError", "Infinity");
                if (r.Verified is { } v) w.WriteBoolean("verified", v); else w.WriteNull("verified");
                w.WriteStartArray("peers");
                foreach (var p in r.Peers)
                {
                    w.WriteStartObject();
                    w.WriteString("name", p.Name);
                    w.WriteNumber("seconds", p.Seconds);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (otherCores is { } cores) w.WriteNumber("otherCores", cores); else w.WriteNull("otherCores");
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
