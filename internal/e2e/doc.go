// Package e2e runs the tcptop binary end to end: built once by TestMain
// (or named by TCPTOP_BIN in the kernel VMs), run as root against real
// traffic over loopback and network namespaces, its output checked for
// exact values. It has tests only; internal/cli's own tests cover the
// command line in-process.
package e2e
