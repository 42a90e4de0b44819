// Command tool is the local cluster's helper (see hack/cluster/up.sh):
//
//	tool pki -dir DIR -node-ip IP -node-name NAME -service-ip IP -server URL
//	    writes a CA, serving and client certificates, the service-account key
//	    pair and one kubeconfig per component into DIR.
//	tool image -bin FILE -ref NAME:TAG -out FILE.tar [-user UID:GID] [-port N]
//	    packs a static binary as the only file (/<basename>, the entrypoint) of a
//	    single-layer linux image and writes it as an image tarball that
//	    `ctr images import` (and `docker load`) understands.
package main

import (
	"archive/tar"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tool pki|image [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "pki":
		err = pkiCmd(os.Args[2:])
	case "image":
		err = imageCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q (want pki or image)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cluster tool: %v\n", err)
		os.Exit(1)
	}
}

// ---- image ----

func imageCmd(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	bin := fs.String("bin", "", "static binary to pack (required)")
	ref := fs.String("ref", "", "image reference, e.g. wayfabric.local/pause:3.10 (required)")
	out := fs.String("out", "", "image tarball to write (required)")
	user := fs.String("user", "65532:65532", "user the entrypoint runs as")
	port := fs.String("port", "", "port to declare as exposed, e.g. 8080/tcp")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" || *ref == "" || *out == "" {
		return fmt.Errorf("image: -bin, -ref and -out are required")
	}
	data, err := os.ReadFile(*bin)
	if err != nil {
		return err
	}
	file := "/" + filepath.Base(*bin)
	// A reproducible layer: one executable file, fixed timestamp and owner.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Name: file[1:], Mode: 0o755, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	})
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS = "linux"
	cfg.Architecture = runtime.GOARCH
	cfg.Created = v1.Time{Time: epoch}
	cfg.Config.Entrypoint = []string{file}
	cfg.Config.User = *user
	cfg.Config.Env = []string{"PATH=/"}
	if *port != "" {
		cfg.Config.ExposedPorts = map[string]struct{}{*port: {}}
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return err
	}
	tag, err := name.NewTag(*ref, name.WeakValidation)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	tmp := *out + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		return err
	}
	return os.Rename(tmp, *out)
}

// ---- pki ----

type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  crypto.Signer
}

func pkiCmd(args []string) error {
	fs := flag.NewFlagSet("pki", flag.ContinueOnError)
	dir := fs.String("dir", "", "output folder (required)")
	nodeIP := fs.String("node-ip", "", "node (and API server) address (required)")
	nodeName := fs.String("node-name", "", "node name (required)")
	serviceIP := fs.String("service-ip", "", "first address of the service range, the kubernetes Service (required)")
	server := fs.String("server", "", "API server URL written into the kubeconfigs (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *nodeIP == "" || *nodeName == "" || *serviceIP == "" || *server == "" {
		return fmt.Errorf("pki: -dir, -node-ip, -node-name, -service-ip and -server are required")
	}
	nip, sip := net.ParseIP(*nodeIP), net.ParseIP(*serviceIP)
	if nip == nil || sip == nil {
		return fmt.Errorf("pki: bad -node-ip or -service-ip")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	p := &pki{dir: *dir}
	if err := p.newCA(); err != nil {
		return err
	}
	type leaf struct {
		file   string
		cn     string
		orgs   []string
		server bool
		dns    []string
		ips    []net.IP
	}
	leaves := []leaf{
		{file: "apiserver", cn: "kube-apiserver", server: true,
			dns: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "localhost", *nodeName},
			ips: []net.IP{nip, sip, net.IPv4(127, 0, 0, 1)}},
		{file: "kubelet", cn: "system:node:" + *nodeName, server: true, dns: []string{*nodeName, "localhost"}, ips: []net.IP{nip, net.IPv4(127, 0, 0, 1)}},
		{file: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}},
		{file: "admin", cn: "wayfabric-admin", orgs: []string{"system:masters"}},
		{file: "controller-manager", cn: "system:kube-controller-manager"},
		{file: "scheduler", cn: "system:kube-scheduler"},
		{file: "kube-proxy", cn: "system:kube-proxy"},
		{file: "kubelet-client", cn: "system:node:" + *nodeName, orgs: []string{"system:nodes"}},
	}
	for _, l := range leaves {
		if err := p.newLeaf(l.file, l.cn, l.orgs, l.server, l.dns, l.ips); err != nil {
			return err
		}
	}
	// Service-account token signing key pair (RS256).
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(*dir, "sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey), 0o600); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(*dir, "sa.pub"), "PUBLIC KEY", pub, 0o644); err != nil {
		return err
	}
	for file, user := range map[string]string{
		"admin": "wayfabric-admin", "controller-manager": "system:kube-controller-manager",
		"scheduler": "system:kube-scheduler", "kube-proxy": "system:kube-proxy", "kubelet-client": "system:node:" + *nodeName,
	} {
		if err := p.kubeconfig(file, user, *server); err != nil {
			return err
		}
	}
	return nil
}

func (p *pki) newCA() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "wayfabric-local-cluster-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	p.caCert, _ = x509.ParseCertificate(der)
	p.caKey = key
	if err := writePEM(filepath.Join(p.dir, "ca.crt"), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	return writeKey(filepath.Join(p.dir, "ca.key"), key)
}

func (p *pki) newLeaf(file, cn string, orgs []string, server bool, dns []string, ips []net.IP) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(p.dir, file+".crt"), "CERTIFICATE", der, 0o644); err != nil {
		return err
	}
	return writeKey(filepath.Join(p.dir, file+".key"), key)
}

// kubeconfig writes <file>.kubeconfig with the CA and the client certificate
// embedded, so the file can be copied anywhere on this machine.
func (p *pki) kubeconfig(file, user, server string) error {
	read := func(f string) (string, error) {
		b, err := os.ReadFile(filepath.Join(p.dir, f))
		return base64.StdEncoding.EncodeToString(b), err
	}
	ca, err := read("ca.crt")
	if err != nil {
		return err
	}
	crt, err := read(file + ".crt")
	if err != nil {
		return err
	}
	key, err := read(file + ".key")
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: wayfabric-local
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: wayfabric-local
  context:
    cluster: wayfabric-local
    user: %s
current-context: wayfabric-local
`, server, ca, user, crt, key, user)
	return os.WriteFile(filepath.Join(p.dir, file+".kubeconfig"), []byte(cfg), 0o600)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
