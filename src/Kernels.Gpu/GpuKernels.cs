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

    /// <summary>Allocates <paramref name="count"/> zeroed elements (at least one) on the accelerator, owned by <paramref name="owned"/>.</summary>
    public static ArrayView<T> Scratch<T>(Accelerator accelerator, long count, System.Collections.Generic.List<IDisposable> owned)
        where T : unmanaged
    {
        if (accelerator is null) throw new ArgumentNullException(nameof(accelerator));
        if (owned is null) throw new ArgumentNullException(nameof(owned));
        var buffer = accelerator.Allocate1D<T>(Math.Max(1L, count));
        owned.Add(buffer);
        buffer.MemSetToZero();
        return ((ArrayView<T>)buffer.View).SubView(0, count);
    }

    /// <summary>Sets every element of the view to 0 (an output's absent points read as 0).</summary>
    public static void Zero(ArrayView<float> view)
    {
        if (view.Length > 0) view.MemSetToZero();
    }

    /// <summary>Copies host memory into a new zero-padded buffer of the accelerator, owned by <paramref name="owned"/>.</summary>
    public static ArrayView<T> Upload<T>(Accelerator accelerator, ReadOnlySpan<T> data, System.Collections.Generic.List<IDisposable> owned) where T : unmanaged
    {
        var view = Scratch<T>(accelerator, data.Length, owned);
        if (data.Length > 0) view.CopyFromCPU(data);
        return view;
    }

    /// <summary>Copies a view back to host memory (after the accelerator finished).</summary>
    public static void Download(ArrayView<float> view, Span<float> destination)
    {
        if (destination.Length > 0) view.CopyToCPU(destination);
    }

    /// <summary>Releases what <see cref="Scratch{T}"/> and <see cref="Upload"/> allocated.</summary>
    public static void Release(System.Collections.Generic.List<IDisposable> owned)
    {
        if (owned is null) return;
        foreach (var d in owned) d.Dispose();
        owned.Clear();
    }

    /// <summary>Runs <paramref name="kernel"/> with one group per grid point (none when <paramref name="points"/> is 0 or
    /// fewer) of <paramref name="groupSize"/> threads (at least a warp), or of the largest power of two the accelerator
    /// allows when that is fewer (ILGPU's CPU accelerator: 16); the kernel reads its point from <c>Grid.IdxX</c>, its thread from
    /// <c>Group.IdxX</c> and the group's size from <c>Group.DimX</c>; each group gets <paramref name="sharedFloats"/> floats of
    /// dynamic shared memory for its staged tiles (<see cref="Stage"/>).</summary>
    /// <exception cref="ArgumentException">More points than one launch can index, or a group size that is not a power of two.</exception>
    public static void LaunchGroups<TTensors, TSizes>(Accelerator accelerator, Action<TTensors, TSizes, long> kernel, long points, int groupSize, TTensors tensors, TSizes sizes, long step, long sharedFloats = 0)
        where TTensors : struct
        where TSizes : struct
    {
        if (accelerator is null) throw new ArgumentNullException(nameof(accelerator));
        if (kernel is null) throw new ArgumentNullException(nameof(kernel));
        if (points <= 0) return;
        if (points > int.MaxValue)
            throw new ArgumentException($"The kernel {kernel.Method.Name} has {points} groups, more than one launch can index ({int.MaxValue}); use smaller sizes.", nameof(points));
        if (groupSize < 1 || (groupSize & (groupSize - 1)) != 0)
            throw new ArgumentException($"The kernel {kernel.Method.Name} asks for groups of {groupSize} threads; a group has a power of two threads.", nameof(groupSize));
        // Whole warps (the printed merges shuffle within a warp), as many as the accelerator allows.
        groupSize = Math.Max(groupSize, accelerator.WarpSize);
        while (groupSize > accelerator.MaxNumThreadsPerGroup) groupSize /= 2;
        var cache = Loaded.GetValue(accelerator, _ => new ConcurrentDictionary<MethodInfo, Delegate>());
        var launcher = (Action<KernelConfig, TTensors, TSizes, long>)cache.GetOrAdd(kernel.Method, _ =>
        {
            System.Threading.Interlocked.Increment(ref _compilations);
            return accelerator.LoadStreamKernel(kernel);
        });
        if (sharedFloats < 0 || sharedFloats > int.MaxValue / sizeof(float))
            throw new ArgumentOutOfRangeException(nameof(sharedFloats), sharedFloats, "Dynamic shared memory is 0 or more floats, within what one group can address.");
        var config = sharedFloats > 0 ? new KernelConfig((int)points, groupSize, SharedMemoryConfig.RequestDynamic<float>((int)sharedFloats)) : new KernelConfig((int)points, groupSize);
        launcher(config, tensors, sizes, step);
    }

    private static readonly System.Threading.AsyncLocal<int?> Limit = new();

    /// <summary>
    /// The bytes of shared memory a group may use, staged tiles and the kernel's own arrays together; null (the default):
    /// the accelerator's <see cref="Accelerator.MaxSharedMemoryPerGroup"/>. Set for the current flow of execution only (an
    /// <see cref="System.Threading.AsyncLocal{T}"/>): a smaller value makes fused kernels read more of their tiles from
    /// device memory, which gives the same results.
    /// </summary>
    public static int? SharedMemoryLimit
    {
        get => Limit.Value;
        set => Limit.Value = value is < 0 ? throw new ArgumentOutOfRangeException(nameof(value), value, "A limit is 0 or more bytes.") : value;
    }

    /// <summary>
    /// The shared memory a launch gives a fused kernel's staged tiles and group buffers: each, in the kernel's order, when
    /// its <paramref name="items"/>[i] floats fit in what the kernel's own <paramref name="staticBytes"/> and the earlier
    /// items left of the group's limit (<see cref="SharedMemoryLimit"/>); <c>Mask</c> has bit i set for each that got it
    /// (the kernel reads the others from device memory), <c>Floats</c> is their total.
    /// </summary>
    public static (long Mask, long Floats) Stage(Accelerator accelerator, int staticBytes, params long[] items)
    {
        if (accelerator is null) throw new ArgumentNullException(nameof(accelerator));
        if (items is null) throw new ArgumentNullException(nameof(items));
        long room = (SharedMemoryLimit ?? accelerator.MaxSharedMemoryPerGroup) - (long)staticBytes;
        long used = 0, mask = 0;
        for (var i = 0; i < items.Length && i < 63; i++)
        {
            if (items[i] < 0 || (used + items[i]) * sizeof(float) > room) continue;
            used += items[i];
            mask |= 1L << i;
        }
        return (mask, used);
    }

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
