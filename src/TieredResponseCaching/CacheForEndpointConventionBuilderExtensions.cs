using System.Diagnostics.CodeAnalysis;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching;

/// <summary>Turns caching on for minimal-API endpoints and endpoint groups.</summary>
public static class CacheForEndpointConventionBuilderExtensions
{
    // RS0026 guards against two overloads with optional parameters that one call could bind to (docs/contributing.md).
    private const string OverloadsDiffer = "The CacheFor overloads differ in their first parameter (a duration or a policy name).";

    /// <summary>Caches the endpoint's responses for <paramref name="duration"/>, with optional further settings.</summary>
    /// <example><c>app.MapGet("/products/{id}", Get).CacheFor(TimeSpan.FromMinutes(5), p => p.Tags("products"));</c></example>
    [SuppressMessage("ApiDesign", "RS0026", Justification = OverloadsDiffer)]
    public static TBuilder CacheFor<TBuilder>(this TBuilder builder, TimeSpan duration, Action<CachePolicyBuilder>? configure = null)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var policy = new CachePolicyBuilder();
        policy.Duration(duration);
        configure?.Invoke(policy);
        return AddPolicy(builder, policyName: null, policy.Options);
    }

    /// <summary>Caches the endpoint's responses with a policy added by <see cref="TieredResponseCacheOptions.AddPolicy"/>.</summary>
    [SuppressMessage("ApiDesign", "RS0026", Justification = OverloadsDiffer)]
    public static TBuilder CacheFor<TBuilder>(this TBuilder builder, string policyName, Action<CachePolicyBuilder>? configure = null)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(policyName);
        var policy = new CachePolicyBuilder();
        configure?.Invoke(policy);
        return AddPolicy(builder, policyName, policy.Options);
    }

    /// <summary>
    /// Caches the endpoint's responses in the origin-directed mode, as a shared HTTP cache would: the responses' own
    /// headers decide (RFC 9111). For reverse proxies and endpoints that relay upstream APIs; see docs/modes.md.
    /// </summary>
    /// <example><c>app.MapReverseProxy().CacheOriginDirected();</c></example>
    public static TBuilder CacheOriginDirected<TBuilder>(this TBuilder builder, Action<CachePolicyBuilder>? configure = null)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        var policy = new CachePolicyBuilder();
        policy.OriginDirected();
        configure?.Invoke(policy);
        return AddPolicy(builder, policyName: null, policy.Options);
    }

    private static TBuilder AddPolicy<TBuilder>(TBuilder builder, string? policyName, CachePolicyOptions settings)
        where TBuilder : IEndpointConventionBuilder
    {
        var metadata = new CachePolicyMetadata(policyName, settings);
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }
}
