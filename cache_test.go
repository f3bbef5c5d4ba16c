package wazix

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wazix/wazix/internal/wasmgen"
)

// cacheGuest imports n functions env.fI(i32) i32 and exports call_env_fI
// for each, so that a module loaded from the cache proves every function's
// offset was read right.
func cacheGuest(n int) []byte {
	var ims []wasmgen.Import
	for i := 0; i < n; i++ {
		ims = append(ims, wasmgen.Import{Module: "env", Name: fmt.Sprintf("f%d", i),
			Params: []api.ValueType{api.ValueTypeI32}, Results: []api.ValueType{api.ValueTypeI32}})
	}
	return wasmgen.Caller(ims, wasmgen.Options{})
}

func instantiateCacheEnv(t testing.TB, ctx context.Context, rt wazero.Runtime, n int) {
	b := rt.NewHostModuleBuilder("env")
	for i := 0; i < n; i++ {
		i := uint32(i)
		b.NewFunctionBuilder().WithFunc(func(x uint32) uint32 { return x*1000 + i }).Export(fmt.Sprintf("f%d", i))
	}
	if _, err := b.Instantiate(ctx); err != nil {
		t.Fatal(err)
	}
}

func fileCacheField(c wazero.CompilationCache) reflect.Type {
	f := reflect.ValueOf(c).Elem().FieldByName("fileCache")
	f = reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem()
	return f.Elem().Type()
}

func TestCompilationCacheBuffered(t *testing.T) {
	// 300 functions fit one buffer; with 9000, the table of function
	// offsets runs over the first buffer's end, so one 8-byte field
	// straddles two reads of the file.
	for _, n := range []int{300, 9000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testCompilationCacheBuffered(t, n) })
	}
}

func testCompilationCacheBuffered(t *testing.T, n int) {
	ctx := context.Background()
	dir := t.TempDir()
	wasm := cacheGuest(n)

	// Written by wazero's own cache, read back through ours: the files are
	// the same.
	c1, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	rt1 := wazero.NewRuntimeWithConfig(ctx, NewRuntimeConfig().WithCompilationCache(c1))
	if _, err := rt1.CompileModule(ctx, wasm); err != nil {
		t.Fatal(err)
	}
	rt1.Close(ctx)
	c1.Close(ctx)
	entries, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	if len(entries) == 0 {
		t.Fatalf("wazero wrote no cache entry under %s", dir)
	}

	c2, err := NewCompilationCacheWithDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	if got := fileCacheField(c2); got != reflect.TypeOf(bufferedFileCache{}) {
		t.Fatalf("file cache is %v, want bufferedFileCache (has wazero's cache changed?)", got)
	}
	// Loading must not write: make the entries read-only to the test's eyes
	// by checking their modification times afterwards.
	before := map[string]int64{}
	for _, e := range entries {
		st, _ := os.Stat(e)
		before[e] = st.ModTime().UnixNano()
	}
	rt2 := wazero.NewRuntimeWithConfig(ctx, NewRuntimeConfig().WithCompilationCache(c2))
	defer rt2.Close(ctx)
	compiled, err := rt2.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	instantiateCacheEnv(t, ctx, rt2, n)
	mod, err := rt2.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 137, n / 2, n - 1} {
		res, err := mod.ExportedFunction(fmt.Sprintf("call_env_f%d", i)).Call(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(7000 + i); res[0] != want {
			t.Errorf("call_env_f%d(7) = %d, want %d", i, res[0], want)
		}
	}
	for _, e := range entries {
		if st, _ := os.Stat(e); st.ModTime().UnixNano() != before[e] {
			t.Errorf("%s was rewritten: the cached module was not used", e)
		}
	}
}

func TestBufferCacheReadsIdempotent(t *testing.T) {
	c, err := NewCompilationCacheWithDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if !bufferCacheReads(c) {
		t.Fatal("second bufferCacheReads failed")
	}
	if got := fileCacheField(c); got != reflect.TypeOf(bufferedFileCache{}) {
		t.Fatalf("file cache is %v after wrapping twice", got)
	}
	// An in-memory cache has no file cache: left alone.
	if bufferCacheReads(wazero.NewCompilationCache()) {
		t.Error("bufferCacheReads wrapped an in-memory cache")
	}
}

// TestBufferedFileFullReads reads a file in 8-byte fields from an odd
// offset, as wazero reads a cache entry: every Read but the last must
// return a whole field, whatever the buffer's edges.
func TestBufferedFileFullReads(t *testing.T) {
	size := 3*cacheReadBuffer + 13
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	p := filepath.Join(t.TempDir(), "entry")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	r, ok, err := bufferedFileCache{fileCache: fakeFileCache{f}}.Get([32]byte{})
	if !ok || err != nil {
		t.Fatalf("Get: %v %v", ok, err)
	}
	defer r.Close()
	var got []byte
	head := make([]byte, 5)
	if n, err := r.Read(head); n != 5 || err != nil {
		t.Fatalf("Read(5) = %d, %v", n, err)
	}
	got = append(got, head...)
	for {
		var field [8]byte
		n, err := r.Read(field[:])
		got = append(got, field[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if left := size - len(got); n != 8 && left != 0 {
			t.Fatalf("Read(8) at offset %d = %d bytes with %d left", len(got)-n, n, left)
		}
	}
	if !bytes.Equal(got, data) {
		t.Error("the bytes read differ from the file's")
	}
}

// fakeFileCache returns one open file for any key.
type fakeFileCache struct{ f *os.File }

func (c fakeFileCache) Get([32]byte) (io.ReadCloser, bool, error) { return c.f, true, nil }
func (fakeFileCache) Add([32]byte, io.Reader) error               { return nil }
func (fakeFileCache) Delete([32]byte) error                       { return nil }

// BenchmarkCompileFromCache loads the same cached module through wazero's
// cache and through ours, side by side.
func BenchmarkCompileFromCache(b *testing.B) {
	ctx := context.Background()
	wasm := cacheGuest(2000)
	dir := b.TempDir()
	for _, bc := range []struct {
		name string
		new  func(string) (wazero.CompilationCache, error)
	}{{"wazix", NewCompilationCacheWithDir}, {"wazero", wazero.NewCompilationCacheWithDir}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				c, err := bc.new(dir)
				if err != nil {
					b.Fatal(err)
				}
				rt := wazero.NewRuntimeWithConfig(ctx, NewRuntimeConfig().WithCompilationCache(c))
				if _, err := rt.CompileModule(ctx, wasm); err != nil {
					b.Fatal(err)
				}
				rt.Close(ctx)
				c.Close(ctx)
			}
		})
	}
}
