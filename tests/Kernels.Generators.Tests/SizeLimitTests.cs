using System.Diagnostics;
using System.Numerics;
using Kernels.Einsum.Emit;
using Kernels.Einsum.Ir;

namespace Kernels.Generators.Tests;

/// <summary>
/// Generated kernels called with sizes near the limits of int and long (products that wrap around a 64-bit long,
/// single sizes of int.MaxValue, zeros beside huge sizes) and spans that are too short, empty or exact. Every call
/// either throws an <see cref="ArgumentException"/> naming a parameter of the method before touching memory, or an
/// <see cref="InsufficientMemoryException"/> for scratch larger than the process may use, or returns; small calls
/// match the interpreter, calls with no output point return at once. A wrapped-around size check would let a
/// kernel read and write out of bounds, which takes the test process down.
/// </summary>
public class SizeLimitTests
{
    private static readonly int[] Sizes = { 0, 1, 2, 3, 7, 64, 1 << 16, 46341, 1 << 21, 1 << 22, 1 << 30, int.MaxValue - 1, int.MaxValue };
    private static readonly int[] Tiles = { 1, 2, 5, 1 << 20, int.MaxValue };

    private static readonly Lazy<KernelBench> Bench = new(() =>
    {
        var bench = new KernelBench(SpecKernelTests.Cases().Concat(RandomCascades.Generate(200, seed: 20261123)));
        bench.Compile();
        return bench;
    });

    [Fact]
    public void Sizes_near_the_limits_never_fault_and_always_name_a_parameter()
    {
        var bench = Bench.Value;
        var random = new Random(4242);
        int rejected = 0, empty = 0, ran = 0, compared = 0;
        var failures = new List<string>();
        for (var i = 0; i < bench.Count; i++)
        {
            var cascade = bench.Cascade(i);
            var sig = bench.Signature(i);
            for (var trial = 0; trial < 40; trial++)
            {
                var small = trial < 8;
                var sizes = new Dictionary<string, int>();
                foreach (var p in sig.Parameters.Where(p => p.Kind == KernelParameterKind.Size))
                {
                    var rank = cascade.Ranks.First(r => r.Size == p.Name && r.AliasOf is null);
                    sizes[p.Name] = rank.Kind == RankKind.PartitionInner
                        ? (small ? random.Next(1, 6) : Tiles[random.Next(Tiles.Length)])
                        : (small ? random.Next(0, 9) : Sizes[random.Next(Sizes.Length)]);
                }
                var ranks = RankSizes(cascade, sizes);
                var need = cascade.Tensors.Where(t => t.Role != TensorRole.Intermediate)
                    .ToDictionary(t => t.Name, t => t.Dims.Aggregate(BigInteger.One, (a, d) => a * (ranks[d.Rank] + d.Offset)));

                var tensors = new List<float[]>();
                var scalars = new List<float>();
                var tooShort = false;
                foreach (var p in sig.Parameters)
                {
                    if (p.Kind == KernelParameterKind.Size) continue;
                    if (p.Kind is KernelParameterKind.ScalarInput or KernelParameterKind.IntegerScalarInput) { scalars.Add(0.25f); continue; }
                    var n = need[p.Name];
                    int length;
                    if (n <= 4096) length = !small && n > 0 && random.Next(5) == 0 ? (int)n - 1 : (int)n;
                    else length = random.Next(0, 33);
                    tooShort |= length < n;
                    var array = new float[length];
                    for (var k = 0; k < length; k++) array[k] = (float)(random.NextDouble() - 0.5);
                    tensors.Add(array);
                }
                var noOutput = cascade.Outputs.All(o => need[o.Name].IsZero);
                // Points visited plus points written (a reduction over nothing still writes its identity).
                var work = cascade.Einsums.Sum(e => e.Ranks.Aggregate(1.0, (a, r) => a * (double)ranks[r]) + e.OutputRanks.Aggregate(1.0, (a, r) => a * (double)ranks[r]));
                // A call that passes its checks with much work would only be slow, not wrong: not run here.
                if (!tooShort && !noOutput && work > 2e6) continue;

                var sizeArgs = sig.Parameters.Where(p => p.Kind == KernelParameterKind.Size).Select(p => sizes[p.Name]).ToArray();
                var what = $"{bench.Case(i).Name} {KernelBench.Show(sizes)}";
                var clock = Stopwatch.StartNew();
                try
                {
                    bench.Invoke(i, tensors.ToArray(), scalars.ToArray(), sizeArgs);
                    if (tooShort) failures.Add($"{what}: a span shorter than its shape was accepted");
                    else if (noOutput) empty++;
                    else ran++;
                }
                catch (ArgumentException ex)
                {
                    var names = sig.Parameters.Select(p => p.Name).ToHashSet();
                    var named = ex.ParamName is not null && ex.ParamName.Split(", ").All(names.Contains);
                    if (!named) failures.Add($"{what}: ArgumentException names '{ex.ParamName}', not a parameter: {ex.Message}");
                    else if (!tooShort && !ex.Message.Contains("stop condition")) failures.Add($"{what}: rejected arguments that fit: {ex.Message}");
                    else rejected++;
                }
                catch (InsufficientMemoryException) when (!tooShort)
                {
                    ran++;
                }
                catch (Exception ex)
                {
                    failures.Add($"{what}: threw {ex.GetType().Name}: {ex.Message}");
                }
                if (noOutput && clock.ElapsedMilliseconds > 500) failures.Add($"{what}: took {clock.ElapsedMilliseconds} ms with no output point");

                if (small && !tooShort && !noOutput && work < 1e5)
                {
                    var inputs = KernelBench.RandomInputs(cascade, sizes, seed: trial, scale: bench.Case(i).InputScale);
                    bench.Case(i).Apply(inputs, sizes);
                    var failure = bench.Compare(i, sizes, inputs, RandomCascadeTests.Tolerance);
                    if (failure is not null) failures.Add($"{what}: {failure}");
                    compared++;
                }
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n" + string.Join("\n", failures.Take(20)));
        // The trials must reach every outcome, or they prove little.
        Assert.True(rejected > 1000, $"only {rejected} calls were rejected");
        Assert.True(empty > 100, $"only {empty} calls had no output point");
        Assert.True(ran > 500, $"only {ran} calls ran");
        Assert.True(compared > 500, $"only {compared} calls were compared with the interpreter");
    }

    [Fact]
    public void A_shape_whose_element_count_wraps_around_a_long_is_rejected_before_memory_is_touched()
    {
        // 2^22 x 2^21 x 2^21 = 2^64 wrapped to 0 in an unchecked long: every check passed and the kernel wrote out of bounds.
        var bench = new KernelBench(new[] { new KernelCase("bmm", """
            input X[b,i,k], W[b,k,j]
            output C[b,i,j]
            C[b,i,j] = sum[k] X[b,i,k] * W[b,k,j]
            """, Array.Empty<IReadOnlyDictionary<string, int>>()) });
        bench.Compile();
        var sizes = bench.Signature(0).Parameters.Where(p => p.Kind == KernelParameterKind.Size)
            .Select(p => p.Name switch { "B" => 1 << 22, "I" => 1 << 21, "K" => 1 << 21, _ => 1 }).ToArray();
        foreach (var length in new[] { 0, 16 })
        {
            var tensors = new[] { new float[length], new float[length], new float[length] };
            var ex = Assert.ThrowsAny<ArgumentException>(() => bench.Invoke(0, tensors, Array.Empty<float>(), sizes));
            Assert.Equal("X", ex.ParamName);
            Assert.Contains("overflows", ex.Message);
        }
    }

    [Fact]
    public void Built_in_kernels_with_no_output_point_return_at_once_whatever_the_other_sizes()
    {
        // Before: an OutOfMemoryException for scratch sized by the value width alone.
        LinearAttention.Causal(default, default, default, default, length: 0, keyDim: 64, valueDim: 100_000, slope: 0.1f);
        LinearAttention.Causal(default, default, default, default, length: 100_000, keyDim: 0, valueDim: 0, slope: 0.1f);
        // Before: seconds spent looping over int.MaxValue queries that have no value column to write.
        var clock = Stopwatch.StartNew();
        Attention.Forward(default, default, default, default, queryLength: int.MaxValue, keyLength: 0, headDim: 0, valueDim: 0);
        Assert.True(clock.ElapsedMilliseconds < 1000, $"took {clock.ElapsedMilliseconds} ms");
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    [InlineData(-0.5f)]
    public void Linear_attention_rejects_a_slope_that_is_not_a_finite_decay(float slope)
    {
        var q = new float[4 * 2];
        var v = new float[4 * 3];
        var o = new float[4 * 3];
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => LinearAttention.Causal(q, q, v, o, 4, 2, 3, slope));
        Assert.Equal("slope", ex.ParamName);
        Assert.All(o, x => Assert.Equal(0f, x));
    }

    /// <summary>Every rank's size as a BigInteger: bound sizes, defaults, partitions rounded up, aliases.</summary>
    private static Dictionary<string, BigInteger> RankSizes(Cascade cascade, IReadOnlyDictionary<string, int> sizes)
    {
        var result = new Dictionary<string, BigInteger>();
        foreach (var r in cascade.Ranks.Where(r => r.AliasOf is null && r.Kind != RankKind.PartitionOuter))
            result[r.Index] = sizes.TryGetValue(r.Size, out var v) ? v : r.DefaultSize!.Value;
        foreach (var r in cascade.Ranks.Where(r => r.AliasOf is null && r.Kind == RankKind.PartitionOuter))
        {
            var inner = cascade.Ranks.First(x => x.Kind == RankKind.PartitionInner && x.AliasOf is null && x.PartitionOf == r.PartitionOf);
            var of = result[r.PartitionOf!];
            var tile = result[inner.Index];
            result[r.Index] = (of + tile - 1) / tile;
        }
        foreach (var r in cascade.Ranks.Where(r => r.AliasOf is not null)) result[r.Index] = result[r.AliasOf!];
        return result;
    }
}
