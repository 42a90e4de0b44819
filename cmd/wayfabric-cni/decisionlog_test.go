package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDecisionLogRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "cni.log")
	var stderr bytes.Buffer
	l := decisionLog{path: path, stderr: &stderr}
	l.record(decision{Time: time.Now(), Command: "ADD", Pod: "shop/web", Result: "captured"})
	// Grow it to the cap (sparse: no need to write megabytes).
	if err := os.Truncate(path, maxLogSize); err != nil {
		t.Fatal(err)
	}
	l.record(decision{Time: time.Now(), Command: "ADD", Pod: "shop/db", Result: "failed", Error: "boom"})

	old, err := os.Stat(path + ".1")
	if err != nil || old.Size() != maxLogSize {
		t.Fatalf("rotated generation: %v, %v", old, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d decision
	if lines := strings.Count(string(data), "\n"); lines != 1 || json.Unmarshal(data, &d) != nil || d.Pod != "shop/db" {
		t.Fatalf("current log after rotation (%d lines): %s", lines, data)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("log mode %v", st.Mode())
	}
	if !strings.Contains(stderr.String(), "ADD shop/db: boom") || strings.Contains(stderr.String(), "shop/web") {
		t.Fatalf("stderr should carry failures only: %q", stderr.String())
	}
}

func TestDecisionLogFailureNeverBlocks(t *testing.T) {
	var stderr bytes.Buffer
	l := decisionLog{path: "/dev/null/cni.log", stderr: &stderr}
	l.record(decision{Command: "ADD", Pod: "shop/web", Result: "captured"})
	if !strings.Contains(stderr.String(), "writing the decision log") {
		t.Fatalf("an unwritable log went unreported: %q", stderr.String())
	}
}
