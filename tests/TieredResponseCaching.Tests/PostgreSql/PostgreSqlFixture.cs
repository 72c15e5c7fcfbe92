using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.PostgreSql;

/// <summary>One real PostgreSQL server for the tests of the collection, which run one after another (one restarts it).</summary>
public sealed class PostgreSqlFixture : IAsyncLifetime
{
    public PostgreSqlServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgreSqlServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class UsesPostgreSql : ICollectionFixture<PostgreSqlFixture>
{
    public const string Name = "PostgreSQL";
}
