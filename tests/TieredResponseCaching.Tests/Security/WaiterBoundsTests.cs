using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Security;

/// <summary>
/// A node whose leader waits on another node's cluster lock keeps a wait record for it; every outcome of the wait
/// (the entry stored, the holder finished without storing, the wait timed out, the client went away) removes it
/// (docs/tiers.md, "Waiting on another node"). Two nodes share a real redis-server and a fake clock.
/// </summary>
public sealed class WaiterBoundsTests : IAsyncLifetime
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RemoteWaitPoll = TimeSpan.FromMilliseconds(500);

    private readonly FakeTimeProvider _clock = CacheHost.NewFakeClock();
    private readonly TaskCompletionSource _holderRuns = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _releaseHolder = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private RedisServer _redis = null!;
    private IDatabase _db = null!;
    private CacheHost _nodeA = null!;
    private CacheHost _nodeB = null!;
    private int _calls;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _db = await _redis.DatabaseAsync();
        _nodeA = await CacheHost.StartAsync(Map, clock: _clock, redis: _redis.Configuration);
        _nodeB = await CacheHost.StartAsync(Map, clock: _clock, redis: _redis.Configuration);
    }

    public async Task DisposeAsync()
    {
        _releaseHolder.TrySetResult();
        await _nodeA.DisposeAsync();
        await _nodeB.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task A_wait_that_receives_the_other_nodes_entry_leaves_no_wait_record()
    {
        var waiter = await WaitOnNodeAAsync("/report/ok");

        _releaseHolder.SetResult();
        var response = await waiter;

        Assert.Equal("report", await response.Content.ReadAsStringAsync());
        Assert.Contains("collapsed", response.Headers.GetValues("Cache-Status").Single(), StringComparison.Ordinal);
        Assert.Equal(1, _calls);
        Assert.Equal(0, WaitRecords());
    }

    [Theory]
    [InlineData("/report/missing")] // a 404: not a status the policy stores
    [InlineData("/report/refused")] // Cache-Control: no-store
    public async Task A_wait_on_a_holder_that_stores_nothing_leaves_no_wait_record(string path)
    {
        var waiter = await WaitOnNodeAAsync(path);

        _releaseHolder.SetResult();
        var response = await FinishAsync(waiter); // B sees the lock released and runs the app itself

        Assert.NotEqual("report", await response.Content.ReadAsStringAsync());
        Assert.Equal(2, _calls);
        Assert.Equal(0, WaitRecords());
    }

    [Fact]
    public async Task A_wait_that_times_out_leaves_no_wait_record()
    {
        var waiter = await WaitOnNodeAAsync("/report/ok"); // the holder never finishes within the wait

        var response = await FinishAsync(waiter);

        Assert.Equal("report", await response.Content.ReadAsStringAsync());
        Assert.Equal(2, _calls);
        Assert.Equal(0, WaitRecords());
    }

    [Fact]
    public async Task A_wait_whose_client_goes_away_leaves_no_wait_record()
    {
        using var abort = new CancellationTokenSource();
        var waiter = await WaitOnNodeAAsync("/report/ok", abort);

        await abort.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter);
        await Eventually.TrueAsync(async () => await _db.PingAsync() >= TimeSpan.Zero && WaitRecords() == 0, Generous, "the aborted wait removed its record");
        Assert.Equal(1, _calls);
    }

    /// <summary>Node A's request holds the cluster lock and runs the app; node B's leader then waits on it.</summary>
    private async Task<Task<HttpResponseMessage>> WaitOnNodeAAsync(string path, CancellationTokenSource? abort = null)
    {
        var holder = _nodeA.Client.GetAsync(path);
        await _holderRuns.Task.WaitAsync(Generous);
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _nodeB.Runtime.RemoteWaits.Began += _ => waiting.TrySetResult();
        var waiter = _nodeB.Client.GetAsync(path, abort?.Token ?? CancellationToken.None);
        await waiting.Task.WaitAsync(Generous);
        Assert.False(holder.IsCompleted);
        _ = holder.ContinueWith(static _ => { }, TaskScheduler.Default); // A's outcome is not what these tests look at
        return waiter;
    }

    /// <summary>Moves the shared clock on by the wait's polling step until node B's request completes.</summary>
    private async Task<HttpResponseMessage> FinishAsync(Task<HttpResponseMessage> waiter)
    {
        await Eventually.TrueAsync(async () =>
        {
            _clock.Advance(RemoteWaitPoll);
            await _db.PingAsync();
            return waiter.IsCompleted;
        }, Generous, "node B's wait ended");
        return await waiter;
    }

    private int WaitRecords() => _nodeB.Runtime.RemoteWaits.Count;

    private void Map(WebApplication app) => app.MapGet("/report/{kind}", async (string kind, HttpContext context) =>
    {
        if (Interlocked.Increment(ref _calls) == 1)
        {
            _holderRuns.TrySetResult();
            await _releaseHolder.Task;
        }

        switch (kind)
        {
            case "missing":
                return Results.NotFound();
            case "refused":
                context.Response.Headers.CacheControl = "no-store";
                return Results.Text("not for the cache");
            default:
                return Results.Text("report");
        }
    }).CacheFor(TimeSpan.FromSeconds(60));
}
