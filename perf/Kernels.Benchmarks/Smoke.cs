using System.Reflection;
using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// Runs every benchmark of the suite once, in this process, at its smallest parameters (the smallest number, or the
/// shape string with the fewest elements): the global setup (which builds the peers and checks agreement where a
/// benchmark does), each method, the global cleanup. The tests run it so that the suite cannot rot.
/// </summary>
public static class Smoke
{
    public static IEnumerable<Type> Suites => typeof(Smoke).Assembly.GetTypes()
        .Where(t => t.IsClass && !t.IsAbstract && t.GetMethods().Any(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null))
        .OrderBy(t => t.Name, StringComparer.Ordinal);

    /// <summary>
    /// Runs the suites whose name contains <paramref name="filter"/> (all when null), or with <c>Suite.Method</c> the
    /// methods of that suite whose name starts with Method; returns the methods run.
    /// </summary>
    public static List<string> Run(string? filter, TextWriter log)
    {
        var ran = new List<string>();
        var dot = filter?.IndexOf('.') ?? -1;
        var (suiteFilter, methodFilter) = dot < 0 ? (filter, null) : (filter![..dot], filter[(dot + 1)..]);
        foreach (var type in Suites.Where(t => suiteFilter is null || t.Name.Contains(suiteFilter, StringComparison.OrdinalIgnoreCase)))
        {
            var instance = Activator.CreateInstance(type)!;
            foreach (var field in type.GetFields().Where(f => f.GetCustomAttribute<ParamsAttribute>() is not null))
                field.SetValue(instance, field.GetCustomAttribute<ParamsAttribute>()!.Values.OrderBy(Size).First());
            foreach (var property in type.GetProperties().Where(p => p.GetCustomAttribute<ParamsAttribute>() is not null))
                property.SetValue(instance, property.GetCustomAttribute<ParamsAttribute>()!.Values.OrderBy(Size).First());
            Invoke<GlobalSetupAttribute>(type, instance);
            try
            {
                foreach (var method in type.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null
                    && (methodFilter is null || m.Name.StartsWith(methodFilter, StringComparison.Ordinal))))
                {
                    method.Invoke(instance, null);
                    ran.Add($"{type.Name}.{method.Name}");
                    log.WriteLine($"smoke: {type.Name}.{method.Name} ran");
                }
            }
            finally
            {
                Invoke<GlobalCleanupAttribute>(type, instance);
            }
        }
        return ran;
    }

    private static void Invoke<TAttribute>(Type type, object instance) where TAttribute : Attribute
    {
        foreach (var m in type.GetMethods().Where(m => m.GetCustomAttribute<TAttribute>() is not null)) m.Invoke(instance, null);
    }

    /// <summary>A number's value; a shape string's element count (the product of its numbers).</summary>
    private static double Size(object? value) => value switch
    {
        int i => i,
        long l => l,
        string s => s.Split('x').Aggregate(1.0, (a, part) => a * (double.TryParse(part, out var v) ? v : 1)),
        _ => 0,
    };
}
