using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>One ratio of <see cref="Paired"/>: its median over the rounds and the lowest and highest round.</summary>
/// <param name="Key">As <see cref="GateRatio.Key"/>: "Class(parameters): ours / other".</param>
/// <param name="Median">The median of the rounds' ratios (the other's time over ours).</param>
/// <param name="Low">The lowest round's ratio.</param>
/// <param name="High">The highest round's ratio.</param>
/// <param name="Rounds">The rounds that measured it.</param>
public sealed record PairedRatio(string Key, double Median, double Low, double High, int Rounds);

/// <summary>
/// The suite's ratios measured in one process, ours and the others taking turns: for every combination of a suite's
/// parameters, each round times every method marked ours, peer or limit in turn (the best of three batches, each
/// after a pause so that the threads one library leaves spinning do not take the next one's cores), and the ratios
/// are formed within the round, as <see cref="Gate.Ratios(IEnumerable{ValueTuple{Type, string, string, double}})"/>
/// pairs them. BenchmarkDotNet runs each method in a process of its own at another minute; on a virtual machine whose
/// speed moves by 30-50% within minutes, its ratios against ONNX Runtime swung by +-30% between runs, where ratios
/// formed within a round and taken as the median of several rounds hold to a few percent.
/// </summary>
public static class Paired
{
    /// <summary>How the rounds are timed (defaults: 200 ms batches, 200 ms pauses).</summary>
    /// <param name="Rounds">Rounds of every method in turn; the ratios' median is over them.</param>
    /// <param name="Batch">The length a batch of calls is sized to (from a timed call after the warm-up).</param>
    /// <param name="Pause">Sleep before each method's batches.</param>
    public sealed record Options(int Rounds = 5, TimeSpan? Batch = null, TimeSpan? Pause = null)
    {
        public TimeSpan BatchLength => Batch ?? TimeSpan.FromMilliseconds(200);

        public TimeSpan PauseLength => Pause ?? TimeSpan.FromMilliseconds(200);
    }

    /// <summary>
    /// Runs the suites whose name contains <paramref name="filter"/> (all when null; only the suite of that exact name
    /// where there is one, so that <c>AttentionBenchmarks</c> does not also run <c>LinearAttentionBenchmarks</c>) at every combination of their
    /// parameters that agrees with <paramref name="fixedParameters"/> (name to value as written in the suite), and
    /// returns the ratios; <paramref name="log"/> gets a line per round.
    /// </summary>
    public static List<PairedRatio> Run(string? filter, IReadOnlyDictionary<string, string> fixedParameters, Options options, TextWriter log)
    {
        if (options.Rounds < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Rounds, "At least one round is needed.");
        var samples = new Dictionary<string, List<double>>(StringComparer.Ordinal);
        foreach (var type in Suites(filter))
        {
            var methods = type.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null && HasRole(m)).ToList();
            if (methods.Count < 2) continue;
            foreach (var combination in Combinations(type).Where(c => fixedParameters.All(f => !c.Any(p => p.Name == f.Key) || c.Any(p => p.Name == f.Key && Text(p.Value) == f.Value))))
            {
                var instance = Activator.CreateInstance(type)!;
                foreach (var (member, name, value) in combination)
                {
                    if (member is FieldInfo field) field.SetValue(instance, value);
                    else ((PropertyInfo)member).SetValue(instance, value);
                }
                var parameters = string.Join(", ", combination.Select(p => $"{p.Name}={Text(p.Value)}"));
                Invoke<GlobalSetupAttribute>(type, instance);
                try
                {
                    var calls = methods.ToDictionary(m => m, m => Calibrate(m, instance, options.BatchLength));
                    for (var round = 0; round < options.Rounds; round++)
                    {
                        var times = new List<(Type, string, string, double)>();
                        var before = MachineLoad.Take();
                        foreach (var method in methods)
                        {
                            Thread.Sleep(options.PauseLength);
                            times.Add((type, method.Name, parameters, BestOfThree(method, instance, calls[method])));
                        }
                        var ratios = Gate.Ratios(times);
                        foreach (var ratio in ratios)
                        {
                            if (!samples.TryGetValue(ratio.Key, out var list)) samples[ratio.Key] = list = new List<double>();
                            list.Add(ratio.Value);
                        }
                        // Other processes' load during the round: a round that a neighbour slowed shows it here.
                        var load = before is { } from && MachineLoad.Take() is { } to ? FormattableString.Invariant($"; other processes {MachineLoad.Others(from, to):F2} cores") : "";
                        log.WriteLine($"paired: {type.Name}({parameters}) round {round + 1}: " + string.Join(", ", times.Select(t => $"{t.Item2} {t.Item4 * 1e3:G4} ms")) + load);
                    }
                }
                finally
                {
                    Invoke<GlobalCleanupAttribute>(type, instance);
                }
            }
        }
        return samples.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p =>
        {
            var sorted = p.Value.OrderBy(v => v).ToList();
            var median = sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
            return new PairedRatio(p.Key, median, sorted[0], sorted[^1], sorted.Count);
        }).ToList();
    }

    /// <summary>The suites <see cref="Run"/> takes for <paramref name="filter"/>: every suite whose name contains it
    /// (case aside; all when null), or only the one of exactly that name where there is one.</summary>
    public static IReadOnlyList<Type> Suites(string? filter)
    {
        if (filter is null) return Smoke.Suites.ToList();
        var exact = Smoke.Suites.Where(t => t.Name.Equals(filter, StringComparison.OrdinalIgnoreCase)).ToList();
        return exact.Count > 0 ? exact : Smoke.Suites.Where(t => t.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToList();
    }

    /// <summary>Writes the ratios as a table: median, range and rounds.</summary>
    public static void Report(IEnumerable<PairedRatio> ratios, TextWriter output)
    {
        output.WriteLine("| ratio (other's time / ours) | median | range | rounds |");
        output.WriteLine("|---|---|---|---|");
        foreach (var r in ratios)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Key} | {r.Median:F3} | {r.Low:F3}-{r.High:F3} | {r.Rounds} |"));
    }

    private static bool HasRole(MethodInfo m) =>
        m.GetCustomAttribute<OursAttribute>() is not null || m.GetCustomAttribute<PeerAttribute>() is not null || m.GetCustomAttribute<LimitAttribute>() is not null;

    /// <summary>Every combination of the suite's [Params] values, in declaration order.</summary>
    private static IEnumerable<List<(MemberInfo Member, string Name, object? Value)>> Combinations(Type type)
    {
        var members = type.GetFields().Cast<MemberInfo>().Concat(type.GetProperties())
            .Select(m => (Member: m, Params: m.GetCustomAttribute<ParamsAttribute>()))
            .Where(x => x.Params is not null).ToList();
        IEnumerable<List<(MemberInfo, string, object?)>> combos = new[] { new List<(MemberInfo, string, object?)>() };
        foreach (var (member, attribute) in members)
            combos = combos.SelectMany(c => attribute!.Values.Select(v => new List<(MemberInfo, string, object?)>(c) { (member, member.Name, v) })).ToList();
        return combos;
    }

    private static string Text(object? value) => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";

    private static void Invoke<TAttribute>(Type type, object instance) where TAttribute : Attribute
    {
        foreach (var m in type.GetMethods().Where(m => m.GetCustomAttribute<TAttribute>() is not null)) m.Invoke(instance, null);
    }

    /// <summary>
    /// Calls per batch: as many as fill <paramref name="batch"/>, at least one, timed after a warm-up of at least three
    /// calls and half a second (the tiered JIT compiles a method fully only after some calls and a delay; four calls of
    /// TensorPrimitives' softmax left it 10x slower in the first rounds).
    /// </summary>
    private static int Calibrate(MethodInfo method, object instance, TimeSpan batch)
    {
        var warm = Stopwatch.StartNew();
        for (var i = 0; i < 3 || warm.Elapsed.TotalSeconds < 0.5; i++) method.Invoke(instance, null);
        var watch = Stopwatch.StartNew();
        method.Invoke(instance, null);
        return (int)Math.Clamp(batch.TotalSeconds / Math.Max(watch.Elapsed.TotalSeconds, 1e-7), 1, 1_000_000);
    }

    /// <summary>The best of three batches of <paramref name="calls"/> calls, in seconds per call.</summary>
    private static double BestOfThree(MethodInfo method, object instance, int calls)
    {
        // A method without a result is called through a delegate; one with a result through reflection (a fraction of a
        // microsecond, against the milliseconds these take).
        var body = Delegate.CreateDelegate(typeof(Action), instance, method, throwOnBindFailure: false) as Action ?? (() => method.Invoke(instance, null));
        var best = double.MaxValue;
        for (var batch = 0; batch < 3; batch++)
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < calls; i++) body();
            best = Math.Min(best, watch.Elapsed.TotalSeconds / calls);
        }
        return best;
    }
}
