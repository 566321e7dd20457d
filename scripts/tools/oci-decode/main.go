// oci-decode reads OCI manifests the way oras and containerd do (encoding/json into image-spec's
// types) for modelgate's differential test. Input: one document per line, base64 (standard, padded).
// Output: one JSON line per document with what each of the Manifest and Index types decoded.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

type manifestResult struct {
	OK           bool              `json:"ok"`
	Error        string            `json:"error,omitempty"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Schema       int               `json:"schemaVersion"`
	Config       v1.Descriptor     `json:"config"`
	Layers       []v1.Descriptor   `json:"layers"`
	Subject      *v1.Descriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

type indexResult struct {
	OK           bool              `json:"ok"`
	Error        string            `json:"error,omitempty"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Schema       int               `json:"schemaVersion"`
	Manifests    []v1.Descriptor   `json:"manifests"`
	Subject      *v1.Descriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

type result struct {
	Input    string         `json:"input,omitempty"`
	Manifest manifestResult `json:"manifest"`
	Index    indexResult    `json:"index"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var r result
		doc, err := base64.StdEncoding.DecodeString(in.Text())
		if err != nil {
			r.Input = err.Error()
		} else {
			var m v1.Manifest
			if err := json.Unmarshal(doc, &m); err != nil {
				r.Manifest.Error = err.Error()
			} else {
				r.Manifest = manifestResult{OK: true, MediaType: m.MediaType, ArtifactType: m.ArtifactType,
					Schema: m.SchemaVersion, Config: m.Config, Layers: m.Layers, Subject: m.Subject,
					Annotations: m.Annotations}
			}
			var x v1.Index
			if err := json.Unmarshal(doc, &x); err != nil {
				r.Index.Error = err.Error()
			} else {
				r.Index = indexResult{OK: true, MediaType: x.MediaType, ArtifactType: x.ArtifactType,
					Schema: x.SchemaVersion, Manifests: x.Manifests, Subject: x.Subject, Annotations: x.Annotations}
			}
		}
		if err := enc.Encode(&r); err != nil {
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
