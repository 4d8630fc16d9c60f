package main

// The warehouse drivers ampel can open (warehouse.driver in the config).
// The embedded engine is a C library: a binary built without cgo
// (CGO_ENABLED=0, e.g. for a static binary or a distroless image) has the
// clickhouse driver only, and refuses driver embedded with one line
// saying how to get a build that has it (see warehouse/embedded/nocgo.go).
import (
	_ "github.com/ampel/ampel/warehouse/clickhouse" // a ClickHouse server, native protocol
	_ "github.com/ampel/ampel/warehouse/embedded"   // the engine in-process, libchdb
)
