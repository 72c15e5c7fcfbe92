using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using LoadApp.Protos;
using TieredResponseCaching;

namespace LoadApp;

/// <summary>The catalog page over gRPC, cached for an hour like the REST endpoints.</summary>
internal sealed class CatalogGrpcService : Catalog.CatalogBase
{
    /// <summary>Padding that makes the framed reply (5-byte prefix + message) exactly <see cref="FramedLength"/> bytes.</summary>
    private static ByteString s_padding = ByteString.Empty;

    public static int FramedLength { get; private set; }

    /// <summary>Sizes the reply so that its framed form is <paramref name="framedLength"/> bytes.</summary>
    public static void SizeReplyTo(int framedLength)
    {
        var bare = Reply(ByteString.Empty).CalculateSize();
        for (var padding = 1; padding < framedLength; padding++)
        {
            // Field 15 (one tag byte), the length prefix, the bytes.
            if (5 + bare + 1 + CodedOutputStream.ComputeLengthSize(padding) + padding == framedLength)
            {
                s_padding = ByteString.CopyFrom(new byte[padding]);
                FramedLength = 5 + Reply(s_padding).CalculateSize();
                return;
            }
        }

        throw new InvalidOperationException($"The gRPC reply cannot be padded to {framedLength} bytes.");
    }

    /// <summary>The request the load test sends: page 1 of a category, with two filters.</summary>
    public static byte[] FramedRequest()
    {
        var request = new PageRequest { Page = 1, Category = "kitchen", Filters = { ["color"] = "red", ["in_stock"] = "true" } };
        var message = request.ToByteArray();
        var framed = new byte[5 + message.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(framed.AsSpan(1), (uint)message.Length);
        message.CopyTo(framed, 5);
        return framed;
    }

    [CacheFor(3600)]
    public override Task<PageReply> GetPage(PageRequest request, ServerCallContext context) => Task.FromResult(Reply(s_padding));

    /// <summary>The page of <see cref="CatalogPage.Create"/> as a protobuf message, built per call as a handler would.</summary>
    private static PageReply Reply(ByteString padding)
    {
        var page = CatalogPage.Create();
        var reply = new PageReply { Page = page.Page, PageSize = page.PageSize, Total = page.Total, Padding = padding };
        foreach (var item in page.Items)
        {
            reply.Items.Add(new Protos.Product
            {
                Id = item.Id,
                Name = item.Name,
                Description = item.Description,
                Price = item.Price.ToString(CultureInfo.InvariantCulture),
                Color = item.Color,
                InStock = item.InStock,
            });
        }

        return reply;
    }
}
