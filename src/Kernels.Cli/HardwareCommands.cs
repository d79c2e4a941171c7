using System.CommandLine;
using Kernels.Einsum;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Planning;
using Kernels.Hardware.Fpga;
using Kernels.Hardware.Pim;
using Kernels.Hardware.Roofline;
using Kernels.Hardware.Spatial;
using Kernels.Hardware.Targets;
using Kernels.Hardware.Workloads;

namespace Kernels.Cli;

/// <summary>`model`, `emit` and `roofline`: a cascade on the hardware models of Kernels.Hardware.</summary>
internal static class HardwareCommands
{
    /// <summary>The spatial presets (fusemax, flat, unfused, flat-inorder, fusemax-inorder), then fpga and pim.</summary>
    private static readonly string[] ModelTargets = SpatialPresets.Names.Concat(new[] { "fpga", "pim" }).ToArray();

    /// <summary>Emit targets: each is one case of <see cref="Emit"/>; add a target there and here.</summary>
    private static readonly string[] EmitTargets = { "hls", "csharp", "loops", "ilgpu", "descriptor", "schedule" };

    public static void AddTo(RootCommand root, TextWriter stdout, TextWriter stderr)
    {
        root.Subcommands.Add(ModelCommand(stdout, stderr));
        root.Subcommands.Add(EmitCommand(stdout, stderr));
        root.Subcommands.Add(RooflineCommand(stdout, stderr));
    }

    private sealed record Workload(Option<string?> Model, Option<int> Seq, Option<int> Batch, Option<string[]> Size, Option<double> Instances);

    private static Workload WorkloadOptions() => new(
        new Option<string?>("--model") { Description = "A workload preset: BERT, TrXL, T5 or XLM (batch x heads instances, P = M = --seq, E = F = head dim)." },
        new Option<int>("--seq") { Description = "Sequence length for --model.", DefaultValueFactory = _ => 4096 },
        new Option<int>("--batch") { Description = "Batch for --model.", DefaultValueFactory = _ => TransformerWorkloads.Batch },
        new Option<string[]>("--size", "-s") { Description = "Bind sizes instead of --model, e.g. --size P=4096,M=4096,E=64,F=64.", AllowMultipleArgumentsPerToken = true },
        new Option<double>("--instances") { Description = "Independent copies of the cascade with --size (batch x heads).", DefaultValueFactory = _ => 1 });

    private static void Add(Command c, Workload w)
    {
        c.Options.Add(w.Model);
        c.Options.Add(w.Seq);
        c.Options.Add(w.Batch);
        c.Options.Add(w.Size);
        c.Options.Add(w.Instances);
    }

    private static Command ModelCommand(TextWriter stdout, TextWriter stderr)
    {
        var spec = new Argument<FileInfo?>("spec") { Description = "The .einsum spec, or a built-in kernel such as Attention.Forward, to model (omit with --paper).", Arity = ArgumentArity.ZeroOrOne };
        var target = new Option<string>("--target", "-t") { Description = "A spatial preset (flat-inorder and fusemax-inorder are the FuseMax paper's ablation steps +cascade and +architecture), fpga or pim.", DefaultValueFactory = _ => "fusemax" };
        target.AcceptOnlyFromAmong(ModelTargets);
        var targetFile = new Option<FileInfo?>("--target-file") { Description = "A JSON spatial target description (see `model --print-target fusemax`) instead of a preset." };
        var printTarget = new Option<string?>("--print-target") { Description = "Print a preset spatial target as JSON (a template for --target-file) and exit." };
        var paper = new Option<string?>("--paper") { Description = "Reproduce a published evaluation: 'fusemax' (24 points, averages and the ablation ladder)." };
        var reuse = new Option<int>("--reuse") { Description = "FPGA reuse factor.", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print JSON with stable field names." };
        var sweep = new Option<string?>("--sweep") { Description = $"Spatial targets: cost every combination of buffer size and array width around the target and report the latency / energy / area Pareto front, e.g. --sweep {SweepGrid.Example} (ranges step by powers of two; also name=a|b|c or name=value)." };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "With --sweep: also draw the sweep and its Pareto front to this SVG file." };
        var w = WorkloadOptions();
        var command = new Command("model", "Cost a cascade on a hardware model: latency, utilisation, DRAM traffic, buffer need and energy.") { spec, target, targetFile, printTarget, paper, reuse, json, sweep, output };
        Add(command, w);
        command.SetAction(r =>
        {
            try
            {
                if (r.GetValue(printTarget) is { } preset)
                {
                    stdout.WriteLine(SpatialPresets.Get(preset).ToJson());
                    return 0;
                }
                if (r.GetValue(paper) is { } p) return Paper(p, r.GetValue(json), stdout, stderr);
                var file = r.GetValue(spec);
                if (file is null)
                {
                    stderr.WriteLine("error: give a spec file or a built-in kernel (" + string.Join(", ", BuiltInKernels.All.Keys) + "), or --paper fusemax.");
                    return 2;
                }
                if (!TryLoad(file, stderr, out var cascade)) return 1;
                if (!TryWorkload(r, w, cascade, stderr, out var sizes, out var instances)) return 2;
                var t = r.GetValue(target)!;
                var fileTarget = r.GetValue(targetFile);
                if (r.GetValue(sweep) is { } grid)
                    return Sweep(cascade, sizes, instances, fileTarget, t, grid, r.GetValue(json), r.GetValue(output), stdout, stderr);
                if (r.GetValue(output) is not null)
                {
                    stderr.WriteLine("error: --output draws a sweep; give --sweep too (e.g. --sweep " + SweepGrid.Example + " -o pareto.svg).");
                    return 2;
                }
                switch (t)
                {
                    case "fpga":
                        var estimate = HlsEstimator.Estimate(cascade, sizes, r.GetValue(reuse));
                        if (r.GetValue(json)) HardwareReportWriter.WriteFpgaJson(estimate, stdout);
                        else HardwareReportWriter.WriteFpga(estimate, stdout);
                        return 0;
                    case "pim":
                        var placed = PimPlacement.Place(cascade, sizes, instances);
                        if (r.GetValue(json)) HardwareReportWriter.WritePimJson(placed, stdout);
                        else HardwareReportWriter.WritePim(placed, stdout);
                        return 0;
                    default:
                        var spatial = fileTarget is null ? SpatialPresets.Get(t) : SpatialTarget.FromJson(File.ReadAllText(fileTarget.FullName));
                        var result = SpatialArrayModel.Evaluate(cascade, sizes, spatial, instances);
                        if (r.GetValue(json)) HardwareReportWriter.WriteSpatialJson(result, stdout);
                        else HardwareReportWriter.WriteSpatial(result, stdout);
                        return 0;
                }
            }
            catch (ArgumentException ex)
            {
                stderr.WriteLine("error: " + ex.Message);
                return 1;
            }
        });
        return command;
    }

    /// <summary>`model --sweep`: every combination of the grid on the spatial target, its Pareto front, and optionally the plot.</summary>
    private static int Sweep(Cascade cascade, Dictionary<string, int> sizes, double instances, FileInfo? targetFile, string target, string text, bool json, FileInfo? output,
        TextWriter stdout, TextWriter stderr)
    {
        if (targetFile is null && !SpatialPresets.Names.Contains(target))
        {
            stderr.WriteLine($"error: --sweep varies a spatial array; use it with --target {string.Join(", ", SpatialPresets.Names)} or --target-file, not {target}.");
            return 2;
        }
        var spatial = targetFile is null ? SpatialPresets.Get(target) : SpatialTarget.FromJson(File.ReadAllText(targetFile.FullName));
        SweepGrid grid;
        try
        {
            grid = SweepGrid.Parse(text, spatial);
        }
        catch (ArgumentException ex)
        {
            stderr.WriteLine("error: " + ex.Message);
            return 2;
        }
        var result = DesignSweep.Run(cascade, sizes, spatial, grid, instances);
        if (json) HardwareReportWriter.WriteSweepJson(result, stdout);
        else HardwareReportWriter.WriteSweep(result, stdout);
        if (output is not null) File.WriteAllText(output.FullName, Kernels.Measure.Charts.Pareto(result));
        return 0;
    }

    private static int Paper(string name, bool json, TextWriter stdout, TextWriter stderr)
    {
        if (!string.Equals(name, "fusemax", StringComparison.OrdinalIgnoreCase))
        {
            stderr.WriteLine($"error: unknown paper '{name}'; the only one is 'fusemax'.");
            return 2;
        }
        var dir = Path.Combine(AppContext.BaseDirectory, "specs");
        if (!TryLoad(new FileInfo(Path.Combine(dir, "attention.fusemax.einsum")), stderr, out var one) ||
            !TryLoad(new FileInfo(Path.Combine(dir, "attention.3pass.einsum")), stderr, out var three))
            return 1;
        var table = FuseMaxPaper.Run(one, three);
        if (json) HardwareReportWriter.WritePaperJson(table, stdout);
        else HardwareReportWriter.WritePaper(table, stdout);
        return 0;
    }

    private static Command EmitCommand(TextWriter stdout, TextWriter stderr)
    {
        var spec = new Argument<FileInfo>("spec") { Description = "The .einsum spec, or a built-in kernel such as Attention.Forward, to emit." };
        var target = new Option<string>("--target", "-t") { Description = "What to emit: " + string.Join(", ", EmitTargets) + ".", DefaultValueFactory = _ => "hls" };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write to this file instead of standard output." };
        var size = new Option<string[]>("--size", "-s") { Description = "Sizes to emit for (HLS needs fixed sizes); unbound sizes default to 64.", AllowMultipleArgumentsPerToken = true };
        var reuse = new Option<int>("--reuse") { Description = "HLS reuse factor (II of the output loops).", DefaultValueFactory = _ => 1 };
        var harness = new Option<FileInfo?>("--harness") { Description = "HLS: also write a C-simulation test bench (main) to this file." };
        var schedule = new Option<string?>("--schedule") { Description = "Schedule directives (e.g. \"rows per-row; tile M0 128; lower QK vector\") or a .schedule file: the lowerings for C# and schedule, the tiles for every target; by default the .schedule file beside the spec, if any." };
        var command = new Command("emit", "Emit code for a cascade: HLS C++ for FPGAs (compiles with g++ as a C simulation), the generator's C# kernel or its loop program, its ILGPU kernels (for Kernels.Gpu), its descriptor, or the schedule the kernel runs.") { spec, target, output, size, reuse, harness, schedule };
        command.SetAction(r =>
        {
            if (!TryLoad(r.GetValue(spec)!, stderr, out var cascade)) return 1;
            if (!TryLoadSchedule(r.GetValue(spec)!, r.GetValue(schedule), cascade, stderr, out var chosen)) return 1;
            cascade = chosen.ApplyTiles(cascade); // a schedule's tiles are the partitions' sizes for every target
            if (!CliApp.TryParseSizes(r.GetValue(size) ?? Array.Empty<string>(), out var given, out var error))
            {
                stderr.WriteLine(error);
                return 2;
            }
            var sizes = DefaultSizes(cascade, given, 64);
            try
            {
                return Emit(r.GetValue(target)!, cascade, chosen, sizes, r.GetValue(reuse), r.GetValue(output), r.GetValue(harness), stdout, stderr);
            }
            catch (ArgumentException ex)
            {
                stderr.WriteLine("error: " + ex.Message);
                return 1;
            }
        });
        return command;
    }

    /// <summary>The schedule for <c>emit</c>: --schedule (directives, or a file), else the .schedule file beside the spec;
    /// its errors are reported like a spec's, at the directive.</summary>
    private static bool TryLoadSchedule(FileInfo spec, string? option, Cascade cascade, TextWriter stderr, out Schedule schedule)
    {
        schedule = Schedule.Default;
        string? path = null, text = null;
        if (option is not null)
        {
            if (File.Exists(option)) (path, text) = (Path.GetFullPath(option), File.ReadAllText(option));
            else text = option;
        }
        else if (spec.Exists && Path.ChangeExtension(spec.FullName, ".schedule") is var beside && File.Exists(beside))
        {
            (path, text) = (beside, File.ReadAllText(beside));
        }
        if (text is null) return true;
        var where = path ?? "--schedule";
        schedule = Schedule.Parse(text, out var syntax);
        foreach (var d in syntax) stderr.WriteLine(d.Format(where));
        if (syntax.Count > 0) return false;
        var errors = Kernels.Einsum.Planning.KernelVariants.ScheduleErrors(cascade, schedule);
        foreach (var e in errors) stderr.WriteLine(e.ToDiagnostic().Format(where));
        return errors.Count == 0;
    }

    private static int Emit(string target, Cascade cascade, Schedule schedule, Dictionary<string, int> sizes, int reuse, FileInfo? output, FileInfo? harness, TextWriter stdout, TextWriter stderr)
    {
        var signature = Kernels.Einsum.Emit.KernelSignature.Canonical(cascade) with { Schedule = schedule };
        switch (target)
        {
            case "hls":
                var design = HlsEmitter.Emit(cascade, sizes, new HlsOptions(reuse));
                Write(design.Code, output, stdout);
                if (harness is not null)
                    File.WriteAllText(harness.FullName, HlsHarness.Emit(design, output?.Name ?? "kernel.cpp"));
                return 0;
            case "csharp":
                // Exactly what the generator writes for the spec's canonical declaration (docs/generator.md).
                Write(Kernels.Einsum.Emit.CSharpKernelEmitter.Emit(cascade, signature), output, stdout);
                return 0;
            case "loops":
                // The C# kernel's loop program, node by node (what the csharp target prints), as an outline.
                Write(Kernels.Einsum.Loops.CpuLowering.Lower(Kernels.Einsum.Planning.KernelVariants.Choose(cascade, schedule)).Describe(), output, stdout);
                return 0;
            case "ilgpu":
                // The GPU sink: the cascade's loop-nest program printed as ILGPU kernels and their launcher (docs/gpu.md).
                Write(Kernels.Einsum.Emit.IlgpuKernelEmitter.Emit(Kernels.Einsum.Loops.LoopLowering.Lower(cascade), Kernels.Einsum.Emit.KernelSignature.Canonical(cascade)), output, stdout);
                return 0;
            case "schedule":
                // The schedule the generated kernel runs: the planner's choices with the given ones applied.
                Write(Kernels.Einsum.Planning.KernelVariants.ChosenSchedule(cascade, schedule).ToString(), output, stdout);
                return 0;
            case "descriptor":
                // The KernelDescriptor the generator writes next to that kernel: the IR and analysis as constructor calls.
                Write(Kernels.Einsum.Emit.DescriptorEmitter.Emit(cascade, Kernels.Einsum.Emit.KernelSignature.Canonical(cascade)), output, stdout);
                return 0;
            default:
                stderr.WriteLine($"error: unknown emit target '{target}'; the targets are {string.Join(", ", EmitTargets)}.");
                return 2;
        }
    }

    private static Command RooflineCommand(TextWriter stdout, TextWriter stderr)
    {
        var spec = new Argument<FileInfo>("spec") { Description = "The .einsum spec, or a built-in kernel such as Attention.Forward, to plot." };
        var target = new Option<string>("--target", "-t") { Description = "A spatial preset, fpga or pim.", DefaultValueFactory = _ => "pim" };
        target.AcceptOnlyFromAmong(ModelTargets);
        var output = new Option<FileInfo?>("--output", "-o") { Description = "The SVG file to write (standard output when omitted)." };
        var reuse = new Option<int>("--reuse") { Description = "FPGA reuse factor.", DefaultValueFactory = _ => 1 };
        var w = WorkloadOptions();
        var command = new Command("roofline", "Plot a roofline (SVG): each Einsum at its arithmetic intensity and attained throughput under the target's roofs.") { spec, target, output, reuse };
        Add(command, w);
        command.SetAction(r =>
        {
            if (!TryLoad(r.GetValue(spec)!, stderr, out var cascade)) return 1;
            if (!TryWorkload(r, w, cascade, stderr, out var sizes, out var instances)) return 2;
            try
            {
                var t = r.GetValue(target)!;
                var data = t switch
                {
                    "pim" => RooflinePlot.ForPim(cascade, sizes, instances),
                    "fpga" => RooflinePlot.ForFpga(cascade, sizes, r.GetValue(reuse)),
                    _ => RooflinePlot.ForSpatial(cascade, sizes, SpatialPresets.Get(t), instances),
                };
                Write(Kernels.Measure.Charts.Roofline(data), r.GetValue(output), stdout);
                return 0;
            }
            catch (ArgumentException ex)
            {
                stderr.WriteLine("error: " + ex.Message);
                return 1;
            }
        });
        return command;
    }

    private static void Write(string text, FileInfo? file, TextWriter stdout)
    {
        if (file is null) stdout.Write(text);
        else File.WriteAllText(file.FullName, text);
    }

    private static bool TryLoad(FileInfo file, TextWriter stderr, out Cascade cascade)
    {
        cascade = null!;
        if (!file.Exists)
        {
            // Not a file: a built-in kernel by name, costed from the descriptor the generator wrote for it.
            if (BuiltInKernels.TryGet(file.ToString(), out var descriptor))
            {
                cascade = descriptor.Cascade;
                return true;
            }
            stderr.WriteLine($"{file.FullName}: error: file not found, and '{file}' is not a built-in kernel ({string.Join(", ", BuiltInKernels.All.Keys)}).");
            return false;
        }
        var result = CascadeCompiler.Compile(File.ReadAllText(file.FullName), CliApp.DefaultName(file.Name));
        foreach (var d in result.Diagnostics) stderr.WriteLine(d.Format(file.FullName));
        if (!result.Success) return false;
        cascade = result.Cascade!;
        return true;
    }

    /// <summary>--model (with --seq, --batch) or --size (with --instances); with neither, every unbound size is 4096.</summary>
    private static bool TryWorkload(ParseResult r, Workload w, Cascade cascade, TextWriter stderr, out Dictionary<string, int> sizes, out double instances)
    {
        sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        instances = r.GetValue(w.Instances);
        if (!CliApp.TryParseSizes(r.GetValue(w.Size) ?? Array.Empty<string>(), out var given, out var error))
        {
            stderr.WriteLine(error);
            return false;
        }
        if (r.GetValue(w.Model) is { } name)
        {
            TransformerModel model;
            try
            {
                model = TransformerWorkloads.Get(name);
            }
            catch (ArgumentException ex)
            {
                stderr.WriteLine("error: " + ex.Message);
                return false;
            }
            var required = CascadeShapes.RequiredSizes(cascade).Select(s => s.Size).ToHashSet();
            foreach (var (k, v) in model.AttentionSizes(r.GetValue(w.Seq)))
                if (required.Contains(k)) given = Merge(given, k, v);
            instances = model.Instances(r.GetValue(w.Batch));
        }
        sizes = DefaultSizes(cascade, given, 4096);
        return true;
    }

    private static Dictionary<string, int> Merge(Dictionary<string, int>? sizes, string key, int value)
    {
        sizes ??= new Dictionary<string, int>(StringComparer.Ordinal);
        sizes.TryAdd(key, value);
        return sizes;
    }

    private static Dictionary<string, int> DefaultSizes(Cascade cascade, Dictionary<string, int>? given, int fallback)
    {
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (size, def) in CascadeShapes.RequiredSizes(cascade))
        {
            if (given is not null && given.TryGetValue(size, out var v)) sizes[size] = v;
            else if (def is null) sizes[size] = fallback;
        }
        if (given is not null)
            foreach (var (k, v) in given)
                if (!sizes.ContainsKey(k)) sizes[k] = v; // unknown names: let the binder report them
        return sizes;
    }
}
