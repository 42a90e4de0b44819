package cni

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/version"
)

// confExtensions are the files container runtimes read; the lowest name wins.
var confExtensions = []string{".conf", ".conflist", ".json"}

// ErrNoNetworkConfig: the node's network plugin has not written its
// configuration yet.
var ErrNoNetworkConfig = errors.New("no CNI network configuration yet")

// entry is our plugin's object in a conflist.
type entry struct {
	Type string `json:"type"`
	Config
	// ConvertedFrom names the single-plugin file we turned into this list,
	// so that Uninstall can put it back.
	ConvertedFrom string `json:"wayfabricConvertedFrom,omitempty"`
}

// confFiles lists the network configuration files in the order the
// runtime considers them; the first is the one it uses. It is
// libcni.ConfFiles plus the sort containerd and CRI-O apply (the test holds
// the two equal), without libcni, which would link OpenTelemetry into the
// plugin binary.
func confFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing CNI configuration in %s: %w", dir, err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && slices.Contains(confExtensions, filepath.Ext(e.Name())) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(files)
	return files, nil
}

// primaryConfig is the file the runtime uses for pod networks.
func primaryConfig(dir string) (string, error) {
	files, err := confFiles(dir)
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("%w: no *.conf, *.conflist or *.json in %s", ErrNoNetworkConfig, dir)
	}
	return files[0], nil
}

// edit is a set of file changes, applied writes first.
type edit struct {
	write  map[string][]byte
	remove []string
}

func (e edit) empty() bool { return len(e.write) == 0 && len(e.remove) == 0 }

type parsedConf struct {
	top     map[string]json.RawMessage
	plugins []json.RawMessage // nil: a single-plugin file
}

func parseConf(file string, data []byte) (*parsedConf, error) {
	p := &parsedConf{}
	if err := json.Unmarshal(data, &p.top); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %w", file, err)
	}
	if raw, ok := p.top["plugins"]; ok {
		if err := json.Unmarshal(raw, &p.plugins); err != nil || p.plugins == nil {
			return nil, fmt.Errorf("%s: \"plugins\" is not a list", file)
		}
	}
	return p, nil
}

func pluginType(raw json.RawMessage) string {
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(raw, &p) // not an object: no type
	return p.Type
}

// insertEntry returns the edit that makes our entry the last plugin of
// file (empty when it already is). A single-plugin file becomes a
// .conflist of the same name, as the CNI spec converts it.
func insertEntry(file string, data []byte, cfg Config) (edit, error) {
	p, err := parseConf(file, data)
	if err != nil {
		return edit{}, err
	}
	if err := checkVersion(file, p.top); err != nil {
		return edit{}, err
	}
	if p.plugins == nil {
		return convertAndInsert(file, data, p, cfg)
	}

	want := entry{Type: PluginType, Config: cfg}
	var kept []json.RawMessage
	for _, pl := range p.plugins {
		if pluginType(pl) != PluginType {
			kept = append(kept, pl)
			continue
		}
		var old entry
		_ = json.Unmarshal(pl, &old) // unreadable: nothing to carry over
		if old.ConvertedFrom != "" {
			want.ConvertedFrom = old.ConvertedFrom
		}
	}
	if len(kept) == 0 {
		return edit{}, fmt.Errorf("%s has no plugin but %s: it must follow the node's network plugin", file, PluginType)
	}
	wantRaw, err := json.Marshal(want)
	if err != nil {
		return edit{}, err
	}
	if len(kept) == len(p.plugins)-1 && jsonEqual(p.plugins[len(p.plugins)-1], wantRaw) {
		return edit{}, nil
	}
	out, err := marshalConf(p.top, append(kept, wantRaw))
	if err != nil {
		return edit{}, err
	}
	return edit{write: map[string][]byte{file: out}}, nil
}

func convertAndInsert(file string, data []byte, p *parsedConf, cfg Config) (edit, error) {
	switch t := pluginType(data); t {
	case "":
		return edit{}, fmt.Errorf("%s is neither a plugin list (no \"plugins\") nor a plugin (no \"type\")", file)
	case PluginType:
		return edit{}, fmt.Errorf("%s holds only %s: it must follow the node's network plugin", file, PluginType)
	}
	if _, ok := p.top["name"]; !ok {
		return edit{}, fmt.Errorf("%s has no network name", file)
	}
	list := strings.TrimSuffix(file, filepath.Ext(file)) + ".conflist"
	if existing, err := os.ReadFile(list); err == nil && !isConversionOf(existing, file) {
		return edit{}, fmt.Errorf("cannot turn %s into a plugin list: %s exists and is not ours", file, list)
	}
	var plugin bytes.Buffer
	if err := json.Compact(&plugin, data); err != nil {
		return edit{}, err
	}
	ours, err := json.Marshal(entry{Type: PluginType, Config: cfg, ConvertedFrom: filepath.Base(file)})
	if err != nil {
		return edit{}, err
	}
	// name and cniVersion move to the list; the plugin object is kept
	// verbatim (the runtime injects both into each plugin anyway).
	top := map[string]json.RawMessage{"name": p.top["name"]}
	if v, ok := p.top["cniVersion"]; ok {
		top["cniVersion"] = v
	}
	out, err := marshalConf(top, []json.RawMessage{plugin.Bytes(), ours})
	if err != nil {
		return edit{}, err
	}
	return edit{write: map[string][]byte{list: out}, remove: []string{file}}, nil
}

// isConversionOf reports whether list is our conversion of file.
func isConversionOf(list []byte, file string) bool {
	p, err := parseConf("", list)
	if err != nil {
		return false
	}
	for _, pl := range p.plugins {
		var e entry
		if json.Unmarshal(pl, &e) == nil && e.Type == PluginType && e.ConvertedFrom == filepath.Base(file) {
			return true
		}
	}
	return false
}

// removeEntry returns the edit that takes our entries out of file,
// restoring the single-plugin file we converted it from.
func removeEntry(file string, data []byte) (edit, error) {
	p, err := parseConf(file, data)
	if err != nil {
		return edit{}, err
	}
	var kept []json.RawMessage
	convertedFrom := ""
	for _, pl := range p.plugins {
		var e entry
		if json.Unmarshal(pl, &e) == nil && e.Type == PluginType {
			if e.ConvertedFrom != "" {
				convertedFrom = e.ConvertedFrom
			}
			continue
		}
		kept = append(kept, pl)
	}
	if len(kept) == len(p.plugins) {
		return edit{}, nil
	}
	if convertedFrom != "" && len(kept) == 1 {
		original := filepath.Join(filepath.Dir(file), filepath.Base(convertedFrom))
		e := edit{remove: []string{file}}
		// If the network plugin wrote its file again meanwhile, that one
		// is the truth; only our list goes.
		if _, err := os.Stat(original); errors.Is(err, os.ErrNotExist) {
			var out bytes.Buffer
			if err := json.Indent(&out, kept[0], "", "  "); err != nil {
				return edit{}, err
			}
			out.WriteByte('\n')
			e.write = map[string][]byte{original: out.Bytes()}
		}
		return e, nil
	}
	if len(kept) == 0 {
		return edit{remove: []string{file}}, nil
	}
	out, err := marshalConf(p.top, kept)
	if err != nil {
		return edit{}, err
	}
	return edit{write: map[string][]byte{file: out}}, nil
}

func marshalConf(top map[string]json.RawMessage, plugins []json.RawMessage) ([]byte, error) {
	list, err := json.Marshal(plugins)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(top))
	for k, v := range top {
		out[k] = v
	}
	out["plugins"] = list
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// checkVersion refuses lists whose CNI version the plugin cannot speak:
// inserting it there would fail every pod on the node.
func checkVersion(file string, top map[string]json.RawMessage) error {
	var v struct {
		CNIVersion  string   `json:"cniVersion"`
		CNIVersions []string `json:"cniVersions"`
	}
	b, _ := json.Marshal(top)
	_ = json.Unmarshal(b, &v) // fields of another type stay empty
	effective := v.CNIVersion
	// Like libcni: the highest version of "cniVersions" it knows, if any,
	// overrides "cniVersion".
	highest := ""
	for _, c := range v.CNIVersions {
		if !slices.Contains(version.All.SupportedVersions(), c) {
			continue
		}
		if gt, err := version.GreaterThan(c, highest); highest == "" || (err == nil && gt) {
			highest = c
		}
	}
	if highest != "" {
		effective = highest
	}
	if !slices.Contains(SupportedVersions.SupportedVersions(), effective) {
		if effective == "" {
			effective = "none given"
		}
		return fmt.Errorf("%s uses CNI version %s; %s supports %s", file, effective, PluginType,
			strings.Join(SupportedVersions.SupportedVersions(), ", "))
	}
	return nil
}
