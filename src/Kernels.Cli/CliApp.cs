using System.CommandLine;
using System.Globalization;
using Kernels.Einsum;
using Kernels.Einsum.Analysis;

namespace Kernels.Cli;

/// <summary>The `kernels` command line. Output goes to the writers it is given, so tests can run it in-process.</summary>
public static class CliApp
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var spec = new Argument<FileInfo[]>("spec") { Description = "One or more .einsum spec files (e.g. specs/*.einsum).", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print JSON with stable field names instead of tables." };
        var size = new Option<string[]>("--size", "-s") { Description = "Bind sizes to get numeric counts, e.g. --size M=4096 --size P=4096.", AllowMultipleArgumentsPerToken = true };
        var analyze = new Command("analyze", "Parse and check a cascade; report its tensors, Einsums, passes per rank, fusion groups, live footprint and FLOPs/bytes.")
        {
            spec, json, size,
        };
        analyze.SetAction(result => Analyze(result.GetValue(spec) ?? Array.Empty<FileInfo>(), result.GetValue(json), result.GetValue(size) ?? Array.Empty<string>(), stdout, stderr));

        var root = new RootCommand("Kernels: cascades of extended Einsums -> fused CPU/GPU kernels and accelerator models.") { analyze };
        root.Subcommands.Add(Kernels.Cli.Run.RunCommand.Create(stdout, stderr));
        HardwareCommands.AddTo(root, stdout, stderr);
        var parse = root.Parse(args);
        return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
    }

    private static int Analyze(FileInfo[] files, bool json, string[] sizeArgs, TextWriter stdout, TextWriter stderr)
    {
        if (!TryParseSizes(sizeArgs, out var sizes, out var sizeError))
        {
            stderr.WriteLine(sizeError);
            return 2;
        }
        var exit = 0;
        var reports = new List<CascadeReport>();
        foreach (var file in files)
        {
            if (!file.Exists)
            {
                stderr.WriteLine($"{file.FullName}: error: file not found.");
                exit = 1;
                continue;
            }
            var result = CascadeCompiler.Compile(File.ReadAllText(file.FullName), DefaultName(file.Name));
            foreach (var d in result.Diagnostics) stderr.WriteLine(d.Format(file.FullName));
            if (!result.Success)
            {
                exit = 1;
                continue;
            }
            try
            {
                // Sizes given on the command line apply to the specs that have them.
                var applicable = sizes?.Where(p => Kernels.Einsum.Interpretation.CascadeShapes.RequiredSizes(result.Cascade!).Any(s => s.Size == p.Key))
                    .ToDictionary(p => p.Key, p => p.Value);
                reports.Add(PassAnalysis.Analyze(result.Cascade!, applicable is { Count: > 0 } ? applicable : null));
            }
            catch (ArgumentException ex)
            {
                stderr.WriteLine($"{file.FullName}: error: {ex.Message}");
                exit = 1;
            }
        }
        if (json) ReportWriter.WriteJson(reports, stdout);
        else foreach (var r in reports) ReportWriter.WriteTable(r, stdout);
        return exit;
    }

    internal static string DefaultName(string fileName) => Path.GetFileNameWithoutExtension(fileName).Replace('.', '_');

    internal static bool TryParseSizes(string[] args, out Dictionary<string, int>? sizes, out string error)
    {
        sizes = null;
        error = "";
        foreach (var arg in args.SelectMany(a => a.Split(',', StringSplitOptions.RemoveEmptyEntries)))
        {
            var parts = arg.Split('=');
            if (parts.Length != 2 || !int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 0)
            {
                error = $"error: --size expects NAME=VALUE with a non-negative integer, e.g. --size M=4096; got '{arg}'.";
                return false;
            }
            sizes ??= new Dictionary<string, int>(StringComparer.Ordinal);
            sizes[parts[0].Trim()] = value;
        }
        return true;
    }
}
