using System;
using System.Runtime.InteropServices;

namespace Kernels.Runtime;

/// <summary>Scratch memory and threading for generated kernels.</summary>
public static unsafe class KernelRuntime
{
    /// <summary>
    /// Below this many points of work a kernel runs on the calling thread: waking a worker costs a
    /// few microseconds, more than the work saves.
    /// </summary>
    public const long ParallelThreshold = 1 << 15;

    /// <summary>
    /// The L2 cache of one core in bytes, which the built-in attention sizes its key tiles by: read on Linux from
    /// /sys/devices/system/cpu/cpu0/cache (the unified or data cache of level 2); 1 MB where it cannot be read, and
    /// clamped to [256 KB, 4 MB] (a VM may report what its host has).
    /// </summary>
    public static long L2CacheBytes => s_l2 ??= ReadL2();

    private static long? s_l2;

    private static long ReadL2()
    {
        const long fallback = 1 << 20;
        try
        {
            const string root = "/sys/devices/system/cpu/cpu0/cache";
            if (!System.IO.Directory.Exists(root)) return fallback;
            foreach (var index in System.IO.Directory.GetDirectories(root, "index*"))
            {
                string Read(string name) => System.IO.File.ReadAllText(System.IO.Path.Combine(index, name)).Trim();
                if (Read("level") != "2" || Read("type") == "Instruction") continue;
                var size = Read("size");
                var scale = size.EndsWith('K') ? 1L << 10 : size.EndsWith('M') ? 1L << 20 : 1L;
                if (long.TryParse(size.TrimEnd('K', 'M'), out var value) && value > 0) return Math.Clamp(value * scale, 256L << 10, 4L << 20);
            }
        }
        catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException)
        {
        }
        return fallback;
    }

    /// <summary>
    /// The number of elements of a shape, or <see cref="long.MaxValue"/> when the product does not fit in a long
    /// (0 when any extent is 0, however large the others). Generated size checks compare spans against it, so a
    /// shape whose product would wrap around can never pass them.
    /// </summary>
    public static long Elements(ReadOnlySpan<long> extents)
    {
        long product = 1;
        var saturated = false;
        foreach (var e in extents)
        {
            if (e <= 0) return 0;
            if (saturated || product > long.MaxValue / e) saturated = true;
            else product *= e;
        }
        return saturated ? long.MaxValue : product;
    }

    /// <summary>An element count for a message: the number, or a note that it overflowed.</summary>
    public static string Describe(long elements) =>
        elements == long.MaxValue ? "more than " + long.MaxValue + " (the product of the sizes overflows)" : elements.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Checked before a kernel touches any memory: scratch of <paramref name="count"/> floats must be representable
    /// (else an <see cref="ArgumentException"/> naming <paramref name="sizes"/>) and must fit in the memory this process
    /// may use (else an <see cref="InsufficientMemoryException"/>).
    /// </summary>
    /// <param name="count">Floats of scratch, from <see cref="Elements"/>.</param>
    /// <param name="what">The tensor and the sizes of its stored dimensions, for the message.</param>
    /// <param name="sizes">The size parameters the count depends on, comma-separated.</param>
    public static void CheckScratch(long count, string what, string sizes)
    {
        if (count < MinimumCheckedScratch) return;
        if (count > long.MaxValue / sizeof(float))
            throw new ArgumentException($"Scratch for the intermediate {what} needs {Describe(count)} floats, more than any machine can address; use smaller sizes.", sizes);
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (available > 0 && count * sizeof(float) > available)
            throw new InsufficientMemoryException($"Scratch for the intermediate {what} needs {count * sizeof(float)} bytes, more than the {available} bytes this process may use.");
    }

    /// <summary>Scratch below this many floats (256 MiB) is allocated without asking how much memory there is.</summary>
    private const long MinimumCheckedScratch = 1L << 26;

    /// <summary>
    /// The vector width generated kernels run at, in bits: the widest the processor accelerates (512, 256 or 128), or 32
    /// (one float) without SIMD; <see cref="ForceWidth"/> overrides it on the calling thread.
    /// </summary>
    public static int Width => t_width != 0 ? t_width : NativeWidth;

    private static readonly int NativeWidth =
        System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? 512
        : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? 256
        : System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated ? 128
        : 32;

    [ThreadStatic] private static int t_width;

    /// <summary>
    /// Makes kernels called from this thread run at <paramref name="bits"/> (512, 256, 128 or 32), accelerated or not
    /// (a width the processor lacks is emulated, slowly), until the returned scope is disposed: tests run every width's
    /// code on any machine, and benchmarks can compare widths.
    /// </summary>
    public static IDisposable ForceWidth(int bits)
    {
        if (bits is not (512 or 256 or 128 or 32)) throw new ArgumentOutOfRangeException(nameof(bits), bits, "The widths are 512, 256, 128 and 32 bits.");
        var previous = t_width;
        t_width = bits;
        return new Scope(() => t_width = previous);
    }

    /// <summary>
    /// True when a kernel should split each row of its parallel rank across threads instead of giving each thread whole
    /// rows: fewer rows than threads, and enough work in each row (one softmax row of 16M floats, say) to pay for a
    /// fork and join per Einsum. <see cref="ForceSplitRows"/> makes it true on the calling thread.
    /// </summary>
    public static bool SplitRows(int rows, long work, int maxDegreeOfParallelism)
    {
        if (t_splitRows) return true;
        var threads = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;
        return threads > 1 && rows < threads && work / Math.Max(1, rows) >= 4 * ParallelThreshold;
    }

    [ThreadStatic] private static bool t_splitRows;

    /// <summary>Makes kernels called from this thread split their rows across threads (in three parts, however small),
    /// until the returned scope is disposed: tests run that code on any machine.</summary>
    public static IDisposable ForceSplitRows()
    {
        var previous = t_splitRows;
        t_splitRows = true;
        return new Scope(() => t_splitRows = previous);
    }

    private sealed class Scope(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }

    /// <summary>The parts a range is split into: one per thread (fewer when the work is small), or three when forced
    /// (uneven parts, on any machine).</summary>
    private static int Parts(int count, int maxDegreeOfParallelism, long work = long.MaxValue)
    {
        var threads = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;
        if (!t_splitRows) threads = (int)Math.Min(threads, Math.Max(1L, work / ParallelThreshold));
        return Math.Max(1, Math.Min(count, t_splitRows ? 3 : threads));
    }

    /// <summary>Runs <paramref name="body"/>(start, end) over <c>[0, count)</c> in contiguous parts, one per thread: a map
    /// over one row split across threads, or an Einsum that runs before the parallel rank's loop split over its first
    /// rank. <paramref name="work"/> (points in all) keeps small work on the calling thread.</summary>
    public static void Split(int count, int maxDegreeOfParallelism, Action<int, int> body, long work = long.MaxValue)
    {
        var parts = Parts(count, maxDegreeOfParallelism, work);
        if (parts <= 1)
        {
            if (count > 0) body(0, count);
            return;
        }
        Workers.Run(parts, parts, c => body((int)((long)count * c / parts), (int)((long)count * (c + 1) / parts)));
    }

    /// <summary>A reduction over one row split across threads: each part reduces its range (<paramref name="body"/>
    /// returns the part's result), then the parts are merged in order with <paramref name="merge"/>.</summary>
    public static T SplitReduce<T>(int count, int maxDegreeOfParallelism, T identity, Func<int, int, T> body, Func<T, T, T> merge)
    {
        var parts = Parts(count, maxDegreeOfParallelism);
        if (parts <= 1) return count > 0 ? body(0, count) : identity;
        var partial = new T[parts];
        Workers.Run(parts, parts, c => partial[c] = body((int)((long)count * c / parts), (int)((long)count * (c + 1) / parts)));
        var result = partial[0];
        for (var c = 1; c < parts; c++) result = merge(result, partial[c]);
        return result;
    }

    /// <summary>
    /// The most rows of the parallel rank a kernel runs as one block (see <see cref="RowBlock"/>). Each block streams
    /// its key/value tiles (and a contraction's B strips) once, so longer blocks read them fewer times: attention B1 H4
    /// L2048 D64 on one Zen 3 core (512 KB L2) ran at 75.5 GFLOP/s with 96 and 77.5-78 with 192 (162 rows there, where
    /// the scratch budget stops it).
    /// </summary>
    public const int MaxRowBlock = 192;

    /// <summary>
    /// Rows of the parallel rank per block for a kernel that blocks them: as many as keep the block's scratch (the
    /// floats per row of each scratch tensor, summed) within about half of a typical L2 cache, at most
    /// <see cref="MaxRowBlock"/>, a multiple of the micro-kernel's <see cref="Gemm.RowTile"/> when at least one tile fits.
    /// </summary>
    public static int RowBlock(ReadOnlySpan<long> floatsPerRow)
    {
        long perRow = 0;
        foreach (var f in floatsPerRow) perRow = f >= long.MaxValue - perRow ? long.MaxValue : perRow + f;
        const long budget = 256 * 1024 / sizeof(float);
        var rows = (int)Math.Clamp(budget / Math.Max(1L, perRow), 1L, MaxRowBlock);
        return rows >= Gemm.RowTile ? rows / Gemm.RowTile * Gemm.RowTile : rows;
    }

    /// <summary>
    /// 64-byte aligned scratch of <paramref name="count"/> floats (at least one), uninitialised, from the calling thread's
    /// arena: blocks freed by <see cref="Free"/> are kept per thread and handed out again, so a kernel called in a loop
    /// allocates nothing after its first call. (Returning scratch to the system on every call made each call fault its
    /// pages in again, which cost more than the attention it served on a virtual machine.)
    /// </summary>
    public static float* Allocate(long count) => (float*)Take(Math.Max(1L, count) * sizeof(float));

    /// <summary>Zeroed presence flags for <paramref name="count"/> points (1: the point exists).</summary>
    public static byte* AllocatePresence(long count)
    {
        var bytes = Math.Max(1L, count);
        var p = (byte*)Take(bytes);
        NativeMemory.Clear(p, (nuint)bytes);
        return p;
    }

    /// <summary>Returns scratch from <see cref="Allocate"/> or <see cref="AllocatePresence"/> to this thread's arena.</summary>
    public static void Free(void* pointer)
    {
        if (pointer is null) return;
        var block = (byte*)pointer - Header;
        var capacity = *(long*)block;
        CountHeld(-capacity);
        var arena = t_arena ??= new Arena();
        // Up to the whole budget in one block: a decode step's copy of K (134 MB for 32 heads of 8192 keys) returned to the
        // system faulted its pages in again on every call, at several microseconds a page on a virtual machine.
        if (capacity > MaxCachedBytes)
        {
            NativeMemory.AlignedFree(block);
            return;
        }
        // Keep the largest blocks, within the count and byte limits: evict the smallest first.
        while (arena.Count == ArenaBlocks || arena.Bytes + capacity > MaxCachedBytes)
        {
            var smallest = 0;
            for (var i = 1; i < arena.Count; i++)
                if (arena.Capacities[i] < arena.Capacities[smallest]) smallest = i;
            if (arena.Count == 0 || arena.Capacities[smallest] > capacity)
            {
                NativeMemory.AlignedFree(block);
                return;
            }
            NativeMemory.AlignedFree((void*)arena.Blocks[smallest]);
            arena.Remove(smallest);
        }
        arena.Add((nint)block, capacity);
    }

    private const int Header = 64;
    private const int ArenaBlocks = 32;
    private const long MaxCachedBytes = 256L << 20;

    [ThreadStatic] private static Arena? t_arena;

    /// <summary>A thread's free blocks: their addresses (the header before the data) and usable bytes.</summary>
    private sealed class Arena
    {
        public readonly nint[] Blocks = new nint[ArenaBlocks];
        public readonly long[] Capacities = new long[ArenaBlocks];
        public int Count;
        public long Bytes;

        public void Add(nint block, long capacity)
        {
            Blocks[Count] = block;
            Capacities[Count++] = capacity;
            Bytes += capacity;
        }

        public void Remove(int i)
        {
            Bytes -= Capacities[i];
            Count--;
            Blocks[i] = Blocks[Count];
            Capacities[i] = Capacities[Count];
        }
    }

    private static long s_scratchHeld, s_scratchPeak;

    /// <summary>
    /// Bytes of scratch that kernels hold now (<see cref="Allocate"/>, <see cref="AllocatePresence"/>, less
    /// <see cref="Free"/>), whether the arena served them or the system, counted by the blocks' capacities.
    /// </summary>
    public static long ScratchBytesHeld => System.Threading.Interlocked.Read(ref s_scratchHeld);

    /// <summary>
    /// The most bytes of scratch kernels held at once, on all threads together, since <see cref="ResetScratchPeak"/>:
    /// what a call needs, for a test that a kernel's scratch does not grow with a size it should not (attention's with
    /// the keys per query). Blocks freed and taken again by the next chunk of rows count once, as they take memory once.
    /// </summary>
    public static long ScratchBytesPeak => System.Threading.Interlocked.Read(ref s_scratchPeak);

    /// <summary>Starts <see cref="ScratchBytesPeak"/> again from what is held now.</summary>
    public static void ResetScratchPeak() => System.Threading.Interlocked.Exchange(ref s_scratchPeak, ScratchBytesHeld);

    private static void CountHeld(long bytes)
    {
        var held = System.Threading.Interlocked.Add(ref s_scratchHeld, bytes);
        long peak;
        while (held > (peak = System.Threading.Interlocked.Read(ref s_scratchPeak)) &&
               System.Threading.Interlocked.CompareExchange(ref s_scratchPeak, held, peak) != peak)
        {
        }
    }

    /// <summary>The smallest cached block that holds <paramref name="bytes"/> and wastes at most half of itself, else a new one.</summary>
    private static void* Take(long bytes)
    {
        bytes = (bytes + 63) & ~63L;
        var arena = t_arena;
        if (arena is not null)
        {
            var best = -1;
            for (var i = 0; i < arena.Count; i++)
                if (arena.Capacities[i] >= bytes && arena.Capacities[i] <= 2 * bytes && (best < 0 || arena.Capacities[i] < arena.Capacities[best])) best = i;
            if (best >= 0)
            {
                var cached = (byte*)arena.Blocks[best];
                CountHeld(arena.Capacities[best]);
                arena.Remove(best);
                return cached + Header;
            }
        }
        var block = (byte*)NativeMemory.AlignedAlloc((nuint)(bytes + Header), 64);
        *(long*)block = bytes;
        CountHeld(bytes);
        return block + Header;
    }

    /// <summary>
    /// Below this many rows of the parallel rank per call, a kernel with tile copies stored transposed for its
    /// micro-kernel (K's tiles in attention) reads them in place instead: the copy is made once for all the rows, so with
    /// one query (a decode step) it would cost as much as the attention itself. In place, the micro-kernel takes dot
    /// products below 16 rows and transposes each tile into its panel as it is used (in L1) above: at 16 to 63 rows
    /// that beat the copy through memory (it was 16 until then: 32 query heads on one key/value head over 65536 keys,
    /// D = 128, 7.7 -> 4.7 ms; B = 8 queries of 32 over 16384 keys 12.8 -> 10.4 ms; of 48 over 4096 4.3 -> 3.6 ms).
    /// </summary>
    public const int FewRows = 64;

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over <c>[0, count)</c> split into contiguous chunks, or inline when the
    /// work is small or only one thread is allowed. Up to four chunks per thread, of at least 64 points or 64K points of
    /// work, taken by the threads as they come free: work that grows along the rank (the rows of a causal mask, whose last
    /// rows see every key) then still ends on all threads together, where one chunk per thread left the first thread idle
    /// for half the time; and a thread that starts late (a worker the hypervisor has not scheduled yet) leaves its chunks
    /// to the others instead of holding up the call: a softmax of 64 rows of 4096 in two chunks took 88-158 us from one
    /// call to the next on a 2-core VM where ONNX Runtime's took 90-97.
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
        var chunks = (int)Math.Clamp(Math.Max(count / 64L, Math.Min(count, work / (2 * ParallelThreshold))), threads, 4L * threads);
        Workers.Run(chunks, threads, c =>
        {
            var start = (int)((long)count * c / chunks);
            var end = (int)((long)count * (c + 1) / chunks);
            if (start < end) body(start, end);
        });
    }

    /// <summary>The most chunks per thread that <see cref="For(int, long, int, int, int, Action{int, int})"/> makes;
    /// beyond it, neighbouring blocks share a chunk.</summary>
    public const int MaxChunksPerThread = 64;

    /// <summary>
    /// <see cref="For(int, long, int, Action{int, int})"/> for a kernel that runs its rows in blocks of at most
    /// <paramref name="block"/> (<see cref="RowBlock"/>): <c>[0, count)</c> is <c>count / rows</c> outer points (a batch
    /// and a head, say) of <paramref name="rows"/> rows each, and every outer point's rows are cut into the fewest blocks
    /// of at most <paramref name="block"/> rows (but at least four blocks per thread in all where the rows allow), of
    /// nearly equal length, each starting on a multiple of the micro-kernel's <see cref="Gemm.RowTile"/> when
    /// <paramref name="block"/> is one. The threads take those blocks one
    /// (or, past <see cref="MaxChunksPerThread"/> a thread, a few neighbours) at a time as they come free, so no chunk
    /// holds a partial block and the call ends on all threads within about one block of each other.
    /// </summary>
    /// <remarks>
    /// Why not four chunks a thread, as the overload without blocks: attention B1 H8 L2048 D64 on two cores then ran
    /// as 8 chunks of one head each, and the calling thread, once done with its chunks, waited 4-6% of the call for the
    /// other on a busy virtual machine (0.6-0.8% with 104 chunks of one block each); at L 512 the chunks of 512 rows each
    /// ran blocks of 162, 162, 162 and 26 rows (132, 126, 126 and 128 here).
    /// </remarks>
    /// <param name="count">Rows of all the outer points together: a multiple of <paramref name="rows"/>.</param>
    /// <param name="work">Estimated points of work in total, to decide whether threads pay off.</param>
    /// <param name="maxDegreeOfParallelism">The most threads; 0 for one per processor.</param>
    /// <param name="rows">Rows per outer point (at least 1).</param>
    /// <param name="block">The most rows the body runs as one block (at least 1).</param>
    /// <param name="body">Called with a half-open range of the rows, numbered outer point by outer point.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative; or, with rows to run,
    /// <paramref name="rows"/> or <paramref name="block"/> is below 1 or <paramref name="count"/> is not a multiple of
    /// <paramref name="rows"/>.</exception>
    public static void For(int count, long work, int maxDegreeOfParallelism, int rows, int block, Action<int, int> body)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return;
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(block, 1);
        if (count % rows != 0) throw new ArgumentOutOfRangeException(nameof(count), count, $"'count' must be a multiple of 'rows' ({rows}).");
        var threads = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : Environment.ProcessorCount;
        threads = (int)Math.Min(threads, Math.Min(count, Math.Max(1L, work / ParallelThreshold)));
        if (threads <= 1)
        {
            body(0, count);
            return;
        }
        var align = block % Gemm.RowTile == 0 ? Gemm.RowTile : 1;
        var points = count / rows;
        var perPoint = (int)(((long)rows + block - 1) / block);
        // Too few blocks to go round (a few long rows, or one outer point of less than a block): shorter blocks, at
        // least four per thread where the rows allow, as the overload without blocks makes.
        if ((long)points * perPoint < 4L * threads)
            perPoint = (int)Math.Max(perPoint, Math.Min((rows + align - 1L) / align, (4L * threads + points - 1) / points));
        var units = (long)points * perPoint;
        var chunks = (int)Math.Min(units, (long)MaxChunksPerThread * threads);
        Workers.Run(chunks, threads, c =>
        {
            var start = BlockStart(units * c / chunks, rows, perPoint, align);
            var end = BlockStart(units * (c + 1) / chunks, rows, perPoint, align);
            if (start < end) body(start, end);
        });
    }

    /// <summary>The first row of block <paramref name="unit"/> of <see cref="For(int, long, int, int, int, Action{int, int})"/>:
    /// block j of an outer point starts at <c>j * rows / perPoint</c> rounded up to a multiple of <paramref name="align"/>
    /// (and at most <paramref name="rows"/>). Rounding every start up keeps each block, the last one too, within
    /// <c>ceil(rows / perPoint)</c> rows rounded up to the alignment, so within the block length when that is a multiple of it.</summary>
    internal static int BlockStart(long unit, int rows, int perPoint, int align)
    {
        var point = unit / perPoint;
        var j = unit - point * perPoint;
        var row = Math.Min(rows, (j * rows + (long)perPoint * align - 1) / ((long)perPoint * align) * align);
        return (int)(point * rows + row);
    }
}
