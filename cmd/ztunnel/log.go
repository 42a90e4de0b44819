package main

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// newLogger returns a JSON logger whose level can change at runtime (the
// node configuration reloads): error and warn log errors only, info adds
// connection and lifecycle lines, debug and trace add V(1) and V(2).
func newLogger(level string) (logr.Logger, func(string)) {
	var v atomic.Int32
	set := func(l string) { v.Store(verbosity(l)) }
	set(level)
	base := funcr.NewJSON(func(obj string) { fmt.Fprintln(os.Stderr, obj) }, funcr.Options{Verbosity: 2, LogTimestamp: true})
	return logr.New(&levelSink{LogSink: base.GetSink(), v: &v}), set
}

func verbosity(level string) int32 {
	switch level {
	case "error", "warn":
		return -1
	case "debug":
		return 1
	case "trace":
		return 2
	}
	return 0
}

type levelSink struct {
	logr.LogSink
	v *atomic.Int32
}

func (s *levelSink) Enabled(level int) bool {
	return int32(level) <= s.v.Load() && s.LogSink.Enabled(level)
}
func (s *levelSink) WithValues(kv ...any) logr.LogSink {
	return &levelSink{LogSink: s.LogSink.WithValues(kv...), v: s.v}
}
func (s *levelSink) WithName(n string) logr.LogSink {
	return &levelSink{LogSink: s.LogSink.WithName(n), v: s.v}
}

func unstructuredStringMap(obj map[string]any, fields ...string) (map[string]string, bool, error) {
	return unstructured.NestedStringMap(obj, fields...)
}
