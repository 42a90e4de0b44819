package loadreport

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	wire "github.com/wayfabric/wayfabric/api/loadreport"
)

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() int64          { return c.ns.Load() }
func (c *fakeClock) set(d time.Duration) { c.ns.Store(int64(d)) }
func within(got, want, rel float64) bool { return math.Abs(got-want) <= rel*want }
func ms(n float64) time.Duration         { return time.Duration(n * float64(time.Millisecond)) }

// request runs one request on the fake clock from start to start+lat.
func request(r *Recorder, c *fakeClock, start, lat time.Duration) {
	c.set(start)
	s := r.Begin()
	c.set(start + lat)
	r.End(s)
}

func TestReportWindows(t *testing.T) {
	cases := []struct {
		name  string
		load  func(r *Recorder, c *fakeClock)
		read  time.Duration
		check func(t *testing.T, rep wire.Report)
	}{
		{
			name: "rate over 1s and 10s",
			load: func(r *Recorder, c *fakeClock) {
				for i := 0; i < 100; i++ {
					request(r, c, 5*time.Second+time.Duration(i)*ms(5), ms(1))
				}
			},
			read: 6500 * time.Millisecond,
			check: func(t *testing.T, rep wire.Report) {
				if rep.Requests.PerSecond1s != 100 || rep.Requests.PerSecond10s != 10 || rep.Requests.Total != 100 {
					t.Errorf("requests = %+v, want 100/s over 1s, 10/s over 10s, total 100", rep.Requests)
				}
			},
		},
		{
			name: "old seconds fall out of the window",
			load: func(r *Recorder, c *fakeClock) {
				for i := 0; i < 50; i++ {
					request(r, c, time.Second, ms(1))
				}
			},
			read: 15 * time.Second,
			check: func(t *testing.T, rep wire.Report) {
				if rep.Requests.PerSecond1s != 0 || rep.Requests.PerSecond10s != 0 || rep.Requests.Total != 50 {
					t.Errorf("requests = %+v, want zero rates and total 50", rep.Requests)
				}
			},
		},
		{
			name: "time-averaged concurrency",
			load: func(r *Recorder, c *fakeClock) {
				// two requests in flight for the whole of second 2, none before
				c.set(2 * time.Second)
				a, b := r.Begin(), r.Begin()
				c.set(3*time.Second - 1)
				r.End(a)
				r.End(b)
			},
			read: 3500 * time.Millisecond,
			check: func(t *testing.T, rep wire.Report) {
				if !within(rep.Concurrency.Average1s, 2, 0.01) || !within(rep.Concurrency.Average10s, 0.2, 0.01) || rep.Concurrency.Current != 0 {
					t.Errorf("concurrency = %+v, want avg 2 over 1s, 0.2 over 10s, 0 now", rep.Concurrency)
				}
			},
		},
		{
			name: "a long request still in flight counts as concurrency",
			load: func(r *Recorder, c *fakeClock) {
				c.set(1 * time.Second)
				r.Begin()
			},
			read: 4 * time.Second,
			check: func(t *testing.T, rep wire.Report) {
				// accounted at read time: the whole span lands in the read second
				if rep.Concurrency.Current != 1 {
					t.Errorf("current = %d, want 1", rep.Concurrency.Current)
				}
			},
		},
		{
			name: "latency quantiles",
			load: func(r *Recorder, c *fakeClock) {
				for i := 0; i < 900; i++ {
					request(r, c, 3*time.Second, ms(1))
				}
				for i := 0; i < 90; i++ {
					request(r, c, 3*time.Second, ms(20))
				}
				for i := 0; i < 10; i++ {
					request(r, c, 3*time.Second, ms(300))
				}
			},
			read: 4 * time.Second,
			check: func(t *testing.T, rep wire.Report) {
				l := rep.Latency
				if !within(l.P50, 0.001, 0.13) || !within(l.P90, 0.001, 0.13) || !within(l.P99, 0.020, 0.13) || l.Count != 1000 {
					t.Errorf("latency = %+v, want p50≈1ms p90≈1ms p99≈20ms count 1000", l)
				}
				if !within(l.Mean, (900*0.001+90*0.020+10*0.3)/1000, 0.01) {
					t.Errorf("mean = %v", l.Mean)
				}
			},
		},
		{
			name: "p99 picks the slow tail",
			load: func(r *Recorder, c *fakeClock) {
				for i := 0; i < 98; i++ {
					request(r, c, 3*time.Second, ms(2))
				}
				for i := 0; i < 2; i++ {
					request(r, c, 3*time.Second, ms(500))
				}
			},
			read: 4 * time.Second,
			check: func(t *testing.T, rep wire.Report) {
				if !within(rep.Latency.P99, 0.5, 0.13) || !within(rep.Latency.P50, 0.002, 0.13) {
					t.Errorf("latency = %+v, want p50≈2ms p99≈500ms", rep.Latency)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{}
			r := NewWithClock(c.now)
			tc.load(r, c)
			c.set(tc.read)
			tc.check(t, r.Snapshot())
		})
	}
}

func TestBucketsCoverRange(t *testing.T) {
	for _, d := range []time.Duration{0, time.Microsecond, 7 * time.Microsecond, 100 * time.Microsecond, ms(3.3), time.Second, time.Hour} {
		ub := upperBound(bucketOf(d))
		if ub < d.Seconds() || (d > 10*time.Microsecond && ub > d.Seconds()*1.13) {
			t.Errorf("bucket for %v has upper bound %vs", d, ub)
		}
	}
}

func TestConcurrentRecordingIsExact(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				r.End(r.Begin())
			}
		}()
	}
	wg.Wait()
	if rep := r.Snapshot(); rep.Requests.Total != 16000 || rep.Concurrency.Current != 0 {
		t.Fatalf("total=%d current=%d, want 16000 and 0", rep.Requests.Total, rep.Concurrency.Current)
	}
}

func TestHandlerServesJSON(t *testing.T) {
	// Burn a few clock ticks of CPU so the process counter cannot read 0.
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	r := New()
	r.End(r.Begin())
	srv := httptest.NewServer(r.Handler(func() bool { return true }))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/load")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep wire.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if rep.Version != wire.ReportVersion || !rep.Draining || rep.Requests.Total != 1 {
		t.Errorf("report = %+v", rep)
	}
	if rep.Process.CPUSecondsTotal <= 0 || rep.Process.ResidentMemoryBytes <= 1<<20 {
		t.Errorf("process = %+v, want positive CPU and RSS", rep.Process)
	}
	post, err := http.Post(srv.URL+"/load", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status = %d", post.StatusCode)
	}
}

func TestMetricsByRouteAndService(t *testing.T) {
	r := New()
	m := NewMetrics(r)
	m.Observe("app/r", "app/web", 200, ms(3))
	m.Observe("app/r", "app/web", 204, ms(3))
	m.Observe("app/r", "app/web", 503, ms(3))
	m.Observe("default", "app/api", 404, ms(3))
	if got := testutil.ToFloat64(m.requests.WithLabelValues("app/r", "app/web", "2xx")); got != 2 {
		t.Errorf("2xx = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("app/r", "app/web", "5xx")); got != 1 {
		t.Errorf("5xx = %v, want 1", got)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wayfabric_waypoint_requests_total{code="4xx",route="default",service="app/api"} 1`,
		`wayfabric_waypoint_request_duration_seconds_count{route="app/r",service="app/web"} 3`,
		`wayfabric_waypoint_requests_in_flight 0`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
