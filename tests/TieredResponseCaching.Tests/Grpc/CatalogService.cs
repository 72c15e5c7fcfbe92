using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using TieredResponseCaching.Tests.Grpc.Protos;

namespace TieredResponseCaching.Tests.Grpc;

/// <summary>What the service saw: calls per method, in order, with the request as it was read.</summary>
public sealed class CatalogCalls
{
    private readonly ConcurrentDictionary<string, int> _counts = new();

    public ConcurrentQueue<(string Method, ProductRequest Request)> Requests { get; } = new();

    /// <summary>Set when <c>Wait</c> has started, so a test can cancel a call that is surely running.</summary>
    public TaskCompletionSource WaitEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when <c>Wait</c> saw its call cancelled.</summary>
    public TaskCompletionSource WaitCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>When set, <c>Decorated</c> waits for it after sending its headers and before its message.</summary>
    public TaskCompletionSource? DecoratedGate { get; set; }

    public int Count(string method) => _counts.GetValueOrDefault(method);

    public ProductReply Reply(string method, ProductRequest request, string prefix = "")
    {
        Requests.Enqueue((method, request));
        var call = _counts.AddOrUpdate(method, 1, (_, count) => count + 1);
        return new ProductReply { Call = call, Request = prefix + JsonFormatter.Default.Format(request) };
    }
}

/// <summary>The service behind the gRPC tests: each method shows one behaviour the cache must get right.</summary>
public sealed class CatalogService(CatalogCalls calls) : Catalog.CatalogBase
{
    public const string Tenant = "x-tenant";

    [CacheFor(60)]
    public override Task<ProductReply> GetProduct(ProductRequest request, ServerCallContext context) =>
        Task.FromResult(calls.Reply(nameof(GetProduct), request));

    public override Task<ProductReply> Lookup(ProductRequest request, ServerCallContext context) =>
        Task.FromResult(calls.Reply(nameof(Lookup), request));

    public override Task<ProductReply> Search(ProductRequest request, ServerCallContext context) =>
        Task.FromResult(calls.Reply(nameof(Search), request));

    [CacheFor(60)]
    public override async Task ListProducts(ProductRequest request, IServerStreamWriter<ProductReply> responseStream, ServerCallContext context)
    {
        var reply = calls.Reply(nameof(ListProducts), request);
        await responseStream.WriteAsync(reply);
        await responseStream.WriteAsync(reply);
    }

    [CacheFor(60)]
    public override Task<ProductReply> Fail(ProductRequest request, ServerCallContext context)
    {
        var reply = calls.Reply(nameof(Fail), request);
        throw new RpcException(new Status(StatusCode.NotFound, $"no product {request.Id} (call {reply.Call})"));
    }

    [CacheFor(60)]
    public override async Task<ProductReply> Decorated(ProductRequest request, ServerCallContext context)
    {
        var reply = calls.Reply(nameof(Decorated), request);
        await context.WriteResponseHeadersAsync(new Metadata { { "x-header", $"header {reply.Call}" } });
        if (calls.DecoratedGate is { } gate)
        {
            await gate.Task;
        }

        context.ResponseTrailers.Add("x-trailer", $"trailer {reply.Call}");
        return reply;
    }

    [CacheFor(60)]
    public override async Task<ProductReply> Wait(ProductRequest request, ServerCallContext context)
    {
        var reply = calls.Reply(nameof(Wait), request);
        calls.WaitEntered.TrySetResult();
        try
        {
            // Never completes on its own: only the call's deadline or the client's cancellation ends it.
            await new TaskCompletionSource().Task.WaitAsync(context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            calls.WaitCancelled.TrySetResult();
            throw;
        }

        return reply;
    }

    [CacheFor(60, VaryByHeader = [Tenant])]
    public override Task<ProductReply> TenantProduct(ProductRequest request, ServerCallContext context) =>
        Task.FromResult(calls.Reply(nameof(TenantProduct), request, context.RequestHeaders.GetValue(Tenant) + ":"));
}
