using System.Diagnostics;
using Xunit.Abstractions;

namespace Kernels.Package.Tests;

/// <summary>Packs src/Kernels once (a version of its own, so no cached package is reused) into a local feed.</summary>
public sealed class PackedFeed : IDisposable
{
    public PackedFeed()
    {
        Root = Path.Combine(Path.GetTempPath(), "kernels-package-" + Guid.NewGuid().ToString("N")[..12]);
        Feed = Path.Combine(Root, "feed");
        Directory.CreateDirectory(Feed);
        Version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", System.Globalization.CultureInfo.InvariantCulture);
        var project = Path.Combine(RepositoryRoot(), "src", "Kernels", "Kernels.csproj");
        PackLog = Dotnet.Run(Root, 600, "pack", project, "-c", "Release", "-o", Feed, $"-p:PackageVersion={Version}").Checked("dotnet pack");
    }

    public string Root { get; }

    public string Feed { get; }

    public string Version { get; }

    public string PackLog { get; }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// The checkout this test assembly was built from: the first folder above the test binaries that holds Kernels.sln.
    /// Not [CallerFilePath]: a CI build maps source paths to /_/ (ContinuousIntegrationBuild), so those name no folder.
    /// </summary>
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No Kernels.sln above {AppContext.BaseDirectory}: the package tests run from a checkout.");
    }
}

/// <summary>
/// A console project in a temporary folder that references only the package (from the local feed), declares a kernel
/// inline and one from a spec file, calls a built-in kernel, costs a kernel on a hardware model and checks every
/// result; and a project with a broken spec, whose build must fail with the KRN diagnostic at the spec's place.
/// </summary>
public class PackageTests(PackedFeed feed, ITestOutputHelper output) : IClassFixture<PackedFeed>
{
    [Fact]
    public void The_package_holds_the_runtime_for_net8_and_net10_the_generator_and_the_build_files()
    {
        var package = Path.Combine(feed.Feed, $"Kernels.{feed.Version}.nupkg");
        using var zip = System.IO.Compression.ZipFile.OpenRead(package);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
        foreach (var tfm in new[] { "net8.0", "net10.0" })
            foreach (var file in new[] { "Kernels.dll", "Kernels.xml", "Kernels.Einsum.dll", "Kernels.Hardware.dll" })
                Assert.Contains($"lib/{tfm}/{file}", entries);
        Assert.Contains("analyzers/dotnet/roslyn4.8/cs/Kernels.Generators.dll", entries);
        Assert.Contains("buildTransitive/Kernels.props", entries);
        Assert.Contains("buildTransitive/Kernels.targets", entries);
        Assert.Contains("README.md", entries);
        Assert.True(File.Exists(Path.Combine(feed.Feed, $"Kernels.{feed.Version}.snupkg")), "no symbol package");
        using var nuspec = new StreamReader(zip.GetEntry("Kernels.nuspec")!.Open());
        var text = nuspec.ReadToEnd();
        Assert.DoesNotContain("<dependency ", text, StringComparison.Ordinal); // nothing to restore but the package itself
    }

    [Theory]
    [InlineData("net10.0")]
    [InlineData("net8.0")]
    public void A_new_console_project_that_references_only_the_package_builds_and_runs(string framework)
    {
        var dir = NewProject("app-" + framework.Replace(".", ""), framework, AppSource);
        File.WriteAllText(Path.Combine(dir, "Specs", "rmsnorm.einsum"), RmsNormSpec);
        var build = Dotnet.Run(dir, 600, "build", "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false");
        output.WriteLine(build.Output);
        build.Checked("dotnet build");
        // .NET 8's runtime may be missing here: the net8.0 build then runs on the newest runtime (roll-forward), which
        // still runs the .NET 8 library with its own SIMD code paths.
        var rollForward = framework == "net8.0" && !Dotnet.Run(dir, 60, "--list-runtimes").Output.Contains("Microsoft.NETCore.App 8.", StringComparison.Ordinal);
        var run = Dotnet.Run(dir, 300, rollForward ? new Dictionary<string, string> { ["DOTNET_ROLL_FORWARD"] = "Major" } : null,
            Path.Combine(dir, "bin", "Release", framework, "App.dll"));
        output.WriteLine((rollForward ? "(on the newest runtime, rolled forward)\n" : "") + run.Output);
        run.Checked("the app");
        Assert.Contains("KERNELS PACKAGE OK", run.Output);
    }

    [Fact]
    public void A_broken_spec_is_a_KRN_error_at_its_place_in_the_consumers_build()
    {
        var dir = NewProject("broken", "net10.0", BrokenSource);
        var build = Dotnet.Run(dir, 600, "build", "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false");
        output.WriteLine(build.Output);
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("Program.cs(6,53): error KRN0005: Unknown tensor 'Q'", build.Output, StringComparison.Ordinal);
    }

    private string NewProject(string name, string framework, string program)
    {
        var dir = Path.Combine(feed.Root, name);
        Directory.CreateDirectory(Path.Combine(dir, "Specs"));
        File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="kernels-local" value="{feed.Feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(dir, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>{framework}</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <UseAppHost>false</UseAppHost>
                <AssemblyName>App</AssemblyName>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Kernels" Version="{feed.Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), program);
        return dir;
    }

    private const string RmsNormSpec = """
        # RMSNorm over the rows of X, with a gain per column.
        input X[p,n], G[n]
        output Y[p,n]
        SS[p] = sum[n] X[p,n] * X[p,n]
        Y[p,n] = X[p,n] * G[n] * rsqrt(SS[p] / N + 0.000001)
        """;

    private const string AppSource = """"
        using Kernels;
        using Kernels.Hardware;
        using Kernels.Hardware.Targets;

        var random = new Random(1);
        float[] Make(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        void Check(string what, double error)
        {
            Console.WriteLine($"{what}: max error {error:G3}");
            if (!(error < 1e-4)) throw new Exception($"{what} is wrong: {error}");
        }

        // An inline kernel: a dense layer with a bias and a ReLU.
        int m = 37, k = 29, n = 41;
        var x = Make(m * k); var w = Make(k * n); var b = Make(n); var y = new float[m * n];
        MyKernels.Dense(x, w, b, y, m, k, n);
        var worst = 0.0;
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double s = b[j];
                for (var t = 0; t < k; t++) s += (double)x[i * k + t] * w[t * n + j];
                worst = Math.Max(worst, Math.Abs(Math.Max(s, 0) - y[i * n + j]));
            }
        Check("Dense (inline spec)", worst);

        // A kernel from a spec file under the project.
        int p = 5, c = 300;
        var xs = Make(p * c); var g = Make(c); var ys = new float[p * c];
        MyKernels.RmsNorm(xs, g, ys, p, c);
        worst = 0;
        for (var i = 0; i < p; i++)
        {
            var ss = 0.0;
            for (var j = 0; j < c; j++) ss += (double)xs[i * c + j] * xs[i * c + j];
            for (var j = 0; j < c; j++) worst = Math.Max(worst, Math.Abs(xs[i * c + j] * g[j] / Math.Sqrt(ss / c + 1e-6) - ys[i * c + j]));
        }
        Check("RmsNorm (spec file)", worst);

        // A built-in kernel.
        var logits = Make(3 * 1000).Select(v => v * 30).ToArray(); var probabilities = new float[logits.Length];
        Softmax.Rows(logits, probabilities, 3, 1000);
        worst = 0;
        for (var i = 0; i < 3; i++)
        {
            var max = logits.Skip(i * 1000).Take(1000).Max();
            var sum = logits.Skip(i * 1000).Take(1000).Sum(v => Math.Exp(v - max));
            for (var j = 0; j < 1000; j++) worst = Math.Max(worst, Math.Abs(Math.Exp(logits[i * 1000 + j] - max) / sum - probabilities[i * 1000 + j]));
        }
        Check("Softmax.Rows (built-in)", worst);

        // A bad argument is an ArgumentException naming the parameter, before anything is written.
        try { MyKernels.Dense(x, w, b, y.AsSpan(1), m, k, n); throw new Exception("no exception for a short output"); }
        catch (ArgumentException e) when (e.ParamName == "Y") { Console.WriteLine("short output: " + e.GetType().Name + " for " + e.ParamName); }

        // The same cascade costed on a hardware model.
        var cost = Attention.ForwardDescriptor.Cost(SpatialPresets.FuseMax, new Dictionary<string, int> { ["P"] = 4096, ["M"] = 4096, ["E"] = 64, ["F"] = 64 });
        Console.WriteLine($"attention on FuseMax: {cost.LatencySeconds * 1e6:F1} us, 2D utilisation {cost.Util2D:P0}");
        if (!(cost.LatencySeconds > 0 && cost.Util2D > 0.5)) throw new Exception("implausible cost");
        Console.WriteLine($"{System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}: KERNELS PACKAGE OK");

        public static partial class MyKernels
        {
            [Einsum("""
                input X[m,k], W[k,n], B[n]
                output Y[m,n]
                Y[m,n] = relu(sum[k] X[m,k] * W[k,n] + B[n])
                """)]
            public static partial void Dense(ReadOnlySpan<float> X, ReadOnlySpan<float> W, ReadOnlySpan<float> B, Span<float> Y, int M, int K, int N);

            [Einsum(SpecFile = "rmsnorm.einsum")]
            public static partial void RmsNorm(ReadOnlySpan<float> X, ReadOnlySpan<float> G, Span<float> Y, int P, int N);
        }
        """";

    private const string BrokenSource = """
        using Kernels;

        Console.WriteLine("unreachable");

        public static partial class Broken
        {   [Einsum("input X[i]\noutput Y[i]\nY[i] = X[i] * Q[i]")] public static partial void Run(ReadOnlySpan<float> X, Span<float> Y, int I);
        }
        """;
}

/// <summary>Runs the dotnet CLI in a folder with a time limit, isolated from the MSBuild of the test run that started it.</summary>
internal static class Dotnet
{
    public sealed record Result(int ExitCode, string Output)
    {
        public string Checked(string what) => ExitCode == 0 ? Output : throw new InvalidOperationException($"{what} exited with {ExitCode}:\n{Output}");
    }

    public static Result Run(string directory, int timeoutSeconds, params string[] args) => Run(directory, timeoutSeconds, null, args);

    public static Result Run(string directory, int timeoutSeconds, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        // The test host runs under `dotnet test`: its MSBuild settings must not leak into a separate build.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("MSBUILD", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(key);
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(" ", args)} took more than {timeoutSeconds} s");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result + stderr.Result);
    }
}
