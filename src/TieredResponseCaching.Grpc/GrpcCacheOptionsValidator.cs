using Microsoft.Extensions.Options;
using TieredResponseCaching.Keys;

namespace TieredResponseCaching.Grpc;

/// <summary>Checks the gRPC options when the app starts (<c>ValidateOnStart</c>); each message says what to fix.</summary>
internal sealed class GrpcCacheOptionsValidator : IValidateOptions<GrpcCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, GrpcCacheOptions options) =>
        options.MaximumMessageSize is < 0 or > KeyWriter.MaximumLimit
            ? ValidateOptionsResult.Fail(
                $"AddGrpc: MaximumMessageSize must be between 0 and {KeyWriter.MaximumLimit} bytes (was {options.MaximumMessageSize}); the message is part of the key.")
            : ValidateOptionsResult.Success;
}
