package dataverse_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/connector/dataverse"
	"github.com/ampel/ampel/connector/dvsim"
)

// closedPort returns host:port of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestWrongSettingsNameTheCause: the settings a new user gets wrong — an
// environment URL or an authority that cannot be reached (nothing on the
// port, a name that does not resolve, a port without TLS), or a URL that
// is not the tenant's environment — fail at once (no retries) with one
// line that keeps the cause and names the setting to fix, not the
// credentials.
func TestWrongSettingsNameTheCause(t *testing.T) {
	t.Parallel()
	sim := startSim(t, dvsim.Options{Scale: 10})
	plain := httptest.NewServer(http.NotFoundHandler()) // http, no TLS
	t.Cleanup(plain.Close)
	closed, plainAddr := closedPort(t), plain.Listener.Addr().String()
	// the Dataverse request itself, with a token from elsewhere: the
	// failure is the connection's
	anyToken := func(context.Context, bool) (string, error) { return "token", nil }
	const whoAmI = "dataverse GET /api/data/v9.2/WhoAmI: no response: "
	const url = " — check url, the environment URL (e.g. https://contoso.crm4.dynamics.com): "
	authority := func(a string) string { return "token request to " + a + " failed: " }
	const checkAuthority = " — check authority: "
	const leaveOut = " (leave authority out for https://login.microsoftonline.com/<tenant_id>)"
	for name, tc := range map[string]struct {
		mod  func(*dataverse.Config)
		kind error
		want string
	}{
		"url: closed port": {func(c *dataverse.Config) { c.URL, c.TokenFunc = "https://"+closed, anyToken }, dataverse.ErrUnreachable,
			whoAmI + "dial tcp " + closed + ": connection refused" + url + "nothing listens on that host and port"},
		"url: unknown host": {func(c *dataverse.Config) { c.URL, c.TokenFunc = "https://org.ampel.invalid", anyToken }, dataverse.ErrUnreachable,
			whoAmI + "lookup org.ampel.invalid: no such host" + url + "the host name does not resolve"},
		"url: TLS to a plain port": {func(c *dataverse.Config) { c.URL, c.TokenFunc = "https://"+plainAddr, anyToken }, dataverse.ErrUnreachable,
			whoAmI + "http: server gave HTTP response to HTTPS client" + url + "the port does not speak HTTPS"},
		"authority: closed port": {func(c *dataverse.Config) { c.Authority = "https://" + closed + "/" + sim.TenantID() }, dataverse.ErrUnreachable,
			authority("https://"+closed+"/"+sim.TenantID()) + "dial tcp " + closed + ": connection refused" + checkAuthority + "nothing listens on that host and port" + leaveOut},
		"authority: unknown host": {func(c *dataverse.Config) { c.Authority = "https://login.ampel.invalid/" + sim.TenantID() }, dataverse.ErrUnreachable,
			authority("https://login.ampel.invalid/"+sim.TenantID()) + "lookup login.ampel.invalid: no such host" + checkAuthority + "the host name does not resolve" + leaveOut},
		"authority: TLS to a plain port": {func(c *dataverse.Config) { c.Authority = "https://" + plainAddr + "/" + sim.TenantID() }, dataverse.ErrUnreachable,
			authority("https://"+plainAddr+"/"+sim.TenantID()) + "http: server gave HTTP response to HTTPS client" + checkAuthority + "the port does not speak HTTPS" + leaveOut},
		"url: another environment": {func(c *dataverse.Config) { c.URL = "https://other.crm4.dynamics.com" }, dataverse.ErrWrongResource,
			authority(sim.Authority()) + "AADSTS500011: The resource principal named https://other.crm4.dynamics.com was not found in the tenant named " + sim.TenantID() +
				". This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant." +
				" — check url: Entra ID knows no Dataverse environment by that URL in this tenant (copy the environment URL from the Power Platform admin center, e.g. https://contoso.crm4.dynamics.com)"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := simClient(t, sim, func(c *dataverse.Config) {
				c.MaxWait = time.Minute // were it retried, the test would take that long
				tc.mod(c)
			})
			start := time.Now()
			_, err := c.WhoAmI(context.Background())
			require.ErrorIs(t, err, tc.kind)
			require.Equal(t, tc.want, err.Error())
			require.NotContains(t, err.Error(), "credential")
			require.NotContains(t, err.Error(), "client ID")
			require.Less(t, time.Since(start), 30*time.Second, "not retried")
		})
	}
}
