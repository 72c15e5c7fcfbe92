using System.Diagnostics.CodeAnalysis;
using TieredResponseCaching;
using TieredResponseCaching.Policies;

// In the namespace of the platform's own endpoint conventions (CacheOutput, RequireAuthorization): no using needed.
namespace Microsoft.AspNetCore.Builder;

/// <summary>Turns caching on for minimal-API endpoints and endpoint groups.</summary>
public static class CacheForEndpointConventionBuilderExtensions
{
    // RS0026 guards against two overloads with optional parameters that one call could bind to (docs/contributing.md).
    private const string OverloadsDiffer = "The CacheFor overloads differ in their first parameter (a duration or a policy name).";

    /// <summary>
    /// Caches the endpoint's responses with the default policy: <see cref="TieredResponseCacheOptions.DefaultPolicy"/>
    /// over the built-in defaults (fresh for 60 seconds, every query key in the key, status 200 only), as
    /// <c>CacheOutput()</c> does for Output Caching.
    /// </summary>
    /// <example><c>app.MapGet("/products", List).CacheFor();</c></example>
    public static TBuilder CacheFor<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        return AddPolicy(builder, policyName: null, new CachePolicyOptions());
    }

    /// <summary>Caches the endpoint's responses with the default policy and the settings <paramref name="configure"/> gives.</summary>
    /// <example><c>app.MapGet("/products", List).CacheFor(p => p.Tags("products"));</c></example>
    public static TBuilder CacheFor<TBuilder>(this TBuilder builder, Action<CachePolicyBuilder> configure)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var policy = new CachePolicyBuilder();
        configure(policy);
        return AddPolicy(builder, policyName: null, policy.Options);
    }

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
