namespace TieredResponseCaching.Policies;

/// <summary>
/// A custom rule (<see cref="ICacheRule"/>) threw: carries which rule and which of its methods, so the log can say why the
/// request went to the app uncached (docs/policies.md, "Custom rules").
/// </summary>
internal sealed class CacheRuleException(ICacheRule rule, string method, Exception inner)
    : Exception($"The cache rule {rule.GetType().FullName} threw in {method}.", inner)
{
    public string RuleName { get; } = rule.GetType().FullName ?? rule.GetType().Name;

    public string Method { get; } = method;
}
