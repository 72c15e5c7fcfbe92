using System.Net;
using TieredResponseCaching.Http.Origin;
using TieredResponseCaching.Storage;
using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>
/// RFC 9111 §3.3, §3.4: 206 responses stored as pieces, ranges answered from them, pieces combined into a complete
/// response (docs/modes.md, "Partial content"), against a scripted upstream that counts what reached it.
/// </summary>
public sealed class PartialContentTests
{
    private const string Document = "0123456789";

    /// <summary>An origin that answers ranges of <see cref="Document"/> with 206s (its ETag from <paramref name="etag"/>).</summary>
    private static Func<UpstreamRequest, Reply> Ranges(Func<UpstreamRequest, string?>? etag = null, string cacheControl = "max-age=3600", string? body = null) => r =>
    {
        var text = body ?? Document;
        if (r.Header("Range") is not { } range)
        {
            return new Reply { Body = text }.With("Cache-Control", cacheControl).With("ETag", etag?.Invoke(r) ?? "\"d\"");
        }

        var spec = range["bytes=".Length..].Split('-');
        var first = spec[0].Length == 0 ? text.Length - int.Parse(spec[1], System.Globalization.CultureInfo.InvariantCulture) : int.Parse(spec[0], System.Globalization.CultureInfo.InvariantCulture);
        var last = spec[0].Length == 0 || spec[1].Length == 0 ? text.Length - 1 : Math.Min(int.Parse(spec[1], System.Globalization.CultureInfo.InvariantCulture), text.Length - 1);
        var reply = new Reply { Status = 206, Body = text[first..(last + 1)] }
            .With("Cache-Control", cacheControl)
            .With("Content-Range", $"bytes {first}-{last}/{text.Length}");
        return etag?.Invoke(r) is { } tag ? reply.With("ETag", tag) : reply.With("ETag", "\"d\"");
    };

    private static Task<HttpResponseMessage> Range(ProxyHost proxy, string path, string range, params (string, string)[] more) =>
        proxy.GetAsync(path, [("Range", range), .. more]);

    [Fact]
    public async Task A_206_with_a_strong_validator_answers_later_ranges_inside_it()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/p", Ranges());

        var first = await Range(proxy, "/p", "bytes=2-7");
        Assert.Equal("234567", await first.Body());
        proxy.Advance(5);
        var hit = await Range(proxy, "/p", "bytes=3-5");
        Assert.Equal(HttpStatusCode.PartialContent, hit.StatusCode);
        Assert.Equal("345", await hit.Body());
        Assert.Equal("bytes 3-5/10", hit.Content.Headers.ContentRange?.ToString());
        Assert.Equal(3, hit.Content.Headers.ContentLength);
        Assert.Equal("5", hit.Header("Age"));
        Assert.Equal("TieredResponseCache; hit; ttl=3595", hit.CacheStatus());
        Assert.Equal("\"d\"", hit.Header("ETag"));
        Assert.Equal(1, proxy.Upstream.Count("/p"));
    }

    [Theory]
    [InlineData("bytes=0-3")]
    [InlineData("bytes=6-9")]
    [InlineData("bytes=-3")]
    [InlineData("bytes=0-1, 3-4")]
    public async Task A_range_not_wholly_inside_the_stored_pieces_goes_to_the_origin(string range)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/out", Ranges());

        await Range(proxy, "/out", "bytes=2-7");
        var response = await Range(proxy, "/out", range);
        Assert.Equal(range, proxy.Upstream.Last("/out").Header("Range"));
        Assert.Equal(2, proxy.Upstream.Count("/out"));
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=range", response.CacheStatus());
    }

    [Theory]
    [InlineData("bytes=0-4", "bytes=5-9")]
    [InlineData("bytes=0-6", "bytes=3-9")]
    [InlineData("bytes=-5", "bytes=0-5")]
    public async Task Pieces_of_one_validator_that_cover_the_representation_become_a_complete_response(string one, string two)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/whole", Ranges());

        await Range(proxy, "/whole", one);
        await Range(proxy, "/whole", two);
        var full = await proxy.GetAsync("/whole");
        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        Assert.Equal(Document, await full.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=3600", full.CacheStatus());
        Assert.Null(full.Content.Headers.ContentRange);
        Assert.Equal("234", await (await Range(proxy, "/whole", "bytes=2-4")).Body());
        Assert.Equal(2, proxy.Upstream.Count("/whole"));
    }

    [Fact]
    public async Task Pieces_with_another_validator_are_never_combined_and_the_new_piece_replaces_the_old()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/other", Ranges(etag: r => r.Number == 1 ? "\"a\"" : "\"b\""));

        await Range(proxy, "/other", "bytes=0-4");
        await Range(proxy, "/other", "bytes=5-9");
        Assert.Equal("TieredResponseCache; hit; ttl=3600", (await Range(proxy, "/other", "bytes=6-7")).CacheStatus());
        var replaced = await Range(proxy, "/other", "bytes=0-4");
        Assert.Equal("TieredResponseCache; fwd=bypass; detail=range", replaced.CacheStatus());
        Assert.Equal(3, proxy.Upstream.Count("/other"));

        // "a" 0-4 and "b" 5-9 were never combined; "b" 0-4 then completed "b": a plain GET is answered from it.
        var full = await proxy.GetAsync("/other");
        Assert.Equal("TieredResponseCache; hit; ttl=3600", full.CacheStatus());
        Assert.Equal("\"b\"", full.Header("ETag"));
        Assert.Equal(3, proxy.Upstream.Count("/other"));
    }

    [Theory]
    [InlineData("W/\"weak\"", null, null)]
    [InlineData(null, null, null)]
    [InlineData(null, "Thu, 01 Jan 2026 00:00:00 GMT", "Thu, 01 Jan 2026 00:00:00 GMT")]
    public async Task A_206_without_a_strong_validator_is_not_stored(string? etag, string? lastModified, string? date)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/weak", r =>
        {
            var reply = new Reply { Status = 206, Body = "2345" }.With("Cache-Control", "max-age=3600").With("Content-Range", "bytes 2-5/10");
            if (etag is not null)
            {
                reply.With("ETag", etag);
            }

            if (lastModified is not null)
            {
                reply.With("Last-Modified", lastModified).With("Date", date);
            }

            return reply;
        });

        await Range(proxy, "/weak", "bytes=2-5");
        await Range(proxy, "/weak", "bytes=2-5");
        Assert.Equal(2, proxy.Upstream.Count("/weak"));
    }

    [Fact]
    public async Task A_206_with_a_strong_Last_Modified_and_no_ETag_is_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/lm", r => new Reply { Status = 206, Body = "2345" }
            .With("Cache-Control", "max-age=3600").With("Content-Range", "bytes 2-5/10").With("Last-Modified", "Thu, 01 Jan 2026 00:00:00 GMT"));

        await Range(proxy, "/lm", "bytes=2-5");
        Assert.Equal("34", await (await Range(proxy, "/lm", "bytes=3-4")).Body());
        Assert.Equal(1, proxy.Upstream.Count("/lm"));
    }

    [Theory]
    [InlineData("bytes 2-5/10", "234")]
    [InlineData("bytes 2-5/10", "23456")]
    [InlineData("bytes 2-5/*", "2345")]
    [InlineData("bytes 5-20/10", "2345")]
    [InlineData("bytes 5-2/10", "2345")]
    [InlineData("items 2-5/10", "2345")]
    [InlineData("bytes 2-5/4", "2345")]
    public async Task A_206_whose_Content_Range_is_unknown_or_disagrees_with_its_body_is_not_stored(string contentRange, string body)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/lie", r => new Reply { Status = 206, Body = body }
            .With("Cache-Control", "max-age=3600").With("ETag", "\"l\"").With("Content-Range", contentRange));

        await Range(proxy, "/lie", "bytes=2-5");
        await Range(proxy, "/lie", "bytes=2-3");
        Assert.Equal(2, proxy.Upstream.Count("/lie"));
    }

    [Fact]
    public async Task A_206_to_a_request_without_Range_is_not_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/unasked", r => new Reply { Status = 206, Body = "2345" }
            .With("Cache-Control", "max-age=3600").With("ETag", "\"u\"").With("Content-Range", "bytes 2-5/10"));

        var first = await proxy.GetAsync("/unasked");
        Assert.Equal("TieredResponseCache; fwd=uri-miss; detail=status", first.CacheStatus());
        await proxy.GetAsync("/unasked");
        await Range(proxy, "/unasked", "bytes=2-3");
        Assert.Equal(3, proxy.Upstream.Count("/unasked"));
    }

    [Fact]
    public async Task A_multipart_byteranges_206_is_not_stored()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/multi", r => new Reply { Status = 206, Body = "--b\r\nContent-Range: bytes 0-1/10\r\n\r\n01\r\n--b--" }
            .With("Cache-Control", "max-age=3600").With("ETag", "\"m\"").With("Content-Type", "multipart/byteranges; boundary=b"));

        await Range(proxy, "/multi", "bytes=0-1, 5-6");
        await Range(proxy, "/multi", "bytes=0-1");
        Assert.Equal(2, proxy.Upstream.Count("/multi"));
    }

    [Theory]
    [InlineData("max-age=3600, no-store")]
    [InlineData("max-age=3600, private")]
    [InlineData("no-cache")]
    public async Task A_206_follows_the_usual_storage_rules_of_its_fields(string cacheControl)
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/rules", Ranges(cacheControl: cacheControl));

        await Range(proxy, "/rules", "bytes=2-7");
        await Range(proxy, "/rules", "bytes=3-4");
        Assert.Equal(2, proxy.Upstream.Count("/rules"));
    }

    [Fact]
    public async Task A_206_with_Set_Cookie_or_Vary_is_not_stored_as_a_piece()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/cookie", r => Ranges()(r).With("Set-Cookie", "s=1"));
        proxy.Upstream.On("/vary", r => Ranges()(r).With("Vary", "Accept-Language"));

        await Range(proxy, "/cookie", "bytes=2-7");
        await Range(proxy, "/cookie", "bytes=3-4");
        await Range(proxy, "/vary", "bytes=2-7");
        await Range(proxy, "/vary", "bytes=3-4");
        Assert.Equal(2, proxy.Upstream.Count("/cookie"));
        Assert.Equal(2, proxy.Upstream.Count("/vary"));
    }

    [Fact]
    public async Task Stored_pieces_are_not_used_once_stale_and_not_for_requests_with_credentials()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/stale", Ranges(cacheControl: "max-age=10"));

        await Range(proxy, "/stale", "bytes=2-7");
        await Range(proxy, "/stale", "bytes=3-4", ("Authorization", "Bearer x"));
        Assert.Equal(2, proxy.Upstream.Count("/stale"));
        proxy.Advance(20);
        await Range(proxy, "/stale", "bytes=3-4");
        Assert.Equal(3, proxy.Upstream.Count("/stale"));
    }

    [Fact]
    public async Task If_Range_with_the_pieces_strong_ETag_is_answered_and_another_goes_to_the_origin()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/if-range", Ranges());

        await Range(proxy, "/if-range", "bytes=2-7");
        Assert.Equal("34", await (await Range(proxy, "/if-range", "bytes=3-4", ("If-Range", "\"d\""))).Body());
        Assert.Equal(1, proxy.Upstream.Count("/if-range"));
        await Range(proxy, "/if-range", "bytes=3-4", ("If-Range", "\"other\""));
        await Range(proxy, "/if-range", "bytes=3-4", ("If-None-Match", "\"d\""));
        Assert.Equal(3, proxy.Upstream.Count("/if-range"));
    }

    [Fact]
    public async Task An_unsafe_request_to_the_URI_invalidates_its_pieces()
    {
        await using var proxy = await ProxyHost.StartAsync();
        proxy.Upstream.On("/inval", r => r.Method == "POST" ? new Reply { Status = 204 } : Ranges()(r));

        await Range(proxy, "/inval", "bytes=2-7");
        await proxy.SendAsync(HttpMethod.Post, "/inval");
        proxy.Advance(1);
        await Range(proxy, "/inval", "bytes=3-4");
        Assert.Equal(3, proxy.Upstream.Count("/inval"));
    }

    [Fact]
    public async Task Many_tiny_ranges_keep_at_most_sixteen_pieces_per_URI()
    {
        await using var proxy = await ProxyHost.StartAsync();
        var body = new string('x', 100);
        proxy.Upstream.On("/tiny", Ranges(body: body));

        for (var i = 0; i < 40; i++)
        {
            await Range(proxy, "/tiny", $"bytes={i * 2}-{i * 2}");
        }

        var answered = 0;
        for (var i = 0; i < 40; i++)
        {
            var before = proxy.Upstream.Count("/tiny");
            await Range(proxy, "/tiny", $"bytes={i * 2}-{i * 2}");
            answered += proxy.Upstream.Count("/tiny") == before ? 1 : 0;
        }

        Assert.InRange(answered, 1, PartialResponses.MaximumPieces);
    }

    [Fact]
    public void Merging_keeps_the_largest_pieces_within_the_piece_and_byte_bounds()
    {
        var data = new byte[100];
        var (pieces, body) = PartialResponses.Merge(null, "E\"x\"", 1000, 0, data[..50], maximumBytes: 60);
        Assert.Single(pieces);
        var entry = Entry(pieces, body);
        (pieces, body) = PartialResponses.Merge(entry, "E\"x\"", 1000, 100, data[..20], maximumBytes: 60);

        // 50 + 20 bytes exceed 60: the smaller piece goes.
        Assert.Equal([new PartialPiece(0, 49, 0)], pieces);
        (pieces, body) = PartialResponses.Merge(Entry(pieces, body), "E\"x\"", 1000, 40, data[..20], maximumBytes: 60);

        // Overlapping: one piece 0..59.
        Assert.Equal([new PartialPiece(0, 59, 0)], pieces);
        Assert.Equal(60, body.Length);
        (pieces, _) = PartialResponses.Merge(Entry(pieces, body), "E\"y\"", 1000, 500, data[..5], maximumBytes: 60);

        // Another validator: replaced.
        Assert.Equal([new PartialPiece(500, 504, 0)], pieces);
    }

    private static CachedResponse Entry(PartialPiece[] pieces, byte[] body) => new()
    {
        Key = [1],
        Hash = 1,
        StatusCode = 206,
        Headers = [],
        NotModifiedHeaders = [],
        Body = CachedBody.Copy(body),
        ETag = "\"x\"",
        Created = DateTimeOffset.UnixEpoch,
        FreshUntil = DateTimeOffset.UnixEpoch,
        StaleUntil = DateTimeOffset.UnixEpoch,
        StaleIfErrorUntil = DateTimeOffset.UnixEpoch,
        Tags = [],
        Size = body.Length,
        Partial = new PartialContent(1000, "E\"x\"", pieces),
    };
}
