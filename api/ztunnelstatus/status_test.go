package ztunnelstatus_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wayfabric/wayfabric/api/ztunnelstatus"
	"github.com/wayfabric/wayfabric/proxy/ztunnel"
)

// The ztunnel serves proxy/ztunnel.Status; the manager decodes this mirror.
// Every field the ztunnel sends must arrive, under the same JSON name.
func TestMirrorsTheZtunnelStatus(t *testing.T) {
	served := ztunnel.Status{Node: "node-a", Version: "v1.2.3", Ready: true, Draining: true, CapturedPods: 7, OpenConnections: 42}
	if got, want := reflect.TypeOf(served).NumField(), reflect.TypeOf(ztunnelstatus.Status{}).NumField(); got != want {
		t.Fatalf("proxy/ztunnel.Status has %d fields, the mirror %d: add the new field here", got, want)
	}
	raw, err := json.Marshal(served)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var got ztunnelstatus.Status
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	want := ztunnelstatus.Status{Node: "node-a", Version: "v1.2.3", Ready: true, Draining: true, CapturedPods: 7, OpenConnections: 42}
	if got != want {
		t.Fatalf("decoded %+v from %s, want %+v", got, raw, want)
	}
}

func TestServing(t *testing.T) {
	for _, tc := range []struct {
		s    ztunnelstatus.Status
		want bool
	}{
		{ztunnelstatus.Status{Ready: true}, true},
		{ztunnelstatus.Status{Ready: true, Draining: true}, false},
		{ztunnelstatus.Status{}, false},
	} {
		if got := tc.s.Serving(); got != tc.want {
			t.Errorf("%+v.Serving() = %v, want %v", tc.s, got, tc.want)
		}
	}
}
