// docker-model packages a model directory the way `docker model package` does, with Docker's own
// model-distribution packages (github.com/docker/model-runner/pkg/distribution): the safetensors
// files become `application/vnd.docker.ai.safetensors` layers, the directory's config and tokenizer
// files one `application/vnd.docker.ai.vllm.config.tar` layer, each --license file an
// `application/vnd.docker.ai.license` layer, under an `application/vnd.docker.ai.model.config.v0.1+json`
// config. Its own CLI is a thin wrapper because the module's tool (cmd/mdltool) cannot be
// `go install`ed (its go.mod has a replace directive). INSECURE_REGISTRY=true allows plain HTTP.
//
// Usage: docker-model package DIR --tag REGISTRY/REPO:TAG [--license FILE]... [--chat-template FILE]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/docker/model-runner/pkg/distribution/builder"
	"github.com/docker/model-runner/pkg/distribution/packaging"
	"github.com/docker/model-runner/pkg/distribution/registry"
)

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	if len(os.Args) < 2 || os.Args[1] != "package" {
		fmt.Fprintln(os.Stderr, "usage: docker-model package DIR --tag REF [--license FILE]... [--chat-template FILE]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("package", flag.ExitOnError)
	var licenses files
	tag := fs.String("tag", "", "registry reference to push to")
	chatTemplate := fs.String("chat-template", "", "Jinja chat template file")
	fs.Var(&licenses, "license", "license file (repeatable)")
	// Flags may follow the directory, as with docker model package.
	args := os.Args[2:]
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		os.Exit(2)
	}
	if dir == "" && fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	if dir == "" || *tag == "" {
		fmt.Fprintln(os.Stderr, "a model directory and --tag are required")
		os.Exit(2)
	}
	if err := pack(dir, *tag, licenses, *chatTemplate); err != nil {
		fmt.Fprintln(os.Stderr, "docker-model:", err)
		os.Exit(1)
	}
}

func pack(dir, tag string, licenses []string, chatTemplate string) error {
	weights, configArchive, err := packaging.PackageFromDirectory(dir)
	if err != nil {
		return fmt.Errorf("scanning %s: %w", dir, err)
	}
	if configArchive != "" {
		defer os.Remove(configArchive)
	}
	b, err := builder.FromSafetensors(weights)
	if err != nil {
		return err
	}
	if configArchive != "" {
		if b, err = b.WithConfigArchive(configArchive); err != nil {
			return err
		}
	}
	for _, l := range licenses {
		if b, err = b.WithLicense(l); err != nil {
			return err
		}
	}
	if chatTemplate != "" {
		if b, err = b.WithChatTemplateFile(chatTemplate); err != nil {
			return err
		}
	}
	opts := []registry.ClientOption{registry.WithUserAgent("modelgate-tests")}
	if u, p := os.Getenv("DOCKER_USERNAME"), os.Getenv("DOCKER_PASSWORD"); u != "" && p != "" {
		opts = append(opts, registry.WithAuthConfig(u, p))
	}
	target, err := registry.NewClient(opts...).NewTarget(tag)
	if err != nil {
		return err
	}
	return b.Build(context.Background(), target, os.Stderr)
}
