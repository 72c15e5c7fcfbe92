using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using GraphQL.Transport;

namespace CatalogApi.GraphQL;

/// <summary>What an automatic persisted query could not do, in the words APQ clients recognise.</summary>
public sealed record PersistedQueryError(string Message, string Code)
{
    /// <summary>The hash names a query this server has not seen: the client resends it with the text.</summary>
    public static readonly PersistedQueryError NotFound = new("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND");

    public static readonly PersistedQueryError HashMismatch = new("provided sha does not match query", "INVALID_SHA256_HASH");

    public static readonly PersistedQueryError Unsupported = new("Unsupported persisted query version or hash", "PERSISTED_QUERY_INVALID");
}

/// <summary>
/// Automatic persisted queries (Apollo's APQ, <c>extensions.persistedQuery</c> version 1): a client first sends only
/// the SHA-256 of its query; a server that does not know it answers <see cref="PersistedQueryError.NotFound"/>, the
/// client sends the hash with the text, the server checks and remembers it, and from then on the hash alone is enough.
/// </summary>
/// <remarks>In memory and bounded: a sample does not need more, and a client that finds a query forgotten resends it.</remarks>
public sealed class PersistedQueryStore
{
    private const int MaximumQueries = 1000;

    private readonly ConcurrentDictionary<string, string> _queries = new(StringComparer.Ordinal);

    /// <summary>The query to run (the text sent, or the one the hash names), or an error to answer with.</summary>
    public string? Resolve(GraphQLRequest request, out PersistedQueryError? error)
    {
        error = null;
        if (request.Extensions?.TryGetValue("persistedQuery", out var value) != true)
        {
            return request.Query;
        }

        if (value is not IReadOnlyDictionary<string, object?> persisted
            || !persisted.TryGetValue("version", out var version) || Convert.ToString(version, System.Globalization.CultureInfo.InvariantCulture) != "1"
            || !persisted.TryGetValue("sha256Hash", out var hashValue) || hashValue is not string hash || hash.Length != 64)
        {
            error = PersistedQueryError.Unsupported;
            return null;
        }

        hash = hash.ToLowerInvariant();
        if (request.Query is null)
        {
            if (_queries.TryGetValue(hash, out var known))
            {
                return known;
            }

            error = PersistedQueryError.NotFound;
            return null;
        }

        if (Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(request.Query))) != hash)
        {
            error = PersistedQueryError.HashMismatch;
            return null;
        }

        if (_queries.Count < MaximumQueries)
        {
            _queries.TryAdd(hash, request.Query);
        }

        return request.Query;
    }
}
