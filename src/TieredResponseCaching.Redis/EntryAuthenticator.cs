using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace TieredResponseCaching.Redis;

/// <summary>
/// Signs L2 entries with HMAC-SHA256 under <see cref="RedisTierOptions.EntrySigningKey"/> and checks them under it or
/// one of <see cref="RedisTierOptions.PreviousEntrySigningKeys"/> (rotation). A short key id in the entry says which
/// key signed it, so an entry is hashed once whatever the number of keys, and one signed with a key this node does
/// not hold is refused without hashing it. See docs/tiers.md, "Authenticating entries".
/// </summary>
internal sealed class EntryAuthenticator
{
    /// <summary>The key id: the first 4 bytes of HMAC-SHA256(key, <see cref="KeyIdLabel"/>); it reveals nothing of the key.</summary>
    public const int KeyIdSize = 4;

    public const int TagSize = HMACSHA256.HashSizeInBytes;

    /// <summary>What a signed entry ends with: the key id, then the tag.</summary>
    public const int TrailerSize = KeyIdSize + TagSize;

    /// <summary>The shortest key accepted: as long as the tag (RFC 2104 §3).</summary>
    public const int MinimumKeySize = 32;

    private static readonly byte[] KeyIdLabel = "TieredResponseCaching entry key id"u8.ToArray();

    private readonly SigningKey _current;
    private readonly SigningKey[] _previous;

    public EntryAuthenticator(ReadOnlySpan<byte> currentKey, IEnumerable<byte[]> previousKeys)
    {
        _current = new SigningKey(currentKey.ToArray());
        _previous = [.. previousKeys.Select(key => new SigningKey((byte[])key.Clone()))];
    }

    /// <summary>The authenticator for <paramref name="options"/>, or <c>null</c> when no signing key is configured.</summary>
    public static EntryAuthenticator? Create(RedisTierOptions options) =>
        options.EntrySigningKey is { } key ? new EntryAuthenticator(key, options.PreviousEntrySigningKeys) : null;

    /// <summary>Appends the key id to <paramref name="output"/>, then the tag over everything written since <paramref name="start"/>.</summary>
    public void Sign(PooledBufferWriter output, int start)
    {
        var id = output.GetSpan(KeyIdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(id, _current.Id);
        output.Advance(KeyIdSize);
        Span<byte> tag = stackalloc byte[TagSize];
        HMACSHA256.HashData(_current.Key, output.WrittenSpan[start..], tag);
        output.Write(tag);
    }

    /// <summary>Checks a signed entry: <see cref="EntryRejection.None"/> when a key this node holds signed it.</summary>
    public EntryRejection Verify(ReadOnlySpan<byte> entry)
    {
        var signed = entry[..^TagSize];
        var id = BinaryPrimitives.ReadUInt32LittleEndian(signed[^KeyIdSize..]);
        var rejection = _current.Id == id ? Check(_current.Key, signed, entry[^TagSize..]) : EntryRejection.UnknownSigningKey;
        foreach (var previous in _previous)
        {
            if (rejection == EntryRejection.None)
            {
                break;
            }

            // Ids are 32 bits: two keys may share one, so every key with the id is tried.
            if (previous.Id == id)
            {
                rejection = Check(previous.Key, signed, entry[^TagSize..]);
            }
        }

        return rejection;
    }

    private static EntryRejection Check(byte[] key, ReadOnlySpan<byte> signed, ReadOnlySpan<byte> tag)
    {
        Span<byte> expected = stackalloc byte[TagSize];
        HMACSHA256.HashData(key, signed, expected);
        return CryptographicOperations.FixedTimeEquals(expected, tag) ? EntryRejection.None : EntryRejection.SignatureMismatch;
    }

    private sealed class SigningKey(byte[] key)
    {
        public byte[] Key { get; } = key;

        public uint Id { get; } = BinaryPrimitives.ReadUInt32LittleEndian(HMACSHA256.HashData(key, KeyIdLabel));
    }
}
