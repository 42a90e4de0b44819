package cni

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// PluginType is the plugin's "type" in a conflist, and its binary's name.
const PluginType = "wayfabric-cni"

// Defaults of Config.
const (
	DefaultSocketPath = "/var/run/wayfabric/ztunnel.sock"
	DefaultTimeout    = 30 * time.Second
)

// SupportedVersions are the CNI spec versions the plugin speaks. 0.3.x is
// included because long-lived clusters still carry 0.3.1 conflists (e.g.
// flannel's), and a chained plugin must work with whatever list it joins.
var SupportedVersions = version.VersionsStartingFrom("0.3.0")

// Config is the plugin's own part of its conflist entry.
type Config struct {
	// SocketPath is the ztunnel's node socket.
	SocketPath string `json:"socketPath"`
	// Kubeconfig lets the plugin ask the API server about a pod when no
	// ztunnel listens (written by WriteKubeconfig).
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// TimeoutSeconds bounds the wait for the ztunnel's answer.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
	// ExcludedNamespaces are never sent to the ztunnel and never blocked.
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`
	// LogFile receives one line per decision ("" logs to stderr only).
	LogFile string `json:"logFile,omitempty"`
}

// Timeout is TimeoutSeconds as a duration, DefaultTimeout if unset.
func (c Config) Timeout() time.Duration {
	if c.TimeoutSeconds <= 0 {
		return DefaultTimeout
	}
	return time.Duration(c.TimeoutSeconds) * time.Second
}

// Excluded reports whether pods of namespace ns bypass the mesh entirely.
func (c Config) Excluded(ns string) bool { return slices.Contains(c.ExcludedNamespaces, ns) }

// Validate rejects settings the plugin cannot work with.
func (c Config) Validate() error {
	if !filepath.IsAbs(c.SocketPath) {
		return fmt.Errorf("socketPath %q must be an absolute path", c.SocketPath)
	}
	if c.Kubeconfig != "" && !filepath.IsAbs(c.Kubeconfig) {
		return fmt.Errorf("kubeconfig %q must be an absolute path", c.Kubeconfig)
	}
	if c.LogFile != "" && !filepath.IsAbs(c.LogFile) {
		return fmt.Errorf("logFile %q must be an absolute path", c.LogFile)
	}
	if c.TimeoutSeconds < 0 {
		return fmt.Errorf("timeoutSeconds %d must not be negative", c.TimeoutSeconds)
	}
	return nil
}

// NetConf is the network configuration the runtime hands the plugin on
// stdin: the standard fields (with the previous plugin's result) and ours.
type NetConf struct {
	types.PluginConf
	Config
}

// ParseNetConf parses and validates the plugin's stdin, filling defaults
// and decoding prevResult.
func ParseNetConf(stdin []byte) (*NetConf, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(stdin, conf); err != nil {
		return nil, fmt.Errorf("%s: parsing network configuration: %w", PluginType, err)
	}
	if conf.SocketPath == "" {
		conf.SocketPath = DefaultSocketPath
	}
	if err := conf.Config.Validate(); err != nil {
		return nil, fmt.Errorf("%s: network configuration: %w", PluginType, err)
	}
	if err := version.ParsePrevResult(&conf.PluginConf); err != nil {
		return nil, fmt.Errorf("%s: parsing prevResult: %w", PluginType, err)
	}
	return conf, nil
}
