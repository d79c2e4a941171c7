using System;
using System.Linq;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Kernels.Gpu;

/// <summary>
/// An ILGPU context and the accelerator the kernels run on: the best one this machine has (CUDA, then OpenCL, then ILGPU's
/// CPU accelerator, which runs kernels without a GPU), or the kind asked for. Dispose it to release the device.
/// </summary>
public sealed class GpuContext : IDisposable
{
    private readonly Context _context;

    private GpuContext(Context context, Accelerator accelerator)
    {
        _context = context;
        Accelerator = accelerator;
    }

    /// <summary>The accelerator kernels launch on.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Its kind (Cuda, OpenCL, CPU).</summary>
    public AcceleratorType Kind => Accelerator.AcceleratorType;

    /// <summary>"Cuda: NVIDIA H200 (139 GiB)", for logs and the CLI.</summary>
    public string Description => Accelerator.AcceleratorType == AcceleratorType.CPU
        ? $"CPU: ILGPU's CPU accelerator ({Accelerator.NumMultiprocessors} processors, warps of {Accelerator.WarpSize})"
        : $"{Accelerator.AcceleratorType}: {Accelerator.Name} ({Accelerator.MemorySize / (1L << 30)} GiB)";

    /// <summary>Opens the best accelerator: CUDA, then OpenCL, then the CPU accelerator; or only the kind given.</summary>
    /// <exception cref="InvalidOperationException">No accelerator of the kind asked for.</exception>
    public static GpuContext Open(AcceleratorType? kind = null)
    {
        var context = Context.Create(b => b.Default().EnableAlgorithms());
        try
        {
            var device = context.Devices
                .Where(d => kind is null || d.AcceleratorType == kind)
                .OrderBy(d => d.AcceleratorType switch { AcceleratorType.Cuda => 0, AcceleratorType.OpenCL => 1, _ => 2 })
                .ThenByDescending(d => d.MemorySize)
                .FirstOrDefault();
            if (device is null)
                throw new InvalidOperationException($"This machine has no {kind} accelerator; it has {string.Join(", ", context.Devices.Select(d => $"{d.AcceleratorType} ({d.Name})"))}.");
            return new GpuContext(context, device.CreateAccelerator(context));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
    }
}
