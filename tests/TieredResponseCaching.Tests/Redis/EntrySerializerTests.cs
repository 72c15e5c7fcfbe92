using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Redis;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Tests.Redis;

/// <summary>The binary entry format of L2 (see the comment block of <see cref="EntrySerializer"/>).</summary>
public sealed class EntrySerializerTests
{
    private const long NeverCompress = long.MaxValue;
    private const int FlagsOffset = 4;
    private const int FixedHeaderSize = 47;
    private static readonly UInt128 Hash = new(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);

    public static TheoryData<int, bool> Bodies => new()
    {
        { 0, false },
        { 0, true },
        { 1, false },
        { 1, true },
        { 1 << 20, false },
        { 1 << 20, true },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void Every_field_survives_a_round_trip(int bodyLength, bool compressed)
    {
        var original = FullEntry(Body(bodyLength));

        var bytes = Serialize(original, compressed ? 0 : NeverCompress);
        var read = EntrySerializer.TryRead(bytes, Hash);

        Assert.Equal(compressed ? 1 : 0, bytes[FlagsOffset] & 1);
        Assert.NotNull(read);
        Assert.Equal(Hash, read.Hash);
        Assert.Equal(original.Key, read.Key);
        Assert.Equal(203, read.StatusCode);
        Assert.Equal(original.ETag, read.ETag);
        Assert.Equal(original.LastModified, read.LastModified);
        Assert.Equal(original.Created, read.Created);
        Assert.Equal(original.FreshUntil, read.FreshUntil);
        Assert.Equal(original.StaleUntil, read.StaleUntil);
        Assert.Equal(original.StaleIfErrorUntil, read.StaleIfErrorUntil);
        Assert.Equal(original.Tags, read.Tags);
        Assert.Equal(original.Headers, read.Headers);
        Assert.Equal(new StringValues(["</a>; rel=prev", "</c>; rel=next"]), read.Headers.Single(h => h.Name == "Link").Value);
        Assert.Equal(original.NotModifiedHeaders, read.NotModifiedHeaders);
        Assert.Equal(original.Trailers, read.Trailers);
        Assert.Equal(original.Body.Length, read.Body.Length);
        Assert.Equal(original.Body.ToArray(), read.Body.ToArray());
        Assert.All(read.Body.Segments, segment => Assert.InRange(segment.Length, 1, CachedBody.SegmentSize));
        Assert.Equal(EntrySize.Of(original.Key, original.Headers, original.Body), read.Size);
    }

    [Fact]
    public void A_compressible_body_is_stored_smaller_when_compressed()
    {
        var entry = FullEntry(CachedBody.Copy(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"id\":1,\"name\":\"a product\"},", 4000)))));

        var plain = Serialize(entry, NeverCompress);
        var compressed = Serialize(entry, 32 * 1024);

        Assert.True(compressed.Length * 10 < plain.Length, $"{compressed.Length} bytes compressed, {plain.Length} plain");
        Assert.Equal(entry.Body.ToArray(), EntrySerializer.TryRead(compressed, Hash)!.Body.ToArray());
    }

    [Fact]
    public void An_absent_Last_Modified_and_empty_collections_survive_a_round_trip()
    {
        var entry = Entry(CachedBody.Empty, key: [], headers: [], notModified: [], tags: [], lastModified: null, etag: "");

        var read = EntrySerializer.TryRead(Serialize(entry, NeverCompress), Hash);

        Assert.NotNull(read);
        Assert.Null(read.LastModified);
        Assert.Empty(read.Key);
        Assert.Empty(read.Headers);
        Assert.Empty(read.NotModifiedHeaders);
        Assert.Empty(read.Tags);
        Assert.Equal("", read.ETag);
        Assert.Same(CachedBody.Empty, read.Body);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_single_byte_corruption_is_rejected(bool compressed)
    {
        var bytes = Serialize(FullEntry(Body(300)), compressed ? 0 : NeverCompress);

        foreach (var mask in new byte[] { 0x01, 0x80, 0xFF })
        {
            for (var i = 0; i < bytes.Length; i++)
            {
                var corrupt = (byte[])bytes.Clone();
                corrupt[i] ^= mask;
                Assert.True(EntrySerializer.TryRead(corrupt, Hash) is null, $"byte {i} ^ 0x{mask:x2} was accepted");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_truncation_is_rejected(bool compressed)
    {
        var bytes = Serialize(FullEntry(Body(300)), compressed ? 0 : NeverCompress);
        Assert.NotNull(EntrySerializer.TryRead(bytes, Hash));

        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.True(EntrySerializer.TryRead(bytes.AsSpan(0, length), Hash) is null, $"{length} of {bytes.Length} bytes were accepted");
        }
    }

    [Fact]
    public void Bytes_appended_to_an_entry_are_rejected()
    {
        var bytes = Serialize(FullEntry(Body(10)), NeverCompress);

        Assert.Null(EntrySerializer.TryRead([.. bytes, 0], Hash));
        Assert.Null(EntrySerializer.TryRead(WithChecksum([.. bytes.AsSpan(0, bytes.Length - 8), 0, 0, 0, 0, 0, 0, 0, 0, 0]), Hash));
    }

    [Theory]
    [InlineData(0, (byte)'X')]
    [InlineData(1, (byte)'r')]
    [InlineData(2, (byte)'D')]
    [InlineData(3, (byte)0)]
    [InlineData(3, (byte)2)]
    [InlineData(3, (byte)0xFF)]
    public void A_wrong_magic_or_version_is_rejected_even_under_a_valid_checksum(int offset, byte value)
    {
        var bytes = Serialize(FullEntry(Body(10)), NeverCompress);
        bytes[offset] = value;

        Assert.Null(EntrySerializer.TryRead(WithChecksum(bytes), Hash));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not an entry")]
    [InlineData("{\"status\":200,\"body\":\"hello\"}")]
    [InlineData("TRC")]
    [InlineData("TRC\u0001")]
    public void Foreign_bytes_are_rejected(string foreign)
    {
        Assert.Null(EntrySerializer.TryRead(Encoding.UTF8.GetBytes(foreign), Hash));
        Assert.Null(EntrySerializer.TryRead(Encoding.UTF8.GetBytes(foreign.PadRight(200, 'x')), Hash));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Any_byte_under_a_valid_checksum_is_read_or_rejected_without_throwing(bool compressed)
    {
        // A checksum only guards against accidents: a foreign writer can produce a valid one over anything.
        var bytes = Serialize(FullEntry(Body(40)), compressed ? 0 : NeverCompress);

        foreach (var value in new byte[] { 0x00, 0x01, 0x7F, 0x80, 0xFF })
        {
            for (var i = 4; i < bytes.Length - 8; i++)
            {
                var changed = (byte[])bytes.Clone();
                changed[i] = value;
                var exception = Record.Exception(() => EntrySerializer.TryRead(WithChecksum(changed), Hash));
                Assert.True(exception is null, $"byte {i} = 0x{value:x2}: {exception}");
            }
        }
    }

    [Theory]
    [InlineData(false, 1L << 40)]
    [InlineData(false, long.MaxValue)]
    [InlineData(false, -1L)]
    [InlineData(true, 1L << 40)]
    [InlineData(true, long.MaxValue)]
    [InlineData(true, -1L)]
    public void A_body_length_the_data_cannot_hold_is_rejected_without_allocating_it(bool compressed, long claimed)
    {
        // An entry with an empty key, ETag, tag, header and trailer lists and no origin metadata: the body's length varint follows them.
        var bytes = Serialize(Entry(Body(100), key: [], headers: [], notModified: [], tags: [], lastModified: null, etag: ""), compressed ? 0 : NeverCompress);
        const int bodyLengthOffset = FixedHeaderSize + 9;
        Assert.Equal(100, bytes[bodyLengthOffset]);
        byte[] forged = WithChecksum([.. bytes.AsSpan(0, bodyLengthOffset), .. Varint(unchecked((ulong)claimed)), .. bytes.AsSpan(bodyLengthOffset + 1)]);

        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var exception = Record.Exception(() => Assert.Null(EntrySerializer.TryRead(forged, Hash)));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.Null(exception);
        Assert.True(allocated < 1 << 20, $"{allocated:N0} bytes allocated to read a forged {forged.Length}-byte entry");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_signed_entry_survives_a_round_trip_and_every_single_byte_change_is_rejected(bool compressed)
    {
        var key = new byte[32];
        key[0] = 7;
        var authenticator = new EntryAuthenticator(key, []);
        var bytes = SerializeSigned(FullEntry(Body(300)), compressed ? 0 : NeverCompress, authenticator);

        var read = EntrySerializer.TryRead(bytes, Hash, long.MaxValue, authenticator, out var rejection);

        Assert.Equal(EntryRejection.None, rejection);
        Assert.NotNull(read);
        Assert.Equal(2, bytes[FlagsOffset] & 2);
        for (var i = 0; i < bytes.Length; i++)
        {
            var changed = (byte[])bytes.Clone();
            changed[i] ^= 0x01;
            Assert.True(EntrySerializer.TryRead(changed, Hash, long.MaxValue, authenticator, out _) is null, $"byte {i} ^ 0x01 was accepted");
        }
    }

    [Fact]
    public void A_signed_entry_is_refused_without_the_key_and_an_unsigned_one_with_it()
    {
        var authenticator = new EntryAuthenticator(new byte[32], []);
        var signed = SerializeSigned(FullEntry(Body(10)), NeverCompress, authenticator);
        var unsigned = Serialize(FullEntry(Body(10)), NeverCompress);

        Assert.Null(EntrySerializer.TryRead(signed, Hash, long.MaxValue, null, out var withoutKey));
        Assert.Null(EntrySerializer.TryRead(unsigned, Hash, long.MaxValue, authenticator, out var withKey));
        Assert.Equal(EntryRejection.SignedButNoKey, withoutKey);
        Assert.Equal(EntryRejection.Unsigned, withKey);
    }

    [Fact]
    public void A_declared_body_length_over_the_limit_is_refused_before_decompressing()
    {
        var bytes = Serialize(FullEntry(CachedBody.Copy(new byte[1 << 20])), 0);

        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var read = EntrySerializer.TryRead(bytes, Hash, (1 << 20) - 1, null, out var rejection);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.Null(read);
        Assert.Equal(EntryRejection.BodyTooLarge, rejection);
        Assert.True(allocated < 64 * 1024, $"{allocated:N0} bytes allocated to refuse a 1 MiB body");
    }

    private static byte[] SerializeSigned(CachedResponse entry, long compressionThreshold, EntryAuthenticator authenticator)
    {
        using var buffer = new PooledBufferWriter();
        EntrySerializer.Write(entry, buffer, compressionThreshold, authenticator);
        return buffer.WrittenSpan.ToArray();
    }

    private static CachedResponse FullEntry(CachedBody body)
    {
        var contentType = new HeaderField("Content-Type", "application/json; charset=utf-8");
        var link = new HeaderField("Link", new StringValues(["</a>; rel=prev", "</c>; rel=next"]));
        var cacheControl = new HeaderField("Cache-Control", "public, max-age=60");
        var etag = new HeaderField("ETag", "W/\"v1-e\"");
        var expires = new HeaderField("Expires", "Wed, 25 Nov 2026 12:01:00 GMT");
        var none = new HeaderField("X-Empty", StringValues.Empty);
        var blank = new HeaderField("X-Blank", "");
        return Entry(
            body,
            key: [0, 1, 2, 0x7F, 0x80, 0xFF, .. "GET|https|example.test|/items/7?page=2"u8],
            headers: [contentType, link, cacheControl, etag, expires, none, blank],
            notModified: [cacheControl, etag, expires],
            tags: ["products", "catalogue-ünicode", "path:/items/7"],
            lastModified: new DateTimeOffset(2026, 11, 1, 8, 30, 0, TimeSpan.Zero),
            etag: "W/\"v1-e\"",
            trailers: [new HeaderField("grpc-status", "0"), new HeaderField("x-trailer", new StringValues(["a", "b"]))]);
    }

    private static CachedResponse Entry(CachedBody body, byte[] key, HeaderField[] headers, HeaderField[] notModified, string[] tags, DateTimeOffset? lastModified, string etag, HeaderField[]? trailers = null)
    {
        var created = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero).AddTicks(1234567);
        return new CachedResponse
        {
            Key = key,
            Hash = Hash,
            StatusCode = 203,
            Headers = headers,
            NotModifiedHeaders = notModified,
            Body = body,
            Trailers = trailers ?? [],
            ETag = etag,
            LastModified = lastModified,
            Created = created,
            FreshUntil = created.AddSeconds(60),
            StaleUntil = created.AddSeconds(90),
            StaleIfErrorUntil = created.AddHours(1),
            Tags = tags,
            Size = EntrySize.Of(key, headers, body),
        };
    }

    private static CachedBody Body(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return CachedBody.Copy(bytes);
    }

    private static byte[] Serialize(CachedResponse entry, long compressionThreshold)
    {
        using var buffer = new PooledBufferWriter();
        EntrySerializer.Write(entry, buffer, compressionThreshold);
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] WithChecksum(byte[] bytes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8), XxHash64.HashToUInt64(bytes.AsSpan(0, bytes.Length - 8)));
        return bytes;
    }

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }
}
