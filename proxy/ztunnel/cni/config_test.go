package cni

import (
	"strings"
	"testing"
	"time"
)

func TestParseNetConf(t *testing.T) {
	const prev = `"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/x"}],"ips":[{"address":"10.1.0.7/24","interface":0}]}`
	for _, tc := range []struct {
		name  string
		stdin string
		want  string // error substring; "" for success
		check func(*testing.T, *NetConf)
	}{
		{name: "defaults", stdin: `{"cniVersion":"1.0.0","name":"n","type":"wayfabric-cni"}`, check: func(t *testing.T, c *NetConf) {
			if c.SocketPath != DefaultSocketPath || c.Timeout() != DefaultTimeout || c.PrevResult != nil || c.Excluded("kube-system") {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "everything", stdin: `{"cniVersion":"1.0.0","name":"n","type":"wayfabric-cni","socketPath":"/run/z.sock",
			"kubeconfig":"/etc/cni/net.d/wayfabric-cni.kubeconfig","timeoutSeconds":7,"excludedNamespaces":["kube-system"],
			"logFile":"/run/cni.log",` + prev + `}`, check: func(t *testing.T, c *NetConf) {
			if c.SocketPath != "/run/z.sock" || c.Timeout() != 7*time.Second || !c.Excluded("kube-system") || c.Excluded("shop") ||
				c.LogFile != "/run/cni.log" || c.PrevResult == nil || c.Name != "n" {
				t.Fatalf("%+v", c)
			}
		}},
		{name: "old CNI version prevResult", stdin: `{"cniVersion":"0.3.1","name":"n","type":"wayfabric-cni","prevResult":{"ips":[{"version":"4","address":"10.1.0.7/24"}]}}`,
			check: func(t *testing.T, c *NetConf) {
				if c.PrevResult == nil {
					t.Fatal("prevResult not parsed")
				}
			}},
		{name: "not JSON", stdin: `{"cniVersion":`, want: "parsing network configuration"},
		{name: "relative socket", stdin: `{"name":"n","socketPath":"z.sock"}`, want: `socketPath "z.sock" must be an absolute path`},
		{name: "relative kubeconfig", stdin: `{"name":"n","kubeconfig":"kc"}`, want: "kubeconfig"},
		{name: "negative timeout", stdin: `{"name":"n","timeoutSeconds":-1}`, want: "must not be negative"},
		{name: "wrong type", stdin: `{"name":"n","timeoutSeconds":"30"}`, want: "timeoutSeconds"},
		{name: "bad prevResult", stdin: `{"cniVersion":"1.0.0","name":"n","prevResult":{"ips":[{"address":"nonsense"}]}}`, want: "prevResult"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf, err := ParseNetConf([]byte(tc.stdin))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, conf)
		})
	}
}
