package clickhouse_test

import (
	"testing"

	"github.com/ampel/ampel/warehouse"
	"github.com/ampel/ampel/warehouse/storetest"
	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestMain(m *testing.M) { warehousetest.Main(m) }

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) warehouse.Store {
		return warehousetest.Open(t, warehousetest.ClickHouse(t))
	})
}
