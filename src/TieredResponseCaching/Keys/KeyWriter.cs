using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;

namespace TieredResponseCaching.Keys;

/// <summary>
/// Writes canonical key bytes into a per-thread buffer without allocating. Every variable-length field is
/// length-prefixed, so no input can forge a separator and two different inputs never write the same bytes
/// (docs/design.md rule 1 depends on it).
/// </summary>
/// <remarks>
/// Field forms: <c>[varint n][n bytes]</c> for binary data; <c>[varint 2n+f][bytes]</c> for text, where
/// <c>f = 0</c> is UTF-8 and <c>f = 1</c> the raw UTF-16 of text that is not valid Unicode (a lone surrogate),
/// which UTF-8 could only write lossily.
/// </remarks>
internal ref struct KeyWriter
{
    /// <summary>Room for the length prefix of any field: keys are at most 512 KiB, so a prefix fits 3 varint bytes.</summary>
    public const int MaximumLimit = 512 * 1024;

    private const int PrefixGap = 3;

    [ThreadStatic]
    private static byte[]? t_buffer;

    private readonly byte[] _buffer;
    private readonly int _limit;
    private int _position;

    public KeyWriter(int limit)
    {
        var buffer = t_buffer;
        if (buffer is null || buffer.Length < limit)
        {
            buffer = t_buffer = new byte[limit];
        }

        _buffer = buffer;
        _limit = limit;
        _position = 0;
        Overflowed = false;
    }

    /// <summary>Set when the key would exceed its limit; the written bytes are then incomplete and must not be used.</summary>
    public bool Overflowed { get; private set; }

    public readonly ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _position);

    public void WriteByte(byte value)
    {
        if (Reserve(1))
        {
            _buffer[_position++] = value;
        }
    }

    public void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        WriteByte((byte)value);
    }

    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteVarint((ulong)value.Length);
        if (Reserve(value.Length))
        {
            value.CopyTo(_buffer.AsSpan(_position));
            _position += value.Length;
        }
    }

    public void WriteText(scoped ReadOnlySpan<char> value)
    {
        // Encode once, a varint's width past the current position, then close the gap the prefix left.
        var start = _position + PrefixGap;
        if (Overflowed || start > _limit)
        {
            Overflowed = true;
            return;
        }

        if (value.IsEmpty)
        {
            // An empty path base, usually: the prefix alone, as the path below would write it.
            WriteByte(0);
            return;
        }

        // ASCII, nearly every key field: the UTF-8 length is known up front, so the chars are narrowed straight after
        // the prefix in one pass (which also finds out whether they are ASCII), and the prefix is written once they
        // were. Same bytes, and the same limit check, as the general path below.
        if (value.Length <= _limit - start)
        {
            var prefix = (ulong)value.Length * 2;
            if (Ascii.FromUtf16(value, _buffer.AsSpan(_position + VarintLength(prefix), value.Length), out _) == OperationStatus.Done)
            {
                WriteVarint(prefix);
                _position += value.Length;
                return;
            }
        }
        else if (Ascii.IsValid(value))
        {
            Overflowed = true;
            return;
        }

        // ASCII and valid Unicode: UTF-8. Anything else (a lone surrogate): the raw UTF-16, flagged, so nothing is lost.
        var status = Utf8.FromUtf16(value, _buffer.AsSpan(start, _limit - start), out _, out var written, replaceInvalidSequences: false);
        if (status == OperationStatus.Done)
        {
            PlaceAfterPrefix(((ulong)written) * 2, start, written);
            return;
        }

        if (status == OperationStatus.DestinationTooSmall)
        {
            Overflowed = true;
            return;
        }

        var bytes = MemoryMarshal.AsBytes(value);
        WriteVarint((((ulong)bytes.Length) * 2) + 1);
        if (Reserve(bytes.Length))
        {
            bytes.CopyTo(_buffer.AsSpan(_position));
            _position += bytes.Length;
        }
    }

    /// <summary>Text lowered to ASCII lower case (scheme, host), written like <see cref="WriteText"/>.</summary>
    public void WriteLowerAsciiText(ReadOnlySpan<char> value)
    {
        // Lowered straight after the prefix in one pass, which also finds out whether the text is ASCII.
        var prefix = (ulong)value.Length * 2;
        var at = _position + VarintLength(prefix);
        if (!Overflowed && _limit - at >= value.Length)
        {
            if (Ascii.ToLower(value, _buffer.AsSpan(at, value.Length), out _) == OperationStatus.Done)
            {
                WriteVarint(prefix);
                _position += value.Length;
                return;
            }

            WriteText(value);
            return;
        }

        if (!Ascii.IsValid(value))
        {
            WriteText(value);
            return;
        }

        Overflowed = true;
    }

    /// <summary>
    /// Text folded to upper case as <see cref="StringComparison.OrdinalIgnoreCase"/> folds it (a path when keys ignore
    /// its case), written like <see cref="WriteText"/>: two texts that compare equal so write the same bytes.
    /// </summary>
    public void WriteUpperText(ReadOnlySpan<char> value)
    {
        // ASCII, nearly every path: raised straight after the prefix in one pass, which also finds out whether it is ASCII.
        var prefix = (ulong)value.Length * 2;
        var at = _position + VarintLength(prefix);
        if (!Overflowed && _limit - at >= value.Length
            && Ascii.ToUpper(value, _buffer.AsSpan(at, value.Length), out _) == OperationStatus.Done)
        {
            WriteVarint(prefix);
            _position += value.Length;
            return;
        }

        WriteFoldedText(value);
    }

    /// <summary>The rare path of <see cref="WriteUpperText"/>: text beyond ASCII, folded char by char (or too long to fit).</summary>
    private void WriteFoldedText(ReadOnlySpan<char> value)
    {
        char[]? rented = null;
        var folded = value.Length <= 256 ? stackalloc char[value.Length] : (rented = ArrayPool<char>.Shared.Rent(value.Length)).AsSpan(0, value.Length);
        value.ToUpperInvariant(folded);
        WriteText(folded);
        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented);
        }
    }

    private static int VarintLength(ulong value)
    {
        var length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    private void PlaceAfterPrefix(ulong prefix, int start, int length)
    {
        WriteVarint(prefix);
        if (Overflowed)
        {
            return;
        }

        if (_position != start)
        {
            _buffer.AsSpan(start, length).CopyTo(_buffer.AsSpan(_position));
        }

        _position += length;
    }

    private bool Reserve(int count)
    {
        if (Overflowed || _limit - _position < count)
        {
            Overflowed = true;
            return false;
        }

        return true;
    }
}
