using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using StackExchange.Redis;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Redis;
using TieredResponseCaching.Storage;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9111 §4.3.1, §4.3.3, §4.3.4 for a URI whose responses vary (docs/modes.md, "Validators across variants"): a request the cache
/// forwards for one variant carries the entity tags of the URI's other stored variants, and a 304 naming one of them
/// selects that stored response, freshened, for this request too.
/// </summary>
public sealed class VaryValidatorsTests : IAsyncLifetime
{
    private RedisServer? _redis;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    /// <summary>
    /// An origin varying on Foo whose representation has the entity tag <paramref name="etagOf"/> gives for a value of Foo;
    /// a request whose If-None-Match lists a tag in <paramref name="notModified"/> gets a 304 with that tag.
    /// </summary>
    private static Func<UpstreamRequest, Reply> Varied(string path, Func<string, string> etagOf, params string[] notModified) => r =>
    {
        var sent = r.Header("If-None-Match") ?? "";
        foreach (var tag in notModified)
        {
            if (sent.Contains(tag, StringComparison.Ordinal))
            {
                return new Reply { Status = 304 }.With("ETag", tag).With("Cache-Control", "max-age=100").With("Vary", "Foo");
            }
        }

        var foo = r.Header("Foo") ?? "-";
        return new Reply { Body = $"{path} foo={foo}" }.With("ETag", etagOf(foo)).With("Cache-Control", "max-age=10").With("Vary", "Foo");
    };

    [Fact]
    public async Task A_request_for_a_new_variant_sends_the_entity_tags_of_the_stored_variants_most_recent_first()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/tags", Varied("/tags", foo => $"\"e{foo}\""));

        await proxy.GetAsync("/tags", ("Foo", "1"));
        await proxy.GetAsync("/tags", ("Foo", "2"));
        var third = await proxy.GetAsync("/tags", ("Foo", "3"));

        Assert.Equal("/tags foo=3", await third.Body());
        Assert.Equal("TieredResponseCache; fwd=vary-miss; stored; ttl=10", third.CacheStatus());
        Assert.Equal("\"e2\", \"e1\"", proxy.Upstream.Last("/tags").Header("If-None-Match"));
        Assert.Null(proxy.Upstream.Last("/tags").Header("If-Modified-Since"));
    }

    [Fact]
    public async Task A_304_naming_another_variant_serves_that_variant_s_body_and_stores_it_for_the_request_s_values()
    {
        await using var proxy = await ProxyHost.StartAsync();
        // The origin ignores Foo's value: one representation, "same", for every value.
        proxy.Upstream.On("/same", Varied("/same", _ => "\"same\"", "\"same\""));

        await proxy.GetAsync("/same", ("Foo", "1"));
        var second = await proxy.GetAsync("/same", ("Foo", "2"));
        var hit = await proxy.GetAsync("/same", ("Foo", "2"));
        var first = await proxy.GetAsync("/same", ("Foo", "1"));

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("/same foo=1", await second.Body());
        Assert.Equal("\"same\"", second.Header("ETag"));
        Assert.Equal("TieredResponseCache; fwd=vary-miss; fwd-status=304; stored; ttl=100", second.CacheStatus());
        Assert.Equal("/same foo=1", await hit.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=100", hit.CacheStatus());
        // §4.3.4: the selected response was freshened too (its new lifetime is the 304's).
        Assert.Equal("TieredResponseCache; hit; ttl=100", first.CacheStatus());
        Assert.Equal(2, proxy.Upstream.Count("/same"));
    }

    [Fact]
    public async Task A_stale_variant_is_revalidated_with_its_own_tag_and_the_others_and_a_304_naming_another_replaces_it()
    {
        await using var proxy = await ProxyHost.StartAsync();
        var varied = Varied("/stale", foo => $"\"e{foo}\"");
        proxy.Upstream.On("/stale", r => r.Header("If-None-Match") is { } sent && sent.Contains("\"e2\"", StringComparison.Ordinal)
            ? new Reply { Status = 304 }.With("ETag", "\"e1\"").With("Cache-Control", "max-age=100").With("Vary", "Foo")
            : varied(r));

        await proxy.GetAsync("/stale", ("Foo", "1"));
        await proxy.GetAsync("/stale", ("Foo", "2"));
        proxy.Advance(11);
        var revalidated = await proxy.GetAsync("/stale", ("Foo", "2"));
        var hit = await proxy.GetAsync("/stale", ("Foo", "2"));

        Assert.Equal("\"e2\", \"e1\"", proxy.Upstream.Last("/stale").Header("If-None-Match"));
        Assert.Equal("/stale foo=1", await revalidated.Body());
        Assert.Equal("TieredResponseCache; fwd=stale; fwd-status=304; stored; ttl=100", revalidated.CacheStatus());
        Assert.Equal("/stale foo=1", await hit.Body());
        Assert.Equal(3, proxy.Upstream.Count("/stale"));
    }

    /// <summary>
    /// RFC 9110 §13.2.2: an origin evaluates If-None-Match instead of If-Modified-Since, so a variant validated by its
    /// Last-Modified alone sends no other variant's tags (they would hide its own validator).
    /// </summary>
    [Fact]
    public async Task A_variant_revalidated_by_Last_Modified_alone_sends_no_other_tags_but_a_new_variant_does()
    {
        await using var proxy = await ProxyHost.StartAsync();
        var lastModified = Origin.HttpDateFormat(proxy.Time.GetUtcNow().AddDays(-1));
        proxy.Upstream.On("/lm", r => r.Header("Foo") == "2"
            ? new Reply { Body = "lm" }.With("Last-Modified", lastModified).With("Cache-Control", "max-age=10").With("Vary", "Foo")
            : new Reply { Body = "tagged" }.With("ETag", "\"t\"").With("Cache-Control", "max-age=3600").With("Vary", "Foo"));

        await proxy.GetAsync("/lm", ("Foo", "1"));
        await proxy.GetAsync("/lm", ("Foo", "2"));
        Assert.Equal("\"t\"", proxy.Upstream.Last("/lm").Header("If-None-Match"));
        proxy.Advance(11);
        await proxy.GetAsync("/lm", ("Foo", "2"));

        Assert.Null(proxy.Upstream.Last("/lm").Header("If-None-Match"));
        Assert.Equal(lastModified, proxy.Upstream.Last("/lm").Header("If-Modified-Since"));
    }

    [Fact]
    public async Task A_304_with_a_tag_no_stored_variant_carries_is_answered_by_fetching_again_without_validators()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/unknown", r => r.Header("If-None-Match") is not null
            ? new Reply { Status = 304 }.With("ETag", "\"nobody\"").With("Cache-Control", "max-age=100")
            : new Reply { Body = $"#{r.Number}" }.With("ETag", $"\"n{r.Number}\"").With("Cache-Control", "max-age=10").With("Vary", "Foo"));

        await proxy.GetAsync("/unknown", ("Foo", "1"));
        var response = await proxy.GetAsync("/unknown", ("Foo", "2"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("#3", await response.Body());
        Assert.Equal(3, proxy.Upstream.Count("/unknown"));
        var requests = proxy.Upstream.Requests.Where(r => r.Path == "/unknown").ToArray();
        Assert.Equal("\"n1\"", requests[1].Header("If-None-Match"));
        Assert.Null(requests[2].Header("If-None-Match"));
        Assert.Equal("#1", await (await proxy.GetAsync("/unknown", ("Foo", "1"))).Body());
    }

    [Fact]
    public async Task At_most_eight_entity_tags_are_sent_those_of_the_most_recently_stored_variants()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/many", Varied("/many", foo => $"\"e{foo}\""));

        for (var i = 1; i <= 10; i++)
        {
            await proxy.GetAsync("/many", ("Foo", $"{i}"));
        }

        await proxy.GetAsync("/many", ("Foo", "11"));

        var sent = proxy.Upstream.Last("/many").Header("If-None-Match");
        Assert.Equal(string.Join(", ", Enumerable.Range(3, 8).Reverse().Select(i => $"\"e{i}\"")), sent);
    }

    [Fact]
    public async Task Weak_entity_tags_are_sent_and_a_304_with_the_weak_tag_selects_its_variant()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/weak", Varied("/weak", _ => "W/\"w\"", "W/\"w\""));

        await proxy.GetAsync("/weak", ("Foo", "1"));
        var second = await proxy.GetAsync("/weak", ("Foo", "2"));

        Assert.Equal("W/\"w\"", proxy.Upstream.Last("/weak").Header("If-None-Match"));
        Assert.Equal("/weak foo=1", await second.Body());
        Assert.Equal(2, proxy.Upstream.Count("/weak"));
    }

    /// <summary>RFC 9110 §8.8.3: an ETag that is not a well-formed entity tag is no validator and never goes upstream.</summary>
    [Fact]
    public async Task Malformed_entity_tags_of_stored_variants_are_never_sent()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/malformed", Varied("/malformed", foo => foo switch { "1" => "\"good\"", "2" => "bare", _ => "\"broken" }));

        await proxy.GetAsync("/malformed", ("Foo", "1"));
        await proxy.GetAsync("/malformed", ("Foo", "2"));
        await proxy.GetAsync("/malformed", ("Foo", "3"));
        await proxy.GetAsync("/malformed", ("Foo", "4"));

        Assert.Equal("\"good\"", proxy.Upstream.Last("/malformed").Header("If-None-Match"));
    }

    /// <summary>docs/modes.md, "Miss with client validators": the client's own tag is answered from what the cache then holds.</summary>
    [Fact]
    public async Task A_client_s_matching_If_None_Match_is_answered_with_304_after_a_304_selected_another_variant()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/client", Varied("/client", _ => "\"c\"", "\"c\""));

        await proxy.GetAsync("/client", ("Foo", "1"));
        var response = await proxy.GetAsync("/client", ("Foo", "2"), ("If-None-Match", "\"c\""));

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal("\"c\"", proxy.Upstream.Last("/client").Header("If-None-Match"));
        Assert.Equal(2, proxy.Upstream.Count("/client"));
    }

    /// <summary>Only a 304 is held back (the cache answers it from a stored variant): a 200 to the tags streams as any miss does.</summary>
    [Fact]
    public async Task A_miss_that_sends_other_variants_tags_streams_a_200_to_the_client_as_it_comes()
    {
        var gate = FlowKit.Signal();
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/streamed", async (HttpContext context) =>
        {
            var foo = context.Request.Headers["Foo"].ToString();
            context.Response.Headers.CacheControl = "max-age=60";
            context.Response.Headers.Vary = "Foo";
            context.Response.Headers.ETag = $"\"s{foo}\"";
            await context.Response.WriteAsync($"first {foo};");
            await context.Response.Body.FlushAsync();
            if (foo == "2")
            {
                await gate.Task;
            }

            await context.Response.WriteAsync("rest");
        }).CacheOriginDirected());
        await host.GetAsync("/streamed", ("Foo", "1"));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/streamed");
        request.Headers.Add("Foo", "2");
        using var miss = await host.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).Guarded();
        var body = await miss.Content.ReadAsStreamAsync();
        var first = new byte["first 2;".Length];
        await body.ReadExactlyAsync(first).AsTask().Guarded();
        gate.SetResult();

        Assert.Equal("first 2;", System.Text.Encoding.ASCII.GetString(first));
        Assert.Equal("rest", await new StreamReader(body).ReadToEndAsync());
        Assert.Equal("TieredResponseCache; fwd=vary-miss; stored; ttl=60", miss.CacheStatus());
    }

    [Fact]
    public async Task A_variant_stored_by_one_node_is_selected_by_a_304_to_the_other_node_s_request_with_its_tag()
    {
        _redis = await RedisServer.StartAsync();
        var time = CacheHost.NewFakeClock();
        await using var upstream = await ScriptedUpstream.StartAsync(time);
        await using var first = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        await using var second = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        upstream.On("/nodes", Varied("/nodes", _ => "\"n\"", "\"n\""));

        await first.GetAsync("/nodes", ("Foo", "1"));
        var response = await second.GetAsync("/nodes", ("Foo", "2"));

        Assert.Equal("\"n\"", upstream.Last("/nodes").Header("If-None-Match"));
        Assert.Equal("/nodes foo=1", await response.Body());
        Assert.Equal("TieredResponseCache; fwd=vary-miss; fwd-status=304; stored; ttl=100", response.CacheStatus());
        var hit = await first.GetAsync("/nodes", ("Foo", "2"));
        Assert.Equal("/nodes foo=1", await hit.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=100", hit.CacheStatus());
        Assert.Equal(2, upstream.Count("/nodes"));
    }

    public static TheoryData<string> HostileRecords =>
    [
        "a variant key of another URI",
        "an entity tag that is not well formed",
        "CR LF in an entity tag",
        "nine variants",
    ];

    /// <summary>docs/tiers.md, "What Redis is trusted with": a vary record's variant list is checked like every other field.</summary>
    [Theory]
    [MemberData(nameof(HostileRecords))]
    public async Task A_hostile_variant_list_in_Redis_never_serves_another_URI_s_body_nor_sends_its_tags(string hostile)
    {
        _redis = await RedisServer.StartAsync();
        var time = CacheHost.NewFakeClock();
        await using var upstream = await ScriptedUpstream.StartAsync(time);
        await using var writer = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        upstream.On("/victim", Varied("/victim", foo => $"\"v{foo}\"", "\"o1\"", "\"v1\""));
        upstream.On("/other", Varied("/other", foo => $"\"o{foo}\""));
        await writer.GetAsync("/victim", ("Foo", "1"));
        await writer.GetAsync("/other", ("Foo", "1"));

        var db = await _redis.DatabaseAsync();
        var (recordKey, record) = await FindVaryRecordAsync(db, "/victim");
        var (_, otherRecord) = await FindVaryRecordAsync(db, "/other");
        var own = record.StoredVariants![0];
        StoredVariant[] variants = hostile switch
        {
            "a variant key of another URI" => [new StoredVariant(otherRecord.StoredVariants![0].Key, "\"o1\"")],
            "an entity tag that is not well formed" => [new StoredVariant(own.Key, "v1")],
            "CR LF in an entity tag" => [new StoredVariant(own.Key, "\"v1\"\r\nX-Injected: 1")],
            _ => [.. Enumerable.Repeat(own, 9)],
        };
        await db.StringSetAsync(recordKey, Serialize(With(record, variants)));

        await using var reader = await ProxyHost.StartNodeAsync(upstream, time, "--Redis", _redis.Configuration);
        var response = await reader.GetAsync("/victim", ("Foo", "2"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("/victim foo=2", await response.Body());
        Assert.Equal("TieredResponseCache; fwd=uri-miss; stored; ttl=10", response.CacheStatus());
        var sent = upstream.Last("/victim");
        Assert.Null(sent.Header("If-None-Match"));
        Assert.Null(sent.Header("X-Injected"));
    }

    [Fact]
    public void A_vary_record_s_variants_survive_the_L2_format_and_a_record_without_them_reads_as_no_tags()
    {
        var primary = "O\u0001P/x"u8.ToArray();
        var variant = new StoredVariant([.. "O\u0001S/x"u8, 1, 3, .. "foo"u8], "W/\"a\"");
        var record = new CachedResponse
        {
            Key = primary,
            Hash = 1,
            StatusCode = 200,
            Headers = [],
            NotModifiedHeaders = [],
            Body = CachedBody.Empty,
            ETag = "",
            Created = DateTimeOffset.UnixEpoch,
            FreshUntil = DateTimeOffset.UnixEpoch.AddHours(1),
            StaleUntil = DateTimeOffset.UnixEpoch.AddHours(1),
            StaleIfErrorUntil = DateTimeOffset.UnixEpoch.AddHours(1),
            Tags = [],
            VaryNames = ["foo"],
            Size = 1,
        };
        Assert.True(OriginKeys.IsVariantOf(primary, variant.Key));

        var read = EntrySerializer.TryRead(Serialize(With(record, [variant])), 1);
        var old = EntrySerializer.TryRead(Serialize(record), 1);

        var listed = Assert.Single(read!.StoredVariants!);
        Assert.Equal(variant.Key, listed.Key);
        Assert.Equal("W/\"a\"", listed.ETag);
        Assert.Equal(["foo"], old!.VaryNames!);
        Assert.Null(old.StoredVariants);
    }

    /// <summary>The vary record of <paramref name="path"/> in Redis (the entry whose key is that URI's primary key).</summary>
    private static async Task<(RedisKey Key, CachedResponse Record)> FindVaryRecordAsync(IDatabase db, string path)
    {
        var server = db.Multiplexer.GetServers().Single();
        await foreach (var key in server.KeysAsync())
        {
            if (await db.KeyTypeAsync(key) != RedisType.String)
            {
                continue;
            }

            var bytes = (byte[]?)await db.StringGetAsync(key);
            if (bytes is not null && EntrySerializer.TryRead(bytes, 0) is { VaryNames: not null, StoredVariants: not null } entry
                && entry.Key.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(path)) >= 0)
            {
                return (key, entry);
            }
        }

        throw new InvalidOperationException($"No vary record for {path} in Redis.");
    }

    private static CachedResponse With(CachedResponse record, StoredVariant[] variants) => new()
    {
        Key = record.Key,
        Hash = record.Hash,
        StatusCode = record.StatusCode,
        Headers = record.Headers,
        NotModifiedHeaders = record.NotModifiedHeaders,
        Body = record.Body,
        ETag = record.ETag,
        Created = record.Created,
        FreshUntil = record.FreshUntil,
        StaleUntil = record.StaleUntil,
        StaleIfErrorUntil = record.StaleIfErrorUntil,
        RetainUntil = record.RetainUntil,
        Tags = record.Tags,
        VaryNames = record.VaryNames,
        StoredVariants = variants,
        Size = record.Size,
    };

    private static byte[] Serialize(CachedResponse entry)
    {
        using var buffer = new PooledBufferWriter();
        EntrySerializer.Write(entry, buffer, long.MaxValue);
        return buffer.WrittenSpan.ToArray();
    }
}
