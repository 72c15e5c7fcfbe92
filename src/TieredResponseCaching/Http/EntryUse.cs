namespace TieredResponseCaching.Http;

/// <summary>How a stored entry may answer a request (docs/design.md, "One flow, two modes"): what each mode's rules decide, and the one flow acts on.</summary>
internal enum EntryUse
{
    /// <summary>Fresh: served as it is.</summary>
    Fresh,

    /// <summary>Stale within stale-while-revalidate: served while one background refresh runs.</summary>
    StaleWhileRevalidate,

    /// <summary>Stale, and the client accepts it (origin-directed, RFC 9111 §5.2.1.2): served as it is.</summary>
    MaxStale,

    /// <summary>Stale with a validator: forwarded with its validators (origin-directed, RFC 9111 §4.3).</summary>
    Revalidate,

    /// <summary>Not usable: the request goes to the app.</summary>
    Miss,
}
