namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// A POST whose response may be kept for later GET and HEAD requests of its target URI (RFC 9110 §9.3.3; docs/modes.md,
/// "POST responses"). The POST's own invalidation of that URI (RFC 9111 §4.4) comes first; the entry is created at the
/// moment it recorded, so that invalidation, here or on another node, leaves it alone and any later one removes it.
/// </summary>
internal sealed class PostReuse
{
    /// <summary>The moment this node recorded the POST's invalidation of its target URI; null until then.</summary>
    public DateTimeOffset? TargetInvalidatedAt { get; set; }
}
