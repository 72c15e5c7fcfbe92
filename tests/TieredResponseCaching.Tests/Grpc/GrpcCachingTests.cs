using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Grpc.Protos;

namespace TieredResponseCaching.Tests.Grpc;

/// <summary>A real Grpc.AspNetCore service behind the cache, called with Grpc.Net.Client over TestServer and Kestrel h2c.</summary>
public class GrpcCachingTests
{
    private const string SearchMethod = "/cachetest.Catalog/Search";

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Second_call_of_a_CacheFor_method_is_served_without_reaching_the_service(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);
        var request = new ProductRequest { Id = "42", Attributes = { ["colour"] = "red" } };

        using var first = host.Client.GetProductAsync(request);
        var firstReply = await first;
        using var second = host.Client.GetProductAsync(request);
        var reply = await second;

        Assert.Equal(firstReply, reply);
        Assert.Equal(1, reply.Call);
        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.GetProduct)));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored", (await first.ResponseHeadersAsync).GetValue("cache-status"));
        Assert.StartsWith("TieredResponseCache; hit", (await second.ResponseHeadersAsync).GetValue("cache-status"));
        Assert.Equal(StatusCode.OK, second.GetStatus().StatusCode);
    }

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Another_request_message_is_another_entry(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);

        var a = await host.Client.GetProductAsync(new ProductRequest { Id = "a" });
        var b = await host.Client.GetProductAsync(new ProductRequest { Id = "b" });
        var again = await host.Client.GetProductAsync(new ProductRequest { Id = "a" });

        Assert.Equal(2, host.Calls.Count(nameof(CatalogService.GetProduct)));
        Assert.Equal((1, 2, 1), (a.Call, b.Call, again.Call));
        Assert.Contains("\"b\"", b.Request, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Method_named_in_the_options_is_cached_without_an_attribute()
    {
        await using var host = await GrpcHost.StartAsync(Transport.TestServer, options => options.CacheMethod(SearchMethod));
        var request = new ProductRequest { Id = "1" };

        await host.Client.SearchAsync(request);
        await host.Client.SearchAsync(request);
        await host.Client.LookupAsync(request);
        await host.Client.LookupAsync(request);

        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.Search)));
        Assert.Equal(2, host.Calls.Count(nameof(CatalogService.Lookup)));
    }

    [Fact]
    public async Task Message_size_limit_larger_than_a_key_can_hold_fails_the_start()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            GrpcHost.StartAsync(Transport.TestServer, options => options.MaximumMessageSize = 1024 * 1024));

        Assert.Contains("AddGrpc: MaximumMessageSize must be between 0 and 524288 bytes (was 1048576)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_side_effects_switch_caches_the_methods_declared_so_and_no_others()
    {
        await using var host = await GrpcHost.StartAsync(Transport.TestServer, options => options.CacheNoSideEffectsMethods(p => p.Duration(TimeSpan.FromMinutes(5))));
        var request = new ProductRequest { Id = "1" };

        var lookup = await host.Client.LookupAsync(request);
        using var lookupAgain = host.Client.LookupAsync(request);
        await lookupAgain;
        await host.Client.SearchAsync(request);
        await host.Client.SearchAsync(request);

        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.Lookup)));
        Assert.Equal(1, lookup.Call);
        Assert.Equal("TieredResponseCache; hit; ttl=300", (await lookupAgain.ResponseHeadersAsync).GetValue("cache-status"));
        Assert.Equal(2, host.Calls.Count(nameof(CatalogService.Search)));
    }

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Same_message_with_map_entries_in_another_order_hits_the_same_entry(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);
        var forward = new ProductRequest { Id = "p", Filter = new Filter { Field = "size" } };
        var backward = new ProductRequest { Id = "p", Filter = new Filter { Field = "size" } };
        string[] keys = ["alpha", "beta", "gamma", "delta"];
        foreach (var key in keys)
        {
            forward.Attributes[key] = key.ToUpperInvariant();
            forward.Filter.Values[Array.IndexOf(keys, key) - 1] = key;
            forward.FiltersByName[key] = new Filter { Values = { [1] = "one", [2] = "two" } };
        }

        foreach (var key in keys.Reverse())
        {
            backward.Attributes[key] = key.ToUpperInvariant();
            backward.Filter.Values[Array.IndexOf(keys, key) - 1] = key;
            backward.FiltersByName[key] = new Filter { Values = { [2] = "two", [1] = "one" } };
        }

        // The same message, but not the same bytes: the maps go on the wire in insertion order.
        Assert.Equal(forward, backward);
        Assert.NotEqual(forward.ToByteArray(), backward.ToByteArray());

        var first = await host.Client.GetProductAsync(forward);
        var second = await host.Client.GetProductAsync(backward);

        Assert.Equal(first, second);
        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.GetProduct)));
    }

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Varied_metadata_forms_part_of_the_key(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);
        var request = new ProductRequest { Id = "1" };

        var a = await host.Client.TenantProductAsync(request, new Metadata { { CatalogService.Tenant, "a" } });
        var b = await host.Client.TenantProductAsync(request, new Metadata { { CatalogService.Tenant, "b" } });
        var aAgain = await host.Client.TenantProductAsync(request, new Metadata { { CatalogService.Tenant, "a" } });

        Assert.Equal(2, host.Calls.Count(nameof(CatalogService.TenantProduct)));
        Assert.StartsWith("a:", a.Request, StringComparison.Ordinal);
        Assert.StartsWith("b:", b.Request, StringComparison.Ordinal);
        Assert.Equal(a, aAgain);
    }

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Error_status_is_not_stored(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);
        var request = new ProductRequest { Id = "missing" };

        var first = await Assert.ThrowsAsync<RpcException>(() => host.Client.FailAsync(request).ResponseAsync);
        var second = await Assert.ThrowsAsync<RpcException>(() => host.Client.FailAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, first.StatusCode);
        Assert.Equal("no product missing (call 1)", first.Status.Detail);
        Assert.Equal(StatusCode.NotFound, second.StatusCode);
        Assert.Equal("no product missing (call 2)", second.Status.Detail);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Contains(host.Logs, r => r.EventId == 2 && r.Message.Contains("grpc-trailers-only", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Trailers_only_error_carries_no_cache_control_from_the_policy(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);

        using var call = host.Client.FailAsync(new ProductRequest { Id = "missing" });
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Null(error.Trailers.GetValue("cache-control"));
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=grpc-trailers-only", error.Trailers.GetValue("cache-status"));
    }

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Streaming_method_is_never_cached(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);
        var request = new ProductRequest { Id = "1" };

        for (var i = 1; i <= 2; i++)
        {
            using var call = host.Client.ListProducts(request);
            var replies = new List<ProductReply>();
            await foreach (var reply in call.ResponseStream.ReadAllAsync())
            {
                replies.Add(reply);
            }

            Assert.Equal([i, i], replies.Select(r => r.Call));
            Assert.Equal("TieredResponseCache; fwd=bypass; detail=grpc-streaming", (await call.ResponseHeadersAsync).GetValue("cache-status"));
        }

        Assert.Equal(0, host.Statistics.Stores);
    }

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Hit_replays_the_custom_response_headers_and_trailers(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);
        var request = new ProductRequest { Id = "1" };
        using var first = host.Client.DecoratedAsync(request);
        await first;

        using var hit = host.Client.DecoratedAsync(request);
        var reply = await hit;
        var headers = await hit.ResponseHeadersAsync;
        var trailers = hit.GetTrailers();

        Assert.Equal(1, reply.Call);
        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.Decorated)));
        Assert.StartsWith("TieredResponseCache; hit", headers.GetValue("cache-status"));
        Assert.Equal("header 1", headers.GetValue("x-header"));
        Assert.Equal("trailer 1", trailers.GetValue("x-trailer"));
        Assert.Equal(StatusCode.OK, hit.GetStatus().StatusCode);
        Assert.Equal((await first.ResponseHeadersAsync).GetValue("x-header"), headers.GetValue("x-header"));
        Assert.Equal(first.GetTrailers().GetValue("x-trailer"), trailers.GetValue("x-trailer"));
    }

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Miss_sends_the_response_headers_when_the_service_does_and_is_still_stored(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);
        var gate = FlowKit.Signal();
        host.Calls.DecoratedGate = gate;
        var request = new ProductRequest { Id = "streamed" };

        // The capture forwards StartAsync: the client has the headers while the service still holds its message back.
        using var miss = host.Client.DecoratedAsync(request);
        var headers = await miss.ResponseHeadersAsync.Guarded();
        Assert.False(miss.ResponseAsync.IsCompleted);
        gate.SetResult();
        var reply = await miss.ResponseAsync.Guarded();
        var hit = await host.Client.DecoratedAsync(request);

        Assert.Equal("header 1", headers.GetValue("x-header"));
        Assert.Equal(reply, hit);
        Assert.Equal(1, host.Statistics.Stores);
        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.Decorated)));
    }

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Metadata_named_like_a_precondition_is_not_answered_with_304(Transport transport)
    {
        await using var host = await GrpcHost.StartAsync(transport);
        var request = new ProductRequest { Id = "etag" };
        var metadata = new Metadata { { "if-none-match", "*" }, { "if-modified-since", "Wed, 25 Nov 2099 12:00:00 GMT" } };

        using var miss = host.Client.GetProductAsync(request, metadata);
        var missReply = await miss;
        using var hit = host.Client.GetProductAsync(request, metadata);
        var hitReply = await hit;

        Assert.Equal(missReply, hitReply);
        Assert.Equal(StatusCode.OK, hit.GetStatus().StatusCode);
        Assert.StartsWith("TieredResponseCache; hit", (await hit.ResponseHeadersAsync).GetValue("cache-status"));
        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.GetProduct)));
    }

    [Theory]
    [InlineData(Transport.TestServer)]
    [InlineData(Transport.Kestrel)]
    public async Task Gzip_compressed_request_is_keyed_by_its_decompressed_message(Transport transport)
    {
        var encodings = new ConcurrentQueue<string>();
        await using var host = await GrpcHost.StartAsync(transport, beforeCache: app => app.Use((context, next) =>
        {
            encodings.Enqueue(context.Request.Headers["grpc-encoding"].ToString());
            return next(context);
        }));
        var request = new ProductRequest { Id = "1", Payload = ByteString.CopyFrom(new byte[2000]) };

        var compressed = await host.Client.GetProductAsync(request, new Metadata { { "grpc-internal-encoding-request", "gzip" } });
        var plain = await host.Client.GetProductAsync(request);
        var compressedAgain = await host.Client.GetProductAsync(request, new Metadata { { "grpc-internal-encoding-request", "gzip" } });

        Assert.Equal(["gzip", "", "gzip"], encodings);
        Assert.Equal(1, host.Calls.Count(nameof(CatalogService.GetProduct)));
        Assert.Equal(compressed, plain);
        Assert.Equal(compressed, compressedAgain);
        Assert.Equal(request, host.Calls.Requests.Single().Request);
    }

    // Deadlines and cancellation on Kestrel: TestServer's emulation of a reset stream is not faithful (without the
    // cache it reports Unknown, Internal or DeadlineExceeded for the same deadline, at random), Kestrel's is.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Deadline_ends_a_call_as_it_would_without_the_cache_and_nothing_is_stored(bool withCache)
    {
        await using var host = await GrpcHost.StartAsync(Transport.Kestrel, withCache: withCache);
        var request = new ProductRequest { Id = "slow" };

        // The deadline must leave the server time to start the call even on a loaded machine: a call that
        // expires before the service runs never signals WaitCancelled.
        var deadline = TimeSpan.FromSeconds(2);
        var first = await Assert.ThrowsAsync<RpcException>(() => host.Client.WaitAsync(request, deadline: DateTime.UtcNow.Add(deadline)).ResponseAsync);
        await host.Calls.WaitCancelled.Task.Guarded();
        var second = await Assert.ThrowsAsync<RpcException>(() => host.Client.WaitAsync(request, deadline: DateTime.UtcNow.Add(deadline)).ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, first.StatusCode);
        Assert.Equal(StatusCode.DeadlineExceeded, second.StatusCode);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.Equal(2, host.Calls.Count(nameof(CatalogService.Wait)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Client_cancellation_reaches_the_service_as_it_would_without_the_cache_and_nothing_is_stored(bool withCache)
    {
        await using var host = await GrpcHost.StartAsync(Transport.Kestrel, withCache: withCache);
        using var cancellation = new CancellationTokenSource();

        using var call = host.Client.WaitAsync(new ProductRequest { Id = "slow" }, cancellationToken: cancellation.Token);
        await host.Calls.WaitEntered.Task.Guarded();
        await cancellation.CancelAsync();
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);
        await host.Calls.WaitCancelled.Task.Guarded();

        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.Equal(0, host.Statistics.Stores);
        Assert.DoesNotContain(host.Logs, r => r.Category.StartsWith("TieredResponseCaching", StringComparison.Ordinal) && r.Level >= LogLevel.Error);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stale_entry_is_refreshed_in_the_background_with_the_same_request_message(bool gzip)
    {
        await using var host = await GrpcHost.StartAsync(Transport.TestServer, options => options.CacheMethod(
            SearchMethod, p => p.Duration(TimeSpan.FromSeconds(10)).StaleWhileRevalidate(TimeSpan.FromSeconds(60))));
        var request = new ProductRequest { Id = "r", Attributes = { ["b"] = "2", ["a"] = "1" }, Payload = ByteString.CopyFrom(new byte[500]) };
        var metadata = gzip ? new Metadata { { "grpc-internal-encoding-request", "gzip" } } : [];

        var first = await host.Client.SearchAsync(request, metadata);
        host.Time!.Advance(TimeSpan.FromSeconds(15));
        using var stale = host.Client.SearchAsync(request, metadata);
        var staleReply = await stale;
        await host.Refresher.WhenIdleAsync().Guarded();
        using var refreshed = host.Client.SearchAsync(request, metadata);
        var refreshedReply = await refreshed;

        Assert.Equal(first, staleReply);
        Assert.Equal("TieredResponseCache; hit; ttl=-5", (await stale.ResponseHeadersAsync).GetValue("cache-status"));
        Assert.Equal(2, refreshedReply.Call);
        Assert.Equal("TieredResponseCache; hit; ttl=10", (await refreshed.ResponseHeadersAsync).GetValue("cache-status"));
        Assert.Equal([request, request], host.Calls.Requests.Select(r => r.Request));
        Assert.Equal(1, host.Statistics.BackgroundRefreshes);
        Assert.Equal(0, host.Statistics.BackgroundRefreshFailures);
    }

    [Fact]
    public async Task Entry_hit_past_its_eager_refresh_point_is_refreshed_with_the_same_request_message_before_it_expires()
    {
        await using var host = await GrpcHost.StartAsync(Transport.TestServer, options => options.CacheMethod(
            SearchMethod, p => p.Duration(TimeSpan.FromSeconds(10)).EagerRefresh(0.8)));
        var request = new ProductRequest { Id = "r", Attributes = { ["b"] = "2", ["a"] = "1" }, Payload = ByteString.CopyFrom(new byte[500]) };

        var first = await host.Client.SearchAsync(request);
        host.Time!.Advance(TimeSpan.FromSeconds(9));
        using var hot = host.Client.SearchAsync(request);
        var hotReply = await hot;
        await host.Refresher.WhenIdleAsync().Guarded();
        using var refreshed = host.Client.SearchAsync(request);
        var refreshedReply = await refreshed;

        Assert.Equal(first, hotReply);
        Assert.Equal("TieredResponseCache; hit; ttl=1; detail=eager-refresh", (await hot.ResponseHeadersAsync).GetValue("cache-status"));
        Assert.Equal(2, refreshedReply.Call);
        Assert.Equal("TieredResponseCache; hit; ttl=10", (await refreshed.ResponseHeadersAsync).GetValue("cache-status"));
        Assert.Equal([request, request], host.Calls.Requests.Select(r => r.Request));
        Assert.Equal(1, host.Statistics.BackgroundRefreshes);
        Assert.Equal(0, host.Statistics.StaleHits);
    }
}
