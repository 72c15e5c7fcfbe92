using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Diagnostics;

namespace TieredResponseCaching.Policies;

/// <summary>
/// Finds an endpoint's policy once and remembers it (also when it has none), so a request pays one table lookup.
/// The table is weak: endpoints that a dynamic data source drops are forgotten with them.
/// </summary>
internal sealed class EndpointPolicyResolver(IOptions<TieredResponseCacheOptions> options, IProtocolCatalog protocols)
{
    private readonly ConditionalWeakTable<Endpoint, Resolution> _resolved = [];
    private readonly TieredResponseCacheOptions _options = options.Value;
    private readonly CompressionSettings? _compression = CompressionSettings.From(options.Value.Compression);
    private readonly ConcurrentDictionary<string, EndpointStats> _stats = new(StringComparer.Ordinal);

    /// <summary>The numbers of every cached endpoint resolved so far (all of them once the app started), by endpoint name.</summary>
    public ICollection<EndpointStats> Stats => _stats.Values;

    /// <summary>Fresh hits so far, on every endpoint: the sum of what each endpoint's stats counted (a hit touches one counter).</summary>
    public long Hits => _stats.Values.Sum(stats => stats.Total(CacheOutcome.Hit));

    /// <summary>The policy of <paramref name="endpoint"/>, or <c>null</c> when it is not cached.</summary>
    /// <exception cref="InvalidOperationException">The endpoint's policy is invalid; the message says what to fix.</exception>
    public ResolvedPolicy? Resolve(Endpoint endpoint)
    {
        // The lambda that adds lives in its own method: captured here, its closure would be allocated on every call.
        return _resolved.TryGetValue(endpoint, out var resolution) ? resolution.Policy : Add(endpoint);
    }

    /// <summary>The name that stands for the endpoint in metrics and logs under <c>UseOriginDirectedCache()</c>.</summary>
    public const string EveryRequestName = "(every request)";

    /// <summary>
    /// True once a <c>UseOriginDirectedCache()</c> middleware was built: requests it handles carry a marker, which an
    /// endpoint's origin-directed policy then checks (docs/modes.md, "Every request").
    /// </summary>
    public bool EveryRequestUsed { get; private set; }

    /// <summary>The policy of <c>UseOriginDirectedCache()</c>, for every request and without an endpoint; compiled once.</summary>
    /// <exception cref="InvalidOperationException">The policy is invalid; the message says what to fix.</exception>
    public ResolvedPolicy ResolveEveryRequest(CachePolicyOptions settings)
    {
        EveryRequestUsed = true;
        var stats = _stats.GetOrAdd(EveryRequestName, static n => new EndpointStats(n));
        var errors = new List<string>();
        var policy = PolicyCompiler.Compile(
            PolicyCompiler.Merge(_options, policyName: null, settings), EveryRequestName, _options.MaximumBodySize, errors,
            tagHeaders: _options.Cdn.TagHeaders, stats: stats, routeParameters: [], ignorePathCase: !_options.UseCaseSensitivePaths, compression: _compression);
        return policy ?? throw new InvalidOperationException($"The cache policy of UseOriginDirectedCache() is invalid: {string.Join(" ", errors)}");
    }

    private ResolvedPolicy? Add(Endpoint endpoint)
    {
        var resolution = new Resolution(Compile(endpoint));
        return _resolved.GetValue(endpoint, _ => resolution).Policy;
    }

    private ResolvedPolicy? Compile(Endpoint endpoint)
    {
        var metadata = endpoint.Metadata.GetMetadata<ICachePolicyMetadata>();
        var found = protocols.FindEndpoint(endpoint);
        var policyName = metadata?.PolicyName;
        var overrides = metadata?.Overrides;
        if (metadata is null)
        {
            // A gRPC method may be cached by name or by its declared idempotency, without an attribute.
            overrides = found?.PolicyFromOptions;
            if (overrides is null)
            {
                return null;
            }
        }

        var name = found?.Name ?? EndpointName(endpoint);
        var stats = _stats.GetOrAdd(name, static n => new EndpointStats(n));
        var errors = new List<string>();
        ResolvedPolicy? policy = null;
        try
        {
            var merged = PolicyCompiler.Merge(_options, policyName, overrides);
            AddRuleAttributes(merged, endpoint);
            var protocol = found?.Protocol
                ?? (ProtocolRegistration.IsGrpcMethod(endpoint) ? CacheProtocol.Grpc : merged.GraphQL == true ? CacheProtocol.GraphQL : CacheProtocol.Rest);
            var routeParameters = RouteParameters(endpoint);
            var operations = protocol == CacheProtocol.GraphQL ? CompileOperations(merged, name, stats, routeParameters, errors) : null;
            policy = PolicyCompiler.Compile(
                merged, name, _options.MaximumBodySize, errors, protocol, found?.Streaming ?? false, operations, _options.Cdn.TagHeaders, stats, routeParameters, !_options.UseCaseSensitivePaths, _compression);
            if (protocol != CacheProtocol.Rest && !protocols.IsRegistered(protocol))
            {
                // Keyed as REST, a GraphQL or gRPC endpoint would be cached wrongly or not at all: say which package is missing.
                errors.Add(ProtocolRegistration.NotRegistered(protocol));
                policy = null;
            }
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

    private Dictionary<string, ResolvedPolicy>? CompileOperations(
        CachePolicyOptions endpointSettings, string name, EndpointStats stats, string[] routeParameters, List<string> errors)
    {
        if (protocols.OperationPolicies(CacheProtocol.GraphQL) is not { Count: > 0 } operationPolicies)
        {
            return null;
        }

        var operations = new Dictionary<string, ResolvedPolicy>(StringComparer.Ordinal);
        foreach (var (operation, overrides) in operationPolicies)
        {
            var settings = endpointSettings.Clone();
            settings.OverlayWith(overrides);
            if (PolicyCompiler.Compile(settings, name, _options.MaximumBodySize, errors, CacheProtocol.GraphQL, tagHeaders: _options.Cdn.TagHeaders, stats: stats, routeParameters: routeParameters, ignorePathCase: !_options.UseCaseSensitivePaths, compression: _compression) is { } compiled)
            {
                operations[operation] = compiled;
            }
        }

        return operations;
    }

    /// <summary>The names tag templates may use: the route pattern's parameters (none for an endpoint without a pattern).</summary>
    private static string[] RouteParameters(Endpoint endpoint) =>
        endpoint is RouteEndpoint route ? [.. route.RoutePattern.Parameters.Select(p => p.Name)] : [];

    /// <summary>Rules added by <see cref="CacheRuleAttribute{TRule}"/> come after the policy's own, controller's before action's.</summary>
    private static void AddRuleAttributes(CachePolicyOptions merged, Endpoint endpoint)
    {
        var attributes = endpoint.Metadata.GetOrderedMetadata<ICacheRuleMetadata>();
        if (attributes.Count > 0)
        {
            merged.Rules = [.. merged.Rules ?? [], .. attributes.Select(attribute => attribute.Rule)];
        }
    }

    internal static string EndpointName(Endpoint endpoint) =>
        (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint.DisplayName ?? "(unnamed endpoint)";

    private sealed class Resolution(ResolvedPolicy? policy)
    {
        public ResolvedPolicy? Policy { get; } = policy;
    }
}
