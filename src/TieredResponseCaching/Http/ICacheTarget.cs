using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Http;

/// <summary>What a request is looked up and produced under: its policy and the key of its URI (or its content).</summary>
internal interface ICacheTarget
{
    ResolvedPolicy Policy { get; }

    /// <summary>The request's key (in origin-directed mode, the URI's primary key).</summary>
    byte[] Key { get; }

    UInt128 Hash { get; }
}
