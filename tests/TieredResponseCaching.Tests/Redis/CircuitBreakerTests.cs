using Microsoft.Extensions.Time.Testing;
using TieredResponseCaching.Redis;
using TieredResponseCaching.Storage;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Redis;

/// <summary>The breaker in front of every Redis call (RedisTierOptions.FailureThreshold and BreakDuration).</summary>
public sealed class CircuitBreakerTests
{
    private static readonly TimeSpan Break = TimeSpan.FromSeconds(2);
    private readonly FakeTimeProvider _time = CacheHost.NewFakeClock();
    private readonly List<bool> _changes = [];
    private readonly CircuitBreaker _breaker;

    public CircuitBreakerTests()
    {
        _breaker = new CircuitBreaker(3, Break, _time);
        _breaker.StateChanged += open => _changes.Add(open);
    }

    [Fact]
    public void It_opens_after_the_threshold_of_consecutive_failures_and_not_before()
    {
        _breaker.RecordFailure();
        _breaker.RecordFailure();
        _breaker.RecordSuccess();
        _breaker.RecordFailure();
        _breaker.RecordFailure();
        Assert.True(_breaker.AllowsCall);
        Assert.Empty(_changes);

        _breaker.RecordFailure();

        Assert.True(_breaker.IsOpen);
        Assert.False(_breaker.AllowsCall);
        Assert.Equal([true], _changes);
    }

    [Fact]
    public void After_the_break_one_call_probes_while_the_others_keep_skipping_Redis()
    {
        Open();
        _time.Advance(Break - TimeSpan.FromMilliseconds(1));
        Assert.False(_breaker.AllowsCall);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.True(_breaker.AllowsCall);
        Assert.False(_breaker.AllowsCall);
        Assert.False(_breaker.AllowsCall);
    }

    [Fact]
    public void A_failed_probe_opens_the_breaker_for_another_break()
    {
        Open();
        _time.Advance(Break);
        Assert.True(_breaker.AllowsCall);

        _breaker.RecordFailure();

        Assert.False(_breaker.AllowsCall);
        _time.Advance(Break);
        Assert.True(_breaker.AllowsCall);
        Assert.Equal([true], _changes);
    }

    [Fact]
    public void A_successful_probe_closes_the_breaker_for_every_caller()
    {
        Open();
        _time.Advance(Break);
        Assert.True(_breaker.AllowsCall);

        _breaker.RecordSuccess();

        Assert.False(_breaker.IsOpen);
        Assert.True(_breaker.AllowsCall);
        Assert.True(_breaker.AllowsCall);
        Assert.Equal([true, false], _changes);
    }

    [Fact]
    public void A_probe_that_never_reports_does_not_keep_the_breaker_open_forever()
    {
        Open();
        _time.Advance(Break);
        Assert.True(_breaker.AllowsCall); // its caller never records an outcome

        _time.Advance(Break);

        Assert.True(_breaker.AllowsCall);
    }

    private void Open()
    {
        for (var i = 0; i < 3; i++)
        {
            _breaker.RecordFailure();
        }

        Assert.True(_breaker.IsOpen);
    }
}
