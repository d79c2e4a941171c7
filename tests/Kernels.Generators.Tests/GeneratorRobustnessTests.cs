namespace Kernels.Generators.Tests;

/// <summary>Mutated and random attribute strings never make the generator throw or crash (CS8785).</summary>
public class GeneratorRobustnessTests
{
    internal static readonly string[] Fragments = { "[", "]", "(", ")", "=", "+", "*", "/", "max", "sum[", "iterate ", "until ", "{", "}", "init ", "where ", "<=", "partition ", "->", " x ", "with ", "index ", " in ", "\n", "#", "1e40", "-", "m1", "M0", "output ", "input ", ":", "f16", ",", "0", "logsumexp[", "exp(", "\"" };

    [Fact]
    public void Mutated_specs_never_crash_the_generator()
    {
        var specs = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "specs"), "*.einsum").Select(File.ReadAllText).ToList();
        var random = new Random(11);
        var total = 0;
        for (var batch = 0; batch < 25; batch++)
        {
            var sb = new System.Text.StringBuilder("using System;\nusing Kernels;\nnamespace Fuzz;\npublic static partial class K\n{\n");
            for (var i = 0; i < 16; i++)
            {
                var text = Mutate(specs[random.Next(specs.Count)], random);
                sb.Append($"    [Einsum(@\"{text.Replace("\"", "\"\"")}\")]\n    public static partial void M{i}(ReadOnlySpan<float> Q, ReadOnlySpan<float> K, ReadOnlySpan<float> V, Span<float> AV, int P, int M, int E, int F);\n");
                total++;
            }
            sb.Append("}\n");
            var result = GeneratorHarness.Generate(sb.ToString());
            Assert.All(result.Run.Results, r => Assert.Null(r.Exception));
            Assert.DoesNotContain(result.Output.GetDiagnostics(), d => d.Id is "CS8785" or "AD0001");
            Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Id is "KRN0998" or "KRN0999");
        }
        Assert.Equal(400, total);
    }

    internal static string Mutate(string spec, Random random)
    {
        var text = spec;
        var edits = random.Next(1, 6);
        for (var e = 0; e < edits; e++)
        {
            var at = random.Next(text.Length + 1);
            switch (random.Next(4))
            {
                case 0 when text.Length > 0:
                    text = text.Remove(Math.Min(at, text.Length - 1), Math.Min(random.Next(1, 12), text.Length - Math.Min(at, text.Length - 1)));
                    break;
                case 1:
                    text = text.Insert(at, Fragments[random.Next(Fragments.Length)]);
                    break;
                case 2:
                    text = text.Insert(at, ((char)random.Next(32, 127)).ToString());
                    break;
                default:
                    var lines = text.Split('\n').ToList();
                    if (lines.Count > 1) lines.RemoveAt(random.Next(lines.Count));
                    text = string.Join("\n", lines);
                    break;
            }
        }
        return text;
    }
}
