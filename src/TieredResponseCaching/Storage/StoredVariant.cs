namespace TieredResponseCaching.Storage;

/// <summary>
/// One variant a URI's vary record lists (origin-directed mode, docs/modes.md, "Validators across variants"): the key it is stored under
/// and its well-formed entity tag, so a request for another variant can send that tag too (RFC 9111 §4.3.1) and a 304
/// naming it finds the stored response (§4.3.3).
/// </summary>
internal readonly record struct StoredVariant(byte[] Key, string ETag)
{
    /// <summary>How many variants a vary record lists at most (the most recently stored): a bound on the record and on If-None-Match.</summary>
    public const int MaximumCount = 8;
}
