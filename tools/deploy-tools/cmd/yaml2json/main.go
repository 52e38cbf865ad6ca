// Command yaml2json reads a multi-document YAML stream (helm template or
// kustomize build output) on stdin and writes the documents as one JSON
// array on stdout, converted the way kubectl converts manifests
// (sigs.k8s.io/yaml), strictly: a duplicate key is an error, not a silent
// overwrite. Empty documents are dropped. The deploy tests use it so that
// nothing between the renderer and the apiserver can drop or rename a field.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

func main() {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	docs := []json.RawMessage{}
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail(fmt.Errorf("document %d: %w", n, err))
		}
		out, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			fail(fmt.Errorf("document %d: %w", n, err))
		}
		if trimmed := bytes.TrimSpace(out); len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
			continue
		}
		docs = append(docs, out)
	}
	if err := json.NewEncoder(os.Stdout).Encode(docs); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "yaml2json: %v\n", err)
	os.Exit(1)
}
