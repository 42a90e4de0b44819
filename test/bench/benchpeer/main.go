// Command benchpeer plays the mesh around a proxy under test in
// test/bench/waypoint.sh, so that every proxy gets the same TLS work:
//
//	benchpeer certs DIR                      a CA and mTLS certificates (PEM) for every party
//	benchpeer client -listen A -hbone P ...  plain TCP in, one HBONE stream out per connection (a client ztunnel)
//	benchpeer client -listen A -tls P ...    plain TCP in, one mutual-TLS connection out per connection
//	benchpeer server -listen A -to B ...     HBONE in, plain TCP to B (the destination's ztunnel)
//
// It runs on the load generator's CPU; only the proxy's CPU is measured.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/identity"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: benchpeer certs|client|server ...")
	}
	var err error
	switch os.Args[1] {
	case "certs":
		if len(os.Args) != 3 {
			log.Fatal("usage: benchpeer certs DIR")
		}
		err = writeCerts(os.Args[2])
	case "client":
		err = client(os.Args[2:])
	case "server":
		err = server(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

// parties: file name → SPIFFE identity. Every certificate also names
// localhost and 127.0.0.1, so nginx and HAProxy can verify them as usual.
var parties = map[string]string{
	"client":   "spiffe://cluster.local/ns/bench/sa/client",
	"proxy":    "spiffe://cluster.local/ns/bench/sa/wp",
	"upstream": "spiffe://cluster.local/ns/bench/sa/backend",
}

func writeCerts(dir string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	if err := writePEM(filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER); err != nil {
		return err
	}
	serial := int64(2)
	for name, uri := range parties {
		id, err := identity.Parse(uri)
		if err != nil {
			return err
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(47 * time.Hour),
			URIs: []*url.URL{id.URL()}, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		serial++
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, name+".pem"), "CERTIFICATE", der); err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, name+".key"), "PRIVATE KEY", keyDER); err != nil {
			return err
		}
	}
	return nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// loadParty reads DIR/name.pem and .key and the trust bundle DIR/ca.pem.
func loadParty(dir, name string) (identity.ID, identity.CertProvider, *identity.Bundle, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key"))
	if err != nil {
		return identity.ID{}, nil, nil, err
	}
	if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
		return identity.ID{}, nil, nil, err
	}
	id, err := identity.FromCertificate(cert.Leaf)
	if err != nil {
		return identity.ID{}, nil, nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return identity.ID{}, nil, nil, err
	}
	roots, err := identity.ParseCertificatesPEM(caPEM)
	if err != nil {
		return identity.ID{}, nil, nil, err
	}
	return id, identity.StaticCerts{id: &cert}, identity.NewBundle(roots...), nil
}

func client(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "plain TCP listen address")
	dir := fs.String("certs", "", "directory written by `benchpeer certs`")
	hboneAddr := fs.String("hbone", "", "HBONE endpoint (the waypoint) to tunnel to")
	target := fs.String("target", "", "with -hbone: CONNECT target ip:port")
	peer := fs.String("peer", parties["proxy"], "with -hbone: identity the HBONE endpoint must prove")
	tlsAddr := fs.String("tls", "", "mutual-TLS endpoint (nginx, HAProxy) to connect to")
	_ = fs.Parse(args)
	self, certs, bundle, err := loadParty(*dir, "client")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	var dial func(ctx context.Context) (net.Conn, error)
	switch {
	case *hboneAddr != "":
		peerID, err := identity.Parse(*peer)
		if err != nil {
			return err
		}
		hc, err := hbone.NewClient(hbone.ClientConfig{Certs: certs, Bundle: bundle})
		if err != nil {
			return err
		}
		req := hbone.DialRequest{SourceIdentity: self, PeerIdentity: peerID}
		if req.Target, err = netip.ParseAddrPort(*target); err != nil {
			return fmt.Errorf("-target: %w", err)
		}
		if req.Proxy, err = netip.ParseAddrPort(*hboneAddr); err != nil {
			return fmt.Errorf("-hbone: %w", err)
		}
		dial = func(ctx context.Context) (net.Conn, error) { return hc.Dial(ctx, req) }
	case *tlsAddr != "":
		cert, _ := certs.GetCertificate(context.Background(), self)
		cfg := &tls.Config{
			MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{*cert},
			RootCAs: bundle.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"},
		}
		dial = func(ctx context.Context) (net.Conn, error) {
			return (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", *tlsAddr)
		}
	default:
		return errors.New("need -hbone or -tls")
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			up, err := dial(context.Background())
			if err != nil {
				log.Print(err)
				return
			}
			defer up.Close()
			_ = hbone.Splice(c, up)
		}()
	}
}

func server(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:15008", "HBONE listen address")
	dir := fs.String("certs", "", "directory written by `benchpeer certs`")
	to := fs.String("to", "", "plain TCP address every tunnel goes to")
	_ = fs.Parse(args)
	self, certs, bundle, err := loadParty(*dir, "upstream")
	if err != nil {
		return err
	}
	srv, err := hbone.NewServer(hbone.ServerConfig{TLS: identity.ServerTLS{
		Certs: certs, Bundle: bundle, LocalID: self, Authorize: identity.InTrustDomain("cluster.local"),
	}.Config()}, hbone.DialTarget{Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, *to)
	}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	return srv.Serve(ln)
}
