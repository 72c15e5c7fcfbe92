using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace TieredResponseCaching.Redis;

/// <summary>Checks the Redis options when the app starts (<c>ValidateOnStart</c>); each message says what to fix.</summary>
internal sealed class RedisTierOptionsValidator(IServiceProvider services) : IValidateOptions<RedisTierOptions>
{
    // How an app registers its connection with a key, and how the cache is told which one (docs/tiers.md).
    private const string KeyedHint =
        "if the app registers it with a service key (services.AddKeyedSingleton<IConnectionMultiplexer>(\"cache\", ...), or .NET Aspire's AddKeyedRedisClient(\"cache\")), set ConnectionServiceKey = \"cache\"";

    public ValidateOptionsResult Validate(string? name, RedisTierOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Configuration) && !options.UseRegisteredConnection && options.ConnectionServiceKey is null)
        {
            errors.Add($"AddRedis: set Configuration to a StackExchange.Redis connection string (such as localhost:6379), or UseRegisteredConnection to use the app's IConnectionMultiplexer; {KeyedHint}. To run on L1 alone, do not call AddRedis.");
        }

        CheckRegisteredConnection(options, errors);

        const int minimum = EntryAuthenticator.MinimumKeySize;
        if (options.EntrySigningKey is { Length: < minimum } key)
        {
            errors.Add($"AddRedis: EntrySigningKey must be at least {minimum} bytes (was {key.Length}): use {minimum} random bytes, such as RandomNumberGenerator.GetBytes({minimum}), the same on every node.");
        }

        if (options.PreviousEntrySigningKeys.Count > 0 && options.EntrySigningKey is null)
        {
            errors.Add("AddRedis: set EntrySigningKey, or clear PreviousEntrySigningKeys: previous keys are only accepted alongside the key that signs new entries.");
        }

        for (var i = 0; i < options.PreviousEntrySigningKeys.Count; i++)
        {
            if (options.PreviousEntrySigningKeys[i] is not { Length: >= minimum })
            {
                errors.Add($"AddRedis: PreviousEntrySigningKeys[{i}] must be at least {minimum} bytes (was {options.PreviousEntrySigningKeys[i]?.Length ?? 0}).");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>
    /// The connection the options name must be registered: found missing when the first request needs Redis, it would
    /// only leave the cache on L1 with an error in the log.
    /// </summary>
    private void CheckRegisteredConnection(RedisTierOptions options, List<string> errors)
    {
        if (options.ConnectionServiceKey is { } key)
        {
            if (services.GetService<IServiceProviderIsKeyedService>() is { } keyed && !keyed.IsKeyedService(typeof(IConnectionMultiplexer), key))
            {
                errors.Add($"AddRedis: ConnectionServiceKey is \"{key}\", but no IConnectionMultiplexer is registered under that key. Register it with services.AddKeyedSingleton<IConnectionMultiplexer>(\"{key}\", ...), or set ConnectionServiceKey to the key the app uses.");
            }
        }
        else if (options.UseRegisteredConnection
            && services.GetService<IServiceProviderIsService>() is { } registered
            && !registered.IsService(typeof(IConnectionMultiplexer)))
        {
            errors.Add($"AddRedis: UseRegisteredConnection is set, but no IConnectionMultiplexer is registered without a service key. Register one with services.AddSingleton<IConnectionMultiplexer>(...); {KeyedHint}; or set Configuration to a connection string instead.");
        }
    }
}
