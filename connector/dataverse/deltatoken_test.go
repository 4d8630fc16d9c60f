package dataverse

import "testing"

func TestDeltaTokenVersion(t *testing.T) {
	for link, want := range map[string]uint64{
		"https://org.crm4.dynamics.com/api/data/v9.2/accounts?$select=name&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44": 919042,
		"https://h/api/data/v9.2/leads?$deltatoken=7!11/30/2026 10:00:00":                                                      7,
	} {
		got, ok := DeltaTokenVersion(link)
		if !ok || got != want {
			t.Errorf("%s: %d, %v; want %d", link, got, ok, want)
		}
	}
	for _, link := range []string{"https://h/api/data/v9.2/leads?$deltatoken=opaque", "https://h/api/data/v9.2/leads", "%zz"} {
		if _, ok := DeltaTokenVersion(link); ok {
			t.Errorf("%s: read a version", link)
		}
	}
}
