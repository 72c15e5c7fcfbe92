namespace TieredResponseCaching.Policies;

/// <summary>
/// Endpoint metadata that turns caching on: <see cref="CacheForAttribute"/> or the <c>.CacheFor(...)</c> convention.
/// When an endpoint has several (controller and action), the last one (the most specific) wins.
/// </summary>
internal interface ICachePolicyMetadata
{
    /// <summary>The named policy to start from, or <c>null</c> for the default policy.</summary>
    string? PolicyName { get; }

    /// <summary>Settings that override the named or default policy.</summary>
    CachePolicyOptions Overrides { get; }
}

/// <summary>The metadata the <c>.CacheFor(...)</c> endpoint conventions add.</summary>
internal sealed class CachePolicyMetadata(string? policyName, CachePolicyOptions overrides) : ICachePolicyMetadata
{
    public string? PolicyName { get; } = policyName;

    public CachePolicyOptions Overrides { get; } = overrides;
}

/// <summary>Endpoint metadata that adds a custom rule to the endpoint's policy: <see cref="CacheRuleAttribute{TRule}"/>.</summary>
internal interface ICacheRuleMetadata
{
    ICacheRule Rule { get; }
}
