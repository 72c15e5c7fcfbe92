using System.Buffers;
using Microsoft.Extensions.Options;

namespace TieredResponseCaching.Nats;

/// <summary>Checks the options when the app starts; each message says what to fix.</summary>
internal sealed class NatsInvalidationOptionsValidator : IValidateOptions<NatsInvalidationOptions>
{
    // JetStream stream and consumer names: no whitespace, no subject separators or wildcards, no path separators.
    private static readonly SearchValues<char> NotInNames = SearchValues.Create(" \t\r\n.*>/\\");

    public ValidateOptionsResult Validate(string? name, NatsInvalidationOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Url))
        {
            errors.Add("NatsInvalidationOptions.Url is required (nats://host:4222).");
        }

        if (!IsName(options.Stream))
        {
            errors.Add($"NatsInvalidationOptions.Stream must name the JetStream stream (no spaces, dots, '*', '>', '/' or '\\'; was '{options.Stream}').");
        }

        if (!IsName(options.DurableName))
        {
            errors.Add($"NatsInvalidationOptions.DurableName must name the durable consumer (no spaces, dots, '*', '>', '/' or '\\'; was '{options.DurableName}').");
        }

        if (options.Subject is { } subject && (subject.Length == 0 || subject.Any(char.IsWhiteSpace)))
        {
            errors.Add($"NatsInvalidationOptions.Subject must be a subject without spaces (changes.catalog.>), or null for the whole stream (was '{subject}').");
        }

        if (options.AckWait < TimeSpan.FromSeconds(1))
        {
            errors.Add($"AckWait must be at least 1 s (was {options.AckWait}).");
        }

        if (options.MaxDeliver < 1)
        {
            errors.Add($"MaxDeliver must be at least 1 (was {options.MaxDeliver}).");
        }

        if (options.RetryDelay < TimeSpan.Zero)
        {
            errors.Add($"RetryDelay must not be negative (was {options.RetryDelay}).");
        }

        if (options.BatchSize is < 1 or > 10_000)
        {
            errors.Add($"BatchSize must be 1 to 10,000 (was {options.BatchSize}).");
        }

        ChangePayload.Compile(options.Tables, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsName(string? name) => !string.IsNullOrEmpty(name) && name.AsSpan().IndexOfAny(NotInNames) < 0;
}
