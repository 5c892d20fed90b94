// Package configtest checks the deployment files that cannot run on the
// development machines: the Kubernetes DaemonSet (decoded with the
// k8s.io/api types a cluster would use) and the Vector and Fluent Bit
// recipes (parsed and checked option by option against their documented
// names). It is a module of its own so that the main module does not
// depend on k8s.io/api; `make test` runs it.
package configtest
