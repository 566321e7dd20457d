// Command kube-apiserver is upstream's cmd/kube-apiserver, built from the Go module proxy. k8s.io/kubernetes
// cannot be `go install`ed (its go.mod replaces every staging module with a local folder), so this wrapper
// module requires it and replaces each staging module with its published v0.Y.Z instead (see go.mod).
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
