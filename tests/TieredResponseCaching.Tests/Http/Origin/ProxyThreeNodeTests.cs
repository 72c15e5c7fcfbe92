using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Origin;

/// <summary>
/// Three ProxyCache nodes on Kestrel share one Redis (a single redis-server, then a three-master Redis Cluster) in
/// front of one scripted upstream. A cold URI requested 1,000 times at once across the three nodes reaches the
/// upstream exactly once: each node's requests wait on its own flight, and the nodes' leaders take the cluster lock,
/// so one forwards and the other two wait for its entry (docs/tiers.md, "Waiting on another node").
/// </summary>
public sealed class ProxyThreeNodeTests(RedisCluster cluster) : IClassFixture<RedisCluster>
{
    private const int Requests = 1_000;
    private const int Nodes = 3;

    [Fact]
    public async Task A_cold_uri_requested_1000_times_across_three_proxies_sharing_a_redis_server_reaches_the_upstream_once()
    {
        await using var redis = await RedisServer.StartAsync();
        await OneUpstreamRequestAsync(redis.Configuration);
    }

    [Fact]
    public async Task A_cold_uri_requested_1000_times_across_three_proxies_sharing_a_redis_cluster_reaches_the_upstream_once()
    {
        await OneUpstreamRequestAsync(cluster.Configuration);
    }

    private static async Task OneUpstreamRequestAsync(string redisConfiguration)
    {
        var time = CacheHost.NewFakeClock();
        await using var upstream = await ScriptedUpstream.StartAsync(time);
        var path = $"/cold/{Guid.NewGuid():N}";
        upstream.On(path, r => new Reply { Body = $"the one response #{r.Number}" }.With("Cache-Control", "max-age=600"));
        // The upstream holds its answer until every request is waiting somewhere: on its node's flight, or (the two
        // leaders that lost the lock race) on the other node's entry.
        upstream.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var forwarded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.Received += r => forwarded.TrySetResult();

        var nodes = new List<ProxyHost>();
        try
        {
            for (var i = 0; i < Nodes; i++)
            {
                var node = await ProxyHost.StartKestrelNodeAsync(upstream, time, "--Redis", redisConfiguration);
                // Behind a load balancer every node sees the site's host; the host is part of the URI, so of the key.
                node.Client.DefaultRequestHeaders.Host = "shop.example";
                nodes.Add(node);
            }

            var flightWaiters = new CountdownEvent(Requests - Nodes);
            // A leader waiting on another node's entry begins a wait again each time it looks (docs/tiers.md): count once.
            var remoteWaits = 0;
            var remoteWaiters = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            foreach (var node in nodes)
            {
                var runtime = node.Services.GetRequiredService<CacheRuntime>();
                runtime.Flights.WaiterJoined += _ => flightWaiters.Signal();
                runtime.RemoteWaits.Began += _ =>
                {
                    if (Interlocked.Increment(ref remoteWaits) >= Nodes - 1)
                    {
                        remoteWaiters.TrySetResult();
                    }
                };
            }

            var requests = Enumerable.Range(0, Requests)
                .Select(i => Task.Run(() => nodes[i % Nodes].Client.GetAsync(path)))
                .ToArray();
            Assert.True(await Task.Run(() => flightWaiters.Wait(TimeSpan.FromSeconds(60))), $"{flightWaiters.CurrentCount} requests never joined their node's flight");
            await remoteWaiters.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await forwarded.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(1, upstream.Count(path));
            upstream.Gate.SetResult();

            var responses = await Task.WhenAll(requests);
            var statuses = new List<string>();
            foreach (var response in responses)
            {
                Assert.Equal(200, (int)response.StatusCode);
                Assert.Equal("the one response #1", await response.Content.ReadAsStringAsync());
                statuses.Add(response.Headers.GetValues("Cache-Status").Single());
            }

            Assert.Equal(1, statuses.Count(s => s == "TieredResponseCache; fwd=uri-miss; stored; ttl=600"));
            Assert.Equal(Requests - 1, statuses.Count(s => s == "TieredResponseCache; hit; ttl=600; collapsed"));
            Assert.Equal(1, upstream.Count(path));
            Assert.Equal(Requests - 1, nodes.Sum(n => n.Statistics.Collapsed));
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }
}
