package kpis_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ampel/ampel/warehouse/warehousetest"
)

func TestScratch(t *testing.T) {
	qs := strings.Split(os.Getenv("SCRATCH"), ";;")
	for _, cfg := range warehousetest.All(t) {
		st := warehousetest.Open(t, cfg)
		for _, q := range qs {
			rows, err := st.Query(context.Background(), q)
			if err != nil {
				fmt.Printf("%s ERR %v\n", cfg.Driver, err)
				continue
			}
			for rows.Next() {
				fmt.Printf("%s %v\n", cfg.Driver, rows.Values())
			}
			if rows.Err() != nil {
				fmt.Printf("%s ERR %v\n", cfg.Driver, rows.Err())
			}
			rows.Close()
		}
	}
}
