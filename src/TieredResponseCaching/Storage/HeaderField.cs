using Microsoft.Extensions.Primitives;

namespace TieredResponseCaching.Storage;

/// <summary>One stored response header, written as is on a hit.</summary>
internal readonly record struct HeaderField(string Name, StringValues Value);
