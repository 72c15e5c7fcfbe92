using TieredResponseCaching.PostgreSql;

namespace TieredResponseCaching.Tests.PostgreSql;

/// <summary>The payload of a PostgreSQL notification: a tag, tags separated by commas, or JSON with tags and paths.</summary>
public sealed class NotificationPayloadTests
{
    [Theory]
    [InlineData("products", "tag 'products'")]
    [InlineData(" product:42 ,catalog,", "tag 'product:42'|tag 'catalog'")]
    [InlineData("""{"tags": ["catalog"], "paths": ["/products/42"]}""", "tag 'catalog'|path '/products/42'")]
    [InlineData("""{"paths": ["/a", "/b"], "table": "products"}""", "path '/a'|path '/b'")]
    [InlineData("""  {"tags": []}""", "")]
    public void A_well_formed_payload_gives_its_invalidations_in_order(string payload, string expected)
    {
        var (events, errors) = Parse(payload);

        Assert.Empty(errors);
        Assert.Equal(expected, string.Join('|', events));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("two words", "not valid")]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("""{"tags": "catalog"}""", "must be an array")]
    [InlineData("""{"tags": [1]}""", "not a string")]
    [InlineData("""{"paths": ["products/1"]}""", "must start with '/'")]
    [InlineData("""{"table": "products"}""", "\"tags\" or \"paths\"")]
    [InlineData("""["catalog"]""", "not valid")]
    public void A_malformed_payload_gives_a_reason_and_no_invalidation(string payload, string reason)
    {
        var (events, errors) = Parse(payload);

        Assert.Empty(events);
        Assert.Contains(reason, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void The_valid_parts_of_a_partly_malformed_payload_are_kept()
    {
        var (events, errors) = Parse("""{"tags": ["catalog", 5, "has space"], "paths": ["/products/1"]}""");

        Assert.Equal("tag 'catalog'|path '/products/1'", string.Join('|', events));
        Assert.Equal(2, errors.Count);
    }

    [Fact]
    public void Channel_names_are_quoted_so_they_match_pg_notify_exactly()
    {
        Assert.Equal("\"Catalog\"", PostgreSqlInvalidationSource.QuoteIdentifier("Catalog"));
        Assert.Equal("\"a\"\"b\"", PostgreSqlInvalidationSource.QuoteIdentifier("a\"b"));
    }

    private static (List<InvalidationEvent> Events, List<string> Errors) Parse(string payload)
    {
        var (events, errors) = (new List<InvalidationEvent>(), new List<string>());
        NotificationPayload.Parse(payload, events, errors);
        return (events, errors);
    }
}
