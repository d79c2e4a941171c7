namespace Kernels.Benchmarks;

/// <summary>The machine's own limits, measured inside the same benchmark run as the kernels.</summary>
public static class Limits
{
    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/> in one contiguous chunk per core.</summary>
    public static void ParallelCopy(float[] source, float[] destination)
    {
        var cores = Environment.ProcessorCount;
        Parallel.For(0, cores, c =>
        {
            var start = (int)((long)source.Length * c / cores);
            var end = (int)((long)source.Length * (c + 1) / cores);
            source.AsSpan(start, end - start).CopyTo(destination.AsSpan(start, end - start));
        });
    }
}
