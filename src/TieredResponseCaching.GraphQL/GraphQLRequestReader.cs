using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.GraphQL;

/// <summary>
/// Reads a GraphQL request, GET (<c>query</c>, <c>variables</c>, <c>operationName</c>, <c>extensions</c> query
/// parameters, each JSON where it is JSON, empty meaning absent) or POST (an <c>application/json</c> object with
/// those members), into a <see cref="JsonTree"/> and a parsed document. Anything else is a reason, never an
/// exception: the request then goes to the app untouched.
/// </summary>
/// <remarks>
/// The document is found by the hash of its raw text as sent (a JSON string's content with its escapes, or the
/// parameter's percent-escaped value), so a repeated document is never unescaped, decoded or parsed again.
/// A POST member the cache does not know (<c>documentId</c>...) or given twice bypasses: the server might read
/// it, and the key could not say what it means.
/// </remarks>
internal sealed class GraphQLRequestReader(GraphQLCacheOptions options, DocumentCache documents)
{
    [ThreadStatic]
    private static byte[]? t_decoded;

    /// <summary>Reads a POST body (already checked to be <c>application/json</c>).</summary>
    /// <remarks>
    /// The top-level object is walked here, not by <see cref="Utf8JsonReader"/>: the reader validates a string byte
    /// by byte from its first escape on, and a query sent by a client is full of <c>\n</c>. The query string's end is
    /// found by a vectorised search instead, and the string is validated only when its document is not cached (a
    /// cached one has the same bytes as one that was validated). Member values other than the query go through the
    /// reader as usual.
    /// </remarks>
    public NotCachedReason ReadPost(ReadOnlySpan<byte> body, JsonTree tree, out GraphQLRequestParts parts)
    {
        parts = GraphQLRequestParts.Empty;
        try
        {
            var position = SkipWhitespace(body, 0);
            if (position == body.Length)
            {
                return NotCachedReason.GraphQLInvalidJson;
            }

            if (body[position] != (byte)'{')
            {
                return ReadNotAnObject(body);
            }

            var seen = Member.None;
            position = SkipWhitespace(body, position + 1);
            if (position < body.Length && body[position] == (byte)'}')
            {
                return SkipWhitespace(body, position + 1) == body.Length ? NotCachedReason.None : NotCachedReason.GraphQLInvalidJson;
            }

            while (true)
            {
                var nameEnd = position < body.Length && body[position] == (byte)'"' ? StringEnd(body, position) : -1;
                if (nameEnd < 0)
                {
                    return NotCachedReason.GraphQLInvalidJson;
                }

                var member = RecogniseMember(body[position..(nameEnd + 1)]);
                if (member == Member.None || (seen & member) != 0)
                {
                    return NotCachedReason.GraphQLNotRecognised;
                }

                seen |= member;
                position = SkipWhitespace(body, nameEnd + 1);
                if (position == body.Length || body[position] != (byte)':')
                {
                    return NotCachedReason.GraphQLInvalidJson;
                }

                position = SkipWhitespace(body, position + 1);
                if (position == body.Length)
                {
                    return NotCachedReason.GraphQLInvalidJson;
                }

                NotCachedReason reason;
                if (member == Member.Query && body[position] == (byte)'"')
                {
                    var end = StringEnd(body, position);
                    if (end < 0)
                    {
                        return NotCachedReason.GraphQLInvalidJson;
                    }

                    reason = ReadPostDocument(body[position..(end + 1)], ref parts);
                    position = end + 1;
                }
                else
                {
                    // The reader stops at the end of the value: what follows is not its business.
                    var reader = new Utf8JsonReader(body[position..], new JsonReaderOptions { MaxDepth = options.MaximumDepth + 8 });
                    reader.Read();
                    reason = ReadJsonMember(ref reader, member, tree, ref parts);
                    position += (int)reader.BytesConsumed;
                }

                if (reason != NotCachedReason.None)
                {
                    return reason;
                }

                position = SkipWhitespace(body, position);
                if (position < body.Length && body[position] == (byte)',')
                {
                    position = SkipWhitespace(body, position + 1);
                    continue;
                }

                return position < body.Length && body[position] == (byte)'}' && SkipWhitespace(body, position + 1) == body.Length
                    ? NotCachedReason.None
                    : NotCachedReason.GraphQLInvalidJson;
            }
        }
        catch (JsonException)
        {
            return NotCachedReason.GraphQLInvalidJson;
        }
    }

    /// <summary>A body that is not an object: a batch (an array), another JSON value, or not JSON.</summary>
    private static NotCachedReason ReadNotAnObject(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        reader.Read();
        reader.Skip();
        return reader.Read() ? NotCachedReason.GraphQLInvalidJson
            : reader.TokenType == JsonTokenType.EndArray ? NotCachedReason.GraphQLBatch
            : NotCachedReason.GraphQLNotRecognised;
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> json, int position)
    {
        while (position < json.Length && json[position] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
        {
            position++;
        }

        return position;
    }

    /// <summary>The index of the quote that closes the JSON string opened at <paramref name="start"/>, or -1.</summary>
    /// <remarks>
    /// Searches for quotes only (a query has many <c>\n</c> escapes and few quotes); a quote after an odd run of
    /// backslashes is escaped and does not end the string.
    /// </remarks>
    private static int StringEnd(ReadOnlySpan<byte> json, int start)
    {
        var position = start + 1;
        while (position < json.Length)
        {
            var next = json[position..].IndexOf((byte)'"');
            if (next < 0)
            {
                return -1;
            }

            position += next;
            var backslashes = 0;
            while (position - backslashes - 1 > start && json[position - backslashes - 1] == (byte)'\\')
            {
                backslashes++;
            }

            if (backslashes % 2 == 0)
            {
                return position;
            }

            position++;
        }

        return -1;
    }

    /// <summary>A member name, given with its quotes; a name spelled with escapes is unescaped by the reader.</summary>
    private static Member RecogniseMember(ReadOnlySpan<byte> quoted)
    {
        var raw = quoted[1..^1];
        if (raw.IndexOf((byte)'\\') < 0)
        {
            return raw.SequenceEqual("query"u8) ? Member.Query
                : raw.SequenceEqual("variables"u8) ? Member.Variables
                : raw.SequenceEqual("operationName"u8) ? Member.OperationName
                : raw.SequenceEqual("extensions"u8) ? Member.Extensions
                : Member.None;
        }

        var reader = new Utf8JsonReader(quoted);
        reader.Read();
        return reader.ValueTextEquals("query"u8) ? Member.Query
            : reader.ValueTextEquals("variables"u8) ? Member.Variables
            : reader.ValueTextEquals("operationName"u8) ? Member.OperationName
            : reader.ValueTextEquals("extensions"u8) ? Member.Extensions
            : Member.None;
    }

    /// <summary>Reads the GraphQL parameters of a GET's query string.</summary>
    public NotCachedReason ReadQueryString(string? query, JsonTree tree, ref GraphQLRequestParts parts)
    {
        if (string.IsNullOrEmpty(query))
        {
            return NotCachedReason.None;
        }

        if (query.Length > options.MaximumDocumentSize)
        {
            return NotCachedReason.GraphQLTooLarge;
        }

        var decoded = DecodeBuffer(query.Length);
        var seen = Member.None;
        var text = query.AsSpan(query[0] == '?' ? 1 : 0);
        while (RestKeyBuilder.NextParameter(ref text, out var rawName, out var rawValue))
        {
            var nameLength = RestKeyBuilder.PercentDecode(rawName, decoded);
            if (nameLength < 0)
            {
                return NotCachedReason.InvalidQuery;
            }

            var member = Recognise(decoded.AsSpan(0, nameLength));
            if (member == Member.None)
            {
                continue;
            }

            // The app reads these without regard to case; with two of one, which one it reads is unknowable.
            if ((seen & member) != 0)
            {
                return NotCachedReason.GraphQLNotRecognised;
            }

            seen |= member;
            if (rawValue.IsEmpty)
            {
                continue;
            }

            var reason = member == Member.Query ? ReadGetDocument(rawValue, ref parts) : ReadGetJson(rawValue, member, decoded, tree, ref parts);
            if (reason != NotCachedReason.None)
            {
                return reason;
            }
        }

        return NotCachedReason.None;
    }

    /// <summary>
    /// The GraphQL parameter a POST's URL carries, by its canonical name, or <c>null</c>. Servers such as GraphQL.Server
    /// read <c>query</c>, <c>variables</c>, <c>operationName</c>, <c>extensions</c> (and <c>documentId</c>) from the URL of
    /// a POST too and let them override the body, so the body alone does not say what runs (docs/graphql.md).
    /// </summary>
    /// <remarks>
    /// Names are percent-decoded and compared without regard to case, as the app's query collection matches them; an
    /// empty value counts too (whether a server treats it as absent is its own business), and so does a name whose
    /// escapes are malformed, which cannot be read safely.
    /// </remarks>
    public static string? FindUrlParameter(string? query)
    {
        if (string.IsNullOrEmpty(query))
        {
            return null;
        }

        var decoded = DecodeBuffer(query.Length);
        var text = query.AsSpan(query[0] == '?' ? 1 : 0);
        while (RestKeyBuilder.NextParameter(ref text, out var rawName, out _))
        {
            var length = RestKeyBuilder.PercentDecode(rawName, decoded);
            if (length < 0)
            {
                return "(malformed name)";
            }

            var name = decoded.AsSpan(0, length);
            switch (Recognise(name))
            {
                case Member.Query:
                    return "query";
                case Member.Variables:
                    return "variables";
                case Member.OperationName:
                    return "operationName";
                case Member.Extensions:
                    return "extensions";
            }

            if (Ascii.EqualsIgnoreCase(name, "documentId"u8))
            {
                return "documentId";
            }
        }

        return null;
    }

    /// <summary>
    /// Writes the query parameters other than GraphQL's (all of them for a POST) that the policy varies by, decoded
    /// and in the order written: the app may read them. Each is marked with 1, the list ends with 0.
    /// </summary>
    public static NotCachedReason WriteOtherParameters(ref KeyWriter writer, string? query, bool isGet, ResolvedPolicy policy)
    {
        writer.WriteByte((byte)'Q');
        if (!string.IsNullOrEmpty(query) && (policy.VaryByAllQueryKeys || policy.VaryByQueryKeys.Length > 0))
        {
            var decoded = DecodeBuffer(query.Length);
            var text = query.AsSpan(query[0] == '?' ? 1 : 0);
            while (RestKeyBuilder.NextParameter(ref text, out var rawName, out var rawValue))
            {
                var nameLength = RestKeyBuilder.PercentDecode(rawName, decoded);
                if (nameLength < 0)
                {
                    return NotCachedReason.InvalidQuery;
                }

                var name = decoded.AsSpan(0, nameLength);
                if ((isGet && Recognise(name) != Member.None) || !(policy.VaryByAllQueryKeys || RestKeyBuilder.IsVaried(name, policy.VaryByQueryKeys)))
                {
                    continue;
                }

                var valueLength = RestKeyBuilder.PercentDecode(rawValue, decoded.AsSpan(nameLength));
                if (valueLength < 0)
                {
                    return NotCachedReason.InvalidQuery;
                }

                writer.WriteByte(1);
                writer.WriteBytes(name);
                writer.WriteBytes(decoded.AsSpan(nameLength, valueLength));
            }
        }

        writer.WriteByte(0);
        return NotCachedReason.None;
    }

    /// <summary>A per-thread buffer for percent-decoding: decoded bytes never outnumber three per char.</summary>
    private static byte[] DecodeBuffer(int length)
    {
        var decoded = t_decoded;
        if (decoded is null || decoded.Length < length * 3)
        {
            decoded = t_decoded = new byte[Math.Max(length * 3, 1024)];
        }

        return decoded;
    }

    private static Member Recognise(ReadOnlySpan<byte> name) =>
        Ascii.EqualsIgnoreCase(name, "query"u8) ? Member.Query
        : Ascii.EqualsIgnoreCase(name, "variables"u8) ? Member.Variables
        : Ascii.EqualsIgnoreCase(name, "operationName"u8) ? Member.OperationName
        : Ascii.EqualsIgnoreCase(name, "extensions"u8) ? Member.Extensions
        : Member.None;

    /// <summary>The query, given as its JSON string with the quotes: found by its raw bytes, unescaped and parsed only when new.</summary>
    private NotCachedReason ReadPostDocument(ReadOnlySpan<byte> quoted, ref GraphQLRequestParts parts)
    {
        var raw = quoted[1..^1];
        if (raw.IsEmpty)
        {
            return NotCachedReason.None;
        }

        var hash = DocumentCache.Hash(DocumentForm.JsonString, raw);
        var document = documents.Find(DocumentForm.JsonString, raw, hash);
        if (document is null)
        {
            string text;
            try
            {
                // Validates the string (escapes, control characters) as well as unescaping it.
                var reader = new Utf8JsonReader(quoted);
                reader.Read();
                text = reader.GetString()!;
            }
            catch (InvalidOperationException)
            {
                // Invalid UTF-8, or an escaped lone surrogate.
                return NotCachedReason.GraphQLInvalidJson;
            }

            document = Parse(text, DocumentForm.JsonString, raw, hash);
        }

        parts.Document = document;
        return NotCachedReason.None;
    }

    private NotCachedReason ReadGetDocument(ReadOnlySpan<char> rawValue, ref GraphQLRequestParts parts)
    {
        var raw = MemoryMarshal.AsBytes(rawValue);
        var hash = DocumentCache.Hash(DocumentForm.QueryParameter, raw);
        var document = documents.Find(DocumentForm.QueryParameter, raw, hash);
        if (document is null)
        {
            var decoded = new byte[rawValue.Length * 3];
            var length = RestKeyBuilder.PercentDecode(rawValue, decoded);
            if (length < 0)
            {
                return NotCachedReason.InvalidQuery;
            }

            document = Parse(Encoding.UTF8.GetString(decoded, 0, length), DocumentForm.QueryParameter, raw, hash);
        }

        parts.Document = document;
        return NotCachedReason.None;
    }

    private ParsedDocument Parse(string text, DocumentForm form, ReadOnlySpan<byte> raw, UInt128 hash)
    {
        var document = DocumentAnalyzer.Analyze(text, form, raw.ToArray(), hash, options);
        documents.Add(document);
        return document;
    }

    private NotCachedReason ReadGetJson(ReadOnlySpan<char> rawValue, Member member, byte[] decoded, JsonTree tree, ref GraphQLRequestParts parts)
    {
        // The decoded name before it is not needed any more.
        var length = RestKeyBuilder.PercentDecode(rawValue, decoded);
        if (length < 0)
        {
            return NotCachedReason.InvalidQuery;
        }

        if (member == Member.OperationName)
        {
            parts.OperationName = tree.AddString(decoded.AsSpan(0, length));
            return NotCachedReason.None;
        }

        try
        {
            var reader = new Utf8JsonReader(decoded.AsSpan(0, length), new JsonReaderOptions { MaxDepth = options.MaximumDepth + 8 });
            if (!reader.Read())
            {
                return NotCachedReason.GraphQLInvalidJson;
            }

            var reason = ReadJsonMember(ref reader, member, tree, ref parts);
            return reason != NotCachedReason.None ? reason : reader.Read() ? NotCachedReason.GraphQLInvalidJson : NotCachedReason.None;
        }
        catch (JsonException)
        {
            return NotCachedReason.GraphQLInvalidJson;
        }
    }

    /// <summary><c>variables</c> and <c>extensions</c> (objects or null), <c>operationName</c> (a string or null).</summary>
    private NotCachedReason ReadJsonMember(ref Utf8JsonReader reader, Member member, JsonTree tree, ref GraphQLRequestParts parts)
    {
        var reason = tree.Read(ref reader, options.MaximumDepth, out var node);
        if (reason != NotCachedReason.None)
        {
            return reason;
        }

        var kind = tree.Kind(node);
        if (kind == JsonKind.Null)
        {
            return NotCachedReason.None;
        }

        switch (member)
        {
            case Member.Variables when kind == JsonKind.Object:
                parts.Variables = node;
                return NotCachedReason.None;
            case Member.Variables:
                return NotCachedReason.GraphQLInvalidVariables;
            case Member.Extensions when kind == JsonKind.Object:
                parts.Extensions = node;
                return NotCachedReason.None;
            case Member.Query:
                // Null was handled above; a query that is not a string is not GraphQL over HTTP.
                return NotCachedReason.GraphQLNotRecognised;
            case Member.OperationName when kind == JsonKind.String:
                parts.OperationName = tree.Bytes(node).IsEmpty ? -1 : node;
                return NotCachedReason.None;
            default:
                return NotCachedReason.GraphQLNotRecognised;
        }
    }

    [Flags]
    private enum Member
    {
        None = 0,
        Query = 1,
        Variables = 2,
        OperationName = 4,
        Extensions = 8,
    }
}

/// <summary>What a GraphQL request says, as nodes of this thread's <see cref="JsonTree"/> (-1: absent).</summary>
internal struct GraphQLRequestParts
{
    public static readonly GraphQLRequestParts Empty = new() { OperationName = -1, Variables = -1, Extensions = -1 };

    /// <summary>The document the request's text names; <c>null</c> when it sent none (a persisted-query hash alone).</summary>
    public ParsedDocument? Document;

    public int OperationName;

    public int Variables;

    public int Extensions;
}
