// Command mangen prints tcptop(1), generated from the command line's kong
// model; `make man` writes it to bin/tcptop.1.
package main

import (
	"fmt"
	"os"

	"github.com/tcptop/tcptop/internal/cli"
)

func main() {
	if err := cli.WriteManPage(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "mangen: %v\n", err)
		os.Exit(1)
	}
}
