using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace TieredResponseCaching.Policies;

/// <summary>
/// Finds an endpoint's policy once and remembers it (also when it has none), so a request pays one table lookup.
/// The table is weak: endpoints that a dynamic data source drops are forgotten with them.
/// </summary>
internal sealed class EndpointPolicyResolver(IOptions<TieredResponseCacheOptions> options)
{
    private readonly ConditionalWeakTable<Endpoint, Resolution> _resolved = [];
    private readonly TieredResponseCacheOptions _options = options.Value;

    /// <summary>The policy of <paramref name="endpoint"/>, or <c>null</c> when it is not cached.</summary>
    /// <exception cref="InvalidOperationException">The endpoint's policy is invalid; the message says what to fix.</exception>
    public ResolvedPolicy? Resolve(Endpoint endpoint)
    {
        if (_resolved.TryGetValue(endpoint, out var resolution))
        {
            return resolution.Policy;
        }

        resolution = new Resolution(Compile(endpoint));
        return _resolved.GetValue(endpoint, _ => resolution).Policy;
    }

    private ResolvedPolicy? Compile(Endpoint endpoint)
    {
        var metadata = endpoint.Metadata.GetMetadata<ICachePolicyMetadata>();
        if (metadata is null)
        {
            return null;
        }

        var name = EndpointName(endpoint);
        var errors = new List<string>();
        ResolvedPolicy? policy = null;
        try
        {
            var merged = PolicyCompiler.Merge(_options, metadata.PolicyName, metadata.Overrides);
            policy = PolicyCompiler.Compile(merged, name, _options.MaximumBodySize, errors);
        }
        catch (InvalidOperationException e)
        {
            errors.Add(e.Message);
        }

        if (policy is null)
        {
            throw new InvalidOperationException($"The cache policy of endpoint '{name}' is invalid: {string.Join(" ", errors)}");
        }

        return policy;
    }

    internal static string EndpointName(Endpoint endpoint) =>
        (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint.DisplayName ?? "(unnamed endpoint)";

    private sealed class Resolution(ResolvedPolicy? policy)
    {
        public ResolvedPolicy? Policy { get; } = policy;
    }
}
