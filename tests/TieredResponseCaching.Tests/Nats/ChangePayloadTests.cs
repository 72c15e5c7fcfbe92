using System.Text;
using TieredResponseCaching.Nats;

namespace TieredResponseCaching.Tests.Nats;

/// <summary>
/// A JetStream message's payload: a tag, tags separated by commas, JSON with tags and paths, or a row change mapped
/// through the table rules (docs/change-events.md, "NATS JetStream").
/// </summary>
public sealed class ChangePayloadTests
{
    private static readonly Dictionary<string, string[]> Rules = new()
    {
        ["products"] = ["product:{id}", "/products/{id}", "catalog"],
        ["public.order_lines"] = ["order:{order_id}:line:{line}"],
    };

    [Theory]
    [InlineData("products", "tag 'products'")]
    [InlineData(" product:42 ,catalog,", "tag 'product:42'|tag 'catalog'")]
    [InlineData("""{"tags": ["catalog"], "paths": ["/products/42"]}""", "tag 'catalog'|path '/products/42'")]
    [InlineData("""{"table": "products", "op": "update", "keys": {"id": 42}}""", "tag 'product:42'|path '/products/42'|tag 'catalog'")]
    [InlineData("""{"table": "products", "op": "delete", "keys": {"id": "a-7"}}""", "tag 'product:a-7'|path '/products/a-7'|tag 'catalog'")]
    [InlineData("""{"schema": "public", "table": "order_lines", "op": "insert", "keys": {"order_id": 9, "line": 2}}""", "tag 'order:9:line:2'")]
    [InlineData("""{"tags": ["extra"], "table": "products", "keys": {"id": 1}}""", "tag 'extra'|tag 'product:1'|path '/products/1'|tag 'catalog'")]
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
    [InlineData("""{"tags": ["a"]} trailing""", "not valid JSON")]
    [InlineData("""{"tags": "catalog"}""", "must be an array")]
    [InlineData("""{"tags": [1]}""", "not a string")]
    [InlineData("""{"paths": ["products/1"]}""", "must start with '/'")]
    [InlineData("""{"op": "update"}""", "\"tags\", \"paths\" or \"table\"")]
    [InlineData("""{"table": "orders", "keys": {"id": 1}}""", "no rule maps table 'orders'")]
    [InlineData("""{"table": 7}""", "\"table\" must be a string")]
    [InlineData("""{"table": "order_lines", "keys": {"order_id": 1, "line": 1}}""", "no rule maps table 'order_lines'")]
    [InlineData("""{"schema": "public", "table": "order_lines", "keys": [1]}""", "\"keys\" must be an object")]
    [InlineData("""{"schema": "public", "table": "order_lines", "keys": {"order_id": 1, "line": null}}""", "no value for 'line'")]
    public void A_malformed_payload_gives_a_reason_and_no_invalidation(string payload, string reason)
    {
        var (events, errors) = Parse(payload);

        Assert.Empty(events);
        Assert.Contains(reason, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void A_row_change_missing_a_key_column_still_gives_what_needs_no_key()
    {
        var (events, errors) = Parse("""{"table": "products", "op": "update", "keys": {"sku": "x"}}""");

        Assert.Equal("tag 'catalog'", string.Join('|', events));
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.Contains("no value for 'id'", e, StringComparison.Ordinal));
    }

    [Fact]
    public void A_key_value_that_breaks_the_tag_rules_is_reported()
    {
        var (events, errors) = Parse("""{"table": "products", "keys": {"id": "two words"}}""");

        Assert.Equal("tag 'catalog'", string.Join('|', events));
        Assert.Equal(2, errors.Count);
    }

    [Theory]
    [InlineData("products", new string[0], "names nothing")]
    [InlineData("products", new[] { "product:{id" }, "malformed parameter")]
    [InlineData("products", new[] { "two words" }, "not valid")]
    [InlineData("products", new[] { "" }, "empty")]
    public void A_rule_that_is_not_valid_is_reported_when_compiled(string table, string[] invalidates, string reason)
    {
        var errors = new List<string>();
        ChangePayload.Compile(new Dictionary<string, string[]> { [table] = invalidates }, errors);

        Assert.Contains(reason, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_payload_is_shortened_to_200_characters_for_the_log()
    {
        var shortened = ChangePayload.Shorten(Encoding.UTF8.GetBytes(new string('x', 5000)));

        Assert.Equal(201, shortened.Length);
        Assert.EndsWith("…", shortened, StringComparison.Ordinal);
    }

    private static (List<InvalidationEvent> Events, List<string> Errors) Parse(string payload)
    {
        var compileErrors = new List<string>();
        var parser = ChangePayload.Compile(Rules, compileErrors);
        Assert.Empty(compileErrors);
        var (events, errors) = (new List<InvalidationEvent>(), new List<string>());
        parser.Parse(Encoding.UTF8.GetBytes(payload), events, errors);
        return (events, errors);
    }
}
