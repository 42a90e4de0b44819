package ztunnel

import (
	"sort"

	meshv1alpha1 "github.com/wayfabric/wayfabric/api/v1alpha1"
)

// SelectorsOverlap reports whether some node could match both selectors:
// true unless a key they share has different values. An empty selector
// matches every node and so overlaps everything.
func SelectorsOverlap(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; ok && w != v {
			return false
		}
	}
	return true
}

// Arbitrate decides which ZtunnelConfigs may deploy. In order of creation
// (then name), a config is active unless it overlaps an earlier active one;
// the result maps each blocked config to the active config it clashes with.
// Configs being deleted take no part, so their nodes free up at once.
func Arbitrate(all []meshv1alpha1.ZtunnelConfig) map[string]string {
	live := make([]*meshv1alpha1.ZtunnelConfig, 0, len(all))
	for i := range all {
		if all[i].DeletionTimestamp.IsZero() {
			live = append(live, &all[i])
		}
	}
	sort.Slice(live, func(i, j int) bool {
		a, b := live[i], live[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	blocked := map[string]string{}
	var active []*meshv1alpha1.ZtunnelConfig
	for _, zc := range live {
		clash := ""
		for _, a := range active {
			if SelectorsOverlap(zc.Spec.NodeSelector, a.Spec.NodeSelector) {
				clash = a.Name
				break
			}
		}
		if clash != "" {
			blocked[zc.Name] = clash
			continue
		}
		active = append(active, zc)
	}
	return blocked
}
