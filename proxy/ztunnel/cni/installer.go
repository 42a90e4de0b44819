package cni

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
)

// Installer puts the plugin on the node: its binary into the CNI bin
// directory and its entry as the last plugin of the network configuration
// the runtime uses, and keeps it there. It runs in the ztunnel, which
// mounts the host's CNI directories.
type Installer struct {
	// BinDir and ConfDir are the node's CNI directories as mounted
	// (on the host usually /opt/cni/bin and /etc/cni/net.d).
	BinDir, ConfDir string
	// PluginSource is the plugin binary shipped in the ztunnel image.
	PluginSource string
	// SocketPath, KubeconfigPath and LogFile are host paths written into
	// the plugin's entry: the plugin runs on the host, not in the ztunnel.
	SocketPath, KubeconfigPath, LogFile string
	// KubeconfigFile is where the ztunnel sees KubeconfigPath (its mount
	// of it), for Uninstall to remove; empty: the same path.
	KubeconfigFile string
	// ExcludedNamespaces are never held back by the plugin.
	ExcludedNamespaces []string
	// TimeoutSeconds bounds the plugin's wait for the ztunnel (0: 30).
	TimeoutSeconds int
	Log            logr.Logger
	// PollInterval overrides DefaultPollInterval.
	PollInterval time.Duration
}

// PluginConfig is the configuration written into the entry.
func (in *Installer) PluginConfig() Config {
	return Config{
		SocketPath:         in.SocketPath,
		Kubeconfig:         in.KubeconfigPath,
		TimeoutSeconds:     in.TimeoutSeconds,
		ExcludedNamespaces: in.ExcludedNamespaces,
		LogFile:            in.LogFile,
	}
}

func (in *Installer) binaryPath() string { return filepath.Join(in.BinDir, PluginType) }

// Install copies the binary, then waits until the node has a network
// configuration and our entry is in it (or ctx ends). The binary goes
// first so the runtime never calls a plugin that is not there.
func (in *Installer) Install(ctx context.Context) error {
	if err := in.PluginConfig().Validate(); err != nil {
		return fmt.Errorf("CNI plugin entry: %w", err)
	}
	if err := copyFileAtomic(in.PluginSource, in.binaryPath(), 0o755); err != nil {
		return fmt.Errorf("installing the CNI plugin into %s: %w", in.BinDir, err)
	}
	w := newDirWatcher(in.Log, in.PollInterval, in.ConfDir)
	defer w.close()
	var reported string
	for {
		file, changed, err := in.ensureEntry()
		if err == nil {
			if changed {
				in.Log.Info("Installed the CNI plugin", "config", file, "binary", in.binaryPath())
			} else {
				in.Log.Info("The CNI plugin was already installed", "config", file, "binary", in.binaryPath())
			}
			return nil
		}
		// One line per distinct problem, not one per poll.
		if err.Error() != reported {
			reported = err.Error()
			if errors.Is(err, ErrNoNetworkConfig) {
				in.Log.Info("Waiting for the node's network plugin to write its CNI configuration", "dir", in.ConfDir, "reason", reported)
			} else {
				in.Log.Error(err, "Cannot install the CNI plugin yet; retrying when the configuration changes", "dir", in.ConfDir)
			}
		}
		if werr := w.wait(ctx); werr != nil {
			return fmt.Errorf("CNI plugin not installed: %w (last problem: %v)", werr, err)
		}
	}
}

// Watch keeps the entry and binary in place until ctx ends: when another
// agent rewrites the configuration (or a new file takes precedence), the
// entry is inserted again. Call after Install.
func (in *Installer) Watch(ctx context.Context) error {
	w := newDirWatcher(in.Log, in.PollInterval, in.ConfDir, in.BinDir)
	defer w.close()
	var reported string
	// Check once right away: a change between Install and here made no event we saw.
	// wait fails only when ctx ends, which the loop checks first.
	for ; ; _ = w.wait(ctx) {
		if ctx.Err() != nil {
			return nil
		}
		if err := in.ensureBinary(); err != nil {
			in.Log.Error(err, "Cannot restore the CNI plugin binary", "binary", in.binaryPath())
		}
		file, changed, err := in.ensureEntry()
		switch {
		case err != nil:
			if err.Error() != reported {
				reported = err.Error()
				in.Log.Error(err, "The CNI plugin entry is missing and cannot be restored yet", "dir", in.ConfDir)
			}
		case changed:
			reported = ""
			in.Log.Info("Re-inserted the CNI plugin after its configuration changed", "config", file)
		default:
			reported = ""
		}
	}
}

// Run installs and then watches until ctx ends.
func (in *Installer) Run(ctx context.Context) error {
	if err := in.Install(ctx); err != nil {
		return err
	}
	return in.Watch(ctx)
}

// ensureEntry puts our entry into the primary configuration, returning
// the file it is in and whether anything was written.
func (in *Installer) ensureEntry() (string, bool, error) {
	file, err := primaryConfig(in.ConfDir)
	if err != nil {
		return "", false, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return file, false, err
	}
	e, err := insertEntry(file, data, in.PluginConfig())
	if err != nil {
		return file, false, err
	}
	if e.empty() {
		return file, false, nil
	}
	if err := e.apply(); err != nil {
		return file, false, err
	}
	// A converted file has a new name; make sure the runtime picks it.
	now, err := primaryConfig(in.ConfDir)
	if err != nil {
		return file, true, err
	}
	if data, err := os.ReadFile(now); err != nil {
		return now, true, err
	} else if e, err := insertEntry(now, data, in.PluginConfig()); err != nil || !e.empty() {
		return now, true, fmt.Errorf("wrote the CNI plugin entry, but %s is the configuration in use and lacks it (%v)", now, err)
	}
	return now, true, nil
}

// ensureBinary copies the binary again if it went missing or differs in size.
func (in *Installer) ensureBinary() error {
	src, err := os.Stat(in.PluginSource)
	if err != nil {
		return err
	}
	if dst, err := os.Stat(in.binaryPath()); err == nil && dst.Size() == src.Size() {
		return nil
	}
	in.Log.Info("Restoring the CNI plugin binary", "binary", in.binaryPath())
	return copyFileAtomic(in.PluginSource, in.binaryPath(), 0o755)
}

// Uninstall takes our entry out of every network configuration (putting
// back a single-plugin file where Install converted one), then removes the
// binary and the plugin's kubeconfig. Call it only when the mesh leaves the
// node (the ZtunnelConfig goes away), never on an ordinary ztunnel exit:
// while the entry stays, enrolled pods wait for a ztunnel (fail closed)
// instead of starting outside the mesh.
func (in *Installer) Uninstall() error {
	files, err := confFiles(in.ConfDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		e, err := removeEntry(file, data)
		if err != nil {
			// Not ours to judge: a file we cannot parse has no entry of ours.
			in.Log.Info("Skipping an unreadable CNI configuration", "config", file, "error", err.Error())
			continue
		}
		if e.empty() {
			continue
		}
		if err := e.apply(); err != nil {
			errs = append(errs, err)
			continue
		}
		in.Log.Info("Removed the CNI plugin entry", "config", file)
	}
	if len(errs) > 0 {
		// Keep the binary while an entry may still name it.
		return errors.Join(errs...)
	}
	kubeconfig := in.KubeconfigFile
	if kubeconfig == "" {
		kubeconfig = in.KubeconfigPath
	}
	for _, path := range []string{in.binaryPath(), kubeconfig} {
		if path == "" {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	in.Log.Info("Uninstalled the CNI plugin", "binary", in.binaryPath())
	return errors.Join(errs...)
}
