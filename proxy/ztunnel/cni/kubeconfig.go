package cni

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
)

// The plugin's kubeconfig is written as JSON (which is valid YAML, so
// kubectl reads it too) so the plugin can read it without a YAML parser or
// client-go: the binary stays small.

type kubeconfig struct {
	APIVersion     string         `json:"apiVersion"`
	Kind           string         `json:"kind"`
	Clusters       []namedCluster `json:"clusters"`
	Users          []namedUser    `json:"users"`
	Contexts       []namedContext `json:"contexts"`
	CurrentContext string         `json:"current-context"`
}

type namedCluster struct {
	Name    string `json:"name"`
	Cluster struct {
		Server                   string `json:"server"`
		CertificateAuthorityData []byte `json:"certificate-authority-data,omitempty"`
		CertificateAuthority     string `json:"certificate-authority,omitempty"`
		InsecureSkipTLSVerify    bool   `json:"insecure-skip-tls-verify,omitempty"`
	} `json:"cluster"`
}

type namedUser struct {
	Name string `json:"name"`
	User struct {
		Token                 string `json:"token,omitempty"`
		TokenFile             string `json:"tokenFile,omitempty"`
		ClientCertificateData []byte `json:"client-certificate-data,omitempty"`
		ClientKeyData         []byte `json:"client-key-data,omitempty"`
	} `json:"user"`
}

type namedContext struct {
	Name    string `json:"name"`
	Context struct {
		Cluster string `json:"cluster"`
		User    string `json:"user"`
	} `json:"context"`
}

const kubeconfigName = PluginType

// WriteKubeconfig writes (atomically, mode 0600: it holds a credential) a
// kubeconfig for the plugin's fallback: the API server at server, trusted
// through caPEM, with the token currently in tokenFile embedded (the token
// file lives in the ztunnel's pod, which the plugin on the host cannot
// read). Rewrite it when the token rotates: RefreshKubeconfig.
func WriteKubeconfig(path, server string, caPEM []byte, tokenFile string) error {
	_, err := writeKubeconfig(path, server, caPEM, tokenFile)
	return err
}

func writeKubeconfig(path, server string, caPEM []byte, tokenFile string) (token string, err error) {
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		return "", fmt.Errorf("reading the service account token: %w", err)
	}
	token = strings.TrimSpace(string(raw))
	if token == "" {
		return "", fmt.Errorf("service account token %s is empty", tokenFile)
	}
	if !strings.HasPrefix(server, "https://") {
		return "", fmt.Errorf("API server %q must be an https:// URL", server)
	}
	if len(caPEM) > 0 && !x509.NewCertPool().AppendCertsFromPEM(caPEM) {
		return "", errors.New("the API server CA bundle holds no PEM certificate")
	}
	kc := kubeconfig{APIVersion: "v1", Kind: "Config", CurrentContext: kubeconfigName}
	kc.Clusters = []namedCluster{{Name: kubeconfigName}}
	kc.Clusters[0].Cluster.Server = server
	kc.Clusters[0].Cluster.CertificateAuthorityData = caPEM
	kc.Users = []namedUser{{Name: kubeconfigName}}
	kc.Users[0].User.Token = token
	kc.Contexts = []namedContext{{Name: kubeconfigName}}
	kc.Contexts[0].Context.Cluster = kubeconfigName
	kc.Contexts[0].Context.User = kubeconfigName
	data, err := json.MarshalIndent(kc, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return token, writeAtomic(path, append(data, '\n'), 0o600)
}

// RefreshKubeconfig writes the kubeconfig now and again whenever the token
// in tokenFile changes (the kubelet rotates projected tokens well before
// they expire), until ctx ends. Write errors after the first are logged
// and retried at the next change or poll.
func RefreshKubeconfig(ctx context.Context, path, server string, caPEM []byte, tokenFile string, log logr.Logger) error {
	// A projected token is a symlink into a directory the kubelet swaps
	// atomically; events come from the directory. Watching starts before
	// the first read so that no rotation falls in between.
	w := newDirWatcher(log, 0, filepath.Dir(tokenFile))
	defer w.close()
	written, err := writeKubeconfig(path, server, caPEM, tokenFile)
	if err != nil {
		return fmt.Errorf("writing the CNI plugin's kubeconfig %s: %w", path, err)
	}
	for {
		if err := w.wait(ctx); err != nil {
			return nil
		}
		raw, err := os.ReadFile(tokenFile)
		if err != nil || strings.TrimSpace(string(raw)) == written {
			continue
		}
		token, err := writeKubeconfig(path, server, caPEM, tokenFile)
		if err != nil {
			log.Error(err, "Could not refresh the CNI plugin's kubeconfig", "path", path)
			continue
		}
		written = token
		log.Info("Refreshed the CNI plugin's kubeconfig with the rotated token", "path", path)
	}
}

// APIAccess is what the plugin needs to call the API server.
type APIAccess struct {
	Server string
	Token  string
	TLS    *tls.Config
}

// ReadKubeconfig loads the current context of a JSON kubeconfig (as
// WriteKubeconfig writes it; tokenFile, certificate-authority and client
// certificates are understood too).
func ReadKubeconfig(path string) (*APIAccess, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kc kubeconfig
	if err := json.Unmarshal(data, &kc); err != nil {
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] != '{' {
			return nil, fmt.Errorf("%s: the plugin reads JSON kubeconfigs only (as the ztunnel writes them)", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var ctx *namedContext
	for i := range kc.Contexts {
		if kc.Contexts[i].Name == kc.CurrentContext {
			ctx = &kc.Contexts[i]
		}
	}
	if ctx == nil {
		return nil, fmt.Errorf("%s: current context %q not found", path, kc.CurrentContext)
	}
	var cl *namedCluster
	for i := range kc.Clusters {
		if kc.Clusters[i].Name == ctx.Context.Cluster {
			cl = &kc.Clusters[i]
		}
	}
	if cl == nil || cl.Cluster.Server == "" {
		return nil, fmt.Errorf("%s: cluster %q not found or has no server", path, ctx.Context.Cluster)
	}
	access := &APIAccess{Server: strings.TrimSuffix(cl.Cluster.Server, "/"), TLS: &tls.Config{MinVersion: tls.VersionTLS12}}
	ca := cl.Cluster.CertificateAuthorityData
	if cl.Cluster.CertificateAuthority != "" {
		if ca, err = os.ReadFile(cl.Cluster.CertificateAuthority); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("%s: the cluster CA holds no PEM certificate", path)
		}
		access.TLS.RootCAs = pool
	}
	access.TLS.InsecureSkipVerify = cl.Cluster.InsecureSkipTLSVerify
	for i := range kc.Users {
		u := kc.Users[i].User
		if kc.Users[i].Name != ctx.Context.User {
			continue
		}
		access.Token = u.Token
		if u.TokenFile != "" {
			raw, err := os.ReadFile(u.TokenFile)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			access.Token = strings.TrimSpace(string(raw))
		}
		if len(u.ClientCertificateData) > 0 {
			cert, err := tls.X509KeyPair(u.ClientCertificateData, u.ClientKeyData)
			if err != nil {
				return nil, fmt.Errorf("%s: client certificate: %w", path, err)
			}
			access.TLS.Certificates = []tls.Certificate{cert}
		}
	}
	return access, nil
}
