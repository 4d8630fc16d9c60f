// Package deps pins the design card's dependencies in go.mod until the code
// that uses them lands; `go mod tidy` would drop them otherwise. Remove an
// import here once a real package imports it.
package deps

import (
	_ "github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	_ "github.com/ClickHouse/clickhouse-go/v2"
	_ "github.com/google/uuid"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/robfig/cron/v3"
	_ "github.com/shopspring/decimal"
	_ "github.com/stretchr/testify/require"
	_ "go.uber.org/goleak"
	_ "gopkg.in/yaml.v3"
)
