using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Http;
using Coding = TieredResponseCaching.Http.ContentNegotiation.Coding;

namespace TieredResponseCaching.Tests.Http;

/// <summary>The Accept-Encoding table of RFC 9110 §12.5.3 as the cache applies it (docs/compression.md).</summary>
public class ContentNegotiationTests
{
    public static TheoryData<string?, string> Table => new()
    {
        // No header: identity (any coding would be allowed, but the app would have answered identity).
        { null, "Identity" },
        // An empty value: only identity.
        { "", "Identity" },
        { "br", "Brotli" },
        { "gzip", "Gzip" },
        { "x-gzip", "Gzip" },
        { "GZIP", "Gzip" },
        { "gzip, deflate, br, zstd", "Brotli" },
        { "gzip, deflate", "Gzip" },
        { "deflate", "Identity" },
        { "zstd, deflate", "Identity" },
        // Weights decide; a tie prefers Brotli, then gzip, then identity.
        { "br;q=0.5, gzip", "Gzip" },
        { "br;q=1.0, gzip;q=1", "Brotli" },
        { "gzip;q=0.9, br;q=0.8", "Gzip" },
        { "br;q=0.001", "Brotli" },
        { "gzip;q=0.5, identity", "Identity" },
        { "gzip, identity;q=0.5", "Gzip" },
        { "br ; q=0.5", "Brotli" },
        { "br;Q=0.5", "Brotli" },
        // q=0: not acceptable.
        { "br;q=0", "Identity" },
        { "br;q=0, gzip;q=0", "Identity" },
        { "br;q=0.000, gzip", "Gzip" },
        // The wildcard stands for every coding not listed, identity included.
        { "*", "Brotli" },
        { "*;q=0.5, br;q=0.4", "Gzip" },
        { "*;q=0, gzip", "Gzip" },
        { "br;q=0, *", "Gzip" },
        { "*;q=0", "Identity" },
        // identity;q=0 with nothing else acceptable: the header is disregarded (§12.1), identity is served, never 406.
        { "identity;q=0", "Identity" },
        { "identity;q=0, gzip", "Gzip" },
        { "identity;q=0, br;q=0, gzip;q=0", "Identity" },
        // Malformed: the whole header is disregarded.
        { "br;q=2", "Identity" },
        { "br;q=1.5", "Identity" },
        { "br;q=0.5000", "Identity" },
        { "br;q=.5", "Identity" },
        { "br;q=", "Identity" },
        { "br;q", "Identity" },
        { "br;level=5", "Identity" },
        { "b r", "Identity" },
        { "br\u0000", "Identity" },
        { "gzip;q=0.5;q=0.7", "Identity" },
        { ",,, br ,,", "Brotli" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Accept_Encoding_chooses_the_coding_RFC_9110_allows_with_the_highest_weight(string? acceptEncoding, string expected) =>
        Assert.Equal(expected, ContentNegotiation.Choose(acceptEncoding is null ? StringValues.Empty : new StringValues(acceptEncoding)).ToString());

    [Fact]
    public void Several_Accept_Encoding_fields_are_one_list() =>
        Assert.Equal(Coding.Gzip, ContentNegotiation.Choose(new StringValues(["br;q=0.1", "gzip"])));

    [Fact]
    public void A_header_past_the_length_or_item_limits_is_disregarded()
    {
        Assert.Equal(Coding.Identity, ContentNegotiation.Choose("br, " + new string('a', ContentNegotiation.MaximumLength)));
        Assert.Equal(Coding.Identity, ContentNegotiation.Choose(string.Join(",", Enumerable.Repeat("x", ContentNegotiation.MaximumItems)) + ",br"));
        Assert.Equal(Coding.Brotli, ContentNegotiation.Choose(string.Join(",", Enumerable.Repeat("x", ContentNegotiation.MaximumItems - 1)) + ",br"));
    }

    [Fact]
    public void Choosing_allocates_nothing()
    {
        var value = new StringValues("gzip, deflate, br;q=0.9, zstd, identity;q=0.1");
        ContentNegotiation.Choose(value);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            ContentNegotiation.Choose(value);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
