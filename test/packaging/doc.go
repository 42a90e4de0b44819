// Package packaging tests what Wayfabric ships: the kustomize install
// (config/default), the OLM bundle (bundle/) and the container images built by
// hack/images. The tests run offline and need neither Docker nor operator-sdk.
package packaging
