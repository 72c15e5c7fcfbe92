using System.Text;
using TieredResponseCaching.GraphQL;

namespace TieredResponseCaching.Tests.GraphQL;

/// <summary>
/// The canonical text of an operation: what the server executes decides it, not how the client spelled it; and
/// what decides the response (selection order, aliases, directives) stays.
/// </summary>
public class CanonicalPrinterTests
{
    [Fact]
    public void Operation_prints_compactly_with_arguments_variables_and_object_fields_sorted()
    {
        var text = Canonical("""
            query Products($first: Int = 2, $category: String) @trace(level: 1, deep: true) {
              products(first: $first, category: $category, filter: {maxPrice: 9.5, nameContains: "k", tags: [B, A]}) {
                id
                title: name
                supplier @include(if: true) @skip(if: false) { country name }
              }
            }
            """);

        Assert.Equal(
            "query Products($category:String,$first:Int=2)@trace(deep:true,level:1){products(category:$category,filter:{maxPrice:9.5,nameContains:\"k\",tags:[B,A]},first:$first){id title:name supplier@include(if:true)@skip(if:false){country name}}}",
            text);
    }

    [Theory]
    [InlineData("{ products { id name } }")]
    [InlineData("query { products { id, name } }")]
    [InlineData("query{products{id name}}")]
    [InlineData("# a comment\r\nquery {\r\n  products {  # another\r\n    id,,\r\n\tname\r\n  }\r\n}\r\n")]
    [InlineData("\uFEFF{ products { id name: name } }")]
    public void Spelling_that_does_not_change_the_execution_prints_the_same(string document)
    {
        Assert.Equal("query{products{id name}}", Canonical(document));
    }

    [Theory]
    [InlineData("{ echo(text: \"kitchen\") }")]
    [InlineData("{ echo(text: \"kit\\u0063hen\") }")]
    [InlineData("{ echo(text: \"\"\"kitchen\"\"\") }")]
    [InlineData("{ echo(text: \"\"\"\n    kitchen\n  \"\"\") }")]
    public void Strings_print_by_their_value(string document)
    {
        Assert.Equal("query{echo(text:\"kitchen\")}", Canonical(document));
    }

    [Fact]
    public void Escapes_that_the_value_needs_are_written_one_way()
    {
        Assert.Equal("query{echo(text:\"a\\\"b\\\\c\\u000A\\u0009\u00e9\")}", Canonical("{ echo(text: \"a\\\"b\\\\c\\n\\t\\u00e9\") }"));
        Assert.Equal(Canonical("{ echo(text: \"line\\nnext\") }"), Canonical("{ echo(text: \"\"\"\nline\nnext\n\"\"\") }"));
        Assert.Equal("query{echo(text:\"\\uD800\")}", Canonical("{ echo(text: \"\\uD800\") }"));
    }

    [Fact]
    public void Selection_order_aliases_and_directive_order_are_kept()
    {
        Assert.NotEqual(Canonical("{ products { id name } }"), Canonical("{ products { name id } }"));
        Assert.NotEqual(Canonical("{ products { id name } }"), Canonical("{ products { id title: name } }"));
        Assert.NotEqual(Canonical("{ a @x @y }"), Canonical("{ a @y @x }"));
    }

    [Fact]
    public void Sorted_selections_share_a_text_but_aliases_still_count()
    {
        var options = new GraphQLCacheOptions { SortSelections = true };

        Assert.Equal("query{products{id name supplier{country name}}}", Canonical("{ products { supplier { name country } name id } }", options));
        Assert.NotEqual(Canonical("{ products { id name } }", options), Canonical("{ products { id title: name } }", options));
    }

    [Fact]
    public void Only_the_fragments_an_operation_reaches_are_printed_sorted_by_name()
    {
        var document = Analyze("""
            query A { products { ...Z } }
            query B { products { ...Y } }
            fragment Z on Product { id ...X }
            fragment Y on Product { name }
            fragment X on Product { supplier { name } ... on Product { price } ... @skip(if: false) { category } }
            """);

        Assert.Equal(NotCachedReason.None, document.Reason);
        Assert.Equal(
            "query A{products{...Z}} fragment X on Product{supplier{name} ...on Product{price} ...@skip(if:false){category}} fragment Z on Product{id ...X}",
            document.Operations.Single(o => o.Name == "A").CanonicalText);
        Assert.Equal("query B{products{...Y}} fragment Y on Product{name}", document.Operations.Single(o => o.Name == "B").CanonicalText);
    }

    [Fact]
    public void Operation_type_name_and_variable_defaults_are_recorded()
    {
        var document = Analyze("""
            query Q($b: [String!] = ["x"], $a: ProductFilter = {tags: [RED], maxPrice: 1.5e1, nameContains: null}, $c: Int) { products(filter: $a) { id } }
            mutation M { addProduct(name: "n") }
            subscription S { ticks }
            """);

        var query = document.Operations[0];
        Assert.Equal(("Q", GraphQLParser.AST.OperationType.Query), (query.Name, query.Type));
        Assert.Equal(["a", "b", "c"], query.Variables.Select(v => Encoding.UTF8.GetString(v.Name)));
        Assert.Equal("""{"tags":["RED"],"maxPrice":1.5e1,"nameContains":null}""", Encoding.UTF8.GetString(query.Variables[0].DefaultJson!));
        Assert.Equal("""["x"]""", Encoding.UTF8.GetString(query.Variables[1].DefaultJson!));
        Assert.Null(query.Variables[2].DefaultJson);
        Assert.Equal(GraphQLParser.AST.OperationType.Mutation, document.Operations[1].Type);
        Assert.Equal(GraphQLParser.AST.OperationType.Subscription, document.Operations[2].Type);
        Assert.Equal(query.Digest, System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(query.CanonicalText)));
    }

    [Theory]
    [InlineData("{ __schema { queryType { name } } }", true)]
    [InlineData("{ products { id } __type(name: \"Product\") { name } }", true)]
    [InlineData("{ ... on Query { __schema { types { name } } } }", true)]
    [InlineData("query { ...Meta } fragment Meta on Query { ...Deeper } fragment Deeper on Query { __type(name: \"X\") { name } }", true)]
    [InlineData("{ __typename products { id } }", false)]
    [InlineData("{ products { __typename id } }", false)]
    public void Introspection_at_the_top_of_the_operation_is_recognised(string document, bool introspection)
    {
        Assert.Equal(introspection, Analyze(document).Operations[0].IsIntrospection);
    }

    [Theory]
    [InlineData("{ products { id ")]
    [InlineData("{ products(first: ) { id } }")]
    [InlineData("type Query { a: Int } { products { id } }")]
    [InlineData("query A { a } query A { b }")]
    [InlineData("{ a } query B { b }")]
    [InlineData("{ a } fragment F on Query { a }")]
    [InlineData("{ ...F } fragment F on Query { a } fragment F on Query { b }")]
    [InlineData("{ ...Missing }")]
    [InlineData("{ ...F } fragment F on Query { ...G } fragment G on Query { ...F }")]
    [InlineData("query ($a: Int, $a: Int) { a }")]
    [InlineData("query ($a: Int = $b) { a }")]
    [InlineData("fragment F on Query { a }")]
    [InlineData("")]
    public void Documents_the_server_rejects_as_a_whole_are_refused(string document)
    {
        Assert.Equal(NotCachedReason.GraphQLInvalidDocument, Analyze(document).Reason);
    }

    [Fact]
    public void Nesting_over_the_depth_limit_is_refused_also_through_fragments()
    {
        var options = new GraphQLCacheOptions { MaximumDepth = 3 };

        Assert.Equal(NotCachedReason.None, Analyze("{ a { b { c } } }", options).Reason);
        Assert.Equal(NotCachedReason.GraphQLTooDeep, Analyze("{ a { b { c { d } } } }", options).Reason);
        Assert.Equal(NotCachedReason.None, Analyze("{ a { ...F } } fragment F on T { b { c } }", options).Reason);
        Assert.Equal(NotCachedReason.GraphQLTooDeep, Analyze("{ a { ...F } } fragment F on T { b { c { d } } }", options).Reason);
        Assert.Equal(NotCachedReason.GraphQLTooDeep, Analyze("{ a(x: " + new string('[', 50) + new string(']', 50) + ") }", options).Reason);
        Assert.Equal(NotCachedReason.GraphQLTooDeep, Analyze(string.Concat(Enumerable.Repeat("{ a ", 5000)) + new string('}', 5000)).Reason);
    }

    internal static string Canonical(string document, GraphQLCacheOptions? options = null)
    {
        var parsed = Analyze(document, options);
        Assert.Equal(NotCachedReason.None, parsed.Reason);
        return Assert.Single(parsed.Operations).CanonicalText;
    }

    private static ParsedDocument Analyze(string document, GraphQLCacheOptions? options = null) =>
        DocumentAnalyzer.Analyze(document, DocumentForm.JsonString, Encoding.UTF8.GetBytes(document), 0, options ?? new GraphQLCacheOptions());
}
