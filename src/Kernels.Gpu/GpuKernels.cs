using System;
using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Kernels.Gpu;

/// <summary>
/// Loads and launches the kernels that <c>IlgpuKernelEmitter</c> prints. A kernel is compiled for an accelerator once,
/// on its first launch there, and kept for the accelerator's lifetime.
/// </summary>
public static class GpuKernels
{
    private static readonly ConditionalWeakTable<Accelerator, ConcurrentDictionary<MethodInfo, Delegate>> Loaded = new();

    /// <summary>Kernels compiled so far on any accelerator (a launch that reuses a compiled kernel does not count).</summary>
    public static int Compilations => _compilations;

    private static int _compilations;

    /// <summary>Runs <paramref name="kernel"/> for <paramref name="points"/> grid points (none when 0 or fewer) on the accelerator's default stream.</summary>
    /// <exception cref="ArgumentException">More points than one launch can index.</exception>
    public static void Launch<TTensors, TSizes>(Accelerator accelerator, Action<Index1D, TTensors, TSizes, long> kernel, long points, TTensors tensors, TSizes sizes, long step)
        where TTensors : struct
        where TSizes : struct
    {
        if (accelerator is null) throw new ArgumentNullException(nameof(accelerator));
        if (kernel is null) throw new ArgumentNullException(nameof(kernel));
        if (points <= 0) return;
        if (points > int.MaxValue)
            throw new ArgumentException($"The kernel {kernel.Method.Name} has {points} points, more than one launch can index ({int.MaxValue}); use smaller sizes.", nameof(points));
        var cache = Loaded.GetValue(accelerator, _ => new ConcurrentDictionary<MethodInfo, Delegate>());
        var launcher = (Action<Index1D, TTensors, TSizes, long>)cache.GetOrAdd(kernel.Method, _ =>
        {
            System.Threading.Interlocked.Increment(ref _compilations);
            return accelerator.LoadAutoGroupedStreamKernel(kernel);
        });
        launcher((int)points, tensors, sizes, step);
    }
}
