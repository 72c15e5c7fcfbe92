using TieredResponseCaching.Policies;

namespace TieredResponseCaching;

/// <summary>
/// Adds the custom rule <typeparamref name="TRule"/> (<see cref="ICacheRule"/>) to the cache policy of a controller, an
/// action or a minimal-API handler that has one (<see cref="CacheForAttribute"/>, <c>.CacheFor(...)</c>). Created once
/// per use; a rule that needs services reads them from <c>HttpContext.RequestServices</c>.
/// </summary>
/// <remarks>
/// Rules add up: those of a controller, then of its action, after the rules of the policy itself (rules can only make
/// the cache do less, so no order loosens another). See docs/policies.md, "Custom rules".
/// </remarks>
/// <example><c>[CacheFor(60)] [CacheRule&lt;TenantRule&gt;]</c></example>
/// <typeparam name="TRule">The rule, with a public parameterless constructor.</typeparam>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true, Inherited = true)]
public sealed class CacheRuleAttribute<TRule> : Attribute, ICacheRuleMetadata
    where TRule : ICacheRule, new()
{
    /// <summary>The rule this attribute adds.</summary>
    public ICacheRule Rule { get; } = new TRule();
}
