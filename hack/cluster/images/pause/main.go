// Command pause is the local cluster's pod sandbox ("pause") process: it holds
// the pod's namespaces, reaps orphaned children when it is PID 1 of a shared
// process namespace, and exits on SIGINT or SIGTERM. It is built as a static
// binary and packed into the sandbox image by hack/cluster/tool.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		os.Stdout.WriteString("wayfabric pause\n")
		return
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGINT, syscall.SIGTERM)
	child := make(chan os.Signal, 8)
	signal.Notify(child, syscall.SIGCHLD)
	for {
		select {
		case <-term:
			os.Exit(0)
		case <-child:
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
