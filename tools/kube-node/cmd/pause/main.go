// Command pause is the pod sandbox's process: it holds the pod's namespaces
// and does nothing else until it is told to stop. Kubernetes' own pause is a
// few lines of C; this is the same contract in Go, so the test environment
// builds it from source (registry.k8s.io is out of reach) into a one-file
// image that containerd uses as its sandbox_image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	// As PID 1 of the pod, reap orphaned children so none stay zombies.
	signal.Ignore(syscall.SIGCHLD)
	<-stop
}
