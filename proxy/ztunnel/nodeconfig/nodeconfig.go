// Package nodeconfig is the ztunnel's configuration file (config.yaml in
// the ZtunnelConfig's ConfigMap): the operator writes it, the ztunnel reads
// it and reloads it in place, because restarting a node's ztunnel for a log
// level or an exclusion list is never worth it. A leaf package, so the
// ztunnel does not import the operator.
package nodeconfig

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"sigs.k8s.io/yaml"
)

// Config is config.yaml.
type Config struct {
	ConfigName         string   `json:"configName"`
	TrustDomain        string   `json:"trustDomain"`
	CAAddress          string   `json:"caAddress"`
	LogLevel           string   `json:"logLevel"`
	DrainSeconds       int32    `json:"drainSeconds"`
	ExcludedNamespaces []string `json:"excludedNamespaces"`
	Capture            Capture  `json:"capture"`
	CNI                CNI      `json:"cni"`
}

// Capture is the in-pod capture part of Config.
type Capture struct {
	Mode                 string   `json:"mode"`
	ExcludeInboundPorts  []int32  `json:"excludeInboundPorts,omitempty"`
	ExcludeOutboundPorts []int32  `json:"excludeOutboundPorts,omitempty"`
	ExcludeOutboundCIDRs []string `json:"excludeOutboundCIDRs,omitempty"`
}

// CNI says where the node's CNI configuration and plugins live, as host
// paths (the plugin runs on the host; the ztunnel sees them mounted).
type CNI struct {
	BinDir  string `json:"binDir"`
	ConfDir string `json:"confDir"`
}

// Load reads and validates a config file.
func Load(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		return Config{}, fmt.Errorf("parsing %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Validate rejects what the node proxy could not apply.
func (c Config) Validate() error {
	var errs []error
	if c.TrustDomain == "" {
		errs = append(errs, errors.New("trustDomain is empty"))
	}
	if c.CAAddress == "" {
		errs = append(errs, errors.New("caAddress is empty"))
	}
	if c.DrainSeconds < 0 {
		errs = append(errs, errors.New("drainSeconds is negative"))
	}
	for _, p := range append(append([]int32{}, c.Capture.ExcludeInboundPorts...), c.Capture.ExcludeOutboundPorts...) {
		if p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("port %d is not in 1-65535", p))
		}
	}
	for _, s := range c.Capture.ExcludeOutboundCIDRs {
		if _, err := netip.ParsePrefix(s); err != nil {
			errs = append(errs, fmt.Errorf("excludeOutboundCIDRs: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Ports converts a port list.
func Ports(ps []int32) []uint16 {
	out := make([]uint16, 0, len(ps))
	for _, p := range ps {
		out = append(out, uint16(p))
	}
	return out
}

// Prefixes converts a CIDR list (validated).
func Prefixes(ss []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}
