using Microsoft.Extensions.Options;

namespace TieredResponseCaching.Redis;

/// <summary>Checks the Redis options when the app starts (<c>ValidateOnStart</c>); each message says what to fix.</summary>
internal sealed class RedisTierOptionsValidator : IValidateOptions<RedisTierOptions>
{
    public ValidateOptionsResult Validate(string? name, RedisTierOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Configuration) && !options.UseRegisteredConnection)
        {
            errors.Add("AddRedis: set Configuration to a StackExchange.Redis connection string (such as localhost:6379), or UseRegisteredConnection to use the app's IConnectionMultiplexer; to run on L1 alone, do not call AddRedis.");
        }

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
}
