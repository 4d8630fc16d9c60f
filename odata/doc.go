// Package odata is Ampel's one OData v4 vocabulary, for both sides of the
// wire: the Dataverse client (connector/dataverse) builds its requests and
// reads the answers with it, the Dataverse simulator (connector/dvsim)
// reads requests and builds answers with it, and the OData feed for Power
// BI (package serve) serves with it. It imports nothing of Ampel.
//
//   - Names (names.go): system query options ($select, …, $skiptoken,
//     $deltatoken), control information (@odata.context, @odata.nextLink,
//     @odata.deltaLink, …), Dataverse's annotation terms (FormattedValue,
//     lookuplogicalname, globalmetadataversion, …), headers.
//
//   - Query options: Query and its Encode for a request, EscapeOption;
//     ParseSelect and ParseOrderBy for a server.
//
//   - $filter: ParseFilter produces an AST (comparisons, and, or, not,
//     in, functions, literals). The parser never evaluates
//     anything: callers walk the AST and bind literals as values (never by
//     pasting text), which keeps translation to SQL safe.
//
//   - Prefer: ParsePrefer reads the header, Prefer.String writes it (and
//     Preference-Applied); AnnotationIncluded matches an annotation term
//     against odata.include-annotations.
//
//   - The error body {"error":{"code":"…","message":"…"}}: ParseErrorBody,
//     MarshalError, WriteError.
//
//   - The service side (csdl.go): Model and WriteMetadata write the
//     metadata document as CSDL 4.0 XML, after Model.Check refuses what
//     would make it invalid or unreadable to Power BI (an entity type
//     without a key, a nullable key, an unknown type name such as
//     Edm.Money); ServiceDocument writes the service document;
//     AppendJSONString writes a JSON string without allocating.
package odata
