using System;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;

namespace Kernels.Runtime;

/// <summary>
/// The fork-join of the generated kernels: one thread per processor beyond the caller's, started on first use, which
/// spin for a moment after each job before they sleep, so the next call of a kernel finds them awake. The caller takes
/// chunks of the job itself and returns when every chunk has run.
/// </summary>
/// <remarks>
/// <para>Why not <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/>: it wakes pool threads through the
/// operating system on every call. A softmax of 64 rows of 4096 floats (1 MB, in cache) spent about a third of its
/// 46 microseconds there on a 2-core virtual machine, where waking a sleeping thread costs an interrupt; ONNX Runtime's
/// pool spins the same way.</para>
/// <para>One job runs at a time. A call that finds the workers busy (kernels called from several threads at once, or
/// from inside a kernel's chunk) runs on <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/>, as before:
/// correct, only slower to start.</para>
/// </remarks>
internal static class Workers
{
    /// <summary>How long a worker spins for the next job before it sleeps.</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 5000; // 200 microseconds

    private sealed class Job(Action<int> body, int chunks, int helpers)
    {
        public readonly Action<int> Body = body;
        public readonly int Chunks = chunks;
        public readonly int Helpers = helpers;
        public int Next;
        public int Done;
        public int Joined;
        public Exception? Error;

        /// <summary>Runs chunks until none is left.</summary>
        public void Work()
        {
            int c;
            while ((c = Interlocked.Increment(ref Next) - 1) < Chunks)
            {
                try
                {
                    Body(c);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref Error, e, null);
                }
                Interlocked.Increment(ref Done);
            }
        }
    }

    private static readonly object s_start = new();
    private static Thread[]? s_threads;
    private static Job? s_job;
    private static int s_busy;
    private static int s_sleepers;
    private static readonly SemaphoreSlim s_wake = new(0);
    [ThreadStatic] private static bool t_worker;

    /// <summary>Runs <paramref name="body"/>(c) for every chunk c in [0, <paramref name="chunks"/>) on up to
    /// <paramref name="threads"/> threads, the caller's among them, and returns when all have run. The first exception a
    /// chunk throws is rethrown here after every chunk has run.</summary>
    public static void Run(int chunks, int threads, Action<int> body)
    {
        threads = Math.Min(threads, chunks);
        if (threads <= 1)
        {
            for (var c = 0; c < chunks; c++) body(c);
            return;
        }
        if (t_worker || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, body);
            return;
        }
        try
        {
            EnsureStarted();
            var job = new Job(body, chunks, threads - 1);
            // The exchange is a full fence: a worker that counted itself a sleeper before it sees the store is released below.
            Interlocked.Exchange(ref s_job, job);
            var sleeping = Volatile.Read(ref s_sleepers);
            if (sleeping > 0) s_wake.Release(Math.Min(sleeping, job.Helpers));
            job.Work();
            var wait = new SpinWait();
            while (Volatile.Read(ref job.Done) < chunks) wait.SpinOnce(-1);
            if (job.Error is { } error) ExceptionDispatchInfo.Capture(error).Throw();
        }
        finally
        {
            Volatile.Write(ref s_busy, 0);
        }
    }

    private static void EnsureStarted()
    {
        if (Volatile.Read(ref s_threads) is not null) return;
        lock (s_start)
        {
            if (s_threads is not null) return;
            var threads = new Thread[Math.Max(1, Environment.ProcessorCount - 1)];
            for (var i = 0; i < threads.Length; i++)
            {
                threads[i] = new Thread(Loop) { IsBackground = true, Name = $"Kernels worker {i + 1}" };
                threads[i].Start();
            }
            Volatile.Write(ref s_threads, threads);
        }
    }

    private static void Loop()
    {
        t_worker = true;
        Job? seen = null;
        while (true)
        {
            var job = Volatile.Read(ref s_job);
            if (job == seen)
            {
                // Spin for a while (the next call of a kernel usually comes soon), then sleep until a job is published.
                var until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
                var spins = 0;
                while ((job = Volatile.Read(ref s_job)) == seen && System.Diagnostics.Stopwatch.GetTimestamp() < until)
                    if (++spins % 64 == 0) Thread.Yield(); else Thread.SpinWait(20);
                if (job == seen)
                {
                    Interlocked.Increment(ref s_sleepers);
                    if (Volatile.Read(ref s_job) == seen) s_wake.Wait();
                    Interlocked.Decrement(ref s_sleepers);
                    continue;
                }
            }
            seen = job;
            // A job whose helpers have all joined (or that ended before this worker saw it) needs nothing more.
            if (job is not null && Interlocked.Increment(ref job.Joined) <= job.Helpers) job.Work();
        }
    }
}
