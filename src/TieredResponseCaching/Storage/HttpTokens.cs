using System.Buffers;

namespace TieredResponseCaching.Storage;

/// <summary>RFC 9110 §5.6.2 tokens (header names, cookie names, Cache-Status cache names): the one definition of the alphabet.</summary>
internal static class HttpTokens
{
    private static readonly SearchValues<char> TokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    public static bool IsToken(string? value) => !string.IsNullOrEmpty(value) && !value.AsSpan().ContainsAnyExcept(TokenChars);

    public static bool IsToken(ReadOnlySpan<char> value) => !value.IsEmpty && !value.ContainsAnyExcept(TokenChars);

    public static bool IsTokenChar(char c) => TokenChars.Contains(c);
}
