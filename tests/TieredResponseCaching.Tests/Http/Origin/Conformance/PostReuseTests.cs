using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Tests.Http;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9110 §9.3.3 and RFC 9111 §4: a POST response with explicit freshness and a <c>Content-Location</c> equal to the
/// POST's target URI answers later GET and HEAD requests of that URI (docs/modes.md, "POST responses"). On in
/// samples/ProxyCache, off in the library. Every other POST response is passed on and forgotten, as before.
/// </summary>
public sealed class PostReuseTests
{
    private const string Kept = "TieredResponseCache; fwd=method; stored; ttl=600";
    private const string NotKept = "TieredResponseCache; fwd=method";

    /// <summary>GETs get a fresh response of their own; POSTs get <paramref name="post"/>.</summary>
    private static void Script(ProxyHost proxy, string path, Func<UpstreamRequest, Reply> post) =>
        proxy.Upstream.On(path, r => r.Method is "GET" or "HEAD"
            ? new Reply { Body = $"get#{r.Number}" }.With("Cache-Control", "max-age=600")
            : post(r));

    /// <summary>A POST answer: <paramref name="status"/>, body <c>posted#n</c>, the Content-Location and the fields given.</summary>
    private static Func<UpstreamRequest, Reply> Answer(string? contentLocation, int status = 200, params (string Name, string Value)[] fields) => r =>
    {
        var reply = new Reply { Status = status, Body = $"posted#{r.Number}" };
        if (contentLocation is not null)
        {
            reply.With("Content-Location", contentLocation);
        }

        foreach (var (name, value) in fields)
        {
            reply.With(name, value);
        }

        return reply;
    };

    private static readonly (string, string)[] Fresh = [("Cache-Control", "max-age=600")];

    /// <summary>Whether a GET of <paramref name="path"/> was answered without reaching the upstream.</summary>
    private static async Task<bool> GetIsAnsweredFromCacheAsync(ProxyHost proxy, string path, params (string Name, string Value)[] headers)
    {
        var before = proxy.Upstream.Count(path);
        await proxy.GetAsync(path, headers);
        return proxy.Upstream.Count(path) == before;
    }

    /// <summary>
    /// The control every refusal is measured against: the same POST answer with its own URI as Content-Location and
    /// explicit freshness is kept. It fails where reuse is not built, so each refusal test fails there too.
    /// </summary>
    private static async Task AssertKeptAsync(ProxyHost proxy, string path, params (string Name, string Value)[] fields)
    {
        Script(proxy, path, Answer(path, fields: fields.Length == 0 ? Fresh : fields));
        var post = await proxy.SendAsync(HttpMethod.Post, path);
        Assert.Equal(Kept, post.CacheStatus());
        Assert.True(await GetIsAnsweredFromCacheAsync(proxy, path), $"the control POST to {path} was not kept");
    }

    [Fact]
    public async Task A_fresh_POST_response_whose_Content_Location_is_its_target_answers_a_later_GET_and_HEAD()
    {
        await using var proxy = await ProxyHost.StartAsync();
        Script(proxy, "/doc", Answer("/doc", fields: [("Cache-Control", "max-age=600"), ("ETag", "\"p\"")]));

        var post = await proxy.SendAsync(HttpMethod.Post, "/doc", ("X-Client", "1"));
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal("posted#1", await post.Body());
        Assert.Equal(Kept, post.CacheStatus());
        // The request went as it came: method, fields and body.
        var seen = proxy.Upstream.Last("/doc");
        Assert.Equal("POST", seen.Method);
        Assert.Equal("1", seen.Header("X-Client"));
        Assert.Equal("abc", seen.Body);

        var get = await proxy.GetAsync("/doc");
        Assert.Equal("posted#1", await get.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=600", get.CacheStatus());
        Assert.Equal("0", get.Header("Age"));
        Assert.Equal("\"p\"", get.Header("ETag"));
        var head = await proxy.SendAsync(HttpMethod.Head, "/doc");
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("TieredResponseCache; hit; ttl=600", head.CacheStatus());
        Assert.Equal(1, proxy.Upstream.Count("/doc"));

        // It ages as a GET response does, from when the POST was forwarded.
        proxy.Advance(30);
        var later = await proxy.GetAsync("/doc");
        Assert.Equal("30", later.Header("Age"));
        Assert.Equal("TieredResponseCache; hit; ttl=570", later.CacheStatus());
        Assert.Equal(1, proxy.Upstream.Count("/doc"));
    }

    /// <summary>Relative references resolve against the target (RFC 3986 §5.2); scheme and host without regard to case, the default port as none.</summary>
    [Theory]
    [InlineData("/dir/doc?x=1")]
    [InlineData("doc?x=1")]
    [InlineData("?x=1")]
    [InlineData("http://localhost/dir/doc?x=1")]
    [InlineData("HTTP://LocalHost:80/dir/doc?x=1")]
    [InlineData("//localhost/dir/doc?x=1")]
    [InlineData("  /dir/doc?x=1 ")]
    public async Task Every_spelling_of_the_target_URI_as_a_reference_is_its_Content_Location(string contentLocation)
    {
        await using var proxy = await ProxyHost.StartAsync();
        Script(proxy, "/dir/doc?x=1", Answer(contentLocation, fields: Fresh));

        var post = await proxy.SendAsync(HttpMethod.Post, "/dir/doc?x=1");
        Assert.Equal(Kept, post.CacheStatus());
        Assert.True(await GetIsAnsweredFromCacheAsync(proxy, "/dir/doc?x=1"));
    }

    /// <summary>
    /// Another URI, another origin, and whatever is not plainly the target (a percent-encoded spelling, a dot segment, a
    /// fragment, another case of the path or query): never kept, for the target nor for the URI named.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("/dir/other?x=1")]
    [InlineData("/dir/doc")]
    [InlineData("/dir/doc?x=2")]
    [InlineData("/dir/doc?X=1")]
    [InlineData("/DIR/doc?x=1")]
    [InlineData("/dir/%64oc?x=1")]
    [InlineData("/dir/./doc?x=1")]
    [InlineData("/other/../dir/doc?x=1")]
    [InlineData("/dir/doc?x=1#top")]
    [InlineData("http://evil.example/dir/doc?x=1")]
    [InlineData("//evil.example/dir/doc?x=1")]
    [InlineData("https://localhost/dir/doc?x=1")]
    [InlineData("http://localhost:8080/dir/doc?x=1")]
    [InlineData("http://user@localhost/dir/doc?x=1")]
    [InlineData("urn:dir:doc")]
    [InlineData("/dir/doc?x=1, /dir/doc?x=1")]
    [InlineData("/dir/d\u00f6c?x=1")]
    public async Task A_POST_response_whose_Content_Location_is_not_plainly_its_target_is_not_kept(string? contentLocation)
    {
        await using var proxy = await ProxyHost.StartAsync();
        await AssertKeptAsync(proxy, "/dir/control?x=1");
        Script(proxy, "/dir/doc?x=1", Answer(contentLocation, fields: Fresh));
        Script(proxy, "/dir/other?x=1", Answer(null));

        var post = await proxy.SendAsync(HttpMethod.Post, "/dir/doc?x=1");
        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal("posted#1", await post.Body());
        Assert.Equal(NotKept, post.CacheStatus());
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/dir/doc?x=1"));
        Assert.Equal("get#2", await (await proxy.GetAsync("/dir/doc?x=1")).Body());
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/dir/other?x=1"));
    }

    /// <summary>§9.3.3 asks for explicit freshness: a heuristic one (the sample's default) or none is not enough.</summary>
    [Theory]
    [InlineData("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")]
    [InlineData("Cache-Control", "public")]
    [InlineData("Cache-Control", "no-cache")]
    [InlineData("X-Nothing", "1")]
    public async Task A_POST_response_without_explicit_freshness_is_not_kept(string name, string value)
    {
        await using var proxy = await ProxyHost.StartAsync();
        await AssertKeptAsync(proxy, "/control");
        Script(proxy, "/heuristic", Answer("/heuristic", fields: [(name, value), ("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")]));

        var post = await proxy.SendAsync(HttpMethod.Post, "/heuristic");
        Assert.Equal("TieredResponseCache; fwd=method; detail=no-freshness", post.CacheStatus());
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/heuristic"));
    }

    /// <summary>Every explicit form of freshness counts (RFC 9111 §4.2.1; RFC 9213).</summary>
    [Theory]
    [InlineData("Cache-Control", "max-age=600")]
    [InlineData("Cache-Control", "s-maxage=600")]
    [InlineData("Expires", "+600")]
    [InlineData("CDN-Cache-Control", "max-age=600")]
    public async Task A_POST_response_with_any_explicit_freshness_is_kept(string name, string value)
    {
        await using var proxy = await ProxyHost.StartAsync();
        var field = value == "+600" ? proxy.Upstream.Date(600) : value;
        await AssertKeptAsync(proxy, "/explicit", (name, field));
    }

    /// <summary>The storage rules of a GET response apply to it unchanged (RFC 9111 §3, §3.5, §4.1).</summary>
    [Theory]
    [InlineData("Cache-Control", "max-age=600, private", "response-private")]
    [InlineData("Cache-Control", "max-age=600, no-store", "response-no-store")]
    [InlineData("Set-Cookie", "session=1", "set-cookie")]
    [InlineData("Vary", "*", "vary-star")]
    public async Task A_POST_response_a_GET_response_with_the_same_fields_could_not_be_stored_as_is_not_kept(string name, string value, string detail)
    {
        await using var proxy = await ProxyHost.StartAsync();
        await AssertKeptAsync(proxy, "/control");
        Script(proxy, "/refused", Answer("/refused", fields: [("Cache-Control", "max-age=600"), (name, value)]));

        var post = await proxy.SendAsync(HttpMethod.Post, "/refused");
        Assert.Equal($"TieredResponseCache; fwd=method; detail={detail}", post.CacheStatus());
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/refused"));
    }

    /// <summary>§3.5: a POST with credentials is kept only when the response says it may be shared (public, s-maxage, must-revalidate).</summary>
    [Fact]
    public async Task A_POST_with_Authorization_is_kept_only_when_the_response_allows_sharing()
    {
        await using var proxy = await ProxyHost.StartAsync();
        Script(proxy, "/private", Answer("/private", fields: Fresh));
        Script(proxy, "/shared", Answer("/shared", fields: [("Cache-Control", "max-age=600, public")]));

        var refused = await proxy.SendAsync(HttpMethod.Post, "/private", ("Authorization", "Bearer a"));
        var kept = await proxy.SendAsync(HttpMethod.Post, "/shared", ("Authorization", "Bearer a"));
        Assert.Equal("TieredResponseCache; fwd=method; detail=authorization", refused.CacheStatus());
        Assert.Equal(Kept, kept.CacheStatus());
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/private"));
        Assert.True(await GetIsAnsweredFromCacheAsync(proxy, "/shared"));
    }

    /// <summary>Only 2xx responses other than 206 (an error, a redirect or a part is not the resource's representation).</summary>
    [Theory]
    [InlineData(206)]
    [InlineData(303)]
    [InlineData(400)]
    [InlineData(404)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task A_POST_response_that_is_not_a_complete_success_is_not_kept(int status)
    {
        await using var proxy = await ProxyHost.StartAsync();
        await AssertKeptAsync(proxy, "/control");
        Script(proxy, "/status", Answer("/status", status, ("Cache-Control", "max-age=600")));

        var post = await proxy.SendAsync(HttpMethod.Post, "/status");
        Assert.Equal(status, (int)post.StatusCode);
        Assert.Equal(NotKept, post.CacheStatus());
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/status"));
    }

    [Theory]
    [InlineData(201)]
    [InlineData(203)]
    [InlineData(204)]
    public async Task A_POST_response_with_another_success_status_is_kept_with_its_status(int status)
    {
        await using var proxy = await ProxyHost.StartAsync();
        Script(proxy, "/created", Answer("/created", status, ("Cache-Control", "max-age=600")));

        var post = await proxy.SendAsync(HttpMethod.Post, "/created");
        Assert.Equal(Kept, post.CacheStatus());
        var get = await proxy.GetAsync("/created");
        Assert.Equal(status, (int)get.StatusCode);
        Assert.Equal(1, proxy.Upstream.Count("/created"));
    }

    [Fact]
    public async Task With_the_option_off_no_POST_response_is_kept()
    {
        await using var proxy = await ProxyHost.StartAsync("--reuse-post-responses", "false");
        Script(proxy, "/off", Answer("/off", fields: Fresh));

        var post = await proxy.SendAsync(HttpMethod.Post, "/off");
        Assert.Equal(NotKept, post.CacheStatus());
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/off"));

        // The same proxy with the sample's default keeps it.
        await using var on = await ProxyHost.StartAsync();
        await AssertKeptAsync(on, "/off");
    }

    [Fact]
    public async Task The_library_keeps_no_POST_response_unless_the_policy_opts_in()
    {
        var calls = 0;
        string Relay(HttpContext context)
        {
            calls++;
            context.Response.Headers.CacheControl = "max-age=60";
            context.Response.Headers.ContentLocation = context.Request.Path.Value;
            return $"{context.Request.Method} #{calls}";
        }

        await using var host = await CacheHost.StartAsync(app =>
        {
            app.MapMethods("/default", ["GET", "POST"], Relay).CacheOriginDirected();
            app.MapMethods("/opted-in", ["GET", "POST"], Relay).CacheOriginDirected(p => p.ReusePostResponses());
        });

        var post = await host.Client.PostAsync("/default", new StringContent("a"));
        Assert.Equal(NotKept, post.CacheStatus());
        Assert.Equal("GET #2", await (await host.GetAsync("/default")).Body());

        var kept = await host.Client.PostAsync("/opted-in", new StringContent("a"));
        Assert.Equal("TieredResponseCache; fwd=method; stored; ttl=60", kept.CacheStatus());
        Assert.Equal("POST #3", await (await host.GetAsync("/opted-in")).Body());
        Assert.Equal(3, calls);
    }

    /// <summary>A second POST invalidates the first one's entry (§4.4) and leaves its own.</summary>
    [Fact]
    public async Task A_second_POST_replaces_the_kept_response()
    {
        await using var proxy = await ProxyHost.StartAsync();
        Script(proxy, "/counter", Answer("/counter", fields: Fresh));

        await proxy.SendAsync(HttpMethod.Post, "/counter");
        Assert.Equal("posted#1", await (await proxy.GetAsync("/counter")).Body());
        var second = await proxy.SendAsync(HttpMethod.Post, "/counter");
        Assert.Equal(Kept, second.CacheStatus());
        var get = await proxy.GetAsync("/counter");
        Assert.Equal("posted#2", await get.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=600", get.CacheStatus());
        Assert.Equal(2, proxy.Upstream.Count("/counter"));
    }

    /// <summary>A POST is never answered from the cache: it goes on, and a success that is not kept invalidates the URI.</summary>
    [Fact]
    public async Task A_later_POST_is_forwarded_and_invalidates_the_kept_response()
    {
        await using var proxy = await ProxyHost.StartAsync();
        var kept = true;
        Script(proxy, "/later", r => Answer(kept ? "/later" : null, fields: Fresh)(r));

        await proxy.SendAsync(HttpMethod.Post, "/later");
        Assert.Equal("posted#1", await (await proxy.GetAsync("/later")).Body());
        kept = false;
        var again = await proxy.SendAsync(HttpMethod.Post, "/later");
        Assert.Equal("posted#2", await again.Body());
        Assert.Equal(NotKept, again.CacheStatus());
        Assert.Equal("get#3", await (await proxy.GetAsync("/later")).Body());
    }

    /// <summary>A POST answer that could never answer a GET is a POST as before: a bypass, not a response the cache refused.</summary>
    [Fact]
    public async Task A_POST_response_that_could_not_answer_a_GET_is_counted_as_a_bypass_only()
    {
        await using var proxy = await ProxyHost.StartAsync();
        await AssertKeptAsync(proxy, "/control");
        Script(proxy, "/plain", Answer(null, fields: Fresh));
        Script(proxy, "/refused", Answer("/refused", fields: [("Cache-Control", "no-store")]));
        var before = proxy.Statistics;

        await proxy.SendAsync(HttpMethod.Post, "/plain");
        await proxy.SendAsync(HttpMethod.Post, "/plain", ("X-Again", "1"));
        var afterPlain = proxy.Statistics;
        await proxy.SendAsync(HttpMethod.Post, "/refused");
        var afterRefused = proxy.Statistics;

        Assert.Equal(before.Bypasses + 2, afterPlain.Bypasses);
        Assert.Equal(before.NotStored, afterPlain.NotStored);
        Assert.Equal(before.Stores, afterPlain.Stores);
        Assert.Equal(afterPlain.NotStored + 1, afterRefused.NotStored);
    }

    /// <summary>RFC 9110 §9.3.3 is about POST: a PUT, PATCH or DELETE answered the same way is not kept.</summary>
    [Theory]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    public async Task Another_unsafe_method_with_the_same_answer_is_not_kept(string method)
    {
        await using var proxy = await ProxyHost.StartAsync();
        await AssertKeptAsync(proxy, "/control");
        Script(proxy, "/put", Answer("/put", fields: Fresh));

        var response = await proxy.SendAsync(new HttpMethod(method), "/put");
        Assert.Equal(NotKept, response.CacheStatus());
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/put"));
    }

    /// <summary>§4.1: the variant kept is the one the POST's own request fields select.</summary>
    [Fact]
    public async Task A_POST_response_with_Vary_is_kept_for_the_POST_request_s_variant()
    {
        await using var proxy = await ProxyHost.StartAsync();
        Script(proxy, "/varied", Answer("/varied", fields: [("Cache-Control", "max-age=600"), ("Vary", "Accept-Language")]));

        await proxy.SendAsync(HttpMethod.Post, "/varied", ("Accept-Language", "fr"));
        Assert.True(await GetIsAnsweredFromCacheAsync(proxy, "/varied", ("Accept-Language", "fr")));
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/varied", ("Accept-Language", "de")));
    }

    /// <summary>docs/design.md rule 3: a body over the size limit reaches the client whole and is not kept.</summary>
    [Fact]
    public async Task A_POST_response_over_the_size_limit_reaches_the_client_whole_and_is_not_kept()
    {
        await using var proxy = await ProxyHost.StartAsync();
        await AssertKeptAsync(proxy, "/control");
        var large = new string('x', (4 * 1024 * 1024) + 1);
        proxy.Upstream.On("/large", r => r.Method == "POST"
            ? new Reply { Body = large }.With("Cache-Control", "max-age=600").With("Content-Location", "/large")
            : new Reply { Body = "get" });

        var post = await proxy.SendAsync(HttpMethod.Post, "/large");
        Assert.Equal(large.Length, (await post.Body()).Length);
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/large"));
    }

    /// <summary>
    /// The risk the option carries is the POST's own URI; no other: a client whose POST makes the origin name another URI
    /// in Content-Location (here the origin echoes a request field, the worst case) cannot make the cache keep anything
    /// for that URI, nor for its own.
    /// </summary>
    [Fact]
    public async Task A_client_cannot_make_the_cache_keep_a_POST_response_for_another_URI()
    {
        await using var proxy = await ProxyHost.StartAsync();
        await AssertKeptAsync(proxy, "/control");
        proxy.Upstream.On("/victim", r => new Reply { Body = $"real#{r.Number}" }.With("Cache-Control", "max-age=600"));
        proxy.Upstream.On("/echo", r => new Reply { Body = $"evil {r.Header("X-Where")}" }
            .With("Cache-Control", "max-age=600, public").With("Content-Location", r.Header("X-Where") ?? ""));

        foreach (var where in new[] { "/victim", "http://localhost/victim", "//localhost/victim", "victim", "/echo/../victim", "/%76ictim", "http://other.example/victim" })
        {
            var post = await proxy.SendAsync(HttpMethod.Post, "/echo", ("X-Where", where));
            Assert.Equal(NotKept, post.CacheStatus());
        }

        var get = await proxy.GetAsync("/victim");
        Assert.Equal("real#1", await get.Body());
        Assert.False(await GetIsAnsweredFromCacheAsync(proxy, "/echo"));
        Assert.Equal(1, proxy.Upstream.Count("/victim"));
    }
}

/// <summary>
/// The order across nodes (docs/modes.md, "POST responses"): the POST's own invalidation of its URI reaches every node
/// through the Redis backplane and the invalidation records, and leaves the kept response alone everywhere.
/// </summary>
public sealed class PostReuseClusterTests : IAsyncLifetime
{
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task A_POST_response_kept_on_one_node_survives_its_own_invalidation_on_every_node_and_a_later_one_removes_it()
    {
        var time = CacheHost.NewFakeClock();
        await using var upstream = await ScriptedUpstream.StartAsync(time);
        await using var first = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        await using var second = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        upstream.On("/shared", r => r.Method switch
        {
            "GET" => new Reply { Body = $"get#{r.Number}" }.With("Cache-Control", "max-age=600"),
            "POST" => new Reply { Body = $"posted#{r.Number}" }.With("Cache-Control", "max-age=600").With("Content-Location", "/shared"),
            _ => new Reply { Status = 204 },
        });

        // Both nodes hold the old response, in L1 and (the second through) in Redis.
        await second.GetAsync("/shared");
        Assert.Equal("get#1", await (await first.GetAsync("/shared")).Body());
        Assert.Equal(1, upstream.Count("/shared"));

        var backplane = second.Services.GetRequiredService<CacheRuntime>().Redis().Backplane;
        var invalidated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        backplane.TagInvalidationApplied += _ => invalidated.TrySetResult();
        backplane.EntryStored += _ => stored.TrySetResult();

        // A real clock is rarely on a whole millisecond, the precision of the records in Redis.
        time.Advance(TimeSpan.FromTicks(4_321));
        var post = await first.SendAsync(HttpMethod.Post, "/shared");
        Assert.Equal("TieredResponseCache; fwd=method; stored; ttl=600", post.CacheStatus());
        await invalidated.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await stored.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // The second node applied the POST's invalidation (its old L1 entry is dead) and reads the new one from Redis.
        var onSecond = await second.GetAsync("/shared");
        Assert.Equal("posted#2", await onSecond.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=600", onSecond.CacheStatus());
        Assert.Equal("0", onSecond.Header("Age"));
        Assert.Equal("posted#2", await (await first.GetAsync("/shared")).Body());

        // A node that starts now learns the invalidation from the records in Redis (whole milliseconds), not a message.
        await using var third = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        var onThird = await third.GetAsync("/shared");
        Assert.Equal("posted#2", await onThird.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=600", onThird.CacheStatus());
        Assert.Equal(2, upstream.Count("/shared"));

        // A later change on another node removes it everywhere. Later by the clocks: records are times, so a change stamped
        // no later than the POST's own invalidation is that invalidation's equal (docs/modes.md, "POST responses").
        time.Advance(TimeSpan.FromSeconds(1));
        var landed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        first.Services.GetRequiredService<CacheRuntime>().Redis().Backplane.TagInvalidationApplied += _ => landed.TrySetResult();
        await second.SendAsync(HttpMethod.Delete, "/shared");
        await landed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("get#4", await (await first.GetAsync("/shared")).Body());
    }
}
