// Command echo-advanced stands in for the upstream conformance suite's
// registry.k8s.io/gateway-api/echo-advanced image (Istio's echo app), which
// cannot be pulled here. It is one binary with two names:
//
//	echo-advanced --port=8080 --grpc=7070 --tcp=9090 --port=8443 --tls=8443 --crt=/cert.crt --key=/cert.key
//	client http://echo-v1/ --method=GET -H X-Foo:bar --count=500
//
// As a server (the image's entrypoint) it answers HTTP (HTTP/1.1 and h2c; TLS
// on the --tls ports), gRPC (proto.EchoTestService/Echo) and TCP with the
// key=value lines the suite parses (Hostname=<pod name>, StatusCode=200,
// RequestHeader=..., ...). As "client" (the name the suite runs with
// `kubectl exec`, a symlink in the image) it sends requests and prints each
// response in Istio's client format, responses separated by a blank line.
// docs/conformance.md lists which behaviours the suite relies on.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	var err error
	if filepath.Base(os.Args[0]) == "client" {
		err = runClient(os.Args[1:], os.Stdout)
	} else {
		err = runServer(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo-advanced:", err)
		os.Exit(1)
	}
}
