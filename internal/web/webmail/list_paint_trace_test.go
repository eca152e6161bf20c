package webmail_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"

	"github.com/xtramail/xtramail/internal/web/webtest"
)

// traceEvent is one event of Chromium's JSON trace format.
type traceEvent struct {
	Name string          `json:"name"`
	Cat  string          `json:"cat"`
	Ph   string          `json:"ph"`
	TS   float64         `json:"ts"`  // µs
	Dur  float64         `json:"dur"` // µs, for ph "X"
	PID  int             `json:"pid"`
	TID  int             `json:"tid"`
	Args json.RawMessage `json:"args"`
}

// traceOnce loads url once in a fresh browser context, as paintOnce
// does, with Chromium's tracing on, and says where the time to the first
// contentful paint went: per process and thread, the time its tasks ran
// between the navigation's start and the paint; on the page's main
// thread, the main kinds of work (parse, style, layout, paint, script);
// and each resource's render-blocking status as the browser reports it.
func traceOnce(b *testing.B, url string, setup ...chromedp.Action[chromedp.Void]) string {
	var mu sync.Mutex
	var events []traceEvent
	done := make(chan struct{})
	tab := webtest.NewTab(b, webtest.Laptop, webtest.Listen(func(ev any) {
		switch ev := ev.(type) {
		case *tracing.EventDataCollected:
			mu.Lock()
			defer mu.Unlock()
			for _, v := range ev.Value {
				var e traceEvent
				if json.Unmarshal([]byte(v), &e) == nil {
					events = append(events, e)
				}
			}
		case *tracing.EventTracingComplete:
			close(done)
		}
	}))
	defer tab.Do(chromedp.Navigate("about:blank"))
	tab.Do(setup...)
	tab.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, tracing.Start, tracing.StartParams{TransferMode: tracing.StartTransferModeReportEvents,
			TraceConfig: &tracing.TraceConfig{IncludedCategories: []string{"toplevel", "devtools.timeline", "loading",
				"blink.user_timing", "navigation", "__metadata", "disabled-by-default-devtools.timeline"}}})
		return err
	}))
	tab.Navigate(url)
	blocking := webtest.Run(tab, chromedp.Poll[string](`(() => {
		const p = performance.getEntriesByName('first-contentful-paint')[0];
		const n = performance.getEntriesByType('navigation')[0];
		if (!p || !n || !n.loadEventEnd) { return null; }
		return performance.getEntriesByType('resource').map(e => e.name.replace(/^.*\//, '') + ' ' + (e.renderBlockingStatus || '?')).join(', ') || 'none';
	})()`, chromedp.WithPollingTimeout(webtest.Timeout)))
	tab.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, tracing.End, cdp.Empty{})
		return err
	}))
	<-done
	mu.Lock()
	defer mu.Unlock()
	return summarizeTrace(events) + "; resources: " + blocking
}

// summarizeTrace reads a trace as traceOnce describes.
func summarizeTrace(events []traceEvent) string {
	names := map[[2]int]string{} // pid, tid → process/thread
	procs := map[int]string{}
	var start, fcp float64
	mainPID, mainTID := 0, 0
	for _, e := range events {
		switch {
		case e.Ph == "M" && (e.Name == "thread_name" || e.Name == "process_name"):
			var a struct {
				Name string `json:"name"`
			}
			json.Unmarshal(e.Args, &a)
			if e.Name == "thread_name" {
				names[[2]int{e.PID, e.TID}] = a.Name
			} else {
				procs[e.PID] = a.Name
			}
		case e.Name == "navigationStart" && start == 0:
			start = e.TS
		case e.Name == "firstContentfulPaint" && fcp == 0:
			fcp = e.TS
			mainPID, mainTID = e.PID, e.TID
		}
	}
	if start == 0 || fcp == 0 {
		return fmt.Sprintf("trace without navigationStart or firstContentfulPaint (%d events)", len(events))
	}
	clip := func(e traceEvent) float64 {
		return max(0, min(e.TS+e.Dur, fcp)-max(e.TS, start))
	}
	busy := map[string]float64{}
	work := map[string]float64{}
	for _, e := range events {
		if e.Ph != "X" {
			continue
		}
		if e.Cat == "toplevel" && (e.Name == "ThreadControllerImpl::RunTask" || e.Name == "RunTask") {
			proc := procs[e.PID]
			if proc == "" {
				proc = fmt.Sprint(e.PID)
			}
			busy[proc+"/"+names[[2]int{e.PID, e.TID}]] += clip(e)
		}
		if e.PID == mainPID && e.TID == mainTID {
			switch e.Name {
			case "ParseHTML", "UpdateLayoutTree", "Layout", "Paint", "PrePaint", "EvaluateScript", "v8.compile",
				"FunctionCall", "ParseAuthorStyleSheet", "Commit", "CommitLoad", "ResourceReceivedData":
				work[e.Name] += clip(e)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "trace: fcp %.0f ms after navigationStart; busy before it:", (fcp-start)/1000)
	for _, kv := range top(busy, 6) {
		fmt.Fprintf(&b, " %s %.0f ms,", kv.k, kv.v/1000)
	}
	b.WriteString(" page main thread:")
	for _, kv := range top(work, 8) {
		fmt.Fprintf(&b, " %s %.0f ms,", kv.k, kv.v/1000)
	}
	b.WriteString(" timeline:")
	for _, e := range events {
		if e.PID == mainPID && e.TID == mainTID && e.Ph == "X" && e.Dur >= 3000 && e.TS < fcp && e.TS+e.Dur > start {
			fmt.Fprintf(&b, " %s@%.0f+%.0f,", e.Name, (e.TS-start)/1000, e.Dur/1000)
		}
	}
	return strings.TrimSuffix(b.String(), ",")
}

type kv struct {
	k string
	v float64
}

func top(m map[string]float64, n int) []kv {
	var out []kv
	for k, v := range m {
		if v >= 1000 { // at least 1 ms
			out = append(out, kv{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].v > out[j].v })
	return out[:min(n, len(out))]
}
