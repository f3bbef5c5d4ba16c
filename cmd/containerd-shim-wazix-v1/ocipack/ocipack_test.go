package ocipack

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

func readTar(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, _ := io.ReadAll(tr)
			files[h.Name] = data
		}
	}
}

// blob fetches a blob by descriptor and checks its digest and size.
func blob(t *testing.T, files map[string][]byte, d Descriptor) []byte {
	t.Helper()
	b, ok := files["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
	if !ok {
		t.Fatalf("blob %s missing", d.Digest)
	}
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != d.Digest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: digest or size mismatch", d.Digest)
	}
	return b
}

func TestWrite(t *testing.T) {
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	var buf bytes.Buffer
	img := Image{Name: "docker.io/you/app:v1", Wasm: wasm, Path: "bin/app.wasm", Args: []string{"serve"}, Env: []string{"A=1"}, OS: "linux", Arch: "amd64"}
	if err := Write(&buf, img); err != nil {
		t.Fatal(err)
	}
	files := readTar(t, buf.Bytes())
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Fatalf("oci-layout = %q", files["oci-layout"])
	}
	var idx Index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index: %v %+v", err, idx)
	}
	md := idx.Manifests[0]
	if md.Annotations["io.containerd.image.name"] != img.Name || md.Annotations["org.opencontainers.image.ref.name"] != "v1" {
		t.Fatalf("annotations %v", md.Annotations)
	}
	if md.Platform == nil || md.Platform.OS != "linux" || md.Platform.Architecture != "amd64" {
		t.Fatalf("platform %+v", md.Platform)
	}
	var man Manifest
	if err := json.Unmarshal(blob(t, files, md), &man); err != nil || len(man.Layers) != 1 {
		t.Fatalf("manifest: %v %+v", err, man)
	}
	var cfg Config
	if err := json.Unmarshal(blob(t, files, man.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Config.Entrypoint, []string{"/bin/app.wasm"}) || !reflect.DeepEqual(cfg.Config.Cmd, img.Args) || !reflect.DeepEqual(cfg.Config.Env, img.Env) {
		t.Fatalf("config %+v", cfg.Config)
	}
	layer := blob(t, files, man.Layers[0])
	if cfg.RootFS.DiffIDs[0] != man.Layers[0].Digest {
		t.Fatal("diff id of an uncompressed layer must be its digest")
	}
	if got := readTar(t, layer)["bin/app.wasm"]; !bytes.Equal(got, wasm) {
		t.Fatalf("layer holds %q", got)
	}

	// The same input gives the same bytes (and so the same image digest).
	var again bytes.Buffer
	if err := Write(&again, img); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Fatal("output is not reproducible")
	}
}

func TestWriteRefuses(t *testing.T) {
	for _, img := range []Image{
		{Name: "x:1", Wasm: []byte("#!/bin/sh")},
		{Name: "", Wasm: []byte("\x00asm\x01\x00\x00\x00")},
		{Name: "x:1", Wasm: []byte("\x00asm\x01\x00\x00\x00"), Path: "/"},
	} {
		if err := Write(io.Discard, img); err == nil {
			t.Errorf("Write(%+v) did not fail", img)
		}
	}
	if err := Write(io.Discard, Image{Name: "x:1", Wasm: []byte("text"), Unchecked: true}); err != nil {
		t.Errorf("Unchecked: %v", err)
	}
}

func TestRefName(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/a:v2":    "v2",
		"localhost:5000/a":          "latest",
		"localhost:5000/a:1":        "1",
		"a@sha256:0123":             "sha256:0123",
		"registry.example.com/ns/a": "latest",
	} {
		if got := refName(in); got != want {
			t.Errorf("refName(%q) = %q, want %q", in, got, want)
		}
	}
}
