namespace Kernels.Generators.Tests;

/// <summary>Runs alone: it reads a process-wide count of scratch bytes, which kernels of other tests would add to.</summary>
[CollectionDefinition(nameof(ScratchAccounting), DisableParallelization = true)]
public sealed class ScratchAccounting
{
}

/// <summary>
/// Attention's memory does not grow with the keys per query: over a long sequence the scratch a call asks for (tiles of
/// K and V, a block of rows' running max, sum and accumulator) stays within a few copies of one head's keys and values,
/// where a buffer of the scores per query would need queries x keys floats.
/// </summary>
[Collection(nameof(ScratchAccounting))]
public class AttentionMemoryTests
{
    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(true, 1024)]
    public void A_long_sequence_needs_scratch_for_its_keys_not_for_its_scores(bool causal, int window)
    {
        const int length = 16384, dim = 16;
        var shape = AttentionShape.MultiHead(1, 1, length, length, dim);
        var r = new Random(3);
        var q = Enumerable.Range(0, length * dim).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        var output = new float[length * dim];
        var options = new AttentionOptions(Causal: causal, Window: window);
        Attention.Forward(q, q, q, output, shape, options); // the first call may size the arena; count the second
        var before = Kernels.Runtime.KernelRuntime.ScratchBytesHeld;
        Kernels.Runtime.KernelRuntime.ResetScratchPeak();
        Attention.Forward(q, q, q, output, shape, options);
        var used = Kernels.Runtime.KernelRuntime.ScratchBytesPeak - before;

        var keysAndValues = 2L * length * dim * sizeof(float);  // 2 MiB: one head's K and V
        var scores = (long)length * length * sizeof(float);     // 1 GiB: a row of scores per query
        Assert.True(used > 0, "the kernel asked for no scratch: the count does not see it");
        Assert.Equal(before, Kernels.Runtime.KernelRuntime.ScratchBytesHeld); // all of it given back
        Assert.True(used <= 4 * keysAndValues + (8L << 20), $"{used:N0} bytes of scratch for {keysAndValues:N0} bytes of keys and values");
        Assert.True(used * 64 < scores, $"{used:N0} bytes of scratch is not far below the {scores:N0} of the scores");
    }
}
