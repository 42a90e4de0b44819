// Command wayfabric-cni is Wayfabric's chained CNI plugin. The ztunnel
// installs it as the last plugin of the node's network configuration; on
// ADD it hands the new pod's network namespace to the node's ztunnel over
// the node socket and waits until the pod is captured, so an enrolled pod
// never sends a packet outside the mesh. See docs/ztunnel.md.
package main

import (
	"github.com/containernetworking/cni/pkg/skel"

	"github.com/wayfabric/wayfabric/cmd/internal/buildinfo"
	"github.com/wayfabric/wayfabric/proxy/ztunnel/cni"
)

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{Add: cmdAdd, Del: cmdDel, Check: cmdCheck},
		cni.SupportedVersions, buildinfo.String(cni.PluginType))
}
