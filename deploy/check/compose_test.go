package check

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/config"
)

// composeEnv is what deploy/compose/ampel.env.example asks for, filled in.
func composeEnv(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range strings.Split(read(t, "deploy", "compose", "ampel.env.example"), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = "test-" + strings.ToLower(k)
		}
	}
	env["AMPEL_DATAVERSE_URL"] = "https://contoso.crm4.dynamics.com"
	return env
}

// loadCompose loads a compose file with compose-go, the loader Docker
// Compose itself uses: interpolation, the compose specification's schema,
// references between services, volumes and configs.
func loadCompose(t *testing.T, file string, env map[string]string) (*types.Project, error) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithWorkingDirectory(filepath.Dir(file)), cli.WithEnv(list), cli.WithConsistency(true), cli.WithResolvedPaths(true))
	require.NoError(t, err)
	return opts.LoadProject(context.Background())
}

// TestComposeSingle checks deploy/compose/compose.yaml: Ampel and one
// ClickHouse server.
func TestComposeSingle(t *testing.T) {
	file := path(t, "deploy", "compose", "compose.yaml")
	p, err := loadCompose(t, file, composeEnv(t))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"ampel", "clickhouse"}, p.ServiceNames())
	checkAmpelService(t, p, []string{"clickhouse"})
	checkMissingSecret(t, file)
}

// TestComposeCluster checks deploy/compose/cluster/compose.yaml and the
// ClickHouse configuration beside it: 2 shards × 2 replicas and a 3-node
// Keeper ensemble, each node with its own macros, the cluster definition
// naming exactly the compose services.
func TestComposeCluster(t *testing.T) {
	dir := path(t, "deploy", "compose", "cluster")
	file := filepath.Join(dir, "compose.yaml")
	p, err := loadCompose(t, file, composeEnv(t))
	require.NoError(t, err)
	nodes := []string{"ch-s1r1", "ch-s1r2", "ch-s2r1", "ch-s2r2"}
	keepers := []string{"keeper-1", "keeper-2", "keeper-3"}
	require.ElementsMatch(t, append(append([]string{"ampel"}, nodes...), keepers...), p.ServiceNames())
	checkAmpelService(t, p, nodes)
	checkMissingSecret(t, file)

	// every XML file is well-formed
	xmlFiles, err := filepath.Glob(filepath.Join(dir, "*", "*.xml"))
	require.NoError(t, err)
	require.Len(t, xmlFiles, 1+len(nodes)+len(keepers))
	for _, f := range xmlFiles {
		wellFormed(t, f)
	}

	// the cluster: the nodes of the compose file, by shard
	var cluster chConfig
	decodeXML(t, filepath.Join(dir, "clickhouse", "cluster.xml"), &cluster)
	require.Len(t, cluster.RemoteServers.Clusters, 1)
	c := cluster.RemoteServers.Clusters[0]
	assert.Equal(t, "ampel", c.XMLName.Local)
	assert.Equal(t, "CLICKHOUSE_CLUSTER_SECRET", c.Secret.FromEnv, "the nodes authenticate each other with a secret from the environment")
	require.Len(t, c.Shards, 2)
	for i, sh := range c.Shards {
		assert.True(t, sh.InternalReplication, "shard %d: replicated tables copy their own inserts", i+1)
		require.Len(t, sh.Replicas, 2)
		for j, r := range sh.Replicas {
			assert.Equal(t, fmt.Sprintf("ch-s%dr%d", i+1, j+1), r.Host)
			assert.Equal(t, 9000, r.Port)
		}
	}
	var zk []string
	for _, n := range cluster.Zookeeper.Nodes {
		zk = append(zk, n.Host)
		assert.Equal(t, 9181, n.Port)
	}
	assert.Equal(t, keepers, zk, "<zookeeper> lists the Keeper services")
	assert.NotEmpty(t, cluster.DistributedDDL.Path)
	assert.Equal(t, "/clickhouse/tables/{shard}/{database}/{table}", cluster.DefaultReplicaPath)
	assert.Equal(t, "{replica}", cluster.DefaultReplicaName)

	// each node: cluster.xml and its own macros, which name it
	for _, n := range nodes {
		s := p.Services[n]
		assert.Equal(t, n, s.Hostname)
		mounts := bindMounts(t, s)
		require.Equal(t, filepath.Join(dir, "clickhouse", "cluster.xml"), mounts["/etc/clickhouse-server/config.d/cluster.xml"], n)
		macrosFile := mounts["/etc/clickhouse-server/config.d/macros.xml"]
		require.NotEmpty(t, macrosFile, n)
		var m chConfig
		decodeXML(t, macrosFile, &m)
		assert.Equal(t, "ampel", m.Macros.Cluster, n)
		assert.Equal(t, "0"+n[4:5], m.Macros.Shard, n)
		assert.Equal(t, n, m.Macros.Replica, "%s: {replica} names the node", n)
		require.NotNil(t, s.HealthCheck, n)
		for _, k := range keepers {
			assert.Equal(t, types.ServiceConditionHealthy, s.DependsOn[k].Condition, "%s waits for %s", n, k)
		}
		assert.NotNil(t, s.Environment["CLICKHOUSE_CLUSTER_SECRET"], n)
	}

	// each Keeper node: its own server_id, the same raft group
	for i, k := range keepers {
		s := p.Services[k]
		mounts := bindMounts(t, s)
		f := mounts["/etc/clickhouse-keeper/keeper_config.d/keeper.xml"]
		require.NotEmpty(t, f, k)
		var kc chConfig
		decodeXML(t, f, &kc)
		assert.Equal(t, i+1, kc.Keeper.ServerID, k)
		assert.Equal(t, 9181, kc.Keeper.TCPPort, k)
		assert.Contains(t, kc.Keeper.FourLetterWords, "ruok", "%s: the health check sends ruok", k)
		var raft []string
		for j, srv := range kc.Keeper.Raft {
			raft = append(raft, srv.Hostname)
			assert.Equal(t, j+1, srv.ID)
		}
		assert.Equal(t, keepers, raft, k)
		require.NotNil(t, s.HealthCheck, k)
	}
}

// checkAmpelService checks the service "ampel": the CGO-free image built
// from deploy/Dockerfile, hardened, after the ClickHouse nodes are healthy,
// with a config that Ampel's own loader accepts given the service's
// environment and that points at a service of the project.
func checkAmpelService(t *testing.T, p *types.Project, clickhouse []string) {
	t.Helper()
	s, ok := p.Services["ampel"]
	require.True(t, ok)
	require.NotNil(t, s.Build)
	assert.Equal(t, root(t), s.Build.Context)
	assert.Equal(t, "deploy/Dockerfile", strings.TrimPrefix(s.Build.Dockerfile, root(t)+"/"))
	parseDockerfile(t).stage(t, s.Build.Target)
	assert.Equal(t, "server", s.Build.Target)
	assert.Equal(t, types.ShellCommand{"run", "--config", "/etc/ampel/ampel.yaml"}, s.Command)
	assert.Equal(t, "65532:65532", s.User)
	assert.True(t, s.ReadOnly)
	assert.Equal(t, []string{"ALL"}, s.CapDrop)
	assert.Contains(t, s.SecurityOpt, "no-new-privileges:true")
	for _, n := range clickhouse {
		assert.Equal(t, types.ServiceConditionHealthy, s.DependsOn[n].Condition, "ampel waits for %s", n)
		require.NotNil(t, p.Services[n].HealthCheck, n)
	}

	require.Len(t, s.Configs, 1)
	assert.Equal(t, "/etc/ampel/ampel.yaml", s.Configs[0].Target)
	cfgFile := p.Configs[s.Configs[0].Source].File
	getenv := func(k string) (string, bool) {
		v, ok := s.Environment[k]
		if !ok || v == nil {
			return "", false
		}
		return *v, true
	}
	cfg, err := config.Load(cfgFile, getenv)
	require.NoError(t, err, "Ampel's config loader, with the service's environment")
	assert.Equal(t, "clickhouse", cfg.Warehouse.Driver)
	u, err := url.Parse(cfg.Warehouse.DSN)
	require.NoError(t, err)
	assert.Contains(t, clickhouse, u.Hostname(), "the DSN names a ClickHouse service of the project")
	_, port, err := net.SplitHostPort(cfg.Serve.Addr)
	require.NoError(t, err)
	require.Len(t, s.Ports, 1)
	assert.Equal(t, port, fmt.Sprint(s.Ports[0].Target), "the published port is the one ampel serves on")
	assert.Equal(t, "127.0.0.1", s.Ports[0].HostIP, "published on the host's loopback only")
}

// checkMissingSecret: without a secret in the environment, compose refuses
// to start and says which one to set.
func checkMissingSecret(t *testing.T, file string) {
	t.Helper()
	env := composeEnv(t)
	delete(env, "AMPEL_CLIENT_SECRET")
	_, err := loadCompose(t, file, env)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "set AMPEL_CLIENT_SECRET in deploy/compose/")
}

// bindMounts maps a service's bind mounts' targets to their sources, and
// checks each source exists.
func bindMounts(t *testing.T, s types.ServiceConfig) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		_, err := os.Stat(v.Source)
		require.NoError(t, err, "%s mounts %s", s.Name, v.Source)
		assert.True(t, v.ReadOnly, "%s mounts %s read-only", s.Name, v.Source)
		m[v.Target] = v.Source
	}
	return m
}

// chConfig is the part of a ClickHouse (or Keeper) configuration file the
// checks read.
type chConfig struct {
	XMLName       xml.Name `xml:"clickhouse"`
	RemoteServers struct {
		Clusters []struct {
			XMLName xml.Name
			Secret  struct {
				FromEnv string `xml:"from_env,attr"`
			} `xml:"secret"`
			Shards []struct {
				InternalReplication bool `xml:"internal_replication"`
				Replicas            []struct {
					Host string `xml:"host"`
					Port int    `xml:"port"`
				} `xml:"replica"`
			} `xml:"shard"`
		} `xml:",any"`
	} `xml:"remote_servers"`
	Zookeeper struct {
		Nodes []struct {
			Host string `xml:"host"`
			Port int    `xml:"port"`
		} `xml:"node"`
	} `xml:"zookeeper"`
	DistributedDDL struct {
		Path string `xml:"path"`
	} `xml:"distributed_ddl"`
	DefaultReplicaPath string `xml:"default_replica_path"`
	DefaultReplicaName string `xml:"default_replica_name"`
	Macros             struct {
		Cluster string `xml:"cluster"`
		Shard   string `xml:"shard"`
		Replica string `xml:"replica"`
	} `xml:"macros"`
	Keeper struct {
		TCPPort         int    `xml:"tcp_port"`
		ServerID        int    `xml:"server_id"`
		FourLetterWords string `xml:"four_letter_word_white_list"`
		Raft            []struct {
			ID       int    `xml:"id"`
			Hostname string `xml:"hostname"`
			Port     int    `xml:"port"`
		} `xml:"raft_configuration>server"`
	} `xml:"keeper_server"`
}

func decodeXML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(b, v), file)
}

// wellFormed reads every token of an XML file with the strict decoder.
func wellFormed(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	d := xml.NewDecoder(f)
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, file)
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	assert.Equal(t, "clickhouse", root, "%s: the root element", file)
}
