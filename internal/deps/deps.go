package deps
import (
_ "github.com/ClickHouse/clickhouse-go/v2"
_ "github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
_ "github.com/hashicorp/go-retryablehttp"
_ "github.com/robfig/cron/v3"
_ "gopkg.in/yaml.v3"
_ "github.com/google/uuid"
_ "github.com/shopspring/decimal"
_ "github.com/stretchr/testify/require"
_ "go.uber.org/goleak"
)
