package cni

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
)

// Configurations as network plugins write them.
const (
	// The local cluster's (hack/cluster/up.sh).
	bridgeList = `{
  "cniVersion": "0.4.0",
  "name": "wayfabric",
  "plugins": [
    {"type": "bridge", "bridge": "wfbr0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24", "gateway": "10.244.0.1"}]], "routes": [{"dst": "10.96.0.0/12"}]}}
  ]
}`
	// A single-plugin file, as older flannel and hand-made setups have.
	bridgeConf = `{
  "cniVersion": "0.3.1",
  "name": "mynet",
  "type": "bridge",
  "bridge": "cni0",
  "isGateway": true,
  "ipMasq": true,
  "ipam": {"type": "host-local", "subnet": "10.22.0.0/16", "routes": [{"dst": "0.0.0.0/0"}]}
}`
	portmapList = `{"cniVersion":"1.0.0","name":"kindnet","plugins":[{"type":"ptp","mtu":1500,"ipam":{"type":"host-local"}},{"type":"portmap","capabilities":{"portMappings":true}}]}`
)

type node struct {
	bin, conf, source string
	logs              *logBuffer
	in                *Installer
}

func newNode(t *testing.T) *node {
	t.Helper()
	root := t.TempDir()
	n := &node{bin: filepath.Join(root, "opt/cni/bin"), conf: filepath.Join(root, "etc/cni/net.d"),
		source: filepath.Join(root, "image/wayfabric-cni"), logs: &logBuffer{}}
	for _, d := range []string{n.bin, n.conf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, n.source, "#!/bin/sh\necho plugin v1\n")
	n.in = &Installer{BinDir: n.bin, ConfDir: n.conf, PluginSource: n.source,
		SocketPath: "/var/run/wayfabric/ztunnel.sock", KubeconfigPath: filepath.Join(n.conf, "wayfabric-cni.kubeconfig"),
		LogFile: "/var/run/wayfabric/cni.log", ExcludedNamespaces: []string{"kube-system", "wayfabric-system"},
		Log: n.logs.logger(t), PollInterval: time.Hour}
	return n
}

func (n *node) install(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.in.Install(ctx); err != nil {
		t.Fatal(err)
	}
}

// asRuntime loads the configuration the way containerd does: the first
// file by name, through libcni.
func (n *node) asRuntime(t *testing.T) (file string, list *libcni.NetworkConfigList) {
	t.Helper()
	files, err := libcni.ConfFiles(n.conf, []string{".conf", ".conflist", ".json"})
	if err != nil || len(files) == 0 {
		t.Fatalf("runtime finds no configuration: %v", err)
	}
	slices.Sort(files)
	file = files[0]
	if strings.HasSuffix(file, ".conflist") {
		list, err = libcni.ConfListFromFile(file)
	} else {
		// Deprecated in libcni, yet what runtimes still do with a .conf file.
		var conf *libcni.NetworkConfig
		if conf, err = libcni.ConfFromFile(file); err == nil { //nolint:staticcheck // see above
			list, err = libcni.ConfListFromConf(conf) //nolint:staticcheck // see above
		}
	}
	if err != nil {
		t.Fatalf("runtime cannot load %s: %v", file, err)
	}
	return file, list
}

func pluginTypes(list *libcni.NetworkConfigList) []string {
	var types []string
	for _, p := range list.Plugins {
		types = append(types, p.Network.Type)
	}
	return types
}

// ourEntry is the configuration the runtime will hand our plugin.
func ourEntry(t *testing.T, list *libcni.NetworkConfigList) *NetConf {
	t.Helper()
	last := list.Plugins[len(list.Plugins)-1]
	conf, err := ParseNetConf(last.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestConfFilesMatchesLibcni(t *testing.T) {
	n := newNode(t)
	for _, f := range []string{"99-z.conf", "10-b.conflist", "10-a.json", "05-x.yaml", "00-c.conf.bak", "20-d.conf"} {
		writeFile(t, filepath.Join(n.conf, f), "{}")
	}
	os.Mkdir(filepath.Join(n.conf, "01-dir.conf"), 0o755)
	want, _ := libcni.ConfFiles(n.conf, confExtensions)
	slices.Sort(want)
	got, err := confFiles(n.conf)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("confFiles = %v, %v; libcni = %v", got, err, want)
	}
}

func TestInstallIntoConflist(t *testing.T) {
	n := newNode(t)
	file := filepath.Join(n.conf, "10-wayfabric.conflist")
	writeFile(t, file, bridgeList)
	n.install(t)

	got, list := n.asRuntime(t)
	if got != file || !slices.Equal(pluginTypes(list), []string{"bridge", PluginType}) {
		t.Fatalf("runtime uses %s with %v", got, pluginTypes(list))
	}
	conf := ourEntry(t, list)
	if conf.SocketPath != n.in.SocketPath || conf.Kubeconfig != n.in.KubeconfigPath || conf.LogFile != n.in.LogFile ||
		!slices.Equal(conf.ExcludedNamespaces, n.in.ExcludedNamespaces) || conf.Timeout() != DefaultTimeout {
		t.Fatalf("our entry: %+v", conf.Config)
	}
	if !sameJSON(t, string(list.Plugins[0].Bytes), `{"type": "bridge", "bridge": "wfbr0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24", "gateway": "10.244.0.1"}]], "routes": [{"dst": "10.96.0.0/12"}]}}`) {
		t.Fatalf("the bridge plugin changed: %s", list.Plugins[0].Bytes)
	}
	if list.CNIVersion != "0.4.0" || list.Name != "wayfabric" {
		t.Fatalf("list name/version changed: %s %s", list.Name, list.CNIVersion)
	}

	bin := filepath.Join(n.bin, PluginType)
	st, err := os.Stat(bin)
	if err != nil || st.Mode().Perm() != 0o755 || readFile(t, bin) != readFile(t, n.source) {
		t.Fatalf("binary: %v %v", st, err)
	}

	// Idempotent: nothing is rewritten (the runtime and other agents
	// watching the directory see no event).
	before := inode(t, file)
	n.install(t)
	if inode(t, file) != before {
		t.Fatal("a second Install rewrote an unchanged configuration")
	}
	_, list = n.asRuntime(t)
	if types := pluginTypes(list); !slices.Equal(types, []string{"bridge", PluginType}) {
		t.Fatalf("plugins after two installs: %v", types)
	}
}

func TestInstallReplacesAnExistingEntry(t *testing.T) {
	n := newNode(t)
	file := filepath.Join(n.conf, "10-kindnet.conflist")
	// An old entry in the middle (say, from an older version with other
	// settings) and a duplicate at the end.
	writeFile(t, file, `{"cniVersion":"1.0.0","name":"kindnet","plugins":[
		{"type":"ptp","mtu":1500,"ipam":{"type":"host-local"}},
		{"type":"wayfabric-cni","socketPath":"/old.sock","timeoutSeconds":5},
		{"type":"portmap","capabilities":{"portMappings":true}},
		{"type":"wayfabric-cni","socketPath":"/old.sock"}]}`)
	n.in.TimeoutSeconds = 12
	n.install(t)
	_, list := n.asRuntime(t)
	if !slices.Equal(pluginTypes(list), []string{"ptp", "portmap", PluginType}) {
		t.Fatalf("plugins %v", pluginTypes(list))
	}
	if conf := ourEntry(t, list); conf.SocketPath != n.in.SocketPath || conf.TimeoutSeconds != 12 {
		t.Fatalf("entry not replaced: %+v", conf.Config)
	}
}

func TestInstallConvertsASinglePluginFile(t *testing.T) {
	for _, ext := range []string{".conf", ".json"} {
		t.Run(ext, func(t *testing.T) {
			n := newNode(t)
			orig := filepath.Join(n.conf, "10-mynet"+ext)
			writeFile(t, orig, bridgeConf)
			n.install(t)

			file, list := n.asRuntime(t)
			if file != filepath.Join(n.conf, "10-mynet.conflist") {
				t.Fatalf("runtime uses %s", file)
			}
			if _, err := os.Stat(orig); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s still shadows the list: %v", orig, err)
			}
			if list.Name != "mynet" || list.CNIVersion != "0.3.1" || !slices.Equal(pluginTypes(list), []string{"bridge", PluginType}) {
				t.Fatalf("converted list: %s %s %v", list.Name, list.CNIVersion, pluginTypes(list))
			}
			if !sameJSON(t, string(list.Plugins[0].Bytes), bridgeConf) {
				t.Fatalf("the original plugin changed: %s", list.Plugins[0].Bytes)
			}

			// Installing again (a ztunnel restart) keeps the memory of the
			// conversion, so the round trip still restores the file.
			n.install(t)
			if err := n.in.Uninstall(); err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, readFile(t, orig), bridgeConf) {
				t.Fatalf("restored %s differs:\n%s", orig, readFile(t, orig))
			}
			if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the converted list remains: %v", err)
			}
			if _, err := os.Stat(filepath.Join(n.bin, PluginType)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the binary remains: %v", err)
			}
		})
	}
}

func TestInstallPicksTheFileTheRuntimeUses(t *testing.T) {
	n := newNode(t)
	writeFile(t, filepath.Join(n.conf, "20-kindnet.conflist"), portmapList)
	writeFile(t, filepath.Join(n.conf, "10-wayfabric.conflist"), bridgeList)
	writeFile(t, filepath.Join(n.conf, "99-loopback.conf"), `{"cniVersion":"1.0.0","name":"lo","type":"loopback"}`)
	writeFile(t, filepath.Join(n.conf, "05-notes.txt"), "not a config")
	n.install(t)
	file, list := n.asRuntime(t)
	if filepath.Base(file) != "10-wayfabric.conflist" || pluginTypes(list)[len(list.Plugins)-1] != PluginType {
		t.Fatalf("runtime uses %s with %v", file, pluginTypes(list))
	}
	for _, other := range []string{"20-kindnet.conflist", "99-loopback.conf"} {
		if strings.Contains(readFile(t, filepath.Join(n.conf, other)), PluginType) {
			t.Fatalf("%s, which the runtime does not use, was changed", other)
		}
	}
}

func TestInstallWaitsForTheNetworkPlugin(t *testing.T) {
	n := newNode(t)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- n.in.Install(ctx)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !n.logs.contains("Waiting for the node's network plugin") {
		if time.Now().After(deadline) {
			t.Fatalf("no log about waiting:\n%s", n.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Install returned before any configuration existed: %v", err)
	default:
	}
	// The network plugin arrives; with an hour's poll interval only the
	// file event can wake the installer.
	writeFile(t, filepath.Join(n.conf, "10-wayfabric.conflist"), bridgeList)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, list := n.asRuntime(t)
	if pluginTypes(list)[1] != PluginType {
		t.Fatalf("plugins %v", pluginTypes(list))
	}
}

func TestInstallPollsForAMissingDirectory(t *testing.T) {
	n := newNode(t)
	os.RemoveAll(n.conf)
	n.in.PollInterval = 20 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- n.in.Install(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	writeFile(t, filepath.Join(n.conf, "10-wayfabric.conflist"), bridgeList)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestInstallReportsWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, want string
	}{
		{"nothing there", "", "", "no *.conf, *.conflist or *.json in"},
		{"broken JSON", "10-x.conflist", `{"plugins": [`, "is not a JSON object"},
		{"CNI version the plugin cannot speak", "10-x.conflist", `{"cniVersion":"0.2.0","name":"x","plugins":[{"type":"bridge"}]}`, "uses CNI version 0.2.0"},
		{"no version", "10-x.conf", `{"name":"x","type":"bridge"}`, "uses CNI version none given"},
		{"cniVersions overrides cniVersion", "10-x.conflist", `{"cniVersion":"1.0.0","cniVersions":["0.2.0"],"name":"x","plugins":[{"type":"bridge"}]}`, "uses CNI version 0.2.0"},
		{"neither list nor plugin", "10-x.conf", `{"cniVersion":"1.0.0","name":"x"}`, "neither a plugin list"},
		{"only our plugin", "10-x.conflist", `{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"wayfabric-cni"}]}`, "must follow the node's network plugin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			if tc.file != "" {
				writeFile(t, filepath.Join(n.conf, tc.file), tc.content)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			err := n.in.Install(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Install = %v; want a timeout naming %q", err, tc.want)
			}
			if !n.logs.contains(tc.want) {
				t.Fatalf("the log does not say %q:\n%s", tc.want, n.logs)
			}
			if tc.file != "" && readFile(t, filepath.Join(n.conf, tc.file)) != tc.content {
				t.Fatal("a configuration the installer refused was modified")
			}
		})
	}
}

func TestWatchReinsertsAfterRewrites(t *testing.T) {
	n := newNode(t)
	file := filepath.Join(n.conf, "10-wayfabric.conflist")
	writeFile(t, file, bridgeList)
	n.install(t)
	ctx, cancel := context.WithCancel(context.Background())
	watching := make(chan error, 1)
	go func() { watching <- n.in.Watch(ctx) }()
	defer func() {
		cancel()
		<-watching
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not happen; logs:\n%s", what, n.logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	lastIsOurs := func() bool {
		_, list := n.asRuntime(t)
		return pluginTypes(list)[len(list.Plugins)-1] == PluginType
	}

	// The network plugin's agent rewrites its file in place.
	time.Sleep(100 * time.Millisecond)
	writeFile(t, file, bridgeList)
	waitFor("re-insertion after an in-place rewrite", lastIsOurs)

	// ... or atomically, as most agents do.
	tmp := filepath.Join(n.conf, ".tmp-agent")
	writeFile(t, tmp, portmapList)
	os.Rename(tmp, file)
	waitFor("re-insertion after a rename", func() bool {
		_, list := n.asRuntime(t)
		return slices.Equal(pluginTypes(list), []string{"ptp", "portmap", PluginType})
	})

	// A new file takes precedence.
	writeFile(t, filepath.Join(n.conf, "05-cilium.conflist"), `{"cniVersion":"1.0.0","name":"cilium","plugins":[{"type":"cilium-cni"}]}`)
	waitFor("insertion into the new primary file", func() bool {
		file, list := n.asRuntime(t)
		return filepath.Base(file) == "05-cilium.conflist" && lastIsOurs() && len(list.Plugins) == 2
	})

	// Someone deletes the binary.
	os.Remove(filepath.Join(n.bin, PluginType))
	waitFor("the binary's return", func() bool {
		_, err := os.Stat(filepath.Join(n.bin, PluginType))
		return err == nil
	})
	if !n.logs.contains("Re-inserted the CNI plugin") {
		t.Fatalf("re-insertions were not logged:\n%s", n.logs)
	}
}

func TestUninstallRoundTrip(t *testing.T) {
	n := newNode(t)
	files := map[string]string{
		"10-wayfabric.conflist": bridgeList,
		"20-kindnet.conflist":   portmapList,
	}
	for f, c := range files {
		writeFile(t, filepath.Join(n.conf, f), c)
	}
	// The ztunnel sees the host's file elsewhere (its mount).
	n.in.KubeconfigPath = "/etc/cni/net.d/wayfabric-cni.kubeconfig"
	n.in.KubeconfigFile = filepath.Join(n.conf, "wayfabric-cni.kubeconfig")
	writeFile(t, n.in.KubeconfigFile, "{}")
	n.install(t)
	// An entry left in a file that is no longer primary goes too.
	stale, err := insertEntry("20-kindnet.conflist", []byte(portmapList), n.in.PluginConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range stale.write {
		writeFile(t, filepath.Join(n.conf, "20-kindnet.conflist"), string(data))
	}

	if err := n.in.Uninstall(); err != nil {
		t.Fatal(err)
	}
	for f, c := range files {
		if got := readFile(t, filepath.Join(n.conf, f)); !sameJSON(t, got, c) {
			t.Fatalf("%s after uninstall:\n%s\nwant (as JSON):\n%s", f, got, c)
		}
	}
	for _, gone := range []string{filepath.Join(n.bin, PluginType), n.in.KubeconfigFile} {
		if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s remains: %v", gone, err)
		}
	}
	// Nothing left to do: a second Uninstall is harmless.
	if err := n.in.Uninstall(); err != nil {
		t.Fatal(err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(n.conf, ".wayfabric-*"))
	if len(leftovers) > 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}
}

func TestUninstallKeepsTheNetworkPluginsNewerFile(t *testing.T) {
	n := newNode(t)
	orig := filepath.Join(n.conf, "10-mynet.conf")
	writeFile(t, orig, bridgeConf)
	n.install(t)
	// The network plugin's agent wrote its file again meanwhile, with new
	// settings: that one is the truth, not our memory of the old one.
	newer := strings.Replace(bridgeConf, "10.22.0.0/16", "10.23.0.0/16", 1)
	writeFile(t, orig, newer)
	if err := n.in.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, orig); got != newer {
		t.Fatalf("the agent's newer file was overwritten:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(n.conf, "10-mynet.conflist")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("our converted list remains: %v", err)
	}
}

func TestConversionNeverClobbersAForeignList(t *testing.T) {
	n := newNode(t)
	writeFile(t, filepath.Join(n.conf, "10-mynet.conf"), bridgeConf)
	writeFile(t, filepath.Join(n.conf, "10-mynet.conflist"), portmapList) // shadowed, but someone's
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := n.in.Install(ctx); err == nil || !strings.Contains(err.Error(), "exists and is not ours") {
		t.Fatalf("Install = %v", err)
	}
	if readFile(t, filepath.Join(n.conf, "10-mynet.conflist")) != portmapList {
		t.Fatal("a foreign list was overwritten")
	}
}

func TestInstallAcceptsCNIVersionsList(t *testing.T) {
	n := newNode(t)
	writeFile(t, filepath.Join(n.conf, "10-x.conflist"), `{"cniVersions":["0.4.0","1.1.0"],"name":"x","plugins":[{"type":"bridge"}]}`)
	n.install(t)
	_, list := n.asRuntime(t)
	if list.CNIVersion != "1.1.0" || !slices.Equal(pluginTypes(list), []string{"bridge", PluginType}) {
		t.Fatalf("%s %v", list.CNIVersion, pluginTypes(list))
	}
}
