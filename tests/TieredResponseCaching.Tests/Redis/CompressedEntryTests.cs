using System.IO.Compression;
using System.Text;
using TieredResponseCaching.Http;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Redis;
using TieredResponseCaching.Storage;
using TieredResponseCaching.Tests.Http;

namespace TieredResponseCaching.Tests.Redis;

/// <summary>Entries with compressed variants in L2 (docs/compression.md): stored compressed once, checked when read.</summary>
public sealed class CompressedEntryTests
{
    private static readonly UInt128 Hash = 42;
    private static readonly byte[] Json = Encoding.UTF8.GetBytes(CompressionTests.Json);

    [Fact]
    public void L2_holds_the_compressed_form_and_a_reader_gets_every_variant_back()
    {
        var entry = EntryWithVariants(Json);

        var bytes = Serialize(entry);
        var read = EntrySerializer.TryRead(bytes, Hash, long.MaxValue, null, out var rejection);

        Assert.Equal(EntryRejection.None, rejection);
        Assert.NotNull(read);
        Assert.True(bytes.Length < entry.Encodings![0].Body.Length + entry.Encodings[1].Body.Length + 1024, $"{bytes.Length:N0} bytes in L2");
        Assert.True(bytes.Length < Json.Length / 2, $"{bytes.Length:N0} bytes in L2 for a {Json.Length:N0}-byte body");
        Assert.Equal(Json, read.Body.ToArray());
        Assert.Equal(entry.Size, read.Size);
        Assert.Equal(2, read.Encodings!.Length);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(entry.Encodings[i].ContentCoding, read.Encodings[i].ContentCoding);
            Assert.Equal(entry.Encodings[i].Body.ToArray(), read.Encodings[i].Body.ToArray());
            Assert.Equal(entry.Encodings[i].ETag, read.Encodings[i].ETag);
            Assert.Equal(entry.Encodings[i].Headers, read.Encodings[i].Headers);
            Assert.Equal(entry.Encodings[i].NotModifiedHeaders, read.Encodings[i].NotModifiedHeaders);
        }
    }

    [Fact]
    public void A_signed_entry_with_variants_round_trips_and_any_altered_byte_is_refused()
    {
        var authenticator = EntryAuthenticator.Create(new RedisTierOptions { EntrySigningKey = new byte[32] })!;
        var bytes = Serialize(EntryWithVariants(Json), authenticator);
        Assert.NotNull(EntrySerializer.TryRead(bytes, Hash, long.MaxValue, authenticator, out _));

        // The last bytes before the signature belong to the gzip variant.
        bytes[^(EntryAuthenticator.TrailerSize + 5)] ^= 0x40;

        Assert.Null(EntrySerializer.TryRead(bytes, Hash, long.MaxValue, authenticator, out var rejection));
        Assert.Equal(EntryRejection.SignatureMismatch, rejection);
    }

    [Fact]
    public void A_corrupt_gzip_variant_with_a_valid_checksum_is_never_served()
    {
        var entry = EntryWithVariants(Json);
        var gzip = entry.Encodings![1].Body.ToArray();
        gzip[gzip.Length / 2] ^= 0xFF;
        var hostile = ContentCodings.WithVariants(Identity(entry), entry.Encodings[0].Body, CachedBody.Copy(gzip));

        // Written by a hostile Redis client: the checksum is right, the variant is not.
        Assert.Null(EntrySerializer.TryRead(Serialize(hostile), Hash, long.MaxValue, null, out var rejection));
        Assert.Equal(EntryRejection.Malformed, rejection);
    }

    [Fact]
    public void A_gzip_variant_of_other_content_with_a_valid_checksum_is_never_served()
    {
        var entry = EntryWithVariants(Json);
        var other = Gzip([.. Json.Reverse()]);
        var hostile = ContentCodings.WithVariants(Identity(entry), entry.Encodings![0].Body, CachedBody.Copy(other));

        Assert.Null(EntrySerializer.TryRead(Serialize(hostile), Hash, long.MaxValue, null, out var rejection));
        Assert.Equal(EntryRejection.Malformed, rejection);
    }

    [Fact]
    public void A_corrupt_Brotli_variant_with_a_valid_checksum_is_never_served()
    {
        var entry = EntryWithVariants(Json);
        var brotli = entry.Encodings![0].Body.ToArray();
        brotli[brotli.Length / 2] ^= 0xFF;
        var hostile = ContentCodings.WithVariants(Identity(entry), CachedBody.Copy(brotli), entry.Encodings[1].Body);

        Assert.Null(EntrySerializer.TryRead(Serialize(hostile), Hash, long.MaxValue, null, out var rejection));
        Assert.Equal(EntryRejection.Malformed, rejection);
    }

    [Fact]
    public void A_gzip_bomb_as_variant_is_refused_after_reading_one_byte_past_the_body()
    {
        var entry = EntryWithVariants(Json);
        // 64 MiB of zeros behind the real body: a reader that decompressed it all would allocate or spin on it.
        var bomb = Gzip([.. Json, .. new byte[64 << 20]]);
        var hostile = ContentCodings.WithVariants(Identity(entry), entry.Encodings![0].Body, CachedBody.Copy(bomb));
        var bytes = Serialize(hostile);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var read = EntrySerializer.TryRead(bytes, Hash, long.MaxValue, null, out var rejection);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Null(read);
        Assert.Equal(EntryRejection.Malformed, rejection);
        Assert.True(allocated < 4 << 20, $"{allocated:N0} bytes allocated to refuse a gzip bomb");
    }

    [Fact]
    public void A_Brotli_bomb_claiming_a_small_body_is_refused()
    {
        var entry = EntryWithVariants(Json);
        using var output = new MemoryStream();
        using (var brotli = new BrotliStream(output, CompressionLevel.Fastest))
        {
            brotli.Write(Json);
            brotli.Write(new byte[16 << 20]);
        }

        var hostile = ContentCodings.WithVariants(Identity(entry), CachedBody.Copy(output.ToArray()), entry.Encodings![1].Body);

        Assert.Null(EntrySerializer.TryRead(Serialize(hostile), Hash, long.MaxValue, null, out var rejection));
        Assert.Equal(EntryRejection.Malformed, rejection);
    }

    [Fact]
    public void Variants_over_an_identity_entry_that_claims_a_content_coding_are_refused()
    {
        var entry = EntryWithVariants(Json);
        var identity = Identity(entry);
        var encoded = new CachedResponse
        {
            Key = identity.Key,
            Hash = identity.Hash,
            StatusCode = 200,
            Headers = [.. identity.Headers, new HeaderField("Content-Encoding", "gzip")],
            NotModifiedHeaders = identity.NotModifiedHeaders,
            Body = identity.Body,
            ETag = identity.ETag,
            Created = identity.Created,
            FreshUntil = identity.FreshUntil,
            StaleUntil = identity.StaleUntil,
            StaleIfErrorUntil = identity.StaleIfErrorUntil,
            Tags = identity.Tags,
            Size = identity.Size,
            Encodings = entry.Encodings,
        };

        Assert.Null(EntrySerializer.TryRead(Serialize(encoded), Hash, long.MaxValue, null, out var rejection));
        Assert.Equal(EntryRejection.Malformed, rejection);
    }

    /// <summary>An entry as the server-configured mode builds it for a compressible JSON response.</summary>
    internal static CachedResponse EntryWithVariants(byte[] json)
    {
        var settings = CompressionSettings.From(new CompressionOptions { Enabled = true })!;
        var body = CachedBody.Copy(json);
        var (brotli, gzip) = VariantCompressor.Compress(body, settings);
        return ContentCodings.WithVariants(Identity(body), brotli!, gzip);
    }

    private static CachedResponse Identity(CachedResponse entry) => Identity(entry.Body);

    private static CachedResponse Identity(CachedBody body)
    {
        var created = new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
        var vary = new HeaderField("Vary", "Accept-Encoding");
        var etag = new HeaderField("ETag", "\"abc\"");
        HeaderField[] headers = [new("Content-Type", "application/json"), vary, etag, new("Content-Length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        byte[] key = [1, 2, 3];
        return new CachedResponse
        {
            Key = key,
            Hash = Hash,
            StatusCode = 200,
            Headers = headers,
            NotModifiedHeaders = [vary, etag],
            Body = body,
            ETag = "\"abc\"",
            Created = created,
            FreshUntil = created.AddMinutes(1),
            StaleUntil = created.AddMinutes(1),
            StaleIfErrorUntil = created.AddMinutes(1),
            Tags = ["catalog"],
            Size = EntrySize.Of(key, headers, body),
        };
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    private static byte[] Serialize(CachedResponse entry, EntryAuthenticator? authenticator = null)
    {
        using var buffer = new PooledBufferWriter();
        EntrySerializer.Write(entry, buffer, long.MaxValue, authenticator);
        return buffer.WrittenSpan.ToArray();
    }
}
