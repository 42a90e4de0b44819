package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// portList is a repeatable integer flag (--port=8080 --port=8443).
type portList []int

func (p *portList) String() string { return fmt.Sprint(*p) }

func (p *portList) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q is not a port", v)
	}
	*p = append(*p, n)
	return nil
}

type serverOptions struct {
	http, grpc, tcp, tls portList
	crt, key, version    string
	cluster              string
}

func parseServerFlags(args []string) (serverOptions, error) {
	var o serverOptions
	fs := flag.NewFlagSet("echo-advanced", flag.ContinueOnError)
	fs.Var(&o.http, "port", "HTTP port (repeatable)")
	fs.Var(&o.grpc, "grpc", "gRPC port (repeatable)")
	fs.Var(&o.tcp, "tcp", "TCP echo port (repeatable)")
	fs.Var(&o.tls, "tls", "ports among the others that serve TLS (repeatable)")
	fs.StringVar(&o.crt, "crt", "", "TLS certificate file; a self-signed one when missing")
	fs.StringVar(&o.key, "key", "", "TLS key file")
	fs.StringVar(&o.version, "version", "", "ServiceVersion to report")
	fs.StringVar(&o.cluster, "cluster", "", "Cluster to report")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if len(o.http)+len(o.grpc)+len(o.tcp) == 0 {
		o.http = portList{8080}
	}
	return o, nil
}

func runServer(args []string) error {
	o, err := parseServerFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var tlsCfg *tls.Config
	if len(o.tls) > 0 {
		if tlsCfg, err = serverTLS(o.crt, o.key); err != nil {
			return err
		}
	}
	isTLS := func(p int) bool {
		for _, t := range o.tls {
			if t == p {
				return true
			}
		}
		return false
	}
	errc := make(chan error, len(o.http)+len(o.grpc)+len(o.tcp))
	var closers []func()
	for _, p := range o.http {
		ln, err := listen(p, isTLS(p), tlsCfg)
		if err != nil {
			return err
		}
		protos := new(http.Protocols)
		protos.SetHTTP1(true)
		protos.SetUnencryptedHTTP2(true)
		protos.SetHTTP2(true)
		srv := &http.Server{Handler: httpEcho{o: o, port: p}, Protocols: protos, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: log.New(io.Discard, "", 0)}
		closers = append(closers, func() { _ = srv.Close() })
		go func() { errc <- srv.Serve(ln) }()
	}
	for _, p := range o.grpc {
		ln, err := listen(p, isTLS(p), tlsCfg)
		if err != nil {
			return err
		}
		srv := grpc.NewServer(grpc.ForceServerCodec(wireCodec{}))
		srv.RegisterService(&echoServiceDesc, grpcEcho{o: o, port: p})
		closers = append(closers, srv.Stop)
		go func() { errc <- srv.Serve(ln) }()
	}
	for _, p := range o.tcp {
		ln, err := listen(p, isTLS(p), tlsCfg)
		if err != nil {
			return err
		}
		closers = append(closers, func() { _ = ln.Close() })
		go func() { errc <- serveTCP(ln, o, p) }()
	}
	fmt.Fprintf(os.Stderr, "echo-advanced serving: http %v grpc %v tcp %v tls %v\n", o.http, o.grpc, o.tcp, o.tls)
	select {
	case <-ctx.Done():
		err = nil
	case err = <-errc:
	}
	for _, c := range closers {
		c()
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func listen(port int, useTLS bool, cfg *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	if useTLS {
		return tls.NewListener(ln, cfg), nil
	}
	return ln, nil
}

// httpEcho answers every request with the echo body.
type httpEcho struct {
	o    serverOptions
	port int
}

func (h httpEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	var b bytes.Buffer
	writeField(&b, fieldServiceVersion, h.o.version)
	writeField(&b, fieldServicePort, strconv.Itoa(h.port))
	writeField(&b, fieldStatusCode, "200")
	writeField(&b, fieldURL, r.URL.RequestURI())
	writeField(&b, fieldHost, r.Host)
	writeField(&b, fieldCluster, h.o.cluster)
	writeField(&b, fieldMethod, r.Method)
	writeField(&b, fieldProto, r.Proto)
	writeField(&b, fieldIP, remoteIP(r.RemoteAddr))
	alpn := ""
	if r.TLS != nil {
		alpn = r.TLS.NegotiatedProtocol
	}
	writeField(&b, fieldAlpn, alpn)
	writeHeaders(&b, fieldRequestHeader, r.Header)
	writeField(&b, fieldHostname, hostname())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// grpcEcho answers Echo with the echo body in the response message.
type grpcEcho struct {
	o    serverOptions
	port int
}

func (g grpcEcho) echo(ctx context.Context, in *echoMessage) (*echoMessage, error) {
	var b bytes.Buffer
	writeField(&b, fieldServiceVersion, g.o.version)
	writeField(&b, fieldServicePort, strconv.Itoa(g.port))
	writeField(&b, fieldStatusCode, "200")
	md, _ := metadata.FromIncomingContext(ctx)
	if a := md.Get(":authority"); len(a) > 0 {
		writeField(&b, fieldHost, a[0])
	}
	writeField(&b, fieldCluster, g.o.cluster)
	writeField(&b, fieldMethod, "POST")
	writeField(&b, fieldProto, "GRPC")
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		writeField(&b, fieldIP, remoteIP(p.Addr.String()))
	}
	h := http.Header{}
	for k, vs := range md {
		if !strings.HasPrefix(k, ":") {
			h[http.CanonicalHeaderKey(k)] = vs
		}
	}
	writeHeaders(&b, fieldRequestHeader, h)
	writeField(&b, fieldEcho, in.Message)
	writeField(&b, fieldHostname, hostname())
	return &echoMessage{Message: b.String()}, nil
}

// serveTCP echoes each connection's bytes back after the fields naming the pod.
func serveTCP(ln net.Listener, o serverOptions, port int) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			var b bytes.Buffer
			writeField(&b, fieldServiceVersion, o.version)
			writeField(&b, fieldServicePort, strconv.Itoa(port))
			writeField(&b, fieldStatusCode, "200")
			writeField(&b, fieldHostname, hostname())
			_ = c.SetDeadline(time.Now().Add(time.Minute))
			buf := make([]byte, 32<<10)
			n, err := c.Read(buf)
			if n > 0 {
				writeField(&b, fieldEcho, strings.TrimRight(string(buf[:n]), "\r\n"))
			}
			_, _ = c.Write(b.Bytes())
			if err == nil {
				_, _ = io.Copy(c, c)
			}
		}()
	}
}

func remoteIP(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// serverTLS loads crt/key, or makes a self-signed certificate when the files
// are absent: the upstream image bakes /cert.crt and /cert.key in; the suite
// only needs the port to speak TLS, never a particular certificate.
func serverTLS(crt, key string) (*tls.Config, error) {
	if crt != "" && key != "" {
		if cert, err := tls.LoadX509KeyPair(crt, key); err == nil {
			return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("loading %s and %s: %w", crt, key, err)
		}
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: hostname()},
		DNSNames: []string{"*", hostname()}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: k}}, NextProtos: []string{"h2", "http/1.1"}}, nil
}
