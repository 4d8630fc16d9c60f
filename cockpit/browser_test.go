package cockpit_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/ampel/ampel/warehouse/warehousetest"
)

// chromium finds Debian's chromium; a missing browser fails the test,
// in CI and elsewhere: make test-deps installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run make test-deps (deploy/install-test-deps.sh installs Debian's chromium)")
	return ""
}

// artifacts is where the browser test writes its screenshots:
// $AMPEL_TEST_ARTIFACTS, else a temporary directory.
func artifacts(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("AMPEL_TEST_ARTIFACTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// problems collects what the browser reports as wrong: console errors,
// uncaught exceptions, failed requests and responses of 400 and above.
type problems struct {
	mu        sync.Mutex
	list      []string
	responses int // responses seen: the listener works
}

func (p *problems) response() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.responses++
}

func (p *problems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

// TestBrowser drives the cockpit in headless chromium on the embedded
// engine (the demo's): log in with the keyboard, every page, a review that
// survives a reload, the management view against kpi_results, and
// screenshots of the viewport at desktop (1280×800) and phone (390×844)
// size.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	f := newFixture(t, warehousetest.Embedded(t))
	dir := artifacts(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 800), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	require.NoError(t, chromedp.Do(bctx), "start chromium") // the browser lives as long as bctx

	var bad problems
	require.NoError(t, chromedp.Listen(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == "error" || ev.Type == "warning" || ev.Type == "assert" {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				bad.add("console %s: %v", ev.Type, args)
			}
		case *runtime.EventExceptionThrown:
			bad.add("exception: %s", ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if ev.Entry.Level == "error" || ev.Entry.Level == "warning" {
				bad.add("log %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			if !ev.Canceled {
				bad.add("request failed: %s %s", ev.ErrorText, ev.BlockedReason)
			}
		case *network.EventResponseReceived:
			bad.response()
			if ev.Response.Status >= 400 {
				bad.add("%s: %v", ev.Response.URL, ev.Response.Status)
			}
		}
	}))
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.CaptureScreenshot()(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
		})
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// log in with the keyboard: the form focuses the key field
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(css("#key"))))
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	require.NoError(t, err)
	require.Equal(t, "key", focused, "the login form does not focus the key field")
	require.NoError(t, chromedp.Do(ctx, chromedp.KeyEvent(testKey+kb.Enter), chromedp.WaitVisible(css("#phases"))))

	// the management view in the browser is kpi_results' state
	phases, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll('[data-phase]')).map(e => [e.dataset.phase, e.dataset.status])`))
	require.NoError(t, err)
	got := map[string]string{}
	for _, p := range phases {
		got[p[0]] = p[1]
	}
	require.Equal(t, expectedPhases(t, f.st), got)
	require.NoError(t, chromedp.Do(ctx, shot("cockpit-management-desktop"),
		chromedp.Navigate(f.url+"/cockpit/lead"), chromedp.WaitVisible(css("#kpis")), shot("cockpit-lead-desktop")))

	// the first Tab on a page reaches the skip link
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(css("#phases")), chromedp.KeyEvent(kb.Tab)))
	focused, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.className`))
	require.NoError(t, err)
	require.Equal(t, "skip", focused, "the first Tab does not reach the skip link")

	// every page
	grule := f.openRule(t, true)
	for _, page := range []struct{ path, ready, shot string }{
		{"/cockpit/kpi/adoption_rate", "svg.chart", "cockpit-kpi-desktop"},
		{"/cockpit/kpi/field_completeness", "main h1", ""},
		{"/cockpit/findings", "#rules", "cockpit-findings-desktop"},
		{"/cockpit/findings?status=any&severity=error", "#findings", ""},
		{"/cockpit/groups?rule=" + grule, "section.group", "cockpit-groups-desktop"},
		{"/cockpit/sync", "#sync", "cockpit-sync-desktop"},
		{"/cockpit/lang?l=de&next=/cockpit/sync", "#sync", ""},
		{"/cockpit/lang?l=en&next=/", "#phases", ""},
	} {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.url+page.path), chromedp.WaitVisible(css(page.ready))), page.path)
		if page.shot != "" {
			require.NoError(t, chromedp.Do(ctx, shot(page.shot)))
		}
	}

	// a review through the form survives a reload
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.url+"/cockpit/groups?rule="+grule), chromedp.WaitVisible(css("section.group"))))
	gid, err := chromedp.Run(ctx, chromedp.AttributeValue(css("section.group"), "data-group"))
	require.NoError(t, err)
	require.True(t, gid.Exists)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(css("section.group form.review select[name=mark]"), "will_fix"),
		chromedp.SendKeys(css("section.group form.review input[name=comment]"), "browser test"),
		chromedp.Click(css("section.group form.review button[value=mark]")),
		chromedp.WaitVisible(css("#saved")),
		chromedp.Reload(),
		chromedp.WaitVisible(css("section.group")),
	))
	mark, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`section.group[data-group="`+gid.Value+`"]`), "data-mark"))
	require.NoError(t, err)
	require.Equal(t, "will_fix", mark.Value)
	n := warehousetest.QueryOne(t, f.st, "SELECT countIf(review_mark != 'will_fix') FROM dq_findings FINAL WHERE group_id = ? AND status = 'open'", gid.Value)
	require.EqualValues(t, 0, n)

	// phone size
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(css("#phases")), shot("cockpit-management-phone"),
	))
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	require.NoError(t, err)
	require.False(t, overflow, "the management view is wider than a phone")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.url+"/cockpit/lead"), chromedp.WaitVisible(css("#kpis")), shot("cockpit-lead-phone")))

	require.Empty(t, bad.all(), "the browser reported problems")
	bad.mu.Lock()
	require.Greater(t, bad.responses, 20, "the listener saw no responses")
	bad.mu.Unlock()
	for _, name := range []string{"cockpit-management-desktop", "cockpit-lead-desktop", "cockpit-management-phone", "cockpit-lead-phone"} {
		st, err := os.Stat(filepath.Join(dir, name+".png"))
		require.NoError(t, err)
		require.Greater(t, st.Size(), int64(1000), name)
	}
	t.Logf("screenshots in %s", dir)
}
