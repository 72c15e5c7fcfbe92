using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Redis;

/// <summary>
/// The binary form of an entry in L2. Bodies above a threshold are Brotli-compressed (for L2 only: L1 keeps them
/// as they are, ready to write). Anything that does not parse — truncated, corrupt, foreign, another version — is
/// rejected as a whole, and so is an entry that parses but would not make a valid response within the limits (see
/// <see cref="EntryRules"/>): the caller treats it as a miss and deletes it. With a signing key, entries carry an
/// HMAC-SHA256 instead of the checksum, and an unsigned or wrongly signed entry is rejected (docs/tiers.md).
/// </summary>
/// <remarks>
/// <code>
/// Format version 1 (all integers little-endian; "varint" = unsigned LEB128; "text" = varint length + UTF-8)
///
///   offset  size    field
///   0       4       magic: 'T' 'R' 'C' 0x01 (the last byte is the format version)
///   4       1       flags: bit 0 = body compressed with Brotli; bit 1 = signed (see the end); bit 2 = the entry has
///                   compressed variants (docs/compression.md; requires bit 0); bit 3 = a vary record that lists its
///                   variants' entity tags (requires a vary record); other bits 0
///   5       2       status code
///   7       8       created, UTC ticks
///   15      8       fresh until, UTC ticks
///   23      8       stale-while-revalidate until, UTC ticks
///   31      8       stale-if-error until, UTC ticks
///   39      8       Last-Modified, UTC ticks (0: none)
///   47      ...     canonical key: varint length + bytes
///           ...     ETag: text
///           ...     tags: varint count, then text each
///           ...     headers: varint count, then for each: name (text), flags (1 byte: bit 0 = also sent
///                   with a 304), varint value count, values (text each)
///           ...     trailers: varint count, then for each: name (text), varint value count, values (text each)
///           ...     origin-directed mode: varint flags, varint initial age (ticks), varint retain-until (UTC ticks;
///                   0: none), varint vary-name count + 1 (0: not a vary record), then the names (text each)
///           ...     bit 3 only: varint variant count (1 to 8), then for each: secondary key (varint length + bytes),
///                   entity tag (text). A record written before bit 3 existed has none: read as "no tags known"
///           ...     body: varint length as served, varint length as stored, stored bytes
///           ...     bit 2 only: the stored bytes are also the Brotli variant as served; then the gzip variant:
///                   varint length + 1 (0: none), bytes
///
///   unsigned (flags bit 1 clear):
///   end-8   8       XxHash64 of every byte before it
///
///   signed (flags bit 1 set):
///   end-36  4       key id: the first 4 bytes of HMAC-SHA256(key, "TieredResponseCaching entry key id")
///   end-32  32      HMAC-SHA256 under that key of every byte before it (the key id included)
/// </code>
/// A reader refuses, besides what does not parse: a body length as served above <c>MaximumBodySize</c> (before
/// decompressing anything), compressed data that does not decompress to exactly that length, a stored length that
/// differs from it, a gzip variant that does not decompress to exactly the identity body (within its length: no
/// decompression bomb), and the rules of <see cref="EntryRules"/>. A node with a signing key refuses unsigned entries; a
/// node without one refuses signed entries (it cannot check them).
/// </remarks>
internal static class EntrySerializer
{
    public const byte FormatVersion = 1;

    private const int FixedHeaderSize = 47;
    private const int ChecksumSize = 8;
    private const byte CompressedFlag = 1;
    private const byte SignedFlag = 2;
    private const byte VariantsFlag = 4;
    private const byte StoredVariantsFlag = 8;
    private const int MaximumCount = 1 << 20;
    private const ulong MaximumTicks = 3155378975999999999;
    private static readonly byte[] Magic = [(byte)'T', (byte)'R', (byte)'C', FormatVersion];

    /// <summary>
    /// Writes <paramref name="entry"/>; bodies of at least <paramref name="compressionThreshold"/> bytes are compressed.
    /// With <paramref name="authenticator"/>, the entry is signed instead of checksummed.
    /// </summary>
    public static void Write(CachedResponse entry, PooledBufferWriter output, long compressionThreshold, EntryAuthenticator? authenticator = null)
    {
        var start = output.WrittenCount;
        var writer = new Writer(output);
        // An entry with compressed variants stores its Brotli variant as its compressed body: L2 holds the compressed form
        // once, and a reader gets the identity body back from it (docs/compression.md).
        var brotli = entry.Encodings is [var first, ..] && first.ContentCoding == ContentCodings.Brotli ? first : null;
        var gzip = entry.Encodings is [_, var second] && second.ContentCoding == ContentCodings.Gzip ? second : null;
        var compress = brotli is not null || entry.Body.Length >= compressionThreshold;
        Span<byte> fixedPart = stackalloc byte[FixedHeaderSize];
        Magic.CopyTo(fixedPart);
        var storedVariants = entry.VaryNames is not null && entry.StoredVariants is { Length: > 0 } listed ? listed : null;
        fixedPart[4] = (byte)((compress ? CompressedFlag : 0) | (authenticator is null ? 0 : SignedFlag) | (brotli is null ? 0 : VariantsFlag)
            | (storedVariants is null ? 0 : StoredVariantsFlag));
        BinaryPrimitives.WriteUInt16LittleEndian(fixedPart[5..], (ushort)entry.StatusCode);
        BinaryPrimitives.WriteInt64LittleEndian(fixedPart[7..], entry.Created.UtcTicks);
        BinaryPrimitives.WriteInt64LittleEndian(fixedPart[15..], entry.FreshUntil.UtcTicks);
        BinaryPrimitives.WriteInt64LittleEndian(fixedPart[23..], entry.StaleUntil.UtcTicks);
        BinaryPrimitives.WriteInt64LittleEndian(fixedPart[31..], entry.StaleIfErrorUntil.UtcTicks);
        BinaryPrimitives.WriteInt64LittleEndian(fixedPart[39..], entry.LastModified?.UtcTicks ?? 0);
        writer.WriteRaw(fixedPart);
        writer.WriteBytes(entry.Key);
        writer.WriteText(entry.ETag);
        writer.WriteVarint((ulong)entry.Tags.Length);
        foreach (var tag in entry.Tags)
        {
            writer.WriteText(tag);
        }

        writer.WriteVarint((ulong)entry.Headers.Length);
        foreach (var header in entry.Headers)
        {
            writer.WriteText(header.Name);
            writer.WriteRaw([Array.IndexOf(entry.NotModifiedHeaders, header) >= 0 ? (byte)1 : (byte)0]);
            writer.WriteVarint((ulong)header.Value.Count);
            foreach (var value in header.Value)
            {
                writer.WriteText(value);
            }
        }

        writer.WriteVarint((ulong)entry.Trailers.Length);
        foreach (var trailer in entry.Trailers)
        {
            writer.WriteText(trailer.Name);
            writer.WriteVarint((ulong)trailer.Value.Count);
            foreach (var value in trailer.Value)
            {
                writer.WriteText(value);
            }
        }

        writer.WriteVarint((ulong)entry.OriginFlags);
        writer.WriteVarint((ulong)Math.Max(0, entry.InitialAge.Ticks));
        writer.WriteVarint((ulong)(entry.RetainUntil?.UtcTicks ?? 0));
        writer.WriteVarint(entry.VaryNames is null ? 0 : (ulong)entry.VaryNames.Length + 1);
        foreach (var name in entry.VaryNames ?? [])
        {
            writer.WriteText(name);
        }

        if (storedVariants is not null)
        {
            writer.WriteVarint((ulong)storedVariants.Length);
            foreach (var variant in storedVariants)
            {
                writer.WriteBytes(variant.Key);
                writer.WriteText(variant.ETag);
            }
        }

        writer.WriteVarint((ulong)entry.Body.Length);
        if (brotli is not null)
        {
            WriteBody(writer, brotli.Body);
            writer.WriteVarint(gzip is null ? 0 : (ulong)gzip.Body.Length + 1);
            foreach (var segment in gzip?.Body.Segments ?? [])
            {
                writer.WriteRaw(segment);
            }
        }
        else if (compress)
        {
            using var compressed = new PooledBufferWriter((int)Math.Min(entry.Body.Length, 1 << 20));
            Compress(entry.Body, compressed);
            writer.WriteBytes(compressed.WrittenSpan);
        }
        else
        {
            WriteBody(writer, entry.Body);
        }

        if (authenticator is null)
        {
            Span<byte> checksum = stackalloc byte[ChecksumSize];
            BinaryPrimitives.WriteUInt64LittleEndian(checksum, XxHash64.HashToUInt64(output.WrittenSpan[start..]));
            output.Write(checksum);
        }
        else
        {
            authenticator.Sign(output, start);
        }
    }

    private static void WriteBody(Writer writer, CachedBody body)
    {
        writer.WriteVarint((ulong)body.Length);
        foreach (var segment in body.Segments)
        {
            writer.WriteRaw(segment);
        }
    }

    /// <summary>Reads an unsigned entry, or returns <c>null</c> when the bytes are not a complete, intact, valid entry of this format.</summary>
    public static CachedResponse? TryRead(ReadOnlySpan<byte> data, UInt128 hash) => TryRead(data, hash, long.MaxValue, null, out _);

    /// <summary>
    /// Reads an entry whose body is at most <paramref name="maximumBodySize"/> bytes, signed under a key of
    /// <paramref name="authenticator"/> (unsigned when it is <c>null</c>); <c>null</c> and the reason when it is refused.
    /// </summary>
    public static CachedResponse? TryRead(ReadOnlySpan<byte> data, UInt128 hash, long maximumBodySize, EntryAuthenticator? authenticator, out EntryRejection rejection)
    {
        if (data.Length < FixedHeaderSize + ChecksumSize || !data[..4].SequenceEqual(Magic) || (data[4] & ~(CompressedFlag | SignedFlag | VariantsFlag | StoredVariantsFlag)) != 0)
        {
            rejection = EntryRejection.NotAnEntry;
            return null;
        }

        ReadOnlySpan<byte> content;
        if ((data[4] & SignedFlag) == 0)
        {
            content = data[..^ChecksumSize];
            rejection = authenticator is not null ? EntryRejection.Unsigned
                : XxHash64.HashToUInt64(content) != BinaryPrimitives.ReadUInt64LittleEndian(data[^ChecksumSize..]) ? EntryRejection.ChecksumMismatch
                : EntryRejection.None;
        }
        else if (data.Length < FixedHeaderSize + EntryAuthenticator.TrailerSize)
        {
            content = default;
            rejection = EntryRejection.Malformed;
        }
        else
        {
            content = data[..^EntryAuthenticator.TrailerSize];
            rejection = authenticator is null ? EntryRejection.SignedButNoKey : authenticator.Verify(data);
        }

        if (rejection != EntryRejection.None)
        {
            return null;
        }

        try
        {
            var entry = Read(content, hash, maximumBodySize);
            rejection = EntryRules.Check(entry, maximumBodySize);
            return rejection == EntryRejection.None ? entry : null;
        }
        catch (TooLargeException)
        {
            rejection = EntryRejection.BodyTooLarge;
            return null;
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or ArgumentException or DecoderFallbackException)
        {
            rejection = EntryRejection.Malformed;
            return null;
        }
    }

    private static CachedResponse Read(ReadOnlySpan<byte> content, UInt128 hash, long maximumBodySize)
    {
        var flags = content[4];
        var status = BinaryPrimitives.ReadUInt16LittleEndian(content[5..]);
        var created = Ticks(content[7..]);
        var freshUntil = Ticks(content[15..]);
        var staleUntil = Ticks(content[23..]);
        var staleIfErrorUntil = Ticks(content[31..]);
        var lastModifiedTicks = BinaryPrimitives.ReadInt64LittleEndian(content[39..]);
        var reader = new Reader(content[FixedHeaderSize..]);
        var key = reader.ReadBytes().ToArray();
        var etag = reader.ReadText();
        var tags = new string[reader.ReadCount()];
        for (var i = 0; i < tags.Length; i++)
        {
            tags[i] = reader.ReadText();
        }

        var headers = new HeaderField[reader.ReadCount()];
        var notModified = new List<HeaderField>(4);
        for (var i = 0; i < headers.Length; i++)
        {
            var name = reader.ReadText();
            var headerFlags = reader.ReadByte();
            var values = new string[reader.ReadCount()];
            for (var v = 0; v < values.Length; v++)
            {
                values[v] = reader.ReadText();
            }

            headers[i] = new HeaderField(name, values.Length == 1 ? new StringValues(values[0]) : new StringValues(values));
            if ((headerFlags & 1) != 0)
            {
                notModified.Add(headers[i]);
            }
        }

        var trailers = new HeaderField[reader.ReadCount()];
        for (var i = 0; i < trailers.Length; i++)
        {
            var name = reader.ReadText();
            var values = new string[reader.ReadCount()];
            for (var v = 0; v < values.Length; v++)
            {
                values[v] = reader.ReadText();
            }

            trailers[i] = new HeaderField(name, values.Length == 1 ? new StringValues(values[0]) : new StringValues(values));
        }

        var originFlags = (OriginFlags)reader.ReadVarint();
        var initialAge = reader.ReadVarint();
        var retainUntil = reader.ReadVarint();
        var varyCount = reader.ReadCount();
        string[]? varyNames = varyCount == 0 ? null : new string[varyCount - 1];
        for (var i = 0; i < varyNames?.Length; i++)
        {
            varyNames[i] = reader.ReadText();
        }

        StoredVariant[]? storedVariants = null;
        if ((flags & StoredVariantsFlag) != 0)
        {
            var count = reader.ReadCount();
            if (varyNames is null || count is 0 or > StoredVariant.MaximumCount)
            {
                throw new FormatException("Variant list out of range.");
            }

            storedVariants = new StoredVariant[count];
            for (var i = 0; i < count; i++)
            {
                storedVariants[i] = new StoredVariant(reader.ReadBytes().ToArray(), reader.ReadText());
            }
        }

        if (initialAge > (ulong)TimeSpan.MaxValue.Ticks || originFlags > (OriginFlags)15 || retainUntil > MaximumTicks)
        {
            throw new FormatException("Origin metadata out of range.");
        }

        var bodyLength = (long)reader.ReadVarint();
        if (bodyLength > maximumBodySize)
        {
            // Before anything is decompressed or copied: a small compressed body may claim gigabytes (a compression bomb).
            throw new TooLargeException();
        }

        var stored = reader.ReadBytes();
        var hasVariants = (flags & VariantsFlag) != 0;
        var gzipLength = hasVariants ? reader.ReadVarint() : 0;
        if (gzipLength > (ulong)content.Length)
        {
            throw new FormatException("Truncated entry.");
        }

        var gzipStored = gzipLength == 0 ? default : reader.ReadRaw((int)(gzipLength - 1));
        if (!reader.AtEnd)
        {
            throw new FormatException("Trailing bytes after the body.");
        }

        if (hasVariants && (flags & CompressedFlag) == 0)
        {
            throw new FormatException("Compressed variants without a compressed body.");
        }

        var body = (flags & 1) != 0 ? Decompress(stored, bodyLength)
            : stored.Length == bodyLength ? CachedBody.Copy(stored)
            : throw new FormatException("Body length mismatch.");

        var entry = new CachedResponse
        {
            Key = key,
            Hash = hash,
            StatusCode = status,
            Headers = headers,
            NotModifiedHeaders = [.. notModified],
            Body = body,
            Trailers = trailers,
            InitialAge = TimeSpan.FromTicks((long)initialAge),
            RetainUntil = retainUntil == 0 ? null : new DateTimeOffset((long)retainUntil, TimeSpan.Zero),
            OriginFlags = originFlags,
            VaryNames = varyNames,
            StoredVariants = storedVariants,
            ETag = etag,
            LastModified = lastModifiedTicks == 0 ? null : new DateTimeOffset(lastModifiedTicks, TimeSpan.Zero),
            Created = created,
            FreshUntil = freshUntil,
            StaleUntil = staleUntil,
            StaleIfErrorUntil = staleIfErrorUntil,
            Tags = tags,
            Size = EntrySize.Of(key, headers, body),
        };
        if (!hasVariants)
        {
            return entry;
        }

        // The Brotli variant decompressed to exactly the identity body above; the gzip variant must too, or it is never served.
        CachedBody? gzip = null;
        if (gzipLength != 0)
        {
            var bytes = gzipStored.ToArray();
            VerifyGzip(bytes, body);
            gzip = CachedBody.Copy(bytes);
        }

        return ContentCodings.WithVariants(entry, CachedBody.Copy(stored), gzip);
    }

    /// <summary>Checks that <paramref name="gzip"/> decompresses to exactly <paramref name="identity"/>, reading at most one byte more.</summary>
    private static void VerifyGzip(byte[] gzip, CachedBody identity)
    {
        using var decompressor = new GZipStream(new MemoryStream(gzip, writable: false), CompressionMode.Decompress);
        var buffer = new byte[Math.Min(CachedBody.SegmentSize, identity.Length + 1)];
        foreach (var segment in identity.Segments)
        {
            var filled = 0;
            while (filled < segment.Length)
            {
                var read = decompressor.Read(buffer, 0, Math.Min(buffer.Length, segment.Length - filled));
                if (read == 0 || !buffer.AsSpan(0, read).SequenceEqual(segment.AsSpan(filled, read)))
                {
                    throw new InvalidDataException("The gzip variant does not decompress to the body.");
                }

                filled += read;
            }
        }

        if (decompressor.Read(buffer, 0, 1) != 0)
        {
            throw new InvalidDataException("The gzip variant is longer than the body.");
        }
    }

    private static DateTimeOffset Ticks(ReadOnlySpan<byte> data)
    {
        var ticks = BinaryPrimitives.ReadInt64LittleEndian(data);
        return ticks is < 0 or > (long)MaximumTicks ? throw new FormatException("Timestamp out of range.") : new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    private static void Compress(CachedBody body, PooledBufferWriter output)
    {
        using var encoder = new BrotliEncoder(quality: 1, window: 22);
        for (var i = 0; i < body.Segments.Length; i++)
        {
            ReadOnlySpan<byte> source = body.Segments[i];
            var final = i == body.Segments.Length - 1;
            while (true)
            {
                var status = encoder.Compress(source, output.GetSpan(Math.Max(4096, source.Length / 2)), out var consumed, out var written, final);
                output.Advance(written);
                source = source[consumed..];
                if (status == OperationStatus.Done && source.IsEmpty)
                {
                    break;
                }

                if (status == OperationStatus.InvalidData)
                {
                    throw new InvalidDataException("Brotli compression failed.");
                }
            }
        }

        if (body.Segments.Length == 0)
        {
            encoder.Compress([], output.GetSpan(64), out _, out var written, isFinalBlock: true);
            output.Advance(written);
        }
    }

    private static CachedBody Decompress(ReadOnlySpan<byte> source, long length)
    {
        if (length < 0)
        {
            throw new FormatException("Body length out of range.");
        }

        // Segments are allocated as the data fills them: a length the data cannot back costs one segment, not its size.
        using var decoder = new BrotliDecoder();
        var segments = new List<byte[]>();
        var status = OperationStatus.NeedMoreData;
        for (var remaining = length; remaining > 0; remaining -= CachedBody.SegmentSize)
        {
            var segment = new byte[Math.Min(CachedBody.SegmentSize, remaining)];
            segments.Add(segment);
            var filled = 0;
            while (filled < segment.Length)
            {
                status = decoder.Decompress(source, segment.AsSpan(filled), out var consumed, out var written);
                source = source[consumed..];
                filled += written;
                if (status == OperationStatus.InvalidData || (written == 0 && consumed == 0))
                {
                    throw new InvalidDataException("Corrupt compressed body.");
                }
            }
        }

        // The stream must end exactly at the declared length: more data is a length that disagrees with the body.
        if (status != OperationStatus.Done)
        {
            Span<byte> extra = stackalloc byte[1];
            status = decoder.Decompress(source, extra, out var consumed, out var written);
            source = source[consumed..];
            if (status != OperationStatus.Done || written != 0)
            {
                throw new InvalidDataException("The compressed body does not end at its declared length.");
            }
        }

        if (!source.IsEmpty)
        {
            throw new InvalidDataException("Bytes after the end of the compressed body.");
        }

        if (length == 0)
        {
            return CachedBody.Empty;
        }

        return new CachedBody([.. segments], length);
    }

    /// <summary>Appends the fields; the checksum or signature is computed over the written bytes at the end, in one pass.</summary>
    private readonly struct Writer(PooledBufferWriter output)
    {
        public void WriteRaw(ReadOnlySpan<byte> data) => output.Write(data);

        public void WriteVarint(ulong value)
        {
            Span<byte> buffer = stackalloc byte[10];
            var length = 0;
            while (value >= 0x80)
            {
                buffer[length++] = (byte)(value | 0x80);
                value >>= 7;
            }

            buffer[length++] = (byte)value;
            WriteRaw(buffer[..length]);
        }

        public void WriteBytes(ReadOnlySpan<byte> data)
        {
            WriteVarint((ulong)data.Length);
            WriteRaw(data);
        }

        public void WriteText(string? text)
        {
            text ??= "";
            var length = Encoding.UTF8.GetByteCount(text);
            WriteVarint((ulong)length);
            var written = Encoding.UTF8.GetBytes(text, output.GetSpan(length));
            output.Advance(written);
        }
    }

    /// <summary>A declared body length above the reader's limit.</summary>
    private sealed class TooLargeException : Exception
    {
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        private ReadOnlySpan<byte> _rest = data;

        public readonly bool AtEnd => _rest.IsEmpty;

        public byte ReadByte()
        {
            if (_rest.IsEmpty)
            {
                throw new FormatException("Truncated entry.");
            }

            var value = _rest[0];
            _rest = _rest[1..];
            return value;
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = ReadByte();
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new FormatException("Varint too long.");
        }

        public int ReadCount()
        {
            var count = ReadVarint();
            return count > MaximumCount || count > (ulong)_rest.Length ? throw new FormatException("Count out of range.") : (int)count;
        }

        public ReadOnlySpan<byte> ReadRaw(int length)
        {
            if (length > _rest.Length)
            {
                throw new FormatException("Truncated entry.");
            }

            var bytes = _rest[..length];
            _rest = _rest[length..];
            return bytes;
        }

        public ReadOnlySpan<byte> ReadBytes()
        {
            var length = ReadVarint();
            if (length > (ulong)_rest.Length)
            {
                throw new FormatException("Truncated entry.");
            }

            var bytes = _rest[..(int)length];
            _rest = _rest[(int)length..];
            return bytes;
        }

        public string ReadText() => StrictUtf8.GetString(ReadBytes());
    }
}
