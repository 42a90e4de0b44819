package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// headerList is the repeatable -H name:value flag (curl syntax; "Host" sets
// the authority).
type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ",") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

type clientOptions struct {
	url             string
	count           int
	timeout         time.Duration
	method          string
	headers         headerList
	http2           bool
	followRedirects bool
	msg             string
}

// parseClientFlags accepts the URL before, between or after the flags, as
// the suite passes it first ("client http://echo/ --method=GET ...").
func parseClientFlags(args []string) (clientOptions, error) {
	o := clientOptions{count: 1, timeout: 5 * time.Second, msg: "HelloWorld"}
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.IntVar(&o.count, "count", 1, "number of requests to send, one after the other")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "timeout of each request")
	fs.StringVar(&o.method, "method", "", "HTTP method (default GET)")
	fs.Var(&o.headers, "H", "request header name:value (repeatable; Host sets the authority)")
	fs.Var(&o.headers, "header", "same as -H")
	fs.BoolVar(&o.http2, "http2", false, "HTTP/2 with prior knowledge (h2c) for http:// URLs")
	fs.BoolVar(&o.followRedirects, "L", false, "follow redirects")
	fs.BoolVar(&o.followRedirects, "follow-redirects", false, "follow redirects")
	fs.StringVar(&o.msg, "msg", o.msg, "message sent in gRPC and TCP requests")
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if o.url != "" {
			return o, fmt.Errorf("more than one URL: %q and %q", o.url, args[0])
		}
		o.url, args = args[0], args[1:]
	}
	switch {
	case o.url == "":
		return o, errors.New("usage: client URL [--count N] [--method M] [-H name:value]... [--timeout D] [--http2] [-L]")
	case o.count < 1:
		return o, errors.New("--count must be at least 1")
	}
	if !strings.Contains(o.url, "://") {
		o.url = "http://" + o.url // as curl does
	}
	for _, h := range o.headers {
		if k, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(k) == "" {
			return o, fmt.Errorf("header %q: want name:value", h)
		}
	}
	return o, nil
}

// request sends one request; its output block is written to out even when
// the request fails.
type requester func(ctx context.Context, id int, out *bytes.Buffer) error

func runClient(args []string, stdout io.Writer) error {
	o, err := parseClientFlags(args)
	if err != nil {
		return err
	}
	u, err := url.Parse(o.url)
	if err != nil {
		return fmt.Errorf("url %q: %w", o.url, err)
	}
	var do requester
	switch u.Scheme {
	case "http", "https":
		do = httpRequester(o)
	case "grpc", "grpcs":
		var closeConn func()
		if do, closeConn, err = grpcRequester(o, u); err != nil {
			return err
		}
		defer closeConn()
	case "tcp":
		do = tcpRequester(o, u)
	default:
		return fmt.Errorf("unsupported scheme %q (http, https, grpc, grpcs, tcp)", u.Scheme)
	}
	var failures []error
	for i := range o.count {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
		err := do(ctx, i, &out)
		cancel()
		// Each response is a block followed by a blank line, the separator the
		// suite's batch parser splits on.
		fmt.Fprintln(stdout, out.String())
		if err != nil {
			failures = append(failures, fmt.Errorf("request %d: %w", i, err))
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d of %d requests failed: %w", len(failures), o.count, failures[0])
	}
	return nil
}

func splitHeader(h string) (string, string) {
	k, v, _ := strings.Cut(h, ":")
	return strings.TrimSpace(k), strings.TrimSpace(v)
}

func httpRequester(o clientOptions) requester {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 4} // test client: the echo's certificate is self-signed
	if o.http2 {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
		tr.Protocols.SetHTTP2(true)
	}
	c := &http.Client{Transport: tr}
	if !o.followRedirects {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	method := o.method
	if method == "" {
		method = http.MethodGet
	}
	return func(ctx context.Context, id int, out *bytes.Buffer) error {
		fmt.Fprintf(out, "[%d] Url=%s\n", id, o.url)
		req, err := http.NewRequestWithContext(ctx, method, o.url, nil)
		if err != nil {
			return err
		}
		for _, h := range o.headers {
			k, v := splitHeader(h)
			if strings.EqualFold(k, "Host") {
				req.Host = v
			} else {
				req.Header.Add(k, v)
			}
			fmt.Fprintf(out, "[%d] Header=%s:%s\n", id, k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		fmt.Fprintf(out, "[%d] %s=%d\n", id, fieldStatusCode, resp.StatusCode)
		var hb bytes.Buffer
		writeHeaders(&hb, fieldResponseHeader, resp.Header)
		for _, l := range bodyLines(hb.String()) {
			fmt.Fprintf(out, "[%d] %s\n", id, l)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		for _, l := range bodyLines(string(body)) {
			fmt.Fprintf(out, "[%d body] %s\n", id, l)
		}
		return err
	}
}

func grpcRequester(o clientOptions, u *url.URL) (requester, func(), error) {
	creds := insecure.NewCredentials()
	if u.Scheme == "grpcs" {
		creds = credentials.NewTLS(&tls.Config{InsecureSkipVerify: true}) // test client, self-signed echo
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds), grpc.WithDefaultCallOptions(grpc.ForceCodec(wireCodec{}))}
	md := metadata.MD{}
	for _, h := range o.headers {
		k, v := splitHeader(h)
		if strings.EqualFold(k, "Host") {
			opts = append(opts, grpc.WithAuthority(v))
			continue
		}
		md.Append(strings.ToLower(k), v)
	}
	// passthrough: resolve with the system resolver at dial time, as the
	// pod's other clients do (search domains of resolv.conf included).
	conn, err := grpc.NewClient("passthrough:///"+host, opts...)
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, id int, out *bytes.Buffer) error {
		fmt.Fprintf(out, "[%d] grpcecho.Echo(%s)\n", id, o.msg)
		var hdr metadata.MD
		resp := new(echoMessage)
		callCtx := metadata.NewOutgoingContext(ctx, md)
		if err := conn.Invoke(callCtx, echoMethod, &echoMessage{Message: o.msg}, resp, grpc.Header(&hdr)); err != nil {
			return err
		}
		for _, l := range bodyLines(resp.Message) {
			fmt.Fprintf(out, "[%d body] %s\n", id, l)
		}
		h := http.Header{}
		for k, vs := range hdr {
			h[http.CanonicalHeaderKey(k)] = vs
		}
		var hb bytes.Buffer
		writeHeaders(&hb, fieldResponseHeader, h)
		for _, l := range bodyLines(hb.String()) {
			fmt.Fprintf(out, "[%d] %s\n", id, l)
		}
		return nil
	}, func() { _ = conn.Close() }, nil
}

func tcpRequester(o clientOptions, u *url.URL) requester {
	return func(ctx context.Context, id int, out *bytes.Buffer) error {
		fmt.Fprintf(out, "[%d] Url=%s\n", id, o.url)
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return err
		}
		defer c.Close()
		if d, ok := ctx.Deadline(); ok {
			_ = c.SetDeadline(d)
		}
		if _, err := io.WriteString(c, o.msg+"\n"); err != nil {
			return err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		body, err := io.ReadAll(c)
		for _, l := range bodyLines(string(body)) {
			fmt.Fprintf(out, "[%d body] %s\n", id, l)
		}
		return err
	}
}
