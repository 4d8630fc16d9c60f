// Package dataverse is Ampel's client for the Dataverse Web API (v9.2): it
// authenticates, reads table metadata, and streams table pages, full or by
// change tracking, for the sync engine in package connector.
//
// # Authentication
//
// Server-to-server with the MSAL Go confidential client: a client secret or
// a certificate (PEM), scope <environment URL>/.default. The Client keeps
// the current token and renews it when less than five minutes are left
// (first from MSAL's cache, then from the authority), checked before every
// request and before every retry, so a first load that runs for hours keeps
// going. A 401 from Dataverse gets one retry with a token fetched anew.
// Authorities that are not Microsoft's public or sovereign login hosts (the
// simulator, private clouds) are used with instance discovery off. CAFile
// adds a CA for both the authority and Dataverse.
//
// # Errors
//
// Failures are *APIError (a Dataverse answer) or *AuthError (Entra ID
// refused a token); errors.Is tells the kind: ErrBadSecret,
// ErrUnknownTenant, ErrUnknownClient, ErrWrongResource (all also ErrAuth),
// ErrUnreachable, ErrNoAppUser, ErrPrivilege, ErrChangeTrackingDisabled,
// ErrDeltaTokenExpired, ErrThrottled, ErrUnavailable, ErrNotFound,
// ErrMalformed, ErrRequest. The message is one line, keeps the cause (a
// long text keeps its start and its end, where a Go error says why) and
// ends with what to fix, naming the setting: url for an environment that
// cannot be reached or that Entra ID does not know in the tenant
// (AADSTS500011), authority for a token endpoint that cannot be reached.
// Errors and logs carry the URL path, never the query string, the token or
// the secret.
//
// The HTTP status Dataverse gives an expired delta token is not documented.
// This package treats 410 and any other 4xx (except 401, 403 and 429)
// answered to a delta link as ErrDeltaTokenExpired: whatever the cause,
// the remedy is a full reload.
//
// # HTTP
//
// Requests go through go-retryablehttp with the Dataverse policy: 429 waits
// exactly Retry-After (seconds or an HTTP date); 502, 503, 504 and
// transport failures (reset, EOF, timeout; not ErrUnreachable: a name that
// does not resolve, a refused connection or a port without TLS is a wrong
// setting and fails at once) back off exponentially from
// RetryWaitMin to RetryWaitMax with jitter; a request gives up when its
// next wait would take its total waiting past MaxWait, and the error says
// the last status, the attempts and the time waited. After a 429 every
// other new request to the environment also waits until the Retry-After
// time, since hammering a throttled user extends the penalty. A body cut
// off while it is read is fetched again within the same budget. At most
// MaxConcurrency requests (default 52, Dataverse's limit) are in flight per
// environment and application user, across all Clients of the process;
// below that an AIMD limit adapts to 429s and to the
// x-ms-ratelimit-burst-remaining-xrm-requests header, and once a 429 named
// the request limit and its window, requests are paced to it (limiter.go);
// waiting between retries holds no slot. Stats counts requests, 429s, retries, bytes and time waited;
// WithCounter counts one run or table on its own.
//
// Query options, Prefer headers, annotation names and the error body are
// written and read with package odata, which the simulator uses too.
//
// Every request sends OData-MaxVersion/OData-Version 4.0, Accept
// application/json and If-None-Match: null. Data reads add Prefer:
// odata.maxpagesize=N, odata.include-annotations with FormattedValue and
// lookuplogicalname (not "*", which would add a navigation-property
// annotation to every lookup), and odata.track-changes when asked.
// Metadata reads send Consistency: Strong, so a new column is seen at once.
//
// # Reading
//
// Read returns a Reader that yields pages. It follows @odata.nextLink
// verbatim (refusing links to another host, which would carry the token
// away) and fetches at most one page ahead, when one of the client's
// Config.ReadAhead slots (DefaultReadAhead) is free. The pages of all
// reads of a client share one byte budget (Config.MemoryBudget,
// DefaultMemoryBudget; budget.go): a read waits for its page's share,
// after the answer's headers and before reading its body, so the bytes
// held in pages stay near the budget whatever the table sizes and
// however many tables and ranges load at once. The last page of a
// change-tracking read carries the @odata.deltaLink; a delta read yields
// changed rows as Records and $deletedEntity entries (and the OData 4.01
// @removed form) as Deleted. Record strings point into the response body,
// without copies; a caller done with a page calls Page.Release so that a
// later page reuses the body's buffer and the page's budget. A body's
// buffer is sized from the page before (pages come without a
// Content-Length). See decode.go for the decoder and BenchmarkDecode for its
// throughput.
// Tables without change tracking are read with WatermarkQuery.
//
// # Metadata
//
// EntityDefinitions reads the tables of a sync together: one request for
// the tables with their attributes (EntityDefinitions?$filter=LogicalName
// eq 'a' or …&$expand=Attributes), one per table for the option sets (the
// EnumAttributeMetadata cast with $expand=OptionSet,GlobalOptionSet; the
// per-type casts where a server refuses it; without a snapshot sent at
// once beside the attributes, one round trip), and with a snapshot read before (Metadata, which the
// connector caches in the warehouse) only one request when the global
// metadata version is unchanged.
//
// EntityDefinition reads one table: EntityDefinitions(LogicalName='x'),
// its Attributes, then the documented cast segments
// (/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet,
// LookupAttributeMetadata Targets, DateTimeAttributeMetadata Format and
// DateTimeBehavior, …), only for the attribute types the table has, all at
// once (within MaxConcurrency). A cast
// request refused with 400/404/501 is logged and skipped, and properties
// found in the base answer are used too, so a server that puts them there
// works as well. The connector uses it for a table the bulk read did not
// return, so that the error names the table.
package dataverse
