package buildinfo

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintNamesBinaryAndVersion(t *testing.T) {
	old := Version
	defer func() { Version = old }()
	Version = "v9.8.7"
	var b bytes.Buffer
	Print(&b, "waypoint")
	if got := b.String(); !strings.HasPrefix(got, "waypoint v9.8.7 (") || !strings.HasSuffix(got, ")\n") {
		t.Fatalf("unexpected version line %q", got)
	}
}
