// Command tcptop shows what every TCP connection and UDP flow on a Linux
// host is doing, tick by tick. See internal/cli for the command itself.
package main

import (
	"os"

	"github.com/tcptop/tcptop/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
