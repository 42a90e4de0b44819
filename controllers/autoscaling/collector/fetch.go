package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wayfabric/wayfabric/api/loadreport"
)

// maxReportBytes bounds a report body; a real one is about 400 bytes.
const maxReportBytes = 64 << 10

// fetch GETs one pod's load report. at is the report's own timestamp (the
// CPU rate is measured on the pod's clock), or the receive time without one.
func (s *HTTPSource) fetch(ctx context.Context, p *corev1.Pod) (loadreport.Report, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(p), nil)
	if err != nil {
		return loadreport.Report{}, time.Time{}, err
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return loadreport.Report{}, time.Time{}, err
	}
	defer resp.Body.Close()
	// Drain so the keep-alive connection is reused on the next tick.
	defer func() { _, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReportBytes)) }()
	if resp.StatusCode != http.StatusOK {
		return loadreport.Report{}, time.Time{}, fmt.Errorf("GET %s: HTTP %d", req.URL, resp.StatusCode)
	}
	var rep loadreport.Report
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxReportBytes)).Decode(&rep); err != nil {
		return loadreport.Report{}, time.Time{}, fmt.Errorf("GET %s: decoding the load report: %w", req.URL, err)
	}
	if rep.Version != loadreport.ReportVersion {
		return loadreport.Report{}, time.Time{}, fmt.Errorf("GET %s: load report version %d, this manager reads version %d", req.URL, rep.Version, loadreport.ReportVersion)
	}
	at := rep.Timestamp
	if at.IsZero() {
		at = time.Now()
	}
	return rep, at, nil
}
