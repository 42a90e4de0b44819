package waypoint

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/wayfabric/wayfabric/proxy/hbone"
	"github.com/wayfabric/wayfabric/proxy/internal/loopback"
)

// grpcBackend is a real gRPC server (grpc-go, HTTP/2 without TLS) serving
// the standard health service; every answer names the backend in the
// x-backend header and echoes the request's x-rule metadata.
func grpcBackend(t *testing.T, name string) netip.AddrPort {
	t.Helper()
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-backend", name, "x-rule-seen", firstOf(md.Get("x-rule"))))
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	l := loopback.Listen(t)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return netip.MustParseAddrPort(l.Addr().String())
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func grpcRouteRule(svc, method string, hdr map[string]string, backends ...gwv1.GRPCBackendRef) gwv1.GRPCRouteRule {
	m := gwv1.GRPCRouteMatch{Method: &gwv1.GRPCMethodMatch{Service: ptr.To(svc)}}
	if method != "" {
		m.Method.Method = ptr.To(method)
	}
	for k, v := range hdr {
		m.Headers = append(m.Headers, gwv1.GRPCHeaderMatch{Name: gwv1.GRPCHeaderName(k), Value: v})
	}
	return gwv1.GRPCRouteRule{Matches: []gwv1.GRPCRouteMatch{m}, BackendRefs: backends}
}

func grpcBackendRef(name string, weight int32) gwv1.GRPCBackendRef {
	return gwv1.GRPCBackendRef{BackendRef: backendRef("app", name, weight).BackendRef}
}

// TestGRPCRouteThroughTheWaypoint runs grpc-go clients against grpc-go
// servers through the waypoint, over h2c and over HBONE: method and header
// matches, weights, header modifiers, and the gRPC statuses the spec asks
// for when no rule matches (UNIMPLEMENTED) or the backend is invalid
// (UNAVAILABLE).
func TestGRPCRouteThroughTheWaypoint(t *testing.T) {
	w := newWorld()
	web := w.service("app", "web", "grpc")
	w.service("app", "v1", "grpc", grpcBackend(t, "v1"))
	w.service("app", "v2", "grpc", grpcBackend(t, "v2"))
	w.in.Namespaces[0].Labels["mesh.wayfabric.io/dataplane-mode"] = "" // backends reached in plain TCP here
	canary := grpcRouteRule("grpc.health.v1.Health", "Check", map[string]string{"x-canary": "yes"}, grpcBackendRef("v2", 1))
	canary.Filters = []gwv1.GRPCRouteFilter{
		{Type: gwv1.GRPCRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gwv1.HTTPHeaderFilter{Set: []gwv1.HTTPHeader{{Name: "x-rule", Value: "canary"}}}},
		{Type: gwv1.GRPCRouteFilterResponseHeaderModifier, ResponseHeaderModifier: &gwv1.HTTPHeaderFilter{Add: []gwv1.HTTPHeader{{Name: "x-route", Value: "canary"}}}},
	}
	broken := grpcRouteRule("broken.Svc", "", nil, gwv1.GRPCBackendRef{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "nope", Port: ptr.To[int32](80)}}})
	w.in.GRPCRoutes = []*gwv1.GRPCRoute{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "g"},
		Spec: gwv1.GRPCRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Group: ptr.To[gwv1.Group](""), Kind: ptr.To[gwv1.Kind]("Service"), Name: "web"}}},
			Rules: []gwv1.GRPCRouteRule{
				canary,
				grpcRouteRule("grpc.health.v1.Health", "", nil, grpcBackendRef("v1", 70), grpcBackendRef("v2", 30)),
				broken,
			},
		},
	}}

	// A tunnel-less client (h2c straight to the proxy's stream listener) and
	// one whose connections are HBONE tunnels from a node proxy.
	m := startMeshWaypoint(t, w)
	direct, _ := listenProxy(t, m.p, web)
	tunnels := hboneClient(t, m.ca, ztunnelID)
	dialers := map[string]func(context.Context, string) (net.Conn, error){
		"h2c": func(ctx context.Context, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", direct)
		},
		"HBONE": func(ctx context.Context, _ string) (net.Conn, error) {
			return tunnels.Dial(ctx, hbone.DialRequest{Target: web, Proxy: m.addr, SourceIdentity: ztunnelID, PeerIdentity: waypointID})
		},
	}
	for name, dial := range dialers {
		t.Run(name, func(t *testing.T) {
			conn, err := grpc.NewClient("passthrough:///web", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(dial))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			hc := healthpb.NewHealthClient(conn)
			call := func(md ...string) (metadata.MD, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				ctx = metadata.AppendToOutgoingContext(ctx, md...)
				var hdr metadata.MD
				_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr))
				return hdr, err
			}

			hdr, err := call("x-canary", "yes")
			if err != nil || firstOf(hdr.Get("x-backend")) != "v2" || firstOf(hdr.Get("x-rule-seen")) != "canary" || firstOf(hdr.Get("x-route")) != "canary" {
				t.Errorf("method + header match: err %v, header %v; want v2 with the request and response modifiers applied", err, hdr)
			}

			counts := map[string]int{}
			const n = 200
			for range n {
				hdr, err := call()
				if err != nil {
					t.Fatalf("weighted call: %v", err)
				}
				counts[firstOf(hdr.Get("x-backend"))]++
			}
			// 70/30 over 200 calls: 140 expected, ±30 is more than 4 standard deviations.
			if counts["v1"] < 110 || counts["v1"] > 170 || counts["v1"]+counts["v2"] != n {
				t.Errorf("weights 70/30: got %v", counts)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = conn.Invoke(ctx, "/unknown.Svc/Do", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
			if status.Code(err) != codes.Unimplemented {
				t.Errorf("no matching rule: %v, want UNIMPLEMENTED", err)
			}
			err = conn.Invoke(ctx, "/broken.Svc/Do", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{})
			if status.Code(err) != codes.Unavailable {
				t.Errorf("invalid backendRef: %v, want UNAVAILABLE", err)
			}
		})
	}
}
