namespace TieredResponseCaching.Keys;

/// <summary>Why a key could not be built; every value but <see cref="Ok"/> sends the request to the app uncached.</summary>
internal enum KeyStatus
{
    Ok,

    /// <summary>The canonical key would exceed <see cref="TieredResponseCacheOptions.MaximumKeySize"/>.</summary>
    TooLarge,

    /// <summary>More query parameters than <see cref="TieredResponseCacheOptions.MaximumQueryParameters"/>.</summary>
    TooManyQueryParameters,

    /// <summary>A per-user policy met an authenticated user without an identifier claim.</summary>
    NoUserIdentifier,

    /// <summary>The query holds text that is not valid Unicode.</summary>
    InvalidQuery,
}
