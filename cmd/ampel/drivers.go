package main

// The warehouse drivers ampel can open (warehouse.driver in the config).
import (
	_ "github.com/ampel/ampel/warehouse/clickhouse" // a ClickHouse server, native protocol
	_ "github.com/ampel/ampel/warehouse/embedded"   // the engine in-process, libchdb
)
