package warehouse

import (
	_ "embed" // functions.txt
	"strings"
	"sync"
)

// functionsText lists the engines' functions; see the file's header.
//
//go:embed functions.txt
var functionsText string

// functionEntry is one line of functions.txt.
type functionEntry struct {
	name      string // as the engine spells it
	aggregate bool
	aliasOf   string // "" unless an alias
}

// knownFunctions maps lower-cased names to their entries (a few names
// differ only in case).
var knownFunctions = sync.OnceValue(func() map[string][]functionEntry {
	m := make(map[string][]functionEntry, 2048)
	for _, line := range strings.Split(functionsText, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		e := functionEntry{name: f[0], aggregate: len(f) > 1 && f[1] == "1"}
		if len(f) > 2 {
			e.aliasOf = f[2]
		}
		key := strings.ToLower(e.name)
		m[key] = append(m[key], e)
	}
	return m
})

// KnownFunction reports whether name is listed in the engines' function
// list Ampel was built with (warehouse/functions.txt), allowed or not.
// The conformance suite uses it to find functions an engine added.
func KnownFunction(name string) bool {
	for _, e := range knownFunctions()[strings.ToLower(name)] {
		if e.name == name {
			return true
		}
	}
	return false
}

// Reasons a function or table function is refused under ReadOnly.
const (
	reasonFiles      = "reads files"
	reasonNetwork    = "connects to other servers"
	reasonOtherData  = "reads data outside the warehouse's tables"
	reasonServer     = "tells about the server, its settings or its users"
	reasonProcess    = "acts on the engine's process"
	reasonInternal   = "is internal to the engine"
	reasonExecutable = "runs programs"
)

// deniedFunctions are the engines' functions that reach past the
// warehouse's tables, lower-cased, with what they do. Aliases of these are
// refused too. Every other function in functions.txt is allowed under
// ReadOnly: they compute on their arguments (strings, numbers, dates,
// arrays, JSON, hashes, geo, aggregates).
var deniedFunctions = map[string]string{
	// files (the embedded engine's file() reads any path: see warehouse/embedded)
	"file": reasonFiles, "catboostevaluate": reasonFiles, "modelevaluate": reasonFiles,
	"naivebayesclassifier": reasonFiles, "naivebayesclassifierwithprob": reasonFiles,
	"naivebayesclassifierwithallprobs": reasonFiles, "showcertificate": reasonFiles,
	"filesystemavailable": reasonServer, "filesystemcapacity": reasonServer, "filesystemunreserved": reasonServer,
	"regionhierarchy": reasonFiles, "regionin": reasonFiles, "regiontoarea": reasonFiles,
	"regiontocity": reasonFiles, "regiontocontinent": reasonFiles, "regiontocountry": reasonFiles,
	"regiontodistrict": reasonFiles, "regiontoname": reasonFiles, "regiontopopulation": reasonFiles,
	"regiontotopcontinent": reasonFiles, "oshierarchy": reasonFiles, "osin": reasonFiles,
	"ostoroot": reasonFiles, "sehierarchy": reasonFiles, "sein": reasonFiles, "setoroot": reasonFiles,
	"findclusterindex": reasonFiles, "findclustervalue": reasonFiles,
	// the network: AI providers, ZooKeeper
	"aiclassify": reasonNetwork, "aiembed": reasonNetwork, "aiextract": reasonNetwork,
	"aigenerate": reasonNetwork, "aitranslate": reasonNetwork,
	"generateserialid": reasonNetwork, "zookeepersessionuptime": reasonNetwork,
	// other tables, databases and dictionaries (dictGet… by prefix below)
	"joinget": reasonOtherData, "joingetornull": reasonOtherData, "hascolumnintable": reasonOtherData,
	"getmaxtablenamelengthfordatabase": reasonOtherData, "globalvariable": reasonServer,
	// the server, its settings and users
	"hostname": reasonServer, "fqdn": reasonServer, "currentuser": reasonServer,
	"authenticateduser": reasonServer, "currentprofiles": reasonServer, "enabledprofiles": reasonServer,
	"defaultprofiles": reasonServer, "currentroles": reasonServer, "enabledroles": reasonServer,
	"defaultroles": reasonServer, "getsetting": reasonServer, "getsettingordefault": reasonServer,
	"getserversetting": reasonServer, "getmergetreesetting": reasonServer, "getmacro": reasonServer,
	"serveruuid": reasonServer, "uptime": reasonServer, "tcpport": reasonServer,
	"getserverport": reasonServer, "getoskernelversion": reasonServer, "buildid": reasonServer,
	"displayname": reasonServer, "getclienthttpheader": reasonServer, "shardnum": reasonServer,
	"shardcount": reasonServer, "hasthreadfuzzer": reasonServer, "transactionid": reasonServer,
	"transactionlatestsnapshot": reasonServer, "transactionoldestsnapshot": reasonServer,
	// the process: pauses, crashes, introspection, the server log
	"sleep": reasonProcess, "sleepeachrow": reasonProcess,
	"fuzzquery": reasonProcess, "logtrace": reasonProcess, "tid": reasonProcess,
	"addresstoline": reasonProcess, "addresstolinewithinlines": reasonProcess,
	"addresstosymbol": reasonProcess, "demangle": reasonProcess, "flamegraph": reasonProcess,
	"mergetreepartinfo": reasonProcess, "ismergetreepartcoveredby": reasonProcess,
}

// deniedPrefixes refuse whole families by the start of the lower-cased name.
var deniedPrefixes = []struct{ prefix, reason string }{
	{"dict", "reads a dictionary, which may read files or other servers"},
	{"__", reasonInternal},
}

// tableFunctionReasons say what the better known table functions do; the
// others are refused as table functions without more words.
var tableFunctionReasons = map[string]string{
	"file": reasonFiles, "filecluster": reasonFiles, "input": "reads the engine's input",
	"executable": reasonExecutable, "url": reasonNetwork, "urlcluster": reasonNetwork,
	"s3": reasonNetwork, "s3cluster": reasonNetwork, "gcs": reasonNetwork, "oss": reasonNetwork,
	"remote": reasonNetwork, "remotesecure": reasonNetwork, "cluster": reasonNetwork,
	"clusterallreplicas": reasonNetwork, "mysql": reasonNetwork, "postgresql": reasonNetwork,
	"mongodb": reasonNetwork, "redis": reasonNetwork, "sqlite": reasonFiles, "odbc": reasonNetwork,
	"jdbc": reasonNetwork, "hdfs": reasonNetwork, "azureblobstorage": reasonNetwork,
	"iceberg": reasonNetwork, "deltalake": reasonNetwork, "hudi": reasonNetwork,
	"merge": reasonOtherData, "dictionary": reasonOtherData, "view": reasonOtherData,
	"viewexplain": reasonOtherData,
}

// syntaxFunctions are names the parser turns syntax into (EXISTS (…),
// x -> …, GROUPING(…)) that system.functions does not list.
var syntaxFunctions = map[string]bool{"exists": true, "lambda": true, "grouping": true}

// aggregateCombinators are the suffixes ClickHouse lets follow an
// aggregate function's name (sumIf, uniqMerge, avgOrNullIf, …), lower-cased.
var aggregateCombinators = []string{"simplestate", "mergestate", "ordefault", "ornull", "resample",
	"distinct", "foreach", "argmax", "argmin", "state", "merge", "array", "tuple", "null", "map", "if"}

// deniedReason returns why the lower-cased name is refused, or "".
func deniedReason(lower string) string {
	if r, ok := deniedFunctions[lower]; ok {
		return r
	}
	for _, p := range deniedPrefixes {
		if strings.HasPrefix(lower, p.prefix) {
			return p.reason
		}
	}
	return ""
}

// functionRefusal returns why a call of the function name is refused under
// ReadOnly, or "" when it is allowed. Names compare case-insensitively: an
// engine that takes a name only in one case fails the statement itself.
func functionRefusal(name string) string {
	lower := strings.ToLower(name)
	if r := deniedReason(lower); r != "" {
		return name + "() " + r
	}
	if syntaxFunctions[lower] {
		return ""
	}
	if entries, ok := knownFunctions()[lower]; ok {
		for _, e := range entries {
			if r := deniedReason(strings.ToLower(e.aliasOf)); e.aliasOf != "" && r != "" {
				return name + "() " + r
			}
		}
		return ""
	}
	// an aggregate function with combinators: sumIf, uniqArrayMerge, …
	for base := lower; ; {
		trimmed := false
		for _, c := range aggregateCombinators {
			if len(base) > len(c) && strings.HasSuffix(base, c) {
				base = base[:len(base)-len(c)]
				trimmed = true
				break
			}
		}
		if !trimmed {
			break
		}
		if deniedReason(base) != "" {
			return name + "() " + deniedReason(base)
		}
		for _, e := range knownFunctions()[base] {
			if e.aggregate && (e.aliasOf == "" || deniedReason(strings.ToLower(e.aliasOf)) == "") {
				return ""
			}
		}
	}
	return name + "() is not a function Ampel knows to be safe (warehouse/functions.txt)"
}

// tableFunctionRefusal says why the table function name is refused.
func tableFunctionRefusal(name string) string {
	if r, ok := tableFunctionReasons[strings.ToLower(name)]; ok {
		return "table function " + name + "() " + r
	}
	return "table function " + name + "(): only the warehouse's tables can be read"
}
