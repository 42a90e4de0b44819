// Package ztunnel is the node proxy: it captures the TCP traffic of the
// node's enrolled pods inside their own network namespaces and carries it
// over HBONE with each pod's SPIFFE identity. It never parses HTTP.
// See docs/ztunnel.md.
package ztunnel
