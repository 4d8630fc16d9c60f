// Package serve is Ampel's HTTP server: the OData v4 feed Power BI reads
// at /odata/, /healthz and /metrics. ampel serve and ampel run start it;
// package cockpit mounts its pages on the same server (Handle, CheckKey).
//
// The feed serves one entity set per mart (Marts: the published snapshot,
// the sets, the table behind each). Each read uses the snapshot current
// when it starts and carries it, with the order values of the last row
// served, in every @odata.nextLink's $skiptoken: the next page continues
// after that row (keyset paging, never OFFSET) in the same snapshot, so a
// refresh never mixes two published states. A nextLink whose snapshot is
// no longer kept gets 410 with a message saying to refresh again.
//
// A read in key order runs one statement for all its pages, kept between
// them for the request that follows the nextLink (cursor.go,
// Options.KeptReads); a nextLink whose statement is gone runs a new one
// from its keyset and serves the same page. A kept statement holds its
// snapshot's data: its read goes on to the end though the snapshot is
// dropped meanwhile. The page size is Options.PageSize, lowered by a
// client's Prefer: odata.maxpagesize. $select, $filter, $orderby, $top, $skip, $count=true
// and /$count (text/plain) are supported; anything else is a 400 OData
// error. $filter is parsed by package odata and translated here, with
// every literal a bound value (warehouse.Bind) and every name one of the
// set's columns, quoted; every statement runs under warehouse.ReadOnly.
// Rows are streamed as they come from the warehouse: memory stays flat
// however large the set.
//
// Edm types follow the ClickHouse columns (see edmProperty); $metadata is
// CSDL 4.0 XML (odata.WriteMetadata), JSON answers carry
// odata.metadata=minimal and exactly one OData-Version: 4.0 header.
//
// Access: /odata/ needs one of the configured keys, sent as the Basic
// password (any user name), as the key query parameter (Power BI's Web
// API key credential) or as a Bearer token. Keys are kept as SHA-256
// hashes and compared in constant time; a request without a valid key
// gets 401 with WWW-Authenticate: Basic realm="Ampel". The access log
// names the key used, never the key, and logs of the query only the
// system query options: every other parameter's value is REDACTED. /healthz (warehouse reachable: 200 or 503; the last
// sync per environment) and /metrics (Prometheus text) need no key: they
// show no data.
//
// The local endpoint (local.go): while the process holds an embedded
// warehouse, ServeLocal answers ampel sql on a Unix socket in the data
// directory (LocalSocket, 0600 in a 0700 directory), running each
// statement read-only; LocalQuery is the client side. It also runs the
// command lines Options.Commands takes (ampel kpi, audit and score, which
// write and so must run in the process that holds the engine), streaming
// their output and exit code back; LocalRun is the client side.
//
// The next link's query keeps $select, $filter, $orderby and $count and
// never a key: Power BI adds its credential to every request it sends,
// nextLinks included.
package serve
