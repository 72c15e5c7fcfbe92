namespace TieredResponseCaching.Http.Origin;

/// <summary>
/// What the origin-directed flow knows about one GET: its primary key, the request directives it honours and the
/// facts the storage rules need. Built on the slow path only (a fresh hit never allocates one).
/// </summary>
internal sealed class OriginTarget : ICacheTarget
{
    public required Policies.ResolvedPolicy Policy { get; init; }

    /// <summary>The URI's primary key.</summary>
    public required byte[] Key { get; init; }

    public required UInt128 Hash { get; init; }

    public required bool HasCredentials { get; init; }

    /// <summary>The client's directives when the policy trusts them, else <see cref="RequestDirectives.None"/>.</summary>
    public required RequestDirectives Directives { get; init; }

    /// <summary>The client's stale-if-error (RFC 5861 §4), read whether or not the policy trusts it: it can only shorten a fallback unless trusted.</summary>
    public required long? ClientStaleIfError { get; init; }

    public OriginRequestFacts Facts => new(HasCredentials, Directives.NoStore);
}
