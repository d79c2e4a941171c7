using System;
using System.Runtime.InteropServices;
using System.Threading.Tasks;

namespace Kernels.Runtime;

/// <summary>Scratch memory and threading for generated kernels.</summary>
public static unsafe class KernelRuntime
{
    /// <summary>
    /// Below this many points of work a kernel runs on the calling thread: waking a worker costs a
    /// few microseconds, more than the work saves.
    /// </summary>
    public const long ParallelThreshold = 1 << 15;

    /// <summary>64-byte aligned scratch of <paramref name="count"/> floats (at least one), uninitialised.</summary>
    public static float* Allocate(long count) =>
        (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(1L, count) * sizeof(float), 64);

    /// <summary>Zeroed presence flags for <paramref name="count"/> points (1: the point exists).</summary>
    public static byte* AllocatePresence(long count)
    {
        var p = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(1L, count), 64);
        NativeMemory.Clear(p, (nuint)Math.Max(1L, count));
        return p;
    }

    public static void Free(void* pointer) => NativeMemory.AlignedFree(pointer);

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over <c>[0, count)</c> split into contiguous chunks, one
    /// per thread, or inline when the work is small or only one thread is allowed.
    /// </summary>
    /// <param name="count">Points of the parallel rank.</param>
    /// <param name="work">Estimated points of work in total, to decide whether threads pay off.</param>
    /// <param name="maxDegreeOfParallelism">The most threads; 0 for one per processor.</param>
    /// <param name="body">Called with a half-open range of the parallel rank.</param>
    public static void For(int count, long work, int maxDegreeOfParallelism, Action<int, int> body)
    {
        var threads = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;
        threads = (int)Math.Min(threads, Math.Min(count, Math.Max(1L, work / ParallelThreshold)));
        if (threads <= 1)
        {
            if (count > 0) body(0, count);
            return;
        }
        var chunks = threads;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
        {
            var start = (int)((long)count * c / chunks);
            var end = (int)((long)count * (c + 1) / chunks);
            if (start < end) body(start, end);
        });
    }
}
