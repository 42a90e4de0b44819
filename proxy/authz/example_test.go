package authz_test

import (
	"fmt"
	"net/netip"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
	"github.com/wayfabric/wayfabric/proxy/authz"
	"github.com/wayfabric/wayfabric/proxy/identity"
)

// A destination ztunnel: compile the policies it watches once per change,
// pick each local pod's evaluator once per pod or policy change, and call
// L4 for every inbound HBONE CONNECT (refuse it with 403 when denied).
func ExampleEvaluator_L4() {
	policies := []*meshv1alpha1.AuthorizationPolicy{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-clients"},
		Spec: meshv1alpha1.AuthorizationPolicySpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Action:   meshv1alpha1.ActionAllow,
			Rules: []meshv1alpha1.AuthorizationRule{{
				From: []meshv1alpha1.RuleFrom{{Source: meshv1alpha1.Source{Principals: []meshv1alpha1.StringMatch{"cluster.local/ns/shop/sa/api"}}}},
				To:   []meshv1alpha1.RuleTo{{Operation: meshv1alpha1.Operation{Ports: []meshv1alpha1.PortNumber{"5432"}}}},
			}},
		},
	}}
	set := authz.Compile(policies, authz.Options{RootNamespace: "wayfabric-system"})
	db := set.ForWorkload(authz.Workload{Namespace: "shop", Labels: map[string]string{"app": "db"}})

	dst := netip.MustParseAddrPort("10.244.1.9:5432")
	for _, who := range []string{"spiffe://cluster.local/ns/shop/sa/api", "spiffe://cluster.local/ns/shop/sa/web"} {
		d := db.L4(&authz.L4Request{
			Source:      authz.Peer{Identity: identity.MustParse(who), IP: netip.MustParseAddr("10.244.2.4")},
			Destination: dst,
		})
		fmt.Println(who, d.Allowed, d.Reason)
	}

	// Through a waypoint: the tunnel's peer is the waypoint, and the original
	// client it carried across is the Origin.
	d := db.L4(&authz.L4Request{
		Source:      authz.Peer{Identity: identity.MustParse("spiffe://cluster.local/ns/shop/sa/waypoint"), IP: netip.MustParseAddr("10.244.3.3")},
		Origin:      authz.Peer{Identity: identity.MustParse("spiffe://cluster.local/ns/shop/sa/api"), IP: netip.MustParseAddr("10.244.2.4")},
		Destination: dst,
	})
	fmt.Println("api via waypoint", d.Allowed, d.Policy.Key, d.Rule)
	// Output:
	// spiffe://cluster.local/ns/shop/sa/api true allow_rule
	// spiffe://cluster.local/ns/shop/sa/web false no_allow_match
	// api via waypoint true shop/db-clients 0
}
