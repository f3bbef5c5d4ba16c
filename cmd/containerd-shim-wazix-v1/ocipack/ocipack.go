// Package ocipack packs a WebAssembly module into an OCI image: one layer
// holding the .wasm file, an entrypoint naming it, written as an OCI image
// layout tarball that `ctr images import`, `skopeo copy oci-archive:` and
// similar tools take.
package ocipack

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"
	"time"
)

// Media types of the OCI image spec.
const (
	MediaIndex    = "application/vnd.oci.image.index.v1+json"
	MediaManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaConfig   = "application/vnd.oci.image.config.v1+json"
	MediaLayer    = "application/vnd.oci.image.layer.v1.tar"
)

// Image describes the image to write.
type Image struct {
	// Name is the image reference, e.g. "docker.io/library/hello:latest".
	Name string
	// Wasm is the module.
	Wasm []byte
	// Path is where the module lives in the image ("/app.wasm" if empty);
	// it becomes the entrypoint.
	Path string
	// Args are the default arguments (the image's Cmd).
	Args []string
	// Env is the default environment, KEY=VALUE.
	Env []string
	// OS and Arch are the image's platform; runtime.GOOS-like "linux" and
	// the host architecture if empty, which containerd's and the CRI's
	// default platform filters accept.
	OS, Arch string
	// Unchecked writes Wasm even if it is not a module (to test how a
	// runtime refuses such an image).
	Unchecked bool
}

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is an OCI platform.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// Index is an OCI image index (index.json).
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

// Manifest is an OCI image manifest.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Config is the part of an OCI image configuration this package writes.
type Config struct {
	Created      string    `json:"created"`
	Architecture string    `json:"architecture"`
	OS           string    `json:"os"`
	Config       RunConfig `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// RunConfig is the image's default process.
type RunConfig struct {
	Entrypoint []string `json:"Entrypoint"`
	Cmd        []string `json:"Cmd,omitempty"`
	Env        []string `json:"Env,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
}

// epoch is the time stamped on everything, so that the same input gives
// the same image digest.
var epoch = time.Unix(0, 0).UTC()

// Write writes img as an OCI image layout tarball to w.
func Write(w io.Writer, img Image) error {
	if !img.Unchecked && (len(img.Wasm) < 8 || string(img.Wasm[:4]) != "\x00asm") {
		return errors.New("not a WebAssembly module")
	}
	if img.Name == "" {
		return errors.New("image name is empty")
	}
	p := img.Path
	if p == "" {
		p = "/app.wasm"
	}
	p = path.Clean("/" + p)
	if p == "/" {
		return fmt.Errorf("bad module path %q", img.Path)
	}
	osName, arch := img.OS, img.Arch
	if osName == "" {
		osName = "linux"
	}
	if arch == "" {
		arch = runtime.GOARCH
	}

	layer, err := layerTar(strings.TrimPrefix(p, "/"), img.Wasm)
	if err != nil {
		return err
	}
	layerDesc := describe(MediaLayer, layer)

	var cfg Config
	cfg.Created = epoch.Format(time.RFC3339)
	cfg.Architecture, cfg.OS = arch, osName
	cfg.Config = RunConfig{Entrypoint: []string{p}, Cmd: img.Args, Env: img.Env, WorkingDir: "/"}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{layerDesc.Digest}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cfgDesc := describe(MediaConfig, cfgJSON)

	man, err := json.Marshal(Manifest{SchemaVersion: 2, MediaType: MediaManifest, Config: cfgDesc, Layers: []Descriptor{layerDesc}})
	if err != nil {
		return err
	}
	manDesc := describe(MediaManifest, man)
	manDesc.Platform = &Platform{Architecture: arch, OS: osName}
	manDesc.Annotations = map[string]string{
		"io.containerd.image.name":          img.Name,
		"org.opencontainers.image.ref.name": refName(img.Name),
	}
	index, err := json.Marshal(Index{SchemaVersion: 2, MediaType: MediaIndex, Manifests: []Descriptor{manDesc}})
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	files := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{blobPath(manDesc), man},
		{blobPath(cfgDesc), cfgJSON},
		{blobPath(layerDesc), layer},
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := writeFile(tw, f.name, f.data, 0o644); err != nil {
			return err
		}
	}
	return tw.Close()
}

// refName is the tag (or digest) part of a reference: what the OCI layout's
// org.opencontainers.image.ref.name carries.
func refName(name string) string {
	if i := strings.LastIndex(name, "@"); i >= 0 {
		return name[i+1:]
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[i+1:]
	}
	return "latest"
}

// layerTar is an uncompressed layer holding file (and its parent
// directories) with the given content.
func layerTar(file string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := strings.Split(file, "/")
	for i := 1; i < len(dirs); i++ {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.Join(dirs[:i], "/") + "/", Mode: 0o755, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	if err := writeFile(tw, file, data, 0o755); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeFile(tw *tar.Writer, name string, data []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func describe(mediaType string, b []byte) Descriptor {
	sum := sha256.Sum256(b)
	return Descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(b))}
}

func blobPath(d Descriptor) string {
	return "blobs/sha256/" + strings.TrimPrefix(d.Digest, "sha256:")
}
