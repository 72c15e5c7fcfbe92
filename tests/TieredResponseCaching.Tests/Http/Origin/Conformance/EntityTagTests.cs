using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Http.Origin;

namespace TieredResponseCaching.Tests.Http.Origin.Conformance;

/// <summary>RFC 9110 §8.8.3: which entity tags are well formed, at the edges of etagc (%x21, %x23-7E, obs-text up to 0xFF).</summary>
public sealed class EntityTagTests
{
    [Theory]
    [InlineData("\"\"", true)]
    [InlineData("W/\"\"", true)]
    [InlineData("\"!\"", true)]
    [InlineData("\"~\"", true)]
    [InlineData("\"\u00ff\"", true)]
    [InlineData(" \t\"a\"\t ", true)]
    [InlineData("\"", false)]
    [InlineData("\" \"", false)]
    [InlineData("\"\u007f\"", false)]
    [InlineData("\"\u0100\"", false)]
    [InlineData("W/", false)]
    public void Only_well_formed_entity_tags_are_validators(string value, bool valid)
    {
        Assert.Equal(valid, EntityTag.IsValid(new StringValues(value)));
        Assert.False(EntityTag.IsValid(new StringValues(["\"a\"", "\"b\""])));
    }
}
