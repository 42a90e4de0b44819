// Package controllers wires Wayfabric's reconcilers into a controller-runtime
// manager. Each reconciler lives in its own subpackage.
package controllers
