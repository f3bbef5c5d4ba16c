package wazix

import (
	"bufio"
	"io"
	"os"
	"reflect"
	"unsafe"

	"github.com/tetratelabs/wazero"
)

// NewCompilationCacheWithDir is wazero.NewCompilationCacheWithDir (same
// directory, same files, so either can read what the other wrote) with
// buffered reads of a cached module.
//
// wazero v1.12.0 loads a cached module with one read(2) per 8-byte field:
// two per function and more for its source map, which measured ~20% of
// the CPU of `wazix run` of a small C guest on a warm cache. Buffered, the
// same file takes a handful of reads. Should a later wazero change the
// cache's layout, the cache is returned unbuffered, as wazero made it.
func NewCompilationCacheWithDir(dirname string) (wazero.CompilationCache, error) {
	c, err := wazero.NewCompilationCacheWithDir(dirname)
	if err != nil {
		return nil, err
	}
	bufferCacheReads(c)
	return c, nil
}

// fileCache is the method set of wazero's internal filecache.Cache, whose
// Key is an alias of [32]byte, so a type of ours can implement it.
type fileCache interface {
	Get(key [32]byte) (content io.ReadCloser, ok bool, err error)
	Add(key [32]byte, content io.Reader) error
	Delete(key [32]byte) error
}

// bufferedFileCache wraps wazero's file cache and buffers what Get returns.
type bufferedFileCache struct{ fileCache }

// cacheReadBuffer is large enough that a small module's cache entry is one
// read, and small enough not to matter next to the runtime.
const cacheReadBuffer = 64 << 10

// bufferedFile reads a cache entry through a buffer. Its Read fills p
// whenever the file has that much left: wazero reads each field with one
// Read call and takes a short count for the end of the file, which a bare
// bufio.Reader returns whenever a field straddles its buffer's edge.
type bufferedFile struct {
	r *bufio.Reader
	io.Closer
}

func (f bufferedFile) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if err == io.ErrUnexpectedEOF {
		err = nil // a short count at the end, as os.File gives
	}
	return n, err
}

func (c bufferedFileCache) Get(key [32]byte) (io.ReadCloser, bool, error) {
	content, ok, err := c.fileCache.Get(key)
	if !ok || err != nil {
		return content, ok, err
	}
	if f, isFile := content.(*os.File); isFile {
		return bufferedFile{bufio.NewReaderSize(f, cacheReadBuffer), f}, true, nil
	}
	return content, true, nil
}

// bufferCacheReads puts a bufferedFileCache around the file cache of c, a
// fresh cache from wazero.NewCompilationCacheWithDir, and reports whether
// it could: the field is unexported, so this goes through reflect and
// checks every assumption on the way.
func bufferCacheReads(c wazero.CompilationCache) bool {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("fileCache")
	if !f.IsValid() || f.Kind() != reflect.Interface || f.IsNil() {
		return false
	}
	f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
	inner, ok := f.Interface().(fileCache)
	if !ok {
		return false
	}
	if _, already := inner.(bufferedFileCache); already {
		return true
	}
	wrapped := reflect.ValueOf(bufferedFileCache{inner})
	if !wrapped.Type().AssignableTo(f.Type()) {
		return false
	}
	f.Set(wrapped)
	return true
}
