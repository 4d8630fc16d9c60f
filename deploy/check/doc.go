// Package check validates the deployment files in deploy/ that cannot run
// on a development machine: the container build file, the compose files
// and their ClickHouse configuration, the systemd unit and the Kubernetes
// manifests. It is a Go module of its own, so that the loaders it uses
// (compose-go, BuildKit's Dockerfile parser, kustomize and the Kubernetes
// API types) stay out of Ampel's go.mod. `make check-deploy` (part of
// `make test`) runs its tests.
package check
