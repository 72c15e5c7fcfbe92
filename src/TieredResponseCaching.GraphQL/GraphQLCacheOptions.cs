namespace TieredResponseCaching;

/// <summary>
/// How GraphQL requests are keyed and stored, on endpoints whose policy says <c>GraphQL()</c>; set with
/// <c>services.AddTieredResponseCache(...).AddGraphQL(graphql => ...)</c>. See docs/graphql.md.
/// </summary>
public sealed class GraphQLCacheOptions
{
    /// <summary>The largest request (document and variables) keyed; larger ones go to the app uncached. Default 64 KiB.</summary>
    public int MaximumDocumentSize { get; set; } = 64 * 1024;

    /// <summary>The deepest nesting of selections and values parsed; deeper documents go to the app uncached. Default 64.</summary>
    public int MaximumDepth { get; set; } = 64;

    /// <summary>How many parsed documents are remembered, so a repeated document costs a hash. Default 1,000.</summary>
    public int DocumentCacheSize { get; set; } = 1000;

    /// <summary>Cache introspection queries (<c>__schema</c>, <c>__type</c>). Default off.</summary>
    public bool CacheIntrospection { get; set; }

    /// <summary>
    /// Sort selections in the key, so <c>{ a b }</c> and <c>{ b a }</c> share an entry. Only for apps whose
    /// clients ignore the order of JSON members: the response's member order follows the selection order. Default off.
    /// </summary>
    public bool SortSelections { get; set; }

    internal Dictionary<string, CachePolicyOptions> Operations { get; } = new(StringComparer.Ordinal);

    /// <summary>Settings for one operation name (duration, tags, no-store...), over the endpoint's policy.</summary>
    public GraphQLCacheOptions ForOperation(string operationName, Action<CachePolicyBuilder> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(operationName);
        ArgumentNullException.ThrowIfNull(configure);
        var builder = new CachePolicyBuilder();
        configure(builder);
        Operations[operationName] = builder.Options;
        return this;
    }
}
