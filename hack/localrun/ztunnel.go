package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// ztunnelSample is the ZtunnelConfig sample make run applies.
const ztunnelSample = "mesh_v1alpha1_ztunnelconfig.yaml"

// applyZtunnelSample applies the ZtunnelConfig sample with spec.cni set to
// the local cluster's CNI dirs (its containerd does not use /opt/cni/bin and
// /etc/cni/net.d), then waits until its ztunnel is Ready, so that the demo's
// pods are captured from their first packet. On a timeout the error carries
// the ZtunnelConfig's conditions: they say which node and why.
func (lc *localCluster) applyZtunnelSample(ctx context.Context) error {
	raw, err := os.ReadFile(filepath.Join(lc.root, "config", "samples", ztunnelSample))
	if err != nil {
		return err
	}
	manifest, name, err := withCNI(raw, filepath.Join(lc.dir, "run", "cni", "bin"), filepath.Join(lc.dir, "run", "cni", "net.d"))
	if err != nil {
		return fmt.Errorf("config/samples/%s: %w", ztunnelSample, err)
	}
	cmd := lc.command(ctx, "apply", "--server-side", "-f", "-")
	cmd.Stdin = strings.NewReader(string(manifest))
	if _, err := output(cmd, lc.root); err != nil {
		return err
	}
	fmt.Printf("ztunnelconfig.mesh.wayfabric.io/%s applied (cni: %s)\n", name, filepath.Join(lc.dir, "run", "cni"))
	if _, err := lc.kubectlOut(ctx, "wait", "--for=condition=Ready", "ztunnelconfig/"+name, "--timeout=3m"); err != nil {
		conds, _ := output(lc.command(ctx, "get", "ztunnelconfig", name, "-o",
			`jsonpath={range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}`), lc.root)
		return fmt.Errorf("ZtunnelConfig %s is not Ready: %w\n%s", name, err, conds)
	}
	return nil
}

// withCNI returns the ZtunnelConfig manifest sample with spec.cni set, and
// its name.
func withCNI(sample []byte, binDir, confDir string) ([]byte, string, error) {
	var obj map[string]any
	if err := yaml.Unmarshal(sample, &obj); err != nil {
		return nil, "", err
	}
	if obj["kind"] != "ZtunnelConfig" {
		return nil, "", fmt.Errorf("kind %v, want ZtunnelConfig", obj["kind"])
	}
	spec, _ := obj["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		obj["spec"] = spec
	}
	spec["cni"] = map[string]any{"binDir": binDir, "confDir": confDir}
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	if name == "" {
		return nil, "", fmt.Errorf("no metadata.name")
	}
	out, err := yaml.Marshal(obj)
	return out, name, err
}
